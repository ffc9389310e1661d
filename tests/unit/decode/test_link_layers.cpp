// The wired link layers and shims (decode/ppp.hpp, decode/shims.hpp) on crafted
// frames: each header written byte by byte from its specification (RFC 1661/1662
// PPP, RFC 2516 PPPoE, RFC 3032 MPLS and RFC 4448 pseudowires, 802.1ah, VN-Tag,
// FabricPath as Zeek skips it, Cisco HDLC, Q.922 frame relay with RFC 2427, BSD
// SLIP, LINKTYPE_NFLOG), in front of the IPv4/TCP SYN of test_decoder_frames.hpp
// (192.168.1.100:50000 > 93.184.216.34:80). The tests check the fields against the
// values written, and cut every frame at every byte.
#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "tests/unit/decode/decode_checks.hpp"
#include "tests/unit/decode/test_decoder_frames.hpp"

using namespace wl;
using namespace wl::testing;

namespace {

using Frame = std::vector<std::uint8_t>;

// The IPv4 datagram (20-byte header, 40-byte TCP SYN) of kSyn, without Ethernet.
Frame syn_ip() {
    return slice(kSyn, 14, kSyn.size());
}

const Frame kMacs = {0x00, 0x00, 0x0c, 0x07, 0xac, 0x01, 0x00, 0x1b, 0x21, 0x3a, 0x4f, 0x5e};
// Customer MACs in PBB, FabricPath and pseudowires: first nibble 0xa, so that an
// Ethernet pseudowire without control word is not read as one with it.
const Frame kInnerMacs = {0xa2, 0x00, 0x00, 0x00, 0x00, 0x01, 0xa2, 0x00, 0x00, 0x00, 0x00, 0x02};

Frame eth(std::uint16_t type, const Frame& rest, const Frame& macs = kMacs) {
    Frame f = macs;
    f.push_back(static_cast<std::uint8_t>(type >> 8));
    f.push_back(static_cast<std::uint8_t>(type));
    return cat(f, rest);
}

Frame mpls_entry(std::uint32_t label, std::uint8_t tc, bool bottom, std::uint8_t ttl) {
    const std::uint32_t v = (label << 12) | (std::uint32_t{tc} << 9) | (bottom ? 0x100u : 0u) | ttl;
    return {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
            static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}

void check_syn(const Packet& p) {
    REQUIRE_FALSE(p.malformed());
    REQUIRE(p.has(Layer::Ipv4));
    REQUIRE(p.has(Layer::Tcp));
    CHECK(p.ip_version == 4);
    CHECK(p.tcp.src_port() == 50000);
    CHECK(p.tcp.dst_port() == 80);
    CHECK(p.ip4.src()[0] == 192);
    CHECK(p.ip4.dst()[3] == 34);
}

Packet decoded(const Frame& f, int linktype) {
    Packet p;
    p.linktype = linktype;
    p.caplen = p.wire_len = static_cast<std::uint32_t>(f.size());
    decode(Bytes(f.data(), f.size()), p);
    return p;
}

// Every prefix of `f`, as cut by the snap length: decoding stays inside the
// captured bytes, the reports survive, and a cut strictly inside header
// [start, end) is that header's `truncated` (Layer::None: a cut there is no event).
struct Header {
    std::size_t start, end;
    Layer layer;
};
void every_cut(const Frame& f, int linktype, const std::vector<Header>& headers) {
    for (std::size_t n = 0; n < f.size(); ++n) {
        const Frame cut(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(n));
        Packet p;
        p.linktype = linktype;
        p.caplen = static_cast<std::uint32_t>(n);
        p.wire_len = static_cast<std::uint32_t>(f.size());
        decode(Bytes(cut.data(), cut.size()), p);
        INFO("cut at " << n << " of " << f.size());
        CHECK(inside(p.payload, cut));
        if (p.has(Layer::Ipv4)) CHECK(inside(p.ip4.bytes, cut));
        if (p.has(Layer::Ppp)) CHECK(inside(p.ppp.bytes, cut));
        if (p.has(Layer::Pppoe)) CHECK(inside(p.pppoe.bytes, cut));
        if (p.has(Layer::Mpls)) CHECK(inside(p.mpls.bytes, cut));
        if (p.has(Layer::Nflog)) CHECK(inside(p.nflog.bytes, cut));
        if (p.has(Layer::FrameRelay)) CHECK(inside(p.frelay.bytes, cut));
        if (p.has(Layer::Link) && linktype == linktype::kIpnet) CHECK(inside(p.ipnet.bytes, cut));
        if (p.has(Layer::Link) && linktype == linktype::kIpoib) CHECK(inside(p.ipoib.bytes, cut));
        if (p.has(Layer::Link) && linktype == linktype::kPktap) CHECK(inside(p.pktap.bytes, cut));
        if (p.has_inner_eth) CHECK(inside(p.inner_eth.bytes, cut));
        report_survives(p);
        for (const Header& h : headers) {
            if (n > h.start && n < h.end && h.layer != Layer::None) {
                CHECK(p.error_layer == h.layer);
                CHECK(p.error == DecodeEvent::Truncated);
            }
        }
    }
}

}  // namespace

TEST_CASE("PPP: address/control optional, protocol 1 or 2 bytes", "[decode][link_layers]") {
    const Frame full = cat({0xff, 0x03, 0x00, 0x21}, syn_ip());
    const Frame bare = cat({0x00, 0x21}, syn_ip());
    const Frame pfc = cat({0x21}, syn_ip());
    for (int lt : {linktype::kPpp, linktype::kPppSerial}) {
        Packet p = decoded(full, lt);
        check_syn(p);
        CHECK(p.has(Layer::Ppp));
        CHECK(p.ppp.protocol() == pppproto::kIpv4);
        CHECK(p.ppp.has_address_control());
        p = decoded(bare, lt);
        check_syn(p);
        CHECK_FALSE(p.ppp.has_address_control());
        p = decoded(pfc, lt);
        check_syn(p);
        CHECK(p.ppp.protocol() == 0x21);
        CHECK(p.ppp.header_len == 1);
    }
    every_cut(full, linktype::kPpp,
              {{0, 4, Layer::Ppp}, {4, 24, Layer::Ipv4}, {24, 64, Layer::Tcp}});
}

TEST_CASE("PPP: LCP is a PPP frame, counted, not an error", "[decode][link_layers]") {
    // LCP Configure-Request id 1, length 4.
    const Frame lcp = {0xff, 0x03, 0xc0, 0x21, 0x01, 0x01, 0x00, 0x04};
    const Packet p = decoded(lcp, linktype::kPpp);
    CHECK_FALSE(p.malformed());
    CHECK(p.has(Layer::Ppp));
    CHECK(p.ppp.protocol() == pppproto::kLcp);
    CHECK(p.ip_version == 0);
    report_survives(p);
}

TEST_CASE("Cisco HDLC, on its own link type and on a PPP link", "[decode][link_layers]") {
    const Frame f = cat({0x0f, 0x00, 0x08, 0x00}, syn_ip());
    for (int lt : {linktype::kCHdlc, linktype::kPpp, linktype::kPppSerial}) {
        const Packet p = decoded(f, lt);
        check_syn(p);
        CHECK(p.has(Layer::Chdlc));
        CHECK_FALSE(p.has(Layer::Ppp));
        CHECK(p.chdlc.address() == 0x0f);
        CHECK(p.chdlc.protocol() == 0x0800);
    }
    every_cut(f, linktype::kCHdlc, {{0, 4, Layer::Chdlc}, {4, 24, Layer::Ipv4}});
}

TEST_CASE("PPPoE session over Ethernet: PPP inside, padding after it", "[decode][link_layers]") {
    // version 1 type 1, code 0, session 0x1234, length 62 (PPP protocol + 60).
    Frame f = eth(0x8864, cat({0x11, 0x00, 0x12, 0x34, 0x00, 62, 0x00, 0x21}, syn_ip()));
    f.insert(f.end(), 6, 0);  // Ethernet padding, not part of the PPPoE payload
    const Packet p = decoded(f, linktype::kEthernet);
    check_syn(p);
    CHECK(p.has(Layer::Ethernet));
    CHECK(p.has(Layer::Pppoe));
    CHECK(p.has(Layer::Ppp));
    CHECK(p.pppoe.version() == 1);
    CHECK(p.pppoe.type() == 1);
    CHECK(p.pppoe.code() == 0);
    CHECK(p.pppoe.session() == 0x1234);
    CHECK(p.pppoe.length() == 62);
    CHECK(p.ip4.bytes.size() == 60);  // the padding was cut off by the PPPoE length
    every_cut(f, linktype::kEthernet,
              {{0, 14, Layer::Ethernet},
               {14, 20, Layer::Pppoe},
               {20, 22, Layer::Ppp},
               {22, 42, Layer::Ipv4}});

    Frame lying = f;
    lying[19] = 200;  // a payload longer than the frame
    const Packet bad = decoded(lying, linktype::kEthernet);
    CHECK(bad.error_layer == Layer::Pppoe);
    CHECK(bad.error == DecodeEvent::BadLength);
}

TEST_CASE("PPPoE discovery: shown and counted, no payload", "[decode][link_layers]") {
    // PADI, session 0, length 4: one Service-Name tag of length 0.
    const Frame f = eth(0x8863, {0x11, 0x09, 0x00, 0x00, 0x00, 0x04, 0x01, 0x01, 0x00, 0x00});
    const Packet p = decoded(f, linktype::kEthernet);
    CHECK_FALSE(p.malformed());
    CHECK(p.has(Layer::Pppoe));
    CHECK_FALSE(p.has(Layer::Ppp));
    CHECK(p.pppoe.code() == 0x09);
    CHECK(p.ip_version == 0);
}

TEST_CASE("DLT_PPP_ETHER: PPPoE without Ethernet", "[decode][link_layers]") {
    const Frame f = cat({0x11, 0x00, 0x00, 0x07, 0x00, 62, 0x00, 0x21}, syn_ip());
    const Packet p = decoded(f, linktype::kPppEther);
    check_syn(p);
    CHECK(p.pppoe.session() == 7);
    CHECK(p.ppp.protocol() == pppproto::kIpv4);
    every_cut(f, linktype::kPppEther, {{0, 6, Layer::Pppoe}, {6, 8, Layer::Ppp}});
}

TEST_CASE("MPLS: a label stack, then IPv4 by its version nibble", "[decode][link_layers]") {
    const Frame f = eth(
        0x8847, cat(cat(mpls_entry(100, 5, false, 64), mpls_entry(1048575, 0, true, 1)), syn_ip()));
    const Packet p = decoded(f, linktype::kEthernet);
    check_syn(p);
    REQUIRE(p.has(Layer::Mpls));
    REQUIRE(p.mpls.count == 2);
    CHECK(p.mpls.entries[0].label() == 100);
    CHECK(p.mpls.entries[0].tc() == 5);
    CHECK_FALSE(p.mpls.entries[0].bottom());
    CHECK(p.mpls.entries[0].ttl() == 64);
    CHECK(p.mpls.entries[1].label() == 1048575);
    CHECK(p.mpls.entries[1].bottom());
    CHECK(p.mpls.entries[1].ttl() == 1);
    every_cut(f, linktype::kEthernet,
              {{0, 14, Layer::Ethernet},
               {14, 18, Layer::Mpls},
               {18, 22, Layer::Mpls},
               {22, 42, Layer::Ipv4}});
}

TEST_CASE("MPLS: more than 8 labels are counted", "[decode][link_layers]") {
    Frame stack;
    for (int i = 0; i < 9; ++i)
        stack = cat(stack, mpls_entry(16 + static_cast<std::uint32_t>(i), 0, false, 64));
    const Frame p_frame = eth(0x8847, cat(stack, syn_ip()));  // the packet views these bytes
    const Packet p = decoded(p_frame, linktype::kEthernet);
    CHECK(p.error_layer == Layer::Mpls);
    CHECK(p.error == DecodeEvent::TooManyMplsLabels);
    CHECK_FALSE(p.has(Layer::Ipv4));
}

TEST_CASE("MPLS: Ethernet pseudowire with and without a control word", "[decode][link_layers]") {
    const Frame inner = eth(0x0800, syn_ip(), kInnerMacs);
    const Frame cw = eth(0x8847, cat(cat(mpls_entry(30, 0, true, 9), {0, 0, 0, 0}), inner));
    const Frame plain = eth(0x8847, cat(mpls_entry(30, 0, true, 9), inner));
    for (const Frame* f : {&cw, &plain}) {
        const Packet p = decoded(*f, linktype::kEthernet);
        check_syn(p);
        REQUIRE(p.has_inner_eth);
        CHECK(p.inner_eth.dst().p[5] == 0x01);
        CHECK(p.inner_eth.src().p[5] == 0x02);
        CHECK(p.eth.dst().p[0] == 0x00);  // the outer frame stays the Ethernet layer
    }
    every_cut(cw, linktype::kEthernet,
              {{14, 18, Layer::Mpls},
               {18, 22, Layer::Mpls},
               {22, 36, Layer::Ethernet},
               {36, 56, Layer::Ipv4}});
}

TEST_CASE("802.1ah PBB, VN-Tag and FabricPath", "[decode][link_layers]") {
    // I-TAG: PCP 3, I-SID 0x010203.
    const Frame pbb = eth(0x88e7, cat({0x60, 0x01, 0x02, 0x03}, eth(0x0800, syn_ip(), kInnerMacs)));
    Packet p = decoded(pbb, linktype::kEthernet);
    check_syn(p);
    CHECK(p.has(Layer::Pbb));
    CHECK(p.pbb.isid() == 0x010203);
    CHECK(p.pbb.pcp() == 3);
    CHECK(p.has_inner_eth);
    every_cut(pbb, linktype::kEthernet,
              {{14, 18, Layer::Pbb}, {18, 32, Layer::Pbb}, {32, 52, Layer::Ipv4}});

    // VN-Tag: d=1 dvif 0x123, svif 0x045, then IPv4.
    const Frame vn = eth(0x8926, cat({0x81, 0x23, 0x00, 0x45, 0x08, 0x00}, syn_ip()));
    p = decoded(vn, linktype::kEthernet);
    check_syn(p);
    CHECK(p.has(Layer::VnTag));
    CHECK(p.vntag.dst_vif() == 0x0123);
    CHECK(p.vntag.src_vif() == 0x045);
    every_cut(vn, linktype::kEthernet, {{14, 20, Layer::VnTag}, {20, 40, Layer::Ipv4}});

    // FabricPath: FTag 1, TTL 32, then the classical frame.
    const Frame fp = eth(0x8903, cat({0x00, 0x60}, eth(0x0800, syn_ip(), kInnerMacs)));
    p = decoded(fp, linktype::kEthernet);
    check_syn(p);
    CHECK(p.has(Layer::FabricPath));
    CHECK(p.fabricpath.ftag() == 1);
    CHECK(p.fabricpath.ttl() == 32);
    CHECK(p.has_inner_eth);
    every_cut(fp, linktype::kEthernet, {{14, 30, Layer::FabricPath}, {30, 50, Layer::Ipv4}});
}

TEST_CASE("shims nest at most 8 deep", "[decode][link_layers]") {
    // Seven PBB headers, each with its customer Ethernet header: 14 shims.
    Frame f = cat({0x00, 0x00, 0x00, 0x01}, eth(0x0800, syn_ip(), kInnerMacs));
    for (int i = 0; i < 6; ++i)
        f = cat({0x00, 0x00, 0x00, 0x01}, eth(0x88e7, f, kInnerMacs));
    const Frame p_frame = eth(0x88e7, f);  // the packet views these bytes
    const Packet p = decoded(p_frame, linktype::kEthernet);
    CHECK(p.error == DecodeEvent::TooManyShims);
    CHECK_FALSE(p.has(Layer::Ipv4));
    report_survives(p);
}

TEST_CASE("frame relay: Cisco, NLPID and SNAP encapsulations", "[decode][link_layers]") {
    // DLCI 100 in a 2-byte address: 0x18 (6 high bits), 0x41 (4 low bits, EA).
    const Frame cisco = cat({0x18, 0x41, 0x08, 0x00}, syn_ip());
    const Frame nlpid = cat({0x18, 0x41, 0x03, 0xcc}, syn_ip());
    const Frame snap = cat({0x18, 0x41, 0x03, 0x00, 0x80, 0x00, 0x00, 0x00, 0x08, 0x00}, syn_ip());
    for (const Frame* f : {&cisco, &nlpid, &snap}) {
        const Packet p = decoded(*f, linktype::kFrelay);
        check_syn(p);
        CHECK(p.has(Layer::FrameRelay));
        CHECK(p.frelay.dlci() == 100);
        CHECK(p.frelay.protocol() == 0x0800);
    }
    CHECK_FALSE(decoded(cisco, linktype::kFrelay).frelay.has_nlpid());
    CHECK(decoded(nlpid, linktype::kFrelay).frelay.nlpid() == 0xcc);
    CHECK(decoded(snap, linktype::kFrelay).frelay.nlpid() == 0x80);
    every_cut(snap, linktype::kFrelay, {{0, 10, Layer::FrameRelay}, {10, 30, Layer::Ipv4}});

    // No end bit in 4 octets: no address.
    const Packet bad = decoded({0x00, 0x00, 0x00, 0x00, 0x03, 0xcc}, linktype::kFrelay);
    CHECK(bad.error_layer == Layer::FrameRelay);
    CHECK(bad.error == DecodeEvent::BadHeaderLength);
}

TEST_CASE("SLIP: the BSD pseudo header, then IP", "[decode][link_layers]") {
    Frame f(16, 0);
    f[0] = 1;     // sent
    f[1] = 0x45;  // the compressed-header copy: unused
    f = cat(f, syn_ip());
    const Packet p = decoded(f, linktype::kSlip);
    check_syn(p);
    CHECK(p.has(Layer::Slip));
    CHECK(p.slip.direction() == 1);
    every_cut(f, linktype::kSlip, {{0, 16, Layer::Slip}, {16, 36, Layer::Ipv4}});
}

TEST_CASE("NFLOG: TLVs in host order, the payload TLV holds IP", "[decode][link_layers]") {
    auto host16 = [](std::uint16_t v) {
        Frame b(2);
        std::memcpy(b.data(), &v, 2);
        return b;
    };
    // AF_INET, version 0, resource id 5 (big-endian); prefix "ab" (length 7, padded
    // to 8); the payload TLV (length 4 + 60).
    Frame f = {0x02, 0x00, 0x00, 0x05};
    f = cat(f, cat(host16(7), host16(10)));
    f = cat(f, {'a', 'b', 0, 0});
    f = cat(f, cat(host16(64), host16(9)));
    f = cat(f, syn_ip());
    const Packet p = decoded(f, linktype::kNflog);
    check_syn(p);
    CHECK(p.has(Layer::Nflog));
    CHECK(p.nflog.family() == 2);
    CHECK(p.nflog.resource_id() == 5);
    CHECK(p.nflog.prefix() == "ab");
    every_cut(f, linktype::kNflog,
              {{0, 4, Layer::Nflog}, {4, 16, Layer::None}, {16, 36, Layer::Ipv4}});

    Frame bad_version = f;
    bad_version[1] = 1;
    CHECK(decoded(bad_version, linktype::kNflog).error == DecodeEvent::BadVersion);
    Frame short_tlv = f;
    short_tlv[4] = 2;  // a TLV shorter than its own header (little-endian host)
    short_tlv[5] = 0;
    const Packet bad = decoded(short_tlv, linktype::kNflog);
    CHECK(bad.error_layer == Layer::Nflog);
    CHECK(bad.error == DecodeEvent::BadLength);
}

// Solaris ipnet as e1000g.pcap holds it (tshark -V): version 1, family, hook,
// data length, interface index, group index, source and destination zones.
TEST_CASE("ipnet: the Solaris address family names IPv4 or IPv6", "[decode][link_layers]") {
    const Frame hdr = {0x01, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x00, 0x00, 0x02,
                       0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00};
    const Frame f = cat(hdr, syn_ip());
    const Packet p = decoded(f, linktype::kIpnet);
    check_syn(p);
    CHECK(p.has(Layer::Link));
    CHECK(p.ethertype == ethertype::kIpv4);
    CHECK(p.ipnet.family() == 2);
    CHECK(p.ipnet.hook() == 1);
    CHECK(p.ipnet.ifindex() == 2);
    every_cut(f, linktype::kIpnet, {{0, 24, Layer::Link}, {24, 44, Layer::Ipv4}});

    Frame v6 = hdr;
    v6[1] = 26;  // Solaris AF_INET6
    const Frame p6_frame =
        cat(v6, slice(kIpv6Udp, kEthLen, kIpv6Udp.size()));  // the packet views these bytes
    const Packet p6 = decoded(p6_frame, linktype::kIpnet);
    REQUIRE_FALSE(p6.malformed());
    CHECK(p6.has(Layer::Ipv6));
    CHECK(p6.has(Layer::Udp));
    Frame other = hdr;
    other[1] = 7;                                 // no IP
    const Frame po_frame = cat(other, syn_ip());  // the packet views these bytes
    const Packet po = decoded(po_frame, linktype::kIpnet);
    CHECK(po.has(Layer::Link));
    CHECK_FALSE(po.has(Layer::Ipv4));
    CHECK_FALSE(po.malformed());
}

// IPoIB as ipoib.pcap holds it: 20 bytes of pseudo header, the destination QPN and
// GID, the ethertype, 2 reserved bytes (tcpdump reads the type at 40, the IP at 44).
TEST_CASE("IPoIB: the ethertype after the destination address", "[decode][link_layers]") {
    Frame hdr(20, 0);
    hdr = cat(hdr, {0x80, 0x00, 0x05, 0x50});  // QPN 0x000550 (the top byte is not)
    hdr = cat(hdr, {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x00, 0x10, 0xe0, 0x00, 0x66, 0x4a, 0xb4, 0x51});
    hdr = cat(hdr, {0x08, 0x00, 0x00, 0x00});
    const Frame f = cat(hdr, syn_ip());
    const Packet p = decoded(f, linktype::kIpoib);
    check_syn(p);
    CHECK(p.has(Layer::Link));
    CHECK(p.ipoib.type() == 0x0800);
    CHECK(p.ipoib.dest_qpn() == 0x550);
    CHECK(p.ipoib.dest_gid()[0] == 0xfe);
    CHECK(p.ipoib.dest_gid()[15] == 0x51);
    every_cut(f, linktype::kIpoib, {{0, 44, Layer::Link}, {44, 64, Layer::Ipv4}});

    Frame arp = hdr;
    arp[40] = 0x08;
    arp[41] = 0x06;
    const Frame pa_frame =
        cat(arp, slice(kArpRequest, kEthLen, kArpRequest.size()));  // the packet views these bytes
    const Packet pa = decoded(pa_frame, linktype::kIpoib);
    CHECK(pa.has(Layer::Arp));
}

// PKTAP (little-endian): length 108, record type 1, DLT, interface name "en0"...
Frame pktap_header(std::uint32_t dlt, std::uint32_t len = 108) {
    Frame h(len, 0);
    auto le32 = [&](std::size_t at, std::uint32_t v) {
        for (int i = 0; i < 4; ++i)
            h[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
    };
    le32(0, len);
    le32(4, 1);
    le32(8, dlt);
    h[12] = 'e', h[13] = 'n', h[14] = '0';
    le32(40, 2);  // protocol family
    return h;
}

TEST_CASE("PKTAP: the packet after the header has the DLT it names", "[decode][link_layers]") {
    const Frame f = cat(pktap_header(1), kSyn);
    for (int lt : {linktype::kPktap, linktype::kPktapDarwin}) {
        const Packet p = decoded(f, lt);
        check_syn(p);
        CHECK(p.has(Layer::Link));
        CHECK(p.has(Layer::Ethernet));
        CHECK(p.pktap.dlt() == 1);
        CHECK(p.pktap.ifname() == "en0");
        every_cut(f, lt,
                  {{0, 108, Layer::Link}, {108, 122, Layer::Ethernet}, {122, 142, Layer::Ipv4}});
    }
    // Raw IP (DLT 12) and null (DLT 0, host order) inside, and a longer header.
    check_syn(decoded(cat(pktap_header(12, 120), syn_ip()), linktype::kPktap));
    check_syn(decoded(cat(pktap_header(0), cat({0x02, 0, 0, 0}, syn_ip())), linktype::kPktap));

    // A header shorter than its first version: bad length (tshark: "too short").
    Frame short_len = cat(pktap_header(1), kSyn);
    short_len[0] = 0;
    const Packet ps = decoded(short_len, linktype::kPktap);
    CHECK(ps.error_layer == Layer::Link);
    CHECK(ps.error == DecodeEvent::BadHeaderLength);
    // A length past the capture: truncated.
    Frame long_len = cat(pktap_header(1), kSyn);
    long_len[1] = 0x10;
    CHECK(decoded(long_len, linktype::kPktap).error == DecodeEvent::Truncated);
    // Not a packet record: the header only. PKTAP in PKTAP and unknown DLTs: unsupported.
    Frame not_packet = f;
    not_packet[4] = 2;
    const Packet pn = decoded(not_packet, linktype::kPktap);
    CHECK(pn.has(Layer::Link));
    CHECK_FALSE(pn.has(Layer::Ethernet));
    CHECK_FALSE(pn.unsupported_link);
    const Frame nested_frame = cat(pktap_header(258), f);  // the packet views these bytes
    const Packet nested = decoded(nested_frame, linktype::kPktap);
    CHECK(nested.unsupported_link);
    CHECK_FALSE(nested.has(Layer::Ethernet));
    CHECK(decoded(cat(pktap_header(147), kSyn), linktype::kPktap).unsupported_link);
}

TEST_CASE("the new link types are supported", "[decode][link_layers]") {
    for (int lt : {linktype::kSlip, linktype::kPpp, linktype::kPppSerial, linktype::kPppEther,
                   linktype::kCHdlc, linktype::kFrelay, linktype::kNflog, linktype::kIpnet,
                   linktype::kIpoib, linktype::kPktap, linktype::kPktapDarwin})
        CHECK(linktype::supported(lt));
    CHECK_FALSE(linktype::supported(147));  // DLT_USER0
}
