// No allocation on the packet path: the whole pipeline (decode, connections,
// reassembly, uploads, flood detection, JSON reports) runs over real captures
// while every operator new in this test binary is counted.
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <new>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "capture/pcap_source.hpp"
#include "decode/oui.hpp"
#include "pipeline/pipeline.hpp"
#include "report/out_buffer.hpp"

// AddressSanitizer has its own operator new (and checks that what it gave is
// given back to it): the count is taken in the other builds only.
#if defined(__SANITIZE_ADDRESS__)
#define WIRELENS_COUNT_ALLOCATIONS 0
#else
#define WIRELENS_COUNT_ALLOCATIONS 1
#endif

namespace {
std::size_t g_allocations = 0;
}  // namespace

#if WIRELENS_COUNT_ALLOCATIONS
// Counting replacements of the global allocation functions (the others forward here).
void* operator new(std::size_t n) {
    ++g_allocations;
    if (void* p = std::malloc(n != 0 ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
#endif

namespace {

struct Frame {
    std::vector<std::uint8_t> bytes;
    std::uint32_t len;
    std::uint64_t ts_ns;
};

std::vector<Frame> read_frames(const std::string& path, int& linktype) {
    std::string err;
    auto src = wl::PcapSource::open_file(path, err);
    REQUIRE(src != nullptr);
    linktype = src->linktype();
    std::vector<Frame> frames;
    wl::RawFrame f{};
    while (src->next(f) == wl::PcapSource::Status::Frame)
        frames.push_back(
            Frame{std::vector<std::uint8_t>(f.data, f.data + f.caplen), f.len, f.ts_ns});
    return frames;
}

// Allocations made while the frames go through an open pipeline.
// `streams_dir`: with --streams into it.
std::size_t allocations_for(const std::string& path, std::size_t& packets,
                            const std::string& streams_dir = "") {
    int linktype = 0;
    const std::vector<Frame> frames = read_frames(path, linktype);
    std::FILE* null = std::fopen("/dev/null", "w");
    REQUIRE(null != nullptr);
    std::size_t counted = 0;
    {
        wl::OutBuffer out(null);
        wl::PipelineOptions opt;
        opt.json = true;
        opt.max_flows = 4096;
        opt.max_uploads = 64;
        opt.max_reassembly = 1 << 20;
        opt.streams_dir = streams_dir;
        wl::Pipeline pipe(opt, out, wl::OuiRegistry::builtin());
        std::string err;
        REQUIRE(pipe.open(err));
        pipe.set_linktype(linktype);
        const std::size_t before = g_allocations;
        for (const Frame& f : frames) {
            pipe.frame(wl::RawFrame{f.bytes.data(), static_cast<std::uint32_t>(f.bytes.size()),
                                    f.len, f.ts_ns});
        }
        counted = g_allocations - before;
        packets = frames.size();
    }
    std::fclose(null);
    return counted;
}

}  // namespace

TEST_CASE("no allocation per packet: connections, floods, reports", "[alloc]") {
    if (!WIRELENS_COUNT_ALLOCATIONS) {
        WARN("AddressSanitizer build: allocations are counted in the Release build only");
        return;
    }
    // Handshakes, data, teardowns, resets, UDP, VLANs, options: no framed upload.
    for (const char* name : {"tcp-options.pcap", "refused-and-udp.pcap", "vlan-qinq.pcap",
                             "ipv6-ext.pcap", "malformed.pcap"}) {
        std::size_t packets = 0;
        const std::size_t n =
            allocations_for(std::string(WIRELENS_SAMPLES_DIR) + "/" + name, packets);
        INFO(name << ": " << packets << " packets");
        CHECK(packets > 0);
        CHECK(n == 0);
    }
}

TEST_CASE("uploads allocate per header, not per packet", "[alloc]") {
    if (!WIRELENS_COUNT_ALLOCATIONS) return;
    // 132 packets, 8 framed frames (4 headers each way): parsing a JSON header
    // (nlohmann's DOM), keeping its text and the names in it allocate, about 20
    // times a header here; the body bytes and the packets carrying them do not
    // (one body alone is 90 packets: an allocation per packet would show).
    std::size_t packets = 0;
    const std::size_t n =
        allocations_for(std::string(WIRELENS_SAMPLES_DIR) + "/upload-v4.pcap", packets);
    INFO(packets << " packets, " << n << " allocations");
    CHECK(packets == 132);
    CHECK(n <= 8 * 32);
}

TEST_CASE("no allocation per packet with --streams: files and index records included",
          "[alloc][streams]") {
    if (!WIRELENS_COUNT_ALLOCATIONS) return;
    for (const char* name : {"tcp-options.pcap", "refused-and-udp.pcap", "vlan-qinq.pcap",
                             "ipv6-ext.pcap", "malformed.pcap"}) {
        char tmpl[] = "/tmp/wirelens-alloc-streams-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        std::size_t packets = 0;
        const std::size_t n =
            allocations_for(std::string(WIRELENS_SAMPLES_DIR) + "/" + name, packets, tmpl);
        INFO(name << ": " << packets << " packets");
        CHECK(n == 0);
        std::filesystem::remove_all(tmpl);
    }
}
