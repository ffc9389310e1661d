#include "pipeline/memory_plan.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <utility>

#include "analyzers/stream_export.hpp"
#include "analyzers/syn_flood.hpp"
#include "analyzers/upload_analyzer.hpp"
#include "flow/flow_tracker.hpp"
#include "flow/ip_fragments.hpp"
#include "flow/tcp_reassembler.hpp"
#include "pipeline/sharded.hpp"
#include "report/alert_report.hpp"
#include "report/conn_report.hpp"
#include "report/out_buffer.hpp"
#include "report/upload_report.hpp"

namespace wl {

namespace {

// The smallest limits the plan will go down to.
constexpr std::uint32_t kMinFlows = 256;
constexpr std::uint64_t kMinReassembly = 256ull << 10;
constexpr std::uint32_t kMinUploads = 4;
constexpr std::uint32_t kMinRingMib = 1;

struct Limits {
    std::uint32_t max_flows;
    std::uint64_t max_reassembly;
    std::uint32_t max_uploads;
    std::uint32_t ring_mib;
};

unsigned threads_of(const MemoryRequest& req) {
    return std::max(1u, req.threads);
}

// One worker's share of the limits (all of them with one thread).
void per_worker(const Limits& l, unsigned n, PipelineOptions& o) {
    o.max_flows = (l.max_flows + n - 1) / n;
    o.max_reassembly = (l.max_reassembly + n - 1) / n;
    o.max_uploads = (l.max_uploads + n - 1) / n;
    if (o.max_attempts != 0) o.max_attempts = (o.max_attempts + n - 1) / n;
}

void bound(const MemoryRequest& req, const PipelineOptions& base, const Limits& l,
           InputSummary::Memory& m) {
    const unsigned n = threads_of(req);
    PipelineOptions o = base;
    per_worker(l, n, o);
    const FlowOptions f = flow_options_of(o);
    m = InputSummary::Memory{};
    m.budget = req.budget;
    m.max_flows = l.max_flows;
    m.max_reassembly = l.max_reassembly;
    m.max_uploads = l.max_uploads;
    m.ring_mib = l.ring_mib;
    if (!o.no_flows) {
        m.flows = FlowTracker::memory_bound(f);
        // Only the text tables hold rows; JSON and stream output write at once.
        const bool tables = !o.json && !o.stream;
        m.reports = tables ? ConnReporter::memory_bound(f.ladder_conns) : 0;
        if (!o.no_reassembly) {
            m.reassembly = TcpReassembler::memory_bound(f.max_flows, reassembly_options_of(o));
            m.uploads =
                UploadAnalyzer::memory_bound(upload_options_of(o), f.max_flows, o.max_uploads);
            if (tables) m.reports += UploadReporter::memory_bound();
            // Its write buffers and per-connection state; the files are on disk.
            if (!o.streams_dir.empty())
                m.streams = StreamExporter::memory_bound(f.max_flows, stream_export_options_of(o));
        }
        // One reassembler: the pipeline's, or with --threads the reading thread's.
        if (!o.no_defrag)
            m.fragments =
                IpReassembler::memory_bound(o.frag) + (n > 1 ? ShardedPipeline::kDatagramBytes : 0);
    }
    // Each worker has all of these, with its share of the limits.
    m.flows *= n;
    m.reports *= n;
    m.reassembly *= n;
    m.uploads *= n;
    m.streams *= n;
    if (!o.no_flood) m.flood = SynFloodDetector::memory_bound(o.flood);
    // The output buffer, and libpcap's: one snap length for a file, the kernel's
    // ring (mapped into the process) for a live capture.
    m.other = sizeof(OutBuffer) + req.snaplen;
    m.other += TeredoConfirmation::memory_bound() * (n > 1 ? n + 1 : 1);  // each pipeline's
    if (o.verify_checksums) m.other += ChecksumOffload::memory_bound();   // one per run
    if (n > 1) m.ring = ShardedPipeline::memory_bound(n);
    if (req.live) {
        m.ring = std::uint64_t{l.ring_mib} << 20;
        m.other += (req.buffer_kib > 0 ? std::uint64_t(req.buffer_kib) << 10 : 2ull << 20);
    }
}

Limits scaled(const MemoryRequest& req, const PipelineOptions& o, std::uint32_t ring_mib,
              double s) {
    Limits l;
    l.max_flows = req.flows_set ? o.max_flows
                                : std::max(kMinFlows, static_cast<std::uint32_t>(o.max_flows * s));
    l.max_reassembly =
        req.reassembly_set
            ? o.max_reassembly
            : std::max(kMinReassembly,
                       static_cast<std::uint64_t>(static_cast<double>(o.max_reassembly) * s));
    l.max_uploads = req.uploads_set
                        ? o.max_uploads
                        : std::max(kMinUploads, static_cast<std::uint32_t>(o.max_uploads * s));
    l.ring_mib = req.ring_set || !req.live
                     ? ring_mib
                     : std::max(kMinRingMib, static_cast<std::uint32_t>(ring_mib * s));
    return l;
}

// A part rounded up to a tenth of a MiB: the parts shown add up to the total
// shown, and that total is enough.
std::uint64_t tenths_up(std::uint64_t b) {
    const std::uint64_t tenth = (1ull << 20) / 10;
    return (b + tenth - 1) / tenth;
}

std::string tenths_text(std::uint64_t t) {
    return std::to_string(t / 10) + "." + std::to_string(t % 10) + " MiB";
}

// "at least 18.1 MiB for these options (flows 0.2 MiB + ... = 18.1 MiB)": every part that counts.
std::string too_small(const InputSummary::Memory& m) {
    const std::pair<const char*, std::uint64_t> parts[] = {
        {"flows", m.flows},           {"text tables", m.reports}, {"reassembly", m.reassembly},
        {"uploads", m.uploads},       {"streams", m.streams},     {"fragments", m.fragments},
        {"flood detection", m.flood}, {"rings", m.ring},          {"buffers", m.other}};
    std::string list;
    std::uint64_t sum = 0;
    for (const auto& [name, bytes] : parts) {
        if (bytes == 0) continue;
        const std::uint64_t t = tenths_up(bytes);
        sum += t;
        if (!list.empty()) list += " + ";
        list += std::string(name) + " " + tenths_text(t);
    }
    return "too small for these options: they need at least " + tenths_text(sum) + " (" + list +
           ")";
}

}  // namespace

bool plan_memory(const MemoryRequest& req, PipelineOptions& opt, std::uint32_t& ring_mib,
                 InputSummary::Memory& plan, std::string& error) {
    InputSummary::Memory m;
    bound(req, opt, scaled(req, opt, ring_mib, 1.0), m);
    double s = 1.0;
    if (m.total() > req.budget) {
        // The largest scale of the unset limits that fits (the bound grows with it).
        InputSummary::Memory smallest;
        bound(req, opt, scaled(req, opt, ring_mib, 0.0), smallest);
        if (smallest.total() > req.budget) {
            error = too_small(smallest);
            return false;
        }
        double lo = 0.0, hi = 1.0;
        for (int i = 0; i < 40; ++i) {
            const double mid = (lo + hi) / 2;
            bound(req, opt, scaled(req, opt, ring_mib, mid), m);
            (m.total() <= req.budget ? lo : hi) = mid;
        }
        s = lo;
        bound(req, opt, scaled(req, opt, ring_mib, s), m);
        m.shrunk = true;
    }
    const Limits l = scaled(req, opt, ring_mib, s);
    per_worker(l, threads_of(req), opt);
    ring_mib = l.ring_mib;
    plan = m;
    return true;
}

bool parse_size(const std::string& text, std::uint64_t& bytes) {
    if (text.empty() || text[0] < '0' || text[0] > '9') return false;
    errno = 0;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
    if (errno != 0) return false;
    std::string unit(end);
    if (!unit.empty() && (unit.back() == 'B' || unit.back() == 'b')) unit.pop_back();
    if (unit.size() == 2 && (unit[1] == 'i' || unit[1] == 'I')) unit.pop_back();
    int shift = 0;
    if (unit.empty()) {
        shift = 0;
    } else if (unit == "K" || unit == "k") {
        shift = 10;
    } else if (unit == "M" || unit == "m") {
        shift = 20;
    } else if (unit == "G" || unit == "g") {
        shift = 30;
    } else {
        return false;
    }
    if (v > (~0ull >> shift)) return false;
    bytes = static_cast<std::uint64_t>(v) << shift;
    return bytes != 0;
}

}  // namespace wl
