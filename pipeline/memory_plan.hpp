// --max-memory: one budget for every table and buffer. Each stage says the
// most it can hold with its limits (its memory_bound()); the plan shrinks the
// limits the user did not set until the sum fits, or refuses when even the
// smallest limits, or the ones the user set, do not fit.
#pragma once

#include <cstdint>
#include <string>

#include "pipeline/pipeline.hpp"
#include "report/summary_report.hpp"

namespace wl {

struct MemoryRequest {
    std::uint64_t budget = 256ull << 20;  // bytes
    // Which limits the user set (these are kept as given).
    bool flows_set = false, reassembly_set = false, uploads_set = false, ring_set = false;
    bool live = false;
    // --threads N (N > 1): the limits are totals, each worker gets 1/N of them;
    // the rings between the threads count too.
    unsigned threads = 1;
    std::uint32_t ring_mib = 64;
    int buffer_kib = 0;  // live: the kernel ring mapped into the process (0: 2 MiB)
    std::uint32_t snaplen = 262144;
};

// Fits `opt` (and `ring_mib`) into the budget. False if it cannot, with `error`
// saying the least it needs, part by part ("too small for these options: ...").
// With req.threads > 1, `opt` comes back with one worker's limits, `plan` with the totals.
bool plan_memory(const MemoryRequest& req, PipelineOptions& opt, std::uint32_t& ring_mib,
                 InputSummary::Memory& plan, std::string& error);

// "256M", "1G", "65536K", "1048576": binary units; false if not a size.
bool parse_size(const std::string& text, std::uint64_t& bytes);

}  // namespace wl
