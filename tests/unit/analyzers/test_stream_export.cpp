// StreamExporter (--streams DIR) on real bytes: a TcpReassembler fed segments
// cut from a pseudo-random stream drives the exporter into a fresh folder under
// /tmp; each test reads the files back (bytes, holes through SEEK_DATA and
// SEEK_HOLE) and parses index.jsonl. A hostile folder (a file or a symlink
// where a stream file will go, one swapped in while the file is closed) must
// never be followed or overwritten.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "analyzers/stream_export.hpp"
#include "flow/tcp_reassembler.hpp"
#include "flow/uid.hpp"

using namespace wl;
namespace fs = std::filesystem;
using ByteVec = std::vector<std::uint8_t>;
using nlohmann::json;

namespace {

constexpr int O = 0;
constexpr int R = 1;
constexpr std::uint64_t kSec = 1'000'000'000ull;
constexpr std::uint64_t kMs = 1'000'000ull;

ByteVec make_stream(std::size_t n, std::uint32_t seed) {
    std::mt19937 rng(seed);
    ByteVec b(n);
    for (auto& x : b)
        x = static_cast<std::uint8_t>(rng() >> 24);
    return b;
}

ByteVec slice(const ByteVec& s, std::size_t begin, std::size_t end) {
    return ByteVec(s.begin() + static_cast<std::ptrdiff_t>(begin),
                   s.begin() + static_cast<std::ptrdiff_t>(end));
}

ByteVec read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return ByteVec((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string uid_of(const Connection& c) {
    char uid[19];
    conn_uid(c, uid);
    return uid;
}

// Harness' connection i (below).
Connection harness_conn(std::uint32_t i) {
    Connection c{};
    c.key.ip_version = 4;
    c.proto = 6;
    const std::uint8_t a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 2};
    std::memcpy(c.orig.addr, a, 4);
    std::memcpy(c.resp.addr, b, 4);
    c.orig.port = static_cast<std::uint16_t>(40000 + i);
    c.resp.port = 80;
    c.start_ns = 1000 + i;
    c.tcp_stream = 7 + i;
    return c;
}

std::string uid_of(std::uint32_t i) {
    return uid_of(harness_conn(i));
}

// A fresh tree: root/out is DIR, root/outside what must stay untouched.
struct Tree {
    fs::path root, dir, outside;
    Tree() {
        char tmpl[] = "/tmp/wirelens-streams-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        root = tmpl;
        dir = root / "out";
        outside = root / "outside";
        fs::create_directory(outside);
        std::ofstream(outside / "victim", std::ios::binary) << "victim bytes";
    }
    ~Tree() {
        std::error_code ec;
        fs::remove_all(root, ec);
    }
    Tree(const Tree&) = delete;
    Tree& operator=(const Tree&) = delete;
    std::string victim() const {
        std::ifstream in(outside / "victim");
        return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    }
};

// Connections in slots 0..n-1: IPv4 10.0.0.1:(40000+i) -> 10.0.0.2:80, started
// at 1000+i ns, tcp.stream 7+i.
struct Harness {
    std::vector<Connection> conns;
    StreamExporter exporter;
    TcpReassembler reasm;

    Harness(std::uint32_t n, const StreamExportOptions& opts)
        : conns(n),
          exporter(n, [this](std::uint32_t i) -> const Connection& { return conns[i]; }),
          reasm(n, ReassemblyOptions{}, exporter) {
        for (std::uint32_t i = 0; i < n; ++i)
            conns[i] = harness_conn(i);
        std::string error;
        REQUIRE(exporter.open(opts, error));
        for (std::uint32_t i = 0; i < n; ++i)
            reasm.start(i);
    }
    // Stream bytes [begin, end) as one segment (after a SYN: offset 0 is position 1).
    void feed(std::uint32_t conn, int dir, const ByteVec& s, std::size_t begin, std::size_t end,
              std::uint64_t ts) {
        reasm.segment(conn, dir, 1 + begin, s.data() + begin,
                      static_cast<std::uint32_t>(end - begin),
                      static_cast<std::uint32_t>(end - begin), true, ts);
    }
    std::string name(std::uint32_t conn, int dir) const {
        return "tcp" + std::to_string(7 + conn) + "-" + uid_of(conn) +
               (dir == 0 ? "-orig.bin" : "-resp.bin");
    }
};

StreamExportOptions options_for(const Tree& t) {
    StreamExportOptions o;
    o.dir = t.dir.string();
    return o;
}

std::vector<json> read_index(const fs::path& dir) {
    std::vector<json> out;
    std::ifstream in(dir / "index.jsonl");
    for (std::string line; std::getline(in, line);)
        out.push_back(json::parse(line));
    return out;
}

const json* record(const std::vector<json>& idx, const std::string& file) {
    for (const json& r : idx) {
        if (r.at("file") == file) return &r;
    }
    return nullptr;
}

int open_fds() {
    int n = 0;
    DIR* d = ::opendir("/proc/self/fd");
    while (::readdir(d) != nullptr)
        ++n;
    ::closedir(d);
    return n;
}

}  // namespace

TEST_CASE("streams: bytes at their offsets, missing bytes as holes named in the index",
          "[streams]") {
    Tree t;
    Harness h(1, options_for(t));
    const ByteVec s = make_stream(40960, 1);
    const ByteVec reply = make_stream(3000, 2);
    // 0..8 KiB, then 24..32 KiB; the peer acknowledges up to 24 KiB: 8..24 KiB was
    // never captured. A FIN at 40 KiB: 32..40 KiB missing at the end.
    h.feed(0, O, s, 0, 8192, 1 * kSec);
    h.feed(0, O, s, 24576, 32768, 1 * kSec + 1 * kMs);
    h.reasm.acked(0, O, 1 + 24576);
    h.reasm.fin(0, O, 1 + 40960);
    h.feed(0, R, reply, 0, 3000, 2 * kSec);
    h.reasm.finish(0, ConnEnd::Closed, false);
    h.exporter.finish();

    const fs::path orig = t.dir / h.name(0, O), resp = t.dir / h.name(0, R);
    REQUIRE(fs::is_regular_file(orig));
    REQUIRE(fs::file_size(orig) == 40960);
    ByteVec expect = s;
    std::fill(expect.begin() + 8192, expect.begin() + 24576, 0);
    std::fill(expect.begin() + 32768, expect.end(), 0);
    CHECK(read_file(orig) == expect);
    CHECK(read_file(resp) == reply);
    // The missing bytes are holes (4 KiB aligned: whole blocks on any file system).
    const int fd = ::open(orig.c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    CHECK(::lseek(fd, 0, SEEK_HOLE) == 8192);
    CHECK(::lseek(fd, 8192, SEEK_DATA) == 24576);
    CHECK(::lseek(fd, 24576, SEEK_HOLE) == 32768);
    ::close(fd);

    const auto idx = read_index(t.dir);
    REQUIRE(idx.size() == 2);
    const json* o = record(idx, h.name(0, O));
    REQUIRE(o != nullptr);
    CHECK((*o)["uid"] == uid_of(0u));
    CHECK((*o)["stream"] == 7);
    CHECK((*o)["dir"] == "orig");
    CHECK((*o)["orig_h"] == "10.0.0.1");
    CHECK((*o)["orig_p"] == 40000);
    CHECK((*o)["resp_h"] == "10.0.0.2");
    CHECK((*o)["resp_p"] == 80);
    CHECK((*o)["src"] == "10.0.0.1:40000");
    CHECK((*o)["dst"] == "10.0.0.2:80");
    CHECK((*o)["bytes"] == 16384);
    CHECK((*o)["stream_bytes"] == 40960);
    CHECK((*o)["missing_bytes"] == 24576);
    CHECK((*o)["first_ts"].get<double>() == Approx(1.0));
    CHECK((*o)["last_ts"].get<double>() == Approx(1.001));
    const json gaps = (*o)["gaps"];
    REQUIRE(gaps.size() == 2);
    CHECK(gaps[0] ==
          json{{"offset", 8192}, {"length", 16384}, {"cause", "not_captured"}, {"in_file", false}});
    CHECK(gaps[1] == json{{"offset", 32768},
                          {"length", 8192},
                          {"cause", "unacknowledged_tail"},
                          {"in_file", false}});
    CHECK_FALSE(o->contains("truncated"));
    const json* r = record(idx, h.name(0, R));
    REQUIRE(r != nullptr);
    CHECK((*r)["dir"] == "resp");
    CHECK((*r)["src"] == "10.0.0.2:80");
    CHECK((*r)["bytes"] == 3000);
    CHECK((*r)["gaps"].empty());
    CHECK(h.exporter.counters().streams == 2);
    CHECK(h.exporter.counters().bytes_written == 16384 + 3000);
}

TEST_CASE("streams: bytes that came late are in the file, retransmitted ones listed", "[streams]") {
    Tree t;
    Harness h(1, options_for(t));
    const ByteVec s = make_stream(5000, 3);
    h.feed(0, O, s, 0, 1000, 1 * kSec);
    h.feed(0, O, s, 2000, 3000, 1 * kSec + 1 * kMs);    // [1000, 2000) missing from here
    h.feed(0, O, s, 1000, 2000, 1 * kSec + 200 * kMs);  // 199 ms later: retransmitted
    h.feed(0, O, s, 4000, 5000, 1 * kSec + 201 * kMs);
    h.feed(0, O, s, 3000, 4000, 1 * kSec + 202 * kMs);  // 1 ms later: reordered
    h.reasm.finish(0, ConnEnd::Closed, false);
    h.exporter.finish();

    CHECK(read_file(t.dir / h.name(0, O)) == s);
    const auto idx = read_index(t.dir);
    REQUIRE(idx.size() == 1);
    const json& o = idx[0];
    CHECK(o["bytes"] == 5000);
    CHECK(o["missing_bytes"] == 0);
    CHECK(o["retransmitted_bytes"] == 1000);
    CHECK(o["reordered_bytes"] == 1000);
    REQUIRE(o["gaps"].size() == 1);
    CHECK(o["gaps"][0] ==
          json{{"offset", 1000}, {"length", 1000}, {"cause", "retransmitted"}, {"in_file", true}});
}

TEST_CASE("streams: the per-stream and total caps", "[streams]") {
    Tree t;
    StreamExportOptions opts = options_for(t);
    const ByteVec s = make_stream(3000, 4);
    SECTION("--streams-max") {
        opts.max_stream = 1500;
        Harness h(1, opts);
        h.feed(0, O, s, 0, 1000, kSec);
        h.feed(0, O, s, 1000, 3000, kSec + 1);
        h.reasm.finish(0, ConnEnd::Closed, false);
        h.exporter.finish();
        CHECK(read_file(t.dir / h.name(0, O)) == slice(s, 0, 1500));
        const auto idx = read_index(t.dir);
        REQUIRE(idx.size() == 1);
        CHECK(idx[0]["bytes"] == 1500);
        CHECK(idx[0]["stream_bytes"] == 3000);
        CHECK(idx[0]["truncated"] == "stream_cap");
        CHECK(idx[0]["bytes_not_written"] == 1500);
        CHECK(h.exporter.counters().truncated == 1);
    }
    SECTION("--streams-total") {
        opts.max_total = 4000;
        Harness h(2, opts);
        h.feed(0, O, s, 0, 3000, kSec);
        h.feed(1, O, s, 0, 3000, kSec + 1);
        h.reasm.finish(0, ConnEnd::Closed, false);
        h.reasm.finish(1, ConnEnd::Closed, false);
        h.exporter.finish();
        CHECK(read_file(t.dir / h.name(0, O)) == s);
        CHECK(read_file(t.dir / h.name(1, O)) == slice(s, 0, 1000));
        const auto idx = read_index(t.dir);
        const json* second = record(idx, h.name(1, O));
        REQUIRE(second != nullptr);
        CHECK((*second)["truncated"] == "total_cap");
        CHECK((*second)["bytes_not_written"] == 2000);
        CHECK_FALSE(record(idx, h.name(0, O))->contains("truncated"));
        CHECK(h.exporter.counters().bytes_written == 4000);
    }
}

TEST_CASE("streams: an existing file or a planted symlink is never written", "[streams]") {
    Tree t;
    fs::create_directory(t.dir);
    const ByteVec s = make_stream(2000, 5);
    StreamExportOptions opts = options_for(t);
    const std::string taken = "tcp7-" + uid_of(0u) + "-orig.bin";  // Harness::name(0, O)
    SECTION("a file") {
        std::ofstream(t.dir / taken, std::ios::binary) << "keep";
    }
    SECTION("a symlink to a file outside") {
        fs::create_symlink(t.outside / "victim", t.dir / taken);
    }
    SECTION("a dangling symlink") {
        fs::create_symlink(t.outside / "made-by-wirelens", t.dir / taken);
    }
    Harness h(1, opts);
    h.feed(0, O, s, 0, 2000, kSec);
    h.feed(0, R, s, 0, 100, kSec);
    h.reasm.finish(0, ConnEnd::Closed, false);
    h.exporter.finish();
    CHECK(t.victim() == "victim bytes");
    CHECK_FALSE(fs::exists(t.outside / "made-by-wirelens"));
    if (fs::is_symlink(t.dir / taken)) {
        CHECK(fs::read_symlink(t.dir / taken).parent_path() == t.outside);
    } else {
        CHECK(read_file(t.dir / taken) == ByteVec{'k', 'e', 'e', 'p'});
    }
    CHECK(read_file(t.dir / h.name(0, R)) == slice(s, 0, 100));  // the other one is written
    const auto idx = read_index(t.dir);
    const json* o = record(idx, taken);
    REQUIRE(o != nullptr);
    CHECK((*o)["refused"] == "exists");
    CHECK((*o)["bytes"] == 0);
    CHECK((*o)["bytes_not_written"] == 2000);
    CHECK(h.exporter.counters().files_refused == 1);
}

TEST_CASE("streams: at most max_open_files open at once, content intact", "[streams]") {
    Tree t;
    StreamExportOptions opts = options_for(t);
    opts.max_open_files = 4;
    opts.buffer_bytes = 512;
    constexpr std::uint32_t kConns = 40;
    Harness h(kConns, opts);
    const int base = open_fds();
    std::vector<ByteVec> streams;
    for (std::uint32_t i = 0; i < kConns; ++i)
        streams.push_back(make_stream(3000 + 37 * i, 100 + i));
    int most = 0;
    for (std::size_t at = 0; at < 4500; at += 300) {
        for (std::uint32_t i = 0; i < kConns; ++i) {
            const ByteVec& s = streams[i];
            if (at >= s.size()) continue;
            h.feed(i, i % 2, s, at, std::min(s.size(), at + 300), kSec + at);
            most = std::max(most, open_fds() - base);
            CHECK(h.exporter.open_files() <= 4);
        }
    }
    CHECK(most <= 4);
    for (std::uint32_t i = 0; i < kConns; ++i)
        h.reasm.finish(i, ConnEnd::Closed, false);
    h.exporter.finish();
    for (std::uint32_t i = 0; i < kConns; ++i)
        CHECK(read_file(t.dir / h.name(i, static_cast<int>(i % 2))) == streams[i]);
    CHECK(h.exporter.counters().reopened > 0);
    CHECK(h.exporter.counters().files_refused == 0);
    CHECK(read_index(t.dir).size() == kConns);
}

TEST_CASE("streams: a file swapped while closed for room is refused, not written", "[streams]") {
    for (int variant = 0; variant < 3; ++variant) {
        Tree t;
        StreamExportOptions opts = options_for(t);
        opts.max_open_files = 4;
        Harness h(5, opts);
        std::vector<ByteVec> streams;
        for (std::uint32_t i = 0; i < 5; ++i)
            streams.push_back(make_stream(2000, 200 + i));
        const ByteVec& s = streams[0];
        h.feed(0, O, s, 0, 1000, kSec);
        for (std::uint32_t i = 1; i <= 4; ++i)  // closes stream 0's file
            h.feed(i, O, streams[i], 0, 100, kSec);
        const fs::path p = t.dir / h.name(0, O);
        REQUIRE(read_file(p) == slice(s, 0, 1000));
        fs::remove(p);
        if (variant == 0) fs::create_symlink(t.outside / "victim", p);
        if (variant == 1) std::ofstream(p, std::ios::binary) << "other";
        if (variant == 2) REQUIRE(::mkfifo(p.c_str(), 0644) == 0);
        INFO("variant " << variant);
        h.feed(0, O, s, 1000, 2000, kSec + 1);
        h.reasm.finish(0, ConnEnd::Closed, false);
        h.exporter.finish();
        CHECK(t.victim() == "victim bytes");
        if (variant == 0) CHECK(fs::is_symlink(p));
        if (variant == 1) CHECK(read_file(p) == ByteVec{'o', 't', 'h', 'e', 'r'});
        if (variant == 2) CHECK(fs::is_fifo(p));
        const auto idx = read_index(t.dir);
        const json* o = record(idx, h.name(0, O));
        REQUIRE(o != nullptr);
        CHECK((*o)["refused"] == "replaced");
        CHECK((*o)["bytes"] == 1000);
        CHECK((*o)["bytes_not_written"] == 1000);
    }
}

TEST_CASE("streams: the gap list is bounded, adjacent same-cause entries merge", "[streams]") {
    Tree t;
    Harness h(1, options_for(t));
    StreamExporter& x = h.exporter;
    const ByteVec s = make_stream(100, 6);
    std::uint64_t at = 0;
    for (int i = 0; i < 100; ++i) {
        x.stream_data(0, O, at, s.data(), 100, 0, kSec, true);
        at += 100;
        if (i == 0) {
            x.stream_gap(0, O, at, 50, GapCause::NotCaptured);
            x.stream_gap(0, O, at + 50, 50, GapCause::NotCaptured);  // merges into one entry
        } else {
            x.stream_gap(0, O, at, 100, GapCause::NotCaptured);
        }
        at += 100;
    }
    x.stream_gap(0, O, at, 10, GapCause::Snaplen);
    x.stream_end(0, O, ConnEnd::Closed, false);
    x.finish();
    const auto idx = read_index(t.dir);
    REQUIRE(idx.size() == 1);
    const json& o = idx[0];
    REQUIRE(o["gaps"].size() == StreamExporter::kGapsListed);
    CHECK(o["gaps"][0]["length"] == 100);
    CHECK(o["gaps"][63]["offset"] == 63 * 200 + 100);
    CHECK(o["gaps_not_listed"] == 100 + 1 - 64);
    CHECK(o["missing_bytes"] == 100 * 100 + 10);
    CHECK(o["stream_bytes"] == at + 10);
    CHECK(fs::file_size(t.dir / h.name(0, O)) == at + 10);
}

TEST_CASE("streams: DIR is made when missing; a bad DIR or an old index is an error", "[streams]") {
    Tree t;
    std::vector<Connection> conns(1);
    StreamExporter x(1, [&conns](std::uint32_t i) -> const Connection& { return conns[i]; });
    std::string error;
    StreamExportOptions opts;
    SECTION("missing: made") {
        opts.dir = t.dir.string();
        CHECK(x.open(opts, error));
        CHECK(fs::is_directory(t.dir));
        CHECK(fs::exists(t.dir / "index.jsonl"));
    }
    SECTION("a file") {
        opts.dir = (t.outside / "victim").string();
        CHECK_FALSE(x.open(opts, error));
        CHECK(error.find("not a directory") != std::string::npos);
        CHECK(t.victim() == "victim bytes");
    }
    SECTION("an earlier run's index") {
        fs::create_directory(t.dir);
        std::ofstream(t.dir / "index.jsonl") << "old\n";
        opts.dir = t.dir.string();
        CHECK_FALSE(x.open(opts, error));
        CHECK(error.find("index.jsonl") != std::string::npos);
        CHECK(error.find('\n') == std::string::npos);
    }
}

TEST_CASE("streams: IPv6 endpoints, and roles swapped after the first bytes", "[streams]") {
    Tree t;
    std::vector<Connection> conns(1);
    Connection& c = conns[0];
    c.key.ip_version = 6;
    const std::uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    const std::uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    std::memcpy(c.orig.addr, a, 16);
    std::memcpy(c.resp.addr, b, 16);
    c.orig.port = 443;  // seen first: a SYN-ACK before its SYN, say
    c.resp.port = 50000;
    c.proto = 6;
    c.start_ns = 5;
    const std::string uid = uid_of(c);
    c.tcp_stream = 0;
    StreamExporter x(1, [&conns](std::uint32_t i) -> const Connection& { return conns[i]; });
    std::string error;
    StreamExportOptions opts = options_for(t);
    REQUIRE(x.open(opts, error));
    const ByteVec s = make_stream(300, 7);
    x.stream_start(0);
    x.stream_data(0, O, 0, s.data(), 100, 0, kSec, true);  // from [2001:db8::1]:443
    // The flow stage swaps the roles: what was the originator is the responder.
    std::swap(c.orig, c.resp);
    x.stream_swap(0);
    x.stream_data(0, R, 100, s.data() + 100, 200, 1, kSec + 1, true);
    x.stream_end(0, R, ConnEnd::Closed, false);
    x.finish();

    const std::string file = "tcp0-" + uid + "-orig.bin";  // named before the swap
    CHECK(read_file(t.dir / file) == s);
    const auto idx = read_index(t.dir);
    REQUIRE(idx.size() == 1);
    const json& r = idx[0];
    CHECK(r["file"] == file);
    CHECK(r["dir"] == "resp");
    CHECK(r["orig_h"] == "2001:db8::2");
    CHECK(r["orig_p"] == 50000);
    CHECK(r["resp_h"] == "2001:db8::1");
    CHECK(r["resp_p"] == 443);
    CHECK(r["src"] == "[2001:db8::1]:443");
    CHECK(r["dst"] == "[2001:db8::2]:50000");
    CHECK(r["bytes"] == 300);
}

TEST_CASE("streams: bytes cut by the snap length are a snaplen hole", "[streams]") {
    Tree t;
    Harness h(1, options_for(t));
    const ByteVec s = make_stream(2500, 8);
    h.feed(0, O, s, 0, 1000, kSec);
    h.reasm.segment(0, O, 1 + 1000, s.data() + 1000, 96, 1000, true, kSec + 1);  // 96 of 1000
    h.feed(0, O, s, 2000, 2500, kSec + 2);
    h.reasm.finish(0, ConnEnd::Closed, false);
    h.exporter.finish();
    ByteVec expect = s;
    std::fill(expect.begin() + 1000, expect.begin() + 2000, 0);
    CHECK(read_file(t.dir / h.name(0, O)) == expect);
    const auto idx = read_index(t.dir);
    REQUIRE(idx.size() == 1);
    REQUIRE(idx[0]["gaps"].size() == 1);
    CHECK(idx[0]["gaps"][0] ==
          json{{"offset", 1000}, {"length", 1000}, {"cause", "snaplen"}, {"in_file", false}});
    CHECK(idx[0]["missing_bytes"] == 1000);
    CHECK(idx[0]["bytes"] == 1500);
}
