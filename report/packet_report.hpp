// Per-packet output: one tcpdump-style line (-e -nn spirit) or one JSON
// Lines record per frame, and the end-of-input decode summary.
#pragma once

#include <string>

#include "counters.hpp"
#include "flow_tracker.hpp"
#include "oui.hpp"
#include "out_buffer.hpp"
#include "packet.hpp"
#include "syn_flood.hpp"
#include "tcp_reassembler.hpp"
#include "upload_analyzer.hpp"

namespace wl {

void write_packet_text(OutBuffer& out, const Packet& pkt, const OuiRegistry& oui);
void write_packet_json(OutBuffer& out, const Packet& pkt, const OuiRegistry& oui);

// "S." etc., in tcpdump's order (F S R P . U E W), plus N for NS; "none" for no flags.
std::size_t tcp_flags_string(std::uint16_t flags, char* out /* >= 10 chars */);

struct InputSummary {
    std::string source;      // file name or "-"
    std::string linktype;    // "EN10MB (Ethernet)"
    bool cut_short = false;  // the file ended inside a record
    std::string cut_reason;  // libpcap's words for it
    std::uint64_t filtered_out = 0;
    bool filtered = false;
};

// What the later stages counted; a null member: that stage did not run.
struct StageCounters {
    const FlowCounters* flows = nullptr;
    const ReassemblyCounters* reassembly = nullptr;
    const UploadAnalyzerCounters* uploads = nullptr;
    const SynFloodDetector* flood = nullptr;
};

void write_summary_text(OutBuffer& out, const DecodeCounters& c, const InputSummary& in,
                        const StageCounters& stages = {});
void write_stats_json(OutBuffer& out, const DecodeCounters& c, const InputSummary& in,
                      const StageCounters& stages = {});

}  // namespace wl
