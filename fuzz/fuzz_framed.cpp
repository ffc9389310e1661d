// fuzz_framed: FramedStreamDecoder on the two directions of a stream, the bytes cut
// into segments at points the fuzzer chooses, with holes announced and not, bytes
// seen twice, and every way a stream can end (framed_script.hpp). The sink checks
// the order of the callbacks and the counts framed_upload.hpp promises, and that the
// name each header gives becomes a safe one (safe_file_name).
#include <array>
#include <cstdint>
#include <string_view>

#include "analyzers/file_extractor.hpp"
#include "analyzers/framed_upload.hpp"
#include "fuzz/checked_stages.hpp"
#include "fuzz/framed_script.hpp"
#include "fuzz/fuzz_input.hpp"

namespace {

namespace fr = wl::fuzz::framed;
using wl::fuzz::check;

class CheckedSink : public wl::UploadSink {
  public:
    void stream_framed(wl::ByteOrder, bool) override {
        check(!framed_, "stream_framed once");
        framed_ = true;
    }
    void body_begin(const wl::UploadFrame& f) override {
        check(framed_, "body_begin after stream_framed");
        body_open_ = true;
        body_declared_ = f.declared_size;
        body_seen_ = 0;
        keep_views(f);
    }
    void body_data(const std::uint8_t* p, std::size_t n) override {
        check(body_open_, "body_data after body_begin");
        body_seen_ += n;
        check(body_seen_ <= body_declared_, "no more body bytes than declared");
        std::uint64_t sum = 0;
        for (std::size_t i = 0; i < n; ++i)
            sum += p[i];
        wl::fuzz::keep(sum);
    }
    void body_gap(std::uint64_t n) override {
        check(body_open_, "body_gap after body_begin");
        body_seen_ += n;
        check(body_seen_ <= body_declared_, "no more body bytes and gaps than declared");
    }
    void frame_done(const wl::UploadFrame& f) override {
        check(framed_, "frame_done after stream_framed");
        check(f.index == next_index_, "frames reported in order, none twice");
        ++next_index_;
        check(f.complete == (f.missing == nullptr), "complete iff nothing missing");
        check(!f.complete || !f.has_size || f.received == f.declared_size,
              "a complete frame received its declared size");
        check(!f.has_size || f.received <= f.declared_size,
              "a frame received no more than it declared");
        keep_views(f);
        // The name a carved body would take, from whatever the header said.
        if (f.has_header) wl::fuzz::check_safe_name(wl::safe_file_name(f.file_name, f.index));
    }

  private:
    static void keep_views(const wl::UploadFrame& f) {
        std::uint64_t sum = f.declared_size;
        for (const std::string_view s : {f.header_json, f.file_name}) {
            for (const char c : s)
                sum += static_cast<unsigned char>(c);
        }
        wl::fuzz::keep(sum);
    }

    bool framed_ = false;
    bool body_open_ = false;
    std::uint64_t body_declared_ = 0, body_seen_ = 0;
    std::uint32_t next_index_ = 0;
};

struct Direction {
    wl::FramedStreamDecoder decoder;
    CheckedSink sink;
    std::uint64_t offset = 0;  // where the next data goes
    std::uint32_t segment = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    wl::fuzz::FuzzInput in(data, size);
    const fr::Settings set = fr::read_settings(in);
    std::array<fr::Op, 255> ops;
    for (int i = 0; i < set.ops; ++i)
        ops[i] = fr::read_op(in);

    // Bodies hashed through staging slots and lanes (declared first: it outlives the decoders).
    wl::Md5Batch md5(8);
    std::array<Direction, 2> dirs;
    for (int d = 0; d < 2; ++d) {
        wl::UploadOptions o;
        o.max_header = fr::kMaxHeaders[set.max_header_index];
        o.sha256 = set.sha256;
        o.forced = set.forced;
        o.allow_headerless = set.allow_headerless[d];
        if (set.small_headerless) o.max_headerless = 4096;
        if (set.size_key) o.size_key = "len";
        dirs[d].decoder.reset(o, &md5);
    }
    std::uint64_t ts = 1704067200ull * 1000000000ull;
    const auto feed = [&](Direction& dir, std::span<const std::uint8_t> bytes, bool new_segment) {
        if (new_segment) ++dir.segment;
        ts += 1000000;
        dir.decoder.data(bytes.data(), bytes.size(), dir.offset, dir.segment, ts, dir.sink);
        dir.offset += bytes.size();
    };
    for (int i = 0; i < set.ops; ++i) {
        const fr::Op& op = ops[i];
        Direction& dir = dirs[op.dir];
        switch (op.kind) {
            case fr::Kind::Data:
            case fr::Kind::SameSegment:
                feed(dir, in.bytes(op.length), op.kind == fr::Kind::Data);
                break;
            case fr::Kind::Gap:
                if (op.length == 0) break;
                dir.decoder.gap(dir.offset, op.length, dir.sink);
                dir.offset += op.length;
                break;
            case fr::Kind::Jump: {
                const std::int64_t to = static_cast<std::int64_t>(dir.offset) +
                                        static_cast<std::int64_t>(op.length) - fr::kJumpBias;
                dir.offset = to < 0 ? 0 : static_cast<std::uint64_t>(to);
                break;
            }
        }
    }
    feed(dirs[0], in.rest(), true);
    for (int d = 0; d < 2; ++d)
        dirs[d].decoder.end(static_cast<wl::StreamEnd>(set.end[d]), dirs[d].sink);
    return 0;
}
