// The flow stage's pieces on their own: the connection table (slots, lists,
// eviction order, sweep) and the endpoint handle (history letters, scaled
// counters, role flips).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "flow/conn_table.hpp"
#include "flow/tcp_endpoint.hpp"

namespace {

using wl::Connection;
using wl::ConnTable;
using wl::TcpEndpoint;

wl::FlowKey key_for(std::uint16_t port) {
    wl::FlowKey k{};
    k.lo_port = port;
    k.hi_port = 80;
    k.proto = 6;
    k.ip_version = 4;
    return k;
}

// Takes a free slot for a connection with `port`'s key, as the tracker does.
std::uint32_t open_conn(ConnTable& t, std::uint16_t port) {
    const std::uint32_t idx = t.take_free();
    t.conn(idx) = Connection{};
    t.conn(idx).key = key_for(port);
    t.insert(idx, key_for(port).hash(1));
    return idx;
}

std::string history(const Connection& c) {
    return std::string(c.history, c.history_len);
}

}  // namespace

TEST_CASE("ConnTable: connections are found by key until released", "[flow][table]") {
    ConnTable t(8, 4);
    const std::uint32_t a = open_conn(t, 1000);
    const std::uint32_t b = open_conn(t, 1001);
    CHECK(a != b);
    CHECK(t.in_use(a));
    CHECK(t.find(key_for(1000), key_for(1000).hash(1)) == a);
    CHECK(t.find(key_for(1001), key_for(1001).hash(1)) == b);
    CHECK(t.find(key_for(1002), key_for(1002).hash(1)) == ConnTable::kNone);
    t.release(a);
    CHECK_FALSE(t.in_use(a));
    CHECK(t.find(key_for(1000), key_for(1000).hash(1)) == ConnTable::kNone);
    CHECK(t.find(key_for(1001), key_for(1001).hash(1)) == b);
    // The slot freed last is the one used next (its memory is warm).
    CHECK(open_conn(t, 1003) == a);
}

TEST_CASE("ConnTable: many keys, erased in any order, stay findable", "[flow][table]") {
    ConnTable t(64, 64);
    std::vector<std::uint32_t> idx;
    for (std::uint16_t p = 0; p < 64; ++p)
        idx.push_back(open_conn(t, p));
    for (std::uint16_t p = 0; p < 64; p += 3)
        t.release(idx[p]);
    for (std::uint16_t p = 0; p < 64; ++p) {
        const std::uint32_t want = p % 3 == 0 ? ConnTable::kNone : idx[p];
        CHECK(t.find(key_for(p), key_for(p).hash(1)) == want);
    }
}

TEST_CASE("ConnTable: eviction takes attempts beyond their share first", "[flow][table]") {
    ConnTable t(4, 2);
    ConnTable::ListId from = ConnTable::kActive;
    const std::uint32_t a = open_conn(t, 1);
    CHECK_FALSE(t.must_evict(from));
    const std::uint32_t b = open_conn(t, 2);
    // Two attempts: their share is full, the oldest goes.
    REQUIRE(t.must_evict(from));
    CHECK(from == ConnTable::kAttempts);
    CHECK(t.head(from) == a);
    // `a` is answered: it moves to the active list, `b` is the only attempt.
    t.conn(a).side[1].pkts = 1;
    t.touch(a);
    CHECK_FALSE(t.must_evict(from));
    open_conn(t, 3);
    open_conn(t, 4);
    // Full, attempts at their share: the oldest attempt (b) goes.
    REQUIRE(t.must_evict(from));
    CHECK(from == ConnTable::kAttempts);
    CHECK(t.head(from) == b);
}

TEST_CASE("ConnTable: the sweep ends what is due, in slot order", "[flow][table]") {
    ConnTable t(8, 8);
    const std::uint32_t a = open_conn(t, 1), b = open_conn(t, 2), c = open_conn(t, 3);
    t.set_expire(a, 100);
    t.set_expire(b, 300);
    t.set_expire(c, 50);
    std::vector<std::uint32_t> ended;
    auto end = [&](std::uint32_t idx) {
        ended.push_back(idx);
        t.release(idx);
    };
    t.sweep(200, 8, end);
    CHECK(ended.size() == 2);
    CHECK(std::count(ended.begin(), ended.end(), a) == 1);
    CHECK(std::count(ended.begin(), ended.end(), c) == 1);
    t.sweep(400, 8, end);
    CHECK(ended.size() == 3);
    CHECK(ended.back() == b);
}

TEST_CASE("TcpEndpoint: letters, once-only history and scaled counters", "[flow][endpoint]") {
    Connection c{};
    const TcpEndpoint orig(c, 0), resp(c, 1);
    CHECK(orig.letter('S') == 'S');
    CHECK(resp.letter('S') == 's');
    CHECK_FALSE(orig.check_history(wl::kHistSyn, 'S'));
    CHECK(orig.check_history(wl::kHistSyn, 'S'));  // seen before: no letter
    CHECK_FALSE(resp.check_history(wl::kHistSyn, 'H'));
    CHECK(history(c) == "Sh");
    for (int i = 0; i < 100; ++i)
        resp.did_rxmit();  // letters at the 1st, 10th and 100th
    CHECK(c.side[1].tcp.data_not_advancing == 100);
    CHECK(history(c) == "Shttt");
    orig.zero_window();
    orig.checksum_error();
    resp.content_gap();
    CHECK(history(c) == "ShtttWCg");
}

TEST_CASE("TcpEndpoint: flip_roles swaps the sides and follows its own", "[flow][endpoint]") {
    Connection c{};
    c.orig.port = 5001;
    c.resp.port = 40000;
    c.side[1].tcp.state = wl::TcpState::Established;
    c.side[1].pkts = 3;
    TcpEndpoint ep(c, 1);
    ep.flip_roles();
    CHECK(ep.dir() == 0);
    CHECK(ep.is_orig());
    CHECK(ep.tcp().state == wl::TcpState::Established);
    CHECK(c.side[0].pkts == 3);
    CHECK(c.orig.port == 40000);
    CHECK(c.resp.port == 5001);
    CHECK(c.flipped);
    CHECK(history(c) == "^");
    CHECK(ep.peer().dir() == 1);
}

TEST_CASE("unwrap: positions continue past the 32-bit wrap", "[flow][endpoint]") {
    const wl::SeqNumber isn(0xffffff00u);
    CHECK(wl::unwrap(0, isn, isn + 1) == 1);
    CHECK(wl::unwrap(1, isn, wl::SeqNumber(0x100)) == 0x200);  // past the wrap
    CHECK(wl::unwrap(0x200, isn, isn) == 0);                   // back before it
    CHECK(wl::unwrap(1, isn, isn - 10) == -10);                // before the start
}
