// --follow: one TCP connection's reassembled bytes on the terminal, both
// directions in the order they were delivered, as Wireshark's Follow TCP
// Stream (tshark -z follow,tcp,ascii|hex) shows them, with what Wireshark
// leaves out: where bytes are missing and why, bytes that came late, and
// where the frames of a framed-upload stream begin and end (the upload
// analyzer's marks, see FrameObserver).
//
// Streaming: each chunk is printed as the reassembler delivers it; nothing of
// the stream is kept but a bounded queue of frame marks waiting for the bytes
// they point into (the analyzer hears of a chunk before this reporter does).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "analyzers/upload_analyzer.hpp"
#include "flow/flow_tracker.hpp"
#include "flow/tcp_reassembler.hpp"
#include "report/out_buffer.hpp"

namespace wl {

class FollowReporter : public StreamConsumer, public FrameObserver {
  public:
    // Frame marks held per direction while they wait for their bytes; beyond,
    // marks are counted as not shown.
    static constexpr std::size_t kMaxMarks = 512;

    // `target`: a connection uid (C and 17 base-62 characters) or a tcp.stream
    // index (decimal). `hex`: a hex dump per chunk instead of text.
    FollowReporter(OutBuffer& out, const FlowTracker& flows, std::string_view target, bool hex);

    // Whether `target` names a connection in one of the two ways.
    static bool valid_target(std::string_view target);

    void stream_start(std::uint32_t conn) override;
    void stream_swap(std::uint32_t conn) override;
    void stream_data(std::uint32_t conn, int dir, std::uint64_t offset, const std::uint8_t* p,
                     std::size_t n, std::uint32_t segment, std::uint64_t ts_ns,
                     bool from_start) override;
    void stream_gap(std::uint32_t conn, int dir, std::uint64_t offset, std::uint64_t len,
                    GapCause cause) override;
    void stream_filled(std::uint32_t conn, int dir, std::uint64_t offset, std::uint64_t len,
                       FillCause cause, std::uint64_t opened_ns, std::uint64_t ts_ns) override;
    void stream_inconsistent(std::uint32_t conn, int dir, std::uint64_t offset,
                             std::uint64_t len) override;
    void stream_end(std::uint32_t conn, int dir, ConnEnd why, bool reset) override;

    void frame_mark(std::uint32_t conn, int dir, FrameMark kind, std::uint32_t frame,
                    std::uint64_t offset, std::uint64_t len) override;
    void frame_done(std::uint32_t conn, int dir, const UploadFrame& f) override;

    // The end of input: the footer with each direction's totals. False (and
    // nothing written) when the connection was never seen.
    bool finish();
    bool found() const { return found_; }

  private:
    enum class NoteKind : std::uint8_t { Prefix, Header, Body, End, Done };
    struct Note {  // a frame mark waiting for the byte it points at
        std::uint64_t offset = 0, len = 0;
        std::uint32_t frame = 0, segments = 0;
        NoteKind kind = NoteKind::Prefix;
        bool done = false;  // End: the frame was reported (the fields below are set)
        bool coalesced = false, split = false, complete = false;
        const char* missing = nullptr;
    };
    struct Direction {
        std::array<Note, kMaxMarks> notes;
        std::size_t head = 0, count = 0;
        std::uint64_t pos = 0;  // offset after the last byte or gap printed
        std::uint64_t bytes = 0, chunks = 0, gaps = 0, gap_bytes = 0, filled = 0, filled_bytes = 0,
                      inconsistent = 0, marks_dropped = 0;
        bool ended = false;
        bool midstream_told = false;
    };

    bool mine(std::uint32_t conn) const { return following_ && conn == conn_; }
    void header();
    void push(int dir, const Note& n);
    // Marks before `chunk` lie in bytes printed already: they say so.
    void print_notes_up_to(int dir, std::uint64_t offset, std::uint64_t chunk = 0);
    void print_note(int dir, const Note& n, std::uint64_t chunk);
    void print_bytes(std::uint64_t offset, const std::uint8_t* p, std::size_t n);
    void direction_tag(int dir);
    void endpoint(const Endpoint& e);
    void line_start();

    OutBuffer& out_;
    const FlowTracker& flows_;
    bool hex_;
    bool by_index_ = false;
    std::uint64_t index_ = 0;
    char uid_[19] = {};
    bool found_ = false, following_ = false, header_done_ = false, over_ = false;
    bool at_line_start_ = true;
    std::uint32_t conn_ = 0;
    Endpoint node_[2] = {};  // 0: originator
    int ip_version_ = 4;
    char conn_uid_[19] = {};
    std::uint64_t tcp_stream_ = 0;
    Direction dirs_[2];
};

}  // namespace wl
