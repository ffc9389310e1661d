// --verify-checksums on a capture taken on a sending host: the NIC (or, on
// loopback, nobody) fills in TCP and UDP checksums after the capture point,
// so every packet that host sent carries a partial sum that verifies as bad.
// Dropping them all would cut each of its connections in pieces. A host that
// has so far sent only bad transport checksums, never a good one, is taken for
// such a host: its packets are analysed as if the checksum were right (the
// flow stage still marks them C/c in the history) and counted; once it has
// sent kWarnAfter of them, one warning line goes to stderr. A host that has
// sent one good checksum is trusted to compute them: its bad ones after that
// are corrupt packets, handled as before (history letter only).
//
// One table of a fixed number of slots, allocated once, never freed: hosts
// beyond kMaxHosts are not followed (their bad checksums are handled as
// corrupt, and counted).
#pragma once

#include <cstdint>
#include <vector>

#include "decode/counters.hpp"
#include "decode/packet.hpp"

namespace wl {

class ChecksumOffload {
  public:
    static constexpr std::uint32_t kSlots = 1024;  // a power of two
    static constexpr std::uint32_t kMaxHosts = kSlots * 3 / 4;
    static constexpr std::uint32_t kWarnAfter = 4;    // bad checksums, no good one
    static constexpr std::uint32_t kMaxWarnings = 4;  // warning lines per run

    ChecksumOffload() : slots_(kSlots) {}
    static std::uint64_t memory_bound() { return kSlots * sizeof(Slot); }

    // `pkt`: a frame decoded with checksum verification. True when its bad TCP
    // or UDP checksum is taken for offload (the packet is to be analysed);
    // counts into `counters` and may print the warning.
    bool check(const Packet& pkt, DecodeCounters& counters);

  private:
    struct Slot {
        std::uint8_t addr[16];
        std::uint8_t version;  // 0: free
        bool good;             // has sent a good TCP/UDP checksum
        std::uint16_t pad;
        std::uint32_t bad;  // bad checksums sent before any good one
    };
    Slot* find(const Packet& pkt);

    std::vector<Slot> slots_;
    std::uint32_t hosts_ = 0;
    std::uint32_t warnings_ = 0;
};

}  // namespace wl
