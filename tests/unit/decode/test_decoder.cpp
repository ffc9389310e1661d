// decode() on whole frames: which layers it finds, where it stops and why,
// on well-formed frames, on every link type, and on headers whose lengths lie.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "report/packet_report.hpp"
#include "tests/unit/decode/test_decoder_frames.hpp"

using namespace wl;
using namespace wl::testing;

namespace {

constexpr std::uint32_t bits(std::initializer_list<Layer> ls) {
    std::uint32_t b = 0;
    for (Layer l : ls)
        b |= 1u << static_cast<unsigned>(l);
    return b;
}

std::string text_of(Bytes b) {
    return std::string(b.begin(), b.end());
}

// The IPv4 packet inside kDnsQuery and the IPv6 packet inside kIpv6Udp.
std::vector<std::uint8_t> dns_ip4() {
    return slice(kDnsQuery, kEthLen, kDnsQuery.size());
}
std::vector<std::uint8_t> udp_ip6() {
    return slice(kIpv6Udp, kEthLen, kIpv6Udp.size());
}

// Checks a decoded kDnsQuery, whatever link header carried it.
void check_dns_query(const Packet& pkt) {
    CHECK_FALSE(pkt.malformed());
    CHECK(pkt.has(Layer::Ipv4));
    REQUIRE(pkt.has(Layer::Udp));
    CHECK(pkt.ip_version == 4);
    CHECK(pkt.ip_proto == ipproto::kUdp);
    CHECK(hex_of(pkt.ip_src(), 4) == "0a000002");
    CHECK(hex_of(pkt.ip_dst(), 4) == "08080808");
    CHECK(pkt.udp.src_port() == 53000);
    CHECK(pkt.udp.dst_port() == 53);
    CHECK(pkt.payload.size() == 29);
    CHECK(pkt.payload_wire_len == 29);
}

void check_ipv6_udp(const Packet& pkt) {
    CHECK_FALSE(pkt.malformed());
    CHECK(pkt.has(Layer::Ipv6));
    REQUIRE(pkt.has(Layer::Udp));
    CHECK(pkt.ip_version == 6);
    CHECK(hex_of(pkt.ip_src(), 16) == "20010db8000000000000000000000001");
    CHECK(pkt.ip_ttl() == 1);
    CHECK(pkt.udp.src_port() == 5353);
    CHECK(text_of(pkt.payload) == "hello");
}

std::string flags_string(std::uint16_t flags) {
    char buf[16];
    return std::string(buf, tcp_flags_string(flags, buf));
}

}  // namespace

TEST_CASE("decode: a TCP SYN over Ethernet/IPv4", "[decode]") {
    const Packet pkt = decode_frame(kSyn);
    CHECK_FALSE(pkt.malformed());
    CHECK(pkt.error_layer == Layer::None);
    CHECK(pkt.layers == bits({Layer::Ethernet, Layer::Ipv4, Layer::Tcp}));
    CHECK(pkt.ethertype == 0x0800);
    CHECK(pkt.vlan_count == 0);
    CHECK(pkt.ip_version == 4);
    CHECK(pkt.ip_proto == 6);
    CHECK_FALSE(pkt.ip_fragment);
    CHECK_FALSE(pkt.ip_later_fragment);
    CHECK(hex_of(pkt.ip_src(), 4) == "c0a80164");
    CHECK(hex_of(pkt.ip_dst(), 4) == "5db8d822");
    CHECK(pkt.ip_ttl() == 64);
    CHECK(pkt.tcp.src_port() == 50000);
    CHECK(pkt.tcp.dst_port() == 80);
    CHECK(pkt.tcp.seq() == 2712847316u);
    CHECK(pkt.tcp.flags() == tcpflag::kSyn);
    CHECK(pkt.tcp.header_len() == 40);
    CHECK(pkt.payload.empty());
    CHECK(pkt.payload_wire_len == 0);
    CHECK_FALSE(pkt.unsupported_link);
}

TEST_CASE("decode: UDP, ICMP, ARP and IPv6 frames", "[decode]") {
    SECTION("DNS over UDP") {
        const Packet pkt = decode_frame(kDnsQuery);
        check_dns_query(pkt);
        CHECK(pkt.layers == bits({Layer::Ethernet, Layer::Ipv4, Layer::Udp}));
        CHECK(pkt.payload.data() == kDnsQuery.data() + kIp4End + 8);
    }
    SECTION("ICMP echo") {
        const Packet pkt = decode_frame(kIcmpEcho);
        CHECK_FALSE(pkt.malformed());
        CHECK(pkt.layers == bits({Layer::Ethernet, Layer::Ipv4, Layer::Icmp}));
        CHECK(pkt.ip_ttl() == 128);
        CHECK(pkt.icmp.type() == 8);
        CHECK(pkt.icmp.echo_id() == 1234);
        CHECK(pkt.icmp.echo_seq() == 7);
        // The payload is what follows the 4 common bytes: id, seq and the 32 data bytes.
        CHECK(pkt.payload.size() == 36);
        CHECK(pkt.payload_wire_len == 36);
        CHECK(text_of(pkt.payload.subspan(4)) == "abcdefghijklmnopqrstuvwabcdefghi");
    }
    SECTION("ARP request") {
        const Packet pkt = decode_frame(kArpRequest);
        CHECK_FALSE(pkt.malformed());
        CHECK(pkt.layers == bits({Layer::Ethernet, Layer::Arp}));
        CHECK(pkt.ethertype == 0x0806);
        CHECK(pkt.ip_version == 0);
        CHECK(pkt.arp.operation() == 1);
        CHECK(hex_of(pkt.arp.target_ip(), 4) == "c0a80101");
        CHECK(pkt.eth.dst().is_broadcast());
    }
    SECTION("IPv6 with hop-by-hop, destination options and a first fragment carrying TCP") {
        const Packet pkt = decode_frame(kIpv6ExtTcp);
        CHECK_FALSE(pkt.malformed());
        CHECK(pkt.layers == bits({Layer::Ethernet, Layer::Ipv6, Layer::Ipv6Ext, Layer::Tcp}));
        CHECK(pkt.ethertype == 0x86dd);
        CHECK(pkt.ip_version == 6);
        CHECK(pkt.ip_proto == ipproto::kTcp);
        CHECK(pkt.ip_fragment);
        CHECK_FALSE(pkt.ip_later_fragment);
        CHECK(pkt.ip6_chain.count == 3);
        CHECK(pkt.ip6_chain.fragment_id == 0xdeadbeef);
        CHECK(pkt.ip_ttl() == 64);
        CHECK(hex_of(pkt.ip_dst(), 16) == "20010db8000000010000000000000002");
        CHECK(pkt.tcp.src_port() == 443);
        CHECK(pkt.tcp.flags() == (tcpflag::kPsh | tcpflag::kAck));
        CHECK(text_of(pkt.payload) == "ping");
        CHECK(pkt.payload_wire_len == 4);
    }
    SECTION("IPv6 non-first fragment: no upper-layer header") {
        const Packet pkt = decode_frame(kIpv6LaterFrag);
        CHECK_FALSE(pkt.malformed());
        CHECK(pkt.layers == bits({Layer::Ethernet, Layer::Ipv6, Layer::Ipv6Ext}));
        CHECK(pkt.ip_fragment);
        CHECK(pkt.ip_later_fragment);
        CHECK(pkt.ip6_chain.fragment_offset == 185);
        CHECK(pkt.ip_proto == ipproto::kTcp);
        CHECK(text_of(pkt.payload) == "0123456789abcdef");
        CHECK(pkt.payload_wire_len == 16);
    }
    SECTION("ICMPv6 echo") {
        const Packet pkt = decode_frame(kIcmpv6Echo);
        CHECK_FALSE(pkt.malformed());
        CHECK(pkt.layers == bits({Layer::Ethernet, Layer::Ipv6, Layer::Icmpv6}));
        CHECK(pkt.icmp.type() == 128);
        CHECK(pkt.icmp.echo_seq() == 1);
        CHECK(pkt.payload_wire_len == 6);
    }
    SECTION("UDP over IPv6") {
        const Packet pkt = decode_frame(kIpv6Udp);
        check_ipv6_udp(pkt);
        CHECK(pkt.layers == bits({Layer::Ethernet, Layer::Ipv6, Layer::Udp}));
    }
    SECTION("IPv6 with no next header") {
        std::vector<std::uint8_t> f = kIpv6Udp;
        f[kEthLen + 6] = ipproto::kNoNext;
        const Packet pkt = decode_frame(f);
        CHECK_FALSE(pkt.malformed());
        CHECK(pkt.layers == bits({Layer::Ethernet, Layer::Ipv6}));
        CHECK(pkt.payload.size() == 13);
    }
    SECTION("an IP protocol we do not decode keeps its payload") {
        std::vector<std::uint8_t> f = kDnsQuery;
        f[kEthLen + 9] = 47;  // GRE
        const Packet pkt = decode_frame(f);
        CHECK_FALSE(pkt.malformed());
        CHECK(pkt.layers == bits({Layer::Ethernet, Layer::Ipv4}));
        CHECK(pkt.ip_proto == 47);
        CHECK(pkt.payload.size() == 37);
        CHECK(pkt.payload_wire_len == 37);
    }
}

TEST_CASE("decode: Ethernet padding is not payload", "[decode]") {
    const Packet pkt = decode_frame(kPaddedUdp);
    CHECK_FALSE(pkt.malformed());
    REQUIRE(pkt.has(Layer::Udp));
    CHECK(pkt.ip4.total_len() == 31);
    CHECK(pkt.ip4.bytes.size() == 31);
    CHECK(pkt.ip4.payload().size() == 11);
    CHECK(text_of(pkt.payload) == "abc");
    CHECK(pkt.payload.data() + pkt.payload.size() == kPaddedUdp.data() + kEthLen + 31);
    CHECK(pkt.payload_wire_len == 3);

    // IPv6 likewise: a trailer after the payload length is not payload.
    std::vector<std::uint8_t> f = kIpv6Udp;
    f.resize(f.size() + 7, 0xee);
    const Packet six = decode_frame(f);
    check_ipv6_udp(six);
    CHECK(six.ip6.bytes.size() == 40 + 13);

    // And a UDP length shorter than the IP payload ends the UDP payload.
    std::vector<std::uint8_t> g = kDnsQuery;
    put16(g, kIp4End + 4, 8 + 12);
    const Packet udp = decode_frame(g);
    CHECK_FALSE(udp.malformed());
    CHECK(udp.payload.size() == 12);
    CHECK(udp.payload_wire_len == 12);
}

TEST_CASE("decode: frames that are not IP", "[decode]") {
    SECTION("802.3 length field") {
        std::vector<std::uint8_t> f = slice(kSyn, 0, 60);
        put16(f, 12, 46);
        f[14] = 0x42;  // LLC: STP
        f[15] = 0x42;
        const Packet pkt = decode_frame(f);
        CHECK_FALSE(pkt.malformed());
        CHECK(pkt.layers == bits({Layer::Ethernet, Layer::Llc}));
        CHECK(pkt.llc.dsap() == 0x42);
        CHECK(pkt.ethertype == 0);
    }
    SECTION("an ethertype we do not decode") {
        std::vector<std::uint8_t> f = slice(kSyn, 0, 60);
        put16(f, 12, 0x88cc);  // LLDP
        const Packet pkt = decode_frame(f);
        CHECK_FALSE(pkt.malformed());
        CHECK(pkt.layers == bits({Layer::Ethernet}));
        CHECK(pkt.ethertype == 0x88cc);
    }
    SECTION("an IPv4 ethertype with an IPv6 packet") {
        std::vector<std::uint8_t> f = kIpv6Udp;
        put16(f, 12, 0x0800);
        const Packet pkt = decode_frame(f);
        CHECK(pkt.error == DecodeError::BadVersion);
        CHECK(pkt.error_layer == Layer::Ipv4);
        CHECK(pkt.layers == bits({Layer::Ethernet}));
    }
}

TEST_CASE("decode: stacked VLAN tags", "[decode][vlan]") {
    // dst, src, then `tags` tags with ids 1..n (S-tag first), then the IPv4 DNS packet.
    auto tagged = [](int tags, const std::vector<std::uint8_t>& ip) {
        std::vector<std::uint8_t> f = slice(kDnsQuery, 0, 12);
        for (int i = 0; i < tags; ++i) {
            const std::uint16_t tpid = i == 0 && tags > 1 ? 0x88a8 : 0x8100;
            f.push_back(static_cast<std::uint8_t>(tpid >> 8));
            f.push_back(static_cast<std::uint8_t>(tpid));
            const std::uint16_t tci = static_cast<std::uint16_t>((3u << 13) | (i + 1));
            f.push_back(static_cast<std::uint8_t>(tci >> 8));
            f.push_back(static_cast<std::uint8_t>(tci));
        }
        f.push_back(0x08);
        f.push_back(0x00);
        return cat(f, ip);
    };
    SECTION("one 802.1Q tag") {
        const auto f = tagged(1, dns_ip4());
        const Packet pkt = decode_frame(f);
        check_dns_query(pkt);
        CHECK(pkt.has(Layer::Vlan));
        REQUIRE(pkt.vlan_count == 1);
        CHECK(pkt.vlans[0].tpid == 0x8100);
        CHECK(pkt.vlans[0].id() == 1);
        CHECK(pkt.vlans[0].pcp() == 3);
        CHECK(pkt.ethertype == 0x0800);
    }
    SECTION("QinQ") {
        const auto f = tagged(2, dns_ip4());
        const Packet pkt = decode_frame(f);
        check_dns_query(pkt);
        REQUIRE(pkt.vlan_count == 2);
        CHECK(pkt.vlans[0].tpid == 0x88a8);
        CHECK(pkt.vlans[1].tpid == 0x8100);
        CHECK(pkt.vlans[1].id() == 2);
    }
    SECTION("eight tags still decode") {
        const auto f = tagged(8, dns_ip4());
        const Packet pkt = decode_frame(f);
        check_dns_query(pkt);
        CHECK(pkt.vlan_count == 8);
        CHECK(pkt.vlans[7].id() == 8);
    }
    SECTION("nine tags are too many") {
        const auto f = tagged(9, dns_ip4());
        const Packet pkt = decode_frame(f);
        CHECK(pkt.error == DecodeError::TooManyVlanTags);
        CHECK(pkt.error_layer == Layer::Vlan);
        CHECK(pkt.vlan_count == 8);
        CHECK(pkt.has(Layer::Vlan));
        CHECK_FALSE(pkt.has(Layer::Ipv4));
    }
    SECTION("a frame that ends inside a tag") {
        const std::vector<std::uint8_t> full = tagged(2, dns_ip4());
        for (std::size_t n = 14; n < 14 + 4 + 4; ++n) {
            const std::vector<std::uint8_t> cut = slice(full, 0, n);
            const Packet pkt = decode_frame(cut, 1, static_cast<std::uint32_t>(full.size()));
            INFO("cut at " << n);
            CHECK(pkt.error_layer == Layer::Vlan);
            CHECK(pkt.error == DecodeError::Truncated);
            CHECK(pkt.vlan_count == (n < 18 ? 0 : 1));
        }
    }
}

TEST_CASE("decode: every supported link type", "[decode][link]") {
    const std::vector<std::uint8_t> ip4 = dns_ip4();
    const std::vector<std::uint8_t> ip6 = udp_ip6();

    SECTION("Linux cooked v1") {
        const std::vector<std::uint8_t> sll = {0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00, 0x1b,
                                               0x21, 0x3a, 0x4f, 0x5e, 0x00, 0x00, 0x08, 0x00};
        const auto f = cat(sll, ip4);
        const Packet pkt = decode_frame(f, 113);
        CHECK(pkt.linktype == 113);
        check_dns_query(pkt);
        CHECK(pkt.layers == bits({Layer::Link, Layer::Ipv4, Layer::Udp}));
        CHECK(pkt.sll.version == 1);
        CHECK(pkt.ethertype == 0x0800);

        std::vector<std::uint8_t> llc = cat(sll, ip4);
        put16(llc, 14, 0x0004);  // 802.2 LLC: not decoded further
        const Packet other = decode_frame(llc, 113);
        CHECK_FALSE(other.malformed());
        CHECK(other.layers == bits({Layer::Link}));

        std::vector<std::uint8_t> vlan = sll;
        put16(vlan, 14, 0x8100);
        vlan.insert(vlan.end(), {0x00, 0x2a, 0x08, 0x00});
        const auto vf = cat(vlan, ip4);
        const Packet tagged = decode_frame(vf, 113);
        check_dns_query(tagged);
        CHECK(tagged.vlan_count == 1);
        CHECK(tagged.vlans[0].id() == 42);
    }
    SECTION("Linux cooked v2") {
        const std::vector<std::uint8_t> sll2 = {0x86, 0xdd, 0x00, 0x00, 0x00, 0x00, 0x00,
                                                0x02, 0x00, 0x01, 0x04, 0x06, 0x00, 0x1b,
                                                0x21, 0x3a, 0x4f, 0x5e, 0x00, 0x00};
        const auto f = cat(sll2, ip6);
        const Packet pkt = decode_frame(f, 276);
        CHECK(pkt.linktype == 276);
        check_ipv6_udp(pkt);
        CHECK(pkt.layers == bits({Layer::Link, Layer::Ipv6, Layer::Udp}));
        CHECK(pkt.sll.version == 2);
        CHECK(pkt.sll.packet_type() == 4);
        CHECK(pkt.sll.ifindex() == 2);
        CHECK(pkt.ethertype == 0x86dd);
    }
    SECTION("BSD null in both byte orders, and loop") {
        const std::vector<std::uint8_t> le = {0x02, 0x00, 0x00, 0x00};
        const std::vector<std::uint8_t> be = {0x00, 0x00, 0x00, 0x02};
        for (const auto& hdr : {le, be}) {
            const auto f = cat(hdr, ip4);
            const Packet pkt = decode_frame(f, 0);
            check_dns_query(pkt);
            CHECK(pkt.layers == bits({Layer::Link, Layer::Ipv4, Layer::Udp}));
            CHECK(pkt.null_link.family == 2);
            CHECK(pkt.ethertype == 0x0800);
            CHECK(pkt.linktype == 0);
        }
        for (std::uint8_t family : {24, 28, 30, 10}) {
            const std::vector<std::uint8_t> le6 = {family, 0, 0, 0};
            const std::vector<std::uint8_t> be6 = {0, 0, 0, family};
            INFO("family " << int{family});
            const auto fle = cat(le6, ip6);
            const auto fbe = cat(be6, ip6);
            check_ipv6_udp(decode_frame(fle, 0));
            check_ipv6_udp(decode_frame(fbe, 0));
            check_ipv6_udp(decode_frame(fbe, 108));
        }
        const auto floop = cat(be, ip4);
        const Packet loop = decode_frame(floop, 108);
        CHECK(loop.linktype == 108);
        check_dns_query(loop);
        // A little-endian family on DLT_LOOP is not AF_INET: the link decodes, nothing more.
        const auto fwrong = cat(le, ip4);
        const Packet wrong = decode_frame(fwrong, 108);
        CHECK_FALSE(wrong.malformed());
        CHECK(wrong.layers == bits({Layer::Link}));
        // An unknown family likewise.
        const std::vector<std::uint8_t> osi = {0x07, 0x00, 0x00, 0x00};
        const auto fosi = cat(osi, ip4);
        CHECK(decode_frame(fosi, 0).layers == bits({Layer::Link}));
        const std::vector<std::uint8_t> three = {0x02, 0x00, 0x00};
        const Packet cut = decode_frame(three, 0);
        CHECK(cut.error == DecodeError::Truncated);
        CHECK(cut.error_layer == Layer::Link);
    }
    SECTION("raw IP under each of its numbers") {
        for (int dlt : {12, 14, 101, 228}) {
            INFO("linktype " << dlt);
            const Packet pkt = decode_frame(ip4, dlt);
            CHECK(pkt.linktype == dlt);
            check_dns_query(pkt);
            CHECK(pkt.layers == bits({Layer::Ipv4, Layer::Udp}));
            CHECK(pkt.ethertype == 0x0800);
        }
        for (int dlt : {12, 14, 101, 229}) {
            INFO("linktype " << dlt);
            const Packet pkt = decode_frame(ip6, dlt);
            check_ipv6_udp(pkt);
            CHECK(pkt.layers == bits({Layer::Ipv6, Layer::Udp}));
            CHECK(pkt.ethertype == 0x86dd);
        }
        // DLT_IPV4 and DLT_IPV6 promise the version; the other one is malformed.
        const Packet v6_as_v4 = decode_frame(ip6, 228);
        CHECK(v6_as_v4.error == DecodeError::BadVersion);
        CHECK(v6_as_v4.error_layer == Layer::Ipv4);
        const Packet v4_as_v6 = decode_frame(ip4, 229);
        CHECK(v4_as_v6.error == DecodeError::BadVersion);
        CHECK(v4_as_v6.error_layer == Layer::Ipv6);
        std::vector<std::uint8_t> v5 = ip4;
        v5[0] = 0x55;
        const Packet bad = decode_frame(v5, 12);
        CHECK(bad.error == DecodeError::BadVersion);
        const std::vector<std::uint8_t> nothing;
        const Packet empty = decode_frame(nothing, 12);
        CHECK(empty.error == DecodeError::Truncated);
        CHECK(empty.layers == 0);
    }
    SECTION("unsupported link types") {
        for (int dlt : {147, 148, 160, 162, -1}) {
            INFO("linktype " << dlt);
            const Packet pkt = decode_frame(kSyn, dlt);
            CHECK(pkt.unsupported_link);
            CHECK(pkt.linktype == dlt);
            CHECK(pkt.layers == 0);
            CHECK_FALSE(pkt.malformed());
            CHECK_FALSE(linktype::supported(dlt));
        }
        for (int dlt : {0, 1, 12, 14, 101, 108, 113, 228, 229, 276}) {
            CHECK(linktype::supported(dlt));
            CHECK_FALSE(decode_frame(kSyn, dlt).unsupported_link);
        }
    }
}

TEST_CASE("decode: IPv4 lengths that lie", "[decode][ipv4]") {
    SECTION("IHL below 5") {
        for (std::uint8_t ihl = 0; ihl < 5; ++ihl) {
            std::vector<std::uint8_t> f = kSyn;
            f[kEthLen] = static_cast<std::uint8_t>(0x40 | ihl);
            const Packet pkt = decode_frame(f);
            INFO("IHL " << int{ihl});
            CHECK(pkt.error == DecodeError::BadHeaderLength);
            CHECK(pkt.error_layer == Layer::Ipv4);
            CHECK(pkt.layers == bits({Layer::Ethernet}));
        }
    }
    SECTION("IHL past the end of the packet") {
        std::vector<std::uint8_t> f = kSyn;
        f[kEthLen] = 0x4f;
        put16(f, kEthLen + 2, 40);  // 60-byte header, total length 40
        Packet pkt = decode_frame(f);
        CHECK(pkt.error == DecodeError::BadTotalLength);
        CHECK(pkt.error_layer == Layer::Ipv4);
        CHECK_FALSE(pkt.has(Layer::Ipv4));
        // A 60-byte header, total length 60, in a frame with 40 IP bytes on the wire.
        std::vector<std::uint8_t> g = slice(kSyn, 0, kEthLen + 40);
        g[kEthLen] = 0x4f;
        pkt = decode_frame(g);
        CHECK(pkt.error == DecodeError::BadTotalLength);
        CHECK(pkt.error_layer == Layer::Ipv4);
        // The same, but the wire carried 80 bytes: the snap length cut the header.
        put16(g, kEthLen + 2, 80);
        pkt = decode_frame(g, 1, kEthLen + 80);
        CHECK(pkt.error == DecodeError::Truncated);
        CHECK(pkt.error_layer == Layer::Ipv4);
        CHECK(pkt.layers == bits({Layer::Ethernet}));
    }
    SECTION("total length shorter than the header") {
        for (std::uint16_t total : {1, 19}) {
            std::vector<std::uint8_t> f = kSyn;
            put16(f, kEthLen + 2, total);
            const Packet pkt = decode_frame(f);
            INFO("total " << total);
            CHECK(pkt.error == DecodeError::BadTotalLength);
            CHECK(pkt.error_layer == Layer::Ipv4);
        }
    }
    SECTION("total length zero: offloaded segment, the frame gives the length") {
        std::vector<std::uint8_t> f = kSyn;
        put16(f, kEthLen + 2, 0);
        const Packet pkt = decode_frame(f);
        CHECK_FALSE(pkt.malformed());
        REQUIRE(pkt.has(Layer::Tcp));
        CHECK(pkt.ip4.total_len() == 0);
        CHECK(pkt.ip4.datagram_len() == f.size() - kEthLen);
        CHECK(pkt.tcp.src_port() == load_be16(kSyn.data() + kEthLen + 20));
    }
    SECTION("total length longer than the frame on the wire") {
        std::vector<std::uint8_t> f = kSyn;
        put16(f, kEthLen + 2, 61);
        const Packet pkt = decode_frame(f);
        CHECK(pkt.error == DecodeError::BadTotalLength);
        CHECK(pkt.error_layer == Layer::Ipv4);
        CHECK_FALSE(pkt.has(Layer::Tcp));
    }
    SECTION("total length longer than captured, but not than the wire: snapped") {
        std::vector<std::uint8_t> f = kDnsQuery;
        put16(f, kEthLen + 2, 57 + 100);
        put16(f, kIp4End + 4, 37 + 100);
        const Packet pkt = decode_frame(f, 1, static_cast<std::uint32_t>(f.size() + 100));
        CHECK_FALSE(pkt.malformed());
        REQUIRE(pkt.has(Layer::Udp));
        CHECK(pkt.ip4.payload_wire_len == 137);
        CHECK(pkt.payload.size() == 29);
        CHECK(pkt.payload_wire_len == 129);
    }
    SECTION("broken IPv4 options keep the header but stop there") {
        std::vector<std::uint8_t> f = slice(kSyn, 0, kEthLen);
        const std::vector<std::uint8_t> ip = {0x46, 0x00, 0x00, 0x30, 0x00, 0x01, 0x00, 0x00,
                                              0x40, 0x11, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x01,
                                              0x0a, 0x00, 0x00, 0x02, 0x07, 0x09, 0x04, 0x00};
        const std::vector<std::uint8_t> udp = {0x00, 0x35, 0x00, 0x35, 0x00, 0x18, 0x00, 0x00};
        f = cat(cat(f, ip), udp);
        f.resize(f.size() + 16, 0);
        Packet pkt = decode_frame(f);
        CHECK(pkt.error == DecodeError::BadOptionLength);  // record route of 9 bytes in 4
        CHECK(pkt.error_layer == Layer::Ipv4);
        CHECK(pkt.has(Layer::Ipv4));
        CHECK(pkt.ip_proto == ipproto::kUdp);
        CHECK_FALSE(pkt.has(Layer::Udp));
        f[kEthLen + 21] = 0x04;  // record route of 4 bytes: fine
        pkt = decode_frame(f);
        CHECK_FALSE(pkt.malformed());
        CHECK(pkt.has(Layer::Udp));
        CHECK(pkt.payload_wire_len == 16);
    }
}

TEST_CASE("decode: IPv4 fragments", "[decode][ipv4][fragment]") {
    SECTION("a non-first fragment has no TCP header") {
        std::vector<std::uint8_t> f = kSyn;
        put16(f, kEthLen + 6, 185);  // offset 1480, last fragment
        const Packet pkt = decode_frame(f);
        CHECK_FALSE(pkt.malformed());
        CHECK(pkt.layers == bits({Layer::Ethernet, Layer::Ipv4}));
        CHECK(pkt.ip_fragment);
        CHECK(pkt.ip_later_fragment);
        CHECK(pkt.ip_proto == ipproto::kTcp);
        CHECK(pkt.payload.size() == 40);
        CHECK(pkt.payload.data() == f.data() + kIp4End);
        CHECK(pkt.payload_wire_len == 40);
    }
    SECTION("a first fragment decodes TCP") {
        std::vector<std::uint8_t> f = kSyn;
        f[kEthLen + 6] = 0x20;  // MF, offset 0
        const Packet pkt = decode_frame(f);
        CHECK_FALSE(pkt.malformed());
        CHECK(pkt.has(Layer::Tcp));
        CHECK(pkt.ip_fragment);
        CHECK_FALSE(pkt.ip_later_fragment);
        CHECK(pkt.tcp.dst_port() == 80);
    }
    SECTION("UDP length past the IP payload: malformed, unless in a first fragment") {
        std::vector<std::uint8_t> f = kDnsQuery;
        put16(f, kIp4End + 4, 1480);
        Packet pkt = decode_frame(f);
        CHECK(pkt.error == DecodeError::BadLength);
        CHECK(pkt.error_layer == Layer::Udp);
        CHECK_FALSE(pkt.has(Layer::Udp));
        f[kEthLen + 6] = 0x20;  // MF
        pkt = decode_frame(f);
        CHECK_FALSE(pkt.malformed());
        REQUIRE(pkt.has(Layer::Udp));
        CHECK(pkt.udp.length() == 1480);
        CHECK(pkt.payload.size() == 29);
        CHECK(pkt.payload_wire_len == 29);
    }
    SECTION("UDP length below 8") {
        for (std::uint16_t len : {0, 1, 7}) {
            std::vector<std::uint8_t> f = kDnsQuery;
            put16(f, kIp4End + 4, len);
            Packet pkt = decode_frame(f);
            INFO("UDP length " << len);
            CHECK(pkt.error == DecodeError::BadLength);
            CHECK(pkt.error_layer == Layer::Udp);
            f[kEthLen + 6] = 0x20;  // not even in a first fragment
            pkt = decode_frame(f);
            CHECK(pkt.error == DecodeError::BadLength);
        }
    }
}

TEST_CASE("decode: TCP headers that lie", "[decode][tcp]") {
    SECTION("data offset below 5") {
        for (std::uint8_t off = 0; off < 5; ++off) {
            std::vector<std::uint8_t> f = kSyn;
            f[kIp4End + 12] = static_cast<std::uint8_t>(off << 4);
            const Packet pkt = decode_frame(f);
            INFO("data offset " << int{off});
            CHECK(pkt.error == DecodeError::BadHeaderLength);
            CHECK(pkt.error_layer == Layer::Tcp);
            CHECK_FALSE(pkt.has(Layer::Tcp));
            CHECK(pkt.has(Layer::Ipv4));
        }
    }
    SECTION("data offset past the segment") {
        std::vector<std::uint8_t> f = kSyn;
        f[kIp4End + 12] = 0xb0;  // 44 bytes in a 40-byte segment
        const Packet pkt = decode_frame(f);
        CHECK(pkt.error == DecodeError::BadHeaderLength);
        CHECK(pkt.error_layer == Layer::Tcp);
        // An IP payload too short for any TCP header.
        std::vector<std::uint8_t> g = slice(kSyn, 0, kIp4End + 19);
        put16(g, kEthLen + 2, 39);
        const Packet tiny = decode_frame(g);
        CHECK(tiny.error == DecodeError::BadHeaderLength);
        CHECK(tiny.error_layer == Layer::Tcp);
    }
    SECTION("broken options: the header is still there") {
        struct Case {
            const char* what;
            std::size_t at;
            std::uint8_t value;
        };
        // Option bytes start at kIp4End + 20: MSS(0..3) SACKOK(4,5) TS(6..15) NOP(16) WS(17..19)
        const Case cases[] = {
            {"timestamps of length 0", 7, 0},      {"timestamps of length 1", 7, 1},
            {"timestamps past the header", 7, 30}, {"MSS of length 3", 1, 3},
            {"wscale past the header", 18, 4},     {"SACK-permitted of length 3", 5, 3},
        };
        for (const auto& c : cases) {
            std::vector<std::uint8_t> f = kSyn;
            f[kIp4End + 20 + c.at] = c.value;
            const Packet pkt = decode_frame(f);
            INFO(c.what);
            CHECK(pkt.error == DecodeError::BadOptionLength);
            CHECK(pkt.error_layer == Layer::Tcp);
            CHECK(pkt.has(Layer::Tcp));
            CHECK(pkt.tcp.src_port() == 50000);
            CHECK(pkt.tcp.dst_port() == 80);
            CHECK(pkt.tcp.seq() == 0xa1b2c3d4u);
            CHECK(pkt.tcp.flags() == tcpflag::kSyn);
            CHECK(pkt.tcp.window() == 64240);
            CHECK(pkt.payload.empty());
        }
    }
}

TEST_CASE("decode: IPv6 lengths and extension chains that lie", "[decode][ipv6]") {
    SECTION("payload length longer than the frame") {
        std::vector<std::uint8_t> f = kIpv6Udp;
        put16(f, kEthLen + 4, 14);
        const Packet pkt = decode_frame(f);
        CHECK(pkt.error == DecodeError::BadTotalLength);
        CHECK(pkt.error_layer == Layer::Ipv6);
        CHECK(pkt.layers == bits({Layer::Ethernet}));
    }
    SECTION("payload length shorter than the UDP datagram") {
        std::vector<std::uint8_t> f = kIpv6Udp;
        put16(f, kEthLen + 4, 10);  // UDP says 13
        const Packet pkt = decode_frame(f);
        CHECK(pkt.error == DecodeError::BadLength);
        CHECK(pkt.error_layer == Layer::Udp);
        CHECK(pkt.has(Layer::Ipv6));
    }
    SECTION("payload length longer than captured, within the wire") {
        std::vector<std::uint8_t> f = kIpv6Udp;
        put16(f, kEthLen + 4, 13 + 50);
        put16(f, kIp6End + 4, 13 + 50);
        const Packet pkt = decode_frame(f, 1, static_cast<std::uint32_t>(f.size() + 50));
        CHECK_FALSE(pkt.malformed());
        CHECK(pkt.payload.size() == 5);
        CHECK(pkt.payload_wire_len == 55);
    }
    SECTION("an extension header longer than the payload") {
        std::vector<std::uint8_t> f = kIpv6ExtTcp;
        f[kIp6End + 8 + 1] = 10;  // destination options of 88 bytes in a 56-byte payload
        const Packet pkt = decode_frame(f);
        CHECK(pkt.error == DecodeError::BadHeaderLength);
        CHECK(pkt.error_layer == Layer::Ipv6Ext);
        CHECK(pkt.has(Layer::Ipv6));
        CHECK_FALSE(pkt.has(Layer::Tcp));
    }
    SECTION("a chain running off the end of the payload") {
        // Hop-by-hop says next is destination options, but the payload ends after it.
        std::vector<std::uint8_t> f = slice(kIpv6ExtTcp, 0, kIp6End + 8);
        put16(f, kEthLen + 4, 8);
        const Packet pkt = decode_frame(f);
        CHECK(pkt.error == DecodeError::BadHeaderLength);
        CHECK(pkt.error_layer == Layer::Ipv6Ext);
        CHECK(pkt.has(Layer::Ipv6));
        // The real packet cut there by the snap length.
        const std::vector<std::uint8_t> g = slice(kIpv6ExtTcp, 0, kIp6End + 8);
        const Packet cut = decode_frame(g, 1, static_cast<std::uint32_t>(kIpv6ExtTcp.size()));
        CHECK(cut.error == DecodeError::Truncated);
        CHECK(cut.error_layer == Layer::Ipv6Ext);
    }
    SECTION("eight extension headers decode, nine are too many") {
        auto chain = [](int n) {
            std::vector<std::uint8_t> f = slice(kIpv6Udp, 0, kIp6End);
            f[kEthLen + 6] = ipproto::kDestOpts;
            for (int i = 0; i < n; ++i) {
                const std::uint8_t next = i + 1 < n ? ipproto::kDestOpts : ipproto::kUdp;
                f.insert(f.end(), {next, 0, 1, 4, 0, 0, 0, 0});  // PadN of 6
            }
            f = cat(f, slice(kIpv6Udp, kIp6End, kIpv6Udp.size()));
            put16(f, kEthLen + 4, static_cast<std::uint16_t>(f.size() - kIp6End));
            return f;
        };
        const auto f8 = chain(8);
        const Packet eight = decode_frame(f8);
        CHECK_FALSE(eight.malformed());
        CHECK(eight.ip6_chain.count == 8);
        CHECK(eight.ip6_chain.offset == 64);
        REQUIRE(eight.has(Layer::Udp));
        CHECK(text_of(eight.payload) == "hello");
        const auto f9 = chain(9);
        const Packet nine = decode_frame(f9);
        CHECK(nine.error == DecodeError::TooManyExtHeaders);
        CHECK(nine.error_layer == Layer::Ipv6Ext);
        CHECK_FALSE(nine.has(Layer::Udp));
    }
    SECTION("fragment header with a non-zero offset: no upper layer") {
        std::vector<std::uint8_t> f = kIpv6ExtTcp;
        put16(f, kIp6End + 24 + 2, static_cast<std::uint16_t>((1u << 3) | 1u));  // offset 8, M
        const Packet pkt = decode_frame(f);
        CHECK_FALSE(pkt.malformed());
        CHECK_FALSE(pkt.has(Layer::Tcp));
        CHECK(pkt.ip_later_fragment);
        CHECK(pkt.ip6_chain.fragment_offset == 1);
        CHECK(pkt.ip6_chain.more_fragments);
        CHECK(pkt.payload.size() == 24);
    }
}

TEST_CASE("decode: IPv6 fragment headers", "[decode][ipv6][fragment]") {
    // kIpv6ExtTcp with the fragment header's next header turned to UDP: the
    // 24 bytes after the chain are a UDP header (443 > 51000) and 16 bytes.
    std::vector<std::uint8_t> f = kIpv6ExtTcp;
    f[kIp6End + 24] = ipproto::kUdp;
    put16(f, kIp6End + 32 + 4, 1000);  // the whole datagram's UDP length
    SECTION("a first fragment's UDP length may cover later fragments") {
        const Packet pkt = decode_frame(f);
        CHECK_FALSE(pkt.malformed());
        REQUIRE(pkt.has(Layer::Udp));
        CHECK(pkt.ip_fragment);
        CHECK(pkt.udp.src_port() == 443);
        CHECK(pkt.udp.length() == 1000);
        CHECK(pkt.payload.size() == 16);
        CHECK(pkt.payload_wire_len == 16);
    }
    SECTION("an atomic fragment (offset 0, no M) is a whole datagram") {
        put16(f, kIp6End + 24 + 2, 0);
        const Packet pkt = decode_frame(f);
        CHECK(pkt.ip6_chain.has_fragment);
        CHECK_FALSE(pkt.ip_fragment);
        CHECK_FALSE(pkt.ip_later_fragment);
        CHECK(pkt.error == DecodeError::BadLength);  // 1000 bytes of UDP in 24
        CHECK(pkt.error_layer == Layer::Udp);
        put16(f, kIp6End + 32 + 4, 24);
        const Packet ok = decode_frame(f);
        CHECK_FALSE(ok.malformed());
        CHECK(ok.has(Layer::Udp));
    }
}

TEST_CASE("decode: a reused Packet forgets the previous frame", "[decode]") {
    Packet pkt;
    pkt.linktype = 1;
    pkt.wire_len = pkt.caplen = static_cast<std::uint32_t>(kIpv6ExtTcp.size());
    decode(Bytes{kIpv6ExtTcp.data(), kIpv6ExtTcp.size()}, pkt);
    REQUIRE(pkt.has(Layer::Tcp));
    std::vector<std::uint8_t> bad = kSyn;
    bad[kEthLen] = 0x44;
    pkt.wire_len = pkt.caplen = static_cast<std::uint32_t>(bad.size());
    decode(Bytes{bad.data(), bad.size()}, pkt);
    CHECK(pkt.error == DecodeError::BadHeaderLength);
    pkt.wire_len = pkt.caplen = static_cast<std::uint32_t>(kArpRequest.size());
    decode(Bytes{kArpRequest.data(), kArpRequest.size()}, pkt);
    CHECK(pkt.layers == bits({Layer::Ethernet, Layer::Arp}));
    CHECK_FALSE(pkt.malformed());
    CHECK(pkt.error_layer == Layer::None);
    CHECK(pkt.ip_version == 0);
    CHECK(pkt.ip_proto == 0);
    CHECK_FALSE(pkt.ip_fragment);
    CHECK(pkt.payload.empty());
    CHECK(pkt.payload_wire_len == 0);
    CHECK(pkt.vlan_count == 0);
    pkt.linktype = 147;
    decode(Bytes{kArpRequest.data(), kArpRequest.size()}, pkt);
    CHECK(pkt.unsupported_link);
    pkt.linktype = 1;
    decode(Bytes{kArpRequest.data(), kArpRequest.size()}, pkt);
    CHECK_FALSE(pkt.unsupported_link);
}

TEST_CASE("decode: a capture claiming fewer wire bytes than captured trusts the capture",
          "[decode]") {
    const Packet pkt = decode_frame(kDnsQuery, 1, 20);
    check_dns_query(pkt);
}

TEST_CASE("tcp_flags_string: tcpdump's order, then N", "[report][tcp]") {
    CHECK(flags_string(0) == "none");
    CHECK(flags_string(tcpflag::kSyn) == "S");
    CHECK(flags_string(tcpflag::kSyn | tcpflag::kAck) == "S.");
    CHECK(flags_string(tcpflag::kFin | tcpflag::kAck) == "F.");
    CHECK(flags_string(tcpflag::kPsh | tcpflag::kAck) == "P.");
    CHECK(flags_string(tcpflag::kRst) == "R");
    CHECK(flags_string(tcpflag::kAck) == ".");
    CHECK(flags_string(tcpflag::kSyn | tcpflag::kEce | tcpflag::kCwr) == "SEW");
    CHECK(flags_string(tcpflag::kNs) == "N");
    CHECK(flags_string(0x1ff) == "FSRP.UEWN");
    // Every one of the 512 combinations: the letters of the set bits, in order.
    const char order[] = "FSRP.UEWN";
    for (unsigned f = 1; f < 512; ++f) {
        std::string want;
        for (unsigned b = 0; b < 9; ++b) {
            if (f & (1u << b)) want += order[b];
        }
        INFO("flags " << f);
        REQUIRE(flags_string(static_cast<std::uint16_t>(f)) == want);
    }
    // And from the wire: byte 12 bit 0 is N, byte 13 the other eight.
    std::vector<std::uint8_t> f = kSyn;
    f[kIp4End + 12] = 0xa1;
    f[kIp4End + 13] = 0xc2;
    const Packet pkt = decode_frame(f);
    REQUIRE(pkt.has(Layer::Tcp));
    CHECK(flags_string(pkt.tcp.flags()) == "SEWN");
}
