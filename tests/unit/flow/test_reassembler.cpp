// The TCP reassembler on real bytes: each test feeds segments cut from a
// deterministic pseudo-random stream straight into a TcpReassembler and
// checks, through a recording StreamConsumer, that what comes out is that
// stream exactly: in order, at the right offsets, with gaps only where bytes
// were really lost, and the first copy of every byte winning.
//
// Sequence positions follow the FlowTracker's convention: with a SYN, the
// SYN is position 0 and the first data byte position 1 (stream offset 0).
#include <tins/tins.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <ostream>
#include <random>
#include <utility>
#include <vector>

#include "decode/packet.hpp"
#include "flow/flow_tracker.hpp"
#include "flow/tcp_reassembler.hpp"

namespace {

using wl::ConnEnd;
using wl::GapCause;
using wl::ReassemblyOptions;
using wl::TcpReassembler;
using Bytes = std::vector<std::uint8_t>;

constexpr int O = 0;  // originator -> responder
constexpr int R = 1;  // responder -> originator

// Bytes of a stream: std::mt19937's sequence is fixed by the standard.
Bytes make_stream(std::size_t n, std::uint32_t seed) {
    std::mt19937 rng(seed);
    Bytes b(n);
    for (auto& x : b)
        x = static_cast<std::uint8_t>(rng() >> 24);
    return b;
}

// A value in [lo, hi] from raw mt19937 output (distributions are not portable).
std::uint32_t pick(std::mt19937& rng, std::uint32_t lo, std::uint32_t hi) {
    return lo + static_cast<std::uint32_t>(rng() % (hi - lo + 1));
}

// Fisher-Yates on raw output, unlike std::shuffle the same everywhere.
std::vector<std::size_t> permutation(std::size_t n, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<std::size_t> v(n);
    for (std::size_t i = 0; i < n; ++i)
        v[i] = i;
    for (std::size_t i = n; i > 1; --i)
        std::swap(v[i - 1], v[rng() % i]);
    return v;
}

// [begin, end) offsets of the stream, cut at random points.
std::vector<std::pair<std::size_t, std::size_t>> cut(std::size_t n, std::uint32_t seed,
                                                     std::uint32_t min_len, std::uint32_t max_len) {
    std::mt19937 rng(seed);
    std::vector<std::pair<std::size_t, std::size_t>> segs;
    for (std::size_t at = 0; at < n;) {
        const std::size_t len = std::min<std::size_t>(pick(rng, min_len, max_len), n - at);
        segs.emplace_back(at, at + len);
        at += len;
    }
    return segs;
}

struct Piece {
    std::uint64_t offset;
    std::uint64_t len;
    std::uint32_t segment;
    std::uint64_t ts;
    bool from_start;
};

struct Range {
    std::uint64_t offset;
    std::uint64_t len;
    bool operator==(const Range&) const = default;
};

// What one direction of one connection delivered.
struct Out {
    Bytes data;  // the delivered bytes, gaps left out
    std::vector<Piece> pieces;
    std::vector<Range> gaps;
    std::vector<wl::GapCause> gap_causes;
    struct Fill {
        std::uint64_t offset, len;
        wl::FillCause cause;
        std::uint64_t opened, ts;
        bool operator==(const Fill&) const = default;
    };
    std::vector<Fill> fills;
    std::vector<Range> inconsistent;
    std::uint64_t pos = 0;  // where the next data or gap must start
    bool in_order = true;   // every data and gap started at pos
    int ends = 0;
    ConnEnd why = ConnEnd::Closed;
    bool reset = false;
    bool data_after_end = false;
};

inline std::ostream& operator<<(std::ostream& os, const Range& r) {
    return os << "{" << r.offset << ", " << r.len << "}";
}

class Recorder : public wl::StreamConsumer {
  public:
    void stream_start(std::uint32_t conn) override {
        ++starts[conn];
        streams.erase({conn, O});
        streams.erase({conn, R});
    }
    void stream_data(std::uint32_t conn, int dir, std::uint64_t offset, const std::uint8_t* p,
                     std::size_t n, std::uint32_t segment, std::uint64_t ts_ns,
                     bool from_start) override {
        Out& o = streams[{conn, dir}];
        if (offset != o.pos) o.in_order = false;
        if (o.ends != 0) o.data_after_end = true;
        o.pos = offset + n;
        o.data.insert(o.data.end(), p, p + n);
        o.pieces.push_back(Piece{offset, n, segment, ts_ns, from_start});
    }
    void stream_gap(std::uint32_t conn, int dir, std::uint64_t offset, std::uint64_t len,
                    wl::GapCause cause) override {
        Out& o = streams[{conn, dir}];
        o.gap_causes.push_back(cause);
        if (offset != o.pos || len == 0) o.in_order = false;
        if (o.ends != 0) o.data_after_end = true;
        o.pos = offset + len;
        o.gaps.push_back(Range{offset, len});
    }
    void stream_filled(std::uint32_t conn, int dir, std::uint64_t offset, std::uint64_t len,
                       wl::FillCause cause, std::uint64_t opened, std::uint64_t ts) override {
        streams[{conn, dir}].fills.push_back(Out::Fill{offset, len, cause, opened, ts});
    }
    void stream_inconsistent(std::uint32_t conn, int dir, std::uint64_t offset,
                             std::uint64_t len) override {
        streams[{conn, dir}].inconsistent.push_back(Range{offset, len});
    }
    void stream_end(std::uint32_t conn, int dir, ConnEnd why, bool reset) override {
        Out& o = streams[{conn, dir}];
        ++o.ends;
        o.why = why;
        o.reset = reset;
    }

    Out& at(std::uint32_t conn, int dir) { return streams[{conn, dir}]; }
    bool has(std::uint32_t conn, int dir) const { return streams.count({conn, dir}) != 0; }

    std::map<std::pair<std::uint32_t, int>, Out> streams;
    std::map<std::uint32_t, int> starts;
};

// Feeds stream bytes [begin, end) as one segment; `first` is the position of
// stream offset 0 (1 after a SYN).
void feed(TcpReassembler& r, std::uint32_t conn, int dir, const Bytes& s, std::size_t begin,
          std::size_t end, std::uint64_t ts, bool syn = true, std::uint64_t first = 1) {
    r.segment(conn, dir, first + begin, s.data() + begin, static_cast<std::uint32_t>(end - begin),
              static_cast<std::uint32_t>(end - begin), syn, ts);
}

Bytes slice(const Bytes& s, std::size_t begin, std::size_t end) {
    return Bytes(s.begin() + static_cast<std::ptrdiff_t>(begin),
                 s.begin() + static_cast<std::ptrdiff_t>(end));
}

// The stream with [begin, end) replaced by other bytes.
Bytes altered(const Bytes& s, std::size_t begin, std::size_t end) {
    Bytes b = s;
    for (std::size_t i = begin; i < end; ++i)
        b[i] = static_cast<std::uint8_t>(~b[i]);
    return b;
}

// Every piece lies inside the segment its id names, with that segment's time.
void check_pieces_match_segments(const Out& o,
                                 const std::vector<std::pair<std::size_t, std::size_t>>& fed,
                                 const std::vector<std::uint64_t>& ts) {
    for (const Piece& p : o.pieces) {
        REQUIRE(p.segment < fed.size());
        CHECK(p.offset >= fed[p.segment].first);
        CHECK(p.offset + p.len <= fed[p.segment].second);
        CHECK(p.ts == ts[p.segment]);
    }
}

}  // namespace

TEST_CASE("in order: random cuts arrive as the exact stream", "[reassembly]") {
    Recorder rec;
    TcpReassembler r(4, ReassemblyOptions{}, rec);
    r.start(0);
    const Bytes s = make_stream(200000, 1);
    const auto segs = cut(s.size(), 2, 1, 3000);
    std::vector<std::uint64_t> ts;
    for (std::size_t i = 0; i < segs.size(); ++i) {
        ts.push_back(1000000 + 17 * i);
        feed(r, 0, O, s, segs[i].first, segs[i].second, ts.back());
        CHECK(r.buffered() == 0);  // nothing waits when nothing is missing
    }
    Out& o = rec.at(0, O);
    CHECK(o.in_order);
    CHECK(o.data == s);
    CHECK(o.gaps.empty());
    REQUIRE(o.pieces.size() == segs.size());
    for (std::size_t i = 0; i < segs.size(); ++i) {
        CHECK(o.pieces[i].offset == segs[i].first);
        CHECK(o.pieces[i].len == segs[i].second - segs[i].first);
        CHECK(o.pieces[i].segment == i);
        CHECK(o.pieces[i].ts == ts[i]);
        CHECK(o.pieces[i].from_start);
    }
    CHECK(r.counters().delivered_bytes == s.size());
    CHECK(r.counters().overlaps == 0);
    CHECK(r.counters().gaps == 0);
    r.finish(0, ConnEnd::Closed, false);
    CHECK(o.ends == 1);
    CHECK(o.gaps.empty());
    CHECK_FALSE(rec.has(0, R));  // the silent direction never started
}

TEST_CASE("a connection picked up midstream counts from the first byte seen", "[reassembly]") {
    Recorder rec;
    TcpReassembler r(2, ReassemblyOptions{}, rec);
    r.start(1);
    const Bytes s = make_stream(5000, 3);
    const std::uint64_t first = 123456789;  // the position of the first byte seen
    // The first segment seen starts the stream; one from before it is history.
    feed(r, 1, R, s, 1000, 2500, 10, false, first - 1000);
    feed(r, 1, R, s, 0, 1000, 11, false, first - 1000);
    feed(r, 1, R, s, 2500, 5000, 12, false, first - 1000);
    Out& o = rec.at(1, R);
    CHECK(o.in_order);
    CHECK(o.data == slice(s, 1000, 5000));
    REQUIRE(o.pieces.size() == 2);
    CHECK(o.pieces[0].offset == 0);
    CHECK(o.pieces[1].offset == 1500);
    CHECK(o.pieces[1].segment == 2);  // ids count every segment seen
    for (const Piece& p : o.pieces)
        CHECK_FALSE(p.from_start);
    CHECK(o.gaps.empty());
}

TEST_CASE("out of order: held until the hole fills, then delivered in order", "[reassembly]") {
    Recorder rec;
    TcpReassembler r(2, ReassemblyOptions{}, rec);
    r.start(0);
    const Bytes s = make_stream(3000, 4);
    feed(r, 0, O, s, 2000, 3000, 100);  // segment 0
    feed(r, 0, O, s, 1000, 2000, 200);  // segment 1
    CHECK(r.buffered() == 2000);
    CHECK(rec.at(0, O).data.empty());  // nothing before the hole fills
    // Segment 1 came after later bytes: a fill (reordered: 100 ns later).
    CHECK(rec.at(0, O).fills.size() == 1);
    feed(r, 0, O, s, 0, 1000, 300);  // segment 2
    CHECK(r.buffered() == 0);
    Out& o = rec.at(0, O);
    CHECK(o.in_order);
    CHECK(o.data == s);
    CHECK(o.gaps.empty());
    // Delivered in stream order, each piece with its segment's id and time.
    REQUIRE(!o.pieces.empty());
    CHECK(o.pieces.front().segment == 2);
    CHECK(o.pieces.front().ts == 300);
    const std::vector<std::pair<std::size_t, std::size_t>> fed{
        {2000, 3000}, {1000, 2000}, {0, 1000}};
    check_pieces_match_segments(o, fed, {100, 200, 300});
    std::uint64_t from_seg1 = 0;
    for (const Piece& p : o.pieces) {
        CHECK(p.from_start);
        if (p.segment == 1) from_seg1 += p.len;
    }
    CHECK(from_seg1 == 1000);
    CHECK(r.counters().buffered_peak == 2000);
}

TEST_CASE("heavy reordering: 200 segments in random order give the exact stream", "[reassembly]") {
    for (std::uint32_t seed : {5u, 6u, 7u}) {
        Recorder rec;
        TcpReassembler r(1, ReassemblyOptions{}, rec);
        r.start(0);
        const Bytes s = make_stream(300000, seed);
        auto segs = cut(s.size(), seed + 100, 1, 1500);
        segs.resize(std::min<std::size_t>(segs.size(), 200));
        const std::size_t total = segs.back().second;
        REQUIRE(segs.size() == 200);
        const auto order = permutation(segs.size(), seed + 200);
        std::vector<std::pair<std::size_t, std::size_t>> fed;
        std::vector<std::uint64_t> ts;
        for (std::size_t k = 0; k < order.size(); ++k) {
            fed.push_back(segs[order[k]]);
            ts.push_back(5000 + k);
            feed(r, 0, O, s, fed.back().first, fed.back().second, ts.back());
        }
        CHECK(r.buffered() == 0);
        Out& o = rec.at(0, O);
        CHECK(o.in_order);
        CHECK(o.data == slice(s, 0, total));
        CHECK(o.gaps.empty());
        check_pieces_match_segments(o, fed, ts);
        CHECK(r.counters().delivered_bytes == total);
        CHECK(r.counters().overlaps == 0);
        CHECK(r.counters().dropped_segments == 0);
    }
}

TEST_CASE("retransmissions and overlaps: first copy wins, other bytes are reported",
          "[reassembly]") {
    Recorder rec;
    TcpReassembler r(1, ReassemblyOptions{}, rec);
    r.start(0);
    const Bytes s = make_stream(4000, 8);
    Out& o = rec.at(0, O);

    SECTION("overlapping a buffered segment") {
        feed(r, 0, O, s, 1000, 2000, 1);
        // [1500, 2500): its first half says other things than the buffered copy.
        const Bytes evil = altered(s, 1500, 2000);
        feed(r, 0, O, evil, 1500, 2500, 2);
        CHECK(r.counters().overlaps == 1);
        CHECK(r.counters().inconsistent == 1);
        CHECK(o.inconsistent == std::vector<Range>{{1500, 500}});
        // The same overlap with the right bytes is an overlap, not an inconsistency.
        feed(r, 0, O, s, 1800, 2200, 3);
        CHECK(r.counters().overlaps == 2);
        CHECK(r.counters().inconsistent == 1);
        feed(r, 0, O, s, 0, 1000, 4);
        CHECK(o.data == slice(s, 0, 2500));
        CHECK(r.buffered() == 0);
    }
    SECTION("an in-order segment over a buffered one") {
        feed(r, 0, O, s, 1000, 2000, 1);
        // Arrives in order and covers the buffered segment with other bytes.
        const Bytes evil = altered(s, 1000, 2000);
        feed(r, 0, O, evil, 0, 2500, 2);
        CHECK(o.in_order);
        CHECK(o.data == slice(s, 0, 2500));
        CHECK(r.counters().overlaps == 1);
        CHECK(r.counters().inconsistent == 1);
        CHECK(o.inconsistent == std::vector<Range>{{1000, 1000}});
        CHECK(r.buffered() == 0);
    }
    SECTION("filling holes between buffered segments") {
        feed(r, 0, O, s, 1000, 1500, 1);
        feed(r, 0, O, s, 2000, 2500, 2);
        // One segment across both: only the holes around them are new.
        const Bytes evil = altered(s, 2200, 2300);
        feed(r, 0, O, evil, 500, 3000, 3);
        CHECK(r.buffered() == 2500);
        CHECK(o.inconsistent == std::vector<Range>{{2000, 500}});  // the range compared
        feed(r, 0, O, s, 0, 500, 4);
        CHECK(o.in_order);
        CHECK(o.data == slice(s, 0, 3000));
        CHECK(r.counters().inconsistent == 1);
    }
    SECTION("retransmitting delivered bytes") {
        feed(r, 0, O, s, 0, 1000, 1);
        feed(r, 0, O, s, 1000, 2000, 2);
        // The same segment again, same bytes: an overlap only.
        feed(r, 0, O, s, 1000, 2000, 3);
        CHECK(r.counters().overlaps == 1);
        CHECK(r.counters().inconsistent == 0);
        // Same boundaries, other bytes: reported, nothing delivered again.
        feed(r, 0, O, altered(s, 0, 1000), 0, 1000, 4);
        CHECK(r.counters().overlaps == 2);
        CHECK(r.counters().inconsistent == 1);
        CHECK(o.inconsistent == std::vector<Range>{{0, 1000}});
        // Partly old, partly new: trimmed to the new part.
        feed(r, 0, O, s, 1500, 2500, 5);
        CHECK(r.counters().overlaps == 3);
        REQUIRE(o.pieces.size() == 3);
        CHECK(o.pieces[2].offset == 2000);
        CHECK(o.pieces[2].len == 500);
        CHECK(o.pieces[2].segment == 4);
        CHECK(o.data == slice(s, 0, 2500));
    }
    SECTION("retransmitting a segment that waited in the buffer") {
        // Larger than a buffer block, so it is copied out in pieces.
        feed(r, 0, O, s, 1000, 2460, 1);
        feed(r, 0, O, s, 0, 1000, 2);
        CHECK(o.data == slice(s, 0, 2460));
        feed(r, 0, O, altered(s, 1000, 2460), 1000, 2460, 3);
        CHECK(r.counters().overlaps == 1);
        CHECK(r.counters().inconsistent == 1);
        CHECK(o.inconsistent == std::vector<Range>{{1000, 1460}});
        CHECK(o.data == slice(s, 0, 2460));
    }
    CHECK(o.in_order);
    CHECK(o.gaps.empty());
}

TEST_CASE("gaps: holes the peer acknowledged or that outlived the connection", "[reassembly]") {
    Recorder rec;
    TcpReassembler r(1, ReassemblyOptions{}, rec);
    r.start(0);
    const Bytes s = make_stream(4000, 9);
    Out& o = rec.at(0, O);

    SECTION("an acknowledged hole") {
        feed(r, 0, O, s, 0, 1000, 1);
        feed(r, 0, O, s, 2000, 3000, 2);
        r.acked(0, O, 1 + 500);  // below the hole: nothing
        r.acked(0, O, 1 + 1000);
        CHECK(o.gaps.empty());
        r.acked(0, O, 1 + 1400);  // part of the hole is known lost
        CHECK(o.gaps == std::vector<Range>{{1000, 400}});
        CHECK(o.data == slice(s, 0, 1000));
        feed(r, 0, O, s, 1200, 2000, 3);  // late: the lost part stays lost
        CHECK(o.data.size() == 2600);
        CHECK(slice(o.data, 1000, 2600) == slice(s, 1400, 3000));
        CHECK(r.buffered() == 0);
        r.acked(0, O, 1 + 3500);
        CHECK(o.gaps == std::vector<Range>{{1000, 400}, {3000, 500}});
        CHECK(r.counters().gaps == 2);
        CHECK(r.counters().gap_bytes == 900);
    }
    SECTION("an acknowledged hole releases what waits behind it") {
        feed(r, 0, O, s, 0, 1000, 1);
        feed(r, 0, O, s, 2000, 2500, 2);
        feed(r, 0, O, s, 3000, 4000, 3);
        r.acked(0, O, 1 + 4000);
        CHECK(o.gaps == std::vector<Range>{{1000, 1000}, {2500, 500}});
        CHECK(o.data.size() == 2500);
        CHECK(slice(o.data, 1000, 1500) == slice(s, 2000, 2500));
        CHECK(slice(o.data, 1500, 2500) == slice(s, 3000, 4000));
        CHECK(r.buffered() == 0);
    }
    SECTION("a hole at the end of the connection") {
        feed(r, 0, O, s, 0, 1000, 1);
        feed(r, 0, O, s, 3000, 4000, 2);
        feed(r, 0, O, s, 1500, 2000, 3);
        r.finish(0, ConnEnd::Timeout, false);
        CHECK(o.gaps == std::vector<Range>{{1000, 500}, {2000, 1000}});
        Bytes expect = slice(s, 0, 1000);
        for (const Bytes& part : {slice(s, 1500, 2000), slice(s, 3000, 4000)})
            expect.insert(expect.end(), part.begin(), part.end());
        CHECK(o.data == expect);
        CHECK(o.ends == 1);
        CHECK(r.buffered() == 0);
    }
    SECTION("data missing before the FIN") {
        feed(r, 0, O, s, 0, 1000, 1);
        r.fin(0, O, 1 + 2500);
        r.finish(0, ConnEnd::Closed, false);
        CHECK(o.gaps == std::vector<Range>{{1000, 1500}});
        CHECK(r.counters().gap_bytes == 1500);
    }
    SECTION("the peer acknowledging the FIN past missing data") {
        feed(r, 0, O, s, 0, 1000, 1);
        r.fin(0, O, 1 + 2500);
        r.acked(0, O, 1 + 2500 + 1);
        CHECK(o.gaps == std::vector<Range>{{1000, 1500}});  // the FIN is no stream byte
        r.finish(0, ConnEnd::Closed, false);
        CHECK(o.gaps.size() == 1);
    }
    SECTION("the FIN itself is never a gap") {
        feed(r, 0, O, s, 0, 1000, 1);
        r.fin(0, O, 1 + 1000);
        r.acked(0, O, 1 + 1000 + 1);
        r.finish(0, ConnEnd::Closed, false);
        CHECK(o.gaps.empty());
        CHECK(r.counters().gaps == 0);
        CHECK(o.data == slice(s, 0, 1000));
    }
    SECTION("nothing is delivered beyond the FIN") {
        r.fin(0, O, 1 + 1000);
        feed(r, 0, O, s, 500, 1500, 1);
        feed(r, 0, O, s, 0, 500, 2);
        r.finish(0, ConnEnd::Closed, false);
        CHECK(o.data == slice(s, 0, 1000));
        CHECK(o.gaps.empty());
    }
    CHECK(o.in_order);
}

TEST_CASE("positions beyond 2^32 keep exact offsets", "[reassembly]") {
    Recorder rec;
    TcpReassembler r(1, ReassemblyOptions{}, rec);
    r.start(0);
    const Bytes s = make_stream(8000, 10);
    Out& o = rec.at(0, O);

    SECTION("acknowledged past holes, then large segments") {
        constexpr std::uint64_t k5G = 5ull << 30;
        feed(r, 0, O, s, 0, 1000, 1);
        r.acked(0, O, 1 + k5G);
        CHECK(o.gaps == std::vector<Range>{{1000, k5G - 1000}});
        // Two segments past 5 GiB, the later one first.
        r.segment(0, O, 1 + k5G + 1000, s.data() + 2000, 1000, 1000, true, 3);
        r.segment(0, O, 1 + k5G, s.data() + 1000, 1000, 1000, true, 2);
        REQUIRE(o.pieces.size() >= 3);
        CHECK(o.pieces[1].offset == k5G);
        CHECK(o.pieces.back().offset + o.pieces.back().len == k5G + 2000);
        // A second jump past the next 4 GiB boundary.
        constexpr std::uint64_t k9G = 9ull << 30;
        r.segment(0, O, 1 + k9G, s.data() + 3000, 5000, 5000, true, 4);
        r.acked(0, O, 1 + k9G);
        CHECK(o.gaps == std::vector<Range>{{1000, k5G - 1000}, {k5G + 2000, k9G - k5G - 2000}});
        CHECK(o.pieces.back().offset + o.pieces.back().len == k9G + 5000);
        CHECK(o.data == s);
        CHECK(r.counters().gap_bytes == k9G - 2000 - 1000);
        CHECK(r.buffered() == 0);
    }
    CHECK(o.in_order);
}

TEST_CASE("a connection picked up midstream across 2^32", "[reassembly]") {
    Recorder rec;
    TcpReassembler r(1, ReassemblyOptions{}, rec);
    r.start(0);
    const Bytes s = make_stream(8000, 12);
    const std::uint64_t first = (1ull << 32) - 3000;
    const auto segs = cut(s.size(), 13, 700, 1400);
    feed(r, 0, O, s, segs[0].first, segs[0].second, 0, false, first);
    for (std::size_t i = segs.size(); i-- > 1;)
        feed(r, 0, O, s, segs[i].first, segs[i].second, i, false, first);
    Out& o = rec.at(0, O);
    CHECK(o.in_order);
    CHECK(o.data == s);
    CHECK(o.pieces.front().offset == 0);
    CHECK(r.buffered() == 0);
}

TEST_CASE("limits: what does not fit is dropped, counted, and later a gap", "[reassembly]") {
    const Bytes s = make_stream(8000, 14);

    SECTION("one stream's limit") {
        Recorder rec;
        ReassemblyOptions opts;
        opts.max_per_stream = 1024;
        TcpReassembler r(1, opts, rec);
        r.start(0);
        Out& o = rec.at(0, O);
        feed(r, 0, O, s, 100, 1100, 1);   // 1000 bytes wait
        feed(r, 0, O, s, 1100, 1600, 2);  // would be 1500: dropped
        feed(r, 0, O, s, 1600, 1624, 3);  // 1024: fits
        CHECK(r.buffered() == 1024);
        CHECK(r.counters().dropped_segments == 1);
        CHECK(r.counters().dropped_bytes == 500);
        feed(r, 0, O, s, 0, 100, 4);
        CHECK(o.data == slice(s, 0, 1100));
        CHECK(r.buffered() == 24);
        SECTION("a FIN makes the hole a gap") {
            r.fin(0, O, 1 + 2000);
            r.finish(0, ConnEnd::Closed, false);
            CHECK(o.gaps == std::vector<Range>{{1100, 500}, {1624, 376}});
        }
        SECTION("without a FIN, the hole is a gap at the end") {
            r.finish(0, ConnEnd::Timeout, false);
            CHECK(o.gaps == std::vector<Range>{{1100, 500}});
        }
        CHECK(o.in_order);
        CHECK(o.data.size() == 1124);
        CHECK(slice(o.data, 1100, 1124) == slice(s, 1600, 1624));
        CHECK(r.buffered() == 0);
    }
    SECTION("the last segment dropped, no FIN: still a gap at the end") {
        Recorder rec;
        ReassemblyOptions opts;
        opts.max_per_stream = 1000;
        TcpReassembler r(1, opts, rec);
        r.start(0);
        feed(r, 0, O, s, 0, 100, 1);
        feed(r, 0, O, s, 200, 1300, 2);  // dropped
        r.finish(0, ConnEnd::Timeout, false);
        Out& o = rec.at(0, O);
        CHECK(o.data == slice(s, 0, 100));
        // The hole before the dropped segment was never seen; the segment was.
        CHECK(o.gaps == std::vector<Range>{{100, 100}, {200, 1100}});
        CHECK(o.gap_causes ==
              std::vector<GapCause>{GapCause::UnacknowledgedTail, GapCause::BufferLimit});
        CHECK(r.buffered() == 0);
    }
    SECTION("the global budget across connections") {
        Recorder rec;
        ReassemblyOptions opts;
        opts.max_bytes = 4096;  // 8 blocks of 512
        TcpReassembler r(16, opts, rec);
        // Each connection: a hole of 100 bytes, then 600 bytes (two blocks) waiting.
        for (std::uint32_t c = 0; c < 10; ++c) {
            r.start(c);
            feed(r, c, O, s, 100, 700, c);
        }
        CHECK(r.buffered() == 4 * 600);
        CHECK(r.counters().dropped_segments == 6);
        CHECK(r.counters().dropped_bytes == 6 * 600);
        CHECK(r.counters().buffered_peak == 2400);
        // All blocks are taken: even one byte does not fit.
        r.start(12);
        feed(r, 12, O, s, 100, 101, 0);
        CHECK(r.counters().dropped_segments == 7);
        // In-order data needs no room.
        r.start(13);
        feed(r, 13, O, s, 0, 5000, 0);
        CHECK(rec.at(13, O).data == slice(s, 0, 5000));
        std::uint64_t delivered = 0, lost = 0;
        for (std::uint32_t c = 0; c < 10; ++c) {
            r.finish(c, ConnEnd::EndOfInput, false);
            Out& o = rec.at(c, O);
            CHECK(o.in_order);
            CHECK(o.ends == 1);
            for (const Range& g : o.gaps)
                lost += g.len;
            delivered += o.data.size();
            if (c < 4) {
                CHECK(o.gaps == std::vector<Range>{{0, 100}});
                CHECK(o.data == slice(s, 100, 700));
            } else {
                CHECK(o.data.empty());
                CHECK(o.gaps == std::vector<Range>{{0, 100}, {100, 600}});
                CHECK(o.gap_causes ==
                      std::vector<GapCause>{GapCause::UnacknowledgedTail, GapCause::BufferLimit});
            }
        }
        // Every byte of every connection is either delivered or a gap.
        CHECK(delivered + lost == 10 * 700);
        CHECK(r.buffered() == 0);
        // The budget is free again.
        r.start(0);
        feed(r, 0, O, s, 100, 4196, 0);
        CHECK(r.buffered() == 4096);
    }
    SECTION("no buffer at all") {
        Recorder rec;
        ReassemblyOptions opts;
        opts.max_bytes = 0;
        TcpReassembler r(1, opts, rec);
        r.start(0);
        feed(r, 0, O, s, 0, 1000, 1);
        feed(r, 0, O, s, 2000, 3000, 2);  // out of order: nowhere to wait
        feed(r, 0, O, s, 1000, 2000, 3);
        CHECK(r.counters().dropped_segments == 1);
        CHECK(r.counters().dropped_bytes == 1000);
        r.finish(0, ConnEnd::Closed, false);
        Out& o = rec.at(0, O);
        CHECK(o.in_order);
        CHECK(o.data == slice(s, 0, 2000));
        CHECK(o.gaps == std::vector<Range>{{2000, 1000}});
    }
}

TEST_CASE("a snapped segment is not delivered: it becomes a gap", "[reassembly]") {
    Recorder rec;
    TcpReassembler r(1, ReassemblyOptions{}, rec);
    r.start(0);
    const Bytes s = make_stream(3000, 15);
    Out& o = rec.at(0, O);
    feed(r, 0, O, s, 0, 1000, 1);
    r.segment(0, O, 1 + 1000, s.data() + 1000, 96, 1000, true, 2);  // 96 of 1000 captured
    feed(r, 0, O, s, 2000, 2500, 3);
    CHECK(r.counters().snapped_segments == 1);
    CHECK(o.data == slice(s, 0, 1000));
    SECTION("acknowledged") {
        r.acked(0, O, 1 + 2500);
        CHECK(o.gaps == std::vector<Range>{{1000, 1000}});
    }
    SECTION("at the end") {
        r.finish(0, ConnEnd::Closed, false);
        CHECK(o.gaps == std::vector<Range>{{1000, 1000}});
    }
    SECTION("the last segment, neither acknowledged nor followed by a FIN") {
        r.segment(0, O, 1 + 2500, s.data() + 2500, 40, 500, true, 4);
        r.finish(0, ConnEnd::Timeout, false);
        CHECK(o.gaps == std::vector<Range>{{1000, 1000}, {2500, 500}});
    }
    CHECK(o.in_order);
    CHECK(slice(o.data, 1000, 1500) == slice(s, 2000, 2500));
    for (const Piece& p : o.pieces)
        CHECK(p.segment != 1);
}

TEST_CASE("swap() exchanges the two directions", "[reassembly]") {
    Recorder rec;
    TcpReassembler r(1, ReassemblyOptions{}, rec);
    r.start(0);
    const Bytes a = make_stream(2000, 16);
    const Bytes b = make_stream(2000, 17);
    feed(r, 0, O, a, 0, 1000, 1);    // seen as dir 0
    feed(r, 0, R, b, 500, 1000, 2);  // seen as dir 1, waiting for [0, 500)
    r.swap(0);
    // The roles flipped: the first stream continues as dir 1, the other as dir 0.
    feed(r, 0, R, a, 1000, 2000, 3);
    feed(r, 0, O, b, 0, 500, 4);
    REQUIRE(rec.at(0, R).pieces.size() == 1);
    CHECK(rec.at(0, R).pieces[0].offset == 1000);  // the stream's own offset
    CHECK(rec.at(0, R).pieces[0].segment == 1);    // its second segment
    CHECK(rec.at(0, R).data == slice(a, 1000, 2000));
    CHECK(r.buffered() == 0);
    // Dir 0 delivered a's start before the swap, then b from its own start.
    const Out& o = rec.at(0, O);
    CHECK(o.data.size() == 2000);
    CHECK(slice(o.data, 0, 1000) == slice(a, 0, 1000));
    CHECK(slice(o.data, 1000, 2000) == slice(b, 0, 1000));
    REQUIRE(o.pieces.size() >= 3);
    CHECK(o.pieces[1].offset == 0);
    CHECK(o.pieces[2].offset == 500);
    CHECK(o.pieces[2].segment == 0);  // b's segment that waited
    CHECK(o.pieces[2].ts == 2);
}

TEST_CASE("start() on a reused slot forgets the old connection", "[reassembly]") {
    Recorder rec;
    ReassemblyOptions opts;
    opts.max_bytes = 4096;
    TcpReassembler r(2, opts, rec);
    const Bytes old_s = make_stream(5000, 18);
    const Bytes new_s = make_stream(5000, 19);
    r.start(1);
    feed(r, 1, O, old_s, 0, 1000, 1);
    feed(r, 1, O, old_s, 2000, 4000, 2);  // waits
    feed(r, 1, R, old_s, 0, 300, 3);
    r.fin(1, O, 1 + 4000);
    CHECK(r.buffered() == 2000);

    SECTION("after finish()") {
        r.finish(1, ConnEnd::Reused, false);
        CHECK(rec.at(1, O).ends == 1);
    }
    SECTION("without finish()") {}

    r.start(1);
    CHECK(rec.starts[1] == 2);
    CHECK(r.buffered() == 0);
    CHECK_FALSE(rec.has(1, O));
    // The new connection, picked up midstream at positions the old one used.
    feed(r, 1, O, new_s, 1000, 2000, 10, false);
    Out& o = rec.at(1, O);
    CHECK(o.data == slice(new_s, 1000, 2000));
    CHECK(o.pieces.front().offset == 0);
    CHECK_FALSE(o.pieces.front().from_start);
    CHECK(o.pieces.front().segment == 0);
    // Old waiting bytes and the old FIN are gone: the stream goes past 4000.
    feed(r, 1, O, new_s, 2000, 5000, 11, false);
    CHECK(o.data == slice(new_s, 1000, 5000));
    CHECK(o.gaps.empty());
    // The whole budget is the new connection's.
    feed(r, 1, O, new_s, 0, 100, 12, false);  // before the stream's start: ignored
    r.segment(1, O, 1 + 6000, new_s.data(), 4096, 4096, false, 13);
    CHECK(r.buffered() == 4096);
    r.finish(1, ConnEnd::Closed, false);
    CHECK(o.ends == 1);
    CHECK_FALSE(rec.has(1, R));
    CHECK(r.buffered() == 0);
}

TEST_CASE("stream_end once per active direction, with the reason", "[reassembly]") {
    Recorder rec;
    TcpReassembler r(4, ReassemblyOptions{}, rec);
    const Bytes s = make_stream(1000, 20);
    r.start(0);
    r.start(1);
    r.start(2);
    feed(r, 0, O, s, 0, 10, 1);
    feed(r, 1, O, s, 0, 10, 1);
    feed(r, 1, R, s, 0, 10, 1, false, 777);
    r.fin(2, O, 1);  // a FIN, but no data: never active
    r.finish(0, ConnEnd::Closed, false);
    r.finish(1, ConnEnd::Timeout, true);
    r.finish(2, ConnEnd::Evicted, false);
    r.finish(0, ConnEnd::Closed, false);  // twice: no second end
    CHECK(rec.at(0, O).ends == 1);
    CHECK(rec.at(0, O).why == ConnEnd::Closed);
    CHECK_FALSE(rec.at(0, O).reset);
    CHECK_FALSE(rec.has(0, R));
    for (int dir : {O, R}) {
        CHECK(rec.at(1, dir).ends == 1);
        CHECK(rec.at(1, dir).why == ConnEnd::Timeout);
        CHECK(rec.at(1, dir).reset);
        CHECK_FALSE(rec.at(1, dir).data_after_end);
    }
    CHECK_FALSE(rec.has(2, O));
    CHECK_FALSE(rec.has(2, R));
    CHECK_FALSE(rec.has(3, O));
}

// The same contract through the FlowTracker: frames crafted with libtins,
// decoded, and their payload fed to the reassembler by the tracker.
namespace {

class NullSink : public wl::ConnSink {
  public:
    void conn_ended(const wl::Connection&, ConnEnd why, const wl::LadderLog*) override {
        ends.push_back(why);
    }
    std::vector<ConnEnd> ends;
};

class Wire {
  public:
    Wire() : tracker(wl::FlowOptions{}, sink), reasm(64, ReassemblyOptions{}, rec) {
        tracker.set_reassembler(&reasm);
    }
    // flags: S A F R P. `data` may be empty.
    void send(int dir, const char* flags, std::uint32_t seq, std::uint32_t ack,
              const Bytes& data = {}) {
        const bool o = dir == O;
        Tins::TCP tcp(o ? 5001 : 40000, o ? 40000 : 5001);
        for (const char* f = flags; *f != '\0'; ++f) {
            if (*f == 'S') tcp.set_flag(Tins::TCP::SYN, 1);
            if (*f == 'A') tcp.set_flag(Tins::TCP::ACK, 1);
            if (*f == 'F') tcp.set_flag(Tins::TCP::FIN, 1);
            if (*f == 'R') tcp.set_flag(Tins::TCP::RST, 1);
            if (*f == 'P') tcp.set_flag(Tins::TCP::PSH, 1);
        }
        tcp.seq(seq);
        tcp.ack_seq(ack);
        tcp.window(65535);
        if (!data.empty()) tcp /= Tins::RawPDU(data);
        Tins::EthernetII eth("02:00:00:00:00:02", "02:00:00:00:00:01");
        eth /= Tins::IP(o ? "198.19.0.2" : "198.18.0.1", o ? "198.18.0.1" : "198.19.0.2");
        eth /= tcp;
        const std::vector<std::uint8_t> bytes = eth.serialize();
        ts += 1000000;
        wl::Packet pkt;
        pkt.linktype = 1;
        pkt.ts_ns = ts;
        pkt.caplen = static_cast<std::uint32_t>(bytes.size());
        pkt.wire_len = pkt.caplen;
        wl::decode(wl::Bytes(bytes.data(), bytes.size()), pkt);
        REQUIRE(pkt.has(wl::Layer::Tcp));
        tracker.process(pkt);
    }

    NullSink sink;
    Recorder rec;
    wl::FlowTracker tracker;
    TcpReassembler reasm;
    std::uint64_t ts = 1000000000;
};

}  // namespace

TEST_CASE("through the FlowTracker: reordered data across a sequence wrap", "[reassembly]") {
    Wire w;
    constexpr std::uint32_t I = 0xffffd000u;  // the client's sequence numbers wrap
    constexpr std::uint32_t J = 7000;
    const Bytes up = make_stream(20000, 30);
    const Bytes down = make_stream(3000, 31);
    w.send(O, "S", I, 0);
    w.send(R, "SA", J, I + 1);
    w.send(O, "A", I + 1, J + 1);
    const auto segs = cut(up.size(), 32, 500, 1460);
    const auto order = permutation(segs.size(), 33);
    for (std::size_t k = 0; k < order.size(); ++k) {
        const auto [b, e] = segs[order[k]];
        w.send(O, "PA", I + 1 + static_cast<std::uint32_t>(b), J + 1, slice(up, b, e));
    }
    // The last segment again, with other bytes: reported, not delivered.
    const auto [lb, le] = segs.back();
    w.send(O, "PA", I + 1 + static_cast<std::uint32_t>(lb), J + 1,
           slice(altered(up, lb, le), lb, le));
    w.send(R, "PA", J + 1, I + 1 + 20000, down);
    w.send(O, "FA", I + 1 + 20000, J + 1 + 3000);
    w.send(R, "FA", J + 1 + 3000, I + 2 + 20000);
    w.send(O, "A", I + 2 + 20000, J + 2 + 3000);
    w.tracker.flush();
    REQUIRE(w.sink.ends.size() == 1);
    const Out& o = w.rec.at(0, O);
    CHECK(o.in_order);
    CHECK(o.data == up);
    CHECK(o.gaps.empty());
    CHECK(o.inconsistent == std::vector<Range>{{lb, le - lb}});
    CHECK(o.pieces.front().from_start);
    CHECK(o.ends == 1);
    const Out& r = w.rec.at(0, R);
    CHECK(r.data == down);
    CHECK(r.gaps.empty());
    CHECK(r.ends == 1);
    CHECK(w.reasm.buffered() == 0);
}

TEST_CASE("through the FlowTracker: midstream, a segment the peer acknowledged past",
          "[reassembly]") {
    Wire w;
    constexpr std::uint32_t I = 0x7fff0000u;
    constexpr std::uint32_t J = 123;
    const Bytes up = make_stream(6000, 34);
    w.send(O, "PA", I, J, slice(up, 0, 1000));
    // [1000, 2000) never reaches the capture.
    w.send(O, "PA", I + 2000, J, slice(up, 2000, 3000));
    w.send(R, "A", J, I + 3000);
    w.send(O, "PA", I + 3000, J, slice(up, 3000, 6000));
    w.tracker.flush();
    const Out& o = w.rec.at(0, O);
    CHECK(o.in_order);
    CHECK(o.gaps == std::vector<Range>{{1000, 1000}});
    CHECK(o.data.size() == 5000);
    CHECK(slice(o.data, 0, 1000) == slice(up, 0, 1000));
    CHECK(slice(o.data, 1000, 5000) == slice(up, 2000, 6000));
    for (const Piece& p : o.pieces)
        CHECK_FALSE(p.from_start);
    CHECK(o.ends == 1);
}

TEST_CASE("gap causes and hole fills", "[reassembler]") {
    using wl::FillCause;
    using Fill = Out::Fill;
    const Bytes s = make_stream(10000, 41);
    Recorder rec;
    TcpReassembler r(4, ReassemblyOptions{}, rec);
    const std::uint64_t ms = 1'000'000;
    SECTION("a hole the peer acknowledged was not captured") {
        r.start(0);
        feed(r, 0, O, s, 0, 1000, 1 * ms);
        feed(r, 0, O, s, 2000, 3000, 2 * ms);
        r.acked(0, O, 1 + 3000);
        Out& o = rec.at(0, O);
        CHECK(o.gaps == std::vector<Range>{{1000, 1000}});
        CHECK(o.gap_causes == std::vector<GapCause>{GapCause::NotCaptured});
        CHECK(o.fills.empty());
        // The bytes coming now are behind: an overlap, no fill.
        feed(r, 0, O, s, 1000, 2000, 3 * ms);
        CHECK(o.fills.empty());
        Bytes want = slice(s, 0, 1000);
        const Bytes after = slice(s, 2000, 3000);
        want.insert(want.end(), after.begin(), after.end());
        CHECK(o.data == want);
    }
    SECTION("a hole filled 200 ms after it opened: retransmitted; 1 ms: reordered") {
        r.start(0);
        feed(r, 0, O, s, 0, 1000, 1 * ms);
        feed(r, 0, O, s, 2000, 3000, 2 * ms);    // the hole [1000, 2000) opens
        feed(r, 0, O, s, 4000, 5000, 3 * ms);    // and [3000, 4000)
        feed(r, 0, O, s, 3000, 4000, 4 * ms);    // filled 1 ms later, while waiting
        feed(r, 0, O, s, 1000, 2000, 202 * ms);  // in order, 200 ms later
        Out& o = rec.at(0, O);
        CHECK(o.data == slice(s, 0, 5000));
        CHECK(o.gaps.empty());
        CHECK(o.fills ==
              std::vector<Fill>{{3000, 1000, FillCause::Reordered, 3 * ms, 4 * ms},
                                {1000, 1000, FillCause::Retransmitted, 2 * ms, 202 * ms}});
        CHECK(r.counters().filled_bytes == 2000);
    }
    SECTION("the tail before a RST is missing; an implausible RST is not believed") {
        r.start(0);
        r.start(1);
        feed(r, 0, O, s, 0, 1000, 1 * ms);
        r.reset_at(0, O, 1 + 1500);
        feed(r, 1, O, s, 0, 1000, 1 * ms);
        r.reset_at(1, O, 1 + 1000 + (2u << 20));
        r.finish(0, ConnEnd::Closed, true);
        r.finish(1, ConnEnd::Closed, true);
        CHECK(rec.at(0, O).gaps == std::vector<Range>{{1000, 500}});
        CHECK(rec.at(0, O).gap_causes == std::vector<GapCause>{GapCause::UnacknowledgedTail});
        CHECK(rec.at(1, O).gaps.empty());
    }
    SECTION("bytes cut by the snap length are a gap of their own cause") {
        r.start(0);
        feed(r, 0, O, s, 0, 1000, 1 * ms);
        r.segment(0, O, 1 + 1000, s.data() + 1000, 100, 1000, true, 2 * ms);  // 100 of 1000
        feed(r, 0, O, s, 2000, 3000, 3 * ms);
        r.acked(0, O, 1 + 3000);
        Out& o = rec.at(0, O);
        CHECK(o.gaps == std::vector<Range>{{1000, 1000}});
        CHECK(o.gap_causes == std::vector<GapCause>{GapCause::Snaplen});
        CHECK(o.data.size() == 2000);
    }
}
