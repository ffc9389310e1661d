// --threads N, offline: the calling thread reads and decodes every frame,
// keeps the decode counters and the one SYN-flood detector, and hands each
// frame to one of N workers by a symmetric hash of its addresses and ports
// (both directions of a connection meet in the same worker). Each worker owns
// a whole Pipeline (connections, reassembly, uploads) fed through a bounded
// FrameRing, and sends what it writes back through a second ring, tagged with
// the frame it was processing. The calling thread merges those records in
// the order of the frames in the capture, so the output is the same from run
// to run, and holds no more than the rings.
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
#include "pipeline/checksum_offload.hpp"
#include "pipeline/pipeline.hpp"
#include "report/alert_report.hpp"
#include "report/out_buffer.hpp"

namespace wl {

class ShardedPipeline {
  public:
    static constexpr std::size_t kInRingBytes = 4u << 20;    // frames to each worker
    static constexpr std::size_t kOutRingBytes = 1u << 20;   // records from each worker
    static constexpr std::size_t kPendingFrames = 1u << 16;  // frames read, not yet merged
    static constexpr unsigned kMaxWorkers = 64;
    // A reassembled datagram with the link header of its last fragment.
    static constexpr std::size_t kDatagramBytes = 65536 + 4096;

    // Memory held besides the workers' pipelines: rings, logs, output buffers.
    static std::uint64_t memory_bound(unsigned workers);
    // The worker a frame goes to: a symmetric hash of (IP pair, port pair) for
    // TCP and UDP, of the IP pair for ICMP and IP fragments;
    // worker 0 for tunnels and for what is not IP.
    // (`defrag` false: the first fragment by its ports, as the packets it is not reassembled with.)
    static unsigned shard_of(const Packet& p, unsigned workers, bool defrag = true);

    // `opt`: each worker's options (per-worker limits); flood detection, if
    // not disabled there, is done here, once, for all workers.
    ShardedPipeline(const PipelineOptions& opt, unsigned workers, OutBuffer& out,
                    const OuiRegistry& oui);
    ~ShardedPipeline();
    ShardedPipeline(const ShardedPipeline&) = delete;
    ShardedPipeline& operator=(const ShardedPipeline&) = delete;

    // Opens every worker's pipeline and starts the workers; false + one line.
    bool open(std::string& error);
    void set_linktype(int linktype);
    // One frame: decoded, counted, queued to its worker; records of earlier
    // frames are merged into the output as they become final.
    void frame(const RawFrame& f);
    // Waits for the workers, writes what they have left and the summary
    // (counters summed over the workers).
    void finish(const InputSummary& summary);

    const DecodeCounters& counters() const { return counters_; }

  private:
    struct Worker;
    struct FloodEvent {
        std::uint64_t ts_ns;
        std::uint8_t ip_version;
        std::uint8_t depth;  // 0: the frame's own packet; k: inside k tunnels
        std::uint8_t ttl;
        std::uint16_t flags, sport, dport;
        std::uint8_t src[16], dst[16];
    };
    struct Pending {
        std::uint8_t worker;
        std::uint8_t floods;  // flood events of the frame
    };

    void add_flood_event(const Packet& p, int depth);
    // Merges what is final; true if anything was merged.
    bool merge();
    void feed_flood(std::uint64_t end, int depth);
    void handle(Worker& w, const RawFrame& item);
    void stop_workers();
    // Waits until a frame can be queued; queues `g` to worker `wi`.
    void queue(const RawFrame& g, unsigned wi, std::uint8_t floods);
    // A fragment: reassembled here, once its datagram is whole it is queued
    // to the datagram's own worker (by its ports) as a frame of its own.
    void defragment(const RawFrame& f);

    PipelineOptions opt_;
    unsigned nworkers_;
    OutBuffer& out_;
    const OuiRegistry& oui_;
    int linktype_ = 0;
    std::vector<std::unique_ptr<Worker>> workers_;
    bool started_ = false;

    Packet pkt_;
    Packet inner_[2];
    std::unique_ptr<IpReassembler> frags_;
    std::vector<std::uint8_t> datagram_;  // kDatagramBytes
    Packet whole_;                        // the datagram, decoded to find its worker
    TeredoConfirmation teredo_;
    std::uint64_t clock_ns_ = 0;  // stream clock of the alerts: the merged frames' time
    std::unique_ptr<ChecksumOffload> offload_;  // --verify-checksums: for every worker
    DecodeOptions dopts_;
    DecodeCounters counters_;
    std::unique_ptr<AlertReporter> alerts_;
    std::unique_ptr<SynFloodDetector> flood_;

    std::vector<Pending> pending_;    // kPendingFrames, by frame number
    std::vector<FloodEvent> floods_;  // kPendingFrames, a ring
    std::uint64_t read_ = 0;          // frames read
    std::uint64_t merged_ = 0;        // frames merged
    std::uint64_t flood_head_ = 0, flood_tail_ = 0;
    bool frame_open_ = false;  // merged_'s first flood events were fed
    std::uint64_t frame_floods_end_ = 0;
};

}  // namespace wl
