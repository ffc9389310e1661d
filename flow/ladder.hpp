// The ladder log: the packets of a TCP connection's handshake and teardown
// (and its first few), kept for --ladder to draw; the data in between is
// counted, not kept.
#pragma once

#include <cstdint>

#include "decode/packet.hpp"
#include "flow/connection.hpp"

namespace wl {

// One arrow of a ladder diagram.
struct LadderStep {
    std::uint64_t ts_ns;
    std::uint64_t rel_seq, rel_ack;
    std::uint32_t len;
    std::uint16_t flags;
    std::uint8_t dir;            // 0 orig -> resp, 1 resp -> orig
    std::uint32_t skipped_pkts;  // data packets elided before this step
    std::uint64_t skipped_bytes;
};

struct LadderLog {
    static constexpr int kSteps = 24;
    LadderStep steps[kSteps];
    std::uint8_t count = 0;
    std::uint32_t pending_pkts = 0;  // elided since the last step
    std::uint64_t pending_bytes = 0;
    std::uint32_t dropped = 0;  // steps that did not fit
};

// Adds the TCP packet `pkt` from side `dir` of `c` (already tracked) to `log`,
// as a step or as elided data.
void record_ladder_step(LadderLog& log, const Connection& c, int dir, const Packet& pkt,
                        std::uint64_t ts);

}  // namespace wl
