// Every prefix of every frame: decode() must stay inside the captured bytes
// (each prefix is copied into a vector of exactly its size so that ASan sees
// an over-read), say where the cut fell, and keep the layers above the cut.
// Two readings of each prefix: a snap-length cut (the wire carried the whole
// frame) and a frame that really was that short on the wire (its IP length lies).
#include <algorithm>
#include <catch2/catch.hpp>
#include <iterator>
#include <string>
#include <vector>

#include "tests/unit/decode/decode_checks.hpp"
#include "tests/unit/decode/test_decoder_frames.hpp"

using namespace wl;
using namespace wl::testing;

namespace {

struct Header {
    std::size_t start, end;
    Layer layer;
};

struct FrameSpec {
    const char* name;
    std::vector<std::uint8_t> frame;
    int linktype;
    std::vector<Header> headers;  // in order; an IPv6 extension chain is one header
    std::size_t payload_start;    // npos: the frame has no upper-layer payload
    std::size_t payload_end;      // before any link-layer padding
    // The IP header whose length field covers the rest (for the short-on-the-wire reading).
    std::size_t ip_index;  // index into headers; npos when there is none
};

constexpr std::size_t npos = static_cast<std::size_t>(-1);

std::uint32_t layer_bits(const std::vector<Header>& hs, std::size_t upto) {
    std::uint32_t b = 0;
    for (std::size_t i = 0; i < upto; ++i)
        b |= 1u << static_cast<unsigned>(hs[i].layer);
    return b;
}

std::vector<std::uint8_t> ip_of(const std::vector<std::uint8_t>& frame, std::size_t from) {
    return slice(frame, from, frame.size());
}

std::vector<FrameSpec> specs() {
    const Layer E = Layer::Ethernet;
    const Layer V4 = Layer::Ipv4;
    const Layer V6 = Layer::Ipv6;
    std::vector<FrameSpec> s;
    s.push_back(
        {"TCP SYN", kSyn, 1, {{0, 14, E}, {14, 34, V4}, {34, 74, Layer::Tcp}}, npos, 74, 1});
    s.push_back(
        {"DNS query", kDnsQuery, 1, {{0, 14, E}, {14, 34, V4}, {34, 42, Layer::Udp}}, 42, 71, 1});
    s.push_back(
        {"ICMP echo", kIcmpEcho, 1, {{0, 14, E}, {14, 34, V4}, {34, 38, Layer::Icmp}}, 38, 74, 1});
    s.push_back(
        {"ARP request", kArpRequest, 1, {{0, 14, E}, {14, 42, Layer::Arp}}, npos, 42, npos});
    s.push_back({"IPv6 ext chain + TCP",
                 kIpv6ExtTcp,
                 1,
                 {{0, 14, E}, {14, 54, V6}, {54, 86, Layer::Ipv6Ext}, {86, 106, Layer::Tcp}},
                 106,
                 110,
                 1});
    s.push_back({"IPv6 later fragment",
                 kIpv6LaterFrag,
                 1,
                 {{0, 14, E}, {14, 54, V6}, {54, 86, Layer::Ipv6Ext}},
                 86,
                 102,
                 1});
    s.push_back({"ICMPv6 echo",
                 kIcmpv6Echo,
                 1,
                 {{0, 14, E}, {14, 54, V6}, {54, 58, Layer::Icmpv6}},
                 58,
                 64,
                 1});
    s.push_back({"UDP over IPv6",
                 kIpv6Udp,
                 1,
                 {{0, 14, E}, {14, 54, V6}, {54, 62, Layer::Udp}},
                 62,
                 67,
                 1});
    s.push_back(
        {"padded UDP", kPaddedUdp, 1, {{0, 14, E}, {14, 34, V4}, {34, 42, Layer::Udp}}, 42, 45, 1});

    // Two VLAN tags before the DNS query.
    std::vector<std::uint8_t> qinq = slice(kDnsQuery, 0, 12);
    qinq.insert(qinq.end(), {0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x20, 0x0a, 0x08, 0x00});
    qinq = cat(qinq, ip_of(kDnsQuery, kEthLen));
    s.push_back({"QinQ DNS query",
                 qinq,
                 1,
                 {{0, 14, E},
                  {14, 18, Layer::Vlan},
                  {18, 22, Layer::Vlan},
                  {22, 42, V4},
                  {42, 50, Layer::Udp}},
                 50,
                 79,
                 3});

    const std::vector<std::uint8_t> sll = {0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00, 0x1b,
                                           0x21, 0x3a, 0x4f, 0x5e, 0x00, 0x00, 0x08, 0x00};
    s.push_back({"SLL DNS query",
                 cat(sll, ip_of(kDnsQuery, kEthLen)),
                 113,
                 {{0, 16, Layer::Link}, {16, 36, V4}, {36, 44, Layer::Udp}},
                 44,
                 73,
                 1});
    const std::vector<std::uint8_t> sll2 = {0x86, 0xdd, 0x00, 0x00, 0x00, 0x00, 0x00,
                                            0x02, 0x00, 0x01, 0x00, 0x06, 0x00, 0x1b,
                                            0x21, 0x3a, 0x4f, 0x5e, 0x00, 0x00};
    s.push_back(
        {"SLL2 SYN over IPv6 ext chain",
         cat(sll2, ip_of(kIpv6ExtTcp, kEthLen)),
         276,
         {{0, 20, Layer::Link}, {20, 60, V6}, {60, 92, Layer::Ipv6Ext}, {92, 112, Layer::Tcp}},
         112,
         116,
         1});
    const std::vector<std::uint8_t> null_le = {0x02, 0x00, 0x00, 0x00};
    s.push_back({"null ICMP echo",
                 cat(null_le, ip_of(kIcmpEcho, kEthLen)),
                 0,
                 {{0, 4, Layer::Link}, {4, 24, V4}, {24, 28, Layer::Icmp}},
                 28,
                 64,
                 1});
    const std::vector<std::uint8_t> loop6 = {0x00, 0x00, 0x00, 0x1e};
    s.push_back({"loop UDP over IPv6",
                 cat(loop6, ip_of(kIpv6Udp, kEthLen)),
                 108,
                 {{0, 4, Layer::Link}, {4, 44, V6}, {44, 52, Layer::Udp}},
                 52,
                 57,
                 1});
    s.push_back({"raw IPv4 SYN",
                 ip_of(kSyn, kEthLen),
                 12,
                 {{0, 20, V4}, {20, 60, Layer::Tcp}},
                 npos,
                 60,
                 0});
    s.push_back({"DLT_IPV4 DNS query",
                 ip_of(kDnsQuery, kEthLen),
                 228,
                 {{0, 20, V4}, {20, 28, Layer::Udp}},
                 28,
                 57,
                 0});
    s.push_back({"DLT_IPV6 ICMPv6",
                 ip_of(kIcmpv6Echo, kEthLen),
                 229,
                 {{0, 40, V6}, {40, 44, Layer::Icmpv6}},
                 44,
                 50,
                 0});
    return s;
}

}  // namespace

TEST_CASE("decode: every prefix of every frame", "[decode][truncation]") {
    for (const FrameSpec& spec : specs()) {
        const std::size_t n = spec.frame.size();
        const std::uint32_t all_layers = layer_bits(spec.headers, spec.headers.size());
        // The whole frame first: the spec must describe it.
        {
            INFO(spec.name << ", whole frame");
            const Packet pkt = decode_frame(spec.frame, spec.linktype);
            REQUIRE_FALSE(pkt.malformed());
            REQUIRE(pkt.layers == all_layers);
            if (spec.payload_start != npos) {
                REQUIRE(pkt.payload.size() == spec.payload_end - spec.payload_start);
                REQUIRE(pkt.payload_wire_len == spec.payload_end - spec.payload_start);
            }
        }
        for (std::size_t p = 0; p < n; ++p) {
            // Exactly p bytes on the heap: ASan reports a read of byte p.
            const std::vector<std::uint8_t> cut(
                spec.frame.begin(), spec.frame.begin() + static_cast<std::ptrdiff_t>(p));
            std::size_t hit = spec.headers.size();  // the header the cut falls in
            for (std::size_t i = 0; i < spec.headers.size(); ++i) {
                if (p < spec.headers[i].end) {
                    hit = i;
                    break;
                }
            }
            for (const bool verify : {false, true}) {
                const DecodeOptions opts{.verify_checksums = verify};
                // Snap-length cut: the wire carried all n bytes.
                {
                    INFO(spec.name << ", snapped to " << p << " of " << n << " bytes"
                                   << (verify ? ", verifying checksums" : ""));
                    const Packet pkt =
                        decode_frame(cut, spec.linktype, static_cast<std::uint32_t>(n), opts);
                    CHECK(pkt.linktype == spec.linktype);
                    CHECK(inside(pkt.payload, cut));
                    if (hit < spec.headers.size()) {
                        CHECK(pkt.error == DecodeError::Truncated);
                        CHECK(pkt.error_layer == spec.headers[hit].layer);
                        CHECK(pkt.layers == layer_bits(spec.headers, hit));
                    } else {
                        CHECK_FALSE(pkt.malformed());
                        CHECK(pkt.layers == all_layers);
                        if (spec.payload_start != npos) {
                            const std::size_t end = std::min(p, spec.payload_end);
                            CHECK(pkt.payload.size() == end - spec.payload_start);
                            CHECK(pkt.payload_wire_len == spec.payload_end - spec.payload_start);
                            CHECK(pkt.payload.data() == cut.data() + spec.payload_start);
                        }
                    }
                    if (!verify) report_survives(pkt);
                }
                // A frame that was p bytes on the wire too.
                {
                    INFO(spec.name << ", " << p << " of " << n << " bytes on the wire"
                                   << (verify ? ", verifying checksums" : ""));
                    const Packet pkt =
                        decode_frame(cut, spec.linktype, static_cast<std::uint32_t>(p), opts);
                    CHECK(inside(pkt.payload, cut));
                    const bool has_ip = spec.ip_index != npos;
                    const Header ip = has_ip ? spec.headers[spec.ip_index] : Header{0, 0, {}};
                    const bool ip_short = has_ip && p >= ip.end && p < spec.payload_end;
                    if (ip_short) {
                        // The IP header is whole but its length reaches past the frame.
                        CHECK(pkt.error == DecodeError::BadTotalLength);
                        CHECK(pkt.error_layer == ip.layer);
                        CHECK(pkt.layers == layer_bits(spec.headers, spec.ip_index));
                    } else if (hit < spec.headers.size()) {
                        CHECK(pkt.error == DecodeError::Truncated);
                        CHECK(pkt.error_layer == spec.headers[hit].layer);
                        CHECK(pkt.layers == layer_bits(spec.headers, hit));
                    } else {
                        // Only link-layer padding was missing.
                        CHECK_FALSE(pkt.malformed());
                        CHECK(pkt.layers == all_layers);
                    }
                    if (!verify) report_survives(pkt);
                }
            }
        }
    }
}

TEST_CASE("decode: random bytes under every link type stay in bounds", "[decode][truncation]") {
    // Frames of random lengths whose bytes are mostly a real frame with a few
    // random bytes written over it: decode() and the reports must not fault.
    std::uint64_t state = 0x9e3779b97f4a7c15ull;
    auto next = [&] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    const std::vector<std::uint8_t>* bases[] = {&kSyn,        &kDnsQuery,   &kIcmpEcho,
                                                &kArpRequest, &kIpv6ExtTcp, &kIpv6LaterFrag,
                                                &kIcmpv6Echo, &kIpv6Udp,    &kPaddedUdp};
    const int links[] = {1, 0, 12, 108, 113, 228, 229, 276};
    int decoded_tcp = 0;
    for (int round = 0; round < 20000; ++round) {
        const auto& base = *bases[next() % std::size(bases)];
        const int link = links[next() % std::size(links)];
        // Swap the Ethernet header for the link's own, carrying the same ethertype.
        std::vector<std::uint8_t> f = link == 1 ? base : slice(base, kEthLen, base.size());
        const std::uint8_t t0 = base[12], t1 = base[13];
        const bool v6 = t0 == 0x86;
        std::vector<std::uint8_t> hdr;
        if (link == 0) hdr = {static_cast<std::uint8_t>(v6 ? 30 : 2), 0, 0, 0};
        if (link == 108) hdr = {0, 0, 0, static_cast<std::uint8_t>(v6 ? 24 : 2)};
        if (link == 113) hdr = {0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, t0, t1};
        if (link == 276) hdr = {t0, t1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0};
        f = cat(hdr, f);
        const int flips = static_cast<int>(next() % 4);
        for (int i = 0; i < flips && !f.empty(); ++i) {
            f[next() % f.size()] = static_cast<std::uint8_t>(next());
        }
        if (next() % 2) f.resize(next() % (f.size() + 1));
        const std::uint32_t wire =
            static_cast<std::uint32_t>(f.size() + (next() % 2 ? 0 : next() % 100));
        const Packet pkt =
            decode_frame(f, link, wire, DecodeOptions{.verify_checksums = next() % 2 == 0});
        INFO("round " << round);
        REQUIRE(inside(pkt.payload, f));
        if (pkt.has(Layer::Tcp)) {
            ++decoded_tcp;
            REQUIRE(inside(pkt.tcp.bytes, f));
        }
        if (round % 8 == 0) report_survives(pkt);
    }
    CHECK(decoded_tcp > 100);
}
