// What a per-second rate threshold misses and what it mistakes: the modelled
// half-open queue (low-rate floods), prefixes as victims (carpet bombing),
// scans kept out of floods (ScanDetector), and the evidence in flood alerts
// (hop counts). Addresses are bytes handed to the detector the way the decode
// stage would; sources come from a fixed-seed mt19937_64.
#include <array>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "analyzers/scan_detector.hpp"
#include "analyzers/syn_flood.hpp"
#include "tests/unit/analyzers/syn_flood_traffic.hpp"

namespace {

using namespace flood_traffic;

const Addr kVictim = v4(198, 19, 0, 10);

Addr spoofed_source(std::mt19937_64& rng) {
    const std::uint64_t r = rng();
    return v4(198, 18, static_cast<std::uint8_t>(r >> 8), static_cast<std::uint8_t>(r >> 16));
}

void syn(wl::SynFloodDetector& d, std::uint64_t ts, const Addr& src, const Addr& dst,
         std::uint16_t port, std::uint8_t ttl = 0) {
    d.packet(ts, 4, src.data(), 40000, dst.data(), port, kSyn, ttl);
}

// SYNs number first to first + n - 1 of a spoofed flood of `rate` a second
// from t0 to dst:port; the time of the last.
std::uint64_t spoofed_syns(wl::SynFloodDetector& d, std::mt19937_64& rng, std::uint64_t t0,
                           std::uint64_t rate, std::uint64_t first, std::uint64_t n,
                           const Addr& dst, std::uint16_t port) {
    std::uint64_t ts = t0;
    for (std::uint64_t i = first; i < first + n; ++i) {
        ts = t0 + i * kSec / rate;
        syn(d, ts, spoofed_source(rng), dst, port);
    }
    return ts;
}

bool same(const std::uint8_t* a, const Addr& b) {
    return std::memcmp(a, b.data(), 16) == 0;
}

}  // namespace

TEST_CASE("a low-rate flood alerts as its modelled queue passes the backlog", "[synflood]") {
    RecordingSink sink;
    wl::SynFloodDetector d({}, sink);
    std::mt19937_64 rng(5);
    const std::uint64_t t0 = 500 * kSec;
    // The queue passes 511 with SYN 512: the alert comes with it.
    spoofed_syns(d, rng, t0, 300, 0, 511, kVictim, 80);
    CHECK(sink.started.empty());
    spoofed_syns(d, rng, t0, 300, 511, 1, kVictim, 80);
    CHECK(sink.started.size() == 1);
    const std::uint64_t ts = spoofed_syns(d, rng, t0, 300, 512, 300 * 40 - 512, kVictim, 80);
    d.finish(ts + kSec);
    REQUIRE(sink.ended.size() == 1);
    const wl::SynFloodAlert& a = sink.ended[0];
    CHECK(a.port == 80);
    CHECK(a.trigger == wl::SynFloodAlert::kQueue);
    CHECK(a.ts_start_ns == t0);
    CHECK(a.syns == 12000);
    CHECK(a.peak_queue == 12000);
    CHECK(a.detected_after == Approx(511.0 / 300).epsilon(0.001));
}

TEST_CASE("SYNs older than the SYN-ACK lifetime leave the queue", "[synflood]") {
    // 7 SYN/s never answered: at most 7 * 63 = 441 half-open, under 511.
    RecordingSink sink;
    wl::SynFloodDetector d({}, sink);
    std::mt19937_64 rng(6);
    const std::uint64_t t0 = 700 * kSec;
    const std::uint64_t ts = spoofed_syns(d, rng, t0, 7, 0, 7 * 300, kVictim, 80);
    d.finish(ts + kSec);
    CHECK(sink.started.empty());
    // A shorter backlog catches the same SYNs.
    wl::SynFloodOptions opts;
    opts.backlog = 128;
    RecordingSink sink2;
    wl::SynFloodDetector d2(opts, sink2);
    spoofed_syns(d2, rng, t0, 7, 0, 7 * 300, kVictim, 80);
    d2.finish(ts + kSec);
    REQUIRE(sink2.ended.size() == 1);
    CHECK(sink2.ended[0].trigger == wl::SynFloodAlert::kQueue);
    CHECK(sink2.ended[0].peak_queue <= 7 * 64);
}

TEST_CASE("completed and refused handshakes leave the queue", "[synflood]") {
    // 400 SYN/s for 30 s, each completed or answered by a RST: the queue stays empty.
    RecordingSink sink;
    wl::SynFloodDetector d({}, sink);
    std::mt19937_64 rng(8);
    const std::uint64_t t0 = 900 * kSec;
    std::uint64_t ts = t0;
    for (int i = 0; i < 400 * 30; ++i) {
        ts = t0 + static_cast<std::uint64_t>(i) * kSec / 400;
        const Addr src = spoofed_source(rng);
        syn(d, ts, src, kVictim, 80);
        if (i % 2 == 0) {
            d.completed(ts + 1000000, 4, kVictim.data(), 80);
        } else {
            d.packet(ts + 1000000, 4, kVictim.data(), 80, src.data(), 40000, kRstAck);
        }
    }
    d.finish(ts + kSec);
    CHECK(sink.started.empty());
}

TEST_CASE("carpet bombing a /24 gives one alert for the prefix", "[synflood]") {
    RecordingSink sink;
    wl::SynFloodDetector d({}, sink);
    std::mt19937_64 rng(9);
    const std::uint64_t t0 = 1200 * kSec;
    const int n = 256 * 150 * 4;
    std::uint64_t ts = t0;
    for (int i = 0; i < n; ++i) {
        ts = t0 + static_cast<std::uint64_t>(i) * kSec / (256 * 150);
        syn(d, ts, spoofed_source(rng), v4(198, 19, 7, static_cast<std::uint8_t>(i)), 80);
    }
    d.finish(ts + kSec);
    REQUIRE(sink.ended.size() == 1);
    const wl::SynFloodAlert& a = sink.ended[0];
    CHECK(a.prefix_len == 24);
    CHECK(same(a.victim, v4(198, 19, 7, 0)));
    CHECK(a.port == 0);
    CHECK(a.syns == static_cast<std::uint64_t>(n));
    CHECK(a.addresses_hit == 256);
    REQUIRE(a.ntop_victims == 10);
    for (std::uint32_t i = 0; i < a.ntop_victims; ++i) {
        CHECK(a.top_victims[i].addr[2] == 7);
    }
}

TEST_CASE("an address flooded inside a carpet-bombed prefix keeps its own alert", "[synflood]") {
    RecordingSink sink;
    wl::SynFloodDetector d({}, sink);
    std::mt19937_64 rng(10);
    const std::uint64_t t0 = 1500 * kSec;
    std::uint64_t ts = t0;
    // 256 addresses at 150/s each to port 80, and 198.19.7.9:80 at 5,000/s besides.
    for (int i = 0; i < 3 * 43400; ++i) {
        ts = t0 + static_cast<std::uint64_t>(i) * kSec / 43400;
        if (i % 434 < 384) {
            syn(d, ts, spoofed_source(rng), v4(198, 19, 7, static_cast<std::uint8_t>(i)), 80);
        } else {
            syn(d, ts, spoofed_source(rng), v4(198, 19, 7, 9), 80);
        }
    }
    d.finish(ts + kSec);
    REQUIRE(sink.ended.size() == 2);
    int prefix = 0, port = 0;
    for (const auto& a : sink.ended) {
        if (a.prefix_len == 24) ++prefix;
        if (a.prefix_len == 0 && a.port == 80 && same(a.victim, v4(198, 19, 7, 9))) ++port;
    }
    CHECK(prefix == 1);
    CHECK(port == 1);
}

TEST_CASE("a vertical port scan is a port_scan, not a flood", "[synflood][scan]") {
    RecordingSink sink;
    wl::SynFloodDetector d({}, sink);
    const Addr scanner = v4(198, 18, 5, 5);
    const std::uint64_t t0 = 2000 * kSec;
    for (std::uint32_t p = 1; p <= 20000; ++p) {
        const std::uint64_t ts = t0 + p * (kSec / 10000);
        syn(d, ts, scanner, kVictim, static_cast<std::uint16_t>(p));
        const std::uint16_t answer = (p == 22 || p == 443) ? kSynAck : kRstAck;
        d.packet(ts + 100000, 4, kVictim.data(), static_cast<std::uint16_t>(p), scanner.data(),
                 40000, answer);
    }
    d.finish(t0 + 3 * kSec);
    CHECK(sink.started.empty());
    REQUIRE(sink.scans_started.size() == 1);
    REQUIRE(sink.scans_ended.size() == 1);
    const wl::ScanAlert& a = sink.scans_ended[0];
    CHECK(a.kind == wl::ScanAlert::kPortScan);
    CHECK(same(a.scanner, scanner));
    CHECK(same(a.target, kVictim));
    CHECK(a.tried == 20000);
    CHECK(a.syns == 20000);
    CHECK(a.open == 2);
    REQUIRE(a.nopen_listed == 2);
    CHECK(a.open_ports[0] == 22);
    CHECK(a.open_ports[1] == 443);
    CHECK(d.scan_alerts() == 1);
    // Its scan started with the 15th refused port, as Zeek's threshold says.
    CHECK(sink.scans_started[0].tried >= 15);
}

TEST_CASE("a horizontal scan is an address_scan", "[synflood][scan]") {
    RecordingSink sink;
    wl::SynFloodDetector d({}, sink);
    const Addr scanner = v4(198, 18, 6, 6);
    const std::uint64_t t0 = 2100 * kSec;
    for (std::uint32_t i = 0; i < 4096; ++i) {
        const Addr dst =
            v4(198, 19, static_cast<std::uint8_t>(16 + (i >> 8)), static_cast<std::uint8_t>(i));
        syn(d, t0 + i * (kSec / 2000), scanner, dst, 3389);
    }
    d.finish(t0 + 3 * kSec);
    CHECK(sink.started.empty());
    REQUIRE(sink.scans_ended.size() == 1);
    const wl::ScanAlert& a = sink.scans_ended[0];
    CHECK(a.kind == wl::ScanAlert::kAddressScan);
    CHECK(a.port == 3389);
    CHECK(a.tried == 4096);
    CHECK(a.open == 0);
}

TEST_CASE("a client whose attempts are answered is no scanner", "[synflood][scan]") {
    // 40 hosts on 443 and 40 ports of one host, each answered by a SYN-ACK.
    RecordingSink sink;
    wl::SynFloodDetector d({}, sink);
    const Addr client = v4(198, 18, 7, 7);
    std::uint64_t ts = 2200 * kSec;
    for (std::uint32_t i = 0; i < 40; ++i) {
        const Addr dst = v4(198, 19, 30, static_cast<std::uint8_t>(i));
        syn(d, ts, client, dst, 443);
        d.packet(ts + 20000000, 4, dst.data(), 443, client.data(), 40000, kSynAck);
        ts += kSec / 20;
    }
    for (std::uint32_t i = 0; i < 40; ++i) {
        syn(d, ts, client, kVictim, static_cast<std::uint16_t>(20000 + i));
        d.packet(ts + 20000000, 4, kVictim.data(), static_cast<std::uint16_t>(20000 + i),
                 client.data(), 40000, kSynAck);
        ts += kSec / 20;
    }
    d.finish(ts + kSec);
    CHECK(sink.scans_started.empty());
    CHECK(sink.started.empty());
}

TEST_CASE("one source hammering a /24 is a flood, not an address scan", "[synflood][scan]") {
    RecordingSink sink;
    wl::SynFloodDetector d({}, sink);
    const Addr src = v4(198, 18, 8, 8);
    const std::uint64_t t0 = 2300 * kSec;
    std::uint64_t ts = t0;
    for (int i = 0; i < 256 * 20 * 3; ++i) {
        ts = t0 + static_cast<std::uint64_t>(i) * kSec / (256 * 20);
        syn(d, ts, src, v4(198, 19, 9, static_cast<std::uint8_t>(i)), 80);
    }
    d.finish(ts + kSec);
    CHECK(sink.scans_started.empty());
    REQUIRE(sink.ended.size() == 1);
    CHECK(sink.ended[0].prefix_len == 24);
    CHECK_FALSE(sink.ended[0].spoofed);
}

TEST_CASE("scanners beyond the table are evicted and counted, memory fixed", "[synflood][scan]") {
    RecordingSink sink;
    wl::SynFloodOptions opts;
    opts.scan.scanners = 4;
    wl::SynFloodDetector d(opts, sink);
    const std::size_t mem = d.memory_bytes();
    const std::uint64_t t0 = 2400 * kSec;
    // Ten scanners, interleaved, each trying 100 closed ports of its own host.
    for (std::uint32_t p = 0; p < 100; ++p) {
        for (std::uint8_t s = 0; s < 10; ++s) {
            const std::uint64_t ts = t0 + (p * 10 + s) * (kSec / 1000);
            const auto port = static_cast<std::uint16_t>(1000 + p);
            syn(d, ts, v4(198, 18, 10, s), v4(198, 19, 10, s), port);
            d.packet(ts + 100000, 4, v4(198, 19, 10, s).data(), port, v4(198, 18, 10, s).data(),
                     40000, kRstAck);
        }
    }
    d.finish(t0 + 5 * kSec);
    CHECK(d.memory_bytes() == mem);
    CHECK(d.scanners_evicted() > 0);
    CHECK(sink.started.empty());
    CHECK(sink.scans_started.size() == sink.scans_ended.size());
}

TEST_CASE("a spoofed flood over a /16 stays in fixed memory and finds no scanner", "[synflood]") {
    RecordingSink sink;
    wl::SynFloodDetector d({}, sink);
    const std::size_t mem = d.memory_bytes();
    std::mt19937_64 rng(12);
    const std::uint64_t t0 = 2500 * kSec, n = 2000000;
    std::uint64_t ts = t0;
    for (std::uint64_t i = 0; i < n; ++i) {
        ts = t0 + i * kSec / 1000000;
        const std::uint64_t r = rng();
        const Addr dst =
            v4(198, 19, static_cast<std::uint8_t>(r >> 32), static_cast<std::uint8_t>(r >> 40));
        syn(d, ts, spoofed_source(rng), dst, 80);
    }
    d.finish(ts + kSec);
    CHECK(d.memory_bytes() == mem);
    CHECK(d.memory_bytes() <= wl::SynFloodDetector::memory_bound({}));
    CHECK(d.victims_evicted() > 0);
    CHECK(sink.scans_started.empty());
    // Every /24 of the /16 gets 7,800 SYN/s: an alert each for as many as
    // the trackers hold, the rest counted as untracked.
    CHECK(sink.started.size() + (d.untracked() > 0 ? 1 : 0) >= 1);
    for (const auto& a : sink.ended)
        CHECK(a.prefix_len == 24);
}

TEST_CASE("hop counts tell spoofed sources from the hosts they claim to be", "[synflood]") {
    RecordingSink sink;
    wl::SynFloodDetector d({}, sink);
    const std::uint64_t t0 = 2600 * kSec;
    std::vector<Addr> clients;
    for (int i = 0; i < 200; ++i)
        clients.push_back(v4(198, 18, 77, static_cast<std::uint8_t>(i + 1)));
    // Each client completes a handshake from 7 hops away (TTL 57 of 64).
    for (std::size_t i = 0; i < clients.size(); ++i) {
        d.completed(t0 + i * 1000000, 4, kVictim.data(), 443, clients[i].data(), 57);
    }
    // A flood claiming the first 100 with TTL 110 (18 hops of 128) and the
    // other 100 with TTL 58 (6 hops: within one of 7, consistent).
    const std::uint64_t t1 = t0 + kSec;
    for (int i = 0; i < 10000; ++i) {
        const std::size_t c = static_cast<std::size_t>(i) % 200;
        syn(d, t1 + static_cast<std::uint64_t>(i) * kSec / 5000, clients[c], kVictim, 80,
            c < 100 ? 110 : 58);
    }
    d.finish(t1 + 3 * kSec);
    REQUIRE(sink.ended.size() == 1);
    const wl::SynFloodAlert& a = sink.ended[0];
    CHECK(a.hop_checked > 9000);
    // Half of the SYNs claim a source 11 hops off its learnt distance.
    CHECK(static_cast<double>(a.hop_mismatch) == Approx(0.5 * a.hop_checked).epsilon(0.02));
}
