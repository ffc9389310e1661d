// The bytes of a packet under its line, as tcpdump's -x, -xx, -X, -XX and -A
// print them: hex in groups of two bytes, sixteen bytes a line, with the
// printable characters beside them (-X), or the bytes as text (-A).
#pragma once

#include <cstddef>
#include <cstdint>

#include "decode/bytes.hpp"
#include "decode/packet.hpp"
#include "report/out_buffer.hpp"

namespace wl {

enum class PacketDump : std::uint8_t {
    None,
    Hex,       // -x: "\t0x0000:  4500 003c ..."
    HexAscii,  // -X: the same, then the printable characters
    Ascii,     // -A: printable characters, tabs, spaces and line ends as they are
};

struct PacketDumpStyle {
    PacketDump kind = PacketDump::None;
    bool link = false;  // -xx, -XX: from the link-layer header on (else from the network layer)
};

// Where the link-layer header of `frame` ends: the network layer tcpdump
// dumps from (after Ethernet, its VLAN tags and any LLC header; after the
// cooked and null headers;
// for other link types the IP or ARP header). At most frame.size().
std::size_t link_header_len(const Packet& pkt, Bytes frame);

// The dump of `frame` (its captured bytes: the snap length is honoured), each
// line ending in '\n'; nothing when nothing is left after the link header.
void write_packet_dump(OutBuffer& out, const Packet& pkt, Bytes frame, PacketDumpStyle style);

}  // namespace wl
