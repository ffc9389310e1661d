// Who is the originator, as Zeek decides it: the likely_server_ports of its
// base scripts, the TCP and UDP analyzers' WantConnection (flip when the
// first packet comes from a server port to a port that is not one; TCP only
// without a SYN or with a SYN-ACK), NewConn's "never towards the broadcast
// address", ICMP keyed by (type, counterpart) with one-way messages keyed in
// their direction (Zeek's is_one_way), and ICMP errors counted against the
// connection they quote (icmp_errors: wirelens' own).
//
// Expected values come from Zeek's source (packet_analysis/protocol/udp/UDP.cc,
// tcp/TCP.cc, ip/IPBasedAnalyzer.cc, icmp/ICMP.cc, Conn.cc FlipRoles) and the
// script port sets, not from wirelens' output. Frames are crafted with libtins.
#include <tins/tins.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "decode/packet.hpp"
#include "flow/flow_tracker.hpp"
#include "flow/server_ports.hpp"

namespace {

using wl::Connection;
using wl::FlowTracker;

class Sink : public wl::ConnSink {
  public:
    void conn_ended(const Connection& c, wl::ConnEnd, const wl::LadderLog*) override {
        ended.push_back(c);
    }
    std::vector<Connection> ended;
};

std::string history(const Connection& c) {
    return std::string(c.history, c.history_len);
}

class Harness {
  public:
    Harness() : tracker({}, sink) {}

    void udp(const char* src, std::uint16_t sport, const char* dst, std::uint16_t dport,
             std::uint32_t len = 20) {
        Tins::UDP u(dport, sport);
        u /= Tins::RawPDU(std::vector<std::uint8_t>(len, 'u'));
        feed4(src, dst, u);
    }
    void tcp(const char* src, std::uint16_t sport, const char* dst, std::uint16_t dport,
             const char* flags, std::uint32_t seq, std::uint32_t ack = 0, std::uint32_t len = 0) {
        Tins::TCP t(dport, sport);
        for (const char* f = flags; *f != '\0'; ++f) {
            if (*f == 'S') t.set_flag(Tins::TCP::SYN, 1);
            if (*f == 'A') t.set_flag(Tins::TCP::ACK, 1);
            if (*f == 'F') t.set_flag(Tins::TCP::FIN, 1);
            if (*f == 'R') t.set_flag(Tins::TCP::RST, 1);
            if (*f == 'P') t.set_flag(Tins::TCP::PSH, 1);
        }
        t.seq(seq);
        t.ack_seq(ack);
        if (len != 0) t /= Tins::RawPDU(std::vector<std::uint8_t>(len, 'x'));
        feed4(src, dst, t);
    }
    void icmp(const char* src, const char* dst, Tins::ICMP::Flags type, std::uint8_t code = 0,
              const std::vector<std::uint8_t>& quote = {}) {
        Tins::ICMP m(type);
        m.code(code);
        if (type == Tins::ICMP::ECHO_REQUEST || type == Tins::ICMP::ECHO_REPLY) {
            m.id(7);
            m.sequence(1);
        }
        if (!quote.empty()) m /= Tins::RawPDU(quote);
        feed4(src, dst, m);
    }
    // An IPv4 header and 8 bytes of UDP or TCP, as a router quotes them.
    static std::vector<std::uint8_t> quote(const char* src, std::uint16_t sport, const char* dst,
                                           std::uint16_t dport, bool tcp) {
        Tins::IP ip(dst, src);
        std::vector<std::uint8_t> bytes;
        if (tcp) {
            Tins::TCP t(dport, sport);
            t.set_flag(Tins::TCP::SYN, 1);
            bytes = (ip / t).serialize();
        } else {
            Tins::UDP u(dport, sport);
            bytes = (ip / u / Tins::RawPDU(std::vector<std::uint8_t>(20, 'q'))).serialize();
        }
        bytes.resize(28);
        return bytes;
    }

    const std::vector<Connection>& finish() {
        tracker.flush();
        return sink.ended;
    }
    // The one ended connection of `proto` with `port` on either side.
    const Connection* find(std::uint8_t proto, std::uint16_t port) const {
        for (const Connection& c : sink.ended) {
            if (c.proto == proto && (c.orig.port == port || c.resp.port == port)) return &c;
        }
        return nullptr;
    }

    Sink sink;
    FlowTracker tracker;

  private:
    void feed4(const char* src, const char* dst, const Tins::PDU& l4) {
        Tins::EthernetII eth("02:00:00:00:00:02", "02:00:00:00:00:01");
        eth /= Tins::IP(dst, src);
        eth /= l4;
        const std::vector<std::uint8_t> bytes = eth.serialize();
        now_ += 1000000;  // 1 ms apart
        wl::Packet pkt;
        pkt.linktype = 1;
        pkt.ts_ns = now_;
        pkt.caplen = pkt.wire_len = static_cast<std::uint32_t>(bytes.size());
        wl::decode(wl::Bytes(bytes.data(), bytes.size()), pkt);
        REQUIRE(pkt.ip_version == 4);
        tracker.process(pkt);
    }
    std::uint64_t now_ = 1700000000ull * 1000000000ull;
};

constexpr std::uint8_t kTcp = wl::ipproto::kTcp;
constexpr std::uint8_t kUdp = wl::ipproto::kUdp;
constexpr std::uint8_t kIcmp = wl::ipproto::kIcmp;

}  // namespace

TEST_CASE("likely_server_port: Zeek's base-script port sets, TCP and UDP apart",
          "[flow][direction]") {
    // A sample of each script's set (server_ports.cpp lists them all).
    for (std::uint16_t p : {21, 22, 25, 53, 79, 80, 135, 139, 143, 443, 445, 502, 1883, 3389, 5222,
                            6379, 6667, 8080, 20000}) {
        CHECK(wl::likely_server_port(p, kTcp));
    }
    for (std::uint16_t p : {53, 67, 88, 123, 137, 161, 443, 514, 1812, 2152, 3389, 3544, 4789, 5060,
                            5072, 5353, 6081, 20000}) {
        CHECK(wl::likely_server_port(p, kUdp));
    }
    // Registered for an analyzer but never added to likely_server_ports.
    CHECK_FALSE(wl::likely_server_port(68, kUdp));    // dhcp client
    CHECK_FALSE(wl::likely_server_port(4011, kUdp));  // dhcp proxy
    CHECK_FALSE(wl::likely_server_port(3306, kTcp));  // mysql
    CHECK_FALSE(wl::likely_server_port(5432, kTcp));  // postgresql
    CHECK_FALSE(wl::likely_server_port(853, kUdp));   // quic
    // Per protocol: 67 is a UDP server port only, 25 a TCP one only.
    CHECK_FALSE(wl::likely_server_port(67, kTcp));
    CHECK_FALSE(wl::likely_server_port(25, kUdp));
    CHECK_FALSE(wl::likely_server_port(80, kIcmp));
    CHECK_FALSE(wl::likely_server_port(0, kTcp));
    CHECK_FALSE(wl::likely_server_port(65535, kUdp));
}

TEST_CASE("direction: a DHCP reply before its request", "[flow][direction]") {
    Harness h;
    SECTION("unicast to the client: the roles flip, SHR with ^ (Zeek's baseline)") {
        h.udp("10.0.0.1", 67, "10.0.0.5", 68, 300);
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        const Connection& c = ended[0];
        CHECK(c.flipped);
        CHECK(history(c) == "^d");
        CHECK(FlowTracker::conn_state(c) == std::string("SHR"));
        CHECK(c.orig.port == 68);
        CHECK(c.resp.port == 67);
    }
    SECTION("then the request: SF, the client the originator") {
        h.udp("10.0.0.1", 67, "10.0.0.5", 68, 300);
        h.udp("10.0.0.5", 68, "10.0.0.1", 67, 300);
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        CHECK(history(ended[0]) == "^dD");
        CHECK(FlowTracker::conn_state(ended[0]) == std::string("SF"));
    }
    SECTION("to the broadcast address: no flip (NewConn), S0") {
        h.udp("10.0.0.1", 67, "255.255.255.255", 68, 300);
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        CHECK_FALSE(ended[0].flipped);
        CHECK(history(ended[0]) == "D");
        CHECK(FlowTracker::conn_state(ended[0]) == std::string("S0"));
        CHECK(ended[0].orig.port == 67);
    }
    SECTION("the client's broadcast request: no flip") {
        h.udp("0.0.0.0", 68, "255.255.255.255", 67, 300);
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        CHECK_FALSE(ended[0].flipped);
        CHECK(ended[0].orig.port == 68);
    }
}

TEST_CASE("direction: UDP between two server ports, or two client ports, keeps the order",
          "[flow][direction]") {
    Harness h;
    h.udp("10.0.0.1", 53, "10.0.0.2", 5353);      // both likely server ports
    h.udp("10.0.0.1", 40000, "10.0.0.2", 40001);  // neither
    h.udp("10.0.0.1", 123, "10.0.0.2", 50123);    // NTP reply first: flips
    h.finish();
    const Connection* both = h.find(kUdp, 5353);
    const Connection* neither = h.find(kUdp, 40001);
    const Connection* ntp = h.find(kUdp, 50123);
    REQUIRE(both != nullptr);
    REQUIRE(neither != nullptr);
    REQUIRE(ntp != nullptr);
    CHECK_FALSE(both->flipped);
    CHECK_FALSE(neither->flipped);
    CHECK(ntp->flipped);
    CHECK(ntp->resp.port == 123);
}

TEST_CASE("direction: TCP first packets as Zeek's WantConnection flips them", "[flow][direction]") {
    Harness h;
    SECTION("a SYN-ACK from a port that is no server port: no flip, history H") {
        h.tcp("10.0.0.9", 5001, "10.0.0.2", 40000, "SA", 5000, 1001);
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        CHECK_FALSE(ended[0].flipped);
        CHECK(history(ended[0]) == "H");
        CHECK(ended[0].orig.port == 5001);
        CHECK(FlowTracker::conn_state(ended[0]) == std::string("OTH"));
    }
    SECTION("that SYN-ACK, then its SYN: the state machine's SYN/SYN-ACK reversal flips") {
        h.tcp("10.0.0.9", 5001, "10.0.0.2", 40000, "SA", 5000, 1001);
        h.tcp("10.0.0.2", 40000, "10.0.0.9", 5001, "S", 1000);
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        CHECK(ended[0].flipped);
        CHECK(history(ended[0]) == "Hs^");
        CHECK(ended[0].orig.port == 40000);
    }
    SECTION("a SYN-ACK from port 443: flips") {
        h.tcp("10.0.0.9", 443, "10.0.0.2", 40000, "SA", 5000, 1001);
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        CHECK(ended[0].flipped);
        CHECK(history(ended[0]) == "^h");
    }
    SECTION("a SYN-ACK between two server ports: no flip (stealth scans)") {
        h.tcp("10.0.0.9", 25, "10.0.0.2", 80, "SA", 5000, 1001);
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        CHECK_FALSE(ended[0].flipped);
    }
    SECTION("data between two server ports: the lower source port flips") {
        h.tcp("10.0.0.9", 25, "10.0.0.2", 80, "PA", 5000, 1001, 10);
        h.tcp("10.0.0.9", 443, "10.0.0.2", 80, "PA", 7000, 1001, 10);
        h.finish();
        const Connection* low = h.find(kTcp, 25);
        const Connection* high = h.find(kTcp, 443);
        REQUIRE(low != nullptr);
        REQUIRE(high != nullptr);
        CHECK(low->flipped);
        CHECK_FALSE(high->flipped);
    }
    SECTION("midstream from MySQL's port: not a likely server port, no flip") {
        h.tcp("10.0.0.9", 3306, "10.0.0.2", 40000, "PA", 5000, 1001, 10);
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        CHECK_FALSE(ended[0].flipped);
        CHECK(ended[0].orig.port == 3306);
    }
    SECTION("a SYN from a server port: never flipped") {
        h.tcp("10.0.0.9", 80, "10.0.0.2", 40000, "S", 5000);
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        CHECK_FALSE(ended[0].flipped);
    }
}

TEST_CASE("direction: ICMP is never flipped; one-way messages are keyed by direction",
          "[flow][direction]") {
    Harness h;
    SECTION("an echo reply first: the replier is the originator (type 0 -> 8)") {
        h.icmp("10.0.0.9", "10.0.0.2", Tins::ICMP::ECHO_REPLY);
        h.icmp("10.0.0.2", "10.0.0.9", Tins::ICMP::ECHO_REQUEST);
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        CHECK_FALSE(ended[0].flipped);
        CHECK(ended[0].orig.port == 0);
        CHECK(ended[0].resp.port == 8);
        CHECK(ended[0].side[0].pkts == 1);
        CHECK(ended[0].side[1].pkts == 1);
    }
    SECTION("the same unreachable both ways: two connections") {
        const auto q1 = Harness::quote("10.0.0.2", 40000, "10.0.0.9", 7, false);
        const auto q2 = Harness::quote("10.0.0.9", 40000, "10.0.0.2", 7, false);
        h.icmp("10.0.0.9", "10.0.0.2", Tins::ICMP::DEST_UNREACHABLE, 3, q1);
        h.icmp("10.0.0.2", "10.0.0.9", Tins::ICMP::DEST_UNREACHABLE, 3, q2);
        h.icmp("10.0.0.9", "10.0.0.2", Tins::ICMP::DEST_UNREACHABLE, 3, q1);
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 2);
        for (const Connection& c : ended) {
            CHECK(c.orig.port == 3);
            CHECK(c.resp.port == 3);
            CHECK(c.side[1].pkts == 0);
        }
        CHECK(ended[0].side[0].pkts + ended[1].side[0].pkts == 3);
    }
}

TEST_CASE("icmp_errors: an error counts against the connection it quotes", "[flow][direction]") {
    Harness h;
    h.tcp("10.0.0.2", 40000, "10.0.0.9", 25, "S", 1000);
    h.udp("10.0.0.2", 40001, "10.0.0.9", 53);
    h.tcp("10.0.0.2", 40002, "10.0.0.9", 80, "S", 1000);  // quoted by nobody
    // From a router: need-to-frag for the SYN (twice), port unreachable for the query.
    const auto syn = Harness::quote("10.0.0.2", 40000, "10.0.0.9", 25, true);
    h.icmp("10.0.0.1", "10.0.0.2", Tins::ICMP::DEST_UNREACHABLE, 4, syn);
    h.icmp("10.0.0.1", "10.0.0.2", Tins::ICMP::DEST_UNREACHABLE, 4, syn);
    h.icmp("10.0.0.9", "10.0.0.2", Tins::ICMP::DEST_UNREACHABLE, 3,
           Harness::quote("10.0.0.2", 40001, "10.0.0.9", 53, false));
    // Quoting a connection never seen: counted nowhere.
    h.icmp("10.0.0.1", "10.0.0.2", Tins::ICMP::TIME_EXCEEDED, 0,
           Harness::quote("10.0.0.2", 40009, "10.0.0.7", 25, true));
    h.finish();
    const Connection* smtp = h.find(kTcp, 25);
    const Connection* dns = h.find(kUdp, 53);
    const Connection* web = h.find(kTcp, 80);
    REQUIRE(smtp != nullptr);
    REQUIRE(dns != nullptr);
    REQUIRE(web != nullptr);
    CHECK(smtp->icmp_errors == 2);
    CHECK(dns->icmp_errors == 1);
    CHECK(web->icmp_errors == 0);
    // Each error is an ICMP "connection" of its own as well, by (type, code)
    // and direction: 3/4 router, 3/3 server, 11/0 router.
    int icmp_conns = 0;
    for (const Connection& c : h.sink.ended) {
        if (c.proto != kIcmp) continue;
        ++icmp_conns;
        CHECK(c.icmp_errors == 0);
    }
    CHECK(icmp_conns == 3);
    CHECK(h.tracker.counters().icmp_errors_matched == 3);
}
