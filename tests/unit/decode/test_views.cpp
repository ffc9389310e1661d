// The header views on literal bytes: every getter against the value the bytes
// were built from (see test_decoder_frames.hpp), and each parse() on the
// smallest buffers it must refuse.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tests/unit/decode/test_decoder_frames.hpp"

using namespace wl;
using namespace wl::testing;

namespace {

Bytes bytes_of(const std::vector<std::uint8_t>& v, std::size_t from = 0) {
    return Bytes{v.data(), v.size()}.subspan(from);
}

std::string text_of(Bytes b) {
    return std::string(b.begin(), b.end());
}

}  // namespace

TEST_CASE("EthernetView reads addresses, type and payload", "[views][ethernet]") {
    EthernetView eth{};
    REQUIRE(EthernetView::parse(bytes_of(kSyn), eth) == DecodeError::None);
    CHECK(hex_of(eth.dst().p, 6) == "00000c07ac01");
    CHECK(hex_of(eth.src().p, 6) == "001b213a4f5e");
    CHECK(eth.type_or_length() == 0x0800);
    CHECK(eth.payload().size() == kSyn.size() - 14);
    CHECK(eth.payload().data() == kSyn.data() + 14);
    CHECK_FALSE(eth.dst().is_group());
    CHECK_FALSE(eth.dst().is_local());
    CHECK_FALSE(eth.dst().is_broadcast());

    REQUIRE(EthernetView::parse(bytes_of(kArpRequest), eth) == DecodeError::None);
    CHECK(eth.dst().is_broadcast());
    CHECK(eth.dst().is_group());
    CHECK(eth.type_or_length() == 0x0806);

    const std::uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb};
    CHECK(MacAddr{mcast}.is_group());
    CHECK_FALSE(MacAddr{mcast}.is_broadcast());
    CHECK_FALSE(MacAddr{mcast}.is_local());
    const std::uint8_t local[6] = {0x02, 0x42, 0xac, 0x11, 0x00, 0x02};
    CHECK(MacAddr{local}.is_local());
    CHECK_FALSE(MacAddr{local}.is_group());
    const std::uint8_t almost[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xfe};
    CHECK_FALSE(MacAddr{almost}.is_broadcast());

    const std::vector<std::uint8_t> short_frame = slice(kSyn, 0, 13);
    CHECK(EthernetView::parse(bytes_of(short_frame), eth) == DecodeError::Truncated);
    const std::vector<std::uint8_t> header_only = slice(kSyn, 0, 14);
    REQUIRE(EthernetView::parse(bytes_of(header_only), eth) == DecodeError::None);
    CHECK(eth.payload().empty());
}

TEST_CASE("VlanTag splits the TCI into priority, DEI and id", "[views][vlan]") {
    const VlanTag a{ethertype::kVlan, 0xa00a};  // pcp 5, dei 0, vid 10
    CHECK(a.pcp() == 5);
    CHECK_FALSE(a.dei());
    CHECK(a.id() == 10);
    const VlanTag b{ethertype::kQinQ, 0x3fff};  // pcp 1, dei 1, vid 4095
    CHECK(b.pcp() == 1);
    CHECK(b.dei());
    CHECK(b.id() == 4095);
    CHECK(ethertype::is_vlan(0x8100));
    CHECK(ethertype::is_vlan(0x88a8));
    CHECK(ethertype::is_vlan(0x9100));
    CHECK_FALSE(ethertype::is_vlan(0x0800));
}

TEST_CASE("LinuxSllView reads cooked headers v1 and v2", "[views][sll]") {
    // SLL v1: outgoing (4), ARPHRD_ETHER (1), 6 address bytes, IPv4.
    const std::vector<std::uint8_t> v1 = {0x00, 0x04, 0x00, 0x01, 0x00, 0x06, 0x00, 0x1b, 0x21,
                                          0x3a, 0x4f, 0x5e, 0x00, 0x00, 0x08, 0x00, 0x45};
    LinuxSllView sll{};
    REQUIRE(LinuxSllView::parse(bytes_of(v1), 1, sll) == DecodeError::None);
    CHECK(sll.version == 1);
    CHECK(sll.header_len() == 16);
    CHECK(sll.packet_type() == 4);
    CHECK(sll.hatype() == 1);
    CHECK(sll.addr_len() == 6);
    CHECK(hex_of(sll.addr(), 6) == "001b213a4f5e");
    CHECK(sll.protocol() == 0x0800);
    CHECK(sll.ifindex() == 0);
    CHECK(sll.payload().size() == 1);
    CHECK(sll.payload()[0] == 0x45);

    // SLL2: IPv6, reserved, ifindex 3, ARPHRD_ETHER, host (0), 6 address bytes.
    const std::vector<std::uint8_t> v2 = {0x86, 0xdd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03,
                                          0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x0c, 0x07,
                                          0xac, 0x01, 0x00, 0x00, 0x60, 0x00};
    REQUIRE(LinuxSllView::parse(bytes_of(v2), 2, sll) == DecodeError::None);
    CHECK(sll.version == 2);
    CHECK(sll.header_len() == 20);
    CHECK(sll.protocol() == 0x86dd);
    CHECK(sll.ifindex() == 3);
    CHECK(sll.hatype() == 1);
    CHECK(sll.packet_type() == 0);
    CHECK(sll.addr_len() == 6);
    CHECK(hex_of(sll.addr(), 6) == "00000c07ac01");
    CHECK(sll.payload().size() == 2);

    // An address length beyond the 8-byte field is clamped.
    std::vector<std::uint8_t> long_addr = v1;
    long_addr[5] = 20;
    REQUIRE(LinuxSllView::parse(bytes_of(long_addr), 1, sll) == DecodeError::None);
    CHECK(sll.addr_len() == 8);

    const std::vector<std::uint8_t> v1_short = slice(v1, 0, 15);
    CHECK(LinuxSllView::parse(bytes_of(v1_short), 1, sll) == DecodeError::Truncated);
    const std::vector<std::uint8_t> v2_short = slice(v2, 0, 19);
    CHECK(LinuxSllView::parse(bytes_of(v2_short), 2, sll) == DecodeError::Truncated);
    const std::vector<std::uint8_t> v1_exact = slice(v1, 0, 16);
    REQUIRE(LinuxSllView::parse(bytes_of(v1_exact), 1, sll) == DecodeError::None);
    CHECK(sll.payload().empty());
}

TEST_CASE("NullLinkView reads the family in either byte order", "[views][null]") {
    NullLinkView n{};
    struct Case {
        std::vector<std::uint8_t> bytes;
        bool network_order;
        std::uint32_t family;
        bool v4, v6;
    };
    const Case cases[] = {
        {{0x02, 0x00, 0x00, 0x00}, false, 2, true, false},   // little-endian writer
        {{0x00, 0x00, 0x00, 0x02}, false, 2, true, false},   // big-endian writer
        {{0x00, 0x00, 0x00, 0x02}, true, 2, true, false},    // DLT_LOOP
        {{0x18, 0x00, 0x00, 0x00}, false, 24, false, true},  // NetBSD/OpenBSD AF_INET6
        {{0x00, 0x00, 0x00, 0x1c}, false, 28, false, true},  // FreeBSD, big-endian writer
        {{0x1e, 0x00, 0x00, 0x00}, false, 30, false, true},  // Darwin
        {{0x0a, 0x00, 0x00, 0x00}, false, 10, false, true},  // Linux AF_INET6
        {{0x00, 0x00, 0x00, 0x18}, true, 24, false, true},
        {{0x07, 0x00, 0x00, 0x00}, false, 7, false, false},  // AF_OSI
    };
    for (const auto& c : cases) {
        INFO("bytes " << hex_of(c.bytes.data(), 4) << " network order " << c.network_order);
        REQUIRE(NullLinkView::parse(bytes_of(c.bytes), c.network_order, n) == DecodeError::None);
        CHECK(n.family == c.family);
        CHECK(n.is_ipv4() == c.v4);
        CHECK(n.is_ipv6() == c.v6);
        CHECK(n.payload().empty());
    }
    // DLT_LOOP is always big-endian: a little-endian 2 is not AF_INET.
    const std::vector<std::uint8_t> le2 = {0x02, 0x00, 0x00, 0x00};
    REQUIRE(NullLinkView::parse(bytes_of(le2), true, n) == DecodeError::None);
    CHECK_FALSE(n.is_ipv4());

    const std::vector<std::uint8_t> three = {0x02, 0x00, 0x00};
    CHECK(NullLinkView::parse(bytes_of(three), false, n) == DecodeError::Truncated);
}

TEST_CASE("ArpView reads an Ethernet/IPv4 request", "[views][arp]") {
    ArpView arp{};
    REQUIRE(ArpView::parse(bytes_of(kArpRequest, kEthLen), arp) == DecodeError::None);
    CHECK(arp.hardware_type() == 1);
    CHECK(arp.protocol_type() == 0x0800);
    CHECK(arp.hardware_len() == 6);
    CHECK(arp.protocol_len() == 4);
    CHECK(arp.operation() == 1);
    REQUIRE(arp.is_ether_ipv4());
    CHECK(hex_of(arp.sender_mac(), 6) == "001b213a4f5e");
    CHECK(hex_of(arp.sender_ip(), 4) == "c0a80164");  // 192.168.1.100
    CHECK(hex_of(arp.target_mac(), 6) == "000000000000");
    CHECK(hex_of(arp.target_ip(), 4) == "c0a80101");  // 192.168.1.1

    const std::vector<std::uint8_t> body = slice(kArpRequest, kEthLen, kEthLen + 28);
    for (std::size_t n = 0; n < body.size(); ++n) {
        const std::vector<std::uint8_t> cut = slice(body, 0, n);
        INFO("ARP cut to " << n << " bytes");
        CHECK(ArpView::parse(bytes_of(cut), arp) == DecodeError::Truncated);
    }
    REQUIRE(ArpView::parse(bytes_of(body), arp) == DecodeError::None);

    // ARP over another hardware type: the fixed header only.
    std::vector<std::uint8_t> other = body;
    other[1] = 6;  // IEEE 802
    REQUIRE(ArpView::parse(bytes_of(other), arp) == DecodeError::None);
    CHECK_FALSE(arp.is_ether_ipv4());
    // Address lengths that need more bytes than there are.
    std::vector<std::uint8_t> longer = body;
    longer[4] = 8;
    CHECK(ArpView::parse(bytes_of(longer), arp) == DecodeError::Truncated);
}

TEST_CASE("Ipv4View reads every header field", "[views][ipv4]") {
    Ipv4View ip{};
    const Bytes all = bytes_of(kSyn, kEthLen);
    REQUIRE(Ipv4View::parse(all, 60, ip) == DecodeError::None);
    CHECK(ip.header_len() == 20);
    CHECK(ip.tos() == 0);
    CHECK(ip.total_len() == 60);
    CHECK(ip.id() == 0x1c46);
    CHECK(ip.dont_fragment());
    CHECK_FALSE(ip.more_fragments());
    CHECK_FALSE(ip.reserved_flag());
    CHECK(ip.fragment_offset() == 0);
    CHECK_FALSE(ip.is_fragment());
    CHECK(ip.ttl() == 64);
    CHECK(ip.protocol() == 6);
    CHECK(ip.checksum() == 0x268f);
    CHECK(hex_of(ip.src(), 4) == "c0a80164");  // 192.168.1.100
    CHECK(hex_of(ip.dst(), 4) == "5db8d822");  // 93.184.216.34
    CHECK(ip.header().size() == 20);
    CHECK(ip.payload().size() == 40);
    CHECK(ip.payload().data() == kSyn.data() + kIp4End);
    CHECK(ip.payload_wire_len == 40);

    const Bytes icmp = bytes_of(kIcmpEcho, kEthLen);
    REQUIRE(Ipv4View::parse(icmp, 60, ip) == DecodeError::None);
    CHECK_FALSE(ip.dont_fragment());
    CHECK(ip.ttl() == 128);
    CHECK(ip.protocol() == 1);
    CHECK(ip.id() == 0x0101);

    SECTION("flags and fragment offset") {
        std::vector<std::uint8_t> h = slice(kSyn, kEthLen, kSyn.size());
        h[6] = 0xa0 | 0x01;  // reserved + MF, offset 0x1b9 = 441
        h[7] = 0xb9;
        REQUIRE(Ipv4View::parse(bytes_of(h), 60, ip) == DecodeError::None);
        CHECK(ip.reserved_flag());
        CHECK(ip.more_fragments());
        CHECK_FALSE(ip.dont_fragment());
        CHECK(ip.fragment_offset() == 441);
        CHECK(ip.is_fragment());
        h[6] = 0x00;
        h[7] = 0x01;  // offset 1, no MF: the last fragment
        REQUIRE(Ipv4View::parse(bytes_of(h), 60, ip) == DecodeError::None);
        CHECK(ip.is_fragment());
        CHECK_FALSE(ip.more_fragments());
        CHECK(ip.fragment_offset() == 1);
    }

    SECTION("options") {
        // IHL 6: router alert (148, length 4); total length 24 + 4 payload bytes.
        const std::vector<std::uint8_t> h = {
            0x46, 0x00, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x0a, 0x00,
            0x00, 0x01, 0xe0, 0x00, 0x00, 0x16, 0x94, 0x04, 0x00, 0x00, 0x11, 0x22, 0x33, 0x44};
        REQUIRE(Ipv4View::parse(bytes_of(h), 28, ip) == DecodeError::None);
        CHECK(ip.header_len() == 24);
        CHECK(ip.protocol() == 2);
        CHECK(ip.payload().size() == 4);
        CHECK(ip.payload()[0] == 0x11);
        CHECK(ip.payload_wire_len == 4);

        std::vector<std::uint8_t> bad = h;
        bad[21] = 1;  // option length 1
        CHECK(Ipv4View::parse(bytes_of(bad), 28, ip) == DecodeError::BadOptionLength);
        CHECK(ip.protocol() == 2);  // the header stays usable
        bad[21] = 8;                // past the header
        CHECK(Ipv4View::parse(bytes_of(bad), 28, ip) == DecodeError::BadOptionLength);
        bad[20] = 0x01;  // NOP, NOP, NOP, EOL
        bad[21] = 0x01;
        bad[22] = 0x01;
        bad[23] = 0x00;
        CHECK(Ipv4View::parse(bytes_of(bad), 28, ip) == DecodeError::None);
        bad[23] = 0x07;  // an option kind with no room for its length
        CHECK(Ipv4View::parse(bytes_of(bad), 28, ip) == DecodeError::BadOptionLength);
    }

    SECTION("refusals") {
        std::vector<std::uint8_t> h = slice(kSyn, kEthLen, kSyn.size());
        CHECK(Ipv4View::parse(Bytes{}, 60, ip) == DecodeError::Truncated);
        h[0] = 0x65;
        CHECK(Ipv4View::parse(bytes_of(h), 60, ip) == DecodeError::BadVersion);
        h[0] = 0x44;  // IHL 4
        CHECK(Ipv4View::parse(bytes_of(h), 60, ip) == DecodeError::BadHeaderLength);
        h[0] = 0x40;  // IHL 0
        CHECK(Ipv4View::parse(bytes_of(h), 60, ip) == DecodeError::BadHeaderLength);
        h[0] = 0x45;
        put16(h, 2, 19);  // total length shorter than the header
        CHECK(Ipv4View::parse(bytes_of(h), 60, ip) == DecodeError::BadTotalLength);
        put16(h, 2, 61);  // longer than the frame
        CHECK(Ipv4View::parse(bytes_of(h), 60, ip) == DecodeError::BadTotalLength);
        put16(h, 2, 100);  // longer than captured, within the wire: snapped
        REQUIRE(Ipv4View::parse(bytes_of(h), 100, ip) == DecodeError::None);
        CHECK(ip.payload().size() == 40);
        CHECK(ip.payload_wire_len == 80);
    }
}

TEST_CASE("Ipv6View reads the fixed header", "[views][ipv6]") {
    Ipv6View ip{};
    const Bytes all = bytes_of(kIpv6ExtTcp, kEthLen);
    REQUIRE(Ipv6View::parse(all, 96, ip) == DecodeError::None);
    CHECK(ip.traffic_class() == 0xb8);
    CHECK(ip.flow_label() == 0x12345);
    CHECK(ip.payload_len_field() == 56);
    CHECK(ip.next_header() == 0);
    CHECK(ip.hop_limit() == 64);
    CHECK(hex_of(ip.src(), 16) == "20010db8000000000000000000000001");
    CHECK(hex_of(ip.dst(), 16) == "20010db8000000010000000000000002");
    CHECK(ip.payload().size() == 56);
    CHECK(ip.payload_wire_len == 56);

    CHECK(Ipv6View::parse(Bytes{}, 96, ip) == DecodeError::Truncated);
    std::vector<std::uint8_t> h = slice(kIpv6ExtTcp, kEthLen, kIpv6ExtTcp.size());
    h[0] = 0x45;
    CHECK(Ipv6View::parse(bytes_of(h), 96, ip) == DecodeError::BadVersion);
    h[0] = 0x6b;
    const std::vector<std::uint8_t> h39 = slice(h, 0, 39);
    CHECK(Ipv6View::parse(bytes_of(h39), 96, ip) == DecodeError::Truncated);
    put16(h, 4, 57);  // one byte more than the frame
    CHECK(Ipv6View::parse(bytes_of(h), 96, ip) == DecodeError::BadTotalLength);
    put16(h, 4, 50);  // less: the rest is trailer
    REQUIRE(Ipv6View::parse(bytes_of(h), 96, ip) == DecodeError::None);
    CHECK(ip.payload().size() == 50);
    put16(h, 4, 200);  // more than captured, within the wire: snapped
    REQUIRE(Ipv6View::parse(bytes_of(h), 240, ip) == DecodeError::None);
    CHECK(ip.payload().size() == 56);
    CHECK(ip.payload_wire_len == 200);
}

TEST_CASE("Ipv6Chain walks hop-by-hop, destination options and fragment", "[views][ipv6]") {
    Ipv6Chain chain{};
    const std::vector<std::uint8_t> payload = slice(kIpv6ExtTcp, kIp6End, kIpv6ExtTcp.size());
    REQUIRE(Ipv6Chain::walk(0, bytes_of(payload), 56, chain) == DecodeError::None);
    CHECK(chain.count == 3);
    CHECK(chain.types[0] == ipproto::kHopByHop);
    CHECK(chain.types[1] == ipproto::kDestOpts);
    CHECK(chain.types[2] == ipproto::kFragment);
    CHECK(chain.upper_protocol == ipproto::kTcp);
    CHECK(chain.offset == 8 + 16 + 8);
    CHECK(chain.has_fragment);
    CHECK(chain.more_fragments);
    CHECK(chain.fragment_offset == 0);
    CHECK(chain.fragment_id == 0xdeadbeef);

    const std::vector<std::uint8_t> later = slice(kIpv6LaterFrag, kIp6End, kIpv6LaterFrag.size());
    REQUIRE(Ipv6Chain::walk(0, bytes_of(later), 48, chain) == DecodeError::None);
    CHECK(chain.count == 3);
    CHECK(chain.has_fragment);
    CHECK_FALSE(chain.more_fragments);
    CHECK(chain.fragment_offset == 185);
    CHECK(chain.offset == 32);

    SECTION("no extension headers") {
        REQUIRE(Ipv6Chain::walk(ipproto::kTcp, bytes_of(payload), 56, chain) == DecodeError::None);
        CHECK(chain.count == 0);
        CHECK(chain.upper_protocol == ipproto::kTcp);
        CHECK(chain.offset == 0);
        CHECK_FALSE(chain.has_fragment);
        REQUIRE(Ipv6Chain::walk(ipproto::kEsp, Bytes{}, 0, chain) == DecodeError::None);
        CHECK(chain.upper_protocol == ipproto::kEsp);
        REQUIRE(Ipv6Chain::walk(ipproto::kNoNext, Bytes{}, 0, chain) == DecodeError::None);
        CHECK(chain.upper_protocol == ipproto::kNoNext);
    }

    SECTION("AH counts its length in 4-byte units plus 2") {
        // AH: next TCP, payload length 4 -> (4 + 2) * 4 = 24 bytes.
        std::vector<std::uint8_t> ah(24 + 20, 0);
        ah[0] = ipproto::kTcp;
        ah[1] = 4;
        REQUIRE(Ipv6Chain::walk(ipproto::kAh, bytes_of(ah), 44, chain) == DecodeError::None);
        CHECK(chain.count == 1);
        CHECK(chain.types[0] == ipproto::kAh);
        CHECK(chain.offset == 24);
        CHECK(chain.upper_protocol == ipproto::kTcp);
    }

    SECTION("routing header length in 8-byte units plus 1") {
        std::vector<std::uint8_t> rh(24 + 8, 0);
        rh[0] = ipproto::kUdp;
        rh[1] = 2;  // 24 bytes
        REQUIRE(Ipv6Chain::walk(ipproto::kRouting, bytes_of(rh), 32, chain) == DecodeError::None);
        CHECK(chain.offset == 24);
        CHECK(chain.upper_protocol == ipproto::kUdp);
    }
}

TEST_CASE("TcpView reads a SYN with MSS, SACK-permitted, timestamps, NOP and wscale",
          "[views][tcp]") {
    TcpView tcp{};
    const Bytes seg = bytes_of(kSyn, kIp4End);
    REQUIRE(TcpView::parse(seg, 40, tcp) == DecodeError::None);
    CHECK(tcp.src_port() == 50000);
    CHECK(tcp.dst_port() == 80);
    CHECK(tcp.seq() == 0xa1b2c3d4u);
    CHECK(tcp.seq() == 2712847316u);
    CHECK(tcp.ack() == 0);
    CHECK(tcp.header_len() == 40);
    CHECK(tcp.flags() == tcpflag::kSyn);
    CHECK(tcp.has(tcpflag::kSyn));
    CHECK_FALSE(tcp.has(tcpflag::kAck));
    CHECK(tcp.window() == 64240);
    CHECK(tcp.checksum() == 0x49be);
    CHECK(tcp.urgent_ptr() == 0);
    CHECK(tcp.options().size() == 20);
    CHECK(tcp.payload().empty());
    CHECK(tcp.payload_wire_len == 0);

    struct Seen {
        std::uint8_t kind, len;
        std::string data;
    };
    std::vector<Seen> seen;
    tcp.for_each_option([&](const TcpOption& o) {
        seen.push_back({o.kind, o.len, hex_of(o.data, o.data_len())});
    });
    REQUIRE(seen.size() == 5);
    CHECK((seen[0].kind == tcpopt::kMss && seen[0].len == 4 && seen[0].data == "05b4"));
    CHECK((seen[1].kind == tcpopt::kSackPermitted && seen[1].len == 2 && seen[1].data.empty()));
    CHECK((seen[2].kind == tcpopt::kTimestamps && seen[2].len == 10 &&
           seen[2].data == "0001e24000000000"));  // val 123456, ecr 0
    CHECK((seen[3].kind == tcpopt::kNop && seen[3].len == 1));
    CHECK((seen[4].kind == tcpopt::kWindowScale && seen[4].len == 3 && seen[4].data == "07"));
}

TEST_CASE("TcpView reads a data segment and the nine flags", "[views][tcp]") {
    TcpView tcp{};
    const std::size_t at = kIp6End + 32;
    const Bytes seg = bytes_of(kIpv6ExtTcp, at);
    REQUIRE(TcpView::parse(seg, 24, tcp) == DecodeError::None);
    CHECK(tcp.src_port() == 443);
    CHECK(tcp.dst_port() == 51000);
    CHECK(tcp.seq() == 1000);
    CHECK(tcp.ack() == 2000);
    CHECK(tcp.flags() == (tcpflag::kPsh | tcpflag::kAck));
    CHECK(tcp.window() == 512);
    CHECK(tcp.options().empty());
    CHECK(text_of(tcp.payload()) == "ping");
    CHECK(tcp.payload_wire_len == 4);

    // Byte 13 bit k is flag 1 << k; byte 12 bit 0 is NS, flag 0x100.
    const std::uint16_t by_bit[8] = {tcpflag::kFin, tcpflag::kSyn, tcpflag::kRst, tcpflag::kPsh,
                                     tcpflag::kAck, tcpflag::kUrg, tcpflag::kEce, tcpflag::kCwr};
    std::vector<std::uint8_t> h(20, 0);
    h[12] = 0x50;
    for (int k = 0; k < 8; ++k) {
        h[13] = static_cast<std::uint8_t>(1u << k);
        REQUIRE(TcpView::parse(bytes_of(h), 20, tcp) == DecodeError::None);
        INFO("byte 13 bit " << k);
        CHECK(tcp.flags() == (1u << k));
        CHECK(tcp.flags() == by_bit[k]);
        CHECK(tcp.has(by_bit[k]));
        CHECK_FALSE(tcp.has(tcpflag::kNs));
    }
    h[13] = 0;
    h[12] = 0x51;
    REQUIRE(TcpView::parse(bytes_of(h), 20, tcp) == DecodeError::None);
    CHECK(tcp.flags() == 0x100);
    CHECK(tcp.has(tcpflag::kNs));
    CHECK(tcp.header_len() == 20);
    h[12] = 0x5e;  // the three reserved bits are not flags
    REQUIRE(TcpView::parse(bytes_of(h), 20, tcp) == DecodeError::None);
    CHECK(tcp.flags() == 0);
    h[12] = 0x5f;
    h[13] = 0xff;
    REQUIRE(TcpView::parse(bytes_of(h), 20, tcp) == DecodeError::None);
    CHECK(tcp.flags() == 0x1ff);
}

TEST_CASE("TcpView refuses impossible data offsets and option lengths", "[views][tcp]") {
    TcpView tcp{};
    // 24-byte header: 4 option bytes, then 2 payload bytes.
    std::vector<std::uint8_t> h(26, 0);
    h[0] = 0x04;  // port 1234
    h[1] = 0xd2;
    h[3] = 80;
    h[12] = 0x60;
    h[13] = 0x12;  // SYN ACK
    auto opts = [&](std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
        h[20] = a;
        h[21] = b;
        h[22] = c;
        h[23] = d;
        return TcpView::parse(bytes_of(h), 26, tcp);
    };
    CHECK(opts(1, 1, 1, 1) == DecodeError::None);
    CHECK(opts(0, 0xff, 0xff, 0xff) == DecodeError::None);  // EOL ends the list
    CHECK(opts(2, 4, 0x05, 0xb4) == DecodeError::None);
    CHECK(opts(8, 0, 1, 1) == DecodeError::BadOptionLength);     // length 0
    CHECK(opts(8, 1, 1, 1) == DecodeError::BadOptionLength);     // length 1
    CHECK(opts(8, 10, 0, 0) == DecodeError::BadOptionLength);    // past the header
    CHECK(opts(2, 3, 0x05, 1) == DecodeError::BadOptionLength);  // MSS of length 3
    CHECK(opts(3, 4, 7, 0) == DecodeError::BadOptionLength);     // wscale of length 4
    CHECK(opts(1, 1, 1, 99) == DecodeError::BadOptionLength);    // a kind with no length byte
    CHECK(opts(99, 4, 0, 0) == DecodeError::None);               // unknown kinds: any length >= 2
    // The header itself stays readable when only the options are wrong.
    CHECK(opts(2, 3, 0x05, 1) == DecodeError::BadOptionLength);
    CHECK(tcp.src_port() == 1234);
    CHECK(tcp.dst_port() == 80);
    CHECK(tcp.flags() == (tcpflag::kSyn | tcpflag::kAck));
    CHECK(tcp.payload().size() == 2);
    CHECK(tcp.payload_wire_len == 2);
    // The option walk does not go past what fits.
    CHECK(opts(1, 8, 10, 0) == DecodeError::BadOptionLength);
    int visited = 0;
    tcp.for_each_option([&](const TcpOption& o) {
        ++visited;
        CHECK(o.kind == tcpopt::kNop);
    });
    CHECK(visited == 1);

    h[20] = h[21] = h[22] = h[23] = 1;
    h[12] = 0x40;  // data offset 4
    CHECK(TcpView::parse(bytes_of(h), 26, tcp) == DecodeError::BadHeaderLength);
    h[12] = 0x70;  // 28 bytes: past the 26-byte segment
    CHECK(TcpView::parse(bytes_of(h), 26, tcp) == DecodeError::BadHeaderLength);
    // 28 bytes on the wire, 26 captured: a snap cut.
    CHECK(TcpView::parse(bytes_of(h), 40, tcp) == DecodeError::Truncated);
    h[12] = 0x50;
    CHECK(TcpView::parse(bytes_of(h), 19, tcp) == DecodeError::BadHeaderLength);
    const std::vector<std::uint8_t> h19 = slice(h, 0, 19);
    CHECK(TcpView::parse(bytes_of(h19), 26, tcp) == DecodeError::Truncated);
}

TEST_CASE("UdpView reads a DNS query", "[views][udp]") {
    UdpView udp{};
    const Bytes seg = bytes_of(kDnsQuery, kIp4End);
    REQUIRE(UdpView::parse(seg, 37, udp) == DecodeError::None);
    CHECK(udp.src_port() == 53000);
    CHECK(udp.dst_port() == 53);
    CHECK(udp.length() == 37);
    CHECK(udp.checksum() == 0x2cbc);
    CHECK(udp.payload_wire_len(37) == 29);
    REQUIRE(udp.payload().size() == 29);
    // The DNS header and question: id 0x1a2b, RD, one question, example.com A IN.
    const Bytes dns = udp.payload();
    CHECK(hex_of(dns.data(), 12) == "1a2b01000001000000000000");
    CHECK(text_of(dns.subspan(12, 13)) == std::string("\x07"
                                                      "example\x03"
                                                      "com",
                                                      12) +
                                              '\0');
    CHECK(hex_of(dns.data() + 25, 4) == "00010001");

    std::vector<std::uint8_t> h = slice(kDnsQuery, kIp4End, kDnsQuery.size());
    put16(h, 4, 7);
    CHECK(UdpView::parse(bytes_of(h), 37, udp) == DecodeError::BadLength);
    put16(h, 4, 38);
    CHECK(UdpView::parse(bytes_of(h), 37, udp) == DecodeError::BadLength);
    // A first fragment's UDP length covers the whole datagram.
    put16(h, 4, 1000);
    REQUIRE(UdpView::parse(bytes_of(h), 37, udp, true) == DecodeError::None);
    CHECK(udp.payload().size() == 29);
    CHECK(udp.payload_wire_len(37) == 29);
    // A UDP length below the IP payload: the rest is not UDP payload.
    put16(h, 4, 20);
    REQUIRE(UdpView::parse(bytes_of(h), 37, udp) == DecodeError::None);
    CHECK(udp.payload().size() == 12);
    CHECK(udp.payload_wire_len(37) == 12);
    CHECK(UdpView::parse(bytes_of(h), 7, udp) == DecodeError::BadLength);
    const std::vector<std::uint8_t> h7 = slice(h, 0, 7);
    CHECK(UdpView::parse(bytes_of(h7), 37, udp) == DecodeError::Truncated);
}

TEST_CASE("IcmpView reads an echo request", "[views][icmp]") {
    IcmpView icmp{};
    const Bytes seg = bytes_of(kIcmpEcho, kIp4End);
    REQUIRE(IcmpView::parse(seg, 40, icmp) == DecodeError::None);
    CHECK(icmp.type() == 8);
    CHECK(icmp.code() == 0);
    CHECK(icmp.checksum() == 0x4883);
    REQUIRE(icmp.has_echo_fields());
    CHECK(icmp.echo_id() == 1234);
    CHECK(icmp.echo_seq() == 7);

    const Bytes v6 = bytes_of(kIcmpv6Echo, kIp6End);
    REQUIRE(IcmpView::parse(v6, 10, icmp) == DecodeError::None);
    CHECK(icmp.type() == 128);
    CHECK(icmp.echo_id() == 0x1234);
    CHECK(icmp.echo_seq() == 1);
    CHECK(icmp.checksum() == 0xa9a7);

    const std::vector<std::uint8_t> seven = slice(kIcmpEcho, kIp4End, kIp4End + 7);
    REQUIRE(IcmpView::parse(bytes_of(seven), 40, icmp) == DecodeError::None);
    CHECK_FALSE(icmp.has_echo_fields());
    const std::vector<std::uint8_t> three = slice(kIcmpEcho, kIp4End, kIp4End + 3);
    CHECK(IcmpView::parse(bytes_of(three), 40, icmp) == DecodeError::Truncated);
    CHECK(IcmpView::parse(bytes_of(three), 3, icmp) == DecodeError::BadLength);
}

TEST_CASE("OptionIterator walks IPv4 and TCP option lists alike", "[views][options]") {
    auto walk = [](std::vector<std::uint8_t> bytes, std::string& kinds) {
        OptionIterator it(Bytes{bytes.data(), bytes.size()});
        HeaderOption o{};
        while (it.next(o)) {
            kinds += std::to_string(o.kind) + ":" + std::to_string(o.len) + " ";
        }
        return it.malformed();
    };
    std::string k;
    CHECK_FALSE(walk({1, 2, 4, 5, 0xb4, 1, 3, 3, 7}, k));
    CHECK(k == "1:1 2:4 1:1 3:3 ");
    k.clear();
    CHECK_FALSE(walk({1, 0, 0xff, 0xff}, k));  // End ends the list; what follows is padding
    CHECK(k == "1:1 0:1 ");
    k.clear();
    CHECK(walk({1, 8}, k));  // a kind without its length
    CHECK(k == "1:1 ");
    k.clear();
    CHECK(walk({8, 1, 0, 0}, k));  // a length below 2
    CHECK(k.empty());
    k.clear();
    CHECK(walk({1, 1, 3, 4, 7}, k));  // past the end
    CHECK(k == "1:1 1:1 ");
    k.clear();
    CHECK_FALSE(walk({}, k));
    CHECK(k.empty());
}
