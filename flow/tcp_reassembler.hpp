// In-order delivery of each direction's TCP payload. Segments that arrive
// ahead of a hole wait in a preallocated, bounded buffer until the hole fills
// or is known lost (the peer acknowledged past it, or the connection ended);
// retransmissions and overlaps are trimmed, first copy wins, and a
// retransmission whose bytes differ from what was seen is reported.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "flow/flow_tracker.hpp"

namespace wl {

struct ReassemblyOptions {
    std::uint64_t max_bytes = 32ull << 20;    // --max-reassembly: all buffered data at once
    std::uint32_t max_per_stream = 4u << 20;  // one direction of one connection
};

struct ReassemblyCounters {
    std::uint64_t delivered_bytes = 0;
    std::uint64_t buffered_peak = 0;     // most bytes waiting at once
    std::uint64_t dropped_segments = 0;  // not buffered: a limit was reached
    std::uint64_t dropped_bytes = 0;
    std::uint64_t gaps = 0;  // holes skipped
    std::uint64_t gap_bytes = 0;
    std::uint64_t overlaps = 0;          // segments repeating bytes already seen
    std::uint64_t inconsistent = 0;      // ... with different content
    std::uint64_t snapped_segments = 0;  // payload cut by the snap length: treated as a gap
    std::uint64_t filled_bytes = 0;      // arrived after later bytes of their stream (fills)
};

// Why bytes of a stream are missing (StreamConsumer::stream_gap).
enum class GapCause : std::uint8_t {
    NotCaptured,         // the peer acknowledged them; the capture never saw them
    UnacknowledgedTail,  // still missing when the connection ended, never acknowledged
    Snaplen,             // seen, but cut by the capture's snap length
    BufferLimit,         // seen, but not kept: a reassembly limit was reached
};
const char* gap_cause_name(GapCause c);

// Bytes that arrived after later bytes of their stream (StreamConsumer::stream_filled).
enum class FillCause : std::uint8_t {
    Retransmitted,  // the hole was open kReorderWindowNs or longer: the network lost them
    Reordered,      // filled sooner: they only came late
};
const char* fill_cause_name(FillCause c);

// A hole filled within this time of opening was reordering, not a loss the
// sender repaired (Wireshark's default for an unknown RTT: 3 ms).
inline constexpr std::uint64_t kReorderWindowNs = 3'000'000;

// Receives each direction's bytes in order. `conn` is the connection's slot
// in FlowTracker; dir 0 is the originator's stream, 1 the responder's.
class StreamConsumer {
  public:
    virtual ~StreamConsumer() = default;
    // A new connection took slot `conn`: forget whatever was there before.
    virtual void stream_start(std::uint32_t conn) { (void)conn; }
    // The connection's roles were swapped: what was direction 0 is now 1.
    virtual void stream_swap(std::uint32_t conn) { (void)conn; }
    // `offset` counts from the first byte after the SYN (from_start) or from
    // the first byte seen when the connection was picked up midstream.
    virtual void stream_data(std::uint32_t conn, int dir, std::uint64_t offset,
                             const std::uint8_t* p, std::size_t n, std::uint32_t segment,
                             std::uint64_t ts_ns, bool from_start) = 0;
    // [offset, offset+len) will never come: the stream goes on after it.
    virtual void stream_gap(std::uint32_t conn, int dir, std::uint64_t offset, std::uint64_t len,
                            GapCause cause) = 0;
    // [offset, offset+len) arrived after later bytes of the stream (when the
    // hole opened: opened_ns, 0 if unknown; now: ts_ns). Told when the bytes
    // arrive, before or after they are delivered by stream_data.
    virtual void stream_filled(std::uint32_t conn, int dir, std::uint64_t offset, std::uint64_t len,
                               FillCause cause, std::uint64_t opened_ns, std::uint64_t ts_ns) {
        (void)conn, (void)dir, (void)offset, (void)len, (void)cause, (void)opened_ns, (void)ts_ns;
    }
    virtual void stream_inconsistent(std::uint32_t conn, int dir, std::uint64_t offset,
                                     std::uint64_t len) = 0;
    virtual void stream_end(std::uint32_t conn, int dir, ConnEnd why, bool reset) = 0;
};

class TcpReassembler {
  public:
    // The most memory a reassembler with these limits can hold, in bytes.
    static std::uint64_t memory_bound(std::uint32_t max_flows, const ReassemblyOptions& opts);

    TcpReassembler(std::uint32_t max_flows, const ReassemblyOptions& opts,
                   StreamConsumer& consumer);

    // A new connection took slot `conn`.
    void start(std::uint32_t conn);
    // One segment's payload from `dir`. `rel` is the sequence position of its
    // first byte (1 = the first byte after the SYN), `captured` the bytes we
    // have of its `wire_len`. `syn_seen`: the stream's start is known.
    void segment(std::uint32_t conn, int dir, std::uint64_t rel, const std::uint8_t* captured,
                 std::uint32_t captured_len, std::uint32_t wire_len, bool syn_seen,
                 std::uint64_t ts_ns);
    // The direction's FIN sits at `rel`: nothing of the stream lies beyond it.
    void fin(std::uint32_t conn, int dir, std::uint64_t rel);
    // A RST from `dir` at `rel`: the stream reached that far (bytes before it
    // never seen are missing at the end), unless it lies implausibly far ahead.
    void reset_at(std::uint32_t conn, int dir, std::uint64_t rel);
    // The peer acknowledged `dir`'s stream up to `rel_ack`: what is still
    // missing below it was lost to the capture.
    void acked(std::uint32_t conn, int dir, std::uint64_t rel_ack);
    // The connection's roles were swapped (a SYN-ACK seen before its SYN).
    void swap(std::uint32_t conn);
    // The connection is over: deliver what waits (skipping holes), then end.
    void finish(std::uint32_t conn, ConnEnd why, bool reset);

    const ReassemblyCounters& counters() const { return counters_; }
    std::uint64_t buffered() const { return buffered_; }

  private:
    static constexpr std::uint32_t kNone = 0xffffffffu;
    static constexpr std::uint32_t kBlock = 512;  // bytes per buffer block
    static constexpr int kRecent = 4;

    struct Recent {  // a delivered range and a hash of its bytes
        std::uint64_t rel;
        std::uint32_t len;
        std::uint32_t hash;
    };
    struct Stream {
        std::uint64_t next;              // sequence position of the next byte to deliver
        std::uint64_t base;              // sequence position of stream offset 0
        std::uint64_t fin_at;            // position of the FIN, 0 if none seen
        std::uint64_t seen_end;          // end of the furthest segment seen, kept or not
        std::uint32_t head;              // first waiting segment (sorted by position)
        std::uint32_t buffered;          // bytes waiting
        std::uint64_t lost_lo, lost_hi;  // bytes seen but not kept (lost_cause), merged
        std::uint32_t segments;          // segments seen, for segment ids
        bool init;                       // set up for the slot's connection (zero: untouched)
        bool active;                     // first data seen
        bool ended;  // every byte up to the FIN delivered: the consumer was told
        bool from_start;
        std::uint8_t recent_pos;
        GapCause lost_cause;
        Recent recent[kRecent];
    };
    struct Waiting {  // a buffered segment
        std::uint64_t rel;
        std::uint64_t ts_ns;
        std::uint32_t len;
        std::uint32_t segment;
        std::uint32_t first_block;
        std::uint32_t next;
    };

    Stream& stream(std::uint32_t conn, int dir) { return streams_[2ull * conn + dir]; }
    void activate(std::uint32_t conn, Stream& s);
    void deliver(std::uint32_t conn, int dir, Stream& s, const std::uint8_t* p, std::uint32_t n,
                 std::uint32_t segment, std::uint64_t ts, bool record);
    void remember(Stream& s, std::uint64_t rel, std::uint32_t n, std::uint32_t hash);
    void deliver_waiting(std::uint32_t conn, int dir, Stream& s);
    void end_if_complete(std::uint32_t conn, int dir, Stream& s);
    void skip_to(std::uint32_t conn, int dir, Stream& s, std::uint64_t to, GapCause cause);
    void gap(std::uint32_t conn, int dir, Stream& s, std::uint64_t to, GapCause cause);
    void lost(Stream& s, std::uint64_t lo, std::uint64_t hi, GapCause cause);
    void filled(std::uint32_t conn, int dir, Stream& s, std::uint64_t lo, std::uint64_t hi,
                std::uint64_t opened_ns, std::uint64_t ts);
    void store(std::uint32_t conn, int dir, Stream& s, std::uint64_t rel, const std::uint8_t* p,
               std::uint32_t n, std::uint32_t segment, std::uint64_t ts, std::uint64_t seen_before);
    bool store_piece(Stream& s, std::uint32_t after, std::uint64_t rel, const std::uint8_t* p,
                     std::uint32_t n, std::uint32_t segment, std::uint64_t ts);
    void free_waiting(Stream& s, std::uint32_t w);
    bool same_as_stored(const Waiting& w, std::uint64_t rel, const std::uint8_t* p,
                        std::uint32_t n) const;
    void check_delivered(std::uint32_t conn, int dir, Stream& s, std::uint64_t rel,
                         const std::uint8_t* p, std::uint32_t n);

    ReassemblyOptions opts_;
    StreamConsumer& consumer_;
    std::unique_ptr<Stream[], FreeDeleter> streams_;
    std::unique_ptr<std::uint8_t[], FreeDeleter> arena_;    // nblocks_ * kBlock bytes
    std::unique_ptr<std::uint8_t[], FreeDeleter> touched_;  // per conn: a stream was set up
    std::unique_ptr<std::uint32_t[], FreeDeleter> block_next_;
    std::unique_ptr<Waiting[], FreeDeleter> waiting_;
    std::uint32_t fresh_blocks_ = 0, fresh_waiting_ = 0;  // never used from here on
    std::uint32_t free_block_ = kNone, free_waiting_ = kNone;
    std::uint32_t nblocks_ = 0;
    std::uint32_t used_blocks_ = 0;
    std::uint64_t buffered_ = 0;
    ReassemblyCounters counters_;
};

}  // namespace wl
