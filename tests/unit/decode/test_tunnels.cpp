// Tunnels: the decoder hands the carried packet back (IP-in-IP, GRE, VXLAN,
// Geneve, Teredo, GTP-U), and decoding it gives the inner connection.
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
