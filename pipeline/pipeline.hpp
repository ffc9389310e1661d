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
#include "report/out_buffer.hpp"
#include "report/packet_report.hpp"
#include "report/summary_report.hpp"

namespace wl {

class AlertReporter;
class ConnReporter;
class FileExtractor;
class FlowTracker;
class TcpReassembler;
class UploadAnalyzer;
class UploadReporter;

struct PipelineOptions {
    bool packets = false;  // a line (or record) per packet
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
    bool no_flood = false;
    SynFloodOptions flood;
    bool no_defrag = false;  // --no-defrag: fragments are not reassembled
    // A shard: the caller reassembles fragments and gives it the datagrams as
    // frames of their own (frame(f, false)); fragments are not tracked here.
    bool defrag_upstream = false;
    FragmentOptions frag;
    // One shard of several (--threads): connection uids are (n - 1) * uid_shards + uid_shard + 1
    // for this pipeline's n-th connection, so that no two shards give the same uid.
    std::uint32_t uid_shard = 0, uid_shards = 1;
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

// The packets carried in `outer`'s tunnels (at most 4 deep), each decoded in
// turn into one of `inner` and given to fn(packet, depth) with depth 1, 2, ...
template <class Fn>
void for_each_tunneled(const Packet& outer_pkt, Packet (&inner)[2], const DecodeOptions& dopts,
                       Fn&& fn) {
    const Packet* outer = &outer_pkt;
    for (int depth = 0; depth < 4 && outer->encap != Packet::Encap::None && !outer->malformed();
         ++depth) {
        const Bytes bytes = outer->encap_bytes;
        Packet& in = inner[depth & 1];
        in.ts_ns = outer_pkt.ts_ns;
        in.caplen = static_cast<std::uint32_t>(bytes.size());
        in.wire_len = outer->encap_wire_len;
        in.linktype =
            outer->encap == Packet::Encap::Ethernet ? linktype::kEthernet : linktype::kRaw;
        decode(bytes, in, dopts);
        fn(static_cast<const Packet&>(in), depth + 1);
        outer = &in;
    }
}

struct FlowOptions;
struct ReassemblyOptions;
struct UploadOptions;
// Each stage's own options, as the pipeline derives them from its options.
FlowOptions flow_options_of(const PipelineOptions& opt);
ReassemblyOptions reassembly_options_of(const PipelineOptions& opt);
UploadOptions upload_options_of(const PipelineOptions& opt);

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
    void frame(const RawFrame& f, bool record = true);
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

  private:
    class Handshakes;

    PipelineOptions opt_;
    OutBuffer& out_;
    const OuiRegistry& oui_;
    Packet pkt_;
    Packet inner_[2];  // packets carried in tunnels, decoded in turn
    DecodeCounters counters_;
    DecodeOptions dopts_;
    std::uint32_t ladder_conns_ = 0;
    std::unique_ptr<ConnReporter> conns_;
    std::unique_ptr<FlowTracker> flows_;
    std::unique_ptr<FileExtractor> extractor_;
    std::unique_ptr<UploadReporter> uploads_;
    std::unique_ptr<AlertReporter> alerts_;
    std::unique_ptr<SynFloodDetector> flood_;
    std::unique_ptr<Handshakes> handshakes_;
    std::unique_ptr<UploadAnalyzer> analyzer_;
    std::unique_ptr<TcpReassembler> reassembler_;
    std::unique_ptr<IpReassembler> frags_;
    Packet defrag_pkt_;       // a reassembled datagram
    Packet defrag_inner_[2];  // ... and the packets in its tunnels
    ShardHooks* hooks_ = nullptr;

    void defragment(const Packet& p, int depth);
};

}  // namespace wl
