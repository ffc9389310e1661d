// The Internet checksum, against a plain 16-bit loop written here, and
// decode()'s --verify-checksums on real packets and one-bit corruptions.
#include <catch2/catch.hpp>
#include <random>
#include <vector>

#include "decode/checksum.hpp"
#include "tests/unit/decode/test_decoder_frames.hpp"

using namespace wl;
using namespace wl::testing;

namespace {

using Buf = std::vector<std::uint8_t>;

Bytes bytes_of(const Buf& b) {
    return Bytes{b.data(), b.size()};
}

// The checksum field value for `seg` after a pseudo header, the textbook way.
std::uint16_t l4_checksum(const Buf& src, const Buf& dst, std::uint8_t proto, const Buf& seg) {
    Buf all = cat(src, dst);
    const std::size_t len = seg.size();
    if (src.size() == 4) {
        all.insert(all.end(),
                   {0, proto, static_cast<std::uint8_t>(len >> 8), static_cast<std::uint8_t>(len)});
    } else {
        all.insert(
            all.end(),
            {static_cast<std::uint8_t>(len >> 24), static_cast<std::uint8_t>(len >> 16),
             static_cast<std::uint8_t>(len >> 8), static_cast<std::uint8_t>(len), 0, 0, 0, proto});
    }
    // The segment may be odd: pad it here, not in the middle of `all`.
    all = cat(all, seg);
    return static_cast<std::uint16_t>(~ones_sum(all));
}

void fix_ip4_checksum(Buf& frame, std::size_t at) {
    put16(frame, at + 10, 0);
    const std::uint8_t ihl = frame[at] & 0x0f;
    const Buf hdr = slice(frame, at, at + ihl * 4u);
    put16(frame, at + 10, static_cast<std::uint16_t>(~ones_sum(hdr)));
}

Packet verify(const Buf& frame, std::uint32_t wire = 0) {
    return decode_frame(frame, 1, wire, DecodeOptions{.verify_checksums = true});
}

}  // namespace

TEST_CASE("checksum_add folds like a plain 16-bit loop", "[checksum]") {
    std::mt19937 rng(20240601);
    for (int round = 0; round < 2000; ++round) {
        Buf a(rng() % 64);
        Buf b(rng() % 1600);
        for (auto& x : a)
            x = static_cast<std::uint8_t>(rng());
        for (auto& x : b)
            x = static_cast<std::uint8_t>(rng());
        if (round % 4 == 0) std::fill(b.begin(), b.end(), 0xff);  // worst case for carries
        INFO("round " << round << " sizes " << a.size() << " " << b.size());
        const std::uint16_t want = ones_sum(b);
        const std::uint32_t got = checksum_add(bytes_of(b));
        REQUIRE(got <= 0xffff);
        // 0 and 0xffff are the same number in one's complement.
        REQUIRE(checksum_fold(got) % 0xffff == want % 0xffff);
        // Sums carry from one call to the next (over an even first part).
        if (a.size() % 2) a.pop_back();
        const std::uint16_t joined = ones_sum(cat(a, b));
        REQUIRE(checksum_fold(checksum_add(bytes_of(b), checksum_add(bytes_of(a)))) % 0xffff ==
                joined % 0xffff);
    }
    CHECK(checksum_fold(0x1fffe) == 0xffff);
    CHECK(checksum_fold(0x10000) == 0x0001);
    CHECK(checksum_fold(0xffffffffu) == 0xffff);
    // RFC 1071's worked example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
    const Buf rfc = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    CHECK(checksum_fold(checksum_add(bytes_of(rfc))) == 0xddf2);
}

TEST_CASE("the literal frames carry correct checksums by the plain loop", "[checksum]") {
    // Guards the test data itself: a wrong literal would make the tests below meaningless.
    for (const Buf* f : {&kSyn, &kDnsQuery, &kIcmpEcho, &kPaddedUdp}) {
        CHECK(ones_sum(slice(*f, kEthLen, kIp4End)) == 0xffff);
    }
    const Buf syn_tcp = slice(kSyn, kIp4End, kSyn.size());
    Buf zeroed = syn_tcp;
    put16(zeroed, 16, 0);
    CHECK(l4_checksum({192, 168, 1, 100}, {93, 184, 216, 34}, 6, zeroed) == 0x49be);
    const Buf v6src = slice(kIpv6Udp, kEthLen + 8, kEthLen + 24);
    const Buf v6dst = slice(kIpv6Udp, kEthLen + 24, kEthLen + 40);
    Buf udp6 = slice(kIpv6Udp, kIp6End, kIpv6Udp.size());
    put16(udp6, 6, 0);
    CHECK(l4_checksum(v6src, v6dst, 17, udp6) == 0x36bb);
}

TEST_CASE("ipv4_header_checksum_ok catches every one-bit error", "[checksum]") {
    for (const Buf* f : {&kSyn, &kDnsQuery, &kIcmpEcho}) {
        Buf hdr = slice(*f, kEthLen, kIp4End);
        REQUIRE(ipv4_header_checksum_ok(bytes_of(hdr)));
        for (std::size_t bit = 0; bit < hdr.size() * 8; ++bit) {
            hdr[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
            INFO("bit " << bit);
            CHECK_FALSE(ipv4_header_checksum_ok(bytes_of(hdr)));
            hdr[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
        }
    }
}

TEST_CASE("l4_checksum_ok_v4/v6 agree with the plain loop, odd lengths included", "[checksum]") {
    std::mt19937 rng(7);
    for (int round = 0; round < 500; ++round) {
        const bool v6 = round % 2 == 1;
        Buf src(v6 ? 16 : 4), dst(v6 ? 16 : 4), seg(8 + rng() % 200);
        for (auto& x : src)
            x = static_cast<std::uint8_t>(rng());
        for (auto& x : dst)
            x = static_cast<std::uint8_t>(rng());
        for (auto& x : seg)
            x = static_cast<std::uint8_t>(rng());
        const std::uint8_t proto = round % 3 == 0 ? 6 : round % 3 == 1 ? 17 : 58;
        put16(seg, 6, 0);
        put16(seg, 6, l4_checksum(src, dst, proto, seg));
        auto ok = [&] {
            return v6 ? l4_checksum_ok_v6(src.data(), dst.data(), proto, bytes_of(seg))
                      : l4_checksum_ok_v4(src.data(), dst.data(), proto, bytes_of(seg));
        };
        INFO("round " << round << " length " << seg.size());
        REQUIRE(ok());
        const std::size_t bit = rng() % (seg.size() * 8);
        seg[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
        REQUIRE_FALSE(ok());
        seg[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
        src[rng() % src.size()] ^= 0x10;  // the pseudo header counts
        REQUIRE_FALSE(ok());
    }
}

TEST_CASE("decode --verify-checksums: correct packets pass", "[checksum][decode]") {
    for (const Buf* f : {&kSyn, &kDnsQuery, &kIcmpEcho, &kArpRequest, &kIpv6ExtTcp, &kIpv6LaterFrag,
                         &kIcmpv6Echo, &kIpv6Udp, &kPaddedUdp}) {
        const Packet pkt = verify(*f);
        INFO("frame of " << f->size() << " bytes");
        CHECK_FALSE(pkt.malformed());
    }
    SECTION("UDP checksum 0 over IPv4 means none") {
        Buf f = kDnsQuery;
        put16(f, kIp4End + 6, 0);
        const Packet pkt = verify(f);
        CHECK_FALSE(pkt.malformed());
        CHECK(pkt.has(Layer::Udp));
    }
    SECTION("UDP checksum 0 over IPv6 is wrong") {
        Buf f = kIpv6Udp;
        put16(f, kIp6End + 6, 0);
        const Packet pkt = verify(f);
        CHECK(pkt.error == DecodeError::BadChecksum);
        CHECK(pkt.error_layer == Layer::Udp);
    }
    SECTION("bytes after the UDP length are not summed") {
        Buf f = kDnsQuery;
        f.insert(f.end(), {0xde, 0xad, 0xbe});
        put16(f, kEthLen + 2, 57 + 3);
        fix_ip4_checksum(f, kEthLen);
        const Packet pkt = verify(f);
        CHECK_FALSE(pkt.malformed());
        CHECK(pkt.payload.size() == 29);
    }
    SECTION("an IPv6 atomic fragment is whole, so it is checked") {
        Buf f = kIpv6ExtTcp;
        put16(f, kIp6End + 24 + 2, 0);  // offset 0, no more fragments
        Buf tcp = slice(f, kIp6End + 32, f.size());
        put16(tcp, 16, 0);
        put16(f, kIp6End + 32 + 16,
              l4_checksum(slice(f, kEthLen + 8, kEthLen + 24), slice(f, kEthLen + 24, kIp6End), 6,
                          tcp));
        CHECK_FALSE(verify(f).malformed());
        f[kIp6End + 32 + 4] ^= 0x01;  // seq
        const Packet pkt = verify(f);
        CHECK(pkt.error == DecodeError::BadChecksum);
        CHECK(pkt.error_layer == Layer::Tcp);
    }
    SECTION("a segment that is not whole is not checked") {
        Buf f = kSyn;
        f[kIp4End + 4] ^= 0x01;  // seq: the checksum is now wrong...
        f[kEthLen + 6] = 0x20;   // ...but this is a first fragment
        fix_ip4_checksum(f, kEthLen);
        CHECK_FALSE(verify(f).malformed());
        const Buf cut = slice(kDnsQuery, 0, kDnsQuery.size() - 1);
        CHECK_FALSE(verify(cut, static_cast<std::uint32_t>(kDnsQuery.size())).malformed());
    }
}

TEST_CASE("decode --verify-checksums: a one-bit error is reported at its layer",
          "[checksum][decode]") {
    struct Case {
        const char* what;
        const Buf* frame;
        std::size_t byte;
        Layer layer;
    };
    const Case cases[] = {
        {"IPv4 TTL", &kSyn, kEthLen + 8, Layer::Ipv4},
        {"IPv4 source address", &kDnsQuery, kEthLen + 12, Layer::Ipv4},
        {"IPv4 checksum field", &kIcmpEcho, kEthLen + 11, Layer::Ipv4},
        {"TCP sequence number", &kSyn, kIp4End + 5, Layer::Tcp},
        {"TCP timestamp value", &kSyn, kIp4End + 31, Layer::Tcp},
        {"TCP window", &kSyn, kIp4End + 15, Layer::Tcp},
        {"UDP payload (DNS id)", &kDnsQuery, kIp4End + 8, Layer::Udp},
        {"UDP payload, last odd byte", &kPaddedUdp, kIp4End + 10, Layer::Udp},
        {"ICMP echo data", &kIcmpEcho, kIp4End + 20, Layer::Icmp},
        {"ICMP sequence", &kIcmpEcho, kIp4End + 7, Layer::Icmp},
        {"ICMPv6 data", &kIcmpv6Echo, kIp6End + 9, Layer::Icmpv6},
        {"ICMPv6 source address (pseudo header)", &kIcmpv6Echo, kEthLen + 23, Layer::Icmpv6},
        {"UDP over IPv6 destination (pseudo header)", &kIpv6Udp, kEthLen + 39, Layer::Udp},
        {"UDP over IPv6 payload", &kIpv6Udp, kIp6End + 12, Layer::Udp},
    };
    for (const auto& c : cases) {
        for (int bit = 0; bit < 8; ++bit) {
            Buf f = *c.frame;
            f[c.byte] ^= static_cast<std::uint8_t>(1u << bit);
            INFO(c.what << ", bit " << bit);
            const Packet pkt = verify(f);
            CHECK(pkt.error == DecodeError::BadChecksum);
            CHECK(pkt.error_layer == c.layer);
            // Without verification the same frame is clean.
            CHECK_FALSE(decode_frame(f).malformed());
        }
    }
    // Every bit of the SYN's fixed TCP header except the data offset.
    for (std::size_t byte = 0; byte < 20; ++byte) {
        if (byte == 12) continue;
        for (int bit = 0; bit < 8; ++bit) {
            Buf f = kSyn;
            f[kIp4End + byte] ^= static_cast<std::uint8_t>(1u << bit);
            INFO("TCP byte " << byte << " bit " << bit);
            const Packet pkt = verify(f);
            CHECK(pkt.error == DecodeError::BadChecksum);
            CHECK(pkt.error_layer == Layer::Tcp);
            CHECK(pkt.has(Layer::Tcp));
        }
    }
}

TEST_CASE("decode --verify-checksums: a segment with a broken option is still checksummed",
          "[checksum][decode][events]") {
    // Timestamps option of length 0 (kSyn's options: MSS, SACK-permitted, TS, NOP, WS): the
    // option bytes changed, so the checksum no longer matches either.
    Buf f = kSyn;
    f[kIp4End + 20 + 7] = 0;
    const Packet plain = decode_frame(f);
    REQUIRE(plain.events.count == 1);
    CHECK(plain.error == DecodeError::BadOptionLength);

    const Packet pkt = verify(f);
    REQUIRE(pkt.has(Layer::Tcp));
    REQUIRE(pkt.events.count == 2);
    CHECK(pkt.events.list[0].layer == Layer::Tcp);
    CHECK(pkt.events.list[0].event == DecodeEvent::BadOptionLength);
    CHECK(pkt.events.list[1].layer == Layer::Tcp);
    CHECK(pkt.events.list[1].event == DecodeEvent::BadChecksum);
    // The packet is reported by its first event, as before.
    CHECK(pkt.error == DecodeError::BadOptionLength);
    CHECK(pkt.error_layer == Layer::Tcp);
}
