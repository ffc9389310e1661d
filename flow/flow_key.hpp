// The key of a connection: its IP:port pair and transport protocol, the same
// whichever direction a packet travels (endpoints in canonical order).
#pragma once

#include <cstdint>
#include <cstring>

#include "decode/packet.hpp"

namespace wl {

struct Endpoint {
    std::uint8_t addr[16];  // IPv4 in the first 4 bytes, the rest zero
    std::uint16_t port;     // ICMP: the message type (orig) or its counterpart/code (resp)
};

// The same address and port: the address as two words compared inline, as
// this runs on every packet (no library memcmp call).
inline bool same_endpoint(const Endpoint& a, const Endpoint& b) {
    std::uint64_t x[2], y[2];
    std::memcpy(x, a.addr, sizeof x);
    std::memcpy(y, b.addr, sizeof y);
    return a.port == b.port && ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
}

// Laid out as five 64-bit words (two per address, one for the rest), so that
// it is built, compared and hashed in registers.
struct FlowKey {
    std::uint8_t lo_addr[16];  // the smaller (address, port) endpoint
    std::uint8_t hi_addr[16];
    std::uint16_t lo_port;
    std::uint16_t hi_port;
    std::uint8_t proto;       // 6, 17, 1 or 58
    std::uint8_t ip_version;  // 4 or 6
    std::uint8_t pad[2];      // zero: keys are compared and hashed as words

    // Five words compared inline: every lookup compares keys, so no library memcmp call.
    bool operator==(const FlowKey& o) const {
        std::uint64_t a[5], b[5];
        std::memcpy(a, this, sizeof a);
        std::memcpy(b, &o, sizeof b);
        return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4])) == 0;
    }
    // `seed` is the table's own (chosen at random per run): which keys collide
    // cannot be worked out in advance by whoever sends the packets.
    std::uint64_t hash(std::uint64_t seed) const {
        std::uint64_t w[5];
        std::memcpy(w, this, sizeof w);
        return hash_words(w[0], w[1], w[2], w[3], w[4], seed);
    }
    static std::uint64_t hash_words(std::uint64_t w0, std::uint64_t w1, std::uint64_t w2,
                                    std::uint64_t w3, std::uint64_t w4, std::uint64_t seed) {
        // Three independent products, then one to mix them: a short dependency
        // chain, since every packet of a flood waits on its hash.
        const std::uint64_t a =
            fold_multiply(w0 ^ seed ^ 0xa0761d6478bd642full, w1 ^ 0xe7037ed1a0b428dbull);
        const std::uint64_t b =
            fold_multiply(w2 ^ seed ^ 0x8ebc6af09c88c6e3ull, w3 ^ 0x589965cc75374cc3ull);
        const std::uint64_t c =
            fold_multiply(w4 ^ seed ^ 0x1d8e4e27c47d124full, seed ^ 0x9e3779b97f4a7c15ull);
        return fold_multiply(a ^ b ^ 0xa0761d6478bd642full, c ^ 0xe7037ed1a0b428dbull);
    }

  private:
    // The high and low halves of a 128-bit product, folded (wyhash's "mum").
    static std::uint64_t fold_multiply(std::uint64_t a, std::uint64_t b) {
        const unsigned __int128 p = static_cast<unsigned __int128>(a) * b;
        return static_cast<std::uint64_t>(p) ^ static_cast<std::uint64_t>(p >> 64);
    }
};
static_assert(sizeof(FlowKey) == 40, "FlowKey is compared and hashed as five words");

// What a packet says about its connection: the key and its hash, and which
// side sent it.
struct FlowPacketInfo {
    FlowKey key;
    std::uint64_t hash;
    Endpoint src, dst;
    bool src_is_lo;  // the sender is the key's lo endpoint
};

// ICMP messages that are answered pair with their reply type, as Zeek keys
// them (and the Community ID spec, flow/community_id.hpp): a request and its
// reply belong to one connection. Returns -1 when the message has no
// counterpart (errors, redirects, ...): a one-way message.
int icmp_counterpart(bool v6, std::uint8_t type);

// Fills `info` for a TCP, UDP, ICMP or ICMPv6 packet whose transport header
// decoded, its hash with the table's `seed`; false for anything else
// (non-IP, other protocols, later fragments).
bool flow_info(const Packet& pkt, FlowPacketInfo& info, std::uint64_t seed);

// The key of the connection an ICMP error's quoted datagram belongs to (the
// same key flow_info gives that datagram's packets); false when the packet
// is no ICMP error, or its quote lacks the ports (TCP, UDP) or the type (ICMP).
bool quoted_flow_key(const Packet& pkt, FlowKey& key);

}  // namespace wl
