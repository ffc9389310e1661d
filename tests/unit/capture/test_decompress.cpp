// Compressed captures: the magic bytes decide (never the name), gzip, xz and
// zstd read as the plain file, a stream that breaks off is a cut file, and a
// source closed early (or failing to open) leaves no thread blocked.
#include <lzma.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "capture/decompress.hpp"
#include "capture/pcap_source.hpp"
#include "tests/unit/temp_dir.hpp"

using namespace wl;
namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

namespace {

// Each case's own folder.
struct TempDir : test::TempDir {
    TempDir() : test::TempDir("wl_decompress") {}
};

void put32(Bytes& b, std::uint32_t v) {
    for (int i = 0; i < 4; ++i)
        b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

// A little-endian microsecond pcap of `n` Ethernet frames of 60 bytes; frame i
// carries i in its first bytes.
Bytes make_pcap(std::uint32_t n) {
    Bytes b;
    put32(b, 0xa1b2c3d4);
    put32(b, 0x00040002);  // version 2.4
    put32(b, 0);
    put32(b, 0);
    put32(b, 65535);
    put32(b, 1);
    for (std::uint32_t i = 0; i < n; ++i) {
        put32(b, 1700000000 + i);
        put32(b, 0);
        put32(b, 60);
        put32(b, 60);
        Bytes frame(60, static_cast<std::uint8_t>(i * 7));
        for (int k = 0; k < 4; ++k)
            frame[k] = static_cast<std::uint8_t>(i >> (8 * k));
        for (const auto byte : frame)
            b.push_back(byte);
    }
    return b;
}

Bytes gzip_of(const Bytes& in) {
    z_stream z{};
    REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    Bytes out(deflateBound(&z, in.size()) + 64);
    z.next_in = const_cast<Bytes::value_type*>(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

Bytes xz_of(const Bytes& in) {
    Bytes out(lzma_stream_buffer_bound(in.size()));
    std::size_t pos = 0;
    REQUIRE(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, nullptr, in.data(), in.size(), out.data(),
                                    &pos, out.size()) == LZMA_OK);
    out.resize(pos);
    return out;
}

Bytes zstd_of(const Bytes& in) {
    Bytes out(ZSTD_compressBound(in.size()));
    const std::size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3);
    REQUIRE(!ZSTD_isError(n));
    out.resize(n);
    return out;
}

// Reads every frame; returns the frame count and the final status's error.
// `check_content` off: xz emits what it decoded before its check catches a
// damaged block, so the last frames before the damage may be garbled.
std::uint32_t read_all(PcapSource& src, PcapSource::Status& last, std::string& err,
                       bool check_content = true) {
    RawFrame f{};
    std::uint32_t n = 0;
    for (;;) {
        last = src.next(f);
        if (last != PcapSource::Status::Frame) break;
        if (check_content) REQUIRE(f.caplen == 60);
        if (check_content)
            CHECK((f.data[0] | f.data[1] << 8 | f.data[2] << 16) == static_cast<int>(n & 0xffffff));
        ++n;
    }
    err = last == PcapSource::Status::Error ? src.error() : "";
    return n;
}

std::size_t open_fds() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/fd"))
        ++n;
    return n;
}

}  // namespace

TEST_CASE("decompress: magic bytes name the compression", "[capture][decompress]") {
    const std::uint8_t gz[] = {0x1f, 0x8b, 0x08};
    const std::uint8_t zst[] = {0x28, 0xb5, 0x2f, 0xfd};
    const std::uint8_t xz[] = {0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00};
    const std::uint8_t pcap[] = {0xd4, 0xc3, 0xb2, 0xa1, 0, 0};
    CHECK(compression_of(gz, sizeof gz) == Compression::Gzip);
    CHECK(compression_of(zst, sizeof zst) == Compression::Zstd);
    CHECK(compression_of(xz, sizeof xz) == Compression::Xz);
    CHECK(compression_of(xz, 5) == Compression::None);  // too short to tell
    CHECK(compression_of(zst, 3) == Compression::None);
    CHECK(compression_of(pcap, sizeof pcap) == Compression::None);
    CHECK(may_be_compressed(0x1f));
    CHECK(may_be_compressed(0x28));
    CHECK(may_be_compressed(0xfd));
    for (int b : {0xd4, 0xa1, 0x4d, 0x34, 0x0a})
        CHECK_FALSE(may_be_compressed(b));  // pcap, pcapng
    CHECK(std::string(compression_name(Compression::Zstd)) == "zstd");
}

TEST_CASE("decompress: gzip, xz and zstd read as the plain file, whatever the name",
          "[capture][decompress]") {
    TempDir tmp;
    const Bytes plain = make_pcap(20000);  // ~1.5 MB: more than the pipe holds
    struct Case {
        const char* name;
        Bytes bytes;
        Compression kind;
    };
    const Case cases[] = {{"plain.gz", plain, Compression::None},  // a name proves nothing
                          {"gz.pcap", gzip_of(plain), Compression::Gzip},
                          {"xz.pcap", xz_of(plain), Compression::Xz},
                          {"zstd.pcap", zstd_of(plain), Compression::Zstd}};
    for (const auto& c : cases) {
        INFO(c.name);
        std::string err;
        auto src = PcapSource::open_file(tmp.write(c.name, c.bytes), err);
        REQUIRE(src);
        CHECK(src->compression() == c.kind);
        CHECK(src->linktype() == 1);
        PcapSource::Status last{};
        CHECK(read_all(*src, last, err) == 20000);
        CHECK(last == PcapSource::Status::End);
    }
}

TEST_CASE("decompress: concatenated gzip members read as one stream", "[capture][decompress]") {
    TempDir tmp;
    const Bytes plain = make_pcap(500);
    const std::size_t cut = 1000;  // inside a record: the members split the bytes, not records
    Bytes two = gzip_of(Bytes(plain.begin(), plain.begin() + cut));
    const Bytes rest = gzip_of(Bytes(plain.begin() + cut, plain.end()));
    for (const auto byte : rest)
        two.push_back(byte);
    std::string err;
    auto src = PcapSource::open_file(tmp.write("two.gz", two), err);
    REQUIRE(src);
    PcapSource::Status last{};
    CHECK(read_all(*src, last, err) == 500);
    CHECK(last == PcapSource::Status::End);
}

TEST_CASE("decompress: a stream that breaks off is a cut file", "[capture][decompress]") {
    TempDir tmp;
    const Bytes plain = make_pcap(5000);
    std::string err;
    SECTION("gzip cut in the middle") {
        Bytes gz = gzip_of(plain);
        gz.resize(gz.size() / 2);
        auto src = PcapSource::open_file(tmp.write("cut.gz", gz), err);
        REQUIRE(src);
        PcapSource::Status last{};
        const auto n = read_all(*src, last, err);
        CHECK(n > 0);
        CHECK(n < 5000);
        CHECK(last == PcapSource::Status::Error);
        CHECK(err.find("gzip data truncated at compressed byte") == 0);
    }
    SECTION("gzip without its trailer: every record there, the end missing") {
        Bytes gz = gzip_of(plain);
        gz.resize(gz.size() - 4);  // the length field of the trailer
        auto src = PcapSource::open_file(tmp.write("notrailer.gz", gz), err);
        REQUIRE(src);
        PcapSource::Status last{};
        CHECK(read_all(*src, last, err) == 5000);
        CHECK(last == PcapSource::Status::Error);
        CHECK(err.find("gzip data truncated") == 0);
    }
    SECTION("xz with a byte flipped") {
        Bytes xz = xz_of(plain);
        xz[xz.size() / 2] ^= 0xff;
        auto src = PcapSource::open_file(tmp.write("bad.xz", xz), err);
        REQUIRE(src);
        PcapSource::Status last{};
        CHECK(read_all(*src, last, err, false) < 5000);
        CHECK(last == PcapSource::Status::Error);
        CHECK(err.find("xz data corrupt") == 0);
    }
    SECTION("zstd cut in the middle") {
        Bytes zst = zstd_of(plain);
        zst.resize(zst.size() / 2);
        auto src = PcapSource::open_file(tmp.write("cut.zst", zst), err);
        REQUIRE(src);
        PcapSource::Status last{};
        CHECK(read_all(*src, last, err) < 5000);
        CHECK(last == PcapSource::Status::Error);
        CHECK(err.find("zstd data truncated") == 0);
    }
}

TEST_CASE("decompress: no capture inside, or no stream at all: one line, no source",
          "[capture][decompress]") {
    TempDir tmp;
    std::string err;
    const std::string text = "not a capture\n";
    CHECK_FALSE(
        PcapSource::open_file(tmp.write("text.gz", gzip_of(Bytes(text.begin(), text.end()))), err));
    CHECK(err.find("unknown file format (gzip-compressed)") != std::string::npos);

    Bytes junk = {0x1f, 0x8b};
    for (int i = 0; i < 3000; ++i)
        junk.push_back(static_cast<std::uint8_t>(i * 73 + 41));
    CHECK_FALSE(PcapSource::open_file(tmp.write("junk.gz", junk), err));
    CHECK(err.find("gzip data corrupt") != std::string::npos);
    CHECK(err.find('\n') == std::string::npos);

    const Bytes almost = {0x28, 0xb5, 0x2f, 0x00, 1, 2, 3};  // starts as zstd, is not
    CHECK_FALSE(PcapSource::open_file(tmp.write("almost", almost), err));
    CHECK(err.find("unknown file format") != std::string::npos);
}

TEST_CASE("decompress: a source closed early leaves no thread blocked, no fd open",
          "[capture][decompress]") {
    TempDir tmp;
    const auto path = tmp.write("big.gz", gzip_of(make_pcap(60000)));  // ~4.6 MB decompressed
    const std::size_t fds = open_fds();
    for (int round = 0; round < 20; ++round) {
        std::string err;
        auto src = PcapSource::open_file(path, err);
        REQUIRE(src);
        RawFrame f{};
        for (int i = 0; i < round; ++i)
            REQUIRE(src->next(f) == PcapSource::Status::Frame);
        src.reset();  // joins: the writer sees EPIPE on the closed pipe
        CHECK(open_fds() == fds);
    }
    // The error paths: nothing inside, a broken stream, a cut one read to its end.
    std::string err;
    const std::string text = "not a capture\n";
    CHECK_FALSE(
        PcapSource::open_file(tmp.write("t.gz", gzip_of(Bytes(text.begin(), text.end()))), err));
    CHECK_FALSE(PcapSource::open_file(tmp.write("j.gz", {0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7}), err));
    Bytes cut = gzip_of(make_pcap(5000));
    cut.resize(cut.size() / 2);
    {
        auto src = PcapSource::open_file(tmp.write("cut.gz", cut), err);
        REQUIRE(src);
        PcapSource::Status last{};
        read_all(*src, last, err);
        CHECK(last == PcapSource::Status::Error);
    }
    CHECK(open_fds() == fds);
}
