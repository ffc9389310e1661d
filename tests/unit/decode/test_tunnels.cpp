// Tunnels: the decoder hands the carried packet back (IP-in-IP, GRE, PPTP,
// ERSPAN, Aruba, GRE over UDP, VXLAN, Geneve, Teredo, GTP-U, AYIYA), and
// decoding it gives the inner connection.
#include <tins/tins.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <vector>

#include "decode/packet.hpp"

namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes inner_ipv4_tcp() {
    Tins::IP ip("198.18.9.2", "198.18.9.1");
    ip.ttl(33);
    Tins::TCP tcp(443, 40123);
    tcp.set_flag(Tins::TCP::SYN, 1);
    tcp.seq(777);
    ip /= tcp;
    return ip.serialize();
}

Bytes inner_ipv6_udp() {
    Tins::IPv6 ip("fd00:9::2", "fd00:9::1");
    ip /= Tins::UDP(53, 5353) / Tins::RawPDU(std::string("query"));
    return ip.serialize();
}

Bytes inner_ethernet() {
    Tins::EthernetII eth("02:00:00:00:00:02", "02:00:00:00:00:01");
    auto ip = Tins::IP("198.18.9.2", "198.18.9.1") / Tins::TCP(443, 40123);
    eth /= ip;
    return eth.serialize();
}

Bytes cat(Bytes a, const Bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// Outer Ethernet/IPv4 with protocol `proto` around `payload`.
Bytes outer_ip(std::uint8_t proto, const Bytes& payload) {
    Tins::EthernetII eth;
    Tins::IP ip("198.18.0.2", "198.18.0.1");
    ip.protocol(proto);
    eth /= ip / Tins::RawPDU(payload);
    return eth.serialize();
}

// Outer Ethernet/IPv4/UDP to `port` around `payload`.
Bytes outer_udp(std::uint16_t port, const Bytes& payload) {
    Tins::EthernetII eth;
    eth /= Tins::IP("198.18.0.2", "198.18.0.1") / Tins::UDP(port, 50000) / Tins::RawPDU(payload);
    return eth.serialize();
}

// Decodes `frame`, requires an encapsulated packet of `kind`, decodes that.
wl::Packet decode_inner(const Bytes& frame, wl::Packet::Encap kind, const char* name) {
    wl::Packet outer;
    outer.linktype = wl::linktype::kEthernet;
    outer.caplen = outer.wire_len = static_cast<std::uint32_t>(frame.size());
    wl::decode(wl::Bytes{frame.data(), frame.size()}, outer);
    REQUIRE_FALSE(outer.malformed());
    REQUIRE(outer.encap == kind);
    REQUIRE(std::string(outer.encap_name) == name);
    wl::Packet in;
    in.linktype =
        kind == wl::Packet::Encap::Ethernet ? wl::linktype::kEthernet : wl::linktype::kRaw;
    in.caplen = static_cast<std::uint32_t>(outer.encap_bytes.size());
    in.wire_len = outer.encap_wire_len;
    wl::decode(outer.encap_bytes, in);
    REQUIRE_FALSE(in.malformed());
    return in;
}

// The decoded packet's views point into `frame`: it must outlive them.
wl::Packet decode_inner(Bytes&& frame, wl::Packet::Encap kind, const char* name) = delete;

void check_inner_tcp(const wl::Packet& in) {
    REQUIRE(in.has(wl::Layer::Tcp));
    CHECK(in.ip_version == 4);
    CHECK(in.tcp.src_port() == 40123);
    CHECK(in.tcp.dst_port() == 443);
}

}  // namespace

TEST_CASE("tunnels: IP-in-IP and IPv6-in-IPv4", "[tunnel]") {
    const Bytes v4 = outer_ip(4, inner_ipv4_tcp());
    check_inner_tcp(decode_inner(v4, wl::Packet::Encap::Ip, "ipip"));
    const Bytes v6 = outer_ip(41, inner_ipv6_udp());
    const wl::Packet in = decode_inner(v6, wl::Packet::Encap::Ip, "ipip");
    REQUIRE(in.has(wl::Layer::Udp));
    CHECK(in.ip_version == 6);
    CHECK(in.udp.dst_port() == 53);
}

TEST_CASE("tunnels: GRE with and without optional words", "[tunnel]") {
    const Bytes plain = outer_ip(47, cat({0x00, 0x00, 0x08, 0x00}, inner_ipv4_tcp()));
    check_inner_tcp(decode_inner(plain, wl::Packet::Encap::Ip, "gre"));
    // Checksum, key and sequence present: 12 more bytes before the payload.
    const Bytes full = outer_ip(
        47, cat({0xb0, 0x00, 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 9}, inner_ipv4_tcp()));
    check_inner_tcp(decode_inner(full, wl::Packet::Encap::Ip, "gre"));
    const Bytes teb = outer_ip(47, cat({0x00, 0x00, 0x65, 0x58}, inner_ethernet()));
    check_inner_tcp(decode_inner(teb, wl::Packet::Encap::Ethernet, "gre"));
}

TEST_CASE("tunnels: VXLAN, Geneve, Teredo, GTP-U", "[tunnel]") {
    const Bytes vxlan = outer_udp(4789, cat({0x08, 0, 0, 0, 0, 0, 42, 0}, inner_ethernet()));
    check_inner_tcp(decode_inner(vxlan, wl::Packet::Encap::Ethernet, "vxlan"));
    const Bytes geneve =
        outer_udp(6081, cat({0x00, 0x00, 0x65, 0x58, 0, 0, 7, 0}, inner_ethernet()));
    check_inner_tcp(decode_inner(geneve, wl::Packet::Encap::Ethernet, "geneve"));
    const Bytes teredo = outer_udp(3544, inner_ipv6_udp());
    const wl::Packet t = decode_inner(teredo, wl::Packet::Encap::Ip, "teredo");
    CHECK(t.udp.dst_port() == 53);
    const Bytes inner = inner_ipv4_tcp();
    const Bytes gtp = outer_udp(
        2152, cat({0x30, 0xff, 0, static_cast<std::uint8_t>(inner.size()), 0, 0, 0, 1}, inner));
    check_inner_tcp(decode_inner(gtp, wl::Packet::Encap::Ip, "gtpu"));
}

TEST_CASE("tunnels: what is not a tunnel is left alone", "[tunnel]") {
    auto encap_of = [](const Bytes& frame) {
        wl::Packet p;
        p.linktype = wl::linktype::kEthernet;
        p.caplen = p.wire_len = static_cast<std::uint32_t>(frame.size());
        wl::decode(wl::Bytes{frame.data(), frame.size()}, p);
        return p.encap;
    };
    // Teredo port, but not an IPv6 packet of the datagram's length.
    CHECK(encap_of(outer_udp(3544, Bytes{0x60, 0, 0, 0, 0, 99})) == wl::Packet::Encap::None);
    // VXLAN port without the I flag; GTP-U that is not a G-PDU; GRE version 1 (PPTP).
    CHECK(encap_of(outer_udp(4789, cat(Bytes(8, 0), inner_ethernet()))) == wl::Packet::Encap::None);
    CHECK(encap_of(outer_udp(2152, Bytes{0x30, 0x01, 0, 4, 0, 0, 0, 1, 0x45, 0, 0, 0})) ==
          wl::Packet::Encap::None);
    CHECK(encap_of(outer_ip(47, Bytes{0x30, 0x01, 0x88, 0x0b, 0, 0, 0, 0})) ==
          wl::Packet::Encap::None);
    // Every cut of a GRE tunnel decodes without reading past the end.
    const Bytes frame = outer_ip(
        47,
        cat(Bytes{0xb0, 0x00, 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 9}, inner_ipv4_tcp()));
    for (std::size_t n = 0; n < frame.size(); ++n) {
        const Bytes cut(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(n));
        wl::Packet p;
        p.linktype = wl::linktype::kEthernet;
        p.caplen = static_cast<std::uint32_t>(n);
        p.wire_len = static_cast<std::uint32_t>(frame.size());
        wl::decode(wl::Bytes{cut.data(), cut.size()}, p);
        if (p.encap != wl::Packet::Encap::None) {
            CHECK(p.encap_bytes.data() + p.encap_bytes.size() <= cut.data() + cut.size());
        }
    }
}

// The tunnel views on literal headers: where the inner packet starts and what it is.
TEST_CASE("tunnel views: header lengths and inner protocols", "[tunnel][views]") {
    using wl::Encap;
    auto span = [](const Bytes& b) { return wl::Bytes{b.data(), b.size()}; };
    SECTION("GRE: 4 bytes and a word per C, K, S flag; version 0 without routing only") {
        wl::GreView gre{};
        const Bytes plain = {0x00, 0x00, 0x08, 0x00};
        REQUIRE(wl::GreView::parse(span(plain), gre));
        CHECK(gre.header_len() == 4);
        CHECK(gre.inner() == Encap::Ip);
        const Bytes keyed = {0xb0, 0x00, 0x65, 0x58};  // C, K, S: Ethernet
        REQUIRE(wl::GreView::parse(span(keyed), gre));
        CHECK(gre.header_len() == 16);
        CHECK(gre.inner() == Encap::Ethernet);
        const Bytes other = {0x00, 0x00, 0x88, 0x0b};  // PPP
        REQUIRE(wl::GreView::parse(span(other), gre));
        CHECK(gre.inner() == Encap::None);
        CHECK_FALSE(wl::GreView::parse(span({0x00, 0x01, 0x08, 0x00}), gre));  // version 1
        CHECK_FALSE(wl::GreView::parse(span({0x40, 0x00, 0x08, 0x00}), gre));  // routing
        CHECK_FALSE(wl::GreView::parse(span({0x00, 0x00, 0x08}), gre));
    }
    SECTION("VXLAN: the I flag, 8 bytes, Ethernet inside") {
        wl::VxlanView v{};
        const Bytes h = {0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0};
        REQUIRE(wl::VxlanView::parse(span(h), v));
        CHECK(v.vni() == 0x123456);
        CHECK(v.header_len() == 8);
        CHECK(v.inner() == Encap::Ethernet);
        CHECK_FALSE(wl::VxlanView::parse(span({0x00, 0, 0, 0, 0, 0, 0, 0}), v));
        CHECK_FALSE(wl::VxlanView::parse(span({0x08, 0, 0, 0, 0, 0, 0}), v));
    }
    SECTION("Geneve: options counted in 4-byte units") {
        wl::GeneveView g{};
        const Bytes h = {0x02, 0, 0x86, 0xdd, 0, 0, 1, 0};
        REQUIRE(wl::GeneveView::parse(span(h), g));
        CHECK(g.header_len() == 16);
        CHECK(g.inner() == Encap::Ip);
        CHECK_FALSE(wl::GeneveView::parse(span({0x40, 0, 0x65, 0x58, 0, 0, 1, 0}), g));
    }
    SECTION("Teredo and GTP-U: the IP packet after their optional parts") {
        const Bytes v6 = inner_ipv6_udp();
        wl::TeredoView t{};
        REQUIRE(wl::TeredoView::parse(span(v6), t));
        CHECK(t.header_len() == 0);
        const Bytes origin = cat({0x00, 0x00, 0x12, 0x34, 1, 2, 3, 4}, v6);
        REQUIRE(wl::TeredoView::parse(span(origin), t));
        CHECK(t.header_len() == 8);
        CHECK_FALSE(wl::TeredoView::parse(span(Bytes(v6.begin(), v6.end() - 1)), t));

        const Bytes v4 = inner_ipv4_tcp();
        wl::GtpuView g{};
        const Bytes plain = cat({0x30, 0xff, 0, 0, 0, 0, 0, 7}, v4);
        REQUIRE(wl::GtpuView::parse(span(plain), g));
        CHECK(g.header_len() == 8);
        CHECK(g.teid() == 7);
        // E flag: one 4-byte extension header (type 0x85), then no more.
        const Bytes ext = {0x34, 0xff, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0x85, 1, 0xaa, 0xbb, 0x00};
        const Bytes extended = cat(ext, v4);
        REQUIRE(wl::GtpuView::parse(span(extended), g));
        CHECK(g.header_len() == 16);
        CHECK(g.inner() == Encap::Ip);
        CHECK_FALSE(wl::GtpuView::parse(span(cat({0x30, 0x01, 0, 0, 0, 0, 0, 7}, v4)), g));
    }
}

namespace {

// Every cut of `frame` decodes, and what it hands back as tunnelled lies within the cut.
void check_every_cut(const Bytes& frame) {
    for (std::size_t n = 0; n < frame.size(); ++n) {
        const Bytes cut(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(n));
        wl::Packet p;
        p.linktype = wl::linktype::kEthernet;
        p.caplen = static_cast<std::uint32_t>(n);
        p.wire_len = static_cast<std::uint32_t>(frame.size());
        wl::decode(wl::Bytes{cut.data(), cut.size()}, p);
        if (p.encap != wl::Packet::Encap::None) {
            CHECK(p.encap_bytes.data() >= cut.data());
            CHECK(p.encap_bytes.data() + p.encap_bytes.size() <= cut.data() + cut.size());
        }
    }
}

// PPTP's GRE: K, S, A, version 1; payload length, call id 7, sequence 5, ack 4; then PPP.
Bytes pptp_gre(const Bytes& ppp) {
    const auto len = static_cast<std::uint8_t>(ppp.size());
    return cat({0x30, 0x81, 0x88, 0x0b, 0, len, 0, 7, 0, 0, 0, 5, 0, 0, 0, 4}, ppp);
}

}  // namespace

TEST_CASE("tunnels: PPTP's enhanced GRE carrying PPP", "[tunnel]") {
    const Bytes v4 = inner_ipv4_tcp();
    // Address and control, 2-byte protocol; then the compressed forms of both.
    const Bytes full = outer_ip(47, pptp_gre(cat({0xff, 0x03, 0x00, 0x21}, v4)));
    check_inner_tcp(decode_inner(full, wl::Packet::Encap::Ip, "pptp"));
    const Bytes pfc = outer_ip(47, pptp_gre(cat({0x21}, v4)));
    check_inner_tcp(decode_inner(pfc, wl::Packet::Encap::Ip, "pptp"));
    const Bytes acfc = outer_ip(47, pptp_gre(cat({0x00, 0x21}, v4)));
    check_inner_tcp(decode_inner(acfc, wl::Packet::Encap::Ip, "pptp"));
    const Bytes v6 = outer_ip(47, pptp_gre(cat({0xff, 0x03, 0x00, 0x57}, inner_ipv6_udp())));
    const wl::Packet in6 = decode_inner(v6, wl::Packet::Encap::Ip, "pptp");
    CHECK(in6.ip_version == 6);
    CHECK(in6.udp.dst_port() == 53);

    auto encap_of = [](const Bytes& frame) {
        wl::Packet p;
        p.linktype = wl::linktype::kEthernet;
        p.caplen = p.wire_len = static_cast<std::uint32_t>(frame.size());
        wl::decode(wl::Bytes{frame.data(), frame.size()}, p);
        CHECK_FALSE(p.malformed());
        return p.encap;
    };
    // An acknowledgment alone (K, A; payload length 0) and PPP's LCP carry no packet.
    CHECK(encap_of(outer_ip(47, Bytes{0x20, 0x81, 0x88, 0x0b, 0, 0, 0, 7, 0, 0, 0, 4})) ==
          wl::Packet::Encap::None);
    CHECK(encap_of(outer_ip(47, pptp_gre({0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 4}))) ==
          wl::Packet::Encap::None);
    check_every_cut(full);
    check_every_cut(pfc);
}

TEST_CASE("tunnels: ERSPAN, Aruba, GRE over UDP, AYIYA", "[tunnel]") {
    const Bytes frame = inner_ethernet();
    // ERSPAN type I: GRE without sequence number, Ethernet right after.
    const Bytes type1 = outer_ip(47, cat({0x00, 0x00, 0x88, 0xbe}, frame));
    check_inner_tcp(decode_inner(type1, wl::Packet::Encap::Ethernet, "erspan"));
    // Type II: sequence number, then 8 bytes of ERSPAN header.
    const Bytes type2 = outer_ip(
        47, cat({0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 1, 0x10, 0x0a, 0x01, 0x23, 0, 0, 0, 0}, frame));
    check_inner_tcp(decode_inner(type2, wl::Packet::Encap::Ethernet, "erspan"));
    // Type III: 12 bytes, and 8 more with the O flag.
    const Bytes h3 = {0x10, 0x00, 0x22, 0xeb, 0, 0, 0, 1, 0x20, 0x0a,
                      0x01, 0x55, 0,    0,    0, 0, 0, 0, 0,    0};
    const Bytes type3 = outer_ip(47, cat(h3, frame));
    check_inner_tcp(decode_inner(type3, wl::Packet::Encap::Ethernet, "erspan"));
    Bytes h3o = h3;
    h3o.back() = 0x01;
    const Bytes type3o = outer_ip(47, cat(cat(h3o, Bytes(8, 0xee)), frame));
    check_inner_tcp(decode_inner(type3o, wl::Packet::Encap::Ethernet, "erspan"));

    // Aruba: an 802.11 frame, handed back as such.
    wl::Packet aruba;
    const Bytes ar = outer_ip(47, cat({0x00, 0x00, 0x82, 0x00}, Bytes(40, 0x08)));
    aruba.linktype = wl::linktype::kEthernet;
    aruba.caplen = aruba.wire_len = static_cast<std::uint32_t>(ar.size());
    wl::decode(wl::Bytes{ar.data(), ar.size()}, aruba);
    CHECK(aruba.encap == wl::Encap::Ieee80211);
    CHECK(aruba.encap_kind == wl::TunnelKind::Aruba);
    CHECK(aruba.encap_bytes.size() == 40);
    CHECK(wl::linktype_of(aruba.encap) == 105);

    const Bytes greudp = outer_udp(4754, cat({0x00, 0x00, 0x08, 0x00}, inner_ipv4_tcp()));
    check_inner_tcp(decode_inner(greudp, wl::Packet::Encap::Ip, "gre_udp"));

    // AYIYA: identity 2^4 bytes, signature 5 * 4 bytes, forward, IPv4.
    const Bytes ay =
        cat(cat({0x41, 0x52, 0x11, 0x04, 0, 0, 0, 0}, Bytes(36, 0xab)), inner_ipv4_tcp());
    const Bytes ayiya = outer_udp(5072, ay);
    check_inner_tcp(decode_inner(ayiya, wl::Packet::Encap::Ip, "ayiya"));

    for (const Bytes* f : {&type2, &type3, &type3o, &ar, &greudp, &ayiya})
        check_every_cut(*f);
}

TEST_CASE("tunnel views: PPP, ERSPAN, Aruba and AYIYA headers", "[tunnel][views]") {
    using wl::Encap;
    auto span = [](const Bytes& b) { return wl::Bytes{b.data(), b.size()}; };
    SECTION("GRE version 1: key of length and call id, sequence, ack") {
        wl::GreView gre{};
        const Bytes h = pptp_gre({0xff, 0x03, 0x00, 0x21, 0x45});
        REQUIRE(wl::GreView::parse(span(h), gre));
        CHECK(gre.version() == 1);
        CHECK(gre.header_len() == 16);
        CHECK(gre.pptp_payload_len() == 5);
        CHECK(gre.pptp_call_id() == 7);
        CHECK(gre.sequence() == 5);
        CHECK(gre.ack() == 4);
        wl::TunnelKind kind{};
        std::size_t at = 0;
        CHECK(gre.payload(kind, at) == Encap::Ip);
        CHECK(kind == wl::TunnelKind::Pptp);
        CHECK(at == 20);
        // Not PPP, or no key: not PPTP.
        CHECK_FALSE(wl::GreView::parse(span({0x30, 0x81, 0x08, 0x00, 0, 0, 0, 0}), gre));
        CHECK_FALSE(wl::GreView::parse(span({0x10, 0x81, 0x88, 0x0b, 0, 0, 0, 0}), gre));
        // Reserved flags, and version 0 with the A bit.
        CHECK_FALSE(wl::GreView::parse(span({0x00, 0x08, 0x08, 0x00}), gre));
        CHECK_FALSE(wl::GreView::parse(span({0x00, 0x80, 0x08, 0x00}), gre));
        // The header claims more than there is: nothing inside.
        const Bytes cut(h.begin(), h.begin() + 14);
        REQUIRE(wl::GreView::parse(span(cut), gre));
        CHECK(gre.payload(kind, at) == Encap::None);
    }
    SECTION("ERSPAN: version, session id, header lengths") {
        wl::ErspanView e{};
        const Bytes t2 = cat({0x10, 0x0a, 0x01, 0x23, 0, 0, 0, 0}, Bytes(14, 0));
        REQUIRE(wl::ErspanView::parse(span(t2), wl::greproto::kErspan2, true, e));
        CHECK(e.header_len() == 8);
        CHECK(e.version() == 1);
        CHECK(e.session_id() == 0x123);
        REQUIRE(wl::ErspanView::parse(span(t2), wl::greproto::kErspan2, false, e));
        CHECK(e.header_len() == 0);  // type I
        Bytes t3 = cat({0x20, 0x0a, 0x01, 0x55, 0, 0, 0, 0, 0, 0, 0, 0x01}, Bytes(22, 0));
        REQUIRE(wl::ErspanView::parse(span(t3), wl::greproto::kErspan3, true, e));
        CHECK(e.header_len() == 20);
        CHECK(e.version() == 2);
        CHECK(e.session_id() == 0x155);
        t3.pop_back();  // no room left for the Ethernet header
        CHECK_FALSE(wl::ErspanView::parse(span(t3), wl::greproto::kErspan3, true, e));
        CHECK_FALSE(wl::ErspanView::parse(span(Bytes(11, 0)), wl::greproto::kErspan3, true, e));
    }
    SECTION("Aruba: the protocols Zeek reads as 802.11 (bits 0x8200 set, low nibble 0)") {
        for (std::uint16_t p : {0x8200, 0x8210, 0x8300, 0x8370, 0x9000})
            CHECK(wl::greproto::is_aruba(p));
        for (std::uint16_t p : {0x8201, 0x8400, 0x0800, 0x6558, 0x88be})
            CHECK_FALSE(wl::greproto::is_aruba(p));
    }
    SECTION("AYIYA: identity and signature lengths, forward only") {
        wl::AyiyaView a{};
        const Bytes v6 = inner_ipv6_udp();
        const Bytes h = cat(cat({0x41, 0x52, 0x11, 41, 0, 0, 0, 0}, Bytes(36, 0)), v6);
        REQUIRE(wl::AyiyaView::parse(span(h), a));
        CHECK(a.header_len() == 44);
        CHECK(a.opcode() == 1);
        CHECK(a.inner() == Encap::Ip);
        Bytes other = h;
        other[2] = 0x12;  // not "forward"
        REQUIRE(wl::AyiyaView::parse(span(other), a));
        CHECK(a.inner() == Encap::None);
        other = h;
        other[3] = 4;  // says IPv4, carries IPv6
        REQUIRE(wl::AyiyaView::parse(span(other), a));
        CHECK(a.inner() == Encap::None);
        CHECK_FALSE(wl::AyiyaView::parse(span(Bytes(h.begin(), h.begin() + 43)), a));
        CHECK_FALSE(wl::AyiyaView::parse(span(Bytes(h.begin(), h.begin() + 7)), a));
        const Bytes bare(h.begin(), h.begin() + 44);  // the header alone: nothing inside
        REQUIRE(wl::AyiyaView::parse(span(bare), a));
        CHECK(a.inner() == Encap::None);
    }
}
