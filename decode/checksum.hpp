// The Internet checksum (RFC 1071) over IPv4 headers and TCP/UDP/ICMP with
// their pseudo headers.
#pragma once

#include "decode/bytes.hpp"

namespace wl {

// One's-complement sum of `data` folded to 16 bits, added to `initial`.
std::uint32_t checksum_add(Bytes data, std::uint32_t initial = 0);
std::uint16_t checksum_fold(std::uint32_t sum);

bool ipv4_header_checksum_ok(Bytes header);
// `segment` is the whole upper-layer segment (header and payload, fully captured).
bool l4_checksum_ok_v4(const std::uint8_t* src, const std::uint8_t* dst, std::uint8_t proto,
                       Bytes segment);
bool l4_checksum_ok_v6(const std::uint8_t* src, const std::uint8_t* dst, std::uint8_t proto,
                       Bytes segment);

}  // namespace wl
