// FramedStreamDecoder: framed uploads fed in every way a TCP stream can cut them, the
// header-less variant and the protocols it must leave alone, gaps and resets, digests,
// hostile lengths and headers, and the client and server streams of a real capture.
#include <arpa/inet.h>
#include <openssl/evp.h>
#include <pcap/pcap.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "analyzers/framed_upload.hpp"

using namespace wl;

namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes bytes_of(std::string_view s) {
    return Bytes(s.begin(), s.end());
}

Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes& b : parts)
        out.insert(out.end(), b.begin(), b.end());
    return out;
}

Bytes pattern(std::size_t n, std::uint32_t seed) {
    std::mt19937 rng(seed);
    Bytes b(n);
    for (auto& c : b)
        c = static_cast<std::uint8_t>(rng());
    return b;
}

std::string digest_hex(const EVP_MD* md, const Bytes& b) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    REQUIRE(EVP_Digest(b.data(), b.size(), out, &len, md, nullptr) == 1);
    std::string hex;
    for (unsigned int i = 0; i < len; ++i) {
        static constexpr char kHex[] = "0123456789abcdef";
        hex += kHex[out[i] >> 4];
        hex += kHex[out[i] & 15];
    }
    return hex;
}
std::string md5_of(const Bytes& b) {
    return digest_hex(EVP_md5(), b);
}
std::string sha256_of(const Bytes& b) {
    return digest_hex(EVP_sha256(), b);
}

Bytes length_prefix(std::uint32_t n, ByteOrder order) {
    if (order == ByteOrder::Little)
        return {static_cast<std::uint8_t>(n), static_cast<std::uint8_t>(n >> 8),
                static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 24)};
    return {static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
            static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)};
}

// 4-byte length, JSON header, body: one frame as upload_client.py sends it.
Bytes frame(const std::string& header, const Bytes& body = {},
            ByteOrder order = ByteOrder::Little) {
    return cat(
        {length_prefix(static_cast<std::uint32_t>(header.size()), order), bytes_of(header), body});
}

std::string upload_header(const std::string& name, const Bytes& body, std::string extra = "") {
    return R"({"file_name": ")" + name + R"(", "file_size": )" + std::to_string(body.size()) +
           R"(, "md5": ")" + md5_of(body) + "\"" + extra + "}";
}

Bytes upload(const std::string& name, const Bytes& body, ByteOrder order = ByteOrder::Little) {
    return frame(upload_header(name, body), body, order);
}

Bytes headerless(const Bytes& body, ByteOrder order = ByteOrder::Little) {
    return cat({length_prefix(static_cast<std::uint32_t>(body.size()), order), body});
}

// A frame as reported, copied out of the callback.
struct Seen {
    UploadFrame f;
    std::string header, name, missing;
    bool begun = false;  // body_begin was called for it
    Bytes body;          // what body_data delivered
    std::uint64_t gap_bytes = 0;
};

struct Recorder : UploadSink {
    int framed_calls = 0;
    ByteOrder order = ByteOrder::Little;
    bool has_header = false;
    std::vector<Seen> frames;
    bool in_body = false;
    std::uint32_t body_index = 0;
    Bytes body;
    std::uint64_t gap_bytes = 0;

    void stream_framed(ByteOrder o, bool h) override {
        REQUIRE(framed_calls == 0);
        REQUIRE(frames.empty());
        ++framed_calls;
        order = o;
        has_header = h;
    }
    void body_begin(const UploadFrame& f) override {
        REQUIRE(framed_calls == 1);
        REQUIRE_FALSE(in_body);
        REQUIRE(f.has_size);
        in_body = true;
        body_index = f.index;
        body.clear();
        gap_bytes = 0;
    }
    void body_data(const std::uint8_t* p, std::size_t n) override {
        REQUIRE(in_body);
        REQUIRE(n > 0);
        body.insert(body.end(), p, p + n);
    }
    void body_gap(std::uint64_t n) override {
        REQUIRE(in_body);
        gap_bytes += n;
    }
    void frame_done(const UploadFrame& f) override {
        REQUIRE(framed_calls == 1);
        REQUIRE(f.index == frames.size());
        REQUIRE(f.complete == (f.missing == nullptr));
        REQUIRE(f.split == (f.segments > 1));
        Seen s;
        s.f = f;
        s.f.header_json = {};
        s.f.file_name = {};
        s.header = std::string(f.header_json);
        s.name = std::string(f.file_name);
        s.missing = f.missing ? f.missing : "";
        if (in_body) {
            REQUIRE(body_index == f.index);
            s.begun = true;
            s.body = body;
            s.gap_bytes = gap_bytes;
            in_body = false;
        }
        frames.push_back(std::move(s));
    }
};

// How the bytes are cut: (bytes, segment id) per data() call.
using Plan = std::vector<std::pair<std::size_t, std::uint32_t>>;

Plan whole(std::size_t n) {
    return {{n, 0}};
}
Plan each_byte(std::size_t n) {
    Plan p;
    for (std::size_t i = 0; i < n; ++i)
        p.emplace_back(1, static_cast<std::uint32_t>(i));
    return p;
}
Plan chunks_of(std::size_t n, std::size_t size) {
    Plan p;
    std::uint32_t seg = 0;
    for (std::size_t at = 0; at < n; at += size)
        p.emplace_back(std::min(size, n - at), seg++);
    return p;
}
// Random cuts; now and then two data() calls share a segment.
Plan random_plan(std::size_t n, std::uint32_t seed, std::size_t max_chunk = 700) {
    std::mt19937 rng(seed);
    Plan p;
    std::uint32_t seg = 0;
    for (std::size_t at = 0; at < n;) {
        const std::size_t k = std::min<std::size_t>(1 + rng() % max_chunk, n - at);
        if (rng() % 5 != 0) ++seg;
        p.emplace_back(k, seg);
        at += k;
    }
    return p;
}

std::vector<Plan> all_plans(std::size_t n) {
    std::vector<Plan> plans{whole(n), each_byte(n), chunks_of(n, 1448)};
    for (std::uint32_t seed = 1; seed <= 12; ++seed)
        plans.push_back(random_plan(n, seed, seed % 2 ? 9 : 3000));
    return plans;
}

struct Run {
    Recorder rec;
    bool framed = false, rejected = false, stopped = false;
};

Run run(const Bytes& b, const Plan& plan, UploadOptions opts = {},
        std::optional<StreamEnd> why = StreamEnd::Fin) {
    Run r;
    FramedStreamDecoder d;
    d.reset(opts);
    std::size_t at = 0;
    for (const auto& [k, seg] : plan) {
        d.data(b.data() + at, k, at, seg, std::uint64_t{seg} * 1000, r.rec);
        at += k;
    }
    REQUIRE(at == b.size());
    if (why) d.end(*why, r.rec);
    r.framed = d.framed();
    r.rejected = d.rejected();
    r.stopped = d.stopped();
    return r;
}

Run run_whole(const Bytes& b, UploadOptions opts = {},
              std::optional<StreamEnd> why = StreamEnd::Fin) {
    return run(b, whole(b.size()), std::move(opts), why);
}

// Fields that do not depend on how the stream was cut.
void same_frames(const Recorder& a, const Recorder& b) {
    REQUIRE(a.framed_calls == b.framed_calls);
    REQUIRE(a.frames.size() == b.frames.size());
    for (std::size_t i = 0; i < a.frames.size(); ++i) {
        const Seen& x = a.frames[i];
        const Seen& y = b.frames[i];
        CHECK(x.f.offset == y.f.offset);
        CHECK(x.header == y.header);
        CHECK(x.name == y.name);
        CHECK(x.f.has_size == y.f.has_size);
        CHECK(x.f.declared_size == y.f.declared_size);
        CHECK(x.f.received == y.f.received);
        CHECK(x.missing == y.missing);
        CHECK(std::string(x.f.md5) == y.f.md5);
        CHECK(x.f.digest_ok == y.f.digest_ok);
    }
}

}  // namespace

TEST_CASE("uploads decode the same however the stream is cut", "[upload]") {
    const Bytes empty;
    const Bytes small = bytes_of("hello, framed world\n");
    const Bytes big = pattern(70000, 7);
    for (ByteOrder order : {ByteOrder::Little, ByteOrder::Big}) {
        const Bytes stream =
            cat({upload("empty.bin", empty, order), upload("small.txt", small, order),
                 upload("big.bin", big, order)});
        const Run ref = run_whole(stream);
        REQUIRE(ref.framed);
        REQUIRE(ref.rec.framed_calls == 1);
        REQUIRE(ref.rec.order == order);
        REQUIRE(ref.rec.has_header);
        REQUIRE(ref.rec.frames.size() == 3);
        const Bytes* bodies[] = {&empty, &small, &big};
        const char* names[] = {"empty.bin", "small.txt", "big.bin"};
        std::uint64_t offset = 0;
        for (std::size_t i = 0; i < 3; ++i) {
            const Seen& s = ref.rec.frames[i];
            CHECK(s.f.offset == offset);
            CHECK(s.name == names[i]);
            CHECK(s.f.byte_order == order);
            CHECK(s.f.has_header);
            CHECK(s.f.has_size);
            CHECK(s.f.declared_size == bodies[i]->size());
            CHECK(s.f.received == bodies[i]->size());
            CHECK(s.f.complete);
            CHECK(s.f.missing == nullptr);
            CHECK(std::string(s.f.md5) == md5_of(*bodies[i]));
            CHECK(s.f.digest_ok == 1);
            CHECK_FALSE(s.f.has_sha256);
            CHECK(s.begun);
            CHECK(s.body == *bodies[i]);
            offset += 4 + s.header.size() + bodies[i]->size();
        }
        for (const Plan& plan : all_plans(stream.size())) {
            const Run r = run(stream, plan);
            same_frames(ref.rec, r.rec);
            for (std::size_t i = 0; i < 3; ++i)
                CHECK(r.rec.frames[i].body == *bodies[i]);
        }
    }
}

TEST_CASE("detection decides as soon as the first header is in", "[upload]") {
    const Bytes stream = upload("a.txt", bytes_of("abc"));
    const std::size_t header_end = stream.size() - 3;
    FramedStreamDecoder d;
    d.reset({});
    Recorder rec;
    d.data(stream.data(), header_end - 1, 0, 0, 0, rec);
    CHECK(d.undecided());
    CHECK(rec.framed_calls == 0);
    d.data(stream.data() + header_end - 1, 1, header_end - 1, 1, 0, rec);
    CHECK(d.framed());
    CHECK_FALSE(d.undecided());
    CHECK(rec.framed_calls == 1);
    CHECK(rec.in_body);
    CHECK(rec.frames.empty());
    // The frame is reported as soon as the segment holding its last byte is in
    // (no later frame can share that segment), not when the stream ends.
    d.data(stream.data() + header_end, 2, header_end, 2, 0, rec);
    CHECK(rec.frames.empty());
    d.data(stream.data() + header_end + 2, 1, header_end + 2, 3, 0, rec);
    REQUIRE(rec.frames.size() == 1);
    CHECK(rec.frames[0].f.complete);
    CHECK_FALSE(rec.frames[0].f.coalesced);
    d.end(StreamEnd::Fin, rec);
    CHECK(rec.frames.size() == 1);
}

TEST_CASE("many frames in one segment are coalesced", "[upload]") {
    Bytes stream;
    for (int i = 0; i < 6; ++i) {
        std::string name = "f";  // (not "f" + ...: GCC 12 warns falsely, -Wrestrict)
        name += std::to_string(i);
        stream = cat({stream, upload(name, pattern(10 + i, i))});
    }
    const Run one = run_whole(stream);
    REQUIRE(one.rec.frames.size() == 6);
    for (const Seen& s : one.rec.frames) {
        CHECK(s.f.coalesced);
        CHECK(s.f.segments == 1);
        CHECK_FALSE(s.f.split);
        CHECK(s.f.complete);
        CHECK(s.f.digest_ok == 1);
    }

    // One segment per frame: nothing coalesced, nothing split.
    Plan per_frame;
    std::uint32_t seg = 0;
    for (const Seen& s : one.rec.frames)
        per_frame.emplace_back(4 + s.header.size() + s.f.declared_size, seg++);
    const Run apart = run(stream, per_frame);
    REQUIRE(apart.rec.frames.size() == 6);
    for (const Seen& s : apart.rec.frames) {
        CHECK_FALSE(s.f.coalesced);
        CHECK(s.f.segments == 1);
        CHECK(s.f.ts_start == s.f.ts_end);
    }

    // Frame 0 and the start of frame 1 share segment 0: both coalesced, the rest not.
    const std::size_t f0 = per_frame[0].first;
    Plan mixed{{f0 + 2, 0}, {per_frame[1].first - 2, 1}};
    for (std::size_t i = 2; i < per_frame.size(); ++i)
        mixed.emplace_back(per_frame[i].first, static_cast<std::uint32_t>(i));
    const Run m = run(stream, mixed);
    REQUIRE(m.rec.frames.size() == 6);
    CHECK(m.rec.frames[0].f.coalesced);
    CHECK_FALSE(m.rec.frames[0].f.split);
    CHECK(m.rec.frames[1].f.coalesced);
    CHECK(m.rec.frames[1].f.split);
    CHECK(m.rec.frames[1].f.segments == 2);
    CHECK_FALSE(m.rec.frames[2].f.coalesced);
    CHECK_FALSE(m.rec.frames[5].f.coalesced);
}

TEST_CASE("one frame over hundreds of segments is split", "[upload]") {
    const Bytes body = pattern(300 * 1000, 3);
    const Bytes stream = upload("big.bin", body);
    const Plan plan = chunks_of(stream.size(), 1000);
    const Run r = run(stream, plan);
    REQUIRE(r.rec.frames.size() == 1);
    const UploadFrame& f = r.rec.frames[0].f;
    CHECK(f.segments == plan.size());
    CHECK(f.segments > 300);
    CHECK(f.split);
    CHECK_FALSE(f.coalesced);
    CHECK(f.ts_start == 0);
    CHECK(f.ts_end == (plan.size() - 1) * 1000);
    CHECK(f.digest_ok == 1);
    CHECK(r.rec.frames[0].body == body);
}

TEST_CASE("a length prefix split across two segments", "[upload]") {
    const Bytes stream = cat({upload("a", bytes_of("xyz")), upload("b", bytes_of("12345"))});
    const std::size_t f0 = stream.size() - upload("b", bytes_of("12345")).size();
    for (std::size_t cut : {1, 2, 3}) {
        const Plan plan{{cut, 0}, {f0 - cut, 1}, {2, 2}, {stream.size() - f0 - 2, 3}};
        const Run r = run(stream, plan);
        REQUIRE(r.rec.frames.size() == 2);
        CHECK(r.rec.frames[0].f.segments == 2);
        CHECK(r.rec.frames[0].f.split);
        CHECK(r.rec.frames[1].f.segments == 2);
        CHECK(r.rec.frames[1].name == "b");
        CHECK(r.rec.frames[1].f.digest_ok == 1);
    }
}

TEST_CASE("framed replies without a body", "[upload]") {
    const Bytes stream =
        cat({frame(R"({"status": "ok", "md5": "d41d8cd98f00b204e9800998ecf8427e"})"),
             frame(R"({"status": "error"})"), frame("  {\"status\":\"ok\"}\n ")});
    for (const Plan& plan : all_plans(stream.size())) {
        const Run r = run(stream, plan);
        REQUIRE(r.rec.frames.size() == 3);
        for (const Seen& s : r.rec.frames) {
            CHECK_FALSE(s.f.has_size);
            CHECK(s.f.complete);
            CHECK(s.f.received == 0);
            CHECK(s.f.digest_ok == -1);  // the md5 is the upload's, not this frame's
            CHECK_FALSE(s.begun);
            CHECK(s.name.empty());
        }
        CHECK(r.rec.frames[2].header == "  {\"status\":\"ok\"}\n ");
    }
}

TEST_CASE("body size keys, --size-key and bad sizes", "[upload]") {
    SECTION("built-in keys in order, strings of digits, integral floats") {
        const Bytes s1 = cat({frame(R"({"name": "n", "length": 2, "size": 4})", bytes_of("abcd")),
                              frame(R"({"filename": "f", "filesize": "3"})", bytes_of("xyz")),
                              frame(R"({"file_name": 7, "total_size": 1e1})", pattern(10, 1)),
                              frame(R"({"data_size": 1})", bytes_of("!"))});
        const Run r = run_whole(s1);
        REQUIRE(r.rec.frames.size() == 4);
        CHECK(r.rec.frames[0].f.declared_size == 4);
        CHECK(r.rec.frames[0].name == "n");
        CHECK(r.rec.frames[1].f.declared_size == 3);
        CHECK(r.rec.frames[1].name == "f");
        CHECK(r.rec.frames[2].f.declared_size == 10);
        CHECK(r.rec.frames[2].name.empty());  // not a string
        CHECK(r.rec.frames[3].f.declared_size == 1);
        for (const Seen& s : r.rec.frames)
            CHECK(s.f.complete);
    }
    SECTION("--size-key is tried first") {
        const Bytes s =
            cat({frame(R"({"name": "x", "bytes": 5, "file_size": 3})", bytes_of("12345")),
                 frame(R"({"bytes": "2"})", bytes_of("ab"))});
        UploadOptions opts;
        opts.size_key = "bytes";
        const Run r = run_whole(s, opts);
        REQUIRE(r.rec.frames.size() == 2);
        CHECK(r.rec.frames[0].f.declared_size == 5);
        CHECK(r.rec.frames[0].body == bytes_of("12345"));
        CHECK(r.rec.frames[1].f.declared_size == 2);
        CHECK(r.rec.frames[1].f.complete);
        // Without it, "file_size" wins and the stream goes wrong after 3 bytes.
        const Run plain = run_whole(s);
        REQUIRE_FALSE(plain.rec.frames.empty());
        CHECK(plain.rec.frames[0].f.declared_size == 3);
    }
    for (const char* bad :
         {R"({"file_size": -5})", R"({"file_size": "-5"})", R"({"file_size": 1125899906842625})",
          R"({"size": 1.5})", R"({"file_size": "99999999999999999999999"})",
          R"({"file_size": 18446744073709551615})"}) {
        DYNAMIC_SECTION("bad size " << bad) {
            const Bytes s = cat({upload("ok", bytes_of("ok")), frame(bad, pattern(100, 2)),
                                 upload("never", bytes_of("x"))});
            const Run r = run_whole(s);
            CHECK(r.framed);
            CHECK(r.stopped);
            REQUIRE(r.rec.frames.size() == 2);
            CHECK(r.rec.frames[0].f.complete);
            CHECK_FALSE(r.rec.frames[1].f.complete);
            CHECK(r.rec.frames[1].missing == "bad_size");
            CHECK(r.rec.frames[1].f.has_size);
            CHECK_FALSE(r.rec.frames[1].begun);
        }
    }
    SECTION("2^50 exactly is accepted") {
        const Bytes s = frame(R"({"file_size": 1125899906842624})", pattern(10, 1));
        const Run r = run_whole(s);
        REQUIRE(r.rec.frames.size() == 1);
        CHECK(r.rec.frames[0].f.declared_size == (std::uint64_t{1} << 50));
        CHECK(r.rec.frames[0].f.received == 10);
        CHECK(r.rec.frames[0].missing == "connection_ended");
    }
}

TEST_CASE("digests: md5 variants, a lying md5, sha256", "[upload]") {
    const Bytes body = pattern(5000, 11);
    std::string upper = md5_of(body);
    std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
    const Bytes stream = cat({
        frame(
            R"({"file_name": "liar", "file_size": 5000, "md5": "0123456789abcdef0123456789abcdef"})",
            body),
        frame(R"({"file_name": "upper", "file_size": 5000, "md5": ")" + upper + "\"}", body),
        frame(R"({"file_size": 5000, "md5sum": ")" + md5_of(body) + "\"}", body),
        frame(R"({"file_size": 5000, "checksum": ")" + md5_of(body) + "\"}", body),
        frame(R"({"file_size": 5000, "checksum": "not hex"})", body),
        frame(R"({"file_size": 5000, "sha256": ")" + sha256_of(body) + "\"}", body),
        frame(R"({"file_size": 5000, "sha256sum": ")" + std::string(64, '0') + "\"}", body),
        frame(R"({"file_size": 5000, "md5": ")" + md5_of(body) + R"(", "sha256": "bad"})", body),
    });
    for (const Plan& plan : {whole(stream.size()), random_plan(stream.size(), 5)}) {
        const Run r = run(stream, plan);
        REQUIRE(r.rec.frames.size() == 8);
        for (const Seen& s : r.rec.frames) {
            CHECK(s.f.complete);
            CHECK(std::string(s.f.md5) == md5_of(body));
        }
        CHECK(r.rec.frames[0].f.digest_ok == 0);
        CHECK(r.rec.frames[1].f.digest_ok == 1);
        CHECK(r.rec.frames[2].f.digest_ok == 1);
        CHECK(r.rec.frames[3].f.digest_ok == 1);
        CHECK(r.rec.frames[4].f.digest_ok == -1);
        CHECK_FALSE(r.rec.frames[4].f.has_sha256);
        CHECK(r.rec.frames[5].f.has_sha256);
        CHECK(std::string(r.rec.frames[5].f.sha256) == sha256_of(body));
        CHECK(r.rec.frames[5].f.digest_ok == 1);
        CHECK(r.rec.frames[6].f.digest_ok == 0);
        CHECK(r.rec.frames[7].f.digest_ok == 0);
    }
    SECTION("--sha256 computes it for every body") {
        UploadOptions opts;
        opts.sha256 = true;
        const Run r = run_whole(cat({upload("a", body), frame(R"({"status": "ok"})")}), opts);
        REQUIRE(r.rec.frames.size() == 2);
        CHECK(r.rec.frames[0].f.has_sha256);
        CHECK(std::string(r.rec.frames[0].f.sha256) == sha256_of(body));
        CHECK(r.rec.frames[0].f.digest_ok == 1);
        CHECK(r.rec.frames[1].f.has_sha256);
        CHECK(std::string(r.rec.frames[1].f.sha256) == sha256_of({}));
    }
}

TEST_CASE("gaps", "[upload]") {
    const Bytes body0 = pattern(1000, 21);
    const Bytes f0 = upload("zero", body0);
    const Bytes f1 = upload("one", bytes_of("second file"));
    const Bytes stream = cat({f0, f1});
    const std::size_t body_at = f0.size() - body0.size();

    // Feeds [0, from), a gap of `len`, then the rest.
    auto with_gap = [&](std::size_t from, std::size_t len, UploadOptions opts = {}) {
        Run r;
        FramedStreamDecoder d;
        d.reset(opts);
        d.data(stream.data(), from, 0, 0, 0, r.rec);
        d.gap(from, len, r.rec);
        d.data(stream.data() + from + len, stream.size() - from - len, from + len, 1, 1000, r.rec);
        d.end(StreamEnd::Fin, r.rec);
        r.framed = d.framed();
        r.stopped = d.stopped();
        r.rejected = d.rejected();
        return r;
    };

    SECTION("inside a body: the frame is incomplete, the next one decodes") {
        const Run r = with_gap(body_at + 300, 200);
        REQUIRE(r.rec.frames.size() == 2);
        const Seen& s = r.rec.frames[0];
        CHECK_FALSE(s.f.complete);
        CHECK(s.missing == "gap");
        CHECK(s.f.received == 800);
        CHECK(s.f.declared_size == 1000);
        CHECK(s.f.digest_ok == -1);
        CHECK(s.gap_bytes == 200);
        Bytes seen = body0;
        seen.erase(seen.begin() + 300, seen.begin() + 500);
        CHECK(s.body == seen);
        CHECK(std::string(s.f.md5) == md5_of(seen));
        CHECK(r.rec.frames[1].f.complete);
        CHECK(r.rec.frames[1].name == "one");
        CHECK_FALSE(r.stopped);
    }
    SECTION("ending exactly at the body's end: carry on") {
        const Run r = with_gap(body_at + 900, 100);
        REQUIRE(r.rec.frames.size() == 2);
        CHECK(r.rec.frames[0].missing == "gap");
        CHECK(r.rec.frames[0].f.received == 900);
        CHECK_FALSE(r.rec.frames[0].f.coalesced);
        CHECK(r.rec.frames[1].f.complete);
    }
    SECTION("running into the next length prefix: stop") {
        const Run r = with_gap(body_at + 900, 102);
        REQUIRE(r.rec.frames.size() == 1);
        CHECK(r.rec.frames[0].missing == "gap");
        CHECK(r.rec.frames[0].f.received == 900);
        CHECK(r.framed);
        CHECK(r.stopped);
    }
    SECTION("right at a frame boundary: the frame is whole, then stop") {
        const Run r = with_gap(f0.size(), 3);
        REQUIRE(r.rec.frames.size() == 1);
        CHECK(r.rec.frames[0].f.complete);
        CHECK(r.stopped);
    }
    SECTION("inside the second header: stop") {
        const Run r = with_gap(f0.size() + 10, 5);
        REQUIRE(r.rec.frames.size() == 2);
        CHECK(r.rec.frames[1].missing == "gap");
        CHECK_FALSE(r.rec.frames[1].f.has_size);
        CHECK(r.stopped);
    }
    SECTION("inside the first header, or at the start: rejected") {
        CHECK(with_gap(10, 5).rejected);
        CHECK(with_gap(2, 1).rejected);
        Recorder rec;
        FramedStreamDecoder d;
        d.reset({});
        d.gap(0, 10, rec);
        CHECK(d.rejected());
        CHECK(rec.framed_calls == 0);
    }
}

TEST_CASE("midstream pickup is rejected unless forced", "[upload]") {
    const Bytes junk = pattern(50, 4);
    const Bytes up = upload("late.txt", bytes_of("late"));
    const Bytes stream = cat({junk, up});
    for (bool forced : {false, true}) {
        UploadOptions opts;
        opts.forced = forced;
        Recorder rec;
        FramedStreamDecoder d;
        d.reset(opts);
        d.gap(0, junk.size(), rec);
        d.data(up.data(), up.size(), junk.size(), 1, 0, rec);
        d.end(StreamEnd::Fin, rec);
        CHECK(d.rejected() == !forced);
        if (forced) {
            REQUIRE(rec.frames.size() == 1);
            CHECK(rec.frames[0].f.offset == junk.size());
            CHECK(rec.frames[0].name == "late.txt");
            CHECK(rec.frames[0].f.digest_ok == 1);
        } else {
            CHECK(rec.frames.empty());
        }
    }
    Recorder rec;
    FramedStreamDecoder d;
    d.reset({});
    d.data(up.data(), up.size(), 100, 0, 0, rec);  // first byte seen is not offset 0
    CHECK(d.rejected());
}

TEST_CASE("the stream ends in the middle of a frame", "[upload]") {
    const Bytes body = pattern(4000, 8);
    const Bytes stream = cat({upload("a", bytes_of("aa")), upload("b", body)});
    const std::size_t cut = stream.size() - 1500;
    const Bytes partial(stream.begin(), stream.begin() + cut);
    const Run reset = run(partial, chunks_of(partial.size(), 500), {}, StreamEnd::Reset);
    REQUIRE(reset.rec.frames.size() == 2);
    CHECK(reset.rec.frames[0].f.complete);
    CHECK(reset.rec.frames[1].missing == "reset");
    CHECK(reset.rec.frames[1].f.received == 2500);
    CHECK(reset.rec.frames[1].f.digest_ok == -1);
    CHECK(std::string(reset.rec.frames[1].f.md5) ==
          md5_of(Bytes(body.begin(), body.begin() + 2500)));
    for (StreamEnd why :
         {StreamEnd::Fin, StreamEnd::Timeout, StreamEnd::Evicted, StreamEnd::EndOfInput}) {
        const Run r = run_whole(partial, {}, why);
        REQUIRE(r.rec.frames.size() == 2);
        CHECK(r.rec.frames[1].missing ==
              (why == StreamEnd::EndOfInput ? "capture_ended" : "connection_ended"));
    }
    // Inside the second header, and inside its length prefix.
    const std::size_t second = upload("a", bytes_of("aa")).size();
    for (std::size_t at : {second + 2, second + 9}) {
        const Run r = run_whole(Bytes(stream.begin(), stream.begin() + at), {}, StreamEnd::Reset);
        REQUIRE(r.rec.frames.size() == 2);
        CHECK(r.rec.frames[1].missing == "reset");
        CHECK_FALSE(r.rec.frames[1].f.has_size);
    }
    // Between frames: nothing is missing.
    const Run between =
        run_whole(Bytes(stream.begin(), stream.begin() + second), {}, StreamEnd::Reset);
    REQUIRE(between.rec.frames.size() == 1);
    CHECK(between.rec.frames[0].f.complete);
}

TEST_CASE("header-less variant: accepted when its frames tile the stream", "[upload]") {
    const Bytes a = pattern(3000, 31), b = pattern(200, 32), c = pattern(70000, 33);
    SECTION("one frame, then the end") {
        const Bytes s = headerless(a);
        for (const Plan& plan : all_plans(s.size())) {
            const Run r = run(s, plan);
            REQUIRE(r.framed);
            REQUIRE(r.rec.frames.size() == 1);
            CHECK_FALSE(r.rec.has_header);
            const Seen& f = r.rec.frames[0];
            CHECK_FALSE(f.f.has_header);
            CHECK(f.header.empty());
            CHECK(f.f.declared_size == a.size());
            CHECK(f.f.complete);
            CHECK(std::string(f.f.md5) == md5_of(a));
            CHECK(f.f.digest_ok == -1);
            CHECK_FALSE(f.begun);  // accepted after the fact
        }
        CHECK(run_whole(s, {}, StreamEnd::Reset).rejected);
        CHECK(run_whole(s, {}, StreamEnd::Timeout).rejected);
        CHECK(run_whole(cat({s, bytes_of("xy")})).rejected);
    }
    SECTION("several frames; bodies from the third on reach the sink") {
        for (ByteOrder order : {ByteOrder::Little, ByteOrder::Big}) {
            const Bytes s = cat({headerless(a, order), headerless(b, order), headerless(c, order),
                                 headerless(a, order)});
            const Run ref = run_whole(s);
            REQUIRE(ref.framed);
            CHECK(ref.rec.order == order);
            REQUIRE(ref.rec.frames.size() == 4);
            const Bytes* bodies[] = {&a, &b, &c, &a};
            for (std::size_t i = 0; i < 4; ++i) {
                CHECK(ref.rec.frames[i].f.complete);
                CHECK(std::string(ref.rec.frames[i].f.md5) == md5_of(*bodies[i]));
            }
            CHECK(ref.rec.frames[2].begun);
            CHECK(ref.rec.frames[2].body == c);
            for (const Plan& plan : all_plans(s.size()))
                same_frames(ref.rec, run(s, plan).rec);
        }
    }
    SECTION("two frames, then the end") {
        const Run r = run_whole(cat({headerless(a), headerless(b)}));
        REQUIRE(r.rec.frames.size() == 2);
    }
    SECTION("a length both byte orders find plausible") {
        // 512 big-endian is 00 00 02 00, which little-endian reads as 131072.
        const Bytes x = pattern(512, 41);
        const Bytes s = cat({headerless(x, ByteOrder::Big), headerless(x, ByteOrder::Big),
                             headerless(x, ByteOrder::Big)});
        const Run r = run_whole(s);
        REQUIRE(r.framed);
        CHECK(r.rec.order == ByteOrder::Big);
        CHECK(r.rec.frames.size() == 3);
    }
    SECTION("forced: accepted at once, bodies delivered") {
        UploadOptions opts;
        opts.forced = true;
        const Bytes s = cat({headerless(a), bytes_of("xy")});
        const Run r = run_whole(s, opts, StreamEnd::Reset);
        REQUIRE(r.rec.frames.size() == 2);
        CHECK(r.rec.frames[0].begun);
        CHECK(r.rec.frames[0].body == a);
        CHECK(r.rec.frames[1].missing == "reset");
    }
    SECTION("a frame larger than max_headerless") {
        UploadOptions opts;
        opts.max_headerless = 1000;
        CHECK(run_whole(headerless(a), opts).rejected);
    }
}

TEST_CASE("protocols that are not framed uploads are rejected", "[upload]") {
    // A TLS 1.2 ClientHello record (short record: its first 4 bytes read little-endian as
    // 66326, a plausible header-less length).
    Bytes hello{0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03, 0x03};
    const Bytes rnd = pattern(32, 51);
    hello.insert(hello.end(), rnd.begin(), rnd.end());
    hello.resize(5 + 200, 0x00);
    Bytes hello_long{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03};
    hello_long.resize(5 + 512, 0x2a);
    // DNS over TCP: a 2-byte length, then the message (two queries on one connection).
    const Bytes dns_q{0x00, 0x1d, 0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
                      0x00, 0x00, 0x00, 0x07, 'e',  'x',  'a',  'm',  'p',  'l',  'e',
                      0x03, 'c',  'o',  'm',  0x00, 0x00, 0x01, 0x00, 0x01};
    Bytes dns_q2 = dns_q;
    dns_q2[2] = 0x00;
    dns_q2[3] = 0x07;
    const Bytes dns_r{0x00, 0x2d, 0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00,
                      0x00, 0x00, 0x07, 'e',  'x',  'a',  'm',  'p',  'l',  'e',  0x03, 'c',
                      'o',  'm',  0x00, 0x00, 0x01, 0x00, 0x01, 0xc0, 0x0c, 0x00, 0x01, 0x00,
                      0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x04, 93,   184,  216,  34};
    // SMB2 over TCP: a 4-byte big-endian length, then 0xfe 'SMB': framed exactly like the
    // header-less variant, and tiling.
    Bytes smb{0xfe, 'S', 'M', 'B', 64, 0};
    smb.resize(100, 0);
    const std::vector<std::pair<const char*, Bytes>> cases{
        {"HTTP request", bytes_of("GET /index.html HTTP/1.1\r\nHost: example.com\r\n"
                                  "User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n")},
        {"HTTP POST", bytes_of("POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n"
                               "hello")},
        {"HTTP response", bytes_of("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                   "Content-Length: 5\r\n\r\nhello")},
        {"TLS ClientHello", hello},
        {"TLS ClientHello, long", hello_long},
        {"SSH banner",
         bytes_of("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u2\r\n\x00\x00\x05\xdc\x06\x14")},
        {"DNS over TCP queries", cat({dns_q, dns_q2})},
        {"DNS over TCP response", dns_r},
        {"SMB2", cat({length_prefix(100, ByteOrder::Big), smb, length_prefix(100, ByteOrder::Big),
                      smb, length_prefix(100, ByteOrder::Big), smb})},
    };
    for (const auto& [name, bytes] : cases) {
        DYNAMIC_SECTION(name) {
            for (const Plan& plan : all_plans(bytes.size())) {
                for (StreamEnd why : {StreamEnd::Fin, StreamEnd::Reset, StreamEnd::EndOfInput}) {
                    const Run r = run(bytes, plan, {}, why);
                    CHECK(r.rejected);
                    CHECK(r.rec.framed_calls == 0);
                    CHECK(r.rec.frames.empty());
                }
            }
        }
    }
    // Most are told apart by their first 4 bytes alone.
    for (const char* text : {"GET ", "POST", "HTTP", "SSH-"}) {
        FramedStreamDecoder d;
        d.reset({});
        Recorder rec;
        d.data(reinterpret_cast<const std::uint8_t*>(text), 4, 0, 0, 0, rec);
        CHECK(d.rejected());
    }
}

TEST_CASE("hostile lengths and headers", "[upload]") {
    SECTION("lengths: zero, negative, 2^31-1, beyond max_header") {
        // Each of these is implausible read in either byte order: rejected on 4 bytes.
        for (std::uint32_t len : {0u, 0xffffffffu, 0x80000001u, 0x7fffffffu, 0xfffffffeu}) {
            for (ByteOrder order : {ByteOrder::Little, ByteOrder::Big}) {
                FramedStreamDecoder d;
                d.reset({});
                Recorder rec;
                const Bytes p = length_prefix(len, order);
                d.data(p.data(), p.size(), 0, 0, 0, rec);
                CHECK(d.rejected());
            }
        }
        // 0x80000000 (INT_MIN) little-endian reads big-endian as 128: rejected once the
        // 128 bytes are not a JSON object and do not tile.
        const Bytes neg = cat({length_prefix(0x80000000u, ByteOrder::Little), pattern(300, 5)});
        CHECK(run_whole(neg).rejected);
        CHECK(run_whole(neg, {}, std::nullopt).rejected);
        // 70000 > max_header: not a JSON header; as a header-less frame it does not fit.
        const Bytes s =
            cat({length_prefix(70000, ByteOrder::Little), bytes_of(R"({"file_size": 0})")});
        CHECK(run_whole(s).rejected);
        UploadOptions opts;
        opts.max_header = 10;
        CHECK(run_whole(cat({frame(R"({"file_size": 0})"), bytes_of("zz")}), opts).rejected);
    }
    SECTION("headers that are not JSON objects") {
        const Bytes tail = bytes_of("then some text");  // not a plausible length either way
        const std::vector<std::string> bad{
            "not json at all!",
            R"(["file_size", 3])",
            "{\"file_name\": \"\xff\xfe\", \"file_size\": 0}",  // not UTF-8
            R"({"a": 1} {"b": 2})",
            R"({"a": 1)",
            "\"just a string\"",
            "{\"a\": \"\\\"}\"}x",
            std::string("{\"a\": 1}\0", 9),
        };
        for (const std::string& h : bad) {
            const Run r = run_whole(cat({frame(h), tail}));
            CHECK(r.rejected);
            CHECK(r.rec.framed_calls == 0);
        }
    }
    SECTION("nesting: 64 deep is fine, 65 is not") {
        auto nested = [](int depth) {  // the object is level 1
            std::string h = "{\"a\":";
            for (int i = 1; i < depth; ++i)
                h += '[';
            h += '1';
            for (int i = 1; i < depth; ++i)
                h += ']';
            return h + ",\"file_size\":0}";
        };
        const Bytes tail = bytes_of("then some text");
        CHECK(run_whole(cat({frame(nested(64)), tail})).framed);
        CHECK(run_whole(cat({frame(nested(65)), tail})).rejected);
        CHECK(run_whole(cat({frame(nested(20000)), tail})).rejected);
        // Once framed, a bad header stops decoding and is reported as sent.
        const Run r = run_whole(
            cat({upload("ok", bytes_of("1")), frame(nested(5000)), upload("ok2", bytes_of("2"))}));
        CHECK(r.stopped);
        REQUIRE(r.rec.frames.size() == 2);
        CHECK(r.rec.frames[1].missing == "bad_header");
        CHECK(r.rec.frames[1].header == nested(5000));
    }
    SECTION("a bad length prefix after good frames") {
        const Run r = run_whole(cat({upload("ok", bytes_of("1")),
                                     length_prefix(0, ByteOrder::Little), bytes_of("garbage")}));
        CHECK(r.stopped);
        REQUIRE(r.rec.frames.size() == 2);
        CHECK(r.rec.frames[0].f.complete);
        CHECK(r.rec.frames[1].missing == "bad_length");
    }
    SECTION("random bytes and mangled uploads never crash") {
        std::mt19937 rng(99);
        const Bytes good = cat({upload("a", pattern(300, 1)), frame(R"({"status":"ok"})"),
                                upload("b", pattern(5, 2))});
        for (int i = 0; i < 400; ++i) {
            Bytes s;
            if (i % 2) {
                s = pattern(1 + rng() % 2000, static_cast<std::uint32_t>(i));
                if (i % 3 == 0) s[0] = s[1] = 0;  // a plausible big-endian length
                if (i % 5 == 0) s[3] = 0;         // a plausible little-endian length
            } else {
                s = good;
                for (int k = 0; k < 1 + i % 4; ++k)
                    s[rng() % s.size()] = static_cast<std::uint8_t>(rng());
            }
            UploadOptions opts;
            opts.forced = i % 7 == 0;
            opts.sha256 = i % 3 == 0;
            Recorder rec;
            FramedStreamDecoder d;
            d.reset(opts);
            const Plan plan = random_plan(s.size(), static_cast<std::uint32_t>(i), 40);
            std::size_t at = 0;
            for (const auto& [k, seg] : plan) {
                if (rng() % 50 == 0) {
                    d.gap(at, k, rec);
                } else {
                    d.data(s.data() + at, k, at, seg, 0, rec);
                }
                at += k;
            }
            d.end(static_cast<StreamEnd>(rng() % 5), rec);
            CHECK((d.framed() || d.rejected()));
            CHECK((rec.framed_calls == 1) == d.framed());
        }
    }
}

TEST_CASE("a decoder is reused across streams", "[upload]") {
    FramedStreamDecoder d;
    const Bytes up = upload("x", bytes_of("xyz"));
    for (int i = 0; i < 3; ++i) {
        Recorder rec;
        d.reset({});
        const Bytes s = i == 1 ? bytes_of("GET / HTTP/1.0\r\n\r\n") : up;
        d.data(s.data(), s.size(), 0, 0, 0, rec);
        d.end(StreamEnd::Fin, rec);
        if (i == 1) {
            CHECK(d.rejected());
        } else {
            REQUIRE(rec.frames.size() == 1);
            CHECK(rec.frames[0].f.index == 0);
            CHECK(rec.frames[0].f.digest_ok == 1);
        }
    }
}

namespace {

struct Segment {
    std::uint64_t rel_seq;
    Bytes payload;
    std::uint64_t ts_ns;
};

// The payloads of one connection (IPv4 over Ethernet), per direction, in sequence order.
void read_connection(const std::string& path, std::uint16_t client_port, std::uint16_t server_port,
                     std::vector<Segment>& c2s, std::vector<Segment>& s2c) {
    char err[PCAP_ERRBUF_SIZE];
    pcap_t* pc = pcap_open_offline(path.c_str(), err);
    REQUIRE(pc != nullptr);
    REQUIRE(pcap_datalink(pc) == DLT_EN10MB);
    const std::string filter =
        "tcp port " + std::to_string(client_port) + " and tcp port " + std::to_string(server_port);
    bpf_program prog;
    REQUIRE(pcap_compile(pc, &prog, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) == 0);
    REQUIRE(pcap_setfilter(pc, &prog) == 0);
    pcap_freecode(&prog);
    std::uint32_t isn[2] = {0, 0};
    bool have_isn[2] = {false, false};
    pcap_pkthdr* h = nullptr;
    const u_char* d = nullptr;
    while (pcap_next_ex(pc, &h, &d) == 1) {
        REQUIRE(h->caplen >= 14 + 20 + 20);
        REQUIRE((d[12] << 8 | d[13]) == 0x0800);
        const u_char* ip = d + 14;
        const std::size_t ihl = (ip[0] & 15u) * 4;
        const std::size_t total = static_cast<std::size_t>(ip[2] << 8 | ip[3]);
        const u_char* tcp = ip + ihl;
        const std::uint16_t sport = static_cast<std::uint16_t>(tcp[0] << 8 | tcp[1]);
        const std::size_t doff = (tcp[12] >> 4) * 4u;
        std::uint32_t seq;
        std::memcpy(&seq, tcp + 4, 4);
        seq = ntohl(seq);
        const int dir = sport == client_port ? 0 : 1;
        if (tcp[13] & 0x02) {  // SYN
            isn[dir] = seq + 1;
            have_isn[dir] = true;
            continue;
        }
        const std::size_t len = total - ihl - doff;
        if (len == 0) continue;
        REQUIRE(have_isn[dir]);
        REQUIRE(14 + total <= h->caplen);
        Segment s{static_cast<std::uint32_t>(seq - isn[dir]), Bytes(tcp + doff, tcp + doff + len),
                  std::uint64_t(h->ts.tv_sec) * 1000000000u + std::uint64_t(h->ts.tv_usec) * 1000u};
        (dir == 0 ? c2s : s2c).push_back(std::move(s));
    }
    pcap_close(pc);
    for (auto* v : {&c2s, &s2c})
        std::stable_sort(v->begin(), v->end(),
                         [](const Segment& a, const Segment& b) { return a.rel_seq < b.rel_seq; });
}

Recorder decode_segments(const std::vector<Segment>& segs) {
    Recorder rec;
    FramedStreamDecoder d;
    d.reset({});
    std::uint32_t id = 0;
    for (const Segment& s : segs)
        d.data(s.payload.data(), s.payload.size(), s.rel_seq, id++, s.ts_ns, rec);
    d.end(StreamEnd::Fin, rec);
    REQUIRE(d.framed());
    return rec;
}

}  // namespace

TEST_CASE("samples/upload-v4.pcap: the first connection's uploads and replies", "[upload]") {
    std::vector<Segment> c2s, s2c;
    read_connection(std::string(WIRELENS_SAMPLES_DIR) + "/upload-v4.pcap", 38000, 5001, c2s, s2c);
    REQUIRE(c2s.size() > 3);
    REQUIRE(s2c.size() == 3);

    const Recorder up = decode_segments(c2s);
    CHECK(up.order == ByteOrder::Little);
    CHECK(up.has_header);
    REQUIRE(up.frames.size() == 3);
    const char* names[] = {"empty.bin", "hello-1k.txt", "random-128k.bin"};
    const std::uint64_t sizes[] = {0, 1024, 131072};
    const char* md5s[] = {"d41d8cd98f00b204e9800998ecf8427e", "39896f64f65d4f0cac3694ce196765a8",
                          "5fcdac74aee70b96aa1d4f8be72b5505"};
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < 3; ++i) {
        const Seen& s = up.frames[i];
        CHECK(s.name == names[i]);
        CHECK(s.f.declared_size == sizes[i]);
        CHECK(s.f.received == sizes[i]);
        CHECK(s.f.complete);
        CHECK(std::string(s.f.md5) == md5s[i]);
        CHECK(s.f.digest_ok == 1);
        CHECK(s.begun);
        CHECK(s.body.size() == sizes[i]);
        CHECK(s.f.ts_start <= s.f.ts_end);
        total += 4 + s.header.size() + sizes[i];
    }
    CHECK(total == 132380);  // orig_bytes of the connection
    CHECK(up.frames[2].f.split);
    CHECK(up.frames[2].f.segments > 50);

    const Recorder replies = decode_segments(s2c);
    REQUIRE(replies.frames.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
        const Seen& s = replies.frames[i];
        CHECK_FALSE(s.f.has_size);
        CHECK(s.f.complete);
        CHECK(s.header.find("\"ok\"") != std::string::npos);
        CHECK(s.header.find(md5s[i]) != std::string::npos);
        CHECK(s.f.segments == 1);
        CHECK_FALSE(s.f.coalesced);
    }
}

namespace {

// Frame marks as told, with how many stream bytes had been fed when each came.
struct Mark {
    FrameMark kind;
    std::uint32_t frame;
    std::uint64_t offset, len;
    bool operator==(const Mark&) const = default;
};

struct MarkRecorder : Recorder {
    std::vector<Mark> marks;
    std::vector<std::uint64_t> told_at;
    std::uint64_t fed = 0;  // the end of the bytes of the data() call under way
    void frame_mark(FrameMark kind, std::uint32_t frame, std::uint64_t offset,
                    std::uint64_t len) override {
        marks.push_back({kind, frame, offset, len});
        told_at.push_back(fed);
    }
};

MarkRecorder marks_of(const Bytes& b, const Plan& plan) {
    MarkRecorder rec;
    FramedStreamDecoder d;
    d.reset({});
    std::size_t at = 0;
    for (const auto& [k, seg] : plan) {
        rec.fed = at + k;
        d.data(b.data() + at, k, at, seg, 0, rec);
        at += k;
    }
    d.end(StreamEnd::Fin, rec);
    return rec;
}

}  // namespace

TEST_CASE("frame marks: every boundary once, in order, as soon as it is known", "[upload]") {
    const Bytes b0 = bytes_of("first"), b1, b2 = pattern(3000, 41);
    const std::string h[] = {upload_header("a", b0), upload_header("b", b1),
                             upload_header("c", b2)};
    const Bytes* bodies[] = {&b0, &b1, &b2};
    const Bytes stream = cat({frame(h[0], b0), frame(h[1], b1), frame(h[2], b2)});
    std::vector<Mark> want;
    std::vector<std::uint64_t> want_at;  // fed one byte at a time
    std::uint64_t off = 0;
    for (std::uint32_t i = 0; i < 3; ++i) {
        const std::uint64_t body = off + 4 + h[i].size(), end = body + bodies[i]->size();
        want.push_back({FrameMark::Prefix, i, off, 4});
        want.push_back({FrameMark::Header, i, off + 4, h[i].size()});
        want.push_back({FrameMark::Body, i, body, bodies[i]->size()});
        want.push_back({FrameMark::End, i, end, end - off});
        // Frame 0's prefix and header are known once its header is in (the verdict).
        want_at.insert(want_at.end(), {i == 0 ? body : off + 1, i == 0 ? body : off + 4, body,
                                       std::max(end, body)});
        off = end;
    }
    for (const Plan& plan : all_plans(stream.size())) {
        const MarkRecorder r = marks_of(stream, plan);
        CHECK(r.marks == want);
    }
    CHECK(marks_of(stream, each_byte(stream.size())).told_at == want_at);
}

TEST_CASE("frame marks: header-less frames accepted after the fact, a gap in a body", "[upload]") {
    SECTION("header-less: the frames before the verdict are told at it") {
        const Bytes a = pattern(300, 51), b = pattern(20, 52), c = pattern(1000, 53);
        const Bytes s = cat({headerless(a), headerless(b), headerless(c)});
        const MarkRecorder r = marks_of(s, whole(s.size()));
        const std::uint64_t o1 = 4 + a.size(), o2 = o1 + 4 + b.size(), e = s.size();
        const std::vector<Mark> want = {{FrameMark::Prefix, 0, 0, 4},
                                        {FrameMark::Body, 0, 4, a.size()},
                                        {FrameMark::End, 0, o1, o1},
                                        {FrameMark::Prefix, 1, o1, 4},
                                        {FrameMark::Body, 1, o1 + 4, b.size()},
                                        {FrameMark::End, 1, o2, o2 - o1},
                                        {FrameMark::Prefix, 2, o2, 4},
                                        {FrameMark::Body, 2, o2 + 4, c.size()},
                                        {FrameMark::End, 2, e, e - o2}};
        CHECK(r.marks == want);
    }
    SECTION("a gap inside a body: the end is still where the body ends") {
        const Bytes body = pattern(1000, 54);
        const std::string h = upload_header("g", body);
        const Bytes s = frame(h, body);
        const std::uint64_t from = 4 + h.size() + 300;
        MarkRecorder rec;
        FramedStreamDecoder d;
        d.reset({});
        d.data(s.data(), from, 0, 0, 0, rec);
        d.gap(from, 200, rec);
        d.data(s.data() + from + 200, s.size() - from - 200, from + 200, 1, 0, rec);
        d.end(StreamEnd::Fin, rec);
        REQUIRE(rec.marks.size() == 4);
        CHECK(rec.marks[3] == Mark{FrameMark::End, 0, s.size(), s.size()});
        REQUIRE(rec.frames.size() == 1);
        CHECK(rec.frames[0].missing == "gap");
    }
}
