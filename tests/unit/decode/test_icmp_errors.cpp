// ICMP errors: the quoted datagram (IcmpQuoteView) decoded from frames
// built byte by byte here. The expected values are the ones written into the
// frames; a quote cut short must never make the ICMP packet itself malformed.
#include <catch2/catch.hpp>
#include <cstdint>
#include <vector>

#include "decode/packet.hpp"
#include "tests/unit/decode/test_decoder_frames.hpp"

namespace {

using wl::testing::cat;
using wl::testing::decode_frame;
using wl::testing::kDnsQuery;
using wl::testing::kEthLen;
using wl::testing::kIp4End;
using wl::testing::kIpv6ExtTcp;
using wl::testing::kSyn;
using wl::testing::ones_sum;
using wl::testing::put16;
using wl::testing::slice;

using Frame = std::vector<std::uint8_t>;

const Frame kEthHeader4 = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00};
const Frame kEthHeader6 = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x86, 0xdd};

// Ethernet, IPv4 10.0.0.1 > 192.168.1.100 (protocol 1), ICMP type/code/rest, quote.
Frame icmp4_frame(std::uint8_t type, std::uint8_t code, const Frame& rest, const Frame& quote) {
    Frame icmp = cat(cat({type, code, 0, 0}, rest), quote);
    put16(icmp, 2, static_cast<std::uint16_t>(~ones_sum(icmp)));
    Frame ip = {0x45, 0, 0, 0, 0, 1, 0, 0, 64, 1, 0, 0, 10, 0, 0, 1, 192, 168, 1, 100};
    put16(ip, 2, static_cast<std::uint16_t>(20 + icmp.size()));
    put16(ip, 10, static_cast<std::uint16_t>(~ones_sum(ip)));
    return cat(cat(kEthHeader4, ip), icmp);
}

// Ethernet, IPv6 fd00::1 > 2001:db8::1 (next header 58), ICMPv6 (checksum with
// the pseudo header), quote.
Frame icmp6_frame(std::uint8_t type, std::uint8_t code, const Frame& rest, const Frame& quote) {
    Frame icmp = cat(cat({type, code, 0, 0}, rest), quote);
    Frame ip = {0x60, 0, 0, 0, 0, 0, 58, 64};
    put16(ip, 4, static_cast<std::uint16_t>(icmp.size()));
    const Frame src = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    const Frame dst = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    ip = cat(cat(ip, src), dst);
    Frame pseudo = cat(src, dst);
    const Frame len_next = {0,
                            0,
                            static_cast<std::uint8_t>(icmp.size() >> 8),
                            static_cast<std::uint8_t>(icmp.size()),
                            0,
                            0,
                            0,
                            58};
    pseudo = cat(cat(pseudo, len_next), icmp);
    put16(icmp, 2, static_cast<std::uint16_t>(~ones_sum(pseudo)));
    return cat(cat(kEthHeader6, ip), icmp);
}

// The SYN of kSyn (192.168.1.100:50000 > 93.184.216.34:80) as a router quotes
// it: its IP header and the first 8 bytes of TCP.
Frame syn_quote(std::size_t n = 28) {
    return slice(kSyn, kEthLen, kEthLen + n);
}

const Frame kMtu1492 = {0, 0, 0x05, 0xd4};
const Frame kUnused = {0, 0, 0, 0};

}  // namespace

TEST_CASE("icmp error: need-to-frag quotes the TCP SYN, with the next-hop MTU",
          "[decode][icmp_error]") {
    const Frame f = icmp4_frame(3, 4, kMtu1492, syn_quote());
    wl::Packet pkt = decode_frame(f, 1, 0, {.verify_checksums = true});
    REQUIRE(pkt.has(wl::Layer::Icmp));
    CHECK_FALSE(pkt.malformed());
    CHECK(pkt.icmp.type() == 3);
    CHECK(pkt.icmp.code() == 4);
    REQUIRE(pkt.icmp.has_rest());
    CHECK(pkt.icmp.next_hop_mtu() == 1492);
    const wl::IcmpQuoteView& q = pkt.icmp_quote;
    REQUIRE_FALSE(q.bytes.empty());
    CHECK(q.version == 4);
    CHECK(q.proto == 6);
    CHECK(q.ip_header_len == 20);
    CHECK(q.total_len == 60);
    CHECK(wl::testing::hex_of(q.src(), 4) == "c0a80164");
    CHECK(wl::testing::hex_of(q.dst(), 4) == "5db8d822");
    REQUIRE(q.has_transport);
    CHECK(q.src_port() == 50000);
    CHECK(q.dst_port() == 80);
}

TEST_CASE("icmp error: port unreachable quoting a UDP query", "[decode][icmp_error]") {
    const Frame quote = slice(kDnsQuery, kEthLen, kIp4End + 8);
    const Frame frame = icmp4_frame(3, 3, kUnused, quote);
    wl::Packet pkt = decode_frame(frame);
    REQUIRE(pkt.has(wl::Layer::Icmp));
    const wl::IcmpQuoteView& q = pkt.icmp_quote;
    REQUIRE(q.has_transport);
    CHECK(q.proto == 17);
    CHECK(wl::testing::hex_of(q.src(), 4) == "0a000002");
    CHECK(wl::testing::hex_of(q.dst(), 4) == "08080808");
    CHECK(q.src_port() == 53000);
    CHECK(q.dst_port() == 53);
}

TEST_CASE("icmp error: a quote cut short is no error of the ICMP packet", "[decode][icmp_error]") {
    SECTION("cut inside the quoted IP header: no quote") {
        const Frame frame = icmp4_frame(3, 3, kUnused, syn_quote(12));
        wl::Packet pkt = decode_frame(frame);
        REQUIRE(pkt.has(wl::Layer::Icmp));
        CHECK_FALSE(pkt.malformed());
        CHECK(pkt.icmp_quote.bytes.empty());
    }
    SECTION("the IP header and 2 bytes of TCP: addresses, no ports") {
        const Frame frame = icmp4_frame(3, 3, kUnused, syn_quote(22));
        wl::Packet pkt = decode_frame(frame);
        CHECK_FALSE(pkt.malformed());
        REQUIRE_FALSE(pkt.icmp_quote.bytes.empty());
        CHECK(pkt.icmp_quote.proto == 6);
        CHECK_FALSE(pkt.icmp_quote.has_transport);
    }
    SECTION("no quote at all, the capture cut 6 bytes into the ICMP header") {
        const Frame f = icmp4_frame(3, 4, kMtu1492, {});
        const Frame cut = slice(f, 0, f.size() - 2);
        wl::Packet pkt = decode_frame(cut, 1, static_cast<std::uint32_t>(f.size()));
        REQUIRE(pkt.has(wl::Layer::Icmp));
        CHECK_FALSE(pkt.malformed());
        CHECK_FALSE(pkt.icmp.has_rest());
        CHECK(pkt.icmp_quote.bytes.empty());
    }
    SECTION("the capture cut inside the quote (snap length)") {
        const Frame f = icmp4_frame(11, 0, kUnused, syn_quote());
        const Frame cut = slice(f, 0, f.size() - 6);
        wl::Packet pkt = decode_frame(cut, 1, static_cast<std::uint32_t>(f.size()));
        REQUIRE(pkt.has(wl::Layer::Icmp));
        CHECK_FALSE(pkt.malformed());
        REQUIRE_FALSE(pkt.icmp_quote.bytes.empty());
        CHECK_FALSE(pkt.icmp_quote.has_transport);
    }
}

TEST_CASE("icmp error: quotes that are not what they claim", "[decode][icmp_error]") {
    SECTION("an IPv6 header quoted by ICMPv4") {
        const Frame quote = slice(kIpv6ExtTcp, kEthLen, kEthLen + 48);
        const Frame frame = icmp4_frame(3, 1, kUnused, quote);
        wl::Packet pkt = decode_frame(frame);
        CHECK(pkt.icmp_quote.bytes.empty());
    }
    SECTION("a header length below 20") {
        Frame quote = syn_quote();
        quote[0] = 0x44;
        const Frame frame = icmp4_frame(3, 1, kUnused, quote);
        wl::Packet pkt = decode_frame(frame);
        CHECK(pkt.icmp_quote.bytes.empty());
    }
    SECTION("a later fragment: addresses, no ports") {
        Frame quote = syn_quote();
        quote[6] = 0x00;
        quote[7] = 0x10;  // offset 128
        const Frame frame = icmp4_frame(3, 1, kUnused, quote);
        wl::Packet pkt = decode_frame(frame);
        REQUIRE_FALSE(pkt.icmp_quote.bytes.empty());
        CHECK_FALSE(pkt.icmp_quote.has_transport);
    }
    SECTION("an echo request is no error: nothing quoted") {
        wl::Packet pkt = decode_frame(wl::testing::kIcmpEcho);
        REQUIRE(pkt.has(wl::Layer::Icmp));
        CHECK(pkt.icmp_quote.bytes.empty());
    }
}

TEST_CASE("icmpv6 error: packet too big quoting TCP behind three extension headers",
          "[decode][icmp_error]") {
    // kIpv6ExtTcp: hop-by-hop, destination options, fragment (offset 0), then
    // TCP 443 > 51000; quoted up to 8 bytes of TCP.
    const Frame quote = slice(kIpv6ExtTcp, kEthLen, kEthLen + 40 + 32 + 8);
    const Frame frame = icmp6_frame(2, 0, {0, 0, 0x05, 0x00}, quote);
    wl::Packet pkt = decode_frame(frame, 1, 0, {.verify_checksums = true});
    REQUIRE(pkt.has(wl::Layer::Icmpv6));
    CHECK_FALSE(pkt.malformed());
    CHECK(pkt.icmp.mtu6() == 1280);
    const wl::IcmpQuoteView& q = pkt.icmp_quote;
    REQUIRE_FALSE(q.bytes.empty());
    CHECK(q.version == 6);
    CHECK(q.proto == 6);
    CHECK(q.ip_header_len == 72);
    CHECK(wl::testing::hex_of(q.src(), 16) == "20010db8000000000000000000000001");
    CHECK(wl::testing::hex_of(q.dst(), 16) == "20010db8000000010000000000000002");
    REQUIRE(q.has_transport);
    CHECK(q.src_port() == 443);
    CHECK(q.dst_port() == 51000);
}

TEST_CASE("icmpv6 error: a quote cut inside its extension headers", "[decode][icmp_error]") {
    const Frame quote = slice(kIpv6ExtTcp, kEthLen, kEthLen + 40 + 12);
    const Frame frame = icmp6_frame(1, 4, kUnused, quote);
    wl::Packet pkt = decode_frame(frame);
    REQUIRE(pkt.has(wl::Layer::Icmpv6));
    CHECK_FALSE(pkt.malformed());
    REQUIRE_FALSE(pkt.icmp_quote.bytes.empty());
    CHECK_FALSE(pkt.icmp_quote.has_transport);
}
