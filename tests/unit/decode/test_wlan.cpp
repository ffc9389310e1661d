// 802.11 with its radio headers (radiotap, Prism, AVS) and LLC/SNAP, on
// crafted frames: the same UDP DNS query (10.0.0.2:53000 > 8.8.8.8:53, from
// test_decoder_frames.hpp) under each header form. Every frame here was also
// written to a pcap of its link type and read with tshark 4.0 (-T fields -e
// wlan.fc.type -e wlan.fc.subtype -e wlan.bssid -e wlan.sa -e wlan.da -e
// wlan.ra -e wlan.ta -e radiotap.channel.freq -e radiotap.dbm_antsignal -e
// llc.pid -e ip.src -e udp.dstport), which agreed with the values checked below (the
// mesh frames included: tshark finds their mesh control as decode/ does).
#include <algorithm>
#include <catch2/catch.hpp>
#include <iterator>
#include <string>
#include <vector>

#include "decode/counters.hpp"
#include "tests/unit/decode/decode_checks.hpp"
#include "tests/unit/decode/test_decoder_frames.hpp"

using namespace wl;
using namespace wl::testing;

namespace {

using Frame = std::vector<std::uint8_t>;

// Intel, Cisco, locally administered, Intel (another OUI).
const Frame kMacA = {0x00, 0x1b, 0x21, 0x3a, 0x4f, 0x5e};
const Frame kMacB = {0x00, 0x00, 0x0c, 0x07, 0xac, 0x01};
const Frame kMacC = {0x02, 0x00, 0x5e, 0xc6, 0x12, 0x02};
const Frame kMacD = {0x3c, 0xfd, 0xfe, 0x01, 0x02, 0x03};
const Frame kSnapIpv4 = {0xaa, 0xaa, 0x03, 0x00, 0x00, 0x00, 0x08, 0x00};
const Frame kIp = slice(kDnsQuery, kEthLen, kDnsQuery.size());  // 57 bytes, UDP payload 29

Frame cat_all(std::initializer_list<Frame> parts) {
    Frame f;
    for (const Frame& p : parts)
        f.insert(f.end(), p.begin(), p.end());
    return f;
}

// Frame control, duration 44, the addresses, sequence number 1 (fragment 0).
Frame mac_header(std::uint8_t fc0, std::uint8_t fc1, std::initializer_list<Frame> addrs3,
                 const Frame& addr4 = {}) {
    Frame f = {fc0, fc1, 0x2c, 0x00};
    for (const Frame& a : addrs3)
        f.insert(f.end(), a.begin(), a.end());
    f.insert(f.end(), {0x10, 0x00});
    f.insert(f.end(), addr4.begin(), addr4.end());
    return f;
}

// To DS: addr1 BSSID (Cisco), addr2 SA (Intel), addr3 DA (local).
const Frame kToDs = mac_header(0x08, 0x01, {kMacB, kMacA, kMacC});
const Frame kDataToDs = cat_all({kToDs, kSnapIpv4, kIp});

// Radiotap: flags, rate, channel 2412 MHz (2.4 GHz CCK), antenna signal -60 dBm.
Frame radiotap(std::uint8_t flags) {
    return {0x00,  0x00, 0x0f, 0x00, 0x2e, 0x00, 0x00, 0x00,
            flags, 0x02, 0x6c, 0x09, 0xa0, 0x00, 0xc4};
}

bool mac_is(const std::uint8_t* p, const Frame& mac) {
    return p != nullptr && Frame(p, p + 6) == mac;
}

void check_dns_query(const Packet& pkt) {
    CHECK_FALSE(pkt.malformed());
    CHECK(pkt.has(Layer::Llc));
    CHECK(pkt.llc.is_snap());
    CHECK(pkt.llc.pid() == 0x0800);
    CHECK(pkt.ethertype == 0x0800);
    REQUIRE(pkt.has(Layer::Udp));
    CHECK(pkt.udp.src_port() == 53000);
    CHECK(pkt.udp.dst_port() == 53);
    CHECK(pkt.payload_wire_len == 29);
    CHECK(pkt.payload.size() == 29);
    report_survives(pkt);
}

}  // namespace

TEST_CASE("wlan: 802.11 data frames, addresses by To DS / From DS", "[decode][wlan]") {
    SECTION("to DS: BSSID addr1, SA addr2, DA addr3") {
        const Packet pkt = decode_frame(kDataToDs, linktype::kIeee80211);
        REQUIRE(pkt.has(Layer::Wlan));
        CHECK_FALSE(pkt.has(Layer::Radiotap));
        CHECK(pkt.wlan_kind == WlanKind::Data);
        CHECK(pkt.wlan.type() == 2);
        CHECK(pkt.wlan.subtype() == 0);
        CHECK(pkt.wlan.duration() == 44);
        CHECK(pkt.wlan.sequence() == 1);
        CHECK(mac_is(pkt.wlan.bssid(), kMacB));
        CHECK(mac_is(pkt.wlan.sa(), kMacA));
        CHECK(mac_is(pkt.wlan.da(), kMacC));
        CHECK(mac_is(pkt.wlan.ra(), kMacB));
        CHECK(mac_is(pkt.wlan.ta(), kMacA));
        check_dns_query(pkt);
    }
    SECTION("from DS: DA addr1, BSSID addr2, SA addr3") {
        const Frame f = cat_all({mac_header(0x08, 0x02, {kMacA, kMacB, kMacC}), kSnapIpv4, kIp});
        const Packet pkt = decode_frame(f, linktype::kIeee80211);
        CHECK(mac_is(pkt.wlan.da(), kMacA));
        CHECK(mac_is(pkt.wlan.bssid(), kMacB));
        CHECK(mac_is(pkt.wlan.sa(), kMacC));
        check_dns_query(pkt);
    }
    SECTION("neither: DA addr1, SA addr2, BSSID addr3") {
        const Frame f = cat_all({mac_header(0x08, 0x00, {kMacA, kMacC, kMacB}), kSnapIpv4, kIp});
        const Packet pkt = decode_frame(f, linktype::kIeee80211);
        CHECK(mac_is(pkt.wlan.da(), kMacA));
        CHECK(mac_is(pkt.wlan.sa(), kMacC));
        CHECK(mac_is(pkt.wlan.bssid(), kMacB));
        check_dns_query(pkt);
    }
    SECTION("4-address WDS: RA, TA, DA, SA; no BSSID") {
        const Frame f =
            cat_all({mac_header(0x08, 0x03, {kMacB, kMacD, kMacC}, kMacA), kSnapIpv4, kIp});
        const Packet pkt = decode_frame(f, linktype::kIeee80211);
        CHECK(pkt.wlan.four_addr());
        CHECK(pkt.wlan.header_len() == 30);
        CHECK(pkt.wlan.bssid() == nullptr);
        CHECK(mac_is(pkt.wlan.ra(), kMacB));
        CHECK(mac_is(pkt.wlan.ta(), kMacD));
        CHECK(mac_is(pkt.wlan.da(), kMacC));
        CHECK(mac_is(pkt.wlan.sa(), kMacA));
        check_dns_query(pkt);
    }
    SECTION("QoS data: 2 more bytes of QoS control") {
        const Frame f =
            cat_all({mac_header(0x88, 0x01, {kMacB, kMacA, kMacC}), {0x05, 0x00}, kSnapIpv4, kIp});
        const Packet pkt = decode_frame(f, linktype::kIeee80211);
        CHECK(pkt.wlan_kind == WlanKind::QosData);
        CHECK(pkt.wlan.header_len() == 26);
        CHECK(pkt.wlan.qos_control() == 5);
        CHECK_FALSE(pkt.wlan.amsdu());
        check_dns_query(pkt);
    }
    SECTION("QoS data with Order set: 4 more bytes of HT control") {
        const Frame f = cat_all({mac_header(0x88, 0x81, {kMacB, kMacA, kMacC}),
                                 {0x00, 0x00},
                                 {0x01, 0x02, 0x03, 0x04},
                                 kSnapIpv4,
                                 kIp});
        const Packet pkt = decode_frame(f, linktype::kIeee80211);
        CHECK(pkt.wlan.has_htc());
        CHECK(pkt.wlan.header_len() == 30);
        check_dns_query(pkt);
    }
    SECTION("QoS 4-address with HT control") {
        const Frame f = cat_all({mac_header(0x88, 0x83, {kMacB, kMacD, kMacC}, kMacA),
                                 {0x00, 0x00},
                                 {0x01, 0x02, 0x03, 0x04},
                                 kSnapIpv4,
                                 kIp});
        const Packet pkt = decode_frame(f, linktype::kIeee80211);
        CHECK(pkt.wlan.header_len() == 36);
        CHECK(mac_is(pkt.wlan.sa(), kMacA));
        check_dns_query(pkt);
    }
    SECTION("802.11s mesh control after QoS (Mesh Control Present), 0 or 2 extra addresses") {
        const Frame wds = cat_all({mac_header(0x88, 0x03, {kMacB, kMacD, kMacC}, kMacA),
                                   {0x00, 0x01},
                                   {0x00, 0x1f, 1, 0, 0, 0},
                                   kSnapIpv4,
                                   kIp});
        Packet pkt = decode_frame(wds, linktype::kIeee80211);
        CHECK(mac_is(pkt.wlan.sa(), kMacA));
        check_dns_query(pkt);
        // From DS only, address extension mode 2: two more addresses (12 bytes).
        const Frame ext = cat_all({mac_header(0x88, 0x02, {kMacA, kMacB, kMacC}),
                                   {0x00, 0x01},
                                   {0x02, 0x1f, 1, 0, 0, 0},
                                   kMacD,
                                   kMacA,
                                   kSnapIpv4,
                                   kIp});
        pkt = decode_frame(ext, linktype::kIeee80211);
        CHECK(mac_is(pkt.wlan.bssid(), kMacB));
        check_dns_query(pkt);
    }
    SECTION("A-MSDU: the first subframe's LLC, bounded by its length") {
        Frame sub = {0x02, 0x00,
                     0x5e, 0xc6,
                     0x12, 0x02,
                     0x00, 0x1b,
                     0x21, 0x3a,
                     0x4f, 0x5e,
                     0x00, static_cast<std::uint8_t>(kSnapIpv4.size() + kIp.size())};
        // Padding to 4 bytes, then a second subframe, the same.
        const Frame f = cat_all({mac_header(0x88, 0x01, {kMacB, kMacA, kMacC}),
                                 {0x80, 0x00},
                                 sub,
                                 kSnapIpv4,
                                 kIp,
                                 {0x00, 0x00, 0x00},
                                 sub,
                                 kSnapIpv4,
                                 kIp});
        const Packet pkt = decode_frame(f, linktype::kIeee80211);
        CHECK(pkt.wlan.amsdu());
        check_dns_query(pkt);
        // A subframe length past the end of the frame is a lie.
        Frame bad = f;
        bad[26 + 13] = 0xff;
        const Packet b = decode_frame(bad, linktype::kIeee80211);
        CHECK(b.error_layer == Layer::Wlan);
        CHECK(b.error == DecodeError::BadLength);
        CHECK_FALSE(b.has(Layer::Llc));
    }
}

TEST_CASE("wlan: frames with nothing to decode above 802.11 are counted, not malformed",
          "[decode][wlan]") {
    DecodeCounters c;
    SECTION("protected data (CCMP)") {
        const Frame f = cat_all({mac_header(0x08, 0x41, {kMacB, kMacA, kMacC}),
                                 {0x01, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00},
                                 kSnapIpv4});
        const Packet pkt = decode_frame(f, linktype::kIeee80211);
        CHECK(pkt.wlan_kind == WlanKind::Protected);
        CHECK_FALSE(pkt.malformed());
        CHECK_FALSE(pkt.has(Layer::Llc));
        CHECK(pkt.ip_version == 0);
        c.count(pkt);
        CHECK(c.wlan[static_cast<std::size_t>(WlanKind::Protected)] == 1);
        report_survives(pkt);
    }
    SECTION("beacon: management, DA addr1, SA addr2, BSSID addr3") {
        const Frame bcast = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
        const Frame f = cat_all({mac_header(0x80, 0x00, {bcast, kMacB, kMacB}),
                                 Frame(12, 0),
                                 {0x00, 0x04, 't', 'e', 's', 't'}});
        const Packet pkt = decode_frame(f, linktype::kIeee80211);
        CHECK(pkt.wlan_kind == WlanKind::Management);
        CHECK(pkt.wlan.subtype() == 8);
        CHECK(mac_is(pkt.wlan.da(), bcast));
        CHECK(mac_is(pkt.wlan.sa(), kMacB));
        CHECK(mac_is(pkt.wlan.bssid(), kMacB));
        CHECK_FALSE(pkt.malformed());
        c.count(pkt);
        CHECK(c.wlan[static_cast<std::size_t>(WlanKind::Management)] == 1);
        CHECK(c.other_network == 1);
        report_survives(pkt);
    }
    SECTION("ACK: control, receiver only") {
        const Frame f = cat_all({{0xd4, 0x00, 0x00, 0x00}, kMacA});
        const Packet pkt = decode_frame(f, linktype::kIeee80211);
        CHECK(pkt.wlan_kind == WlanKind::Control);
        CHECK(mac_is(pkt.wlan.ra(), kMacA));
        CHECK(pkt.wlan.ta() == nullptr);
        CHECK(pkt.wlan.sa() == nullptr);
        CHECK_FALSE(pkt.malformed());
        report_survives(pkt);
    }
    SECTION("RTS: control, receiver and transmitter") {
        const Frame f = cat_all({{0xb4, 0x00, 0x00, 0x01}, kMacA, kMacB});
        const Packet pkt = decode_frame(f, linktype::kIeee80211);
        CHECK(pkt.wlan_kind == WlanKind::Control);
        CHECK(mac_is(pkt.wlan.ta(), kMacB));
        CHECK_FALSE(pkt.malformed());
    }
    SECTION("null data") {
        const Frame f = mac_header(0x48, 0x11, {kMacB, kMacA, kMacB});
        const Packet pkt = decode_frame(f, linktype::kIeee80211);
        CHECK(pkt.wlan_kind == WlanKind::NoData);
        CHECK_FALSE(pkt.malformed());
        CHECK_FALSE(pkt.has(Layer::Llc));
    }
}

TEST_CASE("wlan: radio headers", "[decode][wlan]") {
    SECTION("radiotap without FCS") {
        const Frame f = cat_all({radiotap(0x00), kDataToDs});
        const Packet pkt = decode_frame(f, linktype::kRadiotap);
        REQUIRE(pkt.has(Layer::Radiotap));
        CHECK(pkt.radiotap.header_len() == 15);
        CHECK(pkt.radiotap.freq == 2412);
        CHECK(pkt.radiotap.has_signal);
        CHECK(pkt.radiotap.signal == -60);
        CHECK_FALSE(pkt.radiotap.has_fcs());
        CHECK(mac_is(pkt.wlan.bssid(), kMacB));
        check_dns_query(pkt);
    }
    SECTION("radiotap with FCS: the last 4 bytes are not payload") {
        // The UDP payload would otherwise take the 4 FCS bytes as padding; make the
        // IP total length lie instead to see that the FCS left the wire length.
        const Frame f = cat_all({radiotap(0x10), kDataToDs, {0xde, 0xad, 0xbe, 0xef}});
        const Packet pkt = decode_frame(f, linktype::kRadiotap);
        CHECK(pkt.radiotap.has_fcs());
        check_dns_query(pkt);
        Frame longer = f;  // IP total length 61: reaches into the FCS
        longer[15 + 24 + 8 + 3] = 61;
        const Packet p2 = decode_frame(longer, linktype::kRadiotap);
        CHECK(p2.error_layer == Layer::Ipv4);
        CHECK(p2.error == DecodeError::BadTotalLength);
    }
    SECTION("radiotap with TSFT (8-byte aligned) and the data-pad flag") {
        // present: TSFT, flags; TSFT at 8, flags at 16; it_len 17. Flags: data pad.
        Frame rt = {0x00, 0x00, 0x11, 0x00, 0x03, 0x00, 0x00, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 0x20};
        // A QoS header is 26 bytes: padded to 28.
        const Frame f = cat_all({rt,
                                 mac_header(0x88, 0x01, {kMacB, kMacA, kMacC}),
                                 {0x00, 0x00},
                                 {0x00, 0x00},
                                 kSnapIpv4,
                                 kIp});
        const Packet pkt = decode_frame(f, linktype::kRadiotap);
        CHECK(pkt.radiotap.data_pad());
        CHECK(pkt.radiotap.freq == 0);
        CHECK_FALSE(pkt.radiotap.has_signal);
        check_dns_query(pkt);
    }
    SECTION("radiotap with a second present word") {
        Frame rt = {0x00, 0x00, 0x0d, 0x00, 0x02, 0x00, 0x00,
                    0x80, 0x00, 0x00, 0x00, 0x00, 0x00};  // flags at 12
        const Frame f = cat_all({rt, kDataToDs});
        const Packet pkt = decode_frame(f, linktype::kRadiotap);
        CHECK(pkt.radiotap.header_len() == 13);
        check_dns_query(pkt);
    }
    SECTION("radiotap: bad version, bad length") {
        Frame f = cat_all({radiotap(0), kDataToDs});
        f[0] = 1;
        Packet pkt = decode_frame(f, linktype::kRadiotap);
        CHECK(pkt.error_layer == Layer::Radiotap);
        CHECK(pkt.error == DecodeError::BadVersion);
        f[0] = 0;
        f[2] = 4;  // shorter than the fixed part
        pkt = decode_frame(f, linktype::kRadiotap);
        CHECK(pkt.error == DecodeError::BadHeaderLength);
        f[2] = 9;  // present says 7 bytes of fields, length leaves 1
        pkt = decode_frame(f, linktype::kRadiotap);
        CHECK(pkt.error == DecodeError::BadHeaderLength);
        CHECK_FALSE(pkt.has(Layer::Wlan));
    }
    SECTION("Prism: 144 bytes") {
        Frame prism(144, 0);
        prism[0] = 0x41;
        prism[4] = 0x90;
        const Frame f = cat_all({prism, kDataToDs});
        const Packet pkt = decode_frame(f, linktype::kPrism);
        CHECK(pkt.has(Layer::Radiotap));
        CHECK(pkt.radio.header_len() == 144);
        CHECK(mac_is(pkt.wlan.sa(), kMacA));
        check_dns_query(pkt);
    }
    SECTION("AVS: its declared length, also under DLT 119") {
        Frame avs(64, 0);
        avs[0] = 0x80, avs[1] = 0x21, avs[2] = 0x10, avs[3] = 0x01, avs[7] = 64;
        for (const int dlt : {linktype::kAvs, linktype::kPrism}) {
            const Frame f = cat_all({avs, kDataToDs});
            const Packet pkt = decode_frame(f, dlt);
            CHECK(pkt.radio.header_len() == 64);
            check_dns_query(pkt);
        }
        avs[7] = 4;
        Frame f = cat_all({avs, kDataToDs});
        Packet pkt = decode_frame(f, linktype::kAvs);
        CHECK(pkt.error == DecodeError::BadHeaderLength);
        avs[7] = 64;
        avs[0] = 0;
        f = cat_all({avs, kDataToDs});
        pkt = decode_frame(f, linktype::kAvs);
        CHECK(pkt.error == DecodeError::BadVersion);
    }
}

TEST_CASE("llc: 802.3, ATM and the forms without an ethertype", "[decode][wlan][llc]") {
    SECTION("Ethernet 802.3 length frame with LLC/SNAP, padded") {
        Frame f = cat_all({kMacB,
                           kMacA,
                           {0x00, static_cast<std::uint8_t>(8 + kIp.size())},
                           kSnapIpv4,
                           kIp,
                           {0, 0, 0, 0}});
        const Packet pkt = decode_frame(f, linktype::kEthernet);
        CHECK(pkt.has(Layer::Ethernet));
        check_dns_query(pkt);
    }
    SECTION("Ethernet 802.3 with spanning-tree LLC: no network layer") {
        const Frame f = cat_all({kMacB, kMacA, {0x00, 0x26}, {0x42, 0x42, 0x03}, Frame(35, 0)});
        const Packet pkt = decode_frame(f, linktype::kEthernet);
        CHECK(pkt.has(Layer::Llc));
        CHECK(pkt.llc.dsap() == 0x42);
        CHECK_FALSE(pkt.llc.is_snap());
        CHECK(pkt.ethertype == 0);
        CHECK_FALSE(pkt.malformed());
        report_survives(pkt);
    }
    SECTION("802.3 length after a VLAN tag: LLC/SNAP, IPv4") {
        Frame f = cat_all({kMacB,
                           kMacA,
                           {0x81, 0x00, 0x00, 0x64},
                           {0x00, static_cast<std::uint8_t>(8 + kIp.size())},
                           kSnapIpv4,
                           kIp});
        const Packet pkt = decode_frame(f, linktype::kEthernet);
        CHECK(pkt.vlan_count == 1);
        check_dns_query(pkt);
    }
    SECTION("Novell raw 802.3 (0xffff): not LLC") {
        const Frame f = cat_all({kMacB, kMacA, {0x00, 0x20}, {0xff, 0xff}, Frame(30, 0)});
        const Packet pkt = decode_frame(f, linktype::kEthernet);
        CHECK_FALSE(pkt.has(Layer::Llc));
        CHECK_FALSE(pkt.malformed());
    }
    SECTION("I-format control: 2 bytes") {
        LlcView l{};
        const Frame b = {0x04, 0x04, 0x00, 0x01, 0x99};
        REQUIRE(LlcView::parse(b, l) == DecodeError::None);
        CHECK(l.header_len() == 4);
        CHECK(l.ethertype() == 0);
        CHECK(LlcView::parse(slice(b, 0, 3), l) == DecodeError::Truncated);
    }
    SECTION("ATM RFC 1483: LLC/SNAP first") {
        const Frame f = cat_all({kSnapIpv4, kIp});
        const Packet pkt = decode_frame(f, linktype::kAtmRfc1483);
        check_dns_query(pkt);
    }
    SECTION("Linux ATM CLIP: IPv4 first") {
        const Packet pkt = decode_frame(kIp, linktype::kAtmClip);
        CHECK(pkt.has(Layer::Udp));
        CHECK(pkt.udp.dst_port() == 53);
    }
}

TEST_CASE("wlan: every prefix stays in bounds and names the layer it cut", "[decode][wlan]") {
    struct Spec {
        const char* name;
        Frame frame;
        int dlt;
        std::vector<std::pair<std::size_t, Layer>> ends;  // header end, its layer, in order
    };
    const Frame qos =
        cat_all({mac_header(0x88, 0x83, {kMacB, kMacD, kMacC}, kMacA), {0x80, 0x00}, {1, 2, 3, 4}});
    const Frame sub = {0x02, 0x00,
                       0x5e, 0xc6,
                       0x12, 0x02,
                       0x00, 0x1b,
                       0x21, 0x3a,
                       0x4f, 0x5e,
                       0x00, static_cast<std::uint8_t>(kSnapIpv4.size() + kIp.size())};
    Frame prism(144, 0);
    Frame avs(64, 0);
    avs[0] = 0x80, avs[1] = 0x21, avs[2] = 0x10, avs[3] = 0x02, avs[7] = 64;
    const std::vector<Spec> specs = {
        {"802.11",
         kDataToDs,
         linktype::kIeee80211,
         {{24, Layer::Wlan}, {32, Layer::Llc}, {52, Layer::Ipv4}, {60, Layer::Udp}}},
        {"radiotap + FCS",
         cat_all({radiotap(0x10), kDataToDs, {1, 2, 3, 4}}),
         linktype::kRadiotap,
         {{15, Layer::Radiotap},
          {39, Layer::Wlan},
          {47, Layer::Llc},
          {67, Layer::Ipv4},
          {75, Layer::Udp}}},
        {"QoS 4-address HT A-MSDU",
         cat_all({qos, sub, kSnapIpv4, kIp}),
         linktype::kIeee80211,
         {{36, Layer::Wlan},
          {50, Layer::Wlan},
          {58, Layer::Llc},
          {78, Layer::Ipv4},
          {86, Layer::Udp}}},
        {"prism",
         cat_all({prism, kDataToDs}),
         linktype::kPrism,
         {{144, Layer::Radiotap},
          {168, Layer::Wlan},
          {176, Layer::Llc},
          {196, Layer::Ipv4},
          {204, Layer::Udp}}},
        {"AVS",
         cat_all({avs, kDataToDs}),
         linktype::kAvs,
         {{64, Layer::Radiotap},
          {88, Layer::Wlan},
          {96, Layer::Llc},
          {116, Layer::Ipv4},
          {124, Layer::Udp}}},
    };
    for (const Spec& s : specs) {
        const Packet whole = decode_frame(s.frame, s.dlt);
        INFO(s.name);
        check_dns_query(whole);
        for (std::size_t p = 0; p < s.frame.size(); ++p) {
            const Frame cut(s.frame.begin(), s.frame.begin() + static_cast<std::ptrdiff_t>(p));
            INFO(s.name << " cut at " << p);
            const Packet pkt = decode_frame(cut, s.dlt, static_cast<std::uint32_t>(s.frame.size()));
            CHECK(inside(pkt.payload, cut));
            const auto hit = std::find_if(s.ends.begin(), s.ends.end(),
                                          [&](const auto& e) { return p < e.first; });
            if (hit != s.ends.end()) {
                CHECK(pkt.error == DecodeError::Truncated);
                CHECK(pkt.error_layer == hit->second);
                CHECK_FALSE(pkt.has(hit->second == Layer::Wlan && hit != s.ends.begin() &&
                                            std::prev(hit)->second == Layer::Wlan
                                        ? Layer::Llc
                                        : hit->second));
            } else {
                CHECK_FALSE(pkt.malformed());
                CHECK(pkt.has(Layer::Udp));
            }
            report_survives(pkt);
        }
    }
}
