// wirelens: the command line. Wires the pipeline together:
// capture -> decode -> flow (connections, reassembly) -> analyzers (uploads) -> report.
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "capture/frame_ring.hpp"
#include "capture/live_source.hpp"
#include "capture/pcap_source.hpp"
#include "capture/pcap_writer.hpp"
#include "capture/privileges.hpp"
#include "cli/args.hpp"
#include "decode/oui.hpp"
#include "pipeline/memory_plan.hpp"
#include "pipeline/pipeline.hpp"
#include "pipeline/sharded.hpp"
#include "report/follow_report.hpp"
#include "report/out_buffer.hpp"
#include "sink/clickhouse_sink.hpp"
#include "sink/log_dir.hpp"
#include "sink/record_router.hpp"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;     // nothing usable: bad file, interface, filter, option
constexpr int kExitCutShort = 2;  // the report is complete for what could be read

struct Options {
    std::string read_file;
    std::string filter;
    std::vector<std::string> expression;
    std::string oui_file;
    std::uint64_t count = 0;
    bool no_progress = false;
    wl::PipelineOptions an;  // the analysis
    // Destinations of the records (README "Log folders").
    std::string log_dir;
    std::string log_format = "json";
    std::uint32_t log_rotate = 0;  // seconds; 0: no rotation
    std::string sensor;  // --sensor; the host name by default (with --log-dir, --clickhouse)
    bool sensor_set = false;
    std::string clickhouse;  // --clickhouse URL
    std::string spool;       // --spool DIR
    // Live capture.
    std::string iface;
    bool list_interfaces = false;
    int snaplen = 262144;
    bool no_promisc = false;
    bool immediate = false;
    int buffer_kib = 0;
    double duration = 0;
    std::string write_file;
    double rotate_mb = 0;
    std::uint32_t rotate_seconds = 0;
    std::uint32_t max_files = 0;
    std::string user;
    std::uint32_t ring_mib = 64;
    double stats_interval = -1;  // -1: every 2 s when stderr is a terminal
    double frag_timeout = 30;    // --frag-timeout, seconds
    std::string max_memory = "256M";
    unsigned threads = 1;      // --threads: analysis workers for -r
    bool follow = false;       // --follow was given (its argument may be empty)
    wl::MemoryRequest memory;  // filled from the options
    bool streams_max_set = false, streams_total_set = false;
    // tcpdump's habits: -v, -q, the dumps (-x, -X, -A: each given how many
    // times), and -n, -e taken and ignored.
    int verbose = 0, quiet = 0, hex = 0, hex_ascii = 0, ascii = 0, no_names = 0, link_headers = 0;
};

// Records go to a destination besides stdout (a log folder, ClickHouse): the
// analysis then writes JSON records.
bool has_destination(const Options& opt) {
    return !opt.log_dir.empty() || !opt.clickhouse.empty();
}

// Where the end-of-run summary goes (README "Output"): stdout after the
// tables, stderr when stdout holds packet lines (as tcpdump's counts), none with -q.
void place_summary(const Options& opt, wl::InputSummary& summary) {
    using Place = wl::InputSummary::Place;
    const bool json = opt.an.json || has_destination(opt);
    summary.place = opt.quiet != 0            ? Place::None
                    : opt.an.packets && !json ? Place::Err
                                              : Place::Out;
    summary.memory_lines = opt.verbose != 0;
}

int fail(const std::string& msg) {
    std::fprintf(stderr, "wirelens: %s\n", msg.c_str());
    return kExitError;
}

// Where the records go: stdout alone, or through the router (--log-dir,
// --sensor with --json). With --log-dir the analysis writes JSON records; stdout
// shows them only with --json (as Zeek, a sensor writing logs prints nothing).
struct Outputs {
    std::unique_ptr<wl::LogDir> logs;
    std::unique_ptr<wl::ClickHouseSink> clickhouse;
    std::unique_ptr<wl::RecordRouter> router;
    std::unique_ptr<wl::OutBuffer> out;

    bool open(const Options& opt, wl::PipelineOptions& an, std::string& err) {
        const bool json_out = opt.an.json;
        if (has_destination(opt) || (opt.sensor_set && json_out)) {
            router = std::make_unique<wl::RecordRouter>(json_out ? stdout : nullptr, opt.sensor);
        }
        if (!opt.log_dir.empty()) {
            an.json = true;
            logs = std::make_unique<wl::LogDir>();
            wl::LogDirOptions lo;
            lo.dir = opt.log_dir;
            lo.zeek = opt.log_format == "zeek";
            lo.rotate_seconds = opt.log_rotate;
            if (!logs->open(lo, err)) return false;
            router->add(logs.get());
        }
        if (!opt.clickhouse.empty()) {
            an.json = true;
            wl::ClickHouseLimits limits;
            limits.sensor = opt.sensor;
            try {
                clickhouse =
                    std::make_unique<wl::ClickHouseSink>(opt.clickhouse, opt.spool, limits);
            } catch (const std::exception& e) {
                err = e.what();
                return false;
            }
            router->add(clickhouse.get());
        }
        out = router ? std::make_unique<wl::OutBuffer>(router.get())
                     : std::make_unique<wl::OutBuffer>(stdout);
        return true;
    }
    // Before a frame of time `ts_ns` is analysed: rotation (--log-rotate) after
    // what the frames before it wrote.
    void advance(std::uint64_t ts_ns) {
        if (!logs) return;
        if (logs->due(ts_ns)) out->flush();
        logs->advance(ts_ns);
    }
    // After the last flush: the destinations finish; false + `err` when one lost records.
    bool finish(std::string& err) { return !router || router->finish(err); }
};

std::uint64_t wall_ns() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull +
           static_cast<std::uint64_t>(ts.tv_nsec);
}

// A one-line progress report on a terminal, redrawn at most four times a second.
class ProgressLine {
  public:
    explicit ProgressLine(bool enabled) : enabled_(enabled), start_(Clock::now()), last_(start_) {}
    void maybe_draw(const wl::PcapSource& src, std::uint64_t packets) {
        if (!enabled_ || (packets & 4095) != 0) return;
        const auto now = Clock::now();
        if (now - last_ < std::chrono::milliseconds(250)) return;
        last_ = now;
        const double secs = std::chrono::duration<double>(now - start_).count();
        const double mb = static_cast<double>(src.bytes_read()) / 1e6;
        if (src.file_size() != 0) {
            std::fprintf(stderr,
                         "\r\033[Kwirelens: %.1f of %.1f MB (%.0f%%), %llu packets, %.2f Mpkt/s",
                         mb, static_cast<double>(src.file_size()) / 1e6,
                         100.0 * static_cast<double>(src.bytes_read()) /
                             static_cast<double>(src.file_size()),
                         static_cast<unsigned long long>(packets),
                         static_cast<double>(packets) / secs / 1e6);
        } else {
            std::fprintf(stderr, "\r\033[Kwirelens: %.1f MB, %llu packets, %.2f Mpkt/s", mb,
                         static_cast<unsigned long long>(packets),
                         static_cast<double>(packets) / secs / 1e6);
        }
        drawn_ = true;
    }
    void clear() {
        if (drawn_) std::fputs("\r\033[K", stderr);
        drawn_ = false;
    }

  private:
    using Clock = std::chrono::steady_clock;
    bool enabled_;
    bool drawn_ = false;
    Clock::time_point start_, last_;
};

std::string joined_filter(const Options& opt) {
    std::string filter = opt.filter;
    for (const auto& word : opt.expression) {
        if (!filter.empty()) filter += ' ';
        filter += word;
    }
    return filter;
}

// The reading loop, for one pipeline or for the sharded one (--threads).
template <class Pipe>
int read_file(const Options& opt, Pipe& pipe, wl::PcapSource& src, Outputs& outputs,
              wl::InputSummary& summary) {
    wl::OutBuffer& out = *outputs.out;
    pipe.set_linktype(src.linktype());
    ProgressLine progress(!opt.no_progress && isatty(STDERR_FILENO) != 0);

    wl::RawFrame frame{};
    for (;;) {
        if (opt.count != 0 && pipe.counters().packets >= opt.count) break;
        const auto st = src.next(frame);
        if (st == wl::PcapSource::Status::End) break;
        if (st == wl::PcapSource::Status::Error) {
            summary.cut_short = true;
            summary.cut_reason = src.error();
            break;
        }
        outputs.advance(frame.ts_ns);
        pipe.frame(frame);
        // A stream is read as it is written (-r - from a live tcpdump): records go out at once.
        if (opt.an.stream && !out.flush()) break;
        progress.maybe_draw(src, pipe.counters().packets);
    }
    progress.clear();
    pipe.finish(summary);
    if (!out.flush()) return fail("cannot write output");
    std::string sink_err;
    if (!outputs.finish(sink_err)) return fail(sink_err);
    if (summary.cut_short) {
        std::fprintf(
            stderr, "wirelens: %s: input cut short after %llu packets: %s\n", opt.read_file.c_str(),
            static_cast<unsigned long long>(pipe.counters().packets), summary.cut_reason.c_str());
        return kExitCutShort;
    }
    return kExitOk;
}

// "--max-memory 1K (0.001 MiB): too small for these options: ..."
int memory_too_small(const Options& opt, const std::string& err) {
    const double mib = static_cast<double>(opt.memory.budget) / (1 << 20);
    char buf[48];
    std::snprintf(buf, sizeof buf, mib < 0.1 ? "%.3f MiB" : "%.1f MiB", mib);
    return fail("--max-memory " + opt.max_memory + " (" + buf + "): " + err);
}

int ladder_not_found(const Options& opt) {
    return fail("--ladder " + opt.an.ladder_uid + ": no TCP connection with this uid");
}

int follow_not_found(const Options& opt) {
    return fail("--follow " + opt.an.follow + ": no such TCP connection in " +
                (opt.read_file.empty() ? opt.iface : opt.read_file));
}

int run_file(const Options& opt, const wl::OuiRegistry& oui, const std::string& filter) {
    std::string err;
    if (opt.threads > 1) {
        // The text tables are sorted over all connections and the ladders
        // numbered over all of them: one pipeline's job.
        if (!opt.an.json && !has_destination(opt) && !opt.an.stream && !opt.an.no_flows) {
            return fail("--threads needs --json, --log-dir or --stream (or --no-flows)");
        }
        if (opt.an.ladder) return fail("--ladder does not go with --threads");
        if (!opt.an.streams_dir.empty()) {
            return fail("--streams needs one analysis thread (no --threads)");
        }
    }
    wl::PipelineOptions an = opt.an;
    if (has_destination(opt)) an.json = true;  // destinations take JSON records
    std::uint32_t ring_mib = 0;
    wl::InputSummary::Memory memory;
    wl::MemoryRequest mreq = opt.memory;
    mreq.threads = opt.threads;
    if (!wl::plan_memory(mreq, an, ring_mib, memory, err)) return memory_too_small(opt, err);
    auto src = wl::PcapSource::open_file(opt.read_file, err);
    if (!src) return fail(err);
    if (!filter.empty() && !src->set_filter(filter, err)) return fail(err);

    wl::InputSummary summary;
    summary.source = opt.read_file;
    summary.linktype = src->linktype_name();
    summary.filtered = !filter.empty();
    summary.memory = memory;
    place_summary(opt, summary);

    Outputs outputs;
    if (!outputs.open(opt, an, err)) return fail(err);
    wl::OutBuffer& out = *outputs.out;
    if (opt.threads > 1) {
        wl::ShardedPipeline pipe(an, opt.threads, out, oui);
        if (!pipe.open(err)) return fail(err);
        return read_file(opt, pipe, *src, outputs, summary);
    }
    wl::Pipeline pipe(an, out, oui);
    if (!pipe.open(err)) return fail(err);
    const int rc = read_file(opt, pipe, *src, outputs, summary);
    if (rc != kExitError && !pipe.follow_found()) return follow_not_found(opt);
    if (rc != kExitError && !pipe.ladder_found()) return ladder_not_found(opt);
    return rc;
}

// ---- live capture: a capture thread feeding the analysis through a ring ----

volatile std::sig_atomic_t g_stop = 0;
wl::LiveSource* g_live = nullptr;

extern "C" void on_stop_signal(int) {
    g_stop = 1;
    if (g_live != nullptr) g_live->breakloop();
}

// What the capture thread shares with the analysis thread.
struct Capture {
    wl::LiveSource* live = nullptr;
    wl::PcapWriter* writer = nullptr;
    wl::FrameRing* ring = nullptr;
    std::uint64_t count = 0;  // -c: stop after this many
    double duration = 0;      // --duration: stop after this many seconds
    // Written by the capture thread, read by the analysis thread.
    std::atomic<std::uint64_t> captured{0};
    std::atomic<std::uint64_t> received{0}, dropped_kernel{0}, dropped_iface{0};
    std::atomic<bool> done{false};
    std::atomic<bool> stop{false};  // the analysis asks the capture to stop (output failed)
    // Set by the capture thread before `done`.
    std::string error;        // the capture failed (interface went down)
    std::string write_error;  // the -w file could not be written
    const char* stopped_by = "signal";
    bool write_failed = false;
};

void on_frame(void* user, const wl::RawFrame& f) {
    auto& c = *static_cast<Capture*>(user);
    const std::uint64_t n = c.captured.load(std::memory_order_relaxed);
    if (c.count != 0 && n >= c.count) return;  // the rest of the batch after -c COUNT
    c.captured.store(n + 1, std::memory_order_relaxed);
    // The file first: a frame the analysis has no room for is still kept.
    if (c.writer != nullptr && !c.write_failed) {
        if (!c.writer->write(f)) {
            c.write_failed = true;
            c.write_error = c.writer->error();
            c.live->breakloop();
        }
    }
    c.ring->push(f);
    if (c.count != 0 && n + 1 >= c.count) c.live->breakloop();
}

void publish_stats(Capture& c) {
    wl::LiveSource::Stats s;
    if (!c.live->stats(s)) return;
    c.received.store(s.received, std::memory_order_relaxed);
    c.dropped_kernel.store(s.dropped_kernel, std::memory_order_relaxed);
    c.dropped_iface.store(s.dropped_iface, std::memory_order_relaxed);
}

void capture_loop(Capture& c) {
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    auto next_stats = start;
    for (;;) {
        if (g_stop || c.stop.load(std::memory_order_relaxed)) break;
        const int n = c.live->dispatch(-1, on_frame, &c);
        if (c.write_failed) {
            c.stopped_by = "error";
            break;
        }
        if (n == -1) {
            c.error = c.live->error();
            c.stopped_by = "error";
            break;
        }
        if (c.count != 0 && c.captured.load(std::memory_order_relaxed) >= c.count) {
            c.stopped_by = "count";
            break;
        }
        const auto now = Clock::now();
        if (c.duration > 0 && std::chrono::duration<double>(now - start).count() >= c.duration) {
            c.stopped_by = "duration";
            break;
        }
        // The file is current after every batch: an interrupted run loses nothing written.
        if (n > 0 && c.writer != nullptr && !c.writer->flush()) {
            c.write_failed = true;
            c.write_error = c.writer->error();
            c.stopped_by = "error";
            break;
        }
        if (c.writer != nullptr && c.writer->done()) {
            c.stopped_by = "file count";
            break;
        }
        if (now >= next_stats) {
            publish_stats(c);
            next_stats = now + std::chrono::milliseconds(500);
        }
    }
    publish_stats(c);
    if (c.writer != nullptr && !c.write_failed && !c.writer->close()) {
        c.write_failed = true;
        c.write_error = c.writer->error();
    }
    c.done.store(true, std::memory_order_release);
}

// The stats line on stderr: packets/s, Mbit/s, open connections, drops.
class StatsLine {
  public:
    StatsLine(double interval, bool terminal) : interval_(interval), terminal_(terminal) {}
    bool enabled() const { return interval_ > 0; }
    void maybe_draw(const Capture& c, const wl::Pipeline& pipe, const wl::FrameRing& ring) {
        if (interval_ <= 0) return;
        const auto now = Clock::now();
        const double secs = std::chrono::duration<double>(now - last_).count();
        if (secs < interval_) return;
        const std::uint64_t pkts = pipe.counters().packets;
        const std::uint64_t bytes = pipe.counters().wire_bytes;
        std::fprintf(stderr,
                     "%swirelens: %llu packets, %.0f pkt/s, %.2f Mbit/s, %zu connections open, "
                     "drops: %llu kernel, %llu interface, %llu ring%s",
                     terminal_ ? "\r\033[K" : "", static_cast<unsigned long long>(pkts),
                     static_cast<double>(pkts - last_pkts_) / secs,
                     static_cast<double>(bytes - last_bytes_) * 8 / secs / 1e6,
                     pipe.open_connections(),
                     static_cast<unsigned long long>(c.dropped_kernel.load()),
                     static_cast<unsigned long long>(c.dropped_iface.load()),
                     static_cast<unsigned long long>(ring.dropped()), terminal_ ? "" : "\n");
        drawn_ = terminal_;
        last_ = now;
        last_pkts_ = pkts;
        last_bytes_ = bytes;
    }
    void clear() {
        if (drawn_) std::fputs("\r\033[K", stderr);
        drawn_ = false;
    }

  private:
    using Clock = std::chrono::steady_clock;
    double interval_;
    bool terminal_;
    bool drawn_ = false;
    Clock::time_point last_ = Clock::now();
    std::uint64_t last_pkts_ = 0, last_bytes_ = 0;
};

int run_live(const Options& opt, const wl::OuiRegistry& oui, const std::string& filter) {
    if (!opt.read_file.empty()) return fail("give either -r FILE or -i INTERFACE, not both");
    if (opt.threads > 1)
        return fail("--threads goes with -r FILE; live capture has one analysis thread");
    std::string err, warning;
    wl::PipelineOptions an = opt.an;
    if (has_destination(opt)) an.json = true;  // destinations take JSON records
    an.stream = true;
    std::uint32_t ring_mib = opt.ring_mib;
    wl::InputSummary::Memory memory;
    wl::MemoryRequest mreq = opt.memory;
    mreq.live = true;
    mreq.buffer_kib = opt.buffer_kib;
    mreq.snaplen = static_cast<std::uint32_t>(opt.snaplen);
    if (!wl::plan_memory(mreq, an, ring_mib, memory, err)) return memory_too_small(opt, err);
    wl::LiveOptions lo;
    lo.iface = opt.iface;
    lo.snaplen = opt.snaplen;
    lo.promisc = !opt.no_promisc;
    // Not immediate by default: libpcap then uses TPACKET_V3's packed blocks,
    // which hold several times more small frames in the same buffer than
    // immediate mode's fixed slots (measured in bench/live_drops.sh); blocks are
    // handed over at least every 100 ms, so events still appear at once.
    lo.immediate = opt.immediate;
    lo.timeout_ms = 100;
    lo.buffer_kib = opt.buffer_kib;
    auto live = wl::LiveSource::open(lo, err, &warning);
    if (!live) return fail(err);
    if (!warning.empty()) std::fprintf(stderr, "wirelens: warning: %s\n", warning.c_str());
    if (!filter.empty() && !live->set_filter(filter, err)) return fail(err);
    // As tcpdump -Z: root only to open the interface; files are opened as USER.
    if (!opt.user.empty() && !wl::drop_privileges(opt.user, err)) return fail(err);
    std::unique_ptr<wl::PcapWriter> writer;
    if (!opt.write_file.empty()) {
        wl::WriterOptions wo;
        wo.path = opt.write_file;
        wo.rotate_bytes = static_cast<std::uint64_t>(opt.rotate_mb * 1e6);
        wo.rotate_seconds = opt.rotate_seconds;
        wo.max_files = opt.max_files;
        wo.linktype = live->linktype();
        wo.snaplen = live->snaplen();
        writer = wl::PcapWriter::open(wo, err);
        if (!writer) return fail(err);
    }
    wl::FrameRing ring(static_cast<std::size_t>(ring_mib) << 20);
    if (!ring.valid()) return fail("cannot allocate the capture ring (--ring)");

    Outputs outputs;
    if (!outputs.open(opt, an, err)) return fail(err);
    wl::OutBuffer& out = *outputs.out;
    wl::Pipeline pipe(an, out, oui);
    if (!pipe.open(err)) return fail(err);
    pipe.set_linktype(live->linktype());

    wl::InputSummary summary;
    summary.source = opt.iface;
    summary.linktype = live->linktype_name();
    summary.filtered = !filter.empty();
    summary.live = true;
    summary.memory = memory;
    place_summary(opt, summary);
    if (writer) summary.capture.write_path = opt.write_file;

    Capture cap;
    cap.live = live.get();
    cap.writer = writer.get();
    cap.ring = &ring;
    cap.count = opt.count;
    cap.duration = opt.duration;

    // SIGINT and SIGTERM end the capture; what was captured is still analysed
    // and reported. A closed output pipe must not kill us before -w is closed.
    g_live = live.get();
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    std::fprintf(stderr, "wirelens: listening on %s, link-type %s, snapshot length %u bytes\n",
                 opt.iface.c_str(), live->linktype_name().c_str(), live->snaplen());
    std::thread capture_thread(capture_loop, std::ref(cap));
    // When the CPUs are busy, the capture thread goes first: a packet it takes
    // from the kernel waits in the ring, a packet it leaves there may be lost.
    // (Linux nice values are per thread; lowering one's own needs no privilege.)
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);

    // The analysis: drain the ring; when it is empty, let time pass (timeouts,
    // alert ends) and wait a little. Time is passed a second behind the clock
    // so that frames still on their way from the kernel are never "in the past".
    constexpr std::uint64_t kTickLagNs = 1000000000ull;
    const bool terminal = isatty(STDERR_FILENO) != 0;
    StatsLine stats(opt.stats_interval < 0 ? (terminal ? 2.0 : 0.0) : opt.stats_interval, terminal);
    auto last_tick = std::chrono::steady_clock::now();
    bool output_failed = false;
    for (;;) {
        wl::RawFrame f{};
        int n = 0;
        while (n < 1024 && ring.peek(f)) {
            outputs.advance(f.ts_ns);
            pipe.frame(f);
            ring.pop();
            ++n;
        }
        if (!output_failed && !out.flush()) {  // records go out as they happen
            output_failed = true;
            cap.stop.store(true);
            live->breakloop();
        }
        if (n == 0) {
            if (cap.done.load(std::memory_order_acquire) && ring.empty()) break;
            const auto now = std::chrono::steady_clock::now();
            if (now - last_tick >= std::chrono::milliseconds(200)) {
                outputs.advance(wall_ns() - kTickLagNs);
                pipe.tick(wall_ns() - kTickLagNs);
                last_tick = now;
            }
            std::this_thread::sleep_for(std::chrono::microseconds(500));
        }
        stats.maybe_draw(cap, pipe, ring);
    }
    capture_thread.join();
    stats.clear();
    g_live = nullptr;

    summary.capture.captured = cap.captured.load();
    summary.capture.received = cap.received.load();
    summary.capture.dropped_kernel = cap.dropped_kernel.load();
    summary.capture.dropped_iface = cap.dropped_iface.load();
    summary.capture.dropped_ring = ring.dropped();
    summary.capture.written = writer ? writer->packets() : 0;  // not after -W's last file
    summary.capture.files = writer ? writer->files() : 0;
    summary.capture.stopped_by = output_failed ? "output error" : cap.stopped_by;
    if (!cap.error.empty()) {
        summary.cut_short = true;
        summary.cut_reason = cap.error;
    }
    pipe.finish(summary);
    if (!out.flush() || output_failed) return fail("cannot write output");
    std::string sink_err;
    if (!outputs.finish(sink_err)) return fail(sink_err);
    if (!pipe.follow_found()) return follow_not_found(opt);
    if (!pipe.ladder_found()) return ladder_not_found(opt);
    int rc = kExitOk;
    if (!cap.error.empty()) {
        std::fprintf(stderr, "wirelens: %s: capture stopped after %llu packets: %s\n",
                     opt.iface.c_str(), static_cast<unsigned long long>(cap.captured.load()),
                     cap.error.c_str());
        rc = kExitCutShort;
    }
    if (cap.write_failed) {
        std::fprintf(stderr, "wirelens: %s: %s\n", opt.write_file.c_str(), cap.write_error.c_str());
        rc = kExitCutShort;
    }
    return rc;
}

int run(Options opt) {
    if (opt.list_interfaces) {
        std::string err;
        if (!wl::list_interfaces(stdout, err)) return fail(err);
        return kExitOk;
    }
    if (opt.read_file.empty() && opt.iface.empty()) {
        return fail("nothing to read: give a capture file with -r FILE or an interface with -i");
    }
    if (!opt.filter.empty() && !opt.expression.empty()) {
        return fail("give the filter either with -f or after the options, not both");
    }
    if (opt.iface.empty() && (!opt.write_file.empty() || !opt.user.empty())) {
        return fail("-w and -Z go with live capture (-i INTERFACE)");
    }
    if (opt.write_file.empty() && (opt.rotate_mb > 0 || opt.rotate_seconds > 0)) {
        return fail("-C and -G rotate the -w file: give -w FILE");
    }
    if (opt.max_files != 0 && opt.rotate_mb <= 0 && opt.rotate_seconds == 0) {
        return fail("-W needs -C or -G");
    }
    wl::OuiRegistry custom_oui;
    const wl::OuiRegistry* oui = &wl::OuiRegistry::builtin();
    if (!opt.oui_file.empty()) {
        std::string err;
        if (!custom_oui.load_csv(opt.oui_file, err)) return fail(err);
        oui = &custom_oui;
    }
    if (opt.an.ladder && !opt.an.ladder_uid.empty() &&
        !wl::cli::looks_like_uid(opt.an.ladder_uid)) {
        return fail("--ladder " + opt.an.ladder_uid +
                    ": not a connection uid (C and 17 letters or digits)");
    }
    if (opt.an.dump.kind != wl::PacketDump::None) {
        if (opt.an.json)
            return fail("-x, -X and -A print bytes under packet lines: not with --json");
        if (opt.follow) return fail("-x, -X and -A print packets: not with --follow");
    }
    if (opt.follow || opt.an.follow_hex) {
        if (!opt.follow) return fail("--hex goes with --follow UID|INDEX");
        if (!wl::FollowReporter::valid_target(opt.an.follow)) {
            return fail("--follow " + opt.an.follow +
                        ": not a connection uid (C and 17 letters or digits) nor a tcp.stream "
                        "index (a number)");
        }
        if (opt.an.no_reassembly || opt.an.no_flows) {
            return fail("--follow needs stream reassembly: not with --no-reassembly or --no-flows");
        }
        if (opt.threads > 1) return fail("--follow does not go with --threads");
        if (opt.an.json) return fail("--follow writes text: not with --json");
        if (opt.an.packets) return fail("--follow writes one stream: not with --packets");
    }
    if (!opt.an.streams_dir.empty() && (opt.an.no_reassembly || opt.an.no_flows)) {
        return fail(std::string("--streams needs stream reassembly (not with ") +
                    (opt.an.no_flows ? "--no-flows)" : "--no-reassembly)"));
    }
    if (opt.an.streams_dir.empty() && (opt.streams_max_set || opt.streams_total_set)) {
        return fail("--streams-max and --streams-total go with --streams DIR");
    }
    if (!opt.log_dir.empty()) {
        if (opt.follow) return fail("--follow writes one stream as text: not with --log-dir");
        if (opt.an.dump.kind != wl::PacketDump::None)
            return fail("-x, -X and -A print bytes under packet lines: not with --log-dir");
    } else if (opt.log_format != "json" || opt.log_rotate != 0) {
        return fail("--log-format and --log-rotate go with --log-dir DIR");
    }
    if (opt.log_format != "json" && opt.log_format != "zeek") {
        return fail("--log-format " + opt.log_format + ": json or zeek");
    }
    if (!opt.clickhouse.empty()) {
        if (opt.follow) return fail("--follow writes one stream as text: not with --clickhouse");
        if (opt.an.dump.kind != wl::PacketDump::None)
            return fail("-x, -X and -A print bytes under packet lines: not with --clickhouse");
    } else if (!opt.spool.empty()) {
        return fail("--spool goes with --clickhouse URL");
    }
    if (opt.sensor_set) {
        const std::string why = wl::sensor_name_problem(opt.sensor);
        if (!why.empty()) return fail("--sensor: " + why);
    } else if (has_destination(opt)) {
        char host[256] = {};
        if (gethostname(host, sizeof host - 1) == 0 && wl::sensor_name_problem(host).empty()) {
            opt.sensor = host;
        }
    }
    const std::string filter = joined_filter(opt);
    return opt.iface.empty() ? run_file(opt, *oui, filter) : run_live(opt, *oui, filter);
}

// A numeric option: kept as given, checked after parsing (check_numbers).
struct Number {
    std::string shown;  // the name in messages: "-c", "--max-flows"
    std::string given;
    CLI::Option* option = nullptr;
    std::function<std::string(const std::string&)> check;  // "" or what is wrong
};

// --ladder takes a uid only as --ladder=UID or when the next word looks like
// one; any other word after it stays for the BPF filter.
std::vector<std::string> ladder_args(int argc, char** argv) {
    std::vector<std::string> args(argv, argv + argc);
    for (std::size_t i = 1; i < args.size(); ++i) {
        if (args[i] == "--") break;
        if (args[i] != "--ladder") continue;
        if (i + 1 < args.size() && wl::cli::looks_like_uid(args[i + 1])) {
            args[i] += "=" + args[i + 1];
            args.erase(args.begin() + static_cast<std::ptrdiff_t>(i) + 1);
        } else {
            args[i] = "--ladder-all";  // hidden: bare --ladder
        }
    }
    return args;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace wl::cli;
    Options opt;
    CLI::App app{"wirelens: a packet inspector for live traffic and pcap/pcapng captures"};
    app.name("wirelens");
    app.get_formatter()->column_width(36);
    app.get_formatter()->label("REQUIRED", "");

    std::deque<Number> numbers;
    auto number = [&](const std::string& names, const std::string& shown, const std::string& type,
                      const std::string& desc, const std::string& group,
                      std::function<std::string(const std::string&)> check) {
        numbers.push_back(Number{shown, {}, nullptr, std::move(check)});
        Number& n = numbers.back();
        n.option = app.add_option(names, n.given, desc)->type_name(type)->group(group);
        return n.option;
    };
    // Whole numbers from lo to hi into any integer.
    auto whole = [](auto& target, std::uint64_t lo, std::uint64_t hi) {
        return [&target, lo, hi](const std::string& text) {
            std::uint64_t v = 0;
            std::string err = check_whole(text, lo, hi, v);
            if (err.empty()) target = static_cast<std::remove_reference_t<decltype(target)>>(v);
            return err;
        };
    };
    auto seconds = [](double& target, bool zero_ok, double hi) {
        return [&target, zero_ok, hi](const std::string& text) {
            return check_seconds(text, zero_ok, hi, target);
        };
    };
    auto real = [](double& target, double lo, bool lo_open, double hi) {
        return [&target, lo, lo_open, hi](const std::string& text) {
            return check_real(text, lo, lo_open, hi, target);
        };
    };
    auto size = [](std::uint64_t& target, std::uint64_t lo, std::uint64_t hi) {
        return
            [&target, lo, hi](const std::string& text) { return check_size(text, lo, hi, target); };
    };
    constexpr std::uint64_t kDay = 86400;
    constexpr std::uint64_t kTiB = 1ull << 40;

    const std::string in = "Input", out = "Output", an = "Analysis", lim = "Limits",
                      live = "Live capture", up = "Uploads", fl = "SYN floods and scans";
    // Input.
    app.add_option("-r,--read", opt.read_file,
                   "Read packets from FILE (pcap or pcapng, plain or gzip/zstd/xz compressed; "
                   "- for stdin)")
        ->type_name("FILE")
        ->group(in);
    app.add_option("-f,--filter", opt.filter,
                   "Keep only the packets this BPF filter takes (tcpdump syntax)")
        ->type_name("FILTER")
        ->group(in);
    number("-c,--count", "-c", "N", "Stop after N packets (default: read everything)", in,
           whole(opt.count, 1, ~std::uint64_t{0}));
    app.add_option("expression", opt.expression, "BPF filter, as after tcpdump's options")
        ->type_name("FILTER");
    // Output.
    app.add_flag(
           "--packets", opt.an.packets,
           "Print one line (or JSON record) per packet; in text the summary then goes to stderr")
        ->group(out);
    app.add_flag("--json", opt.an.json, "Write JSON Lines instead of text")->group(out);
    app.add_flag("--stream", opt.an.stream,
                 "Write events as they happen (as live capture does), not tables at the end")
        ->group(out);
    app.add_flag("--no-progress", opt.no_progress, "No progress line on stderr")->group(out);
    app.add_option("--log-dir", opt.log_dir,
                   "Write every record type to DIR/TYPE.log (conn.log, upload.log, ...); stdout "
                   "then stays empty unless --json")
        ->type_name("DIR")
        ->group(out);
    app.add_option("--log-format", opt.log_format,
                   "With --log-dir: json (JSON Lines, default) or zeek (Zeek's tab-separated logs)")
        ->type_name("FORMAT")
        ->group(out);
    number("--log-rotate", "--log-rotate", "SECONDS",
           "With --log-dir: close and rename the logs every SECONDS of capture time, as "
           "TYPE.START-END.log",
           out, whole(opt.log_rotate, 1, 366 * kDay));
    app.add_option("--clickhouse", opt.clickhouse,
                   "Insert the records into ClickHouse at URL (http://[user:password@]host:8123/"
                   "?database=wirelens), one table per record type (schema/clickhouse.sql)")
        ->type_name("URL")
        ->group(out);
    app.add_option("--spool", opt.spool,
                   "With --clickhouse: keep batches the server cannot take yet in DIR (made if "
                   "missing, at most 1G), sent again in order, also by the next run")
        ->type_name("DIR")
        ->group(out);
    app.add_option("--sensor", opt.sensor,
                   "Name every JSON record with \"sensor\":\"NAME\" (default with --log-dir or "
                   "--clickhouse: the "
                   "host name)")
        ->type_name("NAME")
        ->group(out);
    app.add_flag("-v", opt.verbose,
                 "More: packet lines show the IP header's fields (as tcpdump -v); the summary "
                 "shows the memory plan")
        ->group(out);
    app.add_flag("-q", opt.quiet, "Less: no summary at the end (JSON: no stats record)")
        ->group(out);
    app.add_flag("-x", opt.hex,
                 "Under each packet line, its bytes in hex from the network header on (-xx: from "
                 "the link header); implies --packets, not with --json")
        ->group(out);
    app.add_flag("-X", opt.hex_ascii,
                 "As -x, with the printable characters beside (-XX: from "
                 "the link header)")
        ->group(out);
    app.add_flag("-A", opt.ascii, "Under each packet line, its bytes as text, network header on")
        ->group(out);
    app.add_flag("-n", opt.no_names,
                 "Taken as tcpdump takes it (also -nn), changes nothing: wirelens never resolves "
                 "names or ports")
        ->group(out);
    app.add_flag("-e", opt.link_headers,
                 "Taken as tcpdump takes it, changes nothing: packet lines always show the link "
                 "header")
        ->group(out);
    app.add_option("--ladder", opt.an.ladder_uid,
                   "Draw the handshake and teardown of the first 20 TCP connections, or of the "
                   "one named (--ladder=UID); in text, the ladders and the summary alone")
        ->expected(0, 1)
        ->type_name("[=UID]")
        ->group(out);
    app.add_flag("--ladder-all")->group("");  // bare --ladder, see ladder_args
    app.add_option("--follow", opt.an.follow,
                   "Print only TCP connection UID (or tcp.stream INDEX, from 0), both directions "
                   "as reassembled, with gaps and frame boundaries")
        ->type_name("UID|INDEX")
        ->group(out);
    app.add_flag("--hex", opt.an.follow_hex, "With --follow: a hex dump instead of text")
        ->group(out);
    app.add_option("--streams", opt.an.streams_dir,
                   "Write every TCP stream direction to DIR/tcpN-UID-orig.bin (-resp.bin), holes "
                   "for missing bytes, gaps in DIR/index.jsonl")
        ->type_name("DIR")
        ->group(out);
    number("--streams-max", "--streams-max", "SIZE",
           "With --streams: bytes written of one stream direction at most (default 1G)", out,
           size(opt.an.streams_max, 1, kTiB));
    number("--streams-total", "--streams-total", "SIZE",
           "With --streams: bytes written in all at most (default 16G)", out,
           size(opt.an.streams_total, 1, 1024 * kTiB));
    // Analysis.
    app.add_flag("--verify-checksums", opt.an.verify_checksums,
                 "Verify IPv4, TCP, UDP and ICMP checksums (default off); a host whose TCP/UDP "
                 "checksums are all bad is taken for checksum offload, its packets kept, one "
                 "warning")
        ->group(an);
    app.add_option("--oui", opt.oui_file,
                   "IEEE registry CSV to name MAC vendors with (default: the built-in one)")
        ->type_name("FILE")
        ->group(an);
    app.add_flag("--no-flows", opt.an.no_flows, "Decode only: no connection tracking")->group(an);
    app.add_flag("--no-reassembly", opt.an.no_reassembly,
                 "Connections only: no stream reassembly, no upload decoding")
        ->group(an);
    app.add_flag("--no-defrag", opt.an.no_defrag,
                 "Do not reassemble IP fragments (the first fragment counts as its connection's)")
        ->group(an);
    app.add_flag("--all-attempts", opt.an.all_attempts,
                 "A conn record for every attempt evicted from a full table (default: one "
                 "'attempts' record per responder and second)")
        ->group(an);
    number("--tcp-timeout", "--tcp-timeout", "SECONDS", "TCP inactivity timeout (default 300)", an,
           seconds(opt.an.tcp_timeout, false, kDay));
    number("--udp-timeout", "--udp-timeout", "SECONDS", "UDP inactivity timeout (default 60)", an,
           seconds(opt.an.udp_timeout, false, kDay));
    number("--icmp-timeout", "--icmp-timeout", "SECONDS", "ICMP inactivity timeout (default 60)",
           an, seconds(opt.an.icmp_timeout, false, kDay));
    number("--frag-timeout", "--frag-timeout", "SECONDS",
           "Drop a datagram still incomplete this long after its first fragment (default 30)", an,
           seconds(opt.frag_timeout, false, kDay));
    number("--community-id-seed", "--community-id-seed", "N",
           "Seed of the community_id in JSON records (Community ID v1), 0 to 65535 (default 0)", an,
           whole(opt.an.community_id_seed, 0, 65535));
    number("--threads", "--threads", "N",
           "With -r: analyse connections on N threads, sharded by address and port (default 1)", an,
           whole(opt.threads, 1, wl::ShardedPipeline::kMaxWorkers));
    // Limits.
    number("--max-memory", "--max-memory", "SIZE",
           "Memory for all tables and buffers (default 256M); limits not given are lowered to fit",
           lim, [&opt](const std::string& text) {
               return check_size(text, 1, kTiB, opt.memory.budget);
           });
    number("--max-flows", "--max-flows", "N", "Connections held at once (default 32768)", lim,
           whole(opt.an.max_flows, 1, 1u << 26));
    number("--max-attempts", "--max-attempts", "N",
           "Of those, unanswered attempts held at once (default: half)", lim,
           whole(opt.an.max_attempts, 1, 1u << 26));
    number("--max-reassembly", "--max-reassembly", "SIZE",
           "Out-of-order TCP data buffered at once, all connections (default 32M)", lim,
           size(opt.an.max_reassembly, 1, kTiB));
    number("--frag-datagrams", "--frag-datagrams", "N",
           "Fragmented datagrams in progress at once (default 1024)", lim,
           whole(opt.an.frag.max_datagrams, 1, 1u << 20));
    number("--frag-memory", "--frag-memory", "SIZE",
           "Fragment bytes held at once, all datagrams (default 4M)", lim,
           size(opt.an.frag.max_bytes, 1, 1ull << 32));
    // Uploads.
    std::vector<std::string> upload_ports;
    app.add_option("--upload-port", upload_ports,
                   "Treat TCP streams to/from PORT as framed uploads (repeatable)")
        ->type_name("PORT")
        ->allow_extra_args(false)
        ->group(up);
    app.add_flag("--sha256", opt.an.sha256, "SHA-256 of every upload body, besides MD5")->group(up);
    app.add_option("--size-key", opt.an.size_key,
                   "Header key giving the body size, tried before the usual ones")
        ->type_name("KEY")
        ->group(up);
    number("--max-header", "--max-header", "N",
           "Largest framed-upload length prefix / JSON header, bytes (default 16384)", up,
           whole(opt.an.max_header, 16, 1u << 24));
    number("--max-uploads", "--max-uploads", "N",
           "Streams examined for framing at once (default 1024)", up,
           whole(opt.an.max_uploads, 1, 1u << 20));
    number("--md5-lanes", "--md5-lanes", "N",
           "Upload bodies hashed at once in vector lanes: 16 (AVX-512F, default), 8 (AVX2), 0 "
           "(OpenSSL alone); lowered to what the CPU has",
           up, [&opt](const std::string& text) -> std::string {
               if (text == "0" || text == "8" || text == "16") {
                   opt.an.md5_lanes = static_cast<unsigned>(std::stoul(text));
                   return "";
               }
               return "must be 0, 8 or 16";
           });
    app.add_option("--extract", opt.an.extract_dir, "Write each complete upload body into DIR")
        ->type_name("DIR")
        ->group(up);
    app.add_flag("--extract-partial", opt.an.extract_partial,
                 "With --extract: also keep incomplete bodies, as NAME.partial")
        ->group(up);
    number("--extract-max", "--extract-max", "SIZE",
           "With --extract: skip bodies declared larger than this (default 1G)", up,
           size(opt.an.extract_max, 1, kTiB));
    // SYN floods and scans.
    app.add_flag("--no-flood", opt.an.no_flood, "No SYN-flood detection")->group(fl);
    number("--flood-syn-rate", "--flood-syn-rate", "N",
           "SYNs per second to one victim that can make a flood (default 1000)", fl,
           real(opt.an.flood.min_syn_rate, 0, true, 1e9));
    number("--flood-max-completion", "--flood-max-completion", "SHARE",
           "Largest share of completed handshakes in a flood, 0 to 1 (default 0.2)", fl,
           real(opt.an.flood.max_completion, 0, false, 1));
    number("--flood-half-open", "--flood-half-open", "N",
           "Half-open attempts in one second that can make a flood (default 500)", fl,
           whole(opt.an.flood.min_half_open, 1, 1u << 30));
    number("--flood-quiet", "--flood-quiet", "SECONDS",
           "Time below the thresholds before an alert ends (default 5)", fl,
           seconds(opt.an.flood.quiet_seconds, false, kDay));
    number("--flood-backlog", "--flood-backlog", "N",
           "Modelled half-open queue that can make a flood (default 511: nginx's and Apache's "
           "listen backlog)",
           fl, whole(opt.an.flood.backlog, 1, 1u << 30));
    number("--flood-synack-lifetime", "--flood-synack-lifetime", "SECONDS",
           "Time a half-open SYN stays in the modelled queue, 1 to 64 (default 63: Linux's "
           "SYN-ACK retries)",
           fl, real(opt.an.flood.synack_lifetime, 1, false, 64));
    number("--flood-prefix", "--flood-prefix", "V4,V6",
           "Destination prefix lengths also followed as victims, IPv4,IPv6 (default 24,64; 0: "
           "none)",
           fl, [&opt](const std::string& text) -> std::string {
               const auto comma = text.find(',');
               std::uint64_t v4 = 0, v6 = 0;
               if (comma == std::string::npos || !parse_whole(text.substr(0, comma), v4) ||
                   !parse_whole(text.substr(comma + 1), v6) || v4 > 32 || v6 > 128) {
                   return "must be two prefix lengths, IPv4 from 0 to 32 and IPv6 from 0 to 128, "
                          "such as 24,64";
               }
               opt.an.flood.prefix_v4 = static_cast<std::uint8_t>(v4);
               opt.an.flood.prefix_v6 = static_cast<std::uint8_t>(v6);
               return "";
           });
    app.add_flag(
           "--no-scan", [&opt](std::int64_t) { opt.an.flood.scan.enabled = false; },
           "No port or address scan detection (scanners' SYNs then count as a flood's)")
        ->group(fl);
    number("--scan-ports", "--scan-ports", "N",
           "Ports of one host, not answered, that make a port scan (default 15, as Zeek)", fl,
           whole(opt.an.flood.scan.port_threshold, 2, 65536));
    number("--scan-hosts", "--scan-hosts", "N",
           "Hosts on one port, not answered, that make an address scan (default 25, as Zeek)", fl,
           whole(opt.an.flood.scan.addr_threshold, 2, 65536));
    // Live capture.
    app.add_option("-i,--interface", opt.iface, "Capture live on INTERFACE (\"any\": all)")
        ->type_name("INTERFACE")
        ->group(live);
    app.add_flag("-D,--list-interfaces", opt.list_interfaces,
                 "List the interfaces that can be captured on, with their addresses")
        ->group(live);
    number("-s,--snapshot-length", "-s", "N", "Bytes kept of each packet (default 262144)", live,
           whole(opt.snaplen, 64, 262144));
    app.add_flag("--no-promisc", opt.no_promisc, "Do not put the interface in promiscuous mode")
        ->group(live);
    app.add_flag("--immediate-mode", opt.immediate,
                 "Hand each packet over as it arrives (default: in blocks, at most 100 ms late)")
        ->group(live);
    number("-B,--buffer-size", "-B", "KIB",
           "Kernel capture buffer in KiB (default: libpcap's, 2048)", live,
           whole(opt.buffer_kib, 64, 1u << 22));
    number("--duration", "--duration", "SECONDS", "Stop capturing after this long (default: never)",
           live, seconds(opt.duration, false, 365 * kDay));
    app.add_option("-w,--write", opt.write_file,
                   "Also write what is captured to FILE (pcap, nanosecond timestamps)")
        ->type_name("FILE")
        ->group(live);
    number("-C,--file-size", "-C", "MB",
           "Start a new -w file when this one holds MB million bytes (tcpdump -C)", live,
           real(opt.rotate_mb, 0, true, 1e6));
    number("-G,--rotate-seconds", "-G", "SECONDS",
           "Start a new -w file every SECONDS; FILE may hold strftime %-codes (tcpdump -G)", live,
           whole(opt.rotate_seconds, 1, 1u << 30));
    number("-W,--file-count", "-W", "N",
           "With -C: keep at most N files, reusing the oldest; with -G alone: stop after N", live,
           whole(opt.max_files, 1, 1u << 20));
    app.add_option("-Z,--relinquish-privileges", opt.user,
                   "After opening the interface, run as USER (files are opened as USER)")
        ->type_name("USER")
        ->group(live);
    number("--ring", "--ring", "MIB",
           "MiB of captured packets queued for analysis; beyond, drops are counted (default 64)",
           live, whole(opt.ring_mib, 1, 4096));
    number("--stats-interval", "--stats-interval", "SECONDS",
           "A stats line on stderr this often; 0: none (default 2 when stderr is a terminal)", live,
           seconds(opt.stats_interval, true, kDay));
    // Last in --help.
    app.set_help_flag("-h,--help", "Print this help and exit")->group("Other");
    app.set_version_flag("--version", std::string(WIRELENS_VERSION), "Print the version and exit")
        ->group("Other");
    try {
        std::vector<std::string> args = ladder_args(argc, argv);
        std::reverse(args.begin(), args.end());
        args.pop_back();  // the program name
        app.parse(args);
        opt.an.ladder = app.count("--ladder") + app.count("--ladder-all") > 0;
        opt.follow = app.count("--follow") > 0;
        opt.sensor_set = app.count("--sensor") > 0;
        opt.memory.flows_set = app.count("--max-flows") > 0;
        opt.memory.reassembly_set = app.count("--max-reassembly") > 0;
        opt.memory.uploads_set = app.count("--max-uploads") > 0;
        opt.memory.ring_set = app.count("--ring") > 0;
        opt.streams_max_set = app.count("--streams-max") > 0;
        opt.streams_total_set = app.count("--streams-total") > 0;
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);
        std::fprintf(stderr, "wirelens: %s (try --help)\n", e.what());
        return kExitError;
    }
    for (const Number& n : numbers) {
        if (n.option->count() == 0) continue;
        const std::string err = n.check(n.given);
        if (!err.empty()) return fail(n.shown + " " + n.given + ": " + err);
    }
    for (const std::string& port : upload_ports) {
        std::uint64_t v = 0;
        const std::string err = check_whole(port, 1, 65535, v);
        if (!err.empty()) return fail("--upload-port " + port + ": " + err);
        opt.an.upload_ports.push_back(static_cast<std::uint16_t>(v));
    }
    for (const Number& n : numbers) {
        if (n.shown == "--max-memory" && n.option->count() > 0) opt.max_memory = n.given;
    }
    opt.an.frag.timeout_ns = static_cast<std::uint64_t>(opt.frag_timeout * 1e9);
    opt.an.verbose = opt.verbose != 0;
    // tcpdump's order: -X before -x before -A; each implies packet lines.
    if (opt.hex_ascii != 0) {
        opt.an.dump = {wl::PacketDump::HexAscii, opt.hex_ascii > 1};
    } else if (opt.hex != 0) {
        opt.an.dump = {wl::PacketDump::Hex, opt.hex > 1};
    } else if (opt.ascii != 0) {
        opt.an.dump = {wl::PacketDump::Ascii, false};
    }
    if (opt.an.dump.kind != wl::PacketDump::None) opt.an.packets = true;
    return run(opt);
}
