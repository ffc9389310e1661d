// Stream anomalies: TCP behaviour a conforming stack does not show, named as
// Zeek's weirds (weird.log) where Zeek has a name for it. Counted per tracker
// (FlowTracker::anomalies()) where the state machine meets them anyway; no
// report prints them yet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>

namespace wl {

enum class StreamAnomaly : std::uint8_t {
    SynSeqJump,             // a SYN repeated with another ISN
    SynInsideConnection,    // a SYN after the side sent data
    SynWithData,            // a SYN carrying payload
    SynAfterPartial,        // a SYN from a side picked up midstream
    SynAfterClose,          // a SYN from a side that sent its FIN
    SynAfterReset,          // a SYN from a side that sent a RST
    FinAfterReset,          // a FIN from a side that sent a RST
    DataAfterReset,         // payload from a side that sent a RST
    DataBeforeEstablished,  // payload from a side whose SYN is unanswered
    InappropriateFin,       // a FIN during the handshake, the peer not yet answering
    SpontaneousFin,         // a FIN as a side's first packet
    SpontaneousRst,         // a RST as the first packet of either side
    SimultaneousOpen,       // a SYN from the responder answering nothing
    RstWithData,            // a RST carrying payload (Zeek stopped reporting it)
    FinAdvancedLastSeq,     // a FIN after the FIN, further along the stream
    kCount
};

inline constexpr const char* kStreamAnomalyNames[] = {
    "SYN_seq_jump",      "SYN_inside_connection", "SYN_with_data",
    "SYN_after_partial", "SYN_after_close",       "SYN_after_reset",
    "FIN_after_reset",   "data_after_reset",      "data_before_established",
    "inappropriate_FIN", "spontaneous_FIN",       "spontaneous_RST",
    "simultaneous_open", "RST_with_data",         "FIN_advanced_last_seq"};
static_assert(std::size(kStreamAnomalyNames) == static_cast<std::size_t>(StreamAnomaly::kCount),
              "a name for every anomaly");

inline const char* name(StreamAnomaly a) {
    return kStreamAnomalyNames[static_cast<std::size_t>(a)];
}

// How often each anomaly was seen.
struct StreamAnomalyCounts {
    std::uint64_t count[static_cast<std::size_t>(StreamAnomaly::kCount)] = {};

    void add(StreamAnomaly a) { ++count[static_cast<std::size_t>(a)]; }
    std::uint64_t operator[](StreamAnomaly a) const { return count[static_cast<std::size_t>(a)]; }
};

}  // namespace wl
