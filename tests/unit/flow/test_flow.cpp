// The flow stage against Zeek's conn.log semantics: traffic crafted with
// libtins, decoded with wl::decode, fed to a FlowTracker; each ended
// connection is checked for what Zeek would log (conn_state, history, packet
// and byte counts) and for wirelens' own fields (teardown, end reason,
// retransmission and gap counters, the ladder log).
//
// Expected values are derived from Zeek's TCP analyzer (TCPSessionAdapter,
// TCP_Endpoint) and conn/main.zeek's conn_state(), not from wirelens' output.
// Every IPv4 TCP packet here has a 20-byte IP and a 20-byte TCP header, so its
// IP length is 40 + payload (IPv6: 60 + payload; UDP over IPv4: 28 + payload).
#include <tins/tins.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "decode/packet.hpp"
#include "flow/flow_tracker.hpp"
#include "flow/tcp_reassembler.hpp"

namespace {

using wl::Connection;
using wl::ConnEnd;
using wl::FlowOptions;
using wl::FlowTracker;
using wl::Teardown;

constexpr int O = 0;  // client -> server (the originator, unless roles flip)
constexpr int R = 1;  // server -> client

constexpr std::uint32_t I = 1000;  // client ISN
constexpr std::uint32_t J = 5000;  // server ISN

constexpr std::uint64_t kTcp4 = 40;  // IPv4 + TCP headers
constexpr std::uint64_t kTcp6 = 60;  // IPv6 + TCP headers
constexpr std::uint64_t kUdp4 = 28;  // IPv4 + UDP headers

struct Host {
    const char* addr;
    std::uint16_t port;
};

struct Hosts {
    Host client, server;
    bool v6;
};

const Hosts kV4{{"198.18.0.1", 40000}, {"198.19.0.2", 5001}, false};
const Hosts kV6{{"fd00::1", 40000}, {"fd00::2", 5001}, true};

// One TCP segment of a trace. `t` < 0: 1 ms after the previous packet.
struct Seg {
    int dir;
    const char* flags;  // S A F R P: SYN ACK FIN RST PSH
    std::uint32_t seq = 0;
    std::uint32_t ack = 0;
    std::uint32_t len = 0;
    double t = -1;
    std::uint16_t win = 8192;
    std::uint16_t cport = 0;  // client port, 0: the default
    std::uint16_t sport = 0;  // server port, 0: the default
    bool bad_checksum = false;
};

struct Ended {
    Connection c;
    ConnEnd why;
    bool has_ladder = false;
    wl::LadderLog ladder{};
};

class CollectingSink : public wl::ConnSink {
  public:
    void conn_ended(const Connection& c, ConnEnd why, const wl::LadderLog* ladder) override {
        Ended e{c, why, ladder != nullptr, {}};
        if (ladder != nullptr) e.ladder = *ladder;
        ended.push_back(e);
    }
    std::vector<Ended> ended;
};

std::string history(const Connection& c) {
    return std::string(c.history, c.history_len);
}

std::string state(const Connection& c) {
    return FlowTracker::conn_state(c);
}

// Crafts frames, decodes them and feeds them to one FlowTracker.
class Harness {
  public:
    explicit Harness(const FlowOptions& opts = {}, const Hosts& hosts = kV4)
        : hosts_(hosts), tracker(opts, sink) {}

    void tcp(const Seg& s) {
        const Host c{hosts_.client.addr, s.cport != 0 ? s.cport : hosts_.client.port};
        const Host v{hosts_.server.addr, s.sport != 0 ? s.sport : hosts_.server.port};
        const Host& src = s.dir == O ? c : v;
        const Host& dst = s.dir == O ? v : c;
        Tins::TCP tcp(dst.port, src.port);
        for (const char* f = s.flags; *f != '\0'; ++f) {
            switch (*f) {
                case 'S':
                    tcp.set_flag(Tins::TCP::SYN, 1);
                    break;
                case 'A':
                    tcp.set_flag(Tins::TCP::ACK, 1);
                    break;
                case 'F':
                    tcp.set_flag(Tins::TCP::FIN, 1);
                    break;
                case 'R':
                    tcp.set_flag(Tins::TCP::RST, 1);
                    break;
                case 'P':
                    tcp.set_flag(Tins::TCP::PSH, 1);
                    break;
                default:
                    FAIL("unknown flag letter");
            }
        }
        tcp.seq(s.seq);
        tcp.ack_seq(s.ack);
        tcp.window(s.win);
        if (s.len != 0) tcp /= Tins::RawPDU(std::vector<std::uint8_t>(s.len, 'x'));
        std::vector<std::uint8_t> bytes = frame(src, dst, tcp);
        if (s.bad_checksum) {
            const std::size_t ip_len = hosts_.v6 ? 40 : 20;
            bytes.at(14 + ip_len + 16) ^= 0xff;  // the TCP checksum
        }
        feed(bytes, s.t);
    }
    void tcp(std::initializer_list<Seg> segs) {
        for (const Seg& s : segs)
            tcp(s);
    }

    void udp(int dir, std::uint32_t len, double t = -1, std::uint16_t server_port = 0) {
        const Host c = hosts_.client;
        const Host v{hosts_.server.addr, server_port != 0 ? server_port : hosts_.server.port};
        const Host& src = dir == O ? c : v;
        const Host& dst = dir == O ? v : c;
        Tins::UDP udp(dst.port, src.port);
        if (len != 0) udp /= Tins::RawPDU(std::vector<std::uint8_t>(len, 'u'));
        feed(frame(src, dst, udp), t);
    }

    void icmp_echo(int dir, std::uint32_t len, double t = -1) {
        const Host& src = dir == O ? hosts_.client : hosts_.server;
        const Host& dst = dir == O ? hosts_.server : hosts_.client;
        const std::vector<std::uint8_t> payload(len, 'p');
        if (hosts_.v6) {
            Tins::ICMPv6 m(dir == O ? Tins::ICMPv6::ECHO_REQUEST : Tins::ICMPv6::ECHO_REPLY);
            m.identifier(7);
            m.sequence(1);
            if (len != 0) m /= Tins::RawPDU(payload);
            feed(frame(src, dst, m), t);
        } else {
            Tins::ICMP m(dir == O ? Tins::ICMP::ECHO_REQUEST : Tins::ICMP::ECHO_REPLY);
            m.id(7);
            m.sequence(1);
            if (len != 0) m /= Tins::RawPDU(payload);
            feed(frame(src, dst, m), t);
        }
    }

    const std::vector<Ended>& finish() {
        tracker.flush();
        return sink.ended;
    }

    bool verify_checksums = false;
    double now = 0;  // seconds, of the last packet fed

  private:
    std::vector<std::uint8_t> frame(const Host& src, const Host& dst, const Tins::PDU& l4) const {
        Tins::EthernetII eth(
            hosts_.client.addr == src.addr ? "02:00:00:00:00:02" : "02:00:00:00:00:01",
            hosts_.client.addr == src.addr ? "02:00:00:00:00:01" : "02:00:00:00:00:02");
        if (hosts_.v6) {
            eth /= Tins::IPv6(dst.addr, src.addr);
        } else {
            eth /= Tins::IP(dst.addr, src.addr);
        }
        eth /= l4;
        return eth.serialize();
    }

    void feed(const std::vector<std::uint8_t>& bytes, double t) {
        now = t >= 0 ? t : now + 0.001;
        wl::Packet pkt;
        pkt.linktype = 1;
        pkt.ts_ns = static_cast<std::uint64_t>(now * 1e9 + 0.5);
        pkt.caplen = static_cast<std::uint32_t>(bytes.size());
        pkt.wire_len = pkt.caplen;
        wl::decode(wl::Bytes(bytes.data(), bytes.size()), pkt,
                   wl::DecodeOptions{.verify_checksums = verify_checksums});
        REQUIRE(pkt.has(wl::Layer::Ethernet));
        tracker.process(pkt);
    }

    Hosts hosts_;

  public:
    CollectingSink sink;
    FlowTracker tracker;
};

// What Zeek's conn.log would say: conn_state, history, and per side packets,
// IP bytes and payload bytes.
// IP and payload bytes and packets not given are zero.
struct Expect {
    const char* conn_state;
    const char* history;
    std::uint64_t orig_pkts = 0, orig_ip_bytes = 0, orig_bytes = 0;
    std::uint64_t resp_pkts = 0, resp_ip_bytes = 0, resp_bytes = 0;
};

void check(const Connection& c, const Expect& e) {
    INFO("history " << history(c) << ", conn_state " << state(c));
    CHECK(state(c) == e.conn_state);
    CHECK(history(c) == e.history);
    CHECK(c.side[0].pkts == e.orig_pkts);
    CHECK(c.side[0].ip_bytes == e.orig_ip_bytes);
    CHECK(FlowTracker::payload_bytes(c, 0) == e.orig_bytes);
    CHECK(c.side[1].pkts == e.resp_pkts);
    CHECK(c.side[1].ip_bytes == e.resp_ip_bytes);
    CHECK(FlowTracker::payload_bytes(c, 1) == e.resp_bytes);
}

// Handshake, 100 bytes up, 200 down, four-way close.
void normal_session(Harness& h, std::uint32_t isn = I, double t0 = 0) {
    h.tcp({{O, "S", isn, 0, 0, t0},
           {R, "SA", J, isn + 1},
           {O, "A", isn + 1, J + 1},
           {O, "PA", isn + 1, J + 1, 100},
           {R, "A", J + 1, isn + 101},
           {R, "PA", J + 1, isn + 101, 200},
           {O, "FA", isn + 101, J + 201},
           {R, "FA", J + 201, isn + 102},
           {O, "A", isn + 102, J + 202}});
}

// Handshake only: S, SA, A.
void handshake(Harness& h, double t0 = 0) {
    h.tcp({{O, "S", I, 0, 0, t0}, {R, "SA", J, I + 1}, {O, "A", I + 1, J + 1}});
}

// A segment of the client on port `cport` (the eviction tests' many connections).
Seg on_port(Seg s, std::uint16_t cport) {
    s.cport = cport;
    return s;
}
// The client's SYN from `cport`; the server's answer to it and the client's ACK.
void syn_from(Harness& h, std::uint16_t cport) {
    h.tcp(on_port({O, "S", I}, cport));
}
void answer(Harness& h, std::uint16_t cport) {
    h.tcp({on_port({R, "SA", J, I + 1}, cport), on_port({O, "A", I + 1, J + 1}, cport)});
}

}  // namespace

// ---------------------------------------------------------------- SF and every conn_state

TEST_CASE("flow: a normal TCP session is SF ShADadFf", "[flow]") {
    Harness h;
    normal_session(h);
    const auto& ended = h.finish();
    REQUIRE(ended.size() == 1);
    const Connection& c = ended[0].c;
    check(c, {.conn_state = "SF",
              .history = "ShADadFf",
              .orig_pkts = 5,
              .orig_ip_bytes = 5 * kTcp4 + 100,
              .orig_bytes = 100,
              .resp_pkts = 4,
              .resp_ip_bytes = 4 * kTcp4 + 200,
              .resp_bytes = 200});
    CHECK(FlowTracker::teardown(c) == Teardown::Fin);
    CHECK(ended[0].why == ConnEnd::Closed);
    CHECK_FALSE(c.flipped);
    CHECK(c.orig.port == 40000);
    CHECK(c.resp.port == 5001);
    CHECK(c.proto == wl::ipproto::kTcp);
    CHECK(c.side[0].tcp.data_not_advancing == 0);
    CHECK(c.side[1].tcp.data_not_advancing == 0);
    CHECK(c.side[0].tcp.missed_bytes + c.side[1].tcp.missed_bytes == 0);
    CHECK(c.start_ns == 0);
    CHECK(c.syn_ns == 0);
    CHECK(c.synack_ns == 1000000);
    CHECK(c.ack_ns == 2000000);
    CHECK(h.tracker.counters().conns_created == 1);
    CHECK(h.tracker.counters().conns_ended == 1);
    CHECK(h.tracker.open() == 0);
}

TEST_CASE("flow: S0, an unanswered SYN", "[flow]") {
    Harness h;
    SECTION("one SYN") {
        h.tcp({O, "S", I});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        check(ended[0].c,
              {.conn_state = "S0", .history = "S", .orig_pkts = 1, .orig_ip_bytes = kTcp4});
        CHECK(ended[0].why == ConnEnd::EndOfInput);
        CHECK(FlowTracker::teardown(ended[0].c) == Teardown::None);
    }
    SECTION("a retransmitted SYN (same seq) stays one 'S'") {
        h.tcp({{O, "S", I}, {O, "S", I, 0, 0, 1.0}, {O, "S", I, 0, 0, 3.0}});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        check(ended[0].c,
              {.conn_state = "S0", .history = "S", .orig_pkts = 3, .orig_ip_bytes = 3 * kTcp4});
    }
}

TEST_CASE("flow: REJ, a SYN answered by RST-ACK", "[flow]") {
    Harness h;
    h.tcp({{O, "S", I}, {R, "RA", 0, I + 1}});
    const auto& ended = h.finish();
    REQUIRE(ended.size() == 1);
    const Connection& c = ended[0].c;
    check(c, {.conn_state = "REJ",
              .history = "Sr",
              .orig_pkts = 1,
              .orig_ip_bytes = kTcp4,
              .resp_pkts = 1,
              .resp_ip_bytes = kTcp4});
    CHECK(FlowTracker::teardown(c) == Teardown::ResetResp);
    CHECK(ended[0].why == ConnEnd::Closed);
}

TEST_CASE("flow: RSTOS0, the originator resets its own unanswered SYN", "[flow]") {
    Harness h;
    h.tcp({{O, "S", I}, {O, "R", I + 1}});
    const auto& ended = h.finish();
    REQUIRE(ended.size() == 1);
    check(ended[0].c,
          {.conn_state = "RSTOS0", .history = "SR", .orig_pkts = 2, .orig_ip_bytes = 2 * kTcp4});
    CHECK(FlowTracker::teardown(ended[0].c) == Teardown::ResetOrig);
}

TEST_CASE("flow: RSTO and RSTR, an established connection reset", "[flow]") {
    Harness h;
    handshake(h);
    SECTION("by the originator") {
        h.tcp({{O, "PA", I + 1, J + 1, 10}, {O, "R", I + 11}});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        const Connection& c = ended[0].c;
        check(c, {.conn_state = "RSTO",
                  .history = "ShADR",
                  .orig_pkts = 4,
                  .orig_ip_bytes = 4 * kTcp4 + 10,
                  .orig_bytes = 10,
                  .resp_pkts = 1,
                  .resp_ip_bytes = kTcp4});
        CHECK(FlowTracker::teardown(c) == Teardown::ResetOrig);
        CHECK(ended[0].why == ConnEnd::Closed);
    }
    SECTION("by the responder") {
        h.tcp({{R, "PA", J + 1, I + 1, 20}, {R, "R", J + 21}});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        const Connection& c = ended[0].c;
        check(c, {.conn_state = "RSTR",
                  .history = "ShAdr",
                  .orig_pkts = 2,
                  .orig_ip_bytes = 2 * kTcp4,
                  .resp_pkts = 3,
                  .resp_ip_bytes = 3 * kTcp4 + 20,
                  .resp_bytes = 20});
        CHECK(FlowTracker::teardown(c) == Teardown::ResetResp);
    }
}

TEST_CASE("flow: RSTRH, a SYN-ACK from the server port then its RST, no SYN seen", "[flow]") {
    Harness h;
    h.tcp({{R, "SA", J, I + 1, 0, 0, 8192, 0, 80}, {R, "R", J + 1, 0, 0, -1, 8192, 0, 80}});
    const auto& ended = h.finish();
    REQUIRE(ended.size() == 1);
    const Connection& c = ended[0].c;
    check(c, {.conn_state = "RSTRH", .history = "^hr", .resp_pkts = 2, .resp_ip_bytes = 2 * kTcp4});
    CHECK(c.flipped);
    CHECK(c.orig.port == 40000);
    CHECK(c.resp.port == 80);
    CHECK(FlowTracker::teardown(c) == Teardown::ResetResp);
}

TEST_CASE("flow: SH, a SYN then a FIN with no SYN-ACK", "[flow]") {
    Harness h;
    h.tcp({{O, "S", I}, {O, "F", I + 1}});
    const auto& ended = h.finish();
    REQUIRE(ended.size() == 1);
    check(ended[0].c,
          {.conn_state = "SH", .history = "SF", .orig_pkts = 2, .orig_ip_bytes = 2 * kTcp4});
    CHECK(FlowTracker::teardown(ended[0].c) == Teardown::HalfClosed);
}

TEST_CASE("flow: SHR, a SYN-ACK then a FIN from the responder, no SYN", "[flow]") {
    Harness h;
    h.tcp({{R, "SA", J, I + 1, 0, 0, 8192, 0, 80}, {R, "FA", J + 1, I + 1, 0, -1, 8192, 0, 80}});
    const auto& ended = h.finish();
    REQUIRE(ended.size() == 1);
    const Connection& c = ended[0].c;
    check(c, {.conn_state = "SHR", .history = "^hf", .resp_pkts = 2, .resp_ip_bytes = 2 * kTcp4});
    CHECK(c.flipped);
    CHECK(FlowTracker::teardown(c) == Teardown::HalfClosed);
}

TEST_CASE("flow: S1, S2 and S3", "[flow]") {
    Harness h;
    handshake(h);
    SECTION("S1: established, not closed") {
        h.tcp({{O, "PA", I + 1, J + 1, 50}, {R, "PA", J + 1, I + 51, 60}});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        const Connection& c = ended[0].c;
        check(c, {.conn_state = "S1",
                  .history = "ShADd",
                  .orig_pkts = 3,
                  .orig_ip_bytes = 3 * kTcp4 + 50,
                  .orig_bytes = 50,
                  .resp_pkts = 2,
                  .resp_ip_bytes = 2 * kTcp4 + 60,
                  .resp_bytes = 60});
        CHECK(FlowTracker::teardown(c) == Teardown::None);
        CHECK(ended[0].why == ConnEnd::EndOfInput);
    }
    SECTION("S2: only the originator closes") {
        h.tcp({{O, "FA", I + 1, J + 1}, {R, "A", J + 1, I + 2}});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        const Connection& c = ended[0].c;
        check(c, {.conn_state = "S2",
                  .history = "ShAFa",
                  .orig_pkts = 3,
                  .orig_ip_bytes = 3 * kTcp4,
                  .resp_pkts = 2,
                  .resp_ip_bytes = 2 * kTcp4});
        CHECK(FlowTracker::teardown(c) == Teardown::HalfClosed);
        CHECK(ended[0].why == ConnEnd::EndOfInput);
    }
    SECTION("S3: only the responder closes") {
        h.tcp({{R, "FA", J + 1, I + 1}, {O, "A", I + 1, J + 2}});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        const Connection& c = ended[0].c;
        check(c, {.conn_state = "S3",
                  .history = "ShAf",
                  .orig_pkts = 3,
                  .orig_ip_bytes = 3 * kTcp4,
                  .resp_pkts = 2,
                  .resp_ip_bytes = 2 * kTcp4});
        CHECK(FlowTracker::teardown(c) == Teardown::HalfClosed);
    }
}

TEST_CASE("flow: OTH, a connection picked up midstream", "[flow]") {
    SECTION("first packet from the client port: no flip") {
        Harness h;
        h.tcp({{O, "PA", 2000, 7000, 100}, {R, "PA", 7000, 2100, 50}, {O, "A", 2100, 7050}});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        const Connection& c = ended[0].c;
        check(c, {.conn_state = "OTH",
                  .history = "DdA",
                  .orig_pkts = 2,
                  .orig_ip_bytes = 2 * kTcp4 + 100,
                  .orig_bytes = 100,
                  .resp_pkts = 1,
                  .resp_ip_bytes = kTcp4 + 50,
                  .resp_bytes = 50});
        CHECK_FALSE(c.flipped);
        CHECK(c.orig.port == 40000);
    }
    SECTION("first packet from port 80: the roles flip") {
        Harness h;
        h.tcp({{R, "PA", 7000, 2000, 50, 0, 8192, 0, 80},
               {O, "PA", 2000, 7050, 100, -1, 8192, 0, 80},
               {R, "A", 7050, 2100, 0, -1, 8192, 0, 80}});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        const Connection& c = ended[0].c;
        check(c, {.conn_state = "OTH",
                  .history = "^dDa",
                  .orig_pkts = 1,
                  .orig_ip_bytes = kTcp4 + 100,
                  .orig_bytes = 100,
                  .resp_pkts = 2,
                  .resp_ip_bytes = 2 * kTcp4 + 50,
                  .resp_bytes = 50});
        CHECK(c.flipped);
        CHECK(c.orig.port == 40000);
        CHECK(c.resp.port == 80);
    }
}

TEST_CASE("flow: UDP conn_state", "[flow]") {
    Harness h;
    SECTION("S0: one way") {
        h.udp(O, 30);
        h.udp(O, 30);
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        check(ended[0].c, {.conn_state = "S0",
                           .history = "D",
                           .orig_pkts = 2,
                           .orig_ip_bytes = 2 * (kUdp4 + 30),
                           .orig_bytes = 60});
        CHECK(ended[0].c.proto == wl::ipproto::kUdp);
    }
    SECTION("SF: request and response") {
        h.udp(O, 30);
        h.udp(R, 70);
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        check(ended[0].c, {.conn_state = "SF",
                           .history = "Dd",
                           .orig_pkts = 1,
                           .orig_ip_bytes = kUdp4 + 30,
                           .orig_bytes = 30,
                           .resp_pkts = 1,
                           .resp_ip_bytes = kUdp4 + 70,
                           .resp_bytes = 70});
    }
    SECTION("SHR: only the server (port 53) speaks; the roles flip") {
        h.udp(R, 100, -1, 53);
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        const Connection& c = ended[0].c;
        check(c, {.conn_state = "SHR",
                  .history = "^d",
                  .resp_pkts = 1,
                  .resp_ip_bytes = kUdp4 + 100,
                  .resp_bytes = 100});
        CHECK(c.flipped);
        CHECK(c.orig.port == 40000);
        CHECK(c.resp.port == 53);
    }
}

// ---------------------------------------------------------------- history letters

TEST_CASE("flow: retransmitted data is 't' (T for the originator)", "[flow]") {
    Harness h;
    handshake(h);
    SECTION("originator") {
        h.tcp({{O, "PA", I + 1, J + 1, 100}, {O, "PA", I + 1, J + 1, 100}});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        const Connection& c = ended[0].c;
        check(c, {.conn_state = "S1",
                  .history = "ShADT",
                  .orig_pkts = 4,
                  .orig_ip_bytes = 4 * kTcp4 + 200,
                  .orig_bytes = 100,
                  .resp_pkts = 1,
                  .resp_ip_bytes = kTcp4});
        CHECK(c.side[0].tcp.data_not_advancing == 1);
        CHECK(c.side[0].tcp.out_of_order == 0);
        CHECK(c.side[0].tcp.retransmits == 1);
    }
    SECTION("responder") {
        h.tcp({{R, "PA", J + 1, I + 1, 80}, {R, "PA", J + 1, I + 1, 80}});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        const Connection& c = ended[0].c;
        check(c, {.conn_state = "S1",
                  .history = "ShAdt",
                  .orig_pkts = 2,
                  .orig_ip_bytes = 2 * kTcp4,
                  .resp_pkts = 3,
                  .resp_ip_bytes = 3 * kTcp4 + 160,
                  .resp_bytes = 80});
        CHECK(c.side[1].tcp.data_not_advancing == 1);
    }
}

TEST_CASE("flow: 't', 'c', 'g' and 'w' are logarithmic", "[flow]") {
    Harness h;
    handshake(h);
    h.tcp({O, "PA", I + 1, J + 1, 100});
    int n = 0;
    std::string want;
    SECTION("9 retransmissions: one T") {
        n = 9;
        want = "ShADT";
    }
    SECTION("10 retransmissions: T at the 1st and the 10th") {
        n = 10;
        want = "ShADTT";
    }
    SECTION("100 retransmissions: three") {
        n = 100;
        want = "ShADTTT";
    }
    for (int i = 0; i < n; ++i)
        h.tcp({O, "PA", I + 1, J + 1, 100});
    const auto& ended = h.finish();
    REQUIRE(ended.size() == 1);
    const Connection& c = ended[0].c;
    const auto pkts = static_cast<std::uint64_t>(3 + n);
    check(c, {.conn_state = "S1",
              .history = want.c_str(),
              .orig_pkts = pkts,
              .orig_ip_bytes = pkts * kTcp4 + 100 * (1 + n),
              .orig_bytes = 100,
              .resp_pkts = 1,
              .resp_ip_bytes = kTcp4});
    CHECK(c.side[0].tcp.data_not_advancing == static_cast<std::uint32_t>(n));
}

TEST_CASE("flow: 'g', the peer acknowledges data never seen", "[flow]") {
    Harness h;
    handshake(h);
    SECTION("the responder's 200 bytes missed: g, and resp_bytes counts them") {
        h.tcp({O, "A", I + 1, J + 201});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        const Connection& c = ended[0].c;
        check(c, {.conn_state = "S1",
                  .history = "ShAg",
                  .orig_pkts = 3,
                  .orig_ip_bytes = 3 * kTcp4,
                  .resp_pkts = 1,
                  .resp_ip_bytes = kTcp4,
                  .resp_bytes = 200});
        CHECK(c.side[1].tcp.missed_bytes == 200);
        CHECK(c.side[0].tcp.missed_bytes == 0);
        CHECK(c.side[1].tcp.gaps == 1);
    }
    SECTION("a hole in the originator's stream, acknowledged: G") {
        h.tcp({{O, "PA", I + 1, J + 1, 100},
               {O, "PA", I + 201, J + 1, 100},  // 101..201 never seen
               {R, "A", J + 1, I + 301}});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        const Connection& c = ended[0].c;
        check(c, {.conn_state = "S1",
                  .history = "ShADaG",
                  .orig_pkts = 4,
                  .orig_ip_bytes = 4 * kTcp4 + 200,
                  .orig_bytes = 300,
                  .resp_pkts = 2,
                  .resp_ip_bytes = 2 * kTcp4});
        CHECK(c.side[0].tcp.missed_bytes == 100);
        CHECK(c.side[0].tcp.data_not_advancing == 0);
    }
}

TEST_CASE("flow: 'g' only while both sides are cleanly established or closing", "[flow]") {
    // Zeek's TCP_Reassembler::Gap raises content_gap (missed_bytes) and adds
    // the letter only when both endpoints are ESTABLISHED or CLOSED after
    // ESTABLISHED; capture_loss_bytes counts the bytes in every state.
    SECTION("a FIN that reveals a gap: the closing side is still clean") {
        Harness h;
        handshake(h);
        h.tcp({{O, "PA", I + 1, J + 1, 100}, {R, "FA", J + 1, I + 201}});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        const Connection& c = ended[0].c;
        check(c, {.conn_state = "S3",
                  .history = "ShADfG",
                  .orig_pkts = 3,
                  .orig_ip_bytes = 3 * kTcp4 + 100,
                  .orig_bytes = 200,
                  .resp_pkts = 2,
                  .resp_ip_bytes = 2 * kTcp4});
        CHECK(c.side[0].tcp.missed_bytes == 100);
    }
    SECTION("a RST that reveals a gap: no letter") {
        Harness h;
        handshake(h);
        h.tcp({{O, "PA", I + 1, J + 1, 100}, {R, "RA", J + 1, I + 201}});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        CHECK(history(ended[0].c) == "ShADr");
        // Nor missed_bytes; and a RST's ack is not trusted for capture loss.
        CHECK(ended[0].c.side[0].tcp.missed_bytes == 0);
        CHECK(ended[0].c.side[0].tcp.capture_loss_bytes == 0);
    }
    SECTION("a connection picked up midstream (partial): no letter") {
        Harness h;
        h.tcp({{O, "PA", 2000, 7000, 100},
               {O, "PA", 2200, 7000, 100},  // 2100..2200 never seen
               {R, "A", 7000, 2300}});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        const Connection& c = ended[0].c;
        check(c, {.conn_state = "OTH",
                  .history = "Da",
                  .orig_pkts = 2,
                  .orig_ip_bytes = 2 * kTcp4 + 200,
                  .orig_bytes = 300,
                  .resp_pkts = 1,
                  .resp_ip_bytes = kTcp4});
        CHECK(c.side[0].tcp.missed_bytes == 0);
        CHECK(c.side[0].tcp.capture_loss_bytes == 100);
    }
}

TEST_CASE("flow: 'w', a zero window", "[flow]") {
    Harness h;
    handshake(h);
    h.tcp({{R, "A", J + 1, I + 1, 0, -1, 0}, {O, "A", I + 1, J + 1, 0, -1, 0}});
    const auto& ended = h.finish();
    REQUIRE(ended.size() == 1);
    const Connection& c = ended[0].c;
    check(c, {.conn_state = "S1",
              .history = "ShAawW",
              .orig_pkts = 3,
              .orig_ip_bytes = 3 * kTcp4,
              .resp_pkts = 2,
              .resp_ip_bytes = 2 * kTcp4});
    CHECK(c.side[1].tcp.zero_windows == 1);
    CHECK(c.side[0].tcp.zero_windows == 1);
}

TEST_CASE("flow: 'i' (FIN+RST) and 'q' (SYN+FIN)", "[flow]") {
    Harness h;
    SECTION("FIN and RST in one packet") {
        handshake(h);
        h.tcp({O, "FRA", I + 1, J + 1});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        const Connection& c = ended[0].c;
        check(c, {.conn_state = "RSTO",
                  .history = "ShAI",
                  .orig_pkts = 3,
                  .orig_ip_bytes = 3 * kTcp4,
                  .resp_pkts = 1,
                  .resp_ip_bytes = kTcp4});
        CHECK(FlowTracker::teardown(c) == Teardown::ResetOrig);
    }
    SECTION("responder FIN+RST") {
        handshake(h);
        h.tcp({R, "FRA", J + 1, I + 1});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        check(ended[0].c, {.conn_state = "RSTR",
                           .history = "ShAi",
                           .orig_pkts = 2,
                           .orig_ip_bytes = 2 * kTcp4,
                           .resp_pkts = 2,
                           .resp_ip_bytes = 2 * kTcp4});
    }
    SECTION("SYN and FIN in one packet") {
        h.tcp({O, "SF", I});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        check(ended[0].c,
              {.conn_state = "SH", .history = "Q", .orig_pkts = 1, .orig_ip_bytes = kTcp4});
    }
}

TEST_CASE("flow: 'c', a bad TCP checksum is counted in history only", "[flow]") {
    Harness h;
    h.verify_checksums = true;
    handshake(h);
    Seg bad{O, "PA", I + 1, J + 1, 100};
    bad.bad_checksum = true;
    Seg bad_resp{R, "PA", J + 1, I + 101, 40};
    bad_resp.bad_checksum = true;
    h.tcp({bad, {O, "PA", I + 1, J + 1, 100}, bad_resp});
    const auto& ended = h.finish();
    REQUIRE(ended.size() == 1);
    const Connection& c = ended[0].c;
    // The corrupt packets are neither counted nor analysed.
    check(c, {.conn_state = "S1",
              .history = "ShACDc",
              .orig_pkts = 3,
              .orig_ip_bytes = 3 * kTcp4 + 100,
              .orig_bytes = 100,
              .resp_pkts = 1,
              .resp_ip_bytes = kTcp4});
    CHECK(c.side[0].tcp.checksum_errors == 1);
    CHECK(c.side[1].tcp.checksum_errors == 1);
    CHECK(c.side[0].tcp.data_not_advancing == 0);
}

TEST_CASE("flow: S, H, F and R recur only when the sequence number changes", "[flow]") {
    Harness h;
    SECTION("pure ACKs give one 'A' per direction") {
        handshake(h);
        for (int i = 0; i < 20; ++i)
            h.tcp({{O, "A", I + 1, J + 1}, {R, "A", J + 1, I + 1}});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        check(ended[0].c, {.conn_state = "S1",
                           .history = "ShAa",
                           .orig_pkts = 22,
                           .orig_ip_bytes = 22 * kTcp4,
                           .resp_pkts = 21,
                           .resp_ip_bytes = 21 * kTcp4});
    }
    SECTION("a retransmitted SYN-ACK gives one 'h'") {
        h.tcp({{O, "S", I}, {R, "SA", J, I + 1}, {R, "SA", J, I + 1}, {O, "A", I + 1, J + 1}});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        check(ended[0].c, {.conn_state = "S1",
                           .history = "ShA",
                           .orig_pkts = 2,
                           .orig_ip_bytes = 2 * kTcp4,
                           .resp_pkts = 2,
                           .resp_ip_bytes = 2 * kTcp4});
    }
    SECTION("a FIN retransmitted with the same seq gives one 'F'") {
        handshake(h);
        h.tcp({{O, "FA", I + 1, J + 1},
               {O, "FA", I + 1, J + 1},
               {R, "FA", J + 1, I + 2},
               {R, "FA", J + 1, I + 2},
               {O, "A", I + 2, J + 2}});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        check(ended[0].c, {.conn_state = "SF",
                           .history = "ShAFf",
                           .orig_pkts = 5,
                           .orig_ip_bytes = 5 * kTcp4,
                           .resp_pkts = 3,
                           .resp_ip_bytes = 3 * kTcp4});
    }
    SECTION("a RST repeated with the same seq gives one 'R', with a new seq another") {
        handshake(h);
        h.tcp({{O, "R", I + 1}, {O, "R", I + 1}, {O, "R", I + 51}});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        check(ended[0].c, {.conn_state = "RSTO",
                           .history = "ShARR",
                           .orig_pkts = 5,
                           .orig_ip_bytes = 5 * kTcp4,
                           .resp_pkts = 1,
                           .resp_ip_bytes = kTcp4});
    }
    SECTION("a SYN with another seq during the attempt starts a new connection") {
        // Zeek's IsReuse: an initial SYN whose seq differs from the
        // originator's ISN while the connection is not closed is reuse.
        h.tcp({{O, "S", I}, {O, "S", I + 7777}});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 2);
        check(ended[0].c,
              {.conn_state = "S0", .history = "S", .orig_pkts = 1, .orig_ip_bytes = kTcp4});
        CHECK(ended[0].why == ConnEnd::Reused);
        check(ended[1].c,
              {.conn_state = "S0", .history = "S", .orig_pkts = 1, .orig_ip_bytes = kTcp4});
        CHECK(h.tracker.counters().reused == 1);
    }
}

// ---------------------------------------------------------------- opens and closes

TEST_CASE("flow: simultaneous open is one connection", "[flow]") {
    Harness h;
    h.tcp({{O, "S", I}, {R, "S", J}, {O, "SA", I, J + 1}, {R, "SA", J, I + 1}});
    h.tcp({{O, "PA", I + 1, J + 1, 10}, {R, "A", J + 1, I + 11}});
    const auto& ended = h.finish();
    REQUIRE(ended.size() == 1);
    const Connection& c = ended[0].c;
    // The SYN-ACKs repeat the SYNs' sequence numbers: no new S/H letter.
    check(c, {.conn_state = "S1",
              .history = "SsDa",
              .orig_pkts = 3,
              .orig_ip_bytes = 3 * kTcp4 + 10,
              .orig_bytes = 10,
              .resp_pkts = 3,
              .resp_ip_bytes = 3 * kTcp4});
    CHECK(h.tracker.counters().conns_created == 1);
    CHECK(h.tracker.counters().reused == 0);
}

TEST_CASE("flow: teardown kinds", "[flow]") {
    Harness h;
    handshake(h);
    SECTION("simultaneous close: both FIN before either acks the other's") {
        h.tcp({{O, "FA", I + 1, J + 1},
               {R, "FA", J + 1, I + 1},
               {O, "A", I + 2, J + 2},
               {R, "A", J + 2, I + 2}});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        const Connection& c = ended[0].c;
        check(c, {.conn_state = "SF",
                  .history = "ShAFfa",
                  .orig_pkts = 4,
                  .orig_ip_bytes = 4 * kTcp4,
                  .resp_pkts = 3,
                  .resp_ip_bytes = 3 * kTcp4});
        CHECK(FlowTracker::teardown(c) == Teardown::Simultaneous);
        CHECK(ended[0].why == ConnEnd::Closed);
    }
    SECTION("four-way close") {
        h.tcp({{O, "FA", I + 1, J + 1},
               {R, "A", J + 1, I + 2},
               {R, "FA", J + 1, I + 2},
               {O, "A", I + 2, J + 2}});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        const Connection& c = ended[0].c;
        check(c, {.conn_state = "SF",
                  .history = "ShAFaf",
                  .orig_pkts = 4,
                  .orig_ip_bytes = 4 * kTcp4,
                  .resp_pkts = 3,
                  .resp_ip_bytes = 3 * kTcp4});
        CHECK(FlowTracker::teardown(c) == Teardown::Fin);
    }
    SECTION("half close") {
        h.tcp({{R, "FA", J + 1, I + 1}, {O, "A", I + 1, J + 2}});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        CHECK(FlowTracker::teardown(ended[0].c) == Teardown::HalfClosed);
        CHECK(ended[0].why == ConnEnd::EndOfInput);
    }
    SECTION("FIN then RST from the same side is a reset") {
        h.tcp({{O, "FA", I + 1, J + 1}, {O, "R", I + 2}});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        const Connection& c = ended[0].c;
        check(c, {.conn_state = "RSTO",
                  .history = "ShAFR",
                  .orig_pkts = 4,
                  .orig_ip_bytes = 4 * kTcp4,
                  .resp_pkts = 1,
                  .resp_ip_bytes = kTcp4});
        CHECK(FlowTracker::teardown(c) == Teardown::ResetOrig);
    }
}

TEST_CASE("flow: data on the SYN and before the handshake completes", "[flow]") {
    Harness h;
    SECTION("SYN with payload") {
        // Zeek's init_endpoint puts last_seq past the SYN's data before
        // update_last_seq runs, so the SYN's own data counts as not advancing
        // the stream: DidRxmit, 'T'. wirelens logs what Zeek logs.
        h.tcp({{O, "S", I, 0, 20},
               {R, "SA", J, I + 21},
               {O, "A", I + 21, J + 1},
               {O, "FA", I + 21, J + 1},
               {R, "FA", J + 1, I + 22},
               {O, "A", I + 22, J + 2}});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        check(ended[0].c, {.conn_state = "SF",
                           .history = "SThAFf",
                           .orig_pkts = 4,
                           .orig_ip_bytes = 4 * kTcp4 + 20,
                           .orig_bytes = 20,
                           .resp_pkts = 2,
                           .resp_ip_bytes = 2 * kTcp4});
        CHECK(ended[0].c.side[0].tcp.retransmits == 0);  // Zeek's 't', but nothing was resent
    }
    SECTION("data sent before the SYN-ACK") {
        h.tcp({{O, "S", I}, {O, "P", I + 1, 0, 30}, {R, "SA", J, I + 31}, {O, "A", I + 31, J + 1}});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        check(ended[0].c, {.conn_state = "S1",
                           .history = "SDhA",
                           .orig_pkts = 3,
                           .orig_ip_bytes = 3 * kTcp4 + 30,
                           .orig_bytes = 30,
                           .resp_pkts = 1,
                           .resp_ip_bytes = kTcp4});
    }
}

TEST_CASE("flow: sequence numbers wrapping past 2^32", "[flow]") {
    Harness h;
    constexpr std::uint32_t isn = 0xFFFFFF00u;
    constexpr std::uint32_t seg = 1000, segs = 200;
    h.tcp({{O, "S", isn}, {R, "SA", J, isn + 1}, {O, "A", isn + 1, J + 1}});
    for (std::uint32_t i = 0; i < segs; ++i)
        h.tcp({O, "PA", isn + 1 + i * seg, J + 1, seg});
    const std::uint32_t end = isn + 1 + segs * seg;  // wrapped
    h.tcp({{R, "A", J + 1, end},
           {O, "FA", end, J + 1},
           {R, "FA", J + 1, end + 1},
           {O, "A", end + 1, J + 2}});
    const auto& ended = h.finish();
    REQUIRE(ended.size() == 1);
    const Connection& c = ended[0].c;
    check(c, {.conn_state = "SF",
              .history = "ShADaFf",
              .orig_pkts = 3 + segs + 1,
              .orig_ip_bytes = (4 + segs) * kTcp4 + segs * seg,
              .orig_bytes = segs * seg,
              .resp_pkts = 3,
              .resp_ip_bytes = 3 * kTcp4});
    CHECK(c.side[0].tcp.data_not_advancing == 0);
    CHECK(c.side[0].tcp.missed_bytes == 0);
    CHECK(FlowTracker::teardown(c) == Teardown::Fin);
}

TEST_CASE("flow: out-of-order data is not a retransmission", "[flow]") {
    Harness h;
    handshake(h);
    h.tcp({{O, "PA", I + 1, J + 1, 100},
           {O, "PA", I + 201, J + 1, 100},  // arrives before 101..201
           {O, "PA", I + 101, J + 1, 100},  // fills the hole: out of order
           {R, "A", J + 1, I + 301}});
    SECTION("only the late segment") {
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        const Connection& c = ended[0].c;
        // Zeek marks any data that does not advance the stream with 't'.
        check(c, {.conn_state = "S1",
                  .history = "ShADTa",
                  .orig_pkts = 5,
                  .orig_ip_bytes = 5 * kTcp4 + 300,
                  .orig_bytes = 300,
                  .resp_pkts = 2,
                  .resp_ip_bytes = 2 * kTcp4});
        CHECK(c.side[0].tcp.data_not_advancing == 1);
        CHECK(c.side[0].tcp.out_of_order == 1);
        CHECK(c.side[0].tcp.data_not_advancing - c.side[0].tcp.out_of_order == 0);
        CHECK(c.side[0].tcp.retransmits == 0);
        CHECK(c.side[0].tcp.missed_bytes == 0);
    }
    SECTION("and a real retransmission after it") {
        h.tcp({O, "PA", I + 1, J + 1, 100});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        const Connection& c = ended[0].c;
        check(c, {.conn_state = "S1",
                  .history = "ShADTa",
                  .orig_pkts = 6,
                  .orig_ip_bytes = 6 * kTcp4 + 400,
                  .orig_bytes = 300,
                  .resp_pkts = 2,
                  .resp_ip_bytes = 2 * kTcp4});
        CHECK(c.side[0].tcp.data_not_advancing == 2);
        CHECK(c.side[0].tcp.out_of_order == 1);
        CHECK(c.side[0].tcp.data_not_advancing - c.side[0].tcp.out_of_order == 1);
        CHECK(c.side[0].tcp.retransmits == 1);
    }
}

// ---------------------------------------------------------------- lifetimes

TEST_CASE("flow: idle timeouts", "[flow]") {
    SECTION("UDP packets 61 s apart are two connections") {
        Harness h;
        h.udp(O, 10, 0);
        h.udp(R, 10, 1);
        h.udp(O, 10, 62);
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 2);
        check(ended[0].c, {.conn_state = "SF",
                           .history = "Dd",
                           .orig_pkts = 1,
                           .orig_ip_bytes = kUdp4 + 10,
                           .orig_bytes = 10,
                           .resp_pkts = 1,
                           .resp_ip_bytes = kUdp4 + 10,
                           .resp_bytes = 10});
        CHECK(ended[0].why == ConnEnd::Timeout);
        check(ended[1].c, {.conn_state = "S0",
                           .history = "D",
                           .orig_pkts = 1,
                           .orig_ip_bytes = kUdp4 + 10,
                           .orig_bytes = 10});
        CHECK(ended[1].why == ConnEnd::EndOfInput);
    }
    SECTION("UDP packets 59 s apart are one") {
        Harness h;
        h.udp(O, 10, 0);
        h.udp(O, 10, 59);
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        CHECK(ended[0].c.side[0].pkts == 2);
    }
    SECTION("TCP idle 301 s after establishment") {
        Harness h;
        handshake(h);
        h.tcp({O, "PA", I + 1, J + 1, 10, 301.0});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 2);
        check(ended[0].c, {.conn_state = "S1",
                           .history = "ShA",
                           .orig_pkts = 2,
                           .orig_ip_bytes = 2 * kTcp4,
                           .resp_pkts = 1,
                           .resp_ip_bytes = kTcp4});
        CHECK(ended[0].why == ConnEnd::Timeout);
        // The rest is picked up midstream.
        check(ended[1].c, {.conn_state = "OTH",
                           .history = "D",
                           .orig_pkts = 1,
                           .orig_ip_bytes = kTcp4 + 10,
                           .orig_bytes = 10});
    }
    SECTION("TCP idle 299 s is still one connection") {
        Harness h;
        handshake(h);
        h.tcp({O, "PA", I + 1, J + 1, 10, 299.0});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
    }
    SECTION("changed timeouts are respected") {
        FlowOptions opts;
        opts.udp_inactivity_ns = 10ull * 1000000000ull;
        opts.tcp_inactivity_ns = 20ull * 1000000000ull;
        opts.tcp_attempt_ns = 30ull * 1000000000ull;
        {
            Harness h(opts);
            h.udp(O, 10, 0);
            h.udp(O, 10, 9);   // same
            h.udp(O, 10, 20);  // 11 s later: new
            const auto& ended = h.finish();
            REQUIRE(ended.size() == 2);
            CHECK(ended[0].c.side[0].pkts == 2);
            CHECK(ended[0].why == ConnEnd::Timeout);
            CHECK(ended[1].c.side[0].pkts == 1);
        }
        {
            Harness h(opts);
            // An unanswered SYN waits tcp_attempt_ns (30 s), not 5 s.
            h.tcp({{O, "S", I, 0, 0, 0}, {O, "S", I, 0, 0, 25}});
            // Established: tcp_inactivity_ns (20 s), not 300 s.
            h.tcp({{R, "SA", J, I + 1, 0, 26}, {O, "A", I + 1, J + 1, 0, 27}});
            h.tcp({O, "PA", I + 1, J + 1, 10, 48});
            const auto& ended = h.finish();
            REQUIRE(ended.size() == 2);
            check(ended[0].c, {.conn_state = "S1",
                               .history = "ShA",
                               .orig_pkts = 3,
                               .orig_ip_bytes = 3 * kTcp4,
                               .resp_pkts = 1,
                               .resp_ip_bytes = kTcp4});
            CHECK(ended[0].why == ConnEnd::Timeout);
            check(ended[1].c, {.conn_state = "OTH",
                               .history = "D",
                               .orig_pkts = 1,
                               .orig_ip_bytes = kTcp4 + 10,
                               .orig_bytes = 10});
        }
    }
    SECTION("an unanswered SYN times out after tcp_attempt_ns (5 s)") {
        Harness h;
        h.tcp({{O, "S", I, 0, 0, 0}, {O, "S", I, 0, 0, 6}});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 2);
        CHECK(ended[0].why == ConnEnd::Timeout);
        check(ended[0].c,
              {.conn_state = "S0", .history = "S", .orig_pkts = 1, .orig_ip_bytes = kTcp4});
    }
}

TEST_CASE("flow: port reuse after a close", "[flow]") {
    Harness h;
    normal_session(h);
    SECTION("a new SYN with another ISN right after the close") {
        h.tcp({O, "S", 90000, 0, 0, 1.0});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 2);
        check(ended[0].c, {.conn_state = "SF",
                           .history = "ShADadFf",
                           .orig_pkts = 5,
                           .orig_ip_bytes = 5 * kTcp4 + 100,
                           .orig_bytes = 100,
                           .resp_pkts = 4,
                           .resp_ip_bytes = 4 * kTcp4 + 200,
                           .resp_bytes = 200});
        CHECK((ended[0].why == ConnEnd::Reused || ended[0].why == ConnEnd::Closed));
        check(ended[1].c,
              {.conn_state = "S0", .history = "S", .orig_pkts = 1, .orig_ip_bytes = kTcp4});
    }
    SECTION("a SYN more than 5 s after the close") {
        normal_session(h, 70000, 10.0);
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 2);
        CHECK(ended[0].why == ConnEnd::Closed);
        check(ended[0].c, {.conn_state = "SF",
                           .history = "ShADadFf",
                           .orig_pkts = 5,
                           .orig_ip_bytes = 5 * kTcp4 + 100,
                           .orig_bytes = 100,
                           .resp_pkts = 4,
                           .resp_ip_bytes = 4 * kTcp4 + 200,
                           .resp_bytes = 200});
        check(ended[1].c, {.conn_state = "SF",
                           .history = "ShADadFf",
                           .orig_pkts = 5,
                           .orig_ip_bytes = 5 * kTcp4 + 100,
                           .orig_bytes = 100,
                           .resp_pkts = 4,
                           .resp_ip_bytes = 4 * kTcp4 + 200,
                           .resp_bytes = 200});
        CHECK(ended[1].c.start_ns == 10000000000ull);
    }
}

TEST_CASE("flow: eviction under a small table", "[flow]") {
    // Four slots; unanswered attempts may hold half of them (the default).
    // Below that share a full table evicts the least recently active
    // connection; at it, the oldest attempt.
    FlowOptions opts;
    opts.max_flows = 4;
    Harness h(opts);
    for (std::uint16_t p = 41001; p <= 41003; ++p) {
        syn_from(h, p);
        answer(h, p);
    }
    // 42001 takes the free slot; 42002 finds one attempt (under its share of
    // two) and evicts 41001, the least recently active; 42003-42010 each evict
    // the oldest attempt (42001-42008).
    for (std::uint16_t p = 42001; p <= 42010; ++p)
        syn_from(h, p);
    CHECK(h.tracker.counters().evicted == 9);
    CHECK(h.tracker.counters().evicted_attempts == 8);
    CHECK(h.tracker.open() == 4);
    // 42010 is answered, 41002 and 41003 are active after it; the one attempt
    // left (42009) is under its share, so a new SYN evicts 42010.
    answer(h, 42010);
    for (std::uint16_t p = 41002; p <= 41003; ++p)
        h.tcp(on_port({O, "A", I + 1, J + 1}, p));
    syn_from(h, 43000);
    CHECK(h.tracker.counters().evicted == 10);
    CHECK(h.tracker.counters().evicted_attempts == 8);
    const auto& ended = h.finish();
    const auto& n = h.tracker.counters();
    CHECK(n.conns_created == 14);
    CHECK(n.conns_ended == 14);
    REQUIRE(ended.size() == 14);
    int evicted = 0, evicted_syn = 0;
    for (const Ended& e : ended) {
        const std::uint16_t port = e.c.orig.port;
        if (e.why == ConnEnd::Evicted) {
            ++evicted;
            if (port >= 42001 && port <= 42008) {
                ++evicted_syn;
                check(e.c,
                      {.conn_state = "S0", .history = "S", .orig_pkts = 1, .orig_ip_bytes = kTcp4});
            } else {
                CHECK((port == 41001 || port == 42010));  // the least recently active
                check(e.c, {.conn_state = "S1",
                            .history = "ShA",
                            .orig_pkts = 2,
                            .orig_ip_bytes = 2 * kTcp4,
                            .resp_pkts = 1,
                            .resp_ip_bytes = kTcp4});
            }
        } else {
            CHECK(e.why == ConnEnd::EndOfInput);
            CHECK((port == 41002 || port == 41003 || port == 42009 || port == 43000));
        }
    }
    CHECK(evicted == 10);
    CHECK(evicted_syn == 8);
}

TEST_CASE("flow: a SYN flood keeps to the attempts' share of the table", "[flow]") {
    // 16 slots, attempts limited to 4: 12 established connections survive
    // 1,000 unanswered SYNs, which cycle through four slots.
    FlowOptions opts;
    opts.max_flows = 16;
    opts.max_attempts = 4;
    Harness h(opts);
    for (std::uint16_t p = 41001; p <= 41012; ++p) {
        syn_from(h, p);
        answer(h, p);
    }
    for (int i = 0; i < 1000; ++i) {
        syn_from(h, static_cast<std::uint16_t>(50000 + i));
        REQUIRE(h.tracker.open() <= 16);
    }
    CHECK(h.tracker.counters().evicted == 996);
    CHECK(h.tracker.counters().evicted_attempts == 996);
    const auto& ended = h.finish();
    int established = 0;
    for (const Ended& e : ended) {
        if (e.c.orig.port >= 41001 && e.c.orig.port <= 41012) {
            ++established;
            CHECK(e.why == ConnEnd::EndOfInput);
        }
    }
    CHECK(established == 12);
}

TEST_CASE("flow: a uid is made of the key and the first packet's time; ties are numbered",
          "[flow][uid]") {
    // One slot: each SYN evicts the other port's attempt, so the same two keys
    // start again and again within one nanosecond (as crafted captures with
    // every timestamp zero do). The first of a key in a nanosecond has tie 0,
    // its uid the plain one; the next ones 1, 2: every uid differs.
    FlowOptions opts;
    opts.max_flows = 1;
    Harness h(opts);
    const std::uint16_t ports[] = {40000, 40001, 40000, 40001, 40000};
    for (const std::uint16_t p : ports)
        h.tcp(on_port({O, "S", I, 0, 0, 5.0}, p));
    h.tcp(on_port({O, "S", I, 0, 0, 6.0}, 40001));  // a later nanosecond starts afresh
    h.tcp(on_port({O, "S", I, 0, 0, 6.0}, 40000));
    h.tcp(on_port({O, "S", I, 0, 0, 6.0}, 40001));
    const auto& ended = h.finish();
    REQUIRE(ended.size() == 8);
    const std::uint64_t ties[] = {0, 0, 1, 1, 2, 0, 0, 1};
    std::set<std::string> uids;
    for (std::size_t i = 0; i < ended.size(); ++i) {
        const Connection& c = ended[i].c;
        INFO("connection " << i);
        CHECK(c.uid_tie == ties[i]);
        char u[19], plain[19];
        wl::conn_uid(c, u);
        wl::make_uid(6, 4, c.resp, c.orig, c.start_ns, c.uid_tie, plain);
        CHECK(std::string(u) == plain);
        CHECK(uids.insert(u).second);
    }
    char first[19];
    wl::make_uid(6, 4, ended[0].c.orig, ended[0].c.resp, 5000000000ull, 0, first);
    char u0[19];
    wl::conn_uid(ended[0].c, u0);
    CHECK(std::string(u0) == first);
}

TEST_CASE("flow: a clock jumping back to a nanosecond already used still gives a new uid",
          "[flow][uid]") {
    // 40000 starts at 5 s, 40001 at 9 s (a new latest start: ties are counted
    // afresh), then 40000 again at 5 s (the clock went back 4 s): its tie
    // carries the count's number, so its uid is not the first one's.
    FlowOptions opts;
    opts.max_flows = 1;
    Harness h(opts);
    h.tcp(on_port({O, "S", I, 0, 0, 5.0}, 40000));
    h.tcp(on_port({O, "S", I, 0, 0, 9.0}, 40001));
    h.tcp(on_port({O, "S", I, 0, 0, 5.0}, 40000));
    h.tcp(on_port({O, "S", I, 0, 0, 5.0005}, 40001));  // back 3.9995 s, but no earlier start here
    const auto& ended = h.finish();
    REQUIRE(ended.size() == 4);
    CHECK(ended[0].c.uid_tie == 0);
    CHECK(ended[1].c.uid_tie == 0);
    CHECK(ended[2].c.uid_tie != 0);
    CHECK(ended[2].c.start_ns == ended[0].c.start_ns);
    std::set<std::string> uids;
    for (const Ended& e : ended) {
        char u[19];
        wl::conn_uid(e.c, u);
        CHECK(uids.insert(u).second);
    }
}

TEST_CASE("flow: the table's random hash seed never shows in what is reported", "[flow]") {
    // Two trackers (two seeds) given the same 600 connections through a table of
    // 64: evictions, reuse of slots and every record come out the same.
    auto run = [](std::vector<std::tuple<std::string, ConnEnd, std::string>>& out) {
        FlowOptions opts;
        opts.max_flows = 64;
        Harness h(opts);
        for (int i = 0; i < 600; ++i) {
            const auto port = static_cast<std::uint16_t>(20000 + i);
            syn_from(h, port);
            if (i % 3 == 0) answer(h, port);  // every third is answered
        }
        for (const Ended& e : h.finish()) {
            char uid[19];
            wl::conn_uid(e.c, uid);
            out.emplace_back(
                uid, e.why,
                std::string(FlowTracker::conn_state(e.c)) + "/" + std::to_string(e.c.orig.port));
        }
    };
    std::vector<std::tuple<std::string, ConnEnd, std::string>> a, b;
    run(a);
    run(b);
    REQUIRE(a.size() == 600);
    CHECK(a == b);
    wl::FlowKey k{};
    k.proto = 6;
    k.ip_version = 4;
    CHECK(k.hash(1) != k.hash(2));
}

// ---------------------------------------------------------------- IPv6 and ICMP

TEST_CASE("flow: an IPv6 TCP connection", "[flow]") {
    Harness h({}, kV6);
    normal_session(h);
    const auto& ended = h.finish();
    REQUIRE(ended.size() == 1);
    const Connection& c = ended[0].c;
    check(c, {.conn_state = "SF",
              .history = "ShADadFf",
              .orig_pkts = 5,
              .orig_ip_bytes = 5 * kTcp6 + 100,
              .orig_bytes = 100,
              .resp_pkts = 4,
              .resp_ip_bytes = 4 * kTcp6 + 200,
              .resp_bytes = 200});
    CHECK(c.key.ip_version == 6);
    CHECK(c.orig.addr[0] == 0xfd);
    CHECK(c.orig.port == 40000);
    CHECK(FlowTracker::teardown(c) == Teardown::Fin);
}

TEST_CASE("flow: ICMP echo request and reply are one connection", "[flow]") {
    SECTION("ICMPv4") {
        Harness h;
        h.icmp_echo(O, 56);
        h.icmp_echo(R, 56);
        h.icmp_echo(O, 56);
        h.icmp_echo(R, 56);
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        const Connection& c = ended[0].c;
        check(c, {.conn_state = "OTH",
                  .history = "",
                  .orig_pkts = 2,
                  .orig_ip_bytes = 2 * 84,
                  .orig_bytes = 112,
                  .resp_pkts = 2,
                  .resp_ip_bytes = 2 * 84,
                  .resp_bytes = 112});
        CHECK(c.proto == wl::ipproto::kIcmp);
        CHECK(c.orig.port == 8);
        CHECK(c.resp.port == 0);
        CHECK(c.orig.addr[0] == 198);
        CHECK(c.orig.addr[3] == 1);
    }
    SECTION("ICMPv6") {
        Harness h({}, kV6);
        h.icmp_echo(O, 32);
        h.icmp_echo(R, 32);
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        const Connection& c = ended[0].c;
        check(c, {.conn_state = "OTH",
                  .history = "",
                  .orig_pkts = 1,
                  .orig_ip_bytes = 40 + 8 + 32,
                  .orig_bytes = 32,
                  .resp_pkts = 1,
                  .resp_ip_bytes = 40 + 8 + 32,
                  .resp_bytes = 32});
        CHECK(c.proto == wl::ipproto::kIcmpv6);
        CHECK(c.orig.port == 128);
        CHECK(c.resp.port == 129);
    }
}

// ---------------------------------------------------------------- ladder

TEST_CASE("flow: the ladder log keeps handshake and teardown", "[flow]") {
    FlowOptions opts;
    opts.ladder_conns = 1;
    Harness h(opts);
    h.tcp({{O, "S", I, 0, 0, 0},
           {R, "SA", J, I + 1},
           {O, "A", I + 1, J + 1},
           {O, "PA", I + 1, J + 1, 100},
           {R, "A", J + 1, I + 101},
           // elided: 3 data packets up, 2 down
           {O, "PA", I + 101, J + 1, 100},
           {O, "PA", I + 201, J + 1, 100},
           {O, "PA", I + 301, J + 1, 100},
           {R, "PA", J + 1, I + 401, 50},
           {R, "PA", J + 51, I + 401, 50},
           {O, "FA", I + 401, J + 101},
           {R, "FA", J + 101, I + 402},
           {O, "A", I + 402, J + 102}});
    handshake(h, 1.0);  // a second connection (reused port): no ladder left
    const auto& ended = h.finish();
    REQUIRE(ended.size() == 2);
    REQUIRE(ended[0].has_ladder);
    CHECK_FALSE(ended[1].has_ladder);
    check(ended[0].c, {.conn_state = "SF",
                       .history = "ShADadFf",
                       .orig_pkts = 8,
                       .orig_ip_bytes = 8 * kTcp4 + 400,
                       .orig_bytes = 400,
                       .resp_pkts = 5,
                       .resp_ip_bytes = 5 * kTcp4 + 100,
                       .resp_bytes = 100});
    const wl::LadderLog& log = ended[0].ladder;
    REQUIRE(log.count == 8);
    CHECK(log.dropped == 0);
    using namespace wl::tcpflag;
    struct Want {
        std::uint16_t flags;
        std::uint8_t dir;
        std::uint64_t rel_seq, rel_ack;
        std::uint32_t len, skipped_pkts;
        std::uint64_t skipped_bytes;
    };
    const Want want[] = {
        {kSyn, 0, 0, 0, 0, 0, 0},
        {kSyn | kAck, 1, 0, 1, 0, 0, 0},
        {kAck, 0, 1, 1, 0, 0, 0},
        {kPsh | kAck, 0, 1, 1, 100, 0, 0},
        {kAck, 1, 1, 101, 0, 0, 0},
        {kFin | kAck, 0, 401, 101, 0, 5, 400},
        {kFin | kAck, 1, 101, 402, 0, 0, 0},
        {kAck, 0, 402, 102, 0, 0, 0},
    };
    for (int i = 0; i < 8; ++i) {
        INFO("step " << i);
        const wl::LadderStep& s = log.steps[i];
        CHECK(s.flags == want[i].flags);
        CHECK(s.dir == want[i].dir);
        CHECK(s.rel_seq == want[i].rel_seq);
        CHECK(s.rel_ack == want[i].rel_ack);
        CHECK(s.len == want[i].len);
        CHECK(s.skipped_pkts == want[i].skipped_pkts);
        CHECK(s.skipped_bytes == want[i].skipped_bytes);
        CHECK(s.ts_ns == static_cast<std::uint64_t>(i < 5 ? i : i + 5) * 1000000ull);
    }
    CHECK(log.pending_pkts == 0);
}

// ---------------------------------------------------------------- stream anomalies

TEST_CASE("flow: stream anomalies are counted by Zeek's weird names", "[flow][anomaly]") {
    using wl::StreamAnomaly;
    Harness h;
    auto count = [&h](StreamAnomaly a) { return h.tracker.anomalies()[a]; };
    auto total = [&h] {
        std::uint64_t n = 0;
        for (std::uint64_t v : h.tracker.anomalies().count)
            n += v;
        return n;
    };
    SECTION("a normal session has none") {
        normal_session(h);
        CHECK(total() == 0);
    }
    SECTION("SYN_with_data") {
        h.tcp({O, "S", I, 0, 20});
        CHECK(count(StreamAnomaly::SynWithData) == 1);
        CHECK(total() == 1);
    }
    SECTION("data_before_established") {
        h.tcp({{O, "S", I}, {O, "P", I + 1, 0, 30}});
        CHECK(count(StreamAnomaly::DataBeforeEstablished) == 1);
        CHECK(total() == 1);
    }
    SECTION("SYN_seq_jump: the originator's SYN-ACK with another ISN") {
        h.tcp({{O, "S", I}, {O, "SA", I + 50, 1}});
        CHECK(count(StreamAnomaly::SynSeqJump) == 1);
        CHECK(h.tracker.counters().conns_created == 1);
    }
    SECTION("SYN_inside_connection: a SYN after the side sent data") {
        handshake(h);
        h.tcp({{O, "PA", I + 1, J + 1, 100}, {O, "SA", I, J + 1}});
        CHECK(count(StreamAnomaly::SynInsideConnection) == 1);
        CHECK(count(StreamAnomaly::SynSeqJump) == 0);  // the same ISN
        CHECK(h.tracker.counters().conns_created == 1);
    }
    SECTION("SYN_after_close") {
        handshake(h);
        h.tcp({{O, "FA", I + 1, J + 1}, {O, "SA", I, J + 1}});
        CHECK(count(StreamAnomaly::SynAfterClose) == 1);
        CHECK(total() == 1);
    }
    SECTION("RST_with_data") {
        handshake(h);
        h.tcp({O, "R", I + 1, 0, 10});
        CHECK(count(StreamAnomaly::RstWithData) == 1);
        CHECK(total() == 1);
    }
    SECTION("FIN_after_reset and data_after_reset") {
        handshake(h);
        h.tcp({{O, "R", I + 1}, {O, "FA", I + 1, J + 1}, {O, "PA", I + 1, J + 1, 10}});
        CHECK(count(StreamAnomaly::FinAfterReset) == 1);
        CHECK(count(StreamAnomaly::DataAfterReset) == 1);
        CHECK(total() == 2);
    }
    SECTION("simultaneous_open") {
        h.tcp({{O, "S", I}, {R, "S", J}});
        CHECK(count(StreamAnomaly::SimultaneousOpen) == 1);
        CHECK(total() == 1);
    }
    SECTION("spontaneous_FIN and spontaneous_RST") {
        h.tcp({O, "FA", I, J, 0, 0, 8192, 41001});
        h.tcp({O, "R", I, 0, 0, -1, 8192, 41002});
        CHECK(count(StreamAnomaly::SpontaneousFin) == 1);
        CHECK(count(StreamAnomaly::SpontaneousRst) == 1);
    }
    SECTION("a REJ is no spontaneous RST") {
        h.tcp({{O, "S", I}, {R, "RA", 0, I + 1}});
        CHECK(total() == 0);
    }
    CHECK(std::string(wl::name(StreamAnomaly::SynAfterClose)) == "SYN_after_close");
    CHECK(std::string(wl::name(StreamAnomaly::RstWithData)) == "RST_with_data");
}

// ---------------------------------------------------------------- loss accounting
//
// missed_bytes as Zeek's conn.log has it: the sum of content_gap lengths.
// Zeek finds gaps only when an ACK arrives (TCP_Reassembler::AckReceived ->
// Undelivered): the bytes between what it delivered and the ack that it never
// saw, reported only while both sides are ESTABLISHED (or CLOSED from it);
// bytes arriving after an ack passed them are discarded, never counted again;
// an ack at or past the sender's FIN reaches the FIN's position only.
// capture_loss_bytes: the same bytes in every state. retransmitted_bytes:
// bytes of a hole filled kReorderWindowNs (3 ms) or more after it opened.

namespace {
std::uint64_t missed(const Connection& c) {
    return c.side[0].tcp.missed_bytes + c.side[1].tcp.missed_bytes;
}
std::uint64_t capture_loss(const Connection& c) {
    return c.side[0].tcp.capture_loss_bytes + c.side[1].tcp.capture_loss_bytes;
}
std::uint64_t retransmitted(const Connection& c) {
    return c.side[0].tcp.retransmitted_bytes + c.side[1].tcp.retransmitted_bytes;
}
}  // namespace

TEST_CASE("flow: a segment lost to the capture is missed once", "[flow][gaps]") {
    Harness h;
    handshake(h);
    SECTION("its ACK arrives before the next segment") {
        // 101..201 never seen; the ack of it arrives first: Zeek's gap is
        // [101, 201) at that ack, and the next segment starts where it ended.
        h.tcp({{O, "PA", I + 1, J + 1, 100},
               {R, "A", J + 1, I + 201},
               {O, "PA", I + 201, J + 1, 100},
               {R, "A", J + 1, I + 301}});
    }
    SECTION("its ACK arrives after the next segment") {
        h.tcp({{O, "PA", I + 1, J + 1, 100},
               {O, "PA", I + 201, J + 1, 100},
               {R, "A", J + 1, I + 201},
               {R, "A", J + 1, I + 301}});
    }
    const auto& ended = h.finish();
    REQUIRE(ended.size() == 1);
    const Connection& c = ended[0].c;
    check(c, {.conn_state = "S1",
              .history = "ShADaG",
              .orig_pkts = 4,
              .orig_ip_bytes = 4 * kTcp4 + 200,
              .orig_bytes = 300,
              .resp_pkts = 3,
              .resp_ip_bytes = 3 * kTcp4});
    CHECK(c.side[0].tcp.missed_bytes == 100);
    CHECK(c.side[1].tcp.missed_bytes == 0);
    CHECK(c.side[0].tcp.gaps == 1);
    CHECK(capture_loss(c) == 100);
    CHECK(retransmitted(c) == 0);
    CHECK(c.side[0].tcp.out_of_order == 0);
    CHECK(c.side[0].tcp.retransmits == 0);
}

TEST_CASE("flow: data missing before a FIN is missed (Zeek's miss-end-data)", "[flow][gaps]") {
    // The responder's 2902 bytes are never seen, then its FIN; the originator
    // acknowledges the FIN: the gap is [1, 2903), the FIN's own position is
    // no data (Zeek: missed_bytes 2902, history ShADafgF).
    Harness h;
    handshake(h);
    h.tcp({{O, "PA", I + 1, J + 1, 10},
           {R, "A", J + 1, I + 11},
           {R, "FA", J + 2903, I + 11},
           {O, "A", I + 11, J + 2904},
           {O, "FA", I + 11, J + 2904},
           {R, "A", J + 2904, I + 12}});
    const auto& ended = h.finish();
    REQUIRE(ended.size() == 1);
    const Connection& c = ended[0].c;
    check(c, {.conn_state = "SF",
              .history = "ShADafgF",
              .orig_pkts = 5,
              .orig_ip_bytes = 5 * kTcp4 + 10,
              .orig_bytes = 10,
              .resp_pkts = 4,
              .resp_ip_bytes = 4 * kTcp4,
              .resp_bytes = 2902});
    CHECK(c.side[1].tcp.missed_bytes == 2902);
    CHECK(c.side[0].tcp.missed_bytes == 0);
    CHECK(capture_loss(c) == 2902);
    CHECK(retransmitted(c) == 0);
}

TEST_CASE("flow: a hole filled later: retransmitted or reordered", "[flow][gaps]") {
    Harness h;
    h.tcp({{O, "S", I, 0, 0, 0.000},
           {R, "SA", J, I + 1, 0, 0.001},
           {O, "A", I + 1, J + 1, 0, 0.002}});
    h.tcp({{O, "PA", I + 1, J + 1, 100, 0.010},
           {O, "PA", I + 201, J + 1, 100, 0.011}});  // hole [101, 201) opens at 11 ms
    std::uint64_t want_rexmit = 0;
    SECTION("filled 6 ms later: the sender resent it") {
        h.tcp({O, "PA", I + 101, J + 1, 100, 0.017});
        want_rexmit = 100;
    }
    SECTION("filled 1 ms later: reordered") {
        h.tcp({O, "PA", I + 101, J + 1, 100, 0.012});
    }
    SECTION("filled 2.9 ms later: still reordered") {
        h.tcp({O, "PA", I + 101, J + 1, 100, 0.0139});
    }
    SECTION("filled in two parts, 1 ms and 5 ms later") {
        h.tcp({{O, "PA", I + 101, J + 1, 40, 0.012}, {O, "PA", I + 141, J + 1, 60, 0.016}});
        want_rexmit = 60;
    }
    h.tcp({R, "A", J + 1, I + 301, 0, 0.020});
    const auto& ended = h.finish();
    REQUIRE(ended.size() == 1);
    const Connection& c = ended[0].c;
    CHECK(state(c) == "S1");
    CHECK(history(c) == "ShADTa");
    CHECK(FlowTracker::payload_bytes(c, 0) == 300);
    CHECK(missed(c) == 0);
    CHECK(capture_loss(c) == 0);
    CHECK(c.side[0].tcp.retransmitted_bytes == want_rexmit);
    CHECK(c.side[1].tcp.retransmitted_bytes == 0);
    CHECK(c.side[0].tcp.out_of_order == (want_rexmit == 60 ? 2u : 1u));
    CHECK(c.side[0].tcp.retransmits == 0);
}

TEST_CASE("flow: a resent segment after the ack passed it is no fill", "[flow][gaps]") {
    // The ack reveals [101, 201) missing first; the copy that arrives later is
    // what Zeek discards: lost once, neither filled nor retransmitted_bytes.
    Harness h;
    handshake(h);
    h.tcp({{O, "PA", I + 1, J + 1, 100},
           {O, "PA", I + 201, J + 1, 100},
           {R, "A", J + 1, I + 301},
           {O, "PA", I + 101, J + 1, 100, 1.0}});
    const auto& ended = h.finish();
    REQUIRE(ended.size() == 1);
    const Connection& c = ended[0].c;
    CHECK(history(c) == "ShADaGT");
    CHECK(missed(c) == 100);
    CHECK(capture_loss(c) == 100);
    CHECK(retransmitted(c) == 0);
    CHECK(c.side[0].tcp.out_of_order == 0);
    CHECK(c.side[0].tcp.retransmits == 1);
}

TEST_CASE("flow: a gap in a partial connection is capture loss, not missed", "[flow][gaps]") {
    // Picked up midstream: neither side is ESTABLISHED (both PARTIAL), so Zeek
    // reports no content gap; the capture still lost 100 bytes.
    Harness h;
    h.tcp({{O, "PA", 2000, 7000, 100},
           {R, "PA", 7000, 2100, 50},
           {O, "PA", 2200, 7050, 100},  // 2100..2200 never seen
           {R, "A", 7050, 2300}});
    const auto& ended = h.finish();
    REQUIRE(ended.size() == 1);
    const Connection& c = ended[0].c;
    check(c, {.conn_state = "OTH",
              .history = "Dda",
              .orig_pkts = 2,
              .orig_ip_bytes = 2 * kTcp4 + 200,
              .orig_bytes = 300,
              .resp_pkts = 2,
              .resp_ip_bytes = 2 * kTcp4 + 50,
              .resp_bytes = 50});
    CHECK(missed(c) == 0);
    CHECK(c.side[0].tcp.capture_loss_bytes == 100);
    CHECK(c.side[1].tcp.capture_loss_bytes == 0);
    CHECK(retransmitted(c) == 0);
}

TEST_CASE("flow: a transfer over 4 GB with acks ahead of the data", "[flow][gaps]") {
    // The shape of Zeek's large-file reassembly trace: the responder's stream
    // crosses 2^32 (the sequence numbers wrap) in 12 captured segments of
    // 1000 bytes, 450,000,000 positions apart; before each segment but the
    // first, the originator acknowledges up to its start. By Zeek's
    // algorithm: segment 0 delivers [1, 1001); the ack of 1 + D reports the
    // gap [1001, 1 + D), D - 1000 bytes; segment k then starts where the
    // trim point is and is delivered; 11 such gaps. The final ack and the
    // FIN add nothing.
    constexpr std::uint64_t D = 450'000'000, L = 1000, kSegs = 12;
    Harness h;
    handshake(h);
    auto seq_at = [](std::uint64_t rel) { return static_cast<std::uint32_t>(J + rel); };
    for (std::uint64_t k = 0; k < kSegs; ++k) {
        const std::uint64_t at = 1 + k * D;
        if (k != 0) h.tcp({O, "A", I + 1, seq_at(at)});
        h.tcp({R, "PA", seq_at(at), I + 1, static_cast<std::uint32_t>(L)});
    }
    const std::uint64_t end = 1 + (kSegs - 1) * D + L;  // the FIN's position
    static_assert(1 + (kSegs - 1) * D + L > (1ull << 32), "the stream wraps");
    h.tcp({{O, "A", I + 1, seq_at(end)},
           {R, "FA", seq_at(end), I + 1},
           {O, "A", I + 1, seq_at(end + 1)},
           {O, "FA", I + 1, seq_at(end + 1)},
           {R, "A", seq_at(end + 1), I + 2}});
    const auto& ended = h.finish();
    REQUIRE(ended.size() == 1);
    const Connection& c = ended[0].c;
    check(c, {.conn_state = "SF",
              .history = "ShAdggfFa",
              .orig_pkts = 2 + 11 + 3,
              .orig_ip_bytes = 16 * kTcp4,
              .resp_pkts = 1 + kSegs + 2,
              .resp_ip_bytes = 15 * kTcp4 + kSegs * L,
              .resp_bytes = (kSegs - 1) * D + L});      // 4,950,001,000
    CHECK(c.side[1].tcp.missed_bytes == 11 * (D - L));  // 4,949,989,000
    CHECK(c.side[1].tcp.gaps == 11);
    CHECK(c.side[0].tcp.missed_bytes == 0);
    CHECK(capture_loss(c) == 11 * (D - L));
    CHECK(retransmitted(c) == 0);
}

TEST_CASE("flow: more than 16 KiB above a hole before any ack stops gap reports", "[flow][gaps]") {
    // Zeek's tcp_max_above_hole_without_any_acks: more than 16384 bytes
    // undelivered (from the hole's start to the end of the data) while nothing
    // of the side was acknowledged yet: skip_deliveries, no content gap for
    // that side from then on. capture_loss_bytes still counts.
    Harness h;
    handshake(h);
    h.tcp({{O, "PA", I + 1, J + 1, 1000},
           {O, "PA", I + 2001, J + 1, 10000},    // hole [1001, 2001)
           {O, "PA", I + 12001, J + 1, 7000}});  // 18,000 undelivered from 1001
    SECTION("then the ack: not missed") {
        h.tcp({R, "A", J + 1, I + 19001});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        const Connection& c = ended[0].c;
        CHECK(history(c) == "ShADa");
        CHECK(missed(c) == 0);
        CHECK(capture_loss(c) == 1000);
    }
    SECTION("16,000 undelivered is under the limit") {
        Harness h2;
        handshake(h2);
        h2.tcp({{O, "PA", I + 1, J + 1, 1000},
                {O, "PA", I + 2001, J + 1, 15000},
                {R, "A", J + 1, I + 17001}});
        const auto& ended = h2.finish();
        REQUIRE(ended.size() == 1);
        CHECK(history(ended[0].c) == "ShADaG");
        CHECK(missed(ended[0].c) == 1000);
    }
}

TEST_CASE("flow: more than 10 MiB beyond the last ack stops gap reports", "[flow][gaps]") {
    // Zeek's tcp_excessive_data_without_further_acks: the reassembler holds
    // what was seen beyond the last ack; past 10 MiB it gives up on the side.
    constexpr std::uint32_t kSeg = 64000;
    std::uint32_t segs = 0;
    bool skipped = false;
    SECTION("165 segments of 64,000 bytes: 10,560,000 held") {
        segs = 165;
        skipped = true;
    }
    SECTION("163 of them: 10,432,000 held, under 10,485,760") {
        segs = 163;
    }
    Harness h;
    handshake(h);
    h.tcp({{O, "PA", I + 1, J + 1, 1000}, {R, "A", J + 1, I + 1001}});
    std::uint32_t at = 1001;
    for (std::uint32_t k = 0; k < segs; ++k, at += kSeg)
        h.tcp({O, "PA", I + at, J + 1, kSeg});
    h.tcp({{O, "PA", I + at + 1000, J + 1, 100},  // [at, at + 1000) never seen
           {R, "A", J + 1, I + at + 1100}});
    const auto& ended = h.finish();
    REQUIRE(ended.size() == 1);
    const Connection& c = ended[0].c;
    CHECK(FlowTracker::payload_bytes(c, 0) == at + 1099);
    CHECK(c.side[0].tcp.capture_loss_bytes == 1000);
    CHECK(c.side[0].tcp.missed_bytes == (skipped ? 0u : 1000u));
    CHECK(history(c) == (skipped ? "ShADa" : "ShADaG"));
}

namespace {
// Sums what the reassembler says of each direction's missing and late bytes.
class LossTally : public wl::StreamConsumer {
  public:
    void stream_data(std::uint32_t, int, std::uint64_t, const std::uint8_t*, std::size_t,
                     std::uint32_t, std::uint64_t, bool) override {}
    void stream_gap(std::uint32_t, int dir, std::uint64_t, std::uint64_t len,
                    wl::GapCause cause) override {
        if (cause == wl::GapCause::NotCaptured) not_captured[dir] += len;
    }
    void stream_filled(std::uint32_t, int dir, std::uint64_t, std::uint64_t len,
                       wl::FillCause cause, std::uint64_t, std::uint64_t) override {
        (cause == wl::FillCause::Retransmitted ? retransmitted : reordered)[dir] += len;
    }
    void stream_inconsistent(std::uint32_t, int, std::uint64_t, std::uint64_t) override {}
    void stream_end(std::uint32_t, int, ConnEnd, bool) override {}
    std::uint64_t not_captured[2] = {}, retransmitted[2] = {}, reordered[2] = {};
};
}  // namespace

TEST_CASE("flow: the conn loss counts agree with the reassembler's gap and fill causes",
          "[flow][gaps]") {
    Harness h;
    LossTally tally;
    wl::TcpReassembler reasm(64, wl::ReassemblyOptions{}, tally);
    h.tracker.set_reassembler(&reasm);
    h.tcp({{O, "S", I, 0, 0, 0.000},
           {R, "SA", J, I + 1, 0, 0.001},
           {O, "A", I + 1, J + 1, 0, 0.002}});
    h.tcp({{O, "PA", I + 1, J + 1, 100, 0.010},
           {O, "PA", I + 201, J + 1, 100, 0.011},  // hole [101, 201) opens
           {O, "PA", I + 101, J + 1, 100, 0.017},  // resent 6 ms later
           {O, "PA", I + 401, J + 1, 100, 0.018},  // hole [301, 401) opens
           {O, "PA", I + 301, J + 1, 100, 0.019},  // reordered, 1 ms
           {O, "PA", I + 601, J + 1, 100, 0.020},  // [501, 601) never seen
           {R, "A", J + 1, I + 701, 0, 0.021},
           {O, "FA", I + 701, J + 1, 0, 0.022},
           {R, "FA", J + 1, I + 702, 0, 0.023},
           {O, "A", I + 702, J + 2, 0, 0.024}});
    const auto& ended = h.finish();
    REQUIRE(ended.size() == 1);
    const Connection& c = ended[0].c;
    CHECK(state(c) == "SF");
    CHECK(c.side[0].tcp.retransmitted_bytes == 100);
    CHECK(tally.retransmitted[O] == 100);
    CHECK(tally.reordered[O] == 100);
    CHECK(c.side[0].tcp.out_of_order == 2);
    CHECK(c.side[0].tcp.capture_loss_bytes == 100);
    CHECK(tally.not_captured[O] == 100);
    CHECK(c.side[0].tcp.missed_bytes == 100);
    CHECK(c.side[1].tcp.capture_loss_bytes + c.side[1].tcp.retransmitted_bytes == 0);
    CHECK(tally.not_captured[R] + tally.retransmitted[R] + tally.reordered[R] == 0);
}

// ---------------------------------------------------------------- where wirelens differs from Zeek

TEST_CASE("flow: a SYN-ACK with another sequence number does not restart the stream (Zeek #3313)",
          "[flow][zeek-differs]") {
    // Zeek takes the second SYN-ACK's sequence number as the responder's new
    // start; the originator's acks, relative to the first, then claim up to
    // 4 GB sent (or the data that follows lies before the start and counts
    // nothing). wirelens keeps the first numbering and counts SYN_seq_jump.
    Harness h;
    handshake(h);
    h.tcp({{R, "PA", J + 1, I + 1, 100}, {O, "A", I + 1, J + 101}});
    // A SYN's 'h' recurs when its sequence position differs; one before the
    // start is taken for position 0, the first SYN-ACK's.
    const char* want = "ShAdh";
    SECTION("1.9 GB below the first ISN (restarting would claim 1.9 GB sent)") {
        h.tcp({R, "SA", J - 0x70000000u, I + 1});
        want = "ShAd";
    }
    SECTION("2 GB above it (restarting would leave the rest uncounted)") {
        h.tcp({R, "SA", J + 0x80000000u, I + 1});
    }
    h.tcp({{O, "A", I + 1, J + 101}, {R, "PA", J + 101, I + 1, 50}, {O, "A", I + 1, J + 151}});
    const auto& ended = h.finish();
    REQUIRE(ended.size() == 1);
    const Connection& c = ended[0].c;
    check(c, {.conn_state = "S1",
              .history = want,
              .orig_pkts = 5,
              .orig_ip_bytes = 5 * kTcp4,
              .resp_pkts = 4,
              .resp_ip_bytes = 4 * kTcp4 + 150,
              .resp_bytes = 150});
    CHECK(h.tracker.anomalies()[wl::StreamAnomaly::SynSeqJump] == 1);
    CHECK(missed(c) == 0);
    CHECK(capture_loss(c) == 0);
}

TEST_CASE("flow: SYNs resent with backoff are one attempt (Zeek #863)", "[flow][zeek-differs]") {
    Harness h;
    SECTION("Linux's schedule: 0, 1, 3, 7, 15, 31 s") {
        for (double t : {0.0, 1.0, 3.0, 7.0, 15.0, 31.0})
            h.tcp({O, "S", I, 0, 0, t});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        check(ended[0].c,
              {.conn_state = "S0", .history = "S", .orig_pkts = 6, .orig_ip_bytes = 6 * kTcp4});
    }
    SECTION("a lone SYN still ends after tcp_attempt_delay") {
        h.tcp({{O, "S", I, 0, 0, 0.0}, {O, "S", I, 0, 0, 5.5}});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 2);
        CHECK(ended[0].why == ConnEnd::Timeout);
        CHECK(ended[0].c.side[0].pkts == 1);
        CHECK(ended[1].c.side[0].pkts == 1);
    }
    SECTION("a SYN 100 s after the last is another attempt") {
        h.tcp({{O, "S", I, 0, 0, 0.0}, {O, "S", I, 0, 0, 1.0}, {O, "S", I, 0, 0, 101.0}});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 2);
        CHECK(ended[0].c.side[0].pkts == 2);
        CHECK(ended[1].c.side[0].pkts == 1);
    }
}

TEST_CASE("flow: a FIN resent to a silent peer is one connection (Zeek #862)",
          "[flow][zeek-differs]") {
    Harness h;
    for (double t : {0.0, 0.4, 1.2, 2.8, 6.0, 12.4, 25.2})
        h.tcp({O, "FA", I, J, 0, t});
    const auto& ended = h.finish();
    REQUIRE(ended.size() == 1);
    const Connection& c = ended[0].c;
    check(c, {.conn_state = "SH", .history = "F", .orig_pkts = 7, .orig_ip_bytes = 7 * kTcp4});
    CHECK(ended[0].why == ConnEnd::Closed);
}

TEST_CASE("flow: a lone RST is OTH, not RSTOS0 (Zeek #1119)", "[flow][zeek-differs]") {
    // RSTOS0 means a SYN then a RST; backscatter has no SYN.
    Harness h;
    SECTION("RST") {
        h.tcp({O, "R", I});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        check(ended[0].c,
              {.conn_state = "OTH", .history = "R", .orig_pkts = 1, .orig_ip_bytes = kTcp4});
    }
    SECTION("RST-ACK") {
        h.tcp({O, "RA", I, J});
        const auto& ended = h.finish();
        REQUIRE(ended.size() == 1);
        check(ended[0].c,
              {.conn_state = "OTH", .history = "R", .orig_pkts = 1, .orig_ip_bytes = kTcp4});
    }
}
