// The analysis pipeline behind one input, offline or live: decode -> flow
// (connections, reassembly) -> analyzers (uploads, SYN floods) -> report.
// Frames go in one at a time; records come out as the stages produce them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "analyzers/syn_flood.hpp"
#include "capture/pcap_source.hpp"
#include "decode/counters.hpp"
#include "decode/oui.hpp"
#include "decode/packet.hpp"
#include "flow/ip_fragments.hpp"
#include "pipeline/checksum_offload.hpp"
#include "pipeline/teredo_confirm.hpp"
#include "report/out_buffer.hpp"
#include "report/packet_dump.hpp"
#include "report/packet_report.hpp"
#include "report/summary_report.hpp"

namespace wl {

class AlertReporter;
class ConnReporter;
class FileExtractor;
class FlowTracker;
class FollowReporter;
class StreamExporter;
class StreamFanout;
class TcpReassembler;
class UploadAnalyzer;
class UploadReporter;

struct PipelineOptions {
    bool packets = false;  // a line (or record) per packet
    bool verbose = false;  // -v: packet lines show the IP header's fields
    PacketDumpStyle dump;  // -x, -X, -A: the packet's bytes under its line (text)
    bool json = false;
    bool stream = false;  // events as they happen (live capture, --stream)
    bool verify_checksums = false;
    bool no_flows = false;
    std::uint32_t max_flows = 32768;
    std::uint32_t max_attempts = 0;  // 0: half of max_flows
    bool all_attempts = false;       // a conn record for every evicted attempt (no folding)
    double tcp_timeout = 300, udp_timeout = 60, icmp_timeout = 60;
    bool ladder = false;
    std::string ladder_uid;
    std::uint32_t ladder_max = 20;
    bool no_reassembly = false;
    std::uint64_t max_reassembly = 32ull << 20;
    std::uint32_t max_header = 16384;
    std::string size_key;
    bool sha256 = false;
    unsigned md5_lanes = 16;  // --md5-lanes: at most this many bodies per run of the MD5 lanes
    std::vector<std::uint16_t> upload_ports;
    std::string extract_dir;
    bool extract_partial = false;
    std::uint64_t extract_max = 1ull << 30;
    std::uint32_t max_uploads = 1024;
    std::string streams_dir;                    // --streams DIR: every TCP stream to a file
    std::uint64_t streams_max = 1ull << 30;     // --streams-max: bytes per stream direction
    std::uint64_t streams_total = 16ull << 30;  // --streams-total: bytes in all
    bool no_flood = false;
    SynFloodOptions flood;
    bool no_defrag = false;  // --no-defrag: fragments are not reassembled
    // A shard: the caller reassembles fragments and gives it the datagrams as
    // frames of their own (frame(f, false)); fragments are not tracked here.
    bool defrag_upstream = false;
    // A shard: the caller decides checksum offload (frame()'s offload_kept).
    bool offload_upstream = false;
    FragmentOptions frag;
    // --follow: one TCP connection's bytes (a uid or a tcp.stream index) are the
    // only output; --hex: as a hex dump.
    std::string follow;
    bool follow_hex = false;
    // --community-id-seed: the seed of the records' community_id (flow/community_id.hpp).
    std::uint16_t community_id_seed = 0;
};

// What a pipeline running as one shard of several tells the side that merges
// the shards (pipeline/sharded.hpp). Called while a frame is being processed.
class ShardHooks {
  public:
    virtual ~ShardHooks() = default;
    // A TCP handshake from client to victim:port completed (for a SYN-flood
    // detector elsewhere); client_ttl: the TTL of the client's packet that
    // completed it (0: not known).
    virtual void handshake(std::uint64_t ts_ns, int ip_version, const std::uint8_t* victim,
                           std::uint16_t port, const std::uint8_t* client,
                           std::uint8_t client_ttl) = 0;
    // The packet carried in a tunnel at this depth (1: the outer packet's) is next.
    virtual void inner_packet(int depth) = 0;
};

// Tunnels inside tunnels are followed this deep (Zeek's Tunnel::max_depth is
// 2; 4 leaves room for e.g. Teredo in GTP-U in VXLAN on a mirrored link).
inline constexpr int kMaxTunnelDepth = 4;

// How far for_each_tunneled went.
struct TunnelWalk {
    int depth = 0;          // packets decoded and given to fn
    bool too_deep = false;  // a tunnel was left unopened at kMaxTunnelDepth
    bool refused = false;   // the gate refused one
};

// The packets carried in `outer`'s tunnels (at most kMaxTunnelDepth deep),
// each decoded in turn into one of `inner` and given to fn(packet, depth,
// kind) with depth 1, 2, ... and the kind of tunnel that carried it, while
// gate(carrier) says the carrier's tunnel is to be opened.
template <class Gate, class Fn>
TunnelWalk for_each_tunneled(const Packet& outer_pkt, Packet (&inner)[2],
                             const DecodeOptions& dopts, Gate&& gate, Fn&& fn) {
    TunnelWalk walk;
    const Packet* outer = &outer_pkt;
    while (outer->encap != Packet::Encap::None && !outer->malformed()) {
        if (walk.depth == kMaxTunnelDepth) {
            walk.too_deep = true;
            break;
        }
        if (!gate(*outer)) {
            walk.refused = true;
            break;
        }
        const Bytes bytes = outer->encap_bytes;
        Packet& in = inner[walk.depth & 1];
        in.ts_ns = outer_pkt.ts_ns;
        in.caplen = static_cast<std::uint32_t>(bytes.size());
        in.wire_len = outer->encap_wire_len;
        in.linktype = linktype_of(outer->encap);
        decode(bytes, in, dopts);
        fn(static_cast<const Packet&>(in), ++walk.depth, outer->encap_kind);
        outer = &in;
    }
    return walk;
}

// The tunnels the flow stage follows: Teredo only once its UDP flow is
// confirmed (pipeline/teredo_confirm.hpp); each packet found counted by the
// kind of its tunnel, the tunnels left unopened too.
template <class Fn>
TunnelWalk walk_tunnels(const Packet& pkt, Packet (&inner)[2], const DecodeOptions& dopts,
                        TeredoConfirmation& teredo, DecodeCounters& counters, Fn&& fn) {
    if (pkt.encap == Packet::Encap::None) [[likely]] {
        return {};
    }
    const TunnelWalk walk = for_each_tunneled(
        pkt, inner, dopts,
        [&teredo](const Packet& carrier) {
            return carrier.encap_kind != TunnelKind::Teredo || teredo.confirm(carrier);
        },
        [&](const Packet& in, int depth, TunnelKind kind) {
            counters.count_tunneled(kind);
            fn(in, depth);
        });
    if (walk.too_deep) ++counters.tunnel_too_deep;
    if (walk.refused) ++counters.teredo_unconfirmed;
    return walk;
}

struct FlowOptions;
struct ReassemblyOptions;
struct UploadOptions;
struct StreamExportOptions;
// Each stage's own options, as the pipeline derives them from its options.
FlowOptions flow_options_of(const PipelineOptions& opt);
ReassemblyOptions reassembly_options_of(const PipelineOptions& opt);
UploadOptions upload_options_of(const PipelineOptions& opt);
StreamExportOptions stream_export_options_of(const PipelineOptions& opt);

// The end of a report: the flood section (`alerts` and `flood` may be null)
// and the summary (text) or the stats record (JSON).
void write_closing_report(OutBuffer& out, bool json, AlertReporter* alerts, SynFloodDetector* flood,
                          const DecodeCounters& counters, const InputSummary& summary,
                          StageCounters stages);

class Pipeline {
  public:
    Pipeline(const PipelineOptions& opt, OutBuffer& out, const OuiRegistry& oui);
    ~Pipeline();
    Pipeline(const Pipeline&) = delete;
    Pipeline& operator=(const Pipeline&) = delete;

    // Before open(): run as a shard; `hooks` outlives the pipeline. SYN-flood
    // detection is then the merging side's (set opt.no_flood).
    void set_shard_hooks(ShardHooks* hooks) { hooks_ = hooks; }
    // Sets up the stages (the extraction folder among them); false + one line on failure.
    bool open(std::string& error);
    void set_linktype(int linktype) { pkt_.linktype = linktype; }

    // One captured frame through every stage. `record` false: a datagram
    // reassembled upstream, with no packet line or record of its own.
    // `offload_kept`: for a shard (offload_upstream), the caller's verdict on
    // the frame's bad TCP/UDP checksum (pipeline/checksum_offload.hpp).
    void frame(const RawFrame& f, bool record = true, bool offload_kept = false);
    // The stream clock (set_clock of the reporters) moves on to at least `ns`:
    // a shard's, to the last frame's time before it ends its connections.
    void raise_clock(std::uint64_t ns) {
        if (ns > clock_ns_) clock_ns_ = ns;
    }
    // Time passes with no packet (live capture): ends what has timed out.
    void tick(std::uint64_t now_ns);
    // Ends everything still open and writes the closing report.
    void finish(const InputSummary& summary);
    // The part of finish() a shard does: ends every connection and writes the
    // connection and upload tables (text); no flood section, no summary. The
    // counters returned stay valid while the pipeline lives.
    StageCounters end_flows();

    const DecodeCounters& counters() const { return counters_; }
    std::size_t open_connections() const;
    // --follow: whether the connection was found (after finish()); true without --follow.
    bool follow_found() const;
    // False when --ladder named a uid and no connection had it (call after finish).
    bool ladder_found() const;

  private:
    class Handshakes;
    void write_packets(int tunnel_depth, Bytes frame);

    PipelineOptions opt_;
    OutBuffer& out_;
    const OuiRegistry& oui_;
    Packet pkt_;
    Packet inner_[2];  // packets carried in tunnels, decoded in turn
    TeredoConfirmation teredo_;
    std::unique_ptr<ChecksumOffload> offload_;  // --verify-checksums, unless a shard
    DecodeCounters counters_;
    DecodeOptions dopts_;
    std::uint64_t clock_ns_ = 0;  // the latest frame time reached (stream lines' clock)
    std::uint32_t ladder_conns_ = 0;
    std::unique_ptr<ConnReporter> conns_;
    std::unique_ptr<FlowTracker> flows_;
    std::unique_ptr<FileExtractor> extractor_;
    std::unique_ptr<UploadReporter> uploads_;
    std::unique_ptr<AlertReporter> alerts_;
    std::unique_ptr<SynFloodDetector> flood_;
    std::unique_ptr<Handshakes> handshakes_;
    std::unique_ptr<UploadAnalyzer> analyzer_;
    std::unique_ptr<StreamExporter> exporter_;  // --streams
    std::unique_ptr<FollowReporter> follow_;    // --follow
    std::unique_ptr<StreamFanout> fanout_;      // the analyzer, then the exporter and --follow
    std::unique_ptr<TcpReassembler> reassembler_;
    // --follow: the records and tables nobody asked for are written here, and dropped.
    std::unique_ptr<OutBuffer> discard_;
    std::unique_ptr<IpReassembler> frags_;
    Packet defrag_pkt_;       // a reassembled datagram
    Packet defrag_inner_[2];  // ... and the packets in its tunnels
    ShardHooks* hooks_ = nullptr;

    void defragment(const Packet& p, int depth);
};

}  // namespace wl
