#include "decode/counters.hpp"

#include <bit>

namespace wl {

void DecodeCounters::count(const Packet& pkt) {
    if (packets == 0 || pkt.ts_ns < first_ts_ns) first_ts_ns = pkt.ts_ns;
    if (pkt.ts_ns > last_ts_ns || packets == 0) last_ts_ns = pkt.ts_ns;
    ++packets;
    wire_bytes += pkt.wire_len;
    captured_bytes += pkt.caplen;
    if (pkt.caplen < pkt.wire_len) ++snapped;

    if (pkt.unsupported_link) {
        ++unsupported;
        for (std::size_t i = 0; i < kLinkSlots; ++i) {
            if (unsupported_count[i] == 0) unsupported_type[i] = pkt.linktype;
            if (unsupported_type[i] == pkt.linktype) {
                ++unsupported_count[i];
                return;
            }
        }
        ++unsupported_other;
        return;
    }
    // The layers present, a set bit at a time (the packet has a few of them).
    for (std::uint32_t m = pkt.layers; m != 0; m &= m - 1) {
        const auto l = static_cast<std::size_t>(std::countr_zero(m));
        if (l < layer.size()) ++layer[l];
    }
    if (pkt.has(Layer::Wlan)) [[unlikely]] {
        ++wlan[static_cast<std::size_t>(pkt.wlan_kind)];
    }
    if (pkt.ip_fragment) ++ip_fragments;
    if (pkt.malformed()) {
        ++malformed;
        ++malformed_by[static_cast<std::size_t>(pkt.error_layer)]
                      [static_cast<std::size_t>(pkt.error)];
        return;
    }
    const bool network_known = pkt.ip_version != 0 || pkt.has(Layer::Arp);
    if (!network_known) {
        ++other_network;
    } else if (pkt.ip_version != 0 && !pkt.ip_later_fragment && !pkt.has(Layer::Tcp) &&
               !pkt.has(Layer::Udp) && !pkt.has(Layer::Icmp) && !pkt.has(Layer::Icmpv6)) {
        ++other_transport;
    }
}

}  // namespace wl
