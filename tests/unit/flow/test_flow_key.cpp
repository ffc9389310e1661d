// flow_info: the connection key a decoded packet gives, the order of its two
// endpoints and its hash, on frames crafted by libtins, against a reference
// computed here with memcmp on the zero-padded address bytes.
#include <tins/tins.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "decode/packet.hpp"
#include "flow/flow_key.hpp"

namespace {

using Addr = std::array<std::uint8_t, 16>;  // IPv4 in the first 4 bytes, the rest zero

struct End {
    Addr addr;
    std::uint16_t port;
};

std::vector<std::uint8_t> tcp_frame(const End& src, const End& dst, bool v6) {
    Tins::EthernetII eth("02:00:00:00:00:02", "02:00:00:00:00:01");
    if (v6) {
        eth /= Tins::IPv6(Tins::IPv6Address(dst.addr.data()), Tins::IPv6Address(src.addr.data()));
    } else {
        std::uint32_t d, s;  // libtins takes IPv4 addresses in network order
        std::memcpy(&d, dst.addr.data(), 4);
        std::memcpy(&s, src.addr.data(), 4);
        eth /= Tins::IP(Tins::IPv4Address(d), Tins::IPv4Address(s));
    }
    Tins::TCP tcp(dst.port, src.port);
    tcp.set_flag(Tins::TCP::SYN, 1);
    eth /= tcp;
    return eth.serialize();
}

wl::Packet decode(const std::vector<std::uint8_t>& bytes) {
    wl::Packet pkt;
    pkt.linktype = 1;
    pkt.caplen = pkt.wire_len = static_cast<std::uint32_t>(bytes.size());
    wl::decode(wl::Bytes(bytes.data(), bytes.size()), pkt, wl::DecodeOptions{});
    REQUIRE(pkt.has(wl::Layer::Tcp));
    return pkt;
}

bool ref_not_greater(const End& a, const End& b) {
    const int c = std::memcmp(a.addr.data(), b.addr.data(), 16);
    return c < 0 || (c == 0 && a.port <= b.port);
}

// One packet src -> dst and its reverse: every field of the key as the
// reference orders it, the same key and hash both ways, and the hash computed
// in registers equal to the one computed from the stored key.
void check_pair(const End& src, const End& dst, bool v6, std::uint64_t seed) {
    CAPTURE(v6, src.port, dst.port);
    const auto fwd_bytes = tcp_frame(src, dst, v6), rev_bytes = tcp_frame(dst, src, v6);
    const wl::Packet fwd = decode(fwd_bytes), rev = decode(rev_bytes);
    wl::FlowPacketInfo a, b;
    REQUIRE(wl::flow_info(fwd, a, seed));
    REQUIRE(wl::flow_info(rev, b, seed));

    CHECK(std::memcmp(a.src.addr, src.addr.data(), 16) == 0);
    CHECK(std::memcmp(a.dst.addr, dst.addr.data(), 16) == 0);
    CHECK(a.src.port == src.port);
    CHECK(a.dst.port == dst.port);
    const bool src_lo = ref_not_greater(src, dst);
    CHECK(a.src_is_lo == src_lo);
    const End& lo = src_lo ? src : dst;
    const End& hi = src_lo ? dst : src;
    CHECK(std::memcmp(a.key.lo_addr, lo.addr.data(), 16) == 0);
    CHECK(std::memcmp(a.key.hi_addr, hi.addr.data(), 16) == 0);
    CHECK(a.key.lo_port == lo.port);
    CHECK(a.key.hi_port == hi.port);
    CHECK(a.key.proto == 6);
    CHECK(a.key.ip_version == (v6 ? 6 : 4));
    CHECK(a.key.pad[0] == 0);
    CHECK(a.key.pad[1] == 0);

    CHECK(a.key == b.key);
    CHECK(a.hash == b.hash);
    CHECK(a.hash == a.key.hash(seed));
    const bool same_endpoint = src.addr == dst.addr && src.port == dst.port;
    CHECK(b.src_is_lo == (same_endpoint || !src_lo));
}

Addr v4(std::uint32_t host_order) {
    Addr a{};
    a[0] = static_cast<std::uint8_t>(host_order >> 24);
    a[1] = static_cast<std::uint8_t>(host_order >> 16);
    a[2] = static_cast<std::uint8_t>(host_order >> 8);
    a[3] = static_cast<std::uint8_t>(host_order);
    return a;
}

}  // namespace

TEST_CASE("flow key: endpoints ordered as their bytes, both directions one key", "[flow][key]") {
    std::mt19937_64 rng(20261128);
    const std::uint64_t seed = rng();
    SECTION("IPv4, random addresses of 198.18.0.0/15 and ports") {
        for (int i = 0; i < 300; ++i) {
            const End s{v4(0xc6120000u | static_cast<std::uint32_t>(rng() & 0x1ffff)),
                        static_cast<std::uint16_t>(rng())};
            const End d{v4(0xc6120000u | static_cast<std::uint32_t>(rng() & 0x1ffff)),
                        static_cast<std::uint16_t>(rng())};
            check_pair(s, d, false, seed);
        }
    }
    SECTION("IPv4: one address, the ports decide; bytes compared unsigned") {
        const Addr x = v4(0xc6120001u);
        check_pair({x, 80}, {x, 40000}, false, seed);
        check_pair({x, 40000}, {x, 80}, false, seed);
        check_pair({x, 5001}, {x, 5001}, false, seed);  // one endpoint talking to itself
        check_pair({v4(0xc6127f00u), 1}, {v4(0xc6128000u), 1}, false, seed);
        check_pair({v4(0x7f000001u), 9}, {v4(0x80000001u), 9}, false, seed);
    }
    SECTION("IPv6: addresses of fd00::/8 differing in either half, or not at all") {
        for (int i = 0; i < 300; ++i) {
            Addr s{}, d{};
            s[0] = d[0] = 0xfd;
            for (int k = 1; k < 16; ++k)
                s[k] = static_cast<std::uint8_t>(rng());
            d = s;
            switch (i % 4) {
                case 0:  // differ in the last byte only: the second word decides
                    d[15] = static_cast<std::uint8_t>(d[15] ^ (1u << (i % 8)));
                    break;
                case 1:  // differ in the first half
                    d[3] = static_cast<std::uint8_t>(d[3] ^ 0x80);
                    break;
                case 2:  // random
                    for (int k = 1; k < 16; ++k)
                        d[k] = static_cast<std::uint8_t>(rng());
                    break;
                default:  // the same address: the ports decide
                    break;
            }
            check_pair({s, static_cast<std::uint16_t>(rng())},
                       {d, static_cast<std::uint16_t>(rng())}, true, seed);
        }
    }
}

TEST_CASE("flow key: the hash depends on the table's seed", "[flow][key]") {
    const End s{v4(0xc6120001u), 40000}, d{v4(0xc6130002u), 5001};
    const auto bytes = tcp_frame(s, d, false);
    const wl::Packet pkt = decode(bytes);
    int differ = 0;
    for (std::uint64_t seed = 1; seed <= 64; ++seed) {
        wl::FlowPacketInfo a, b;
        REQUIRE(wl::flow_info(pkt, a, seed));
        REQUIRE(wl::flow_info(pkt, b, seed * 0x9e3779b97f4a7c15ull));
        CHECK(a.key == b.key);
        if (a.hash != b.hash) ++differ;
    }
    CHECK(differ == 64);
}
