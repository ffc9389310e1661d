// Connection uids (flow/uid.hpp): made of the protocol, the two endpoints in
// either order and the first packet's time, nothing else; "C" and 17 base-62
// characters.
#include <arpa/inet.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>

#include "flow/uid.hpp"

namespace {

wl::Endpoint ep(const char* addr, std::uint16_t port) {
    wl::Endpoint e{};
    const bool v6 = std::strchr(addr, ':') != nullptr;
    REQUIRE(::inet_pton(v6 ? AF_INET6 : AF_INET, addr, e.addr) == 1);
    e.port = port;
    return e;
}

std::string uid(std::uint8_t proto, std::uint8_t v, const wl::Endpoint& a, const wl::Endpoint& b,
                std::uint64_t ns, std::uint64_t tie = 0) {
    char out[19];
    std::memset(out, '#', sizeof out);
    wl::make_uid(proto, v, a, b, ns, tie, out);
    return std::string(out, std::strlen(out));
}

bool well_formed(const std::string& u) {
    if (u.size() != 18 || u[0] != 'C') return false;
    for (std::size_t i = 1; i < u.size(); ++i) {
        const char c = u[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
            return false;
    }
    return true;
}

constexpr std::uint64_t kT = 1795831693752940000ull;

}  // namespace

TEST_CASE("uid: the same connection, the same uid; either endpoint first", "[uid]") {
    const wl::Endpoint a = ep("198.18.0.1", 38000), b = ep("198.18.0.2", 5001);
    const std::string u = uid(6, 4, a, b, kT);
    CHECK(well_formed(u));
    CHECK(uid(6, 4, a, b, kT) == u);
    CHECK(uid(6, 4, b, a, kT) == u);  // the roles flipped (Zeek's '^')

    // Through a Connection record, whatever else it holds.
    wl::Connection c{};
    c.proto = 6;
    c.key.ip_version = 4;
    c.orig = b;
    c.resp = a;
    c.start_ns = kT;
    c.last_ns = kT + 5;
    c.tcp_stream = 9;
    c.side[0].pkts = 3;
    char out[19];
    wl::conn_uid(c, out);
    CHECK(std::string(out) == u);
}

TEST_CASE("uid: each input changes it", "[uid]") {
    const wl::Endpoint a = ep("198.18.0.1", 38000), b = ep("198.18.0.2", 5001);
    const std::string u = uid(6, 4, a, b, kT);
    std::set<std::string> all{u};
    const std::string others[] = {
        uid(6, 4, a, b, kT + 1),                                         // a nanosecond later
        uid(6, 4, a, b, kT - 1000),                                      // a microsecond earlier
        uid(6, 4, a, b, kT, 1),                                          // a tie's second
        uid(6, 4, a, b, kT, 2),                                          // and third
        uid(17, 4, a, b, kT),                                            // UDP
        uid(1, 4, a, b, kT),                                             // ICMP
        uid(6, 4, ep("198.18.0.1", 38001), b, kT),                       // another port
        uid(6, 4, a, ep("198.18.0.2", 5002), kT),                        // the other one's
        uid(6, 4, ep("198.18.0.3", 38000), b, kT),                       // another address
        uid(6, 4, ep("198.18.0.1", 5001), ep("198.18.0.2", 38000), kT),  // ports swapped
        uid(6, 6, a, b, kT),                                             // the same bytes as IPv6
        uid(6, 4, a, b, 0),                                              // no timestamp at all
    };
    for (const std::string& o : others) {
        CHECK(well_formed(o));
        CHECK(all.insert(o).second);
    }
}

TEST_CASE("uid: IPv6 endpoints, and no collision over many neighbours", "[uid]") {
    const wl::Endpoint a = ep("2001:db8::1", 443), b = ep("2001:db8::2", 50000);
    CHECK(uid(6, 6, a, b, 7) == uid(6, 6, b, a, 7));
    CHECK(well_formed(uid(58, 6, a, b, 7)));
    // Neighbouring inputs (ports, times, ties) spread over the whole space:
    // 200,000 of them, no two alike, and every character position takes
    // most of its 62 values.
    std::set<std::string> seen;
    std::set<char> at[18];
    for (std::uint16_t p = 0; p < 1000; ++p) {
        for (std::uint64_t t = 0; t < 100; ++t) {
            for (std::uint64_t tie = 0; tie < 2; ++tie) {
                const std::string u =
                    uid(17, 4, ep("10.0.0.1", static_cast<std::uint16_t>(1024 + p)),
                        ep("10.0.0.2", 53), t, tie);
                REQUIRE(seen.insert(u).second);
                for (std::size_t i = 0; i < u.size(); ++i)
                    at[i].insert(u[i]);
            }
        }
    }
    CHECK(seen.size() == 200000);
    for (std::size_t i = 1; i < 18; ++i)
        CHECK(at[i].size() == 62);
}
