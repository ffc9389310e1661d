// Community ID v1 (github.com/corelight/community-id-spec): a flow's name that
// other tools (Zeek's community-id package, Suricata, Wireshark, Elastic) give
// the same flow, so that records can be joined across them. "1:" and the
// base64 of a SHA-1 over a 2-byte seed and the flow's endpoints, the smaller
// (address, port) first: the same both ways. Computed once per record, not per
// packet; no allocation.
#pragma once

#include <cstddef>
#include <cstdint>

#include "flow/flow_key.hpp"

namespace wl {

// "1:" and 28 base64 characters; buffers hold one more for the NUL.
inline constexpr std::size_t kCommunityIdLen = 30;

// The Community ID of one packet's flow, as the packet names it: `src` and
// `dst` are 4 (ip_version 4) or 16 bytes. TCP (6), UDP (17) and SCTP (132)
// hash their ports; ICMP (1) and ICMPv6 (58) take `sport` as the message type
// and `dport` as its code, and map them as the spec does (a request and its
// reply are one flow; other messages are one-way, the sender first); any
// other protocol hashes the addresses alone. Writes kCommunityIdLen characters
// and a NUL.
void community_id(std::uint16_t seed, int ip_version, const std::uint8_t* src,
                  const std::uint8_t* dst, std::uint8_t proto, std::uint16_t sport,
                  std::uint16_t dport, char out[kCommunityIdLen + 1]);

// The Community ID of the connection with this key. A FlowKey already holds
// what the spec hashes, in its order: the ICMP message type and its
// counterpart (or code) as ports, the lo endpoint first, a one-way message's
// sender first (flow_key.hpp keys flows as Zeek does, and so does the spec).
void community_id(const FlowKey& key, std::uint16_t seed, char out[kCommunityIdLen + 1]);

}  // namespace wl
