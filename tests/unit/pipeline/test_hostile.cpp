// Hostile inputs, stage by stage, under the sanitizer build: what the
// decode, reassembly, upload and carving tests elsewhere check on chosen cases,
// here on every value an attacker can put in a length, count or offset field.
// Each frame or stream lies in a buffer of exactly its size, so ASan sees a read
// one byte past it; each test also bounds the work (no loop on a zero length).
//
// - decode: every value of every length and next-protocol field of real frames,
//   captured whole and cut by a snap length: every view inside the frame, the
//   lengths consistent, nothing decoded above the layer that failed, and the
//   packet reports still valid;
// - IPv6 extension chains of every extension type repeated past the limit, and
//   chains that run into the end of the packet;
// - TCP and IPv4 options of length 0 and 1 of every kind at every position;
// - retransmissions that overlap what came before with other bytes: the first
//   copy of every byte wins, and a framed upload's digest is unaffected;
// - framed uploads: int32 length prefixes that lie, nesting 100,000 deep, a
//   header one byte past --max-header, sizes and gaps far beyond the stream;
// - carving: a gap in a body is a hole in the file, not zeros written out;
// - capture files: timestamps past 2038, and pcap and pcapng files cut at every
//   offset or with lying record lengths, read through PcapSource.
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "analyzers/file_extractor.hpp"
#include "analyzers/framed_upload.hpp"
#include "capture/pcap_source.hpp"
#include "flow/tcp_reassembler.hpp"
#include "tests/unit/decode/decode_checks.hpp"
#include "tests/unit/decode/test_decoder_frames.hpp"

using namespace wl;
using namespace wl::testing;
namespace fs = std::filesystem;

namespace {

using Buf = std::vector<std::uint8_t>;

// ---------------------------------------------------------------------------
// decode()

// What decode() promises whatever the bytes.
void check_promises(const Packet& pkt, const Buf& frame) {
    REQUIRE(inside(pkt.payload, frame));
    REQUIRE(pkt.payload.size() <= pkt.payload_wire_len);
    // A record claiming fewer bytes on the wire than it captured is trusted for what it has.
    REQUIRE(pkt.payload_wire_len <= std::max(pkt.wire_len, pkt.caplen));
    REQUIRE(inside(pkt.encap_bytes, frame));
    REQUIRE(pkt.encap_bytes.size() <= pkt.encap_wire_len + 0u);
    REQUIRE(pkt.vlan_count <= Packet::kMaxVlanTags);
    REQUIRE(pkt.malformed() == (pkt.error_layer != Layer::None));
    // The first event is the one reported; only the last can have stopped decoding.
    if (pkt.malformed()) {
        REQUIRE(pkt.events.list[0].layer == pkt.error_layer);
        REQUIRE(pkt.events.list[0].event == pkt.error);
        for (std::size_t i = 0; i + 1 < pkt.events.count; ++i)
            REQUIRE_FALSE(stops_decoding(pkt.events.list[i].event));
    }
    if (pkt.has(Layer::Ipv4)) {
        REQUIRE(inside(pkt.ip4.bytes, frame));
        REQUIRE(pkt.ip4.header_len() >= 20);
        REQUIRE(pkt.ip4.header_len() <= pkt.ip4.bytes.size());
    }
    if (pkt.has(Layer::Ipv6)) {
        REQUIRE(inside(pkt.ip6.bytes, frame));
        REQUIRE(pkt.ip6.bytes.size() >= Ipv6View::kHeaderLen);
    }
    if (pkt.has(Layer::Ipv6Ext)) {
        REQUIRE(pkt.ip6_chain.count >= 1);
        REQUIRE(pkt.ip6_chain.count <= Ipv6Chain::kMaxHeaders);
    }
    if (pkt.has(Layer::Tcp)) {
        REQUIRE(inside(pkt.tcp.bytes, frame));
        REQUIRE(pkt.tcp.header_len() >= 20);
        REQUIRE(pkt.tcp.header_len() <= pkt.tcp.bytes.size());
        int options = 0;
        pkt.tcp.for_each_option([&](const TcpOption& o) {
            ++options;
            REQUIRE(o.data >= pkt.tcp.bytes.data());
            REQUIRE(o.data + o.data_len() <= pkt.tcp.bytes.data() + pkt.tcp.header_len());
        });
        REQUIRE(options <= 40);
    }
    if (pkt.has(Layer::Udp)) {
        REQUIRE(inside(pkt.udp.bytes, frame));
        REQUIRE(pkt.udp.bytes.size() >= UdpView::kHeaderLen);
        REQUIRE(pkt.udp.length() >= UdpView::kHeaderLen);
    }
    if (pkt.has(Layer::Icmp) || pkt.has(Layer::Icmpv6)) {
        REQUIRE(inside(pkt.icmp.bytes, frame));
        REQUIRE(pkt.icmp.bytes.size() >= IcmpView::kHeaderLen);
    }
    // Nothing above a network layer that failed outright.
    const bool network_failed =
        pkt.malformed() && pkt.error != DecodeError::BadOptionLength &&
        pkt.error != DecodeError::BadChecksum &&
        (pkt.error_layer == Layer::Link || pkt.error_layer == Layer::Ethernet ||
         pkt.error_layer == Layer::Vlan || pkt.error_layer == Layer::Ipv4 ||
         pkt.error_layer == Layer::Ipv6 || pkt.error_layer == Layer::Ipv6Ext);
    if (network_failed) {
        for (Layer l : {Layer::Tcp, Layer::Udp, Layer::Icmp, Layer::Icmpv6})
            REQUIRE_FALSE(pkt.has(l));
    }
}

struct Field {
    const char* what;
    std::size_t at;
    int width;  // 1 or 2 bytes (big-endian)
};

// The values a field is tried with: every one for a byte; for 16 bits every one a
// frame of this size can disagree with, and a spread of the rest.
std::vector<std::uint32_t> values_of(int width) {
    std::vector<std::uint32_t> v;
    const std::uint32_t top = width == 1 ? 0xff : 0xffff;
    for (std::uint32_t x = 0; x <= top; ++x)
        if (width == 1 || x < 2048 || x > top - 64 || x % 251 == 0) v.push_back(x);
    return v;
}

// Every value of the field, the frame captured whole, and cut to two thirds by a
// snap length with the wire carrying it all.
void sweep(const char* name, const Buf& base, int linktype, const Field& field,
           std::uint64_t& decoded) {
    Buf f = base;
    const std::size_t cut = base.size() * 2 / 3;
    Buf snapped(cut);
    Packet pkt;
    int i = 0;
    for (const std::uint32_t v : values_of(field.width)) {
        if (field.width == 1) {
            f[field.at] = static_cast<std::uint8_t>(v);
        } else {
            put16(f, field.at, static_cast<std::uint16_t>(v));
        }
        std::copy(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(cut), snapped.begin());
        INFO(name << ": " << field.what << " = " << v);
        for (const Buf* b : {&f, &snapped}) {
            pkt.linktype = linktype;
            pkt.caplen = static_cast<std::uint32_t>(b->size());
            pkt.wire_len = static_cast<std::uint32_t>(base.size());
            decode(Bytes{b->data(), b->size()}, pkt, DecodeOptions{.verify_checksums = i % 3 == 0});
            check_promises(pkt, *b);
            if (++i % 211 == 0) report_survives(pkt);
            ++decoded;
        }
    }
}

Buf qinq_dns() {
    Buf f = slice(kDnsQuery, 0, 12);
    f.insert(f.end(), {0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x20, 0x0a, 0x08, 0x00});
    return cat(f, slice(kDnsQuery, kEthLen, kDnsQuery.size()));
}

// ---------------------------------------------------------------------------
// Streams

// One direction's reassembled bytes and gaps, optionally handed on to a framed-upload
// decoder as UploadAnalyzer would.
struct StreamOut : StreamConsumer {
    Buf data;  // the delivered bytes at their offsets (gaps zero)
    std::vector<bool> delivered;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> gaps;
    std::uint64_t pos = 0;
    bool in_order = true;
    int inconsistent_calls = 0;
    FramedStreamDecoder* decoder = nullptr;
    UploadSink* sink = nullptr;

    void stream_data(std::uint32_t, int, std::uint64_t offset, const std::uint8_t* p, std::size_t n,
                     std::uint32_t segment, std::uint64_t ts, bool) override {
        in_order = in_order && offset == pos && n > 0;
        pos = offset + n;
        if (data.size() < pos) {
            data.resize(pos);
            delivered.resize(pos);
        }
        std::copy(p, p + n, data.begin() + static_cast<std::ptrdiff_t>(offset));
        std::fill(delivered.begin() + static_cast<std::ptrdiff_t>(offset),
                  delivered.begin() + static_cast<std::ptrdiff_t>(pos), true);
        if (decoder) decoder->data(p, n, offset, segment, ts, *sink);
    }
    void stream_gap(std::uint32_t, int, std::uint64_t offset, std::uint64_t len,
                    wl::GapCause) override {
        in_order = in_order && offset == pos && len > 0;
        pos = offset + len;
        gaps.emplace_back(offset, len);
        if (decoder) decoder->gap(offset, len, *sink);
    }
    void stream_inconsistent(std::uint32_t, int, std::uint64_t, std::uint64_t) override {
        ++inconsistent_calls;
    }
    void stream_end(std::uint32_t, int, ConnEnd, bool reset) override {
        if (decoder) decoder->end(reset ? StreamEnd::Reset : StreamEnd::Fin, *sink);
    }
};

// What a framed-upload decoder reported, copied out of the callbacks.
struct Frames : UploadSink {
    struct Seen {
        bool complete;
        std::string missing, md5, header, name;
        int digest_ok;
        std::uint64_t declared, received;
        bool has_size;
    };
    std::vector<Seen> frames;
    int framed_calls = 0, begins = 0;
    std::uint64_t body_bytes = 0, gap_bytes = 0, largest_begin = 0;

    void stream_framed(ByteOrder, bool) override { ++framed_calls; }
    void body_begin(const UploadFrame& f) override {
        ++begins;
        largest_begin = std::max(largest_begin, f.declared_size);
    }
    void body_data(const std::uint8_t*, std::size_t n) override { body_bytes += n; }
    void body_gap(std::uint64_t n) override { gap_bytes += n; }
    void frame_done(const UploadFrame& f) override {
        frames.push_back(Seen{f.complete, f.missing ? f.missing : "", f.md5,
                              std::string(f.header_json), std::string(f.file_name), f.digest_ok,
                              f.declared_size, f.received, f.has_size});
    }
};

Buf bytes_of(std::string_view s) {
    return Buf(s.begin(), s.end());
}

std::string md5_hex(const Buf& b) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    REQUIRE(EVP_Digest(b.data(), b.size(), out, &len, EVP_md5(), nullptr) == 1);
    std::string hex;
    for (unsigned int i = 0; i < len; ++i) {
        static constexpr char kHex[] = "0123456789abcdef";
        hex += kHex[out[i] >> 4];
        hex += kHex[out[i] & 15];
    }
    return hex;
}

Buf prefix_le(std::uint32_t n) {
    return {static_cast<std::uint8_t>(n), static_cast<std::uint8_t>(n >> 8),
            static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 24)};
}

// A JSON-framed upload of `body`, little-endian.
Buf upload(const std::string& name, const Buf& body) {
    const std::string h = R"({"file_name": ")" + name + R"(", "file_size": )" +
                          std::to_string(body.size()) + R"(, "md5": ")" + md5_hex(body) + "\"}";
    return cat(cat(prefix_le(static_cast<std::uint32_t>(h.size())), bytes_of(h)), body);
}

// A frame with this header as sent, and this body.
Buf framed(const std::string& header, const Buf& body = {}) {
    return cat(cat(prefix_le(static_cast<std::uint32_t>(header.size())), bytes_of(header)), body);
}

Buf random_bytes(std::size_t n, std::mt19937& rng) {
    Buf b(n);
    for (auto& c : b)
        c = static_cast<std::uint8_t>(rng() >> 24);
    return b;
}

struct Decoded {
    Frames sink;
    bool framed, rejected, stopped;
};

// The stream through a fresh decoder in chunks of `chunk` bytes, then `why`.
Decoded decode_stream(const Buf& s, UploadOptions opts = {}, std::size_t chunk = 997,
                      StreamEnd why = StreamEnd::Fin) {
    Decoded d;
    FramedStreamDecoder dec;
    dec.reset(opts);
    std::uint32_t seg = 0;
    for (std::size_t at = 0; at < s.size(); at += chunk)
        dec.data(s.data() + at, std::min(chunk, s.size() - at), at, seg++, 0, d.sink);
    dec.end(why, d.sink);
    d.framed = dec.framed();
    d.rejected = dec.rejected();
    d.stopped = dec.stopped();
    return d;
}

// ---------------------------------------------------------------------------
// Files

struct TempDir {
    fs::path path;
    TempDir() {
        char tmpl[] = "/tmp/wl_hostile_XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
};

void write_file(const fs::path& p, const Buf& b) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

void le32(Buf& b, std::uint32_t v) {
    for (int i = 0; i < 4; ++i)
        b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

struct Record {
    Buf data;
    std::uint32_t sec, frac, caplen, len;
};

Buf pcap_file(const std::vector<Record>& recs, std::uint32_t snaplen = 262144,
              std::uint32_t magic = 0xa1b2c3d4) {
    Buf b;
    le32(b, magic);
    le32(b, 2 | (4u << 16));  // version 2.4
    le32(b, 0);
    le32(b, 0);
    le32(b, snaplen);
    le32(b, 1);  // Ethernet
    for (const Record& r : recs) {
        le32(b, r.sec);
        le32(b, r.frac);
        le32(b, r.caplen);
        le32(b, r.len);
        b.insert(b.end(), r.data.begin(), r.data.end());
    }
    return b;
}

Buf pcapng_block(std::uint32_t type, Buf body) {
    body.resize((body.size() + 3) / 4 * 4);
    Buf b;
    le32(b, type);
    le32(b, static_cast<std::uint32_t>(12 + body.size()));
    b.insert(b.end(), body.begin(), body.end());
    le32(b, static_cast<std::uint32_t>(12 + body.size()));
    return b;
}

// A section header, one Ethernet interface, and an enhanced packet block per record.
Buf pcapng_file(const std::vector<Record>& recs) {
    Buf shb;
    le32(shb, 0x1a2b3c4d);
    le32(shb, 1);  // version 1.0
    le32(shb, 0xffffffff);
    le32(shb, 0xffffffff);  // section length unknown
    Buf idb;
    le32(idb, 1);  // Ethernet, reserved
    le32(idb, 0);  // no snap length
    Buf b = cat(pcapng_block(0x0a0d0d0a, shb), pcapng_block(1, idb));
    for (const Record& r : recs) {
        Buf epb;
        const std::uint64_t ts = std::uint64_t{r.sec} * 1000000 + r.frac;
        le32(epb, 0);
        le32(epb, static_cast<std::uint32_t>(ts >> 32));
        le32(epb, static_cast<std::uint32_t>(ts));
        le32(epb, r.caplen);
        le32(epb, r.len);
        epb.insert(epb.end(), r.data.begin(), r.data.end());
        b = cat(b, pcapng_block(6, epb));
    }
    return b;
}

struct Read {
    bool opened = false;
    std::vector<RawFrame> frames;  // their data pointers died with the next read:
    std::vector<Buf> copies;       // the bytes are here
    PcapSource::Status last = PcapSource::Status::End;
};

// Every frame of the file through PcapSource and decode().
Read read_all(const fs::path& p) {
    Read r;
    std::string err;
    auto src = PcapSource::open_file(p.string(), err);
    if (!src) {
        CHECK_FALSE(err.empty());
        return r;
    }
    r.opened = true;
    RawFrame f{};
    Packet pkt;
    pkt.linktype = src->linktype();
    while ((r.last = src->next(f)) == PcapSource::Status::Frame) {
        REQUIRE(f.caplen <= 262144);
        Buf copy(f.data, f.data + f.caplen);  // exactly caplen bytes, for ASan
        pkt.caplen = f.caplen;
        pkt.wire_len = f.len;
        pkt.ts_ns = f.ts_ns;
        decode(Bytes{copy.data(), copy.size()}, pkt);
        check_promises(pkt, copy);
        r.frames.push_back(f);
        r.copies.push_back(std::move(copy));
    }
    if (r.last == PcapSource::Status::Error) CHECK_FALSE(src->error().empty());
    return r;
}

}  // namespace

TEST_CASE("hostile: every value of every length field, at every layer", "[hostile][decode]") {
    const Buf qinq = qinq_dns();
    struct Subject {
        const char* name;
        Buf frame;
        int linktype;
        std::vector<Field> fields;
    };
    // Offsets in the Ethernet frames of test_decoder_frames.hpp.
    const std::vector<Subject> subjects = {
        {"TCP SYN",
         kSyn,
         1,
         {{"ethertype", 12, 2},
          {"IPv4 version and IHL", 14, 1},
          {"IPv4 total length", 16, 2},
          {"IPv4 flags and fragment offset", 20, 2},
          {"IPv4 protocol", 23, 1},
          {"TCP data offset", 46, 1},
          {"MSS kind", 54, 1},
          {"MSS length", 55, 1},
          {"SACK-permitted kind", 58, 1},
          {"SACK-permitted length", 59, 1},
          {"timestamps kind", 60, 1},
          {"timestamps length", 61, 1},
          {"NOP", 70, 1},
          {"window scale length", 72, 1}}},
        {"DNS query",
         kDnsQuery,
         1,
         {{"IPv4 total length", 16, 2}, {"IPv4 protocol", 23, 1}, {"UDP length", 38, 2}}},
        {"ICMP echo", kIcmpEcho, 1, {{"IPv4 total length", 16, 2}, {"IPv4 IHL", 14, 1}}},
        {"ARP request", kArpRequest, 1, {{"hardware length", 18, 1}, {"protocol length", 19, 1}}},
        {"IPv6 extension chain + TCP",
         kIpv6ExtTcp,
         1,
         {{"IPv6 payload length", 18, 2},
          {"IPv6 next header", 20, 1},
          {"hop-by-hop next header", 54, 1},
          {"hop-by-hop length", 55, 1},
          {"destination options next header", 62, 1},
          {"destination options length", 63, 1},
          {"fragment next header", 78, 1},
          {"fragment offset", 80, 2},
          {"TCP data offset", 98, 1}}},
        {"UDP over IPv6",
         kIpv6Udp,
         1,
         {{"IPv6 payload length", 18, 2}, {"IPv6 next header", 20, 1}, {"UDP length", 58, 2}}},
        {"ICMPv6 echo", kIcmpv6Echo, 1, {{"IPv6 payload length", 18, 2}}},
        {"QinQ DNS query",
         qinq,
         1,
         {{"outer tag's inner type", 16, 2}, {"inner type", 20, 2}, {"IPv4 total length", 24, 2}}},
        {"raw IPv4 SYN",
         slice(kSyn, kEthLen, kSyn.size()),
         12,
         {{"IPv4 version and IHL", 0, 1}, {"IPv4 total length", 2, 2}}},
        {"SLL2 UDP over IPv6",
         cat(Buf{0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 0, 0x1b, 0x21, 0x3a, 0x4f, 0x5e, 0, 0},
             slice(kIpv6Udp, kEthLen, kIpv6Udp.size())),
         276,
         {{"SLL2 protocol", 0, 2}, {"SLL2 address length", 11, 1}, {"IPv6 payload length", 24, 2}}},
    };
    std::uint64_t decoded = 0;
    for (const Subject& s : subjects) {
        for (const Field& field : s.fields)
            sweep(s.name, s.frame, s.linktype, field, decoded);
    }
    CHECK(decoded > 90000);
}

TEST_CASE("hostile: IPv6 extension chains that loop or run to the end of the packet",
          "[hostile][decode][ipv6]") {
    const std::uint8_t types[] = {ipproto::kHopByHop, ipproto::kRouting, ipproto::kFragment,
                                  ipproto::kDestOpts, ipproto::kAh,      ipproto::kMobility,
                                  ipproto::kHip,      ipproto::kShim6};
    const Buf udp = slice(kIpv6Udp, kIp6End, kIpv6Udp.size());
    // The fixed header of kIpv6Udp with `first` as next header, then `chain`, then `tail`.
    auto packet = [&](std::uint8_t first, const Buf& chain, const Buf& tail) {
        Buf f = cat(cat(slice(kIpv6Udp, 0, kIp6End), chain), tail);
        f[kEthLen + 6] = first;
        put16(f, kEthLen + 4, static_cast<std::uint16_t>(chain.size() + tail.size()));
        return f;
    };
    for (const std::uint8_t type : types) {
        INFO("extension header type " << int{type});
        {  // the same header repeated 1,000 times
            // Each 8 bytes long (length 0; AH counts (0 + 2) * 4), each naming itself next.
            Buf chain;
            for (int i = 0; i < 1000; ++i)
                chain.insert(chain.end(), {type, 0, 0, 0, 0, 0, 0, 0});
            const Buf f = packet(type, chain, udp);
            const Packet pkt = decode_frame(f);
            check_promises(pkt, f);
            CHECK(pkt.error == DecodeError::TooManyExtHeaders);
            CHECK(pkt.error_layer == Layer::Ipv6Ext);
            CHECK(pkt.ip6_chain.count == Ipv6Chain::kMaxHeaders);
            CHECK(pkt.ip6_chain.offset == 0);
            CHECK_FALSE(pkt.has(Layer::Udp));
            report_survives(pkt);
        }
        {  // chains of 1 to 8 headers that end where the packet ends
            for (int n = 1; n <= 8; ++n) {
                Buf chain;
                for (int i = 0; i < n; ++i)
                    chain.insert(chain.end(), {type, 0, 0, 0, 0, 0, 0, 0});
                const Buf f = packet(type, chain, {});
                INFO(n << " headers, the last naming another");
                Packet pkt = decode_frame(f);
                check_promises(pkt, f);
                CHECK(pkt.error ==
                      (n == 8 ? DecodeError::TooManyExtHeaders : DecodeError::BadHeaderLength));
                CHECK(pkt.error_layer == Layer::Ipv6Ext);
                // The same bytes cut by a snap length from a packet that went on.
                Buf g = f;
                put16(g, kEthLen + 4, static_cast<std::uint16_t>(n * 8 + 100));
                pkt = decode_frame(g, 1, static_cast<std::uint32_t>(g.size() + 100));
                check_promises(pkt, g);
                CHECK(pkt.error ==
                      (n == 8 ? DecodeError::TooManyExtHeaders : DecodeError::Truncated));
            }
        }
        if (type != ipproto::kFragment) {  // a last header whose length runs past the packet
            for (const std::uint8_t len : {1, 2, 100, 255}) {
                Buf chain = {ipproto::kDestOpts, 0, 0, 0, 0, 0, 0, 0, ipproto::kUdp, len};
                chain.resize(chain.size() + 6);
                const Buf f = packet(ipproto::kDestOpts, chain, {});
                INFO("length byte " << int{len});
                const Packet pkt = decode_frame(f);
                check_promises(pkt, f);
                CHECK(pkt.error == DecodeError::BadHeaderLength);
                CHECK(pkt.error_layer == Layer::Ipv6Ext);
            }
        }
    }
}

TEST_CASE("hostile: options of length 0 or 1, of every kind at every place, never loop",
          "[hostile][decode][tcp]") {
    // kSyn with a 60-byte TCP header: 40 bytes of options, NOPs up to `at`, then `kind`
    // with length `len`, then bytes that would be options of length 0 themselves.
    auto tcp_frame = [](std::size_t at, std::uint8_t kind, std::uint8_t len) {
        Buf f = slice(kSyn, 0, kIp4End + 20);
        Buf opts(40, 0x1e);  // kind 30 ...
        for (std::size_t i = 1; i < opts.size(); i += 2)
            opts[i] = 0;  // ... of length 0
        std::fill(opts.begin(), opts.begin() + static_cast<std::ptrdiff_t>(at), tcpopt::kNop);
        opts[at] = kind;
        if (at + 1 < opts.size()) opts[at + 1] = len;
        f = cat(f, opts);
        f[kIp4End + 12] = 0xf0;
        put16(f, kEthLen + 2, 20 + 60);
        return f;
    };
    // An IPv4 header of 60 bytes (IHL 15) in front of a UDP datagram, the same way.
    auto ip_frame = [](std::size_t at, std::uint8_t kind, std::uint8_t len) {
        Buf f = slice(kDnsQuery, 0, kIp4End);
        Buf opts(40, 0x07);
        for (std::size_t i = 1; i < opts.size(); i += 2)
            opts[i] = 1;
        std::fill(opts.begin(), opts.begin() + static_cast<std::ptrdiff_t>(at), 1);
        opts[at] = kind;
        if (at + 1 < opts.size()) opts[at + 1] = len;
        f = cat(cat(f, opts), slice(kDnsQuery, kIp4End, kDnsQuery.size()));
        f[kEthLen] = 0x4f;
        put16(f, kEthLen + 2, static_cast<std::uint16_t>(f.size() - kEthLen));
        return f;
    };
    int n = 0;
    for (std::size_t at = 0; at < 40; ++at) {
        for (int kind = 2; kind < 256; ++kind) {
            for (const std::uint8_t len : {0, 1}) {
                INFO("option kind " << kind << ", length " << int{len} << ", at " << at);
                const Buf t = tcp_frame(at, static_cast<std::uint8_t>(kind), len);
                Packet pkt = decode_frame(t);
                check_promises(pkt, t);
                REQUIRE(pkt.error == DecodeError::BadOptionLength);
                REQUIRE(pkt.error_layer == Layer::Tcp);
                REQUIRE(pkt.has(Layer::Tcp));
                int visited = 0;
                pkt.tcp.for_each_option([&](const TcpOption&) { ++visited; });
                REQUIRE(static_cast<std::size_t>(visited) == at);  // the NOPs only
                if (++n % 97 == 0) report_survives(pkt);

                const Buf i = ip_frame(at, static_cast<std::uint8_t>(kind), len);
                pkt = decode_frame(i);
                check_promises(pkt, i);
                REQUIRE(pkt.error == DecodeError::BadOptionLength);
                REQUIRE(pkt.error_layer == Layer::Ipv4);
                REQUIRE_FALSE(pkt.has(Layer::Udp));
                if (n % 97 == 0) report_survives(pkt);
            }
        }
    }
}

TEST_CASE("hostile: overlapping retransmissions with other bytes: the first copy wins",
          "[hostile][reassembly]") {
    std::uint64_t inconsistent = 0;
    for (std::uint32_t seed = 1; seed <= 30; ++seed) {
        std::mt19937 rng(seed);
        const std::size_t n = 6000;
        // first[i]: the first byte offered for offset i (-1: none yet).
        std::vector<int> first(n, -1);
        StreamOut out;
        TcpReassembler r(1, ReassemblyOptions{}, out);
        r.start(0);
        const bool faithful = seed % 5 == 0;  // every copy the same bytes: nothing to report
        const Buf truth = random_bytes(n, rng);
        std::uint64_t seen_end = 0;
        for (int k = 0; k < 300; ++k) {
            const std::size_t at = rng() % n;
            const std::size_t len = std::min<std::size_t>(1 + rng() % 1500, n - at);
            Buf seg(truth.begin() + static_cast<std::ptrdiff_t>(at),
                    truth.begin() + static_cast<std::ptrdiff_t>(at + len));
            if (!faithful && rng() % 2) seg = random_bytes(len, rng);
            for (std::size_t i = 0; i < len; ++i)
                if (first[at + i] < 0) first[at + i] = seg[i];
            seen_end = std::max<std::uint64_t>(seen_end, at + len);
            r.segment(0, 0, 1 + at, seg.data(), static_cast<std::uint32_t>(len),
                      static_cast<std::uint32_t>(len), true, k);
        }
        r.finish(0, ConnEnd::Closed, false);
        INFO("seed " << seed);
        CHECK(out.in_order);
        REQUIRE(out.pos == seen_end);
        std::size_t wrong = 0, holes_as_data = 0, data_as_holes = 0;
        for (std::size_t i = 0; i < seen_end; ++i) {
            const bool got = i < out.delivered.size() && out.delivered[i];
            if (first[i] < 0) {
                if (got) ++holes_as_data;
            } else if (!got) {
                ++data_as_holes;
            } else if (out.data[i] != first[i]) {
                ++wrong;
            }
        }
        CHECK(wrong == 0);
        CHECK(holes_as_data == 0);
        CHECK(data_as_holes == 0);
        CHECK(r.counters().inconsistent <= r.counters().overlaps);
        if (faithful) {
            CHECK(r.counters().inconsistent == 0);
            CHECK(out.inconsistent_calls == 0);
        }
        inconsistent += r.counters().inconsistent;
    }
    CHECK(inconsistent > 0);
}

TEST_CASE("hostile: other bytes retransmitted over an upload leave its digest alone",
          "[hostile][reassembly][upload]") {
    std::uint64_t inconsistent = 0;
    for (std::uint32_t seed = 1; seed <= 20; ++seed) {
        std::mt19937 rng(seed);
        const Buf body = random_bytes(20000 + rng() % 5000, rng);
        const Buf stream = cat(upload("first-copy.bin", body), framed(R"({"status": "ok"})"));
        // Cut into segments, sent in a random order; after each, now and then a copy of
        // part of a segment already sent, with other bytes.
        std::vector<std::pair<std::size_t, std::size_t>> segs;
        for (std::size_t at = 0; at < stream.size();) {
            const std::size_t len = std::min<std::size_t>(1 + rng() % 1400, stream.size() - at);
            segs.emplace_back(at, at + len);
            at += len;
        }
        for (std::size_t i = segs.size(); i > 1; --i)
            std::swap(segs[i - 1], segs[rng() % i]);
        FramedStreamDecoder dec;
        dec.reset({});
        Frames sink;
        StreamOut out;
        out.decoder = &dec;
        out.sink = &sink;
        TcpReassembler r(1, ReassemblyOptions{}, out);
        r.start(0);
        std::uint64_t ts = 0;
        for (std::size_t k = 0; k < segs.size(); ++k) {
            const auto [a, b] = segs[k];
            r.segment(0, 0, 1 + a, stream.data() + a, static_cast<std::uint32_t>(b - a),
                      static_cast<std::uint32_t>(b - a), true, ++ts);
            if (rng() % 3 == 0) continue;
            const auto [c, d] = segs[rng() % (k + 1)];
            const std::size_t from = c + rng() % (d - c);
            const std::size_t to = from + 1 + rng() % (d - from);
            Buf evil(stream.begin() + static_cast<std::ptrdiff_t>(from),
                     stream.begin() + static_cast<std::ptrdiff_t>(to));
            for (auto& x : evil)
                x = static_cast<std::uint8_t>(~x);
            r.segment(0, 0, 1 + from, evil.data(), static_cast<std::uint32_t>(evil.size()),
                      static_cast<std::uint32_t>(evil.size()), true, ++ts);
        }
        r.finish(0, ConnEnd::Closed, false);
        INFO("seed " << seed);
        REQUIRE(out.data == stream);
        CHECK(out.gaps.empty());
        REQUIRE(sink.frames.size() == 2);
        CHECK(sink.frames[0].complete);
        CHECK(sink.frames[0].md5 == md5_hex(body));
        CHECK(sink.frames[0].digest_ok == 1);
        CHECK(sink.body_bytes == body.size());
        inconsistent += r.counters().inconsistent;
    }
    // Copies landing on bytes still waiting behind a hole are always compared.
    CHECK(inconsistent > 0);
}

TEST_CASE("hostile: length prefixes that lie as int32, after a good frame and when forced",
          "[hostile][upload]") {
    const Buf good = upload("ok.bin", bytes_of("a good body"));
    const Buf tail = bytes_of("what follows the lying prefix, whatever it is .......");
    const std::uint32_t lies[] = {0xffffffffu, 0x80000000u, 0xffff0000u, 0xfffffffeu,
                                  0u,          0x7fffffffu, 0x00010001u, 65537u};
    for (const std::uint32_t v : lies) {
        INFO("length prefix " << v << " (int32 " << static_cast<std::int32_t>(v) << ")");
        const Decoded d = decode_stream(cat(cat(good, prefix_le(v)), tail), {}, 7);
        CHECK(d.stopped);
        REQUIRE(d.sink.frames.size() == 2);
        CHECK(d.sink.frames[0].complete);
        CHECK(d.sink.frames[1].missing == "bad_length");
        CHECK(d.sink.frames[1].header.empty());
        CHECK(d.sink.begins == 1);
        // The same lie as the first bytes of a stream on --upload-port: whatever it is
        // taken for, no body larger than the stream could hold is begun.
        UploadOptions forced;
        forced.forced = true;
        const Buf s = cat(prefix_le(v), tail);
        for (const StreamEnd why : {StreamEnd::Fin, StreamEnd::Reset, StreamEnd::EndOfInput}) {
            const Decoded f = decode_stream(s, forced, 3, why);
            CHECK((f.framed || f.rejected));
            CHECK(f.sink.largest_begin <= forced.max_headerless);
            CHECK(f.sink.body_bytes <= s.size());
        }
    }
}

TEST_CASE("hostile: headers nested 100,000 deep, with --max-header above them",
          "[hostile][upload]") {
    UploadOptions opts;
    opts.max_header = 1u << 20;
    const Buf good = upload("ok.bin", bytes_of("1"));
    for (const std::string open : {"[", "{\"a\":"}) {
        std::string deep;
        for (int i = 0; i < 100000; ++i)
            deep += open;
        INFO("100,000 times " << open);
        // As the first header: not a framed stream; found out long before its end.
        const Decoded first = decode_stream(cat(framed(deep), bytes_of("tail")), opts, 1024);
        CHECK(first.rejected);
        CHECK(first.sink.framed_calls == 0);
        // After a good frame: reported as sent, decoding stops.
        const Decoded later = decode_stream(cat(good, framed(deep)), opts, 4096);
        CHECK(later.stopped);
        REQUIRE(later.sink.frames.size() == 2);
        CHECK(later.sink.frames[1].missing == "bad_header");
        CHECK(later.sink.frames[1].header.size() == deep.size());
        // Closed again at the end: still not an object nlohmann is handed.
        std::string closed = deep + "1";
        for (int i = 0; i < 100000; ++i)
            closed += open == "[" ? "]" : "}";
        const Decoded balanced = decode_stream(cat(good, framed(closed)), opts, 65536);
        REQUIRE(balanced.sink.frames.size() == 2);
        CHECK(balanced.sink.frames[1].missing == "bad_header");
    }
}

TEST_CASE("hostile: a header of --max-header bytes is taken, one more is a bad length",
          "[hostile][upload]") {
    UploadOptions opts;
    opts.max_header = 300;
    const Buf good = upload("ok.bin", bytes_of("1"));
    for (const std::size_t size : {300u, 301u}) {
        std::string h = R"({"file_name": "padded.bin", "file_size": 3, "pad": ")";
        h += std::string(size - h.size() - 2, 'p') + "\"}";
        REQUIRE(h.size() == size);
        INFO("header of " << size << " bytes");
        const Decoded d = decode_stream(cat(cat(good, framed(h, bytes_of("abc"))), good), opts, 5);
        if (size == 300) {
            REQUIRE(d.sink.frames.size() == 3);
            CHECK(d.sink.frames[1].complete);
            CHECK(d.sink.frames[1].name == "padded.bin");
        } else {
            REQUIRE(d.sink.frames.size() == 2);
            CHECK(d.sink.frames[1].missing == "bad_length");
        }
    }
}

TEST_CASE("hostile: sizes and gaps far beyond the stream", "[hostile][upload]") {
    for (const std::uint64_t size : {1ull << 50, 1ull << 40, 1000000000ull}) {
        const Buf s =
            framed(R"({"file_name": "far.bin", "file_size": )" + std::to_string(size) + "}",
                   bytes_of("ten bytes!"));
        INFO("declared " << size);
        for (const StreamEnd why : {StreamEnd::Fin, StreamEnd::Reset, StreamEnd::Timeout,
                                    StreamEnd::Evicted, StreamEnd::EndOfInput}) {
            const Decoded d = decode_stream(s, {}, 13, why);
            REQUIRE(d.sink.frames.size() == 1);
            const auto& f = d.sink.frames[0];
            CHECK_FALSE(f.complete);
            CHECK(f.declared == size);
            CHECK(f.received == 10);
            CHECK(f.missing == (why == StreamEnd::Reset        ? "reset"
                                : why == StreamEnd::EndOfInput ? "capture_ended"
                                                               : "connection_ended"));
        }
        // A gap of 2^62 bytes inside the body: the body's part of it, then stop.
        FramedStreamDecoder dec;
        dec.reset({});
        Frames sink;
        dec.data(s.data(), s.size(), 0, 0, 0, sink);
        dec.gap(s.size(), 1ull << 62, sink);
        dec.gap(s.size() + (1ull << 62), ~0ull, sink);
        dec.end(StreamEnd::Fin, sink);
        CHECK(dec.stopped());
        REQUIRE(sink.frames.size() == 1);
        CHECK(sink.gap_bytes == size - 10);
        CHECK(sink.frames[0].missing == "gap");
    }
    // 2^50 + 1, negative and fractional sizes: bad_size, nothing begun.
    for (const char* bad : {"1125899906842625", "-1", "-9223372036854775808", "1e300", "0.5",
                            "\"-7\"", "18446744073709551616"}) {
        INFO("file_size " << bad);
        const Decoded d = decode_stream(
            cat(upload("ok", bytes_of("1")),
                framed(std::string(R"({"file_name": "x", "file_size": )") + bad + "}", Buf(50))));
        REQUIRE(d.sink.frames.size() == 2);
        CHECK(d.sink.frames[1].missing == "bad_size");
        CHECK(d.sink.begins == 1);
    }
    // A file name that is no string is no name.
    for (const char* v : {"5", "null", "true", "[\"a\", \"b\"]", "{\"x\": \"../y\"}"}) {
        INFO("file_name " << v);
        const Decoded d = decode_stream(
            framed(std::string(R"({"file_name": )") + v + R"(, "file_size": 1})", bytes_of("z")));
        REQUIRE(d.sink.frames.size() == 1);
        CHECK(d.sink.frames[0].complete);
        CHECK(d.sink.frames[0].name.empty());
    }
}

TEST_CASE("hostile: a gap in a carved body is a hole, not zeros written out",
          "[hostile][extract]") {
    TempDir dir;
    const std::uint64_t size = (1ull << 30) - 1;  // --extract-max's default, less one
    const Buf head(100, 'A'), tail(100, 'B');
    for (const bool keep : {true, false}) {
        INFO((keep ? "--extract-partial" : "incomplete bodies removed"));
        FileExtractor fx;
        ExtractOptions opts;
        opts.dir = dir.path.string();
        opts.keep_partial = keep;
        std::string error, refusal;
        REQUIRE(fx.open(opts, error));
        const int h = fx.begin("gap.bin", size, refusal);
        if (refusal == "no_space") return;  // a disk with less than 1 GiB free
        REQUIRE(h >= 0);
        REQUIRE(fx.write(h, head.data(), head.size()));
        REQUIRE(fx.skip(h, size - 200));
        REQUIRE(fx.write(h, tail.data(), tail.size()));
        const std::string kept = fx.finish(h, false, refusal);
        if (!keep) {
            CHECK(kept.empty());
            CHECK(refusal == "incomplete");
            CHECK(fs::is_empty(dir.path));
            continue;
        }
        REQUIRE(kept == "gap.bin.partial");
        const fs::path p = dir.path / kept;
        struct stat st {};
        REQUIRE(::stat(p.c_str(), &st) == 0);
        CHECK(static_cast<std::uint64_t>(st.st_size) == size);
        CHECK(static_cast<std::uint64_t>(st.st_blocks) * 512 < (1u << 20));
        std::ifstream in(p, std::ios::binary);
        Buf got(200);
        in.read(reinterpret_cast<char*>(got.data()), 200);
        CHECK(Buf(got.begin(), got.begin() + 100) == head);
        CHECK(std::all_of(got.begin() + 100, got.end(), [](std::uint8_t c) { return c == 0; }));
        in.seekg(static_cast<std::streamoff>(size - 100));
        in.read(reinterpret_cast<char*>(got.data()), 100);
        CHECK(Buf(got.begin(), got.begin() + 100) == tail);
        fs::remove(p);
    }
    // A hole may not take a body past --extract-max either.
    FileExtractor fx;
    ExtractOptions opts;
    opts.dir = dir.path.string();
    opts.keep_partial = true;
    opts.max_size = 1000;
    std::string error, refusal;
    REQUIRE(fx.open(opts, error));
    const int h = fx.begin("capped.bin", 1000, refusal);
    REQUIRE(h >= 0);
    REQUIRE(fx.write(h, head.data(), head.size()));
    CHECK_FALSE(fx.skip(h, 901));
    CHECK(fx.finish(h, false, refusal).empty());
    CHECK(refusal == "too_large");
    CHECK(fs::is_empty(dir.path));
}

TEST_CASE("hostile: a pcap's seconds are 32 unsigned bits, past 2038 too", "[hostile][capture]") {
    TempDir dir;
    const Buf frame = kSyn;
    const auto n = static_cast<std::uint32_t>(frame.size());
    struct Case {
        std::uint32_t magic, sec, frac;
        std::uint64_t want_ns;
    };
    const Case cases[] = {
        {0xa1b2c3d4, 2208988800u, 5, 2208988800ull * 1000000000 + 5000},  // 2040, in µs
        {0xa1b2c3d4, 0x7fffffffu, 999999, 0x7fffffffull * 1000000000 + 999999000},
        {0xa1b2c3d4, 0x80000000u, 0, 0x80000000ull * 1000000000},
        {0xa1b2c3d4, 0xffffffffu, 999999, 0xffffffffull * 1000000000 + 999999000},
        {0xa1b23c4d, 0xfffffffeu, 999999999, 0xfffffffeull * 1000000000 + 999999999},  // ns
        {0xa1b2c3d4, 1704067200u, 1, 1704067200ull * 1000000000 + 1000},
    };
    for (const Case& c : cases) {
        INFO("magic " << std::hex << c.magic << std::dec << ", seconds " << c.sec);
        const fs::path p = dir.path / "ts.pcap";
        write_file(p, pcap_file({{frame, c.sec, c.frac, n, n}}, 262144, c.magic));
        const Read r = read_all(p);
        REQUIRE(r.frames.size() == 1);
        CHECK(r.frames[0].ts_ns == c.want_ns);
    }
}

TEST_CASE("hostile: capture files cut at every offset, with record lengths that lie",
          "[hostile][capture]") {
    TempDir dir;
    // Six records: frames of the decode tests, the fourth with a snap length cut.
    std::vector<Record> recs;
    const Buf* frames[] = {&kSyn, &kDnsQuery, &kIpv6ExtTcp, &kIcmpEcho, &kIpv6Udp, &kArpRequest};
    std::uint32_t sec = 1700000000;
    for (const Buf* f : frames) {
        const auto n = static_cast<std::uint32_t>(f->size());
        recs.push_back({*f, sec++, 250000, n, n});
    }
    recs[3].data.resize(40);
    recs[3].caplen = 40;
    const fs::path p = dir.path / "cut";

    SECTION("pcap and pcapng cut at every offset") {
        for (const bool ng : {false, true}) {
            const Buf whole = ng ? pcapng_file(recs) : pcap_file(recs);
            // Where each record ends, and where the file can first be opened.
            std::vector<std::size_t> ends;
            std::size_t opened_at;
            if (ng) {
                std::size_t off = 0;
                while (off < whole.size()) {
                    off += whole[off + 4] | whole[off + 5] << 8 | whole[off + 6] << 16;
                    ends.push_back(off);
                }
                opened_at = ends[1];  // the section header and the interface
                ends.erase(ends.begin(), ends.begin() + 2);
            } else {
                std::size_t off = 24;
                for (const Record& r : recs) {
                    off += 16 + r.data.size();
                    ends.push_back(off);
                }
                opened_at = 24;
            }
            for (std::size_t cut = 0; cut <= whole.size(); ++cut) {
                INFO((ng ? "pcapng" : "pcap") << " cut at " << cut << " of " << whole.size());
                write_file(p, Buf(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(cut)));
                const Read r = read_all(p);
                const auto want = static_cast<std::size_t>(std::count_if(
                    ends.begin(), ends.end(), [&](std::size_t e) { return e <= cut; }));
                CHECK(r.opened == (cut >= opened_at));
                if (!r.opened) continue;
                CHECK(r.frames.size() == want);
                const bool boundary = cut == opened_at || std::count(ends.begin(), ends.end(), cut);
                CHECK((r.last == PcapSource::Status::End) == boundary);
                for (std::size_t i = 0; i < r.frames.size(); ++i) {
                    CHECK(r.copies[i] == recs[i].data);
                    CHECK(r.frames[i].len == recs[i].len);
                }
            }
        }
    }
    SECTION("the third record's lengths lie") {
        const std::uint32_t lies[] = {0,          1,          13,         109,
                                      111,        262144,     262145,     0x7fffffff,
                                      0x80000000, 0xfffffff0, 0xffffffff, 0x10000000};
        for (const bool caplen : {true, false}) {
            for (const std::uint32_t v : lies) {
                INFO((caplen ? "caplen " : "wire length ") << v);
                std::vector<Record> lying = recs;
                (caplen ? lying[2].caplen : lying[2].len) = v;
                write_file(p, pcap_file(lying));
                const Read r = read_all(p);
                REQUIRE(r.opened);
                CHECK(r.frames.size() >= 2);
                for (std::size_t i = 0; i < r.frames.size(); ++i)
                    CHECK(r.frames[i].caplen == r.copies[i].size());
                if (caplen && v > 262144) {
                    CHECK(r.frames.size() == 2);
                    CHECK(r.last == PcapSource::Status::Error);
                }
                if (!caplen) {
                    REQUIRE(r.frames.size() == recs.size());
                    CHECK(r.frames[2].len == v);
                    CHECK(r.last == PcapSource::Status::End);
                }
            }
        }
        // The snap length in the file header: 1, 0 and 0xFFFFFFFF.
        for (const std::uint32_t snap : {1u, 0u, 0xffffffffu}) {
            INFO("snap length " << snap);
            write_file(p, pcap_file(recs, snap));
            const Read r = read_all(p);
            REQUIRE(r.opened);
            CHECK(r.frames.size() == recs.size());
            for (const RawFrame& f : r.frames)
                CHECK(f.caplen <= (snap == 1 ? 1u : 262144u));
        }
    }
}
