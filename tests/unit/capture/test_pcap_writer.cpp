// The -w writer: frames written and read back through PcapSource, and
// tcpdump's rotation (-C by size, -W ring, -G by capture time) on files in a
// temporary folder of the test's own.
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "capture/pcap_source.hpp"
#include "capture/pcap_writer.hpp"
#include "tests/unit/temp_dir.hpp"

using namespace wl;
namespace fs = std::filesystem;

namespace {

// Each case's own folder.
struct TempDir : test::TempDir {
    TempDir() : test::TempDir("wl_writer") {}
};

// A frame whose bytes say which frame it is.
struct Frame {
    std::vector<std::uint8_t> bytes;
    std::uint64_t ts_ns;
    std::uint32_t len;
    RawFrame raw() const {
        return RawFrame{bytes.data(), static_cast<std::uint32_t>(bytes.size()), len, ts_ns};
    }
};

Frame make_frame(std::uint32_t id, std::size_t size, std::uint64_t ts_ns) {
    Frame f;
    f.bytes.resize(size);
    for (std::size_t i = 0; i < size; ++i)
        f.bytes[i] = static_cast<std::uint8_t>(id * 31 + i);
    if (size >= 4) {
        f.bytes[0] = static_cast<std::uint8_t>(id >> 24);
        f.bytes[1] = static_cast<std::uint8_t>(id >> 16);
        f.bytes[2] = static_cast<std::uint8_t>(id >> 8);
        f.bytes[3] = static_cast<std::uint8_t>(id);
    }
    f.ts_ns = ts_ns;
    f.len = static_cast<std::uint32_t>(size);
    return f;
}

struct ReadBack {
    std::vector<Frame> frames;
    int linktype = -1;
    std::uint32_t snaplen = 0;
};

ReadBack read_back(const std::string& path) {
    ReadBack rb;
    std::string err;
    auto src = PcapSource::open_file(path, err);
    INFO(err);
    REQUIRE(src);
    rb.linktype = src->linktype();
    rb.snaplen = src->snaplen();
    RawFrame f{};
    PcapSource::Status st;
    while ((st = src->next(f)) == PcapSource::Status::Frame) {
        Frame copy;
        copy.bytes.assign(f.data, f.data + f.caplen);
        copy.ts_ns = f.ts_ns;
        copy.len = f.len;
        rb.frames.push_back(std::move(copy));
    }
    REQUIRE(st == PcapSource::Status::End);
    return rb;
}

std::uint32_t id_of(const Frame& f) {
    return (std::uint32_t{f.bytes[0]} << 24) | (std::uint32_t{f.bytes[1]} << 16) |
           (std::uint32_t{f.bytes[2]} << 8) | f.bytes[3];
}

std::vector<std::uint32_t> ids_in(const std::string& path) {
    std::vector<std::uint32_t> ids;
    for (const auto& f : read_back(path).frames)
        ids.push_back(id_of(f));
    return ids;
}

std::vector<std::uint32_t> range(std::uint32_t first, std::uint32_t last) {
    std::vector<std::uint32_t> v;
    for (std::uint32_t i = first; i <= last; ++i)
        v.push_back(i);
    return v;
}

// Local time is UTC while a test runs.
struct UtcZone {
    std::string old;
    bool had;
    UtcZone() : had(getenv("TZ") != nullptr) {
        if (had) old = getenv("TZ");
        setenv("TZ", "UTC", 1);
        tzset();
    }
    ~UtcZone() {
        if (had) {
            setenv("TZ", old.c_str(), 1);
        } else {
            unsetenv("TZ");
        }
        tzset();
    }
};

constexpr std::uint64_t kSec = 1000000000ull;
constexpr std::uint64_t kT0 = 1700000000ull * kSec;  // 2023-11-14 22:13:20 UTC

}  // namespace

TEST_CASE("writer: frames read back identical, nanosecond timestamps whole", "[pcap_writer]") {
    TempDir dir;
    WriterOptions wo;
    wo.path = dir / "out.pcap";
    wo.linktype = 1;
    wo.snaplen = 65535;
    std::string err;
    auto w = PcapWriter::open(wo, err);
    INFO(err);
    REQUIRE(w);
    CHECK(w->current_path() == wo.path);
    CHECK(w->files() == 1);

    std::vector<Frame> frames;
    for (std::uint32_t i = 0; i < 50; ++i) {
        // Sizes from 4 to 1500, timestamps down to the nanosecond.
        frames.push_back(make_frame(i, 4 + (i * 97) % 1497, kT0 + 123456789 + i * 1000000007ull));
        frames.back().len += i % 3;  // some frames were cut by the capture
        REQUIRE(w->write(frames.back().raw()));
    }
    CHECK(w->packets() == 50);
    REQUIRE(w->close());
    CHECK(w->close());  // a second close does nothing

    // Nanosecond pcap, little endian: 0xa1b23c4d.
    std::ifstream in(wo.path, std::ios::binary);
    unsigned char magic[4] = {};
    in.read(reinterpret_cast<char*>(magic), 4);
    CHECK(magic[0] == 0x4d);
    CHECK(magic[1] == 0x3c);
    CHECK(magic[2] == 0xb2);
    CHECK(magic[3] == 0xa1);

    const ReadBack rb = read_back(wo.path);
    CHECK(rb.linktype == 1);
    CHECK(rb.snaplen == 65535);
    REQUIRE(rb.frames.size() == frames.size());
    for (std::size_t i = 0; i < frames.size(); ++i) {
        INFO("frame " << i);
        CHECK(rb.frames[i].bytes == frames[i].bytes);
        CHECK(rb.frames[i].ts_ns == frames[i].ts_ns);
        CHECK(rb.frames[i].len == frames[i].len);
    }
}

TEST_CASE("writer: frames longer than the snaplen are cut to it", "[pcap_writer]") {
    TempDir dir;
    WriterOptions wo;
    wo.path = dir / "cut.pcap";
    wo.snaplen = 100;
    std::string err;
    auto w = PcapWriter::open(wo, err);
    REQUIRE(w);
    const Frame f = make_frame(7, 300, kT0);
    REQUIRE(w->write(f.raw()));
    REQUIRE(w->close());
    const ReadBack rb = read_back(wo.path);
    REQUIRE(rb.frames.size() == 1);
    CHECK(rb.frames[0].bytes.size() == 100);
    CHECK(rb.frames[0].len == 300);
    CHECK(std::equal(rb.frames[0].bytes.begin(), rb.frames[0].bytes.end(), f.bytes.begin()));
}

// 100-byte frames are 116-byte records: after the 24-byte file header, a file
// passes 1000 bytes with its 9th frame (1068 bytes), so the 10th starts the next.
TEST_CASE("writer: -C starts a new file once one holds more than the limit", "[pcap_writer]") {
    TempDir dir;
    WriterOptions wo;
    wo.path = dir / "out.pcap";
    wo.rotate_bytes = 1000;
    std::string err;
    auto w = PcapWriter::open(wo, err);
    REQUIRE(w);
    for (std::uint32_t i = 1; i <= 25; ++i) {
        REQUIRE(w->write(make_frame(i, 100, kT0 + i).raw()));
        if (i == 10) CHECK(w->current_path() == dir / "out.pcap1");
    }
    REQUIRE(w->close());
    CHECK(w->files() == 3);
    CHECK(w->packets() == 25);
    CHECK(dir.names() == std::vector<std::string>{"out.pcap", "out.pcap1", "out.pcap2"});
    CHECK(fs::file_size(dir / "out.pcap") == 24 + 9 * 116);
    CHECK(fs::file_size(dir / "out.pcap1") == 24 + 9 * 116);
    CHECK(fs::file_size(dir / "out.pcap2") == 24 + 7 * 116);
    CHECK(ids_in(dir / "out.pcap") == range(1, 9));
    CHECK(ids_in(dir / "out.pcap1") == range(10, 18));
    CHECK(ids_in(dir / "out.pcap2") == range(19, 25));
}

TEST_CASE("writer: -C with -W is a ring of numbered files, the oldest overwritten",
          "[pcap_writer]") {
    TempDir dir;
    WriterOptions wo;
    wo.path = dir / "ring.pcap";
    wo.rotate_bytes = 1000;
    wo.max_files = 3;
    std::string err;
    auto w = PcapWriter::open(wo, err);
    REQUIRE(w);
    CHECK(w->current_path() == dir / "ring.pcap0");  // numbered from 0, one digit for 0..2
    for (std::uint32_t i = 1; i <= 40; ++i)
        REQUIRE(w->write(make_frame(i, 100, kT0 + i).raw()));
    REQUIRE(w->close());
    CHECK_FALSE(w->done());  // -W with -C never ends the capture
    CHECK(w->files() == 5);  // 0, 1, 2, 0 again, 1 again
    CHECK(dir.names() == std::vector<std::string>{"ring.pcap0", "ring.pcap1", "ring.pcap2"});
    CHECK(ids_in(dir / "ring.pcap0") == range(28, 36));
    CHECK(ids_in(dir / "ring.pcap1") == range(37, 40));
    CHECK(ids_in(dir / "ring.pcap2") == range(19, 27));
}

TEST_CASE("writer: -W numbers are padded to the width of the largest", "[pcap_writer]") {
    TempDir dir;
    std::string err;
    struct Case {
        std::uint32_t files;
        const char* first;
        const char* second;
    };
    // Every frame starts a file (a header alone passes 1 byte); -W 1 is a ring of one.
    for (const Case& c : {Case{1, "w.pcap", "w.pcap"}, Case{10, "w.pcap0", "w.pcap1"},
                          Case{11, "w.pcap00", "w.pcap01"}, Case{101, "w.pcap000", "w.pcap001"}}) {
        WriterOptions wo;
        wo.path = dir / "w.pcap";
        wo.rotate_bytes = 1;
        wo.max_files = c.files;
        auto w = PcapWriter::open(wo, err);
        REQUIRE(w);
        CHECK(w->current_path() == dir / c.first);
        REQUIRE(w->write(make_frame(1, 10, kT0).raw()));
        CHECK(w->current_path() == dir / c.second);
        REQUIRE(w->close());
    }
}

TEST_CASE("writer: -G starts a file per interval of capture time, named by strftime",
          "[pcap_writer]") {
    UtcZone utc;
    TempDir dir;
    WriterOptions wo;
    wo.path = dir / "cap-%Y%m%d-%H%M%S.pcap";
    wo.rotate_seconds = 60;
    wo.start_ns = kT0 + 500;
    std::string err;
    auto w = PcapWriter::open(wo, err);
    INFO(err);
    REQUIRE(w);
    CHECK(w->current_path() == dir / "cap-20231114-221320.pcap");
    const std::uint64_t ts[] = {
        kT0 - 5 * kSec,               // late frame from before the start: stays in the first file
        kT0,                          // id 2
        kT0 + 59 * kSec + 999999999,  // still the first minute
        kT0 + 60 * kSec,              // a new interval starting at 22:14:20
        kT0 + 61 * kSec,              //
        kT0 + 200 * kSec + 7,         // 22:16:40
    };
    for (std::uint32_t i = 0; i < 6; ++i)
        REQUIRE(w->write(make_frame(i + 1, 60, ts[i]).raw()));
    CHECK(w->current_path() == dir / "cap-20231114-221640.pcap");
    REQUIRE(w->close());
    CHECK(w->files() == 3);
    CHECK_FALSE(w->done());
    CHECK(dir.names() == std::vector<std::string>{"cap-20231114-221320.pcap",
                                                  "cap-20231114-221420.pcap",
                                                  "cap-20231114-221640.pcap"});
    CHECK(ids_in(dir / "cap-20231114-221320.pcap") == range(1, 3));
    CHECK(ids_in(dir / "cap-20231114-221420.pcap") == range(4, 5));
    const ReadBack last = read_back(dir / "cap-20231114-221640.pcap");
    REQUIRE(last.frames.size() == 1);
    CHECK(last.frames[0].ts_ns == kT0 + 200 * kSec + 7);
}

TEST_CASE("writer: -G with -W stops after that many files", "[pcap_writer]") {
    UtcZone utc;
    TempDir dir;
    WriterOptions wo;
    wo.path = dir / "g-%H%M%S.pcap";
    wo.rotate_seconds = 10;
    wo.max_files = 2;
    wo.start_ns = kT0;
    std::string err;
    auto w = PcapWriter::open(wo, err);
    REQUIRE(w);
    REQUIRE(w->write(make_frame(1, 60, kT0 + 1).raw()));
    REQUIRE(w->write(make_frame(2, 60, kT0 + 10 * kSec).raw()));
    CHECK_FALSE(w->done());
    // The frame that would open a third file ends the writing; it is not written.
    REQUIRE(w->write(make_frame(3, 60, kT0 + 20 * kSec).raw()));
    CHECK(w->done());
    REQUIRE(w->write(make_frame(4, 60, kT0 + 21 * kSec).raw()));
    CHECK(w->packets() == 2);
    CHECK(w->files() == 2);
    REQUIRE(w->close());
    CHECK(dir.names() == std::vector<std::string>{"g-221320.pcap", "g-221330.pcap"});
    CHECK(ids_in(dir / "g-221320.pcap") == range(1, 1));
    CHECK(ids_in(dir / "g-221330.pcap") == range(2, 2));
}

TEST_CASE("writer: -G with -C numbers files within an interval from scratch", "[pcap_writer]") {
    UtcZone utc;
    TempDir dir;
    WriterOptions wo;
    wo.path = dir / "gc-%M.pcap";
    wo.rotate_seconds = 60;
    wo.rotate_bytes = 1000;
    wo.start_ns = kT0;
    std::string err;
    auto w = PcapWriter::open(wo, err);
    REQUIRE(w);
    for (std::uint32_t i = 1; i <= 12; ++i)
        REQUIRE(w->write(make_frame(i, 100, kT0 + i).raw()));
    for (std::uint32_t i = 13; i <= 14; ++i) {
        REQUIRE(w->write(make_frame(i, 100, kT0 + 60 * kSec + i).raw()));
    }
    REQUIRE(w->close());
    CHECK(dir.names() == std::vector<std::string>{"gc-13.pcap", "gc-13.pcap1", "gc-14.pcap"});
    CHECK(ids_in(dir / "gc-13.pcap") == range(1, 9));
    CHECK(ids_in(dir / "gc-13.pcap1") == range(10, 12));
    CHECK(ids_in(dir / "gc-14.pcap") == range(13, 14));
}

TEST_CASE("writer: a path that cannot be written is a one-line error", "[pcap_writer]") {
    TempDir dir;
    std::string err;
    WriterOptions wo;
    wo.path = dir / "no-such-dir/out.pcap";
    CHECK_FALSE(PcapWriter::open(wo, err));
    CHECK(err == "cannot write " + wo.path + ": No such file or directory");

    wo.path = dir.path.string();
    CHECK_FALSE(PcapWriter::open(wo, err));
    CHECK(err == "cannot write " + wo.path + ": Is a directory");

    wo.path = "";
    CHECK_FALSE(PcapWriter::open(wo, err));
    CHECK(err == "no file name to write to (-w)");

    WriterOptions to_stdout;
    to_stdout.path = std::string(1, '-');
    to_stdout.rotate_bytes = 1000000;
    CHECK_FALSE(PcapWriter::open(to_stdout, err));
    CHECK(err == "cannot rotate standard output (-w -): give a file name");

    // A rotation into a folder that went away fails the write that needed it.
    const std::string sub = dir / "sub";
    fs::create_directory(sub);
    wo = WriterOptions{};
    wo.path = sub + "/r.pcap";
    wo.rotate_bytes = 1;
    auto w = PcapWriter::open(wo, err);
    REQUIRE(w);
    fs::remove_all(sub);
    CHECK_FALSE(w->write(make_frame(1, 10, kT0).raw()));
    CHECK(w->error() == "cannot write " + sub + "/r.pcap1: No such file or directory");
    CHECK_FALSE(w->write(make_frame(2, 10, kT0).raw()));  // stays failed
    for (const char c : w->error())
        CHECK(c != '\n');
}

TEST_CASE("writer: close() writes out everything buffered and reports a full disk",
          "[pcap_writer]") {
    TempDir dir;
    WriterOptions wo;
    wo.path = dir / "buffered.pcap";
    std::string err;
    auto w = PcapWriter::open(wo, err);
    REQUIRE(w);
    for (std::uint32_t i = 1; i <= 1000; ++i)
        REQUIRE(w->write(make_frame(i, 64, kT0 + i).raw()));
    REQUIRE(w->close());
    CHECK(fs::file_size(wo.path) == 24 + 1000 * (16 + 64));
    CHECK(ids_in(wo.path) == range(1, 1000));
    CHECK_FALSE(w->write(make_frame(1001, 64, kT0).raw()));  // closed

    // /dev/full takes the open, then fails every write with ENOSPC: the frames
    // sit in the buffer until close() pushes them out.
    if (access("/dev/full", W_OK) != 0) {
        WARN("no /dev/full: full-disk case skipped");
        return;
    }
    wo.path = "/dev/full";
    auto full = PcapWriter::open(wo, err);
    REQUIRE(full);
    for (std::uint32_t i = 1; i <= 10; ++i)
        REQUIRE(full->write(make_frame(i, 64, kT0).raw()));
    CHECK_FALSE(full->close());
    CHECK(full->error() == "cannot write /dev/full: No space left on device");
    // flush() reports it too.
    auto full2 = PcapWriter::open(wo, err);
    REQUIRE(full2);
    REQUIRE(full2->write(make_frame(1, 64, kT0).raw()));
    CHECK_FALSE(full2->flush());
    CHECK(full2->error() == "cannot write /dev/full: No space left on device");
}
