// The run's summary: what was read (source, link type, live capture's own
// counts, the memory plan) and what every stage counted, as the text block
// that ends a report or as the JSON Lines `stats` record.
#pragma once

#include <cstdint>
#include <string>

#include "decode/counters.hpp"
#include "report/out_buffer.hpp"

namespace wl {

struct FlowCounters;
struct FragmentCounters;
struct ReassemblyCounters;
struct StreamExportCounters;
struct UploadAnalyzerCounters;
class SynFloodDetector;

struct InputSummary {
    std::string source;      // file name or "-"
    std::string linktype;    // "EN10MB (Ethernet)"
    bool cut_short = false;  // the file ended inside a record
    std::string cut_reason;  // libpcap's words for it
    std::uint64_t filtered_out = 0;
    bool filtered = false;
    // Live capture: what libpcap's pcap_stats and the capture ring counted.
    struct Capture {
        std::uint64_t received = 0;        // passed the filter (pcap_stats ps_recv)
        std::uint64_t dropped_kernel = 0;  // no room in the kernel's buffer (ps_drop)
        std::uint64_t dropped_iface = 0;   // by the interface or its driver (ps_ifdrop)
        std::uint64_t captured = 0;        // handed to wirelens by libpcap
        std::uint64_t dropped_ring = 0;    // captured, but the analysis ring was full
        std::uint64_t written = 0;         // to the -w file(s)
        std::uint64_t files = 0;
        std::string write_path;  // -w FILE ("" none)
        std::string stopped_by;  // "signal", "count", "duration", "error"
    };
    bool live = false;
    Capture capture;
    // --max-memory: the budget and what each part may hold at most (bytes).
    struct Memory {
        std::uint64_t budget = 0;  // 0: no plan (not reported)
        std::uint64_t flows = 0, reassembly = 0, uploads = 0, flood = 0, reports = 0, ring = 0,
                      other = 0, fragments = 0, streams = 0;
        std::uint32_t max_flows = 0, max_uploads = 0;
        std::uint64_t max_reassembly = 0;
        std::uint32_t ring_mib = 0;
        bool shrunk = false;  // limits the user did not set were lowered to fit
        std::uint64_t total() const {
            return flows + reassembly + uploads + flood + reports + ring + other + fragments +
                   streams;
        }
    };
    Memory memory;
    // Where the closing summary goes: stdout after the tables; stderr when
    // stdout holds packet lines (text), so that they can be counted and piped;
    // nowhere with -q (JSON: no stats record).
    enum class Place : std::uint8_t { Out, Err, None };
    Place place = Place::Out;
    bool memory_lines = false;  // -v: the memory plan in the text summary (JSON: always)
};

// What the later stages counted; a null member: that stage did not run.
struct StageCounters {
    const FlowCounters* flows = nullptr;
    const ReassemblyCounters* reassembly = nullptr;
    const UploadAnalyzerCounters* uploads = nullptr;
    const SynFloodDetector* flood = nullptr;
    const FragmentCounters* fragments = nullptr;    // IP fragment reassembly
    const StreamExportCounters* streams = nullptr;  // --streams
};

void write_summary_text(OutBuffer& out, const DecodeCounters& c, const InputSummary& in,
                        const StageCounters& stages = {});
void write_stats_json(OutBuffer& out, const DecodeCounters& c, const InputSummary& in,
                      const StageCounters& stages = {});

}  // namespace wl
