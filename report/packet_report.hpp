// Per-packet output: one tcpdump-style line (-e -nn spirit) or one JSON
// Lines record per frame.
#pragma once

#include <cstddef>
#include <cstdint>

#include "decode/oui.hpp"
#include "decode/packet.hpp"
#include "report/out_buffer.hpp"

namespace wl {

void write_packet_text(OutBuffer& out, const Packet& pkt, const OuiRegistry& oui);
void write_packet_json(OutBuffer& out, const Packet& pkt, const OuiRegistry& oui);

// "S." etc., in tcpdump's order (F S R P . U E W), plus N for NS; "none" for no flags.
std::size_t tcp_flags_string(std::uint16_t flags, char* out /* >= 10 chars */);

}  // namespace wl
