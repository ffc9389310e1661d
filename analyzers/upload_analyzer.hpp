// The framed-upload analyzer: attaches a FramedStreamDecoder to every TCP
// stream whose first bytes could be a framed upload, feeds it the reassembled
// bytes, carves bodies through the FileExtractor, and hands each finished
// frame to an UploadRecordSink.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "analyzers/file_extractor.hpp"
#include "analyzers/framed_upload.hpp"
#include "analyzers/md5_batch.hpp"
#include "flow/flow_tracker.hpp"
#include "flow/tcp_reassembler.hpp"

namespace wl {

// A finished frame with the connection it belongs to.
struct UploadRecord {
    const Connection* conn;
    int dir;  // 0: sent by the originator
    const UploadFrame* frame;
    std::string_view extracted;  // path inside the extraction folder, empty if none
    std::string_view refused;    // why it was not extracted (empty if it was, or not asked)
};

// Per connection, the sticky-packet facts of its framed streams.
struct StickySummary {
    std::uint32_t frames = 0;
    std::uint32_t coalesced = 0;  // frames that shared a segment with another frame
    std::uint32_t split = 0;      // frames spread over more than one segment
    std::uint32_t complete = 0;
    std::uint8_t json_framed = 0;  // bit per direction: frames with a JSON header were seen
};

class UploadRecordSink {
  public:
    virtual ~UploadRecordSink() = default;
    virtual void upload(const UploadRecord& rec) = 0;
    virtual void inconsistent(const Connection& c, int dir, std::uint64_t offset,
                              std::uint64_t len) = 0;
};

// Told where the frames of every framed stream lie, as the decoder finds them (--follow):
// each boundary (FrameMark) and each finished frame, with the connection's slot and the
// direction. Called from inside stream_data/stream_gap/stream_end, before any consumer
// added after the analyzer to the same StreamFanout hears of the same bytes.
class FrameObserver {
  public:
    virtual ~FrameObserver() = default;
    virtual void frame_mark(std::uint32_t conn, int dir, FrameMark kind, std::uint32_t frame,
                            std::uint64_t offset, std::uint64_t len) = 0;
    virtual void frame_done(std::uint32_t conn, int dir, const UploadFrame& f) = 0;
};

struct UploadAnalyzerCounters {
    std::uint64_t streams_examined = 0;
    std::uint64_t streams_framed = 0;
    std::uint64_t frames = 0;
    std::uint64_t complete = 0;
    std::uint64_t digest_mismatch = 0;
    std::uint64_t extracted = 0;
    std::uint64_t extract_refused = 0;
    std::uint64_t decoders_busy = 0;  // streams not examined: every decoder in use
};

class UploadAnalyzer : public StreamConsumer, private UploadSink {
  public:
    // The most memory an analyzer with these limits can hold, in bytes: its
    // tables, its decoders, and each decoder's header buffers at their largest
    // (the header as sent, and the names and digests taken from it), plus one
    // parsed header at a time.
    static std::uint64_t memory_bound(const UploadOptions& opts, std::uint32_t max_flows,
                                      std::uint32_t max_decoders);

    // `forced_ports`: --upload-port; `extractor` may be null (no --extract).
    UploadAnalyzer(const UploadOptions& opts, std::vector<std::uint16_t> forced_ports,
                   std::uint32_t max_flows, std::uint32_t max_decoders, const FlowTracker& flows,
                   UploadRecordSink& out, FileExtractor* extractor);
    ~UploadAnalyzer() override;

    void stream_start(std::uint32_t conn) override;
    void stream_swap(std::uint32_t conn) override;
    void stream_data(std::uint32_t conn, int dir, std::uint64_t offset, const std::uint8_t* p,
                     std::size_t n, std::uint32_t segment, std::uint64_t ts_ns,
                     bool from_start) override;
    void stream_gap(std::uint32_t conn, int dir, std::uint64_t offset, std::uint64_t len,
                    GapCause cause) override;
    void stream_inconsistent(std::uint32_t conn, int dir, std::uint64_t offset,
                             std::uint64_t len) override;
    void stream_end(std::uint32_t conn, int dir, ConnEnd why, bool reset) override;

    // The sticky-packet summary of a connection (valid while it is open).
    const StickySummary& sticky(std::uint32_t conn) const { return sticky_[conn]; }
    const UploadAnalyzerCounters& counters() const { return counters_; }
    // Frame boundaries go to `o` as well (null: nowhere).
    void set_frame_observer(FrameObserver* o) { observer_ = o; }
    // Streams whose bodies can be staged for hashing in lanes at once (md5_batch.hpp).
    static std::uint32_t md5_slots(std::uint32_t max_decoders);

  private:
    static constexpr std::uint32_t kNone = 0xffffffffu;
    static constexpr std::uint32_t kRejected = 0xfffffffeu;

    // UploadSink, for the decoder currently fed.
    void body_begin(const UploadFrame& f) override;
    void body_data(const std::uint8_t* p, std::size_t n) override;
    void body_gap(std::uint64_t n) override;
    void frame_done(const UploadFrame& f) override;
    void stream_framed(ByteOrder order, bool has_header) override;
    void frame_mark(FrameMark kind, std::uint32_t frame, std::uint64_t offset,
                    std::uint64_t len) override;

    std::uint32_t& slot(std::uint32_t conn, int dir) { return decoder_of_[2ull * conn + dir]; }
    void release(std::uint32_t conn, int dir);
    bool forced(const Connection& c) const;

    UploadOptions opts_;
    std::vector<std::uint16_t> forced_ports_;
    const FlowTracker& flows_;
    UploadRecordSink& out_;
    FileExtractor* extractor_;
    std::vector<std::uint32_t> decoder_of_;  // per stream: decoder index, kNone, kRejected
    std::vector<StickySummary> sticky_;
    std::unique_ptr<FramedStreamDecoder[], FreeDeleter> decoder_mem_;  // made on first use
    std::vector<std::uint8_t> decoder_made_;
    std::vector<std::uint32_t> free_decoders_;
    // The stream being fed, for the UploadSink callbacks.
    std::uint32_t cur_conn_ = 0;
    int cur_dir_ = 0;
    // What is being carved for a decoder's frames. A frame is reported only once the
    // byte after it arrives, so a body may begin before the previous frame is done.
    struct Carving {
        bool active = false;
        std::uint32_t index = 0;  // the frame's index in its stream
        int file = -1;            // extractor handle; -1: none (refused, or no extraction)
        std::string refusal;
    };
    std::vector<Carving> carving_, carving_prev_;  // per decoder
    Carving* carving_for(const UploadFrame& f);
    void drop_carvings(std::uint32_t decoder);
    UploadAnalyzerCounters counters_;
    FrameObserver* observer_ = nullptr;
    Md5Batch md5_;  // the decoders' MD5 (outlives them: they are destroyed in ~UploadAnalyzer)
};

StreamEnd stream_end_of(ConnEnd why, bool reset);

}  // namespace wl
