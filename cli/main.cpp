// wirelens: the command line. Wires the pipeline together:
// capture -> decode -> flow (connections, reassembly) -> analyzers (uploads) -> report.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "alert_report.hpp"
#include "conn_report.hpp"
#include "counters.hpp"
#include "file_extractor.hpp"
#include "flow_tracker.hpp"
#include "oui.hpp"
#include "out_buffer.hpp"
#include "packet.hpp"
#include "packet_report.hpp"
#include "pcap_source.hpp"
#include "syn_flood.hpp"
#include "tcp_reassembler.hpp"
#include "upload_analyzer.hpp"
#include "upload_report.hpp"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;     // nothing usable: bad file, filter, option
constexpr int kExitCutShort = 2;  // the report is complete for what could be read

struct Options {
    std::string read_file;
    std::string filter;
    std::vector<std::string> expression;
    std::string oui_file;
    bool packets = false;
    bool json = false;
    bool verify_checksums = false;
    std::uint64_t count = 0;
    bool progress = true;
    bool no_flows = false;
    std::uint32_t max_flows = 65536;
    double tcp_timeout = 300, udp_timeout = 60, icmp_timeout = 60;
    bool ladder = false;
    std::string ladder_uid;
    std::uint32_t ladder_max = 20;
    bool no_reassembly = false;
    std::uint64_t max_reassembly = 32ull << 20;
    std::uint32_t max_header = 65536;
    std::string size_key;
    bool sha256 = false;
    std::vector<std::uint16_t> upload_ports;
    std::string extract_dir;
    bool extract_partial = false;
    std::uint64_t extract_max = 1ull << 30;
    std::uint32_t max_uploads = 1024;
    bool no_flood = false;
    wl::SynFloodOptions flood;
};

// Completed handshakes tell the flood detector which SYNs were legitimate.
class HandshakesToDetector : public wl::HandshakeObserver {
  public:
    explicit HandshakesToDetector(wl::SynFloodDetector& d) : d_(d) {}
    void handshake_completed(const wl::Connection& c, std::uint64_t ts_ns) override {
        d_.completed(ts_ns, c.key.ip_version, c.resp.addr, c.resp.port);
    }

  private:
    wl::SynFloodDetector& d_;
};

void feed_flood(wl::SynFloodDetector& d, const wl::Packet& p) {
    if (!p.has(wl::Layer::Tcp)) return;
    d.packet(p.ts_ns, p.ip_version, p.ip_src(), p.tcp.src_port(), p.ip_dst(), p.tcp.dst_port(),
             p.tcp.flags());
}

int fail(const std::string& msg) {
    std::fprintf(stderr, "wirelens: %s\n", msg.c_str());
    return kExitError;
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

int run(const Options& opt) {
    if (opt.read_file.empty()) return fail("nothing to read: give a capture file with -r FILE");
    std::string filter = opt.filter;
    for (const auto& word : opt.expression) {
        if (!filter.empty()) filter += ' ';
        filter += word;
    }
    if (!opt.filter.empty() && !opt.expression.empty()) {
        return fail("give the filter either with -f or after the options, not both");
    }

    wl::OuiRegistry custom_oui;
    const wl::OuiRegistry* oui = &wl::OuiRegistry::builtin();
    if (!opt.oui_file.empty()) {
        std::string err;
        if (!custom_oui.load_csv(opt.oui_file, err)) return fail(err);
        oui = &custom_oui;
    }

    std::string err;
    auto src = wl::PcapSource::open_file(opt.read_file, err);
    if (!src) return fail(err);
    if (!filter.empty() && !src->set_filter(filter, err)) return fail(err);

    wl::InputSummary summary;
    summary.source = opt.read_file;
    summary.linktype = src->linktype_name();
    summary.filtered = !filter.empty();

    wl::OutBuffer out(stdout);
    wl::Packet pkt;
    wl::Packet inner[2];  // packets carried in tunnels, decoded in turn
    pkt.linktype = src->linktype();
    wl::DecodeCounters counters;
    wl::DecodeOptions dopts;
    dopts.verify_checksums = opt.verify_checksums;
    ProgressLine progress(opt.progress && isatty(STDERR_FILENO) != 0);

    wl::FlowOptions fopts;
    fopts.max_flows = opt.max_flows;
    fopts.tcp_inactivity_ns = static_cast<std::uint64_t>(opt.tcp_timeout * 1e9);
    fopts.udp_inactivity_ns = static_cast<std::uint64_t>(opt.udp_timeout * 1e9);
    fopts.icmp_inactivity_ns = static_cast<std::uint64_t>(opt.icmp_timeout * 1e9);
    if (opt.ladder) {
        fopts.ladder_conns = opt.ladder_uid.empty() ? opt.ladder_max : 1;
        std::snprintf(fopts.ladder_uid, sizeof fopts.ladder_uid, "%s", opt.ladder_uid.c_str());
    }
    wl::ConnReporter conns(out, *oui, opt.json);
    wl::FlowTracker flows(fopts, conns);

    // Reassembly and the framed-upload analyzer, unless only connections are wanted.
    wl::FileExtractor extractor;
    if (!opt.extract_dir.empty()) {
        wl::ExtractOptions eo;
        eo.dir = opt.extract_dir;
        eo.keep_partial = opt.extract_partial;
        eo.max_size = opt.extract_max;
        if (!extractor.open(eo, err)) return fail(err);
    }
    wl::UploadOptions uopts;
    uopts.max_header = opt.max_header;
    uopts.size_key = opt.size_key;
    uopts.sha256 = opt.sha256;
    wl::UploadReporter uploads(out, opt.json);
    wl::AlertReporter alerts(out, opt.json);
    std::unique_ptr<wl::SynFloodDetector> flood;
    std::unique_ptr<HandshakesToDetector> handshakes;
    if (!opt.no_flood) {
        flood = std::make_unique<wl::SynFloodDetector>(opt.flood, alerts);
        handshakes = std::make_unique<HandshakesToDetector>(*flood);
        flows.set_handshake_observer(handshakes.get());
    }
    std::unique_ptr<wl::UploadAnalyzer> analyzer;
    std::unique_ptr<wl::TcpReassembler> reassembler;
    if (!opt.no_flows && !opt.no_reassembly) {
        analyzer = std::make_unique<wl::UploadAnalyzer>(
            uopts, opt.upload_ports, fopts.max_flows, opt.max_uploads, flows, uploads,
            opt.extract_dir.empty() ? nullptr : &extractor);
        wl::ReassemblyOptions ropts;
        ropts.max_bytes = opt.max_reassembly;
        ropts.max_per_stream = static_cast<std::uint32_t>(
            std::min<std::uint64_t>(opt.max_reassembly / 4 + 1, 1u << 30));
        reassembler = std::make_unique<wl::TcpReassembler>(fopts.max_flows, ropts, *analyzer);
        flows.set_reassembler(reassembler.get());
    }

    wl::RawFrame frame{};
    for (;;) {
        if (opt.count != 0 && counters.packets >= opt.count) break;
        const auto st = src->next(frame);
        if (st == wl::PcapSource::Status::End) break;
        if (st == wl::PcapSource::Status::Error) {
            summary.cut_short = true;
            summary.cut_reason = src->error();
            break;
        }
        pkt.ts_ns = frame.ts_ns;
        pkt.caplen = frame.caplen;
        pkt.wire_len = frame.len;
        wl::decode(wl::Bytes{frame.data, frame.caplen}, pkt, dopts);
        counters.count(pkt);
        if (flood) feed_flood(*flood, pkt);
        if (!opt.no_flows) {
            flows.process(pkt);
            // Tunnels: the carried packet is a packet of its own for the flow stage
            // (its outer UDP flow, if any, was counted above), as Zeek logs both.
            const wl::Packet* outer = &pkt;
            for (int depth = 0;
                 depth < 4 && outer->encap != wl::Packet::Encap::None && !outer->malformed();
                 ++depth) {
                const wl::Bytes bytes = outer->encap_bytes;
                wl::Packet& in = inner[depth & 1];
                in.ts_ns = pkt.ts_ns;
                in.caplen = static_cast<std::uint32_t>(bytes.size());
                in.wire_len = outer->encap_wire_len;
                in.linktype = outer->encap == wl::Packet::Encap::Ethernet ? wl::linktype::kEthernet
                                                                          : wl::linktype::kRaw;
                wl::decode(bytes, in, dopts);
                ++counters.tunneled;
                if (flood) feed_flood(*flood, in);
                flows.process(in);
                outer = &in;
            }
        }
        if (opt.packets) {
            if (opt.json) {
                wl::write_packet_json(out, pkt, *oui);
            } else {
                wl::write_packet_text(out, pkt, *oui);
            }
        }
        progress.maybe_draw(*src, counters.packets);
    }
    progress.clear();
    if (flood) flood->finish(counters.last_ts_ns);  // ends alerts still open
    wl::StageCounters stages;
    if (!opt.no_flows) {
        if (opt.packets && !opt.json) out.put('\n');
        flows.flush();
        conns.finish(flows.counters(), fopts.ladder_conns, opt.ladder);
        uploads.finish();
        stages.flows = &flows.counters();
        if (reassembler) stages.reassembly = &reassembler->counters();
        if (analyzer) stages.uploads = &analyzer->counters();
    }
    if (flood) {
        alerts.finish();  // the flood section and its charts
        stages.flood = flood.get();
    }
    if (opt.json) {
        wl::write_stats_json(out, counters, summary, stages);
    } else {
        out.put('\n');
        wl::write_summary_text(out, counters, summary, stages);
    }
    if (!out.flush()) return fail("cannot write output");
    if (summary.cut_short) {
        std::fprintf(stderr, "wirelens: %s: input cut short after %llu packets: %s\n",
                     opt.read_file.c_str(), static_cast<unsigned long long>(counters.packets),
                     summary.cut_reason.c_str());
        return kExitCutShort;
    }
    return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
    Options opt;
    CLI::App app{"wirelens: a packet inspector for pcap/pcapng captures"};
    app.set_version_flag("--version", std::string(WIRELENS_VERSION));
    app.add_option("-r,--read", opt.read_file,
                   "Read packets from FILE (pcap or pcapng; - for stdin)");
    app.add_option("-f,--filter", opt.filter, "BPF filter expression (tcpdump syntax)");
    app.add_flag("--packets", opt.packets, "Print one line (or JSON record) per packet");
    app.add_flag("--json", opt.json, "Write JSON Lines instead of text");
    app.add_flag(
        "--verify-checksums", opt.verify_checksums,
        "Verify IPv4, TCP, UDP and ICMP checksums (off: offloaded captures carry bad ones)");
    app.add_option("--oui", opt.oui_file, "IEEE registry CSV to use instead of the built-in one");
    app.add_option("-c,--count", opt.count, "Stop after COUNT packets");
    app.add_flag("!--no-progress", opt.progress, "No progress line on stderr");
    app.add_flag("--no-flows", opt.no_flows, "Decode only: no connection tracking");
    app.add_option("--max-flows", opt.max_flows, "Connections held at once (default 65536)")
        ->check(CLI::Range(1u, 1u << 26));
    app.add_option("--tcp-timeout", opt.tcp_timeout, "TCP inactivity timeout, seconds (300)")
        ->check(CLI::PositiveNumber);
    app.add_option("--udp-timeout", opt.udp_timeout, "UDP inactivity timeout, seconds (60)")
        ->check(CLI::PositiveNumber);
    app.add_option("--icmp-timeout", opt.icmp_timeout, "ICMP inactivity timeout, seconds (60)")
        ->check(CLI::PositiveNumber);
    app.add_option("--ladder", opt.ladder_uid,
                   "Draw the handshake and teardown of TCP connection UID (or of the first 20)")
        ->expected(0, 1);
    app.add_flag("--no-reassembly", opt.no_reassembly,
                 "Connections only: no stream reassembly, no upload decoding");
    app.add_option("--max-reassembly", opt.max_reassembly,
                   "Bytes of out-of-order TCP data buffered at once, all connections (32 MiB)");
    app.add_option("--max-header", opt.max_header,
                   "Largest framed-upload length prefix / JSON header, bytes (65536)")
        ->check(CLI::Range(16u, 1u << 24));
    app.add_option("--size-key", opt.size_key, "Header key giving the body size, tried first");
    app.add_flag("--sha256", opt.sha256, "SHA-256 of every upload body, besides MD5");
    app.add_option("--upload-port", opt.upload_ports,
                   "Treat TCP streams to/from PORT as framed uploads (repeatable)");
    app.add_option("--extract", opt.extract_dir, "Write each complete upload body into DIR");
    app.add_flag("--extract-partial", opt.extract_partial,
                 "Also keep incomplete bodies, as NAME.partial");
    app.add_option("--extract-max", opt.extract_max,
                   "Do not extract bodies declared larger than this many bytes (1 GiB)");
    app.add_option("--max-uploads", opt.max_uploads, "Streams examined for framing at once (1024)")
        ->check(CLI::Range(1u, 1u << 20));
    app.add_flag("--no-flood", opt.no_flood, "No SYN-flood detection");
    app.add_option("--flood-syn-rate", opt.flood.min_syn_rate,
                   "SYNs per second to one victim that can make a flood (1000)")
        ->check(CLI::PositiveNumber);
    app.add_option("--flood-max-completion", opt.flood.max_completion,
                   "Largest share of completed handshakes in a flood (0.2)")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--flood-half-open", opt.flood.min_half_open,
                   "Half-open attempts in one second that can make a flood (500)")
        ->check(CLI::Range(1u, 1u << 30));
    app.add_option("--flood-quiet", opt.flood.quiet_seconds,
                   "Seconds below the thresholds before an alert ends (5)")
        ->check(CLI::PositiveNumber);
    app.add_option("expression", opt.expression, "BPF filter, as after tcpdump's options");
    try {
        app.parse(argc, argv);
        opt.ladder = app.count("--ladder") > 0;
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);
        std::fprintf(stderr, "wirelens: %s (try --help)\n", e.what());
        return kExitError;
    }
    return run(opt);
}
