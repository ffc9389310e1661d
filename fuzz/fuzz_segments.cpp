// fuzz_segments: the flow stage, the TCP reassembler and the framed-upload analyzer
// (and the file extractor behind it) on arbitrary sequences of TCP segments between
// fixed endpoints. The input is a script of segments (segment_script.hpp); each
// becomes a real Ethernet/IPv4 or IPv6/TCP frame with correct lengths, decoded by
// wl::decode and fed to the FlowTracker, as frames from a capture are.
//
// The tables are tiny (2 connections for up to 3, 2 upload decoders, buffers of a
// few KiB, headers of at most a few KiB) so that every limit is within reach.
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "analyzers/file_extractor.hpp"
#include "analyzers/upload_analyzer.hpp"
#include "decode/packet.hpp"
#include "flow/flow_tracker.hpp"
#include "flow/tcp_reassembler.hpp"
#include "fuzz/checked_stages.hpp"
#include "fuzz/fuzz_input.hpp"
#include "fuzz/scratch_dir.hpp"
#include "fuzz/segment_script.hpp"

namespace {

namespace seg = wl::fuzz::segments;

constexpr std::uint32_t kMaxFlows = 2;
constexpr std::uint32_t kMaxDecoders = 2;
constexpr std::uint16_t kServerPort = 9000;
constexpr std::uint16_t kClientPort = 40000;  // + connection
constexpr std::uint64_t kStart = 1704067200ull * 1000000000ull;
constexpr std::uint64_t kSteps[] = {1000000ull, 0, 1000000000ull, 301000000000ull};

constexpr std::uint8_t kClientMac[6] = {0x02, 0, 0, 0, 0, 0x01};
constexpr std::uint8_t kServerMac[6] = {0x02, 0, 0, 0, 0, 0x02};

void put16(std::uint8_t* p, std::uint32_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
void put32(std::uint8_t* p, std::uint32_t v) {
    put16(p, v >> 16);
    put16(p + 2, v);
}

// An address of the client (host 1) or the server (host 2).
void put_addr(std::uint8_t* p, bool ipv6, int host) {
    if (ipv6) {
        static constexpr std::uint8_t kPrefix[8] = {0xfd, 0, 0, 0, 0, 0, 0, 0};
        std::memcpy(p, kPrefix, 8);
        std::memset(p + 8, 0, 7);
        p[15] = static_cast<std::uint8_t>(host);
    } else {
        const std::uint8_t v4[4] = {10, 1, 0, static_cast<std::uint8_t>(host)};
        std::memcpy(p, v4, 4);
    }
}

// Ethernet + IP + TCP (no options) + payload, every length field true; checksums are
// left zero (the harness decodes without verifying them). Returns the frame's length.
std::size_t build_frame(std::vector<std::uint8_t>& f, const seg::Settings& set,
                        const seg::Segment& s, std::uint32_t seq, std::uint32_t ack) {
    const std::size_t ip_len = set.ipv6 ? 40 : 20;
    const std::size_t tcp_at = 14 + ip_len;
    const std::size_t len = tcp_at + 20 + s.payload.size();
    f.assign(len, 0);
    std::uint8_t* p = f.data();
    const int from = s.dir == 0 ? 1 : 2;
    std::memcpy(p, s.dir == 0 ? kServerMac : kClientMac, 6);
    std::memcpy(p + 6, s.dir == 0 ? kClientMac : kServerMac, 6);
    put16(p + 12, set.ipv6 ? 0x86dd : 0x0800);
    std::uint8_t* ip = p + 14;
    const auto l4_len = static_cast<std::uint32_t>(20 + s.payload.size());
    if (set.ipv6) {
        ip[0] = 0x60;
        put16(ip + 4, l4_len);
        ip[6] = 6;
        ip[7] = 64;
        put_addr(ip + 8, true, from);
        put_addr(ip + 24, true, 3 - from);
    } else {
        ip[0] = 0x45;
        put16(ip + 2, static_cast<std::uint32_t>(20 + l4_len));
        put16(ip + 6, 0x4000);  // don't fragment
        ip[8] = 64;
        ip[9] = 6;
        put_addr(ip + 12, false, from);
        put_addr(ip + 16, false, 3 - from);
    }
    std::uint8_t* tcp = p + tcp_at;
    const std::uint32_t client_port = kClientPort + static_cast<std::uint32_t>(s.conn);
    put16(tcp, s.dir == 0 ? client_port : kServerPort);
    put16(tcp + 2, s.dir == 0 ? kServerPort : client_port);
    put32(tcp + 4, seq);
    put32(tcp + 8, ack);
    tcp[12] = 5 << 4;
    tcp[13] = s.flags;
    put16(tcp + 14, std::uint32_t{s.window} << 8);
    if (!s.payload.empty()) std::memcpy(tcp + 20, s.payload.data(), s.payload.size());
    return len;
}

void run(const seg::Settings& set, wl::fuzz::FuzzInput& in) {
    wl::FlowOptions fopts;
    fopts.max_flows = kMaxFlows;
    fopts.ladder_conns = set.ladder ? kMaxFlows : 0;
    const wl::fuzz::ScratchDir& scratch = wl::fuzz::ScratchDir::instance();
    wl::fuzz::CheckedUploads records(scratch.path());
    struct : wl::ConnSink {
        void conn_ended(const wl::Connection& c, wl::ConnEnd, const wl::LadderLog*) override {
            wl::fuzz::keep(static_cast<std::uint64_t>(wl::FlowTracker::conn_state(c)[0]) +
                           wl::FlowTracker::payload_bytes(c, 0) +
                           wl::FlowTracker::payload_bytes(c, 1));
        }
    } conns;
    wl::FlowTracker flows(fopts, conns);

    wl::FileExtractor extractor;
    if (set.extract) {
        wl::ExtractOptions eo;
        eo.dir = scratch.path();
        eo.keep_partial = true;
        eo.max_size = 16384;
        eo.max_open_files = 2;
        std::string err;
        wl::fuzz::check(extractor.open(eo, err), "the scratch folder opens for extraction");
    }
    wl::UploadOptions uopts;
    uopts.max_header = set.max_header();
    uopts.sha256 = set.sha256;
    uopts.max_headerless = 4096;
    std::vector<std::uint16_t> forced;
    if (set.upload_port) forced.push_back(kServerPort);
    wl::UploadAnalyzer uploads(uopts, forced, kMaxFlows, kMaxDecoders, flows, records,
                               set.extract ? &extractor : nullptr);
    wl::fuzz::CheckedStreams streams(kMaxFlows, uploads);
    wl::ReassemblyOptions ropts;
    ropts.max_bytes = set.small_buffers ? 2048 : 65536;
    ropts.max_per_stream = set.small_buffers ? 1024 : 16384;
    wl::TcpReassembler reassembler(kMaxFlows, ropts, streams);
    flows.set_reassembler(&reassembler);

    // Where each direction of each connection's previous segment ended.
    std::array<std::array<std::uint32_t, 2>, seg::kMaxConnections> next{};
    for (auto& conn : next)
        conn = {set.isn(0), set.isn(1)};

    std::vector<std::uint8_t> frame;
    wl::Packet pkt;
    pkt.linktype = wl::linktype::kEthernet;
    std::uint64_t ts = kStart;
    seg::Segment s;
    while (seg::read_segment(in, s)) {
        s.conn %= set.connections;
        ts += kSteps[static_cast<int>(s.step)];
        std::uint32_t& mine = next[s.conn][s.dir];
        const std::uint32_t seq =
            s.seq_absolute ? s.seq : mine + static_cast<std::uint32_t>(s.seq_delta);
        const std::uint32_t ack =
            s.ack_absolute ? s.ack
                           : next[s.conn][1 - s.dir] + static_cast<std::uint32_t>(s.ack_delta);
        const auto len = static_cast<std::uint32_t>(s.payload.size());
        mine = seq + len + ((s.flags & wl::tcpflag::kSyn) ? 1 : 0) +
               ((s.flags & wl::tcpflag::kFin) ? 1 : 0);

        const std::size_t wire = build_frame(frame, set, s, seq, ack);
        const std::size_t captured = s.snapped ? wire - (len - len / 2) : wire;
        pkt.ts_ns = ts;
        pkt.caplen = static_cast<std::uint32_t>(captured);
        pkt.wire_len = static_cast<std::uint32_t>(wire);
        wl::decode(wl::Bytes{frame.data(), captured}, pkt);
        wl::fuzz::check(pkt.has(wl::Layer::Tcp) && !pkt.malformed(),
                        "a well-formed frame decodes as TCP");
        flows.process(pkt);
    }
    flows.flush();
    // Once everything has ended, nothing may be left held.
    wl::fuzz::check(
        flows.open() == 0 && flows.counters().conns_created == flows.counters().conns_ended,
        "every connection ends at the end of input");
    wl::fuzz::check(reassembler.buffered() == 0, "no reassembly buffer held at the end");
    wl::fuzz::check(extractor.open_files() == 0, "no carved body left open at the end");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    wl::fuzz::FuzzInput in(data, size);
    const seg::Settings set = seg::read_settings(in);
    run(set, in);
    // Carved bodies, once the extractor is gone (it removes its unfinished ones).
    if (set.extract) wl::fuzz::ScratchDir::instance().clear();
    return 0;
}
