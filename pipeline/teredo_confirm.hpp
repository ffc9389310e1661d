// Teredo confirmation, as Zeek delays it (Tunnel::delay_teredo_confirmation):
// UDP to or from port 3544 is read as Teredo only once both directions of
// the outer UDP flow have carried a valid Teredo datagram, so that ordinary
// traffic on that port that happens to look like IPv6 is not decapsulated.
// The datagrams of a flow seen before it is confirmed are not decapsulated
// (Zeek decapsulates them; keeping them for later would mean copying them).
// One table of a fixed number of slots, allocated once: a flow not found takes
// a free slot of its neighbourhood or the one used longest ago (a confirmed
// flow pushed out must confirm again).
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "decode/packet.hpp"

namespace wl {

class TeredoConfirmation {
  public:
    static constexpr std::size_t kSlots = 1024;  // a power of two
    static constexpr std::size_t kProbe = 8;     // slots looked at per flow

    TeredoConfirmation() : slots_(kSlots) {}

    static std::uint64_t memory_bound() { return kSlots * sizeof(Slot); }

    // `carrier`: a packet whose UDP payload is valid Teredo (encap_kind Teredo).
    // Notes its direction; true when both directions of its UDP flow have carried Teredo.
    bool confirm(const Packet& carrier) {
        if (!carrier.has(Layer::Udp) || carrier.ip_version == 0) return false;
        Slot key{};
        const std::size_t alen = carrier.ip_version == 6 ? 16 : 4;
        const std::uint8_t* src = carrier.ip_src();
        const std::uint8_t* dst = carrier.ip_dst();
        const std::uint16_t sport = carrier.udp.src_port(), dport = carrier.udp.dst_port();
        const int order = std::memcmp(src, dst, alen);
        const bool src_low = order < 0 || (order == 0 && sport <= dport);
        std::memcpy(key.addr[0], src_low ? src : dst, alen);
        std::memcpy(key.addr[1], src_low ? dst : src, alen);
        key.port[0] = src_low ? sport : dport;
        key.port[1] = src_low ? dport : sport;
        key.version = carrier.ip_version;
        const std::uint8_t dir = src_low ? 1 : 2;

        const std::size_t h = hash(key);
        Slot* victim = nullptr;
        for (std::size_t i = 0; i < kProbe; ++i) {
            Slot& s = slots_[(h + i) & (kSlots - 1)];
            if (s.seen == 0) {  // free: the flow is not further on (slots are never freed)
                victim = &s;
                break;
            }
            if (same_flow(s, key)) {
                s.seen |= dir;
                s.last_ns = carrier.ts_ns;
                return s.seen == 3;
            }
            if (victim == nullptr || s.last_ns < victim->last_ns) victim = &s;
        }
        if (victim->seen != 0) ++evicted_;
        *victim = key;
        victim->seen = dir;
        victim->last_ns = carrier.ts_ns;
        return false;
    }
    std::uint64_t evicted() const { return evicted_; }

  private:
    struct Slot {
        std::uint8_t addr[2][16];
        std::uint16_t port[2];
        std::uint8_t version;
        std::uint8_t seen;  // bit 0: from the lower endpoint, bit 1: from the other; 0: free
        std::uint64_t last_ns;
    };
    static bool same_flow(const Slot& a, const Slot& b) {
        return a.version == b.version && a.port[0] == b.port[0] && a.port[1] == b.port[1] &&
               std::memcmp(a.addr, b.addr, sizeof a.addr) == 0;
    }
    static std::size_t hash(const Slot& k) {
        std::uint64_t x = 1469598103934665603ull;  // FNV-1a over the key
        auto mix = [&x](const std::uint8_t* p, std::size_t n) {
            for (std::size_t i = 0; i < n; ++i)
                x = (x ^ p[i]) * 1099511628211ull;
        };
        mix(&k.addr[0][0], sizeof k.addr);
        const std::uint8_t ports[4] = {
            static_cast<std::uint8_t>(k.port[0] >> 8), static_cast<std::uint8_t>(k.port[0]),
            static_cast<std::uint8_t>(k.port[1] >> 8), static_cast<std::uint8_t>(k.port[1])};
        mix(ports, 4);
        return static_cast<std::size_t>(x ^ (x >> 29));
    }

    std::vector<Slot> slots_;
    std::uint64_t evicted_ = 0;
};

}  // namespace wl
