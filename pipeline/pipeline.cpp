#include "pipeline/pipeline.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "analyzers/file_extractor.hpp"
#include "analyzers/stream_export.hpp"
#include "analyzers/upload_analyzer.hpp"
#include "flow/flow_tracker.hpp"
#include "flow/stream_fanout.hpp"
#include "flow/tcp_reassembler.hpp"
#include "report/alert_report.hpp"
#include "report/conn_report.hpp"
#include "report/follow_report.hpp"
#include "report/upload_report.hpp"

namespace wl {

// A completed handshake tells the flood detector which SYNs were legitimate,
// and how far away its client sits: the TTL of the packet that completed it,
// when the client sent that one (the merging side's detector, through the
// hooks, when this pipeline is a shard). It is an event of its own in stream mode.
class Pipeline::Handshakes : public HandshakeObserver {
  public:
    Handshakes(SynFloodDetector* flood, ShardHooks* hooks, ConnReporter* stream)
        : flood_(flood), hooks_(hooks), stream_(stream) {}
    void handshake_completed(const Connection& c, std::uint64_t ts_ns) override {
        const int ver = c.key.ip_version;
        std::uint8_t ttl = 0;
        if (current != nullptr && current->ip_version == ver &&
            std::memcmp(current->ip_src(), c.orig.addr, ver == 6 ? 16 : 4) == 0) {
            ttl = current->ip_ttl();
        }
        if (flood_ != nullptr) {
            flood_->completed(ts_ns, ver, c.resp.addr, c.resp.port, c.orig.addr, ttl);
        }
        if (hooks_ != nullptr) {
            hooks_->handshake(ts_ns, ver, c.resp.addr, c.resp.port, c.orig.addr, ttl);
        }
        if (stream_ != nullptr) stream_->established(c, ts_ns);
    }
    const Packet* current = nullptr;  // the packet the flow stage is given

  private:
    SynFloodDetector* flood_;
    ShardHooks* hooks_;
    ConnReporter* stream_;
};

namespace {

void feed_flood(SynFloodDetector& d, const Packet& p) {
    if (!p.has(Layer::Tcp)) return;
    d.packet(p.ts_ns, p.ip_version, p.ip_src(), p.tcp.src_port(), p.ip_dst(), p.tcp.dst_port(),
             p.tcp.flags(), p.ip_ttl());
}

}  // namespace

FlowOptions flow_options_of(const PipelineOptions& opt) {
    FlowOptions f;
    f.max_flows = opt.max_flows;
    f.max_attempts = opt.max_attempts;
    f.tcp_inactivity_ns = static_cast<std::uint64_t>(opt.tcp_timeout * 1e9);
    f.udp_inactivity_ns = static_cast<std::uint64_t>(opt.udp_timeout * 1e9);
    f.icmp_inactivity_ns = static_cast<std::uint64_t>(opt.icmp_timeout * 1e9);
    if (opt.ladder) {
        f.ladder_conns = opt.ladder_uid.empty() ? opt.ladder_max : 1;
        std::snprintf(f.ladder_uid, sizeof f.ladder_uid, "%s", opt.ladder_uid.c_str());
    }
    return f;
}

ReassemblyOptions reassembly_options_of(const PipelineOptions& opt) {
    ReassemblyOptions r;
    r.max_bytes = opt.max_reassembly;
    r.max_per_stream =
        static_cast<std::uint32_t>(std::min<std::uint64_t>(opt.max_reassembly / 4 + 1, 1u << 30));
    return r;
}

UploadOptions upload_options_of(const PipelineOptions& opt) {
    UploadOptions u;
    u.max_header = opt.max_header;
    u.size_key = opt.size_key;
    u.sha256 = opt.sha256;
    u.md5_lanes = opt.md5_lanes;
    return u;
}

StreamExportOptions stream_export_options_of(const PipelineOptions& opt) {
    StreamExportOptions s;
    s.dir = opt.streams_dir;
    s.max_stream = opt.streams_max;
    s.max_total = opt.streams_total;
    return s;
}

Pipeline::Pipeline(const PipelineOptions& opt, OutBuffer& out, const OuiRegistry& oui)
    : opt_(opt), out_(out), oui_(oui) {}

Pipeline::~Pipeline() = default;

bool Pipeline::open(std::string& error) {
    dopts_.verify_checksums = opt_.verify_checksums;
    if (opt_.verify_checksums && !opt_.offload_upstream) {
        offload_ = std::make_unique<ChecksumOffload>();
    }

    const FlowOptions fopts = flow_options_of(opt_);
    ladder_conns_ = fopts.ladder_conns;
    // With --follow the stream is the whole output (as tshark -q -z follow).
    // --ladder with text tables: the ladders (and the summary) are the report.
    const bool ladders_only = opt_.ladder && !opt_.json && !opt_.stream;
    if (!opt_.follow.empty() || ladders_only) discard_ = std::make_unique<OutBuffer>(nullptr);
    OutBuffer& records = opt_.follow.empty() ? out_ : *discard_;
    OutBuffer& tables = discard_ ? *discard_ : out_;
    conns_ = std::make_unique<ConnReporter>(records, oui_, opt_.json);
    conns_->set_stream(opt_.stream);
    conns_->set_clock(&clock_ns_);
    conns_->set_fold_attempts(!opt_.all_attempts);
    conns_->set_ladders_only(ladders_only);
    conns_->set_community_id_seed(opt_.community_id_seed);
    uploads_ = std::make_unique<UploadReporter>(tables, opt_.json);
    uploads_->set_stream(opt_.stream);
    uploads_->set_community_id_seed(opt_.community_id_seed);
    uploads_->set_clock(&clock_ns_);
    flows_ = std::make_unique<FlowTracker>(fopts, *conns_);

    extractor_ = std::make_unique<FileExtractor>();
    if (!opt_.extract_dir.empty()) {
        ExtractOptions eo;
        eo.dir = opt_.extract_dir;
        eo.keep_partial = opt_.extract_partial;
        eo.max_size = opt_.extract_max;
        if (!extractor_->open(eo, error)) return false;
    }
    alerts_ = std::make_unique<AlertReporter>(tables, opt_.json);
    alerts_->set_stream(opt_.stream);
    alerts_->set_clock(&clock_ns_);
    if (!opt_.no_flood) flood_ = std::make_unique<SynFloodDetector>(opt_.flood, *alerts_);
    if (flood_ || hooks_ != nullptr || opt_.stream) {
        handshakes_ = std::make_unique<Handshakes>(flood_.get(), hooks_,
                                                   opt_.stream ? conns_.get() : nullptr);
        flows_->set_handshake_observer(handshakes_.get());
    }
    if (!opt_.no_flows && !opt_.no_reassembly) {
        analyzer_ = std::make_unique<UploadAnalyzer>(
            upload_options_of(opt_), opt_.upload_ports, fopts.max_flows, opt_.max_uploads, *flows_,
            *uploads_, opt_.extract_dir.empty() ? nullptr : extractor_.get());
        // The analyzer first: --follow prints the frame boundaries it finds in a
        // chunk. With only the analyzer, no fan-out on the path of every segment.
        fanout_ = std::make_unique<StreamFanout>();
        fanout_->add(analyzer_.get());
        if (!opt_.streams_dir.empty()) {
            const FlowTracker& flows = *flows_;
            exporter_ = std::make_unique<StreamExporter>(
                fopts.max_flows, [&flows](std::uint32_t conn) -> const Connection& {
                    return flows.connection(conn);
                });
            if (!exporter_->open(stream_export_options_of(opt_), error)) return false;
            fanout_->add(exporter_.get());
        }
        if (!opt_.follow.empty()) {
            follow_ = std::make_unique<FollowReporter>(out_, *flows_, opt_.follow, opt_.follow_hex);
            analyzer_->set_frame_observer(follow_.get());
            fanout_->add(follow_.get());
        }
        reassembler_ = std::make_unique<TcpReassembler>(
            fopts.max_flows, reassembly_options_of(opt_), *fanout_->single_or_self());
        flows_->set_reassembler(reassembler_.get());
    }
    if (!opt_.no_flows && !opt_.no_defrag && !opt_.defrag_upstream) {
        frags_ = std::make_unique<IpReassembler>(opt_.frag);
    }
    return true;
}

void Pipeline::frame(const RawFrame& f, bool record, bool offload_kept) {
    pkt_.ts_ns = f.ts_ns;
    pkt_.caplen = f.caplen;
    pkt_.wire_len = f.len;
    if (f.ts_ns > clock_ns_) clock_ns_ = f.ts_ns;
    decode(Bytes{f.data, f.caplen}, pkt_, dopts_);
    if (offload_) [[unlikely]] {
        pkt_.checksum_offload = offload_->check(pkt_, counters_);
    } else {
        pkt_.checksum_offload = offload_kept;
    }
    counters_.count(pkt_);
    TunnelWalk tunnels;
    if (opt_.no_flows) {
        if (flood_) feed_flood(*flood_, pkt_);
    } else {
        // The connection's table slot is fetched while the flood detector works.
        FlowPacketInfo info;
        // A fragment goes to the flow stage only as part of its reassembled datagram.
        const bool defrag = pkt_.ip_fragment && (frags_ || opt_.defrag_upstream);
        const bool tracked = !defrag && flows_->prepare(pkt_, info);
        if (flood_) feed_flood(*flood_, pkt_);
        if (handshakes_) handshakes_->current = &pkt_;
        if (defrag) [[unlikely]] {
            if (frags_) defragment(pkt_, 0);
        } else {
            flows_->process(pkt_, tracked ? &info : nullptr);
        }
        if (opt_.stream) conns_->advance(pkt_.ts_ns);
        // Tunnels: the carried packet is a packet of its own for the flow stage
        // (its outer UDP flow, if any, was counted above), as Zeek logs both.
        tunnels = walk_tunnels(pkt_, inner_, dopts_, teredo_, counters_,
                               [this](const Packet& in, int depth) {
                                   if (flood_) feed_flood(*flood_, in);
                                   if (hooks_ != nullptr) hooks_->inner_packet(depth);
                                   if (handshakes_) handshakes_->current = &in;
                                   if (in.ip_fragment && frags_) [[unlikely]] {
                                       defragment(in, depth);
                                   } else {
                                       flows_->process(in);
                                   }
                               });
    }
    if (opt_.packets && record) write_packets(tunnels.depth, Bytes{f.data, f.caplen});
}

// The frame's line or record, then the packets the flow stage found in its
// tunnels (decoded again: `inner_` holds the last two only).
void Pipeline::write_packets(int tunnel_depth, Bytes frame) {
    if (tunnel_depth == 0) [[likely]] {
        if (opt_.json) {
            write_packet_json(out_, pkt_, oui_);
        } else {
            write_packet_text(out_, pkt_, oui_, opt_.verbose);
            write_packet_dump(out_, pkt_, frame, opt_.dump);
        }
        return;
    }
    if (opt_.json) {
        write_packet_json(out_, pkt_, oui_, false);
    } else {
        write_packet_text(out_, pkt_, oui_, opt_.verbose);
    }
    for_each_tunneled(
        pkt_, inner_, dopts_,
        [tunnel_depth, n = 0](const Packet&) mutable { return n++ < tunnel_depth; },
        [this](const Packet& in, int depth, TunnelKind kind) {
            if (opt_.json) {
                write_tunneled_packet_json(out_, in, oui_, depth, kind);
            } else {
                write_tunneled_packet_text(out_, in, oui_, depth, kind, opt_.verbose);
            }
        });
    if (opt_.json) {
        end_packet_json(out_, true);
    } else {
        write_packet_dump(out_, pkt_, frame, opt_.dump);  // the whole frame's, under its lines
    }
}

// A fragment: when it completes its datagram, the datagram is decoded as an IP
// packet and given to the flow stage (with the packets in its tunnels) in its place.
void Pipeline::defragment(const Packet& p, int depth) {
    const Bytes d = frags_->add(p, static_cast<std::uint8_t>(depth));
    if (d.empty()) return;
    Packet& whole = defrag_pkt_;
    whole.ts_ns = p.ts_ns;
    whole.caplen = whole.wire_len = static_cast<std::uint32_t>(d.size());
    whole.linktype = linktype::kRaw;
    decode(d, whole, dopts_);
    if (whole.malformed()) ++frags_->counters().malformed;
    // The link layer of the fragment that completed it (MAC addresses, tags).
    constexpr std::uint32_t kLink = 1u << static_cast<unsigned>(Layer::Ethernet) |
                                    1u << static_cast<unsigned>(Layer::Link) |
                                    1u << static_cast<unsigned>(Layer::Vlan);
    whole.layers |= p.layers & kLink;
    whole.eth = p.eth;
    whole.sll = p.sll;
    whole.null_link = p.null_link;
    whole.vlan_count = p.vlan_count;
    std::copy(p.vlans, p.vlans + p.vlan_count, whole.vlans);
    if (handshakes_) handshakes_->current = &whole;
    flows_->process(whole);
    walk_tunnels(whole, defrag_inner_, dopts_, teredo_, counters_, [this](const Packet& in, int) {
        ++frags_->counters().tunneled;
        if (handshakes_) handshakes_->current = &in;
        flows_->process(in);
    });
}

void Pipeline::tick(std::uint64_t now_ns) {
    raise_clock(now_ns);
    if (frags_) frags_->expire(now_ns);
    if (!opt_.no_flows) {
        flows_->expire(now_ns);
        conns_->advance(now_ns);
    }
    if (flood_) flood_->advance(now_ns);
}

void Pipeline::finish(const InputSummary& summary) {
    if (flood_) flood_->finish(counters_.last_ts_ns);  // ends alerts still open
    if (!opt_.no_flows && opt_.packets && !opt_.json) out_.put('\n');
    write_closing_report(opt_.follow.empty() ? out_ : *discard_, opt_.json, alerts_.get(),
                         flood_.get(), counters_, summary, end_flows());
    if (follow_) follow_->finish();
}

bool Pipeline::ladder_found() const {
    return !opt_.ladder || opt_.ladder_uid.empty() || !conns_ || conns_->ladders_drawn() > 0;
}

bool Pipeline::follow_found() const {
    return !follow_ || follow_->found();
}

void write_closing_report(OutBuffer& out, bool json, AlertReporter* alerts, SynFloodDetector* flood,
                          const DecodeCounters& counters, const InputSummary& summary,
                          StageCounters stages) {
    if (flood != nullptr) {
        alerts->finish();  // the flood section and its charts
        stages.flood = flood;
    }
    switch (summary.place) {
        case InputSummary::Place::None:
            return;
        case InputSummary::Place::Out:
            if (json) {
                write_stats_json(out, counters, summary, stages);
            } else {
                out.put('\n');
                write_summary_text(out, counters, summary, stages);
            }
            return;
        case InputSummary::Place::Err: {
            // After what stdout holds, so that a terminal shows them in order.
            out.flush();
            auto err = std::make_unique<OutBuffer>(stderr);
            if (json) {
                write_stats_json(*err, counters, summary, stages);
            } else {
                write_summary_text(*err, counters, summary, stages);
            }
            err->flush();
            return;
        }
    }
}

StageCounters Pipeline::end_flows() {
    StageCounters stages;
    if (opt_.no_flows) return stages;
    flows_->flush();
    conns_->finish(flows_->counters(), ladder_conns_, opt_.ladder, !opt_.ladder_uid.empty());
    uploads_->finish();
    stages.flows = &flows_->counters();
    if (reassembler_) stages.reassembly = &reassembler_->counters();
    if (analyzer_) stages.uploads = &analyzer_->counters();
    if (exporter_) {
        exporter_->finish();  // the index's last records
        stages.streams = &exporter_->counters();
    }
    if (frags_) stages.fragments = &frags_->counters();
    return stages;
}

std::size_t Pipeline::open_connections() const {
    return opt_.no_flows ? 0 : flows_->open();
}

}  // namespace wl
