// The -x, -X and -A dumps: tcpdump's layout (offsets, groups of two bytes, the
// character column padded under a short last line), where the network layer
// starts (Ethernet, VLAN tags, LLC, cooked and raw captures), the snap length.
#include <catch2/catch.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "decode/packet.hpp"
#include "report/packet_dump.hpp"

using namespace wl;

namespace {

std::string dumped(const std::vector<std::uint8_t>& frame, int linktype, PacketDumpStyle style) {
    Packet pkt;
    pkt.linktype = linktype;
    pkt.caplen = pkt.wire_len = static_cast<std::uint32_t>(frame.size());
    decode(Bytes{frame.data(), frame.size()}, pkt);
    std::FILE* f = std::tmpfile();
    REQUIRE(f != nullptr);
    {
        OutBuffer out(f);
        write_packet_dump(out, pkt, Bytes{frame.data(), frame.size()}, style);
    }
    std::rewind(f);
    std::string s;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
        s.append(buf, n);
    std::fclose(f);
    return s;
}

std::vector<std::uint8_t> bytes_of(const std::string& hex) {
    std::vector<std::uint8_t> v;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
        v.push_back(static_cast<std::uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
    return v;
}

// Ethernet, IPv4 (20 bytes), UDP (8 bytes) and a 5-byte payload "hi\r\nA": 47 bytes.
const std::string kEth =
    "020000000002"
    "020000000001"
    "0800";
const std::string kIp =
    "45000021000140004011"
    "0000"
    "c0a80001c0a80002";
const std::string kUdp =
    "d4310035000d0000"
    "68690d0a41";

}  // namespace

TEST_CASE("Dump -x: groups of two bytes and eight a line from the IP header", "[report][dump]") {
    const auto frame = bytes_of(kEth + kIp + kUdp);
    const std::string got = dumped(frame, linktype::kEthernet, {PacketDump::Hex, false});
    CHECK(got ==
          "\t0x0000:  4500 0021 0001 4000 4011 0000 c0a8 0001\n"
          "\t0x0010:  c0a8 0002 d431 0035 000d 0000 6869 0d0a\n"
          "\t0x0020:  41\n");
    const std::string link = dumped(frame, linktype::kEthernet, {PacketDump::Hex, true});
    CHECK(link.rfind("\t0x0000:  0200 0000 0002 0200 0000 0001 0800 4500\n", 0) == 0);
    CHECK(link.find("\t0x0020:  0002 d431 0035 000d 0000 6869 0d0a 41\n") == link.size() - 48);
}

TEST_CASE("Dump -X: the characters beside and under a padded short line", "[report][dump]") {
    const auto frame = bytes_of(kEth + kIp + kUdp);
    const std::string got = dumped(frame, linktype::kEthernet, {PacketDump::HexAscii, false});
    CHECK(got ==
          "\t0x0000:  4500 0021 0001 4000 4011 0000 c0a8 0001  E..!..@.@.......\n"
          "\t0x0010:  c0a8 0002 d431 0035 000d 0000 6869 0d0a  .....1.5....hi..\n"
          "\t0x0020:  41                                       A\n");
}

TEST_CASE("Dump -A: text with a carriage return before a line end left out", "[report][dump]") {
    const auto frame = bytes_of(kEth + kIp + kUdp);
    const std::string got = dumped(frame, linktype::kEthernet, {PacketDump::Ascii, false});
    // 28 header bytes as '.' or themselves, then "hi", the line end, "A", and the closing '\n'.
    CHECK(got.size() == 28 + 2 + 1 + 1 + 1);
    CHECK(got.substr(28) == "hi\nA\n");
}

TEST_CASE("Dump: where the network layer starts", "[report][dump]") {
    Packet pkt;
    // Two VLAN tags after the MAC addresses.
    auto qinq = bytes_of(
        "020000000002020000000001"
        "88a80064"
        "81000065"
        "0800" +
        kIp);
    pkt.linktype = linktype::kEthernet;
    CHECK(link_header_len(pkt, Bytes{qinq.data(), qinq.size()}) == 22);
    // An 802.3 length field: the LLC header (3 bytes, UI) or LLC/SNAP (8 bytes) too.
    auto llc = bytes_of(
        "0180c2000000020000000001"
        "0026"
        "424203"
        "0000");
    CHECK(link_header_len(pkt, Bytes{llc.data(), llc.size()}) == 17);
    auto snap = bytes_of(
        "0180c2000000020000000001"
        "0026"
        "aaaa03000000"
        "0800" +
        kIp);
    CHECK(link_header_len(pkt, Bytes{snap.data(), snap.size()}) == 22);
    // Shorter than its Ethernet header: nothing left to dump from the network layer.
    auto runt = bytes_of("0200000000020200");
    CHECK(link_header_len(pkt, Bytes{runt.data(), runt.size()}) == runt.size());
    CHECK(dumped(runt, linktype::kEthernet, {PacketDump::Hex, false}).empty());
    CHECK(!dumped(runt, linktype::kEthernet, {PacketDump::Hex, true}).empty());
    // Linux cooked (16 bytes) and raw IP (none).
    pkt.linktype = linktype::kLinuxSll;
    CHECK(link_header_len(pkt, Bytes{qinq.data(), qinq.size()}) == 16);
    pkt.linktype = linktype::kRaw;
    CHECK(link_header_len(pkt, Bytes{qinq.data(), qinq.size()}) == 0);
}

TEST_CASE("Dump: offsets past 0xffff take more digits", "[report][dump]") {
    std::vector<std::uint8_t> frame(0x10010, 0x41);
    const std::string got = dumped(frame, linktype::kRaw, {PacketDump::Hex, false});
    CHECK(got.find("\t0xfff0:  4141") != std::string::npos);
    CHECK(got.find("\t0x10000:  4141") != std::string::npos);
    CHECK(got.size() == 4096 * 50 + 51);  // "\t0x" offset ": " 8 groups "\n"; one digit more
}
