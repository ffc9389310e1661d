// IP fragment reassembly on crafted datagrams: each test builds a whole
// datagram byte by byte (the reference), cuts it into fragments as RFC 791 /
// RFC 8200 describe, decodes every fragment with wl::decode and checks that
// the reassembler hands back exactly the original datagram, or counts why not.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "decode/packet.hpp"
#include "flow/ip_fragments.hpp"

namespace {

using Buf = std::vector<std::uint8_t>;
using wl::FragmentOptions;
using wl::IpReassembler;

constexpr std::uint64_t kSecond = 1'000'000'000ull;

void put16(Buf& b, std::size_t at, std::uint16_t v) {
    b[at] = static_cast<std::uint8_t>(v >> 8);
    b[at + 1] = static_cast<std::uint8_t>(v);
}

// Appends n bytes (resize and copy: GCC 12 warns falsely on vector::insert here).
void append(Buf& b, const std::uint8_t* p, std::size_t n) {
    const std::size_t at = b.size();
    b.resize(at + n);
    if (n != 0) std::memcpy(b.data() + at, p, n);
}

// RFC 1071, written out here rather than taken from decode/.
std::uint16_t ip_checksum(const std::uint8_t* p, std::size_t n) {
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i + 1 < n; i += 2)
        sum += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

void set_v4_checksum(Buf& b) {
    put16(b, 10, 0);
    put16(b, 10, ip_checksum(b.data(), 20));
}

// A whole IPv4 datagram: 20-byte header, then `proto`'s bytes: a UDP header
// and a patterned payload (UDP), or the pattern alone.
Buf v4_datagram(std::size_t payload, std::uint8_t proto = 17, std::uint16_t id = 0x1234) {
    Buf b(20, 0);
    b[0] = 0x45;
    b[8] = 64;
    b[9] = proto;
    put16(b, 4, id);
    const std::uint8_t src[] = {10, 0, 0, 1}, dst[] = {10, 0, 0, 2};
    std::copy(src, src + 4, b.begin() + 12);
    std::copy(dst, dst + 4, b.begin() + 16);
    if (proto == 17) {
        Buf udp(8, 0);
        put16(udp, 0, 1000);
        put16(udp, 2, 2000);
        put16(udp, 4, static_cast<std::uint16_t>(8 + payload));
        append(b, udp.data(), udp.size());
    }
    for (std::size_t i = 0; i < payload; ++i)
        b.push_back(static_cast<std::uint8_t>(i * 7 + 3));
    put16(b, 2, static_cast<std::uint16_t>(b.size()));
    set_v4_checksum(b);
    return b;
}

// The fragment of `d` holding its payload bytes [begin, end).
Buf v4_fragment(const Buf& d, std::uint32_t begin, std::uint32_t end, bool more) {
    Buf f;
    append(f, d.data(), 20);
    append(f, d.data() + 20 + begin, end - begin);
    put16(f, 2, static_cast<std::uint16_t>(f.size()));
    put16(f, 6, static_cast<std::uint16_t>((more ? 0x2000 : 0) | begin / 8));
    set_v4_checksum(f);
    return f;
}

// All of `d` cut in pieces of `step` bytes (the last shorter).
std::vector<Buf> v4_split(const Buf& d, std::uint32_t step) {
    std::vector<Buf> out;
    const std::uint32_t n = static_cast<std::uint32_t>(d.size() - 20);
    for (std::uint32_t at = 0; at < n; at += step) {
        const std::uint32_t end = std::min(n, at + step);
        out.push_back(v4_fragment(d, at, end, end < n));
    }
    return out;
}

// An IPv6 datagram: fixed header, hop-by-hop options (8 bytes, unfragmentable),
// destination options (8 bytes, fragmentable), UDP with a patterned payload.
Buf v6_datagram(std::size_t payload) {
    Buf b(40, 0);
    b[0] = 0x60;
    b[6] = 0;  // hop-by-hop
    b[7] = 64;
    b[8] = 0xfd;
    b[23] = 1;
    b[24] = 0xfd;
    b[39] = 2;
    const std::uint8_t hbh[] = {60, 0, 1, 4, 0, 0, 0, 0};   // -> destination options; PadN
    const std::uint8_t dopt[] = {17, 0, 1, 4, 0, 0, 0, 0};  // -> UDP; PadN
    append(b, hbh, 8);
    append(b, dopt, 8);
    Buf udp(8, 0);
    put16(udp, 0, 1000);
    put16(udp, 2, 2000);
    put16(udp, 4, static_cast<std::uint16_t>(8 + payload));
    append(b, udp.data(), udp.size());
    for (std::size_t i = 0; i < payload; ++i)
        b.push_back(static_cast<std::uint8_t>(i * 5 + 1));
    put16(b, 4, static_cast<std::uint16_t>(b.size() - 40));
    return b;
}

// The fragment of a v6_datagram holding fragmentable bytes [begin, end): the
// fragment header goes after hop-by-hop, which then names it.
Buf v6_fragment(const Buf& d, std::uint32_t begin, std::uint32_t end, bool more,
                std::uint32_t id = 0xabcdef01) {
    constexpr std::size_t kUnfrag = 48;
    Buf f;
    append(f, d.data(), kUnfrag);
    f[40] = 44;
    const std::uint8_t fh[] = {60,
                               0,
                               static_cast<std::uint8_t>((begin / 8) >> 5),
                               static_cast<std::uint8_t>(((begin / 8) << 3) | (more ? 1 : 0)),
                               static_cast<std::uint8_t>(id >> 24),
                               static_cast<std::uint8_t>(id >> 16),
                               static_cast<std::uint8_t>(id >> 8),
                               static_cast<std::uint8_t>(id)};
    append(f, fh, 8);
    append(f, d.data() + kUnfrag + begin, end - begin);
    put16(f, 4, static_cast<std::uint16_t>(f.size() - 40));
    return f;
}

struct Feeder {
    IpReassembler r;
    wl::Packet pkt;
    explicit Feeder(const FragmentOptions& o = {}) : r(o) {}
    // Decodes `f` as a raw IP packet at time `t` and gives it to the reassembler.
    Buf add(const Buf& f, std::uint64_t t = kSecond) {
        pkt.ts_ns = t;
        pkt.caplen = pkt.wire_len = static_cast<std::uint32_t>(f.size());
        pkt.linktype = wl::linktype::kRaw;
        wl::decode(wl::Bytes{f.data(), f.size()}, pkt);
        REQUIRE(pkt.ip_fragment);
        const wl::Bytes out = r.add(pkt, 0);
        return Buf(out.begin(), out.end());
    }
};

}  // namespace

TEST_CASE("IPv4 fragments in order, reversed and shuffled give the datagram back",
          "[ip_fragments]") {
    const Buf d = v4_datagram(3000);
    std::vector<Buf> frags = v4_split(d, 1480);
    REQUIRE(frags.size() == 3);

    SECTION("in order") {
        Feeder f;
        CHECK(f.add(frags[0]).empty());
        CHECK(f.add(frags[1]).empty());
        CHECK(f.add(frags[2]) == d);
        CHECK(f.r.counters().reassembled == 1);
        CHECK(f.r.in_progress() == 0);
        CHECK(f.r.arena_bytes_used() == 0);
    }
    SECTION("reversed") {
        Feeder f;
        std::reverse(frags.begin(), frags.end());
        CHECK(f.add(frags[0]).empty());
        CHECK(f.add(frags[1]).empty());
        CHECK(f.add(frags[2]) == d);
    }
    SECTION("shuffled, small pieces") {
        std::vector<Buf> small = v4_split(d, 64);
        std::mt19937 rng(7);
        for (int round = 0; round < 5; ++round) {
            std::shuffle(small.begin(), small.end(), rng);
            Feeder f;
            Buf got;
            for (std::size_t i = 0; i < small.size(); ++i) {
                got = f.add(small[i]);
                if (i + 1 < small.size()) REQUIRE(got.empty());
            }
            CHECK(got == d);
            CHECK(f.r.counters().reassembled == 1);
        }
    }
}

TEST_CASE("IPv4 duplicates and overlaps: first bytes win, conflicts counted", "[ip_fragments]") {
    const Buf d = v4_datagram(40);  // 48 payload bytes after the header
    SECTION("a duplicate") {
        Feeder f;
        CHECK(f.add(v4_fragment(d, 0, 16, true)).empty());
        CHECK(f.add(v4_fragment(d, 16, 32, true)).empty());
        CHECK(f.add(v4_fragment(d, 0, 16, true)).empty());
        CHECK(f.add(v4_fragment(d, 32, 48, false)) == d);
        CHECK(f.r.counters().duplicates == 1);
        CHECK(f.r.counters().conflicting == 0);
    }
    SECTION("an overlap with the same bytes") {
        Feeder f;
        CHECK(f.add(v4_fragment(d, 0, 24, true)).empty());
        CHECK(f.add(v4_fragment(d, 16, 48, false)) == d);
        CHECK(f.r.counters().overlapping == 1);
    }
    SECTION("an overlap with other bytes keeps the first") {
        Feeder f;
        CHECK(f.add(v4_fragment(d, 0, 16, true)).empty());
        Buf other = v4_fragment(d, 8, 32, true);
        for (std::size_t i = 20; i < other.size(); ++i)
            other[i] ^= 0xff;
        CHECK(f.add(other).empty());
        const Buf got = f.add(v4_fragment(d, 32, 48, false));
        REQUIRE(got.size() == d.size());
        // [0, 16) from the first fragment, [16, 32) from the conflicting one.
        CHECK(std::equal(d.begin(), d.begin() + 36, got.begin()));
        for (std::size_t i = 36; i < 52; ++i)
            CHECK(got[i] == (d[i] ^ 0xff));
        CHECK(std::equal(d.begin() + 52, d.end(), got.begin() + 52));
        CHECK(f.r.counters().conflicting == 1);
    }
    SECTION("teardrop: a fragment inside an earlier one, other bytes") {
        Feeder f;
        CHECK(f.add(v4_fragment(d, 0, 32, true)).empty());
        Buf inner = v4_fragment(d, 8, 16, true);
        inner[25] ^= 1;
        CHECK(f.add(inner).empty());
        CHECK(f.add(v4_fragment(d, 32, 48, false)) == d);
        CHECK(f.r.counters().conflicting == 1);
    }
    SECTION("a second last fragment with another end") {
        Feeder f;
        CHECK(f.add(v4_fragment(d, 32, 48, false)).empty());
        CHECK(f.add(v4_fragment(d, 16, 24, false)).empty());
        CHECK(f.r.counters().conflicting == 1);
        CHECK(f.add(v4_fragment(d, 0, 32, true)) == d);
    }
}

TEST_CASE("IPv4: a missing last fragment times out, counted", "[ip_fragments]") {
    const Buf d = v4_datagram(100);
    FragmentOptions o;
    o.timeout_ns = 30 * kSecond;
    Feeder f(o);
    CHECK(f.add(v4_fragment(d, 0, 32, true), 1 * kSecond).empty());
    CHECK(f.add(v4_fragment(d, 32, 64, true), 2 * kSecond).empty());
    f.r.expire(30 * kSecond);
    CHECK(f.r.in_progress() == 1);
    f.r.expire(31 * kSecond);
    CHECK(f.r.in_progress() == 0);
    CHECK(f.r.counters().timed_out == 1);
    CHECK(f.r.arena_bytes_used() == 0);
    // The late last fragment starts a datagram of its own, which never completes.
    CHECK(f.add(v4_fragment(d, 64, 108, false), 32 * kSecond).empty());
    CHECK(f.r.counters().reassembled == 0);
}

TEST_CASE("IPv4: past 65535 bytes, bad lengths and tiny TCP fragments", "[ip_fragments]") {
    SECTION("too big (ping of death)") {
        const Buf d = v4_datagram(100);
        Feeder f;
        CHECK(f.add(v4_fragment(d, 0, 16, true)).empty());
        Buf last = v4_fragment(d, 16, 108, false);
        put16(last, 6, static_cast<std::uint16_t>(65520 / 8));  // 65520 + 92 > 65515
        set_v4_checksum(last);
        CHECK(f.add(last).empty());
        CHECK(f.r.counters().too_big == 1);
        CHECK(f.r.in_progress() == 0);  // the datagram is dropped
    }
    SECTION("a fragment with more to come not a multiple of 8") {
        const Buf d = v4_datagram(100);
        Feeder f;
        CHECK(f.add(v4_fragment(d, 0, 13, true)).empty());
        CHECK(f.r.counters().bad_length == 1);
        CHECK(f.r.in_progress() == 0);
    }
    SECTION("tiny TCP fragments are counted and still reassembled") {
        const Buf d = v4_datagram(40, 6);
        Feeder f;
        CHECK(f.add(v4_fragment(d, 0, 8, true)).empty());
        CHECK(f.add(v4_fragment(d, 8, 16, true)).empty());
        CHECK(f.add(v4_fragment(d, 16, 40, false)) == d);
        CHECK(f.r.counters().tiny == 2);
    }
    SECTION("more than kMaxFragments fragments") {
        const Buf d = v4_datagram(8 * 80 - 8);
        Feeder f;
        for (std::uint32_t i = 0; i < 70; ++i)
            f.add(v4_fragment(d, i * 8, i * 8 + 8, true));
        CHECK(f.r.counters().too_many == 1);
    }
}

TEST_CASE("IPv6 with extension headers before the fragment header", "[ip_fragments]") {
    const Buf d = v6_datagram(2000);
    const std::uint32_t n = static_cast<std::uint32_t>(d.size() - 48);
    SECTION("reversed") {
        Feeder f;
        CHECK(f.add(v6_fragment(d, 1232, n, false)).empty());
        CHECK(f.add(v6_fragment(d, 0, 1232, true)) == d);
        CHECK(f.r.counters().reassembled == 1);
    }
    SECTION("the reassembled datagram decodes to its UDP header") {
        Feeder f;
        f.add(v6_fragment(d, 0, 1232, true));
        const Buf got = f.add(v6_fragment(d, 1232, n, false));
        REQUIRE(got == d);
        wl::Packet p;
        p.caplen = p.wire_len = static_cast<std::uint32_t>(got.size());
        p.linktype = wl::linktype::kRaw;
        wl::decode(wl::Bytes{got.data(), got.size()}, p);
        CHECK_FALSE(p.ip_fragment);
        REQUIRE(p.has(wl::Layer::Udp));
        CHECK(p.udp.dst_port() == 2000);
        CHECK(p.payload.size() == 2000);
    }
    SECTION("other ids are other datagrams") {
        Feeder f;
        CHECK(f.add(v6_fragment(d, 0, 1232, true, 1)).empty());
        CHECK(f.add(v6_fragment(d, 1232, n, false, 2)).empty());
        CHECK(f.r.in_progress() == 2);
    }
    SECTION("a first fragment without the upper-layer header is dropped (RFC 8200)") {
        Feeder f;
        // Destination options (8) and 8 of UDP's bytes: the header is whole; 8 bytes less it is
        // not.
        Buf first = v6_fragment(d, 0, 16, true);
        CHECK(f.add(first).empty());
        CHECK(f.r.counters().incomplete_first == 0);
        Feeder g;
        CHECK(g.add(v6_fragment(d, 0, 8, true, 7)).empty());
        CHECK(g.r.counters().incomplete_first == 1);
    }
}

TEST_CASE("A flood of first fragments stays in the table and the arena", "[ip_fragments]") {
    FragmentOptions o;
    o.max_datagrams = 16;
    o.max_bytes = 64u << 10;
    Feeder f(o);
    const std::uint64_t allocated = f.r.allocated_bytes();
    CHECK(allocated <= IpReassembler::memory_bound(o));
    for (std::uint16_t id = 0; id < 2000; ++id) {
        const Buf d = v4_datagram(3000, 17, id);
        f.add(v4_fragment(d, 0, 1480, true), kSecond + id);
        REQUIRE(f.r.in_progress() <= 16);
        REQUIRE(f.r.arena_bytes_used() <= (64u << 10));
    }
    CHECK(f.r.counters().evicted >= 2000 - 16);
    CHECK(f.r.counters().in_progress_peak == 16);
    CHECK(f.r.counters().bytes_peak <= (64u << 10));
    CHECK(f.r.allocated_bytes() == allocated);
    // A datagram that arrives whole afterwards is still reassembled.
    const Buf d = v4_datagram(3000, 17, 9999);
    const std::vector<Buf> frags = v4_split(d, 1480);
    Buf got;
    for (const Buf& x : frags)
        got = f.add(x, 2 * kSecond);
    CHECK(got == d);
}
