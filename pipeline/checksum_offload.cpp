#include "pipeline/checksum_offload.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "report/format.hpp"

namespace wl {

namespace {

std::uint64_t mix(std::uint64_t x) {
    x ^= x >> 31;
    x *= 0x9e3779b97f4a7c15ull;
    x ^= x >> 29;
    return x;
}

}  // namespace

ChecksumOffload::Slot* ChecksumOffload::find(const Packet& pkt) {
    const std::size_t alen = pkt.ip_version == 6 ? 16 : 4;
    const std::uint8_t* src = pkt.ip_src();
    std::uint64_t a = 0, b = 0;
    std::memcpy(&a, src, alen < 8 ? alen : 8);
    if (alen == 16) std::memcpy(&b, src + 8, 8);
    const std::uint64_t h = mix(mix(a + pkt.ip_version) ^ b);
    // Linear probing; the table is never more than three quarters full, so a
    // host not there is found absent after a few slots.
    for (std::uint32_t i = 0; i < kSlots; ++i) {
        Slot& s = slots_[(h + i) & (kSlots - 1)];
        if (s.version == 0) {
            if (hosts_ == kMaxHosts) return nullptr;
            ++hosts_;
            s.version = pkt.ip_version;
            std::memcpy(s.addr, src, alen);
            return &s;
        }
        if (s.version == pkt.ip_version && std::memcmp(s.addr, src, alen) == 0) return &s;
    }
    return nullptr;
}

bool ChecksumOffload::check(const Packet& pkt, DecodeCounters& counters) {
    if (pkt.l4_checksum == L4Checksum::Unchecked) return false;
    const bool bad = pkt.l4_checksum == L4Checksum::Bad;
    Slot* s = find(pkt);
    if (s == nullptr) {
        if (bad) ++counters.checksum_hosts_untracked;
        return false;
    }
    if (!bad) {
        s->good = true;
        return false;
    }
    if (s->good) return false;  // a host that computes its checksums: this one is corrupt
    ++s->bad;
    ++counters.checksum_offload_kept;
    if (s->bad == kWarnAfter) {
        ++counters.checksum_offload_hosts;
        if (warnings_ < kMaxWarnings) {
            ++warnings_;
            char ip[64];
            *fmt::ip(ip, s->addr, s->version) = '\0';
            // Over a progress line, if one is drawn.
            std::fprintf(
                stderr,
                "%swirelens: warning: the first %u TCP/UDP packets from %s all have bad "
                "checksums: likely checksum offload on the capturing host; its "
                "packets are analysed anyway (Zeek would drop them), marked C/c in "
                "history%s\n",
                isatty(STDERR_FILENO) ? "\r\033[K" : "", kWarnAfter, ip,
                warnings_ == kMaxWarnings ? " (no more such warnings: see the summary)" : "");
        }
    }
    return true;
}

}  // namespace wl
