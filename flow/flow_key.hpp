// The key of a connection: its IP:port pair and transport protocol, the same
// whichever direction a packet travels (endpoints in canonical order).
#pragma once

#include <cstdint>
#include <cstring>

#include "packet.hpp"

namespace wl {

// splitmix64's finaliser: every input bit reaches every output bit (the flow
// table's hash, and the sharding of connections onto --threads workers).
inline std::uint64_t splitmix_finalize(std::uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

struct Endpoint {
    std::uint8_t addr[16];  // IPv4 in the first 4 bytes, the rest zero
    std::uint16_t port;     // ICMP: the message type (orig) or its counterpart/code (resp)
};

struct FlowKey {
    Endpoint lo;  // the smaller (address, port)
    Endpoint hi;
    std::uint8_t proto;       // 6, 17, 1 or 58
    std::uint8_t ip_version;  // 4 or 6
    std::uint8_t pad[2];      // zero: keys are compared and hashed as bytes

    // Five words compared inline (a library memcmp call was 2% of the flow stage).
    bool operator==(const FlowKey& o) const {
        std::uint64_t a[5], b[5];
        std::memcpy(a, this, sizeof a);
        std::memcpy(b, &o, sizeof b);
        return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4])) == 0;
    }
    // `seed` is the table's own (chosen at random per run): which keys collide
    // cannot be worked out in advance by whoever sends the packets.
    std::uint64_t hash(std::uint64_t seed) const;
};
static_assert(sizeof(FlowKey) == 40, "FlowKey is compared and hashed as raw bytes");

// What a packet says about its connection: the key, and which side sent it.
struct FlowPacketInfo {
    FlowKey key;
    Endpoint src, dst;
    bool src_is_lo;  // the sender is key.lo
};

// Fills `info` for a TCP, UDP, ICMP or ICMPv6 packet whose transport header
// decoded; false for anything else (non-IP, other protocols, later fragments).
bool flow_info(const Packet& pkt, FlowPacketInfo& info);

}  // namespace wl
