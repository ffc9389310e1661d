// The framed-upload stream decoder: one direction of one TCP connection that carries
// "sticky packet"-safe uploads, each a 4-byte length (Python's struct.pack('i', n) or
// '!i'), a JSON header of exactly that length, then the body the header declares
// (samples/upload/upload_client.py). A header-less variant (length + raw bytes) is
// recognised too, but only on strong evidence.
//
// Detection needs no port: the stream's first bytes are tried as a little-endian, then a
// big-endian length followed by a JSON object of exactly that length; the first to
// complete wins, as soon as its header bytes are in. Failing that, the header-less
// variant is tried in both orders; it is accepted only when its frames tile the stream:
// one frame ending exactly where the stream ends (FIN or end of input), or two whole
// frames followed by a third plausible length prefix. Until then nothing is reported
// (the bodies are hashed on the way); the frames are reported once it is accepted.
// The body of an SMB message (which is length-framed the same way) never counts.
//
// Timing of the callbacks:
// - stream_framed() once, when the stream is judged framed, before anything else.
// - body_begin() when a frame's header is complete and it declares a size (0 included);
//   body_data() for each run of body bytes received; body_gap() for each run never seen.
//   Header-less frames accepted after the fact get neither (their bytes are gone), nor
//   does a frame whose body had started before the stream was judged framed.
// - frame_done() for every frame, complete or not, but only once it is known whether the
//   frame shared its last segment with the next one (UploadFrame::coalesced): when the
//   byte after the frame arrives, or at gap() / end(). A frame that stops decoding
//   (bad length, header or size; a gap the next boundary cannot be found across) is
//   reported at once.
// - frame_mark() for each boundary of a frame of the chosen reading, as soon as it is
//   known: the prefix when its first byte is reached, the header once the prefix is read,
//   the body once the header is parsed (header-less: once the prefix is read), the end
//   when the frame's last byte is in (or decoding stops). Boundaries passed while the
//   stream was undecided are told when it is judged framed, before its first frame_done().
// The string_views in an UploadFrame are valid only during the callback.
//
// Nothing is allocated per data() call: the digest contexts are allocated once per
// decoder (MD5 goes through the analyzer's Md5Batch, which stages bodies in its own slots), and a
// header is gathered in a string whose capacity never exceeds the largest header seen (at most
// max_header). Parsing a header with nlohmann::json allocates once per frame.
#pragma once

#include <openssl/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "analyzers/md5_batch.hpp"

namespace wl {

struct UploadOptions {
    std::uint32_t max_header =
        65536;                // --max-header: largest plausible JSON header / length prefix
    std::string size_key;     // --size-key: tried first, before the built-in keys
    bool sha256 = false;      // --sha256: always compute SHA-256 of bodies
    unsigned md5_lanes = 16;  // --md5-lanes: 16, 8 or 0 (Md5Lanes), lowered to what the CPU has
    bool forced = false;      // --upload-port matched: treat as framed even if detection is unsure
    std::uint64_t max_headerless = 16u << 20;  // largest raw frame of the header-less variant
    // The header-less variant is length-prefixed framing as many protocols use it (SSH's
    // binary packets, Kafka, Thrift, ...): only considered when this is set.
    bool allow_headerless = true;
};

enum class ByteOrder : std::uint8_t { Little, Big };
enum class StreamEnd : std::uint8_t { Fin, Reset, Timeout, Evicted, EndOfInput };

// Values of UploadFrame::missing.
namespace upload_missing {
inline constexpr const char* kGap = "gap";                           // bytes never seen
inline constexpr const char* kConnectionEnded = "connection_ended";  // FIN, timeout, eviction
// The capture (file, or live capture stopped) ended with the connection still open
// and this direction not closed by a FIN.
inline constexpr const char* kCaptureEnded = "capture_ended";
inline constexpr const char* kReset = "reset";
inline constexpr const char* kBadSize = "bad_size";      // negative, non-integral or > 2^50
inline constexpr const char* kBadHeader = "bad_header";  // not a JSON object (framed stream)
inline constexpr const char* kBadLength = "bad_length";  // implausible length prefix
}  // namespace upload_missing

// A frame boundary (UploadSink::frame_mark), for showing where frames lie in a stream.
enum class FrameMark : std::uint8_t {
    Prefix,  // the 4-byte length prefix starts at `offset` (len 4)
    Header,  // the JSON header starts at `offset`, `len` bytes as the prefix says
    Body,    // the body starts at `offset`, `len` bytes as declared
    End,     // the frame ends before `offset`; `len`: its bytes from the prefix on
};

struct UploadFrame {           // what the sink is told when a frame is over
    std::uint32_t index = 0;   // 0, 1, 2 ... within this direction
    std::uint64_t offset = 0;  // stream offset of the 4-byte length prefix
    ByteOrder byte_order = ByteOrder::Little;
    bool has_header = false;       // false: the header-less variant (length + raw bytes)
    std::string_view header_json;  // the header exactly as sent (empty when !has_header)
    bool header_valid = false;     // header_json parsed as a JSON object
    std::string_view file_name;    // header's file_name / filename / name, if a string
    bool has_size = false;         // a size key was present (false: no body, e.g. {"status":"ok"})
    std::uint64_t declared_size = 0;  // body size (header-less: the length prefix)
    std::uint64_t received = 0;       // body bytes received (gaps excluded)
    bool complete = false;            // received == declared_size, no gap inside
    const char* missing = nullptr;    // nullptr when complete; else one of upload_missing
    char md5[33] = {};                // hex MD5 of the body bytes received
    bool has_sha256 = false;
    char sha256[65] = {};
    // -1: not judged (the header carried no md5/sha256, the frame has no body, or it is
    // incomplete); 0: a digest the header carried does not match; 1: all match.
    int digest_ok = -1;
    std::uint64_t ts_start = 0, ts_end = 0;  // ns: first byte of the prefix, last byte received
    std::uint32_t segments = 0;              // distinct TCP segments the frame's bytes came in
    bool coalesced = false;                  // shared a segment with the previous or next frame
    bool split = false;                      // spread over more than one segment
};

class UploadSink {
  public:
    virtual ~UploadSink() = default;
    // A frame's header is complete and the body begins (for the file extractor).
    virtual void body_begin(const UploadFrame& f) = 0;
    virtual void body_data(const std::uint8_t* p, std::size_t n) = 0;
    // `n` body bytes were never seen (a capture gap); the body goes on after them.
    virtual void body_gap(std::uint64_t /*n*/) {}
    virtual void frame_done(const UploadFrame& f) = 0;  // every frame, complete or not
    // The stream was judged framed (called once, before the first body_begin).
    virtual void stream_framed(ByteOrder order, bool has_header) = 0;
    // Frame `frame`'s boundary of this kind (see FrameMark) is known.
    virtual void frame_mark(FrameMark /*kind*/, std::uint32_t /*frame*/, std::uint64_t /*offset*/,
                            std::uint64_t /*len*/) {}
};

class FramedStreamDecoder {
  public:
    // Header bytes a decoder may hold at once, in units of max_header: the
    // headers of the two readings that have one (little- and big-endian
    // prefix) while undecided, and the file name and digests copied out of the
    // one parsed (substrings of it, so at most its size together).
    static constexpr std::uint64_t kHeaderCopies = 3;
    FramedStreamDecoder() = default;
    ~FramedStreamDecoder();
    FramedStreamDecoder(const FramedStreamDecoder&) = delete;
    FramedStreamDecoder& operator=(const FramedStreamDecoder&) = delete;

    // Ready for a new stream direction. Bodies are hashed through `md5` (shared by the
    // decoders of one analyzer; it must outlive this decoder), or OpenSSL directly if null.
    void reset(const UploadOptions& opts, Md5Batch* md5 = nullptr);
    // In-order bytes: `offset` is the stream offset of p[0]; `segment` identifies the TCP
    // segment they arrived in (increasing per direction; equal for bytes of one segment).
    // Bytes before the expected offset are ignored; bytes after it imply a gap.
    void data(const std::uint8_t* p, std::size_t n, std::uint64_t offset, std::uint32_t segment,
              std::uint64_t ts_ns, UploadSink& sink);
    void gap(std::uint64_t offset, std::uint64_t len, UploadSink& sink);  // bytes never seen
    void end(StreamEnd why, UploadSink& sink);                            // no more bytes
    void idle();  // the decoder is put aside until the next reset(): its MD5 slots go back

    bool undecided() const { return mode_ == Mode::Undecided; }  // still looking at the start
    bool framed() const { return mode_ == Mode::Framed || mode_ == Mode::Stopped; }
    bool rejected() const { return mode_ == Mode::Rejected; }  // the caller may release it
    // Framed, but decoding stopped (bad length/header/size, or a gap hid a frame boundary).
    bool stopped() const { return mode_ == Mode::Stopped; }

  private:
    enum class Mode : std::uint8_t { Undecided, Framed, Stopped, Rejected };
    enum class Phase : std::uint8_t { Between, Prefix, Header, Body };

    // Incremental, string-aware bracket scan of a header: rejects what cannot be a single
    // JSON object (so detection gives up early) and nesting deeper than nlohmann's
    // recursive parser should be trusted with.
    struct HeaderScan {
        std::uint8_t state = 0;  // 0 leading space, 1 inside the object, 2 trailing space, 3 bad
        bool in_string = false, escape = false;
        std::uint16_t depth = 0;
        void feed(const std::uint8_t* p, std::size_t n);
    };

    static constexpr std::size_t kMaxPending = 4;

    // One reading of the stream as frames: JSON-headed or header-less, in one byte order.
    struct Track {
        bool has_header = false;
        ByteOrder order = ByteOrder::Little;
        bool alive = false;
        bool chosen = false;      // the stream was judged framed this way
        bool acceptable = false;  // header-less: evidence enough (tiling, or forced)
        Phase phase = Phase::Between;
        bool cur_open = false;        // `cur` holds a frame not yet reported
        bool last_byte_seen = false;  // the frame's latest byte was received, not a gap
        bool body_begun = false;      // the sink was told body_begin for `cur`
        bool gap_in_body = false;
        bool hash_sha = false;
        bool want_md5_set = false, want_sha_set = false;
        std::uint8_t prefix_have = 0, sniff_have = 0;
        std::array<std::uint8_t, 4> prefix{};
        std::array<std::uint8_t, 4> sniff{};  // first body bytes of a header-less frame 0
        std::uint32_t header_len = 0;
        std::uint32_t last_segment = 0;
        std::uint32_t next_index = 0;
        std::uint32_t frames_whole = 0;  // complete frames so far (header-less evidence)
        std::uint64_t body_left = 0;
        std::uint64_t at = 0;  // stream offset after the last byte this reading consumed
        std::string header;
        HeaderScan scan;
        std::string file_name, want_md5, want_sha;
        UploadFrame cur;
        Md5Stream md5;
        EVP_MD_CTX* sha = nullptr;
        std::array<UploadFrame, kMaxPending> pending;  // header-less frames awaiting a verdict
        std::size_t npending = 0;
    };

    void feed(Track& t, const std::uint8_t* p, std::size_t n, std::uint64_t offset,
              std::uint32_t segment, std::uint64_t ts, UploadSink& sink);
    void gap_track(Track& t, std::uint64_t len, UploadSink& sink);
    void start_frame(Track& t, std::uint64_t offset, std::uint64_t ts, bool coalesced_prev,
                     UploadSink& sink);
    void touch(Track& t, std::uint32_t segment, std::uint64_t ts);
    void on_prefix(Track& t, UploadSink& sink);
    void on_header(Track& t, UploadSink& sink);
    void begin_body(Track& t, UploadSink& sink);
    void grow_header(Track& t, std::size_t more);
    void finish_frame(Track& t, const char* missing, UploadSink& sink);
    void mark_known(const Track& t, UploadSink& sink);
    void emit_done(Track& t, UploadSink& sink);
    void stop_with(Track& t, const char* missing, UploadSink& sink);
    void choose(Track& t, UploadSink& sink);
    void settle(UploadSink& sink);
    void reject();
    std::uint64_t limit_of(const Track& t) const {
        return t.has_header ? opts_.max_header : opts_.max_headerless;
    }

    UploadOptions opts_;
    Mode mode_ = Mode::Undecided;
    bool started_ = false;  // the first byte was seen
    bool ended_ = false;
    std::uint64_t next_ = 0;  // stream offset of the next byte expected
    // Priority order: JSON little-endian, JSON big-endian, header-less LE, header-less BE.
    std::array<Track, 4> tracks_;
    Md5Batch* md5_ = nullptr;
    EVP_MD* sha_owned_ = nullptr;
    const EVP_MD* sha_md_ = nullptr;
};

}  // namespace wl
