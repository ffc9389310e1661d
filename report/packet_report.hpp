// Per-packet output: one tcpdump-style line (-e -nn spirit) or one JSON
// Lines record per frame.
#pragma once

#include <cstddef>
#include <cstdint>

#include "decode/oui.hpp"
#include "decode/packet.hpp"
#include "report/out_buffer.hpp"

namespace wl {

// `verbose` (-v): the IP header's fields after "IPv4"/"IPv6", as tcpdump -v shows them.
void write_packet_text(OutBuffer& out, const Packet& pkt, const OuiRegistry& oui,
                       bool verbose = false);
// `close` false: the record is left open for the packets of its tunnels and end_packet_json.
void write_packet_json(OutBuffer& out, const Packet& pkt, const OuiRegistry& oui,
                       bool close = true);

// A packet carried in a tunnel at `depth` (1: in the frame's own), after its
// carrier: text, its own line indented by depth and named by the tunnel's
// kind; JSON, an element of the open record's "tunnel" array.
void write_tunneled_packet_text(OutBuffer& out, const Packet& inner, const OuiRegistry& oui,
                                int depth, TunnelKind kind, bool verbose = false);
void write_tunneled_packet_json(OutBuffer& out, const Packet& inner, const OuiRegistry& oui,
                                int depth, TunnelKind kind);
void end_packet_json(OutBuffer& out, bool tunneled);

// "S." etc., in tcpdump's order (F S R P . U E W), plus N for NS; "none" for no flags.
std::size_t tcp_flags_string(std::uint16_t flags, char* out /* >= 10 chars */);

}  // namespace wl
