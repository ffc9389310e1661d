// What the decode stage saw: per-protocol counts, malformed packets by
// (layer, reason), and frames of link types we do not decode. Fixed-size
// arrays: counting never allocates.
#pragma once

#include <array>
#include <cstdint>

#include "decode/packet.hpp"

namespace wl {

struct DecodeCounters {
    static constexpr std::size_t kLinkSlots = 8;

    std::uint64_t packets = 0;
    std::uint64_t wire_bytes = 0;
    std::uint64_t captured_bytes = 0;
    std::uint64_t snapped = 0;  // captured shorter than on the wire
    std::uint64_t first_ts_ns = 0;
    std::uint64_t last_ts_ns = 0;

    // Packets in which each layer decoded (Layer order).
    std::array<std::uint64_t, static_cast<std::size_t>(Layer::Count)> layer{};
    // 802.11 frames by kind (WlanKind order): data, QoS data, no data, protected, ...
    std::array<std::uint64_t, static_cast<std::size_t>(WlanKind::Count)> wlan{};
    std::uint64_t ip_fragments = 0;
    std::uint64_t tunneled = 0;  // packets found inside tunnels (and given to the flow stage)
    // Those by the kind of tunnel that carried them; tunnels left unopened.
    std::array<std::uint64_t, static_cast<std::size_t>(TunnelKind::Count)> tunnel{};
    std::uint64_t tunnel_too_deep = 0;     // a tunnel still inside at the depth limit
    std::uint64_t teredo_unconfirmed = 0;  // Teredo of a UDP flow not (yet) confirmed
    std::uint64_t other_network = 0;       // link decoded, network protocol not ours
    std::uint64_t other_transport = 0;     // IP decoded, upper protocol not ours

    std::uint64_t malformed = 0;
    // --verify-checksums and checksum offload (pipeline/checksum_offload.hpp):
    // hosts taken for offload, their packets with bad TCP/UDP checksums analysed
    // anyway, and bad checksums of hosts beyond the table (handled as corrupt).
    std::uint64_t checksum_offload_hosts = 0;
    std::uint64_t checksum_offload_kept = 0;
    std::uint64_t checksum_hosts_untracked = 0;
    std::array<std::array<std::uint64_t, static_cast<std::size_t>(DecodeError::Count)>,
               static_cast<std::size_t>(Layer::Count)>
        malformed_by{};

    // Unsupported link types: the first few distinct values, then "other".
    std::uint64_t unsupported = 0;
    std::array<int, kLinkSlots> unsupported_type{};
    std::array<std::uint64_t, kLinkSlots> unsupported_count{};
    std::uint64_t unsupported_other = 0;

    void count(const Packet& pkt);
    void count_tunneled(TunnelKind carrier) {
        ++tunneled;
        ++tunnel[static_cast<std::size_t>(carrier)];
    }
    bool any_tunnel() const {
        return tunneled != 0 || tunnel_too_deep != 0 || teredo_unconfirmed != 0;
    }
};

}  // namespace wl
