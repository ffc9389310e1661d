// craft_samples: writes wirelens' crafted sample captures.
//
//   craft_samples OUTPUT_DIR
//
// writes into OUTPUT_DIR:
//   vlan-qinq.pcap     802.1Q and QinQ (802.1ad outer tag) frames with IPv4 TCP/UDP and ARP
//   ipv6-ext.pcap      IPv6 extension header chains, fragments, ICMPv6; ICMPv4 echo
//   tcp-options.pcap   TCP options (MSS, WS, SACK, TS, TFO, unknown kind) and all 9 flags
//   malformed.pcap     deliberately broken frames, one defect each (see make_malformed)
//   linktypes/*.pcap   one small packet under many link types, plus one pcapng file
//
// Everything is fixed: contents, addresses and timestamps, so that the files are byte for byte
// the same on every run. The valid frames are built with libtins (which computes lengths and
// checksums); the files that libtins' PacketWriter can't express (wire length != captured length,
// odd link types, pcapng) are written by the small hand-written writers below.
//
// Addresses: IPv4 only from 198.18.0.0/15, IPv6 only from fd00::/8. MACs: real vendor OUIs
// (Intel 00:1b:21 and 3c:fd:fe, Cisco 00:00:0c), one locally administered (02:...) and broadcast.
// None of these packets is ever sent anywhere.

#include <tins/tins.h>

#include <sys/stat.h>
#include <sys/time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using Tins::ARP;
using Tins::Dot11Data;
using Tins::Dot1Q;
using Tins::EthernetII;
using Tins::ICMP;
using Tins::ICMPv6;
using Tins::IP;
using Tins::IPv4Address;
using Tins::IPv6;
using Tins::IPv6Address;
using Tins::PDU;
using Tins::RawPDU;
using Tins::SNAP;
using Tins::TCP;
using Tins::UDP;

using Bytes = std::vector<uint8_t>;
using Mac = Tins::HWAddress<6>;

// 2024-01-01T00:00:00Z; every file starts here and advances 1 ms per packet.
constexpr uint32_t kBaseTime = 1704067200;

const Mac kIntel("00:1b:21:3a:4f:01");      // Intel Corporate
const Mac kIntelX710("3c:fd:fe:a5:00:10");  // Intel Corporate
const Mac kCisco("00:00:0c:9f:f0:01");      // Cisco Systems
const Mac kLocal("02:00:5e:c6:12:02");      // locally administered (bit 1 of byte 0 set)
const Mac kBroadcast("ff:ff:ff:ff:ff:ff");
const Mac kUnknown("00:00:00:00:00:00");  // ARP request target hardware address

const IPv4Address kV4A("198.18.0.1");
const IPv4Address kV4B("198.18.0.2");
const IPv4Address kV4C("198.19.7.10");
const IPv4Address kV4D("198.19.7.20");
const IPv6Address kV6A("fd00:5e::1");
const IPv6Address kV6B("fd00:5e::2");
const IPv6Address kV6Mid("fd00:5e:0:1::fe");

constexpr uint16_t kEtherIPv4 = 0x0800;
constexpr uint16_t kEtherIPv6 = 0x86dd;
constexpr uint16_t kEtherDot1Q = 0x8100;
constexpr uint16_t kEtherDot1ad = 0x88a8;

// ------------------------------------------------------------------------------------------------
// Small byte helpers

void put16(Bytes& b, uint16_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
}

void put32(Bytes& b, uint32_t v) {
    put16(b, static_cast<uint16_t>(v >> 16));
    put16(b, static_cast<uint16_t>(v));
}

void set16(Bytes& b, size_t off, uint16_t v) {
    b.at(off) = static_cast<uint8_t>(v >> 8);
    b.at(off + 1) = static_cast<uint8_t>(v);
}

uint16_t get16(const Bytes& b, size_t off) {
    return static_cast<uint16_t>(b.at(off) << 8 | b.at(off + 1));
}

void append(Bytes& b, const Bytes& more) {
    b.insert(b.end(), more.begin(), more.end());
}

void append(Bytes& b, const std::string& s) {
    b.insert(b.end(), s.begin(), s.end());
}

void append(Bytes& b, const IPv6Address& a) {
    b.insert(b.end(), a.begin(), a.end());
}

Bytes serialize(const PDU& pdu) {
    // PDU::serialize is not const; serialize a copy so callers may pass temporaries.
    std::unique_ptr<PDU> copy(pdu.clone());
    return copy->serialize();
}

// Internet checksum (RFC 1071) of b[off, off+len) plus an initial partial sum.
uint16_t inet_checksum(const Bytes& b, size_t off, size_t len, uint32_t sum = 0) {
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += get16(b, off + i);
    if (len % 2) sum += static_cast<uint32_t>(b.at(off + len - 1) << 8);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

// Recompute the IPv4 header checksum of the header at ip_off (length from its IHL field).
void fix_ipv4_checksum(Bytes& f, size_t ip_off) {
    const size_t ihl = (f.at(ip_off) & 0x0f) * 4u;
    set16(f, ip_off + 10, 0);
    set16(f, ip_off + 10, inet_checksum(f, ip_off, ihl));
}

// Recompute the TCP or UDP checksum of the IPv4 packet at ip_off over the l4_len bytes at l4_off.
void fix_l4_checksum_v4(Bytes& f, size_t ip_off, size_t l4_off, size_t l4_len) {
    const uint8_t proto = f.at(ip_off + 9);
    const size_t csum_off = l4_off + (proto == 6 ? 16 : 6);
    uint32_t pseudo = 0;
    for (size_t i = 0; i < 8; i += 2)
        pseudo += get16(f, ip_off + 12 + i);  // src + dst
    pseudo += proto;
    pseudo += static_cast<uint32_t>(l4_len);
    set16(f, csum_off, 0);
    set16(f, csum_off, inet_checksum(f, l4_off, l4_len, pseudo));
}

// ------------------------------------------------------------------------------------------------
// Writers

void report(const std::string& path, int packets) {
    std::printf("%-60s %3d packets\n", path.c_str(), packets);
}

struct Clock {
    uint32_t sec = kBaseTime;
    uint32_t usec = 0;
    timeval next() {
        timeval tv{};
        tv.tv_sec = sec;
        tv.tv_usec = static_cast<suseconds_t>(usec);
        usec += 1000;
        if (usec >= 1000000) {
            usec -= 1000000;
            ++sec;
        }
        return tv;
    }
};

// Classic libpcap file format, written little-endian by hand (so any host writes the same bytes).
class PcapFile {
  public:
    PcapFile(const std::string& path, uint32_t linktype, uint32_t snaplen = 262144)
        : out_(path, std::ios::binary | std::ios::trunc), path_(path) {
        if (!out_) throw std::runtime_error("cannot create " + path);
        u32(0xa1b2c3d4);  // magic: microsecond timestamps
        u16(2);           // version 2.4
        u16(4);
        u32(0);  // thiszone
        u32(0);  // sigfigs
        u32(snaplen);
        u32(linktype);
    }

    // orig_len == 0 means "same as the captured length".
    void write(const Bytes& data, uint32_t orig_len = 0) {
        const timeval tv = clock_.next();
        u32(static_cast<uint32_t>(tv.tv_sec));
        u32(static_cast<uint32_t>(tv.tv_usec));
        u32(static_cast<uint32_t>(data.size()));
        u32(orig_len ? orig_len : static_cast<uint32_t>(data.size()));
        out_.write(reinterpret_cast<const char*>(data.data()),
                   static_cast<std::streamsize>(data.size()));
        ++count_;
    }

    ~PcapFile() { report(path_, count_); }

  private:
    void u16(uint16_t v) {
        const char b[2] = {static_cast<char>(v), static_cast<char>(v >> 8)};
        out_.write(b, 2);
    }
    void u32(uint32_t v) {
        u16(static_cast<uint16_t>(v));
        u16(static_cast<uint16_t>(v >> 16));
    }

    std::ofstream out_;
    std::string path_;
    Clock clock_;
    int count_ = 0;
};

// Ethernet files of valid frames go through libtins' own PacketWriter (libpcap's pcap_dump).
class EthWriter {
  public:
    explicit EthWriter(const std::string& path)
        : writer_(path, Tins::DataLinkType<EthernetII>()), path_(path) {}

    void write(const PDU& pdu) {
        Tins::Packet packet(pdu, Tins::Timestamp(clock_.next()));
        writer_.write(packet);
        ++count_;
    }

    ~EthWriter() { report(path_, count_); }

  private:
    Tins::PacketWriter writer_;
    std::string path_;
    Clock clock_;
    int count_ = 0;
};

// ------------------------------------------------------------------------------------------------
// Frame builders

EthernetII eth(const Mac& dst, const Mac& src) {
    return EthernetII(dst, src);
}

Dot1Q vlan(uint16_t id, uint8_t prio = 0) {
    Dot1Q tag(id);
    tag.priority(prio);
    return tag;
}

TCP tcp(uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint16_t flags,
        uint16_t window = 64240) {
    TCP t(dport, sport);
    t.seq(seq);
    t.ack_seq(ack);
    t.flags(flags);
    t.window(window);
    return t;
}

IP ipv4(const IPv4Address& src, const IPv4Address& dst, uint16_t id) {
    IP ip(dst, src);
    ip.id(id);
    ip.ttl(64);
    ip.flags(IP::DONT_FRAGMENT);
    return ip;
}

IPv6 ipv6(const IPv6Address& src, const IPv6Address& dst) {
    IPv6 ip(dst, src);
    ip.hop_limit(64);
    return ip;
}

// Upper-layer bytes (with a correct checksum) of `l4` carried from src to dst over IPv6.
// The checksum pseudo-header does not include extension headers, so these bytes can be put
// behind any extension header chain that does not change the final destination.
Bytes l4_over_v6(const IPv6Address& src, const IPv6Address& dst, const PDU& l4) {
    IPv6 ip = ipv6(src, dst);
    ip /= l4;
    Bytes all = serialize(ip);
    return Bytes(all.begin() + 40, all.end());
}

// IPv6 fixed header (40 bytes) + `rest` (extension headers and upper layer).
Bytes v6_packet(const IPv6Address& src, const IPv6Address& dst, uint8_t next, const Bytes& rest,
                int payload_len = -1) {
    Bytes b = {0x60, 0x00, 0x00, 0x00};
    put16(b, static_cast<uint16_t>(payload_len < 0 ? rest.size() : payload_len));
    b.push_back(next);
    b.push_back(64);  // hop limit
    append(b, src);
    append(b, dst);
    append(b, rest);
    return b;
}

// Ethernet frame carrying `payload` bytes under `ethertype` (libtins pads it to 60 bytes).
EthernetII eth_raw(const Mac& dst, const Mac& src, uint16_t ethertype, const Bytes& payload) {
    EthernetII e(dst, src);
    e.payload_type(ethertype);
    e /= RawPDU(payload.data(), static_cast<uint32_t>(payload.size()));
    return e;
}

// Extension headers. Each is (next header, header length in 8-octet units - 1, body).
Bytes hop_by_hop(uint8_t next) {
    // Router Alert (type 5, value 0 = MLD) + PadN(0 bytes of padding): 8 bytes.
    return {next, 0, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00};
}

Bytes dest_opts(uint8_t next) {
    // Option type 0x1e (unassigned, "skip if unknown"), 4 bytes of data: 8 bytes.
    return {next, 0, 0x1e, 0x04, 0xde, 0xad, 0xbe, 0xef};
}

Bytes segment_routing(uint8_t next, const IPv6Address& final_dst) {
    // Routing header type 4 (SRv6 SRH), Segments Left 0, one segment = the final destination,
    // so the packet's destination address is final and upper-layer checksums use it.
    Bytes b = {next, 2, 4, 0, /*last entry*/ 0, /*flags*/ 0, /*tag*/ 0, 0};
    append(b, final_dst);
    return b;
}

Bytes fragment(uint8_t next, uint16_t offset_units, bool more, uint32_t id) {
    Bytes b = {next, 0};
    put16(b, static_cast<uint16_t>(offset_units << 3 | (more ? 1 : 0)));
    put32(b, id);
    return b;
}

// ------------------------------------------------------------------------------------------------
// vlan-qinq.pcap

void make_vlan_qinq(const std::string& dir) {
    EthWriter w(dir + "/vlan-qinq.pcap");
    const Bytes http = [] {
        Bytes b;
        append(b, std::string("GET / HTTP/1.1\r\nHost: wirelens.test\r\n\r\n"));
        return b;
    }();

    // 1-2: 802.1Q VLAN 100: TCP SYN, SYN-ACK (IPv4).
    {
        TCP syn = tcp(40000, 80, 1000, 0, TCP::SYN);
        syn.mss(1460);
        w.write(eth(kCisco, kIntel) / vlan(100) / ipv4(kV4C, kV4D, 1) / syn);
        TCP synack = tcp(80, 40000, 5000, 1001, TCP::SYN | TCP::ACK, 65160);
        synack.mss(1460);
        w.write(eth(kIntel, kCisco) / vlan(100) / ipv4(kV4D, kV4C, 0) / synack);
    }
    // 3-4: 802.1Q VLAN 100 ARP request (broadcast) and reply.
    {
        ARP req(kV4D, kV4C, kUnknown, kIntel);
        req.opcode(ARP::REQUEST);
        w.write(eth(kBroadcast, kIntel) / vlan(100) / req);
        ARP rep(kV4C, kV4D, kIntel, kCisco);
        rep.opcode(ARP::REPLY);
        w.write(eth(kIntel, kCisco) / vlan(100) / rep);
    }
    // 5: 802.1Q VLAN 200, priority 5: IPv4 UDP.
    w.write(eth(kCisco, kIntel) / vlan(200, 5) / ipv4(kV4C, kV4D, 2) / UDP(7777, 50000) /
            RawPDU("hello from vlan 200"));

    // 6-7: QinQ: outer 802.1ad S-tag 10 (ethertype 0x88a8), inner 802.1Q C-tag 100 / 200.
    // libtins has no 802.1ad type: serialize the inner 802.1Q part (TCI, ethertype, payload)
    // and put the outer tag (TCI + 0x8100) in front of it by hand.
    auto qinq = [&](uint16_t s_vid, const PDU& inner_dot1q) {
        Bytes b;
        put16(b, s_vid);  // PCP 0, DEI 0, VID
        put16(b, kEtherDot1Q);
        append(b, serialize(inner_dot1q));
        return eth_raw(kCisco, kLocal, kEtherDot1ad, b);
    };
    TCP get = tcp(40000, 80, 1001, 5001, TCP::PSH | TCP::ACK);
    w.write(qinq(10, vlan(100) / ipv4(kV4C, kV4D, 3) / get / RawPDU(http.data(), http.size())));
    w.write(qinq(10, vlan(200) / ipv4(kV4C, kV4D, 4) / UDP(7777, 50001) /
                         RawPDU("hello from s-vlan 10 / c-vlan 200")));
    // 8: QinQ, reply direction, outer priority 3 (PCP bits), TCP ACK.
    {
        Bytes b;
        put16(b, static_cast<uint16_t>(3 << 13 | 10));
        put16(b, kEtherDot1Q);
        append(b, serialize(vlan(100) / ipv4(kV4D, kV4C, 5) /
                            tcp(80, 40000, 5001, 1001 + static_cast<uint32_t>(http.size()),
                                TCP::ACK, 65160)));
        w.write(eth_raw(kLocal, kCisco, kEtherDot1ad, b));
    }
}

// ------------------------------------------------------------------------------------------------
// ipv6-ext.pcap

void make_ipv6_ext(const std::string& dir) {
    EthWriter w(dir + "/ipv6-ext.pcap");
    auto send6 = [&](const Bytes& packet) {
        w.write(eth_raw(kCisco, kIntelX710, kEtherIPv6, packet));
    };

    // 1: Hop-by-Hop (Router Alert) -> UDP.
    {
        Bytes rest = hop_by_hop(17);
        append(rest, l4_over_v6(kV6A, kV6B, UDP(7777, 50000) / RawPDU("hop-by-hop then udp")));
        send6(v6_packet(kV6A, kV6B, 0, rest));
    }
    // 2: Destination Options -> TCP SYN.
    {
        TCP syn = tcp(40001, 80, 2000, 0, TCP::SYN, 64800);
        syn.mss(1440);
        Bytes rest = dest_opts(6);
        append(rest, l4_over_v6(kV6A, kV6B, syn));
        send6(v6_packet(kV6A, kV6B, 60, rest));
    }
    // 3: TCP SYN-ACK, no extension headers (answers packet 2).
    {
        TCP synack = tcp(80, 40001, 7000, 2001, TCP::SYN | TCP::ACK, 64800);
        synack.mss(1440);
        w.write(eth(kIntelX710, kCisco) / ipv6(kV6B, kV6A) / synack);
    }
    // 4: Hop-by-Hop -> Routing (SRH, segments left 0) -> ICMPv6 echo request.
    {
        ICMPv6 echo(ICMPv6::ECHO_REQUEST);
        echo.identifier(0x5e01);
        echo.sequence(1);
        Bytes rest = hop_by_hop(43);
        append(rest, segment_routing(58, kV6B));
        append(rest, l4_over_v6(kV6A, kV6B, echo / RawPDU("ping through an SRH")));
        send6(v6_packet(kV6A, kV6B, 0, rest));
    }
    // 5: plain ICMPv6 echo reply.
    {
        ICMPv6 echo(ICMPv6::ECHO_REPLY);
        echo.identifier(0x5e01);
        echo.sequence(1);
        w.write(eth(kIntelX710, kCisco) / ipv6(kV6B, kV6A) / echo / RawPDU("ping through an SRH"));
    }
    // 6-7: one TCP segment (20 + 100 bytes) in two fragments: offset 0 with M=1 carrying the
    // TCP header and the first 44 data bytes, then the non-first fragment (offset 64 bytes, M=0).
    {
        Bytes data;
        for (int i = 0; i < 100; ++i)
            data.push_back(static_cast<uint8_t>('a' + i % 26));
        const Bytes seg = l4_over_v6(kV6A, kV6B,
                                     tcp(40001, 80, 2001, 7001, TCP::PSH | TCP::ACK, 64800) /
                                         RawPDU(data.data(), static_cast<uint32_t>(data.size())));
        const uint32_t id = 0x5e0f0001;
        Bytes first = fragment(6, 0, true, id);
        first.insert(first.end(), seg.begin(), seg.begin() + 64);
        send6(v6_packet(kV6A, kV6B, 44, first));
        Bytes second = fragment(6, 64 / 8, false, id);
        second.insert(second.end(), seg.begin() + 64, seg.end());
        send6(v6_packet(kV6A, kV6B, 44, second));
    }
    // 8: the long chain: Hop-by-Hop -> Destination Options -> Routing (SRH) -> Fragment (atomic:
    // offset 0, M=0) -> Destination Options -> UDP.
    {
        Bytes rest = hop_by_hop(60);
        append(rest, dest_opts(43));
        append(rest, segment_routing(44, kV6B));
        append(rest, fragment(60, 0, false, 0x5e0f0002));
        append(rest, dest_opts(17));
        append(rest, l4_over_v6(kV6A, kV6B, UDP(7777, 50002) / RawPDU("five extension headers")));
        send6(v6_packet(kV6A, kV6B, 0, rest));
    }
    // 9-10: ICMPv4 echo request and reply.
    {
        const std::string payload = "wirelens icmp echo payload 0123456789";
        ICMP req(ICMP::ECHO_REQUEST);
        req.id(0x0077);
        req.sequence(1);
        w.write(eth(kCisco, kIntelX710) / ipv4(kV4A, kV4B, 0x1001) / req / RawPDU(payload));
        ICMP rep(ICMP::ECHO_REPLY);
        rep.id(0x0077);
        rep.sequence(1);
        w.write(eth(kIntelX710, kCisco) / ipv4(kV4B, kV4A, 0x2001) / rep / RawPDU(payload));
    }
}

// ------------------------------------------------------------------------------------------------
// tcp-options.pcap

void make_tcp_options(const std::string& dir) {
    EthWriter w(dir + "/tcp-options.pcap");
    const IPv4Address cli("198.18.2.1");
    const IPv4Address srv("198.18.2.2");
    uint16_t ip_id = 0x3000;
    auto c2s = [&](const TCP& t, const std::string& data = "") {
        if (data.empty()) {
            w.write(eth(kCisco, kIntel) / ipv4(cli, srv, ip_id++) / t);
        } else {
            w.write(eth(kCisco, kIntel) / ipv4(cli, srv, ip_id++) / t / RawPDU(data));
        }
    };
    auto s2c = [&](const TCP& t) { w.write(eth(kIntel, kCisco) / ipv4(srv, cli, ip_id++) / t); };
    auto tfo_cookie = [](const Bytes& cookie) {
        return TCP::option(static_cast<TCP::OptionTypes>(34), cookie.size(), cookie.data());
    };
    const Bytes cookie = {0x5e, 0xc0, 0x0c, 0x1e, 0x00, 0x11, 0x22, 0x33};

    // Connection 1, port 51000 -> 5001: Linux-style SYN and SYN-ACK options.
    // 1: SYN: MSS 1460, SACK permitted, timestamps, NOP, window scale 7.
    TCP syn = tcp(51000, 5001, 100, 0, TCP::SYN);
    syn.mss(1460);
    syn.sack_permitted();
    syn.timestamp(1000, 0);
    syn.add_option(TCP::option(TCP::NOP));
    syn.winscale(7);
    c2s(syn);
    // 2: SYN-ACK: MSS 1400, SACK permitted, timestamps, NOP, window scale 9, TFO cookie.
    TCP synack = tcp(5001, 51000, 9000, 101, TCP::SYN | TCP::ACK, 65160);
    synack.mss(1400);
    synack.sack_permitted();
    synack.timestamp(5000, 1000);
    synack.add_option(TCP::option(TCP::NOP));
    synack.winscale(9);
    synack.add_option(tfo_cookie(cookie));
    s2c(synack);
    // 3: ACK with timestamps.
    auto ts_ack = [](TCP t, uint32_t val, uint32_t ecr) {
        t.add_option(TCP::option(TCP::NOP));
        t.add_option(TCP::option(TCP::NOP));
        t.timestamp(val, ecr);
        return t;
    };
    c2s(ts_ack(tcp(51000, 5001, 101, 9001, TCP::ACK, 502), 1001, 5000));
    // 4: data.
    c2s(ts_ack(tcp(51000, 5001, 101, 9001, TCP::PSH | TCP::ACK, 502), 1002, 5000),
        "segment one, 32 bytes of data...");
    // 5: ACK with two SACK blocks (as if segments 101+1000..2000 and 3000..4000 arrived).
    {
        TCP t = tcp(5001, 51000, 9001, 133, TCP::ACK, 128);
        t.add_option(TCP::option(TCP::NOP));
        t.add_option(TCP::option(TCP::NOP));
        t.sack({1101, 2101, 3101, 4101});
        t.add_option(TCP::option(TCP::NOP));
        t.add_option(TCP::option(TCP::NOP));
        t.timestamp(5001, 1002);
        s2c(t);
    }
    // 6: ACK with an unknown option kind 99, length 4, then timestamps.
    {
        TCP t = tcp(51000, 5001, 133, 9001, TCP::ACK, 502);
        const uint8_t data[2] = {0xab, 0xcd};
        t.add_option(TCP::option(static_cast<TCP::OptionTypes>(99), 2, data));
        t.add_option(TCP::option(TCP::NOP));
        t.add_option(TCP::option(TCP::NOP));
        t.timestamp(1003, 5001);
        c2s(t);
    }
    // 7: connection 2, port 51001: TFO SYN carrying the cookie and 14 bytes of data.
    {
        TCP t = tcp(51001, 5001, 700, 0, TCP::SYN);
        t.mss(1460);
        t.sack_permitted();
        t.timestamp(2000, 0);
        t.add_option(TCP::option(TCP::NOP));
        t.winscale(7);
        t.add_option(tfo_cookie(cookie));
        c2s(t, "fast open data");
    }

    // 8-16: each of the nine flags alone (NS is bit 8 of libtins' 12-bit flags field), each
    // from its own source port 51010..51018; sequence numbers are arbitrary, no options.
    constexpr uint16_t kNS = 0x100;
    const uint16_t singles[] = {TCP::FIN, TCP::SYN, TCP::RST, TCP::PSH, TCP::ACK,
                                TCP::URG, TCP::ECE, TCP::CWR, kNS};
    uint16_t sport = 51010;
    for (uint16_t f : singles) {
        TCP t = tcp(sport++, 5001, 30000, f & TCP::ACK ? 40000 : 0, f);
        if (f == TCP::URG) t.urg_ptr(1);
        c2s(t);
    }
    // 17-23: the usual combinations and two oddities, connection 4, port 51003.
    // 17: SYN + ECE + CWR (ECN-setup SYN), 18: SYN-ACK + ECE (ECN-setup SYN-ACK),
    // 19: ACK + URG + PSH with urgent pointer 5, 20: FIN + ACK, 21: RST + ACK,
    // 22: all nine flags ("christmas tree"), 23: no flags at all ("null").
    c2s(tcp(51003, 5001, 800, 0, TCP::SYN | TCP::ECE | TCP::CWR));
    s2c(tcp(5001, 51003, 9800, 801, TCP::SYN | TCP::ACK | TCP::ECE, 65160));
    {
        TCP t = tcp(51003, 5001, 801, 9801, TCP::ACK | TCP::URG | TCP::PSH);
        t.urg_ptr(5);
        c2s(t, "URGENT!");
    }
    c2s(tcp(51003, 5001, 808, 9801, TCP::FIN | TCP::ACK));
    s2c(tcp(5001, 51003, 9801, 809, TCP::RST | TCP::ACK, 0));
    {
        TCP t = tcp(51003, 5001, 900, 9900, 0x1ff);
        t.urg_ptr(1);
        c2s(t);
    }
    c2s(tcp(51003, 5001, 901, 0, 0));
}

// ------------------------------------------------------------------------------------------------
// malformed.pcap: each frame has one deliberate defect; the rest of it is valid (checksums are
// recomputed after the defect is introduced unless the defect makes that meaningless).

constexpr size_t kEth = 14;  // offset of the IPv4/IPv6 header in an untagged Ethernet frame

// Frame number n of malformed.pcap uses IP id n and source port 40000 + n.
Bytes good_v4_syn(uint16_t id) {
    TCP syn = tcp(static_cast<uint16_t>(40000 + id), 80, 1000, 0, TCP::SYN);
    return serialize(eth(kCisco, kIntel) / ipv4(kV4A, kV4B, id) / syn);
}

Bytes good_v4_udp(uint16_t id, const std::string& payload) {
    return serialize(eth(kCisco, kIntel) / ipv4(kV4A, kV4B, id) /
                     UDP(7777, static_cast<uint16_t>(40000 + id)) / RawPDU(payload));
}

// IPv4 frame with a TCP header whose option bytes are `opts` (a multiple of 4 bytes).
Bytes v4_tcp_with_raw_options(uint16_t id, const Bytes& opts) {
    TCP t = tcp(static_cast<uint16_t>(40000 + id), 80, 1000, 0, TCP::SYN);
    // Placeholder option of the right size (kind 253 = RFC 3692 experiment), overwritten below.
    const Bytes filler(opts.size() - 2, 0);
    t.add_option(TCP::option(TCP::RFC_EXPERIMENT_1, filler.size(), filler.data()));
    Bytes f = serialize(eth(kCisco, kIntel) / ipv4(kV4A, kV4B, id) / t);
    std::copy(opts.begin(), opts.end(), f.begin() + kEth + 20 + 20);
    fix_l4_checksum_v4(f, kEth, kEth + 20, 20 + opts.size());
    return f;
}

void make_malformed(const std::string& dir) {
    PcapFile p(dir + "/malformed.pcap", 1);

    // 1: Ethernet frame of 10 bytes: shorter than the 14-byte Ethernet header.
    {
        Bytes f = good_v4_syn(1);
        f.resize(10);
        p.write(f);
    }
    // 2: IPv4 header length (IHL) 4, i.e. 16 bytes: less than the 20-byte minimum.
    {
        Bytes f = good_v4_syn(2);
        f[kEth] = 0x44;
        fix_ipv4_checksum(f, kEth);
        p.write(f);
    }
    // 3: version field 6 in a packet under ethertype 0x0800 (otherwise a valid IPv4 header).
    {
        Bytes f = good_v4_syn(3);
        f[kEth] = 0x65;
        fix_ipv4_checksum(f, kEth);
        p.write(f);
    }
    // 4: IPv4 total length 1000, but the frame holds only 20 + 20 bytes of IP; the record's wire
    // length equals its captured length, so this is a lie, not a snaplen cut.
    {
        Bytes f = good_v4_syn(4);
        set16(f, kEth + 2, 1000);
        fix_ipv4_checksum(f, kEth);
        p.write(f);
    }
    // 5: IPv4 total length 12: smaller than its own 20-byte header.
    {
        Bytes f = good_v4_syn(5);
        set16(f, kEth + 2, 12);
        fix_ipv4_checksum(f, kEth);
        p.write(f);
    }
    // 6: TCP data offset 3 (12 bytes): less than the 20-byte minimum.
    {
        Bytes f = good_v4_syn(6);
        f[kEth + 20 + 12] = 0x30;
        fix_l4_checksum_v4(f, kEth, kEth + 20, 20);
        p.write(f);
    }
    // 7: TCP data offset 15 (60 bytes), but the IP payload is only the 20-byte TCP header.
    {
        Bytes f = good_v4_syn(7);
        f[kEth + 20 + 12] = 0xf0;
        fix_l4_checksum_v4(f, kEth, kEth + 20, 20);
        p.write(f);
    }
    // 8: TCP option MSS (kind 2) with length 0.
    p.write(v4_tcp_with_raw_options(8, {0x02, 0x00, 0x05, 0xb4}));
    // 9: TCP option window scale (kind 3) with length 1.
    p.write(v4_tcp_with_raw_options(9, {0x03, 0x01, 0x07, 0x00}));
    // 10: TCP option timestamps (kind 8) with length 10, but only 4 option bytes in the header.
    p.write(v4_tcp_with_raw_options(10, {0x08, 0x0a, 0x00, 0x00}));
    // 11: UDP length 4: less than the 8-byte UDP header (IP says 8 + 12 bytes of UDP).
    {
        Bytes f = good_v4_udp(11, "twelve bytes");
        set16(f, kEth + 20 + 4, 4);
        fix_l4_checksum_v4(f, kEth, kEth + 20, 20);
        p.write(f);
    }
    // 12: UDP length 200, but the IP payload is only 8 + 12 bytes.
    {
        Bytes f = good_v4_udp(12, "twelve bytes");
        set16(f, kEth + 20 + 4, 200);
        fix_l4_checksum_v4(f, kEth, kEth + 20, 20);
        p.write(f);
    }
    // 13: IPv6 payload length 500, but the frame carries 8 + 20 bytes of UDP.
    {
        const Bytes udp = l4_over_v6(kV6A, kV6B, UDP(7777, 40013) / RawPDU("twenty bytes of data"));
        p.write(serialize(
            eth_raw(kCisco, kIntelX710, kEtherIPv6, v6_packet(kV6A, kV6B, 17, udp, 500))));
    }
    // 14: IPv6 extension header chain that runs off the end: Hop-by-Hop (8 bytes, valid) then a
    // Destination Options header claiming 24 bytes of which only 6 are present. The payload
    // length (14) matches the frame: the chain itself is what's too long. No Ethernet padding
    // is needed (14 + 40 + 14 = 68 bytes).
    {
        Bytes rest = hop_by_hop(60);
        append(rest, Bytes{17, 2, 0x1e, 0x04, 0xde, 0xad});
        Bytes f = serialize(eth(kCisco, kIntelX710));  // 14-byte header only, ethertype set below
        f.resize(kEth);
        set16(f, 12, kEtherIPv6);
        append(f, v6_packet(kV6A, kV6B, 0, rest));
        p.write(f);
    }
    // 15: a TCP SYN with options cut after 10 bytes of its 40-byte TCP header, as a snaplen
    // cut would: captured length 44, wire length 74 (14 + 20 + 40).
    {
        TCP syn = tcp(40015, 80, 1000, 0, TCP::SYN);
        syn.mss(1460);
        syn.sack_permitted();
        syn.timestamp(1000, 0);
        syn.add_option(TCP::option(TCP::NOP));
        syn.winscale(7);
        Bytes f = serialize(eth(kCisco, kIntel) / ipv4(kV4A, kV4B, 15) / syn);
        const auto wire = static_cast<uint32_t>(f.size());
        f.resize(kEth + 20 + 10);
        p.write(f, wire);
    }
    // 16: IPv4 header checksum wrong (0xbad0 instead of the real one); all else valid.
    {
        Bytes f = good_v4_syn(16);
        if (get16(f, kEth + 10) == 0xbad0) throw std::logic_error("unlucky checksum");
        set16(f, kEth + 10, 0xbad0);
        p.write(f);
    }
    // 17: TCP checksum wrong (0xbad0); all else valid.
    {
        Bytes f = good_v4_syn(17);
        if (get16(f, kEth + 20 + 16) == 0xbad0) throw std::logic_error("unlucky checksum");
        set16(f, kEth + 20 + 16, 0xbad0);
        p.write(f);
    }
}

// ------------------------------------------------------------------------------------------------
// linktypes/: the same IPv4 TCP SYN under many link-layer headers.

Bytes v4_syn_ip() {
    TCP syn = tcp(40000, 80, 1000, 0, TCP::SYN);
    syn.mss(1460);
    return serialize(ipv4(kV4A, kV4B, 0x4242) / syn);
}

Bytes v6_syn_ip() {
    TCP syn = tcp(40000, 80, 1000, 0, TCP::SYN, 64800);
    syn.mss(1440);
    return serialize(ipv6(kV6A, kV6B) / syn);
}

Bytes with_prefix(Bytes prefix, const Bytes& packet) {
    append(prefix, packet);
    return prefix;
}

// pcapng blocks, little-endian. Options are (code, value) pairs, padded to 4 bytes.
class PcapngFile {
  public:
    explicit PcapngFile(const std::string& path)
        : out_(path, std::ios::binary | std::ios::trunc), path_(path) {
        if (!out_) throw std::runtime_error("cannot create " + path);
    }
    ~PcapngFile() { report(path_, count_); }

    void section_header(const std::string& user_appl) {
        Bytes body;
        le32(body, 0x1a2b3c4d);  // byte-order magic
        le16(body, 1);           // version 1.0
        le16(body, 0);
        le32(body, 0xffffffff);  // section length: unknown (-1, 64 bits)
        le32(body, 0xffffffff);
        option(body, 4, user_appl);  // shb_userappl
        end_of_options(body);
        block(0x0a0d0d0a, body);
    }

    void interface(uint16_t linktype, const std::string& name) {
        Bytes body;
        le16(body, linktype);
        le16(body, 0);  // reserved
        le32(body, 262144);
        option(body, 2, name);                     // if_name
        option(body, 9, std::string(1, char{6}));  // if_tsresol: 10^-6 s
        end_of_options(body);
        block(1, body);
    }

    void packet(const Bytes& data) {
        const timeval tv = clock_.next();
        const uint64_t ts = static_cast<uint64_t>(tv.tv_sec) * 1000000u + tv.tv_usec;
        Bytes body;
        le32(body, 0);  // interface id
        le32(body, static_cast<uint32_t>(ts >> 32));
        le32(body, static_cast<uint32_t>(ts));
        le32(body, static_cast<uint32_t>(data.size()));
        le32(body, static_cast<uint32_t>(data.size()));
        append(body, data);
        pad4(body);
        block(6, body);
        ++count_;
    }

  private:
    static void le16(Bytes& b, uint16_t v) {
        b.push_back(static_cast<uint8_t>(v));
        b.push_back(static_cast<uint8_t>(v >> 8));
    }
    static void le32(Bytes& b, uint32_t v) {
        le16(b, static_cast<uint16_t>(v));
        le16(b, static_cast<uint16_t>(v >> 16));
    }
    static void pad4(Bytes& b) {
        while (b.size() % 4)
            b.push_back(0);
    }
    static void option(Bytes& b, uint16_t code, const std::string& value) {
        le16(b, code);
        le16(b, static_cast<uint16_t>(value.size()));
        append(b, value);
        pad4(b);
    }
    static void end_of_options(Bytes& b) { le32(b, 0); }
    void block(uint32_t type, const Bytes& body) {
        const auto total = static_cast<uint32_t>(12 + body.size());
        Bytes b;
        le32(b, type);
        le32(b, total);
        append(b, body);
        le32(b, total);
        out_.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    }

    std::ofstream out_;
    std::string path_;
    Clock clock_;
    int count_ = 0;
};

void make_linktypes(const std::string& dir) {
    const std::string d = dir + "/linktypes";
    mkdir(d.c_str(), 0755);
    const Bytes ip4 = v4_syn_ip();
    const Bytes ip6 = v6_syn_ip();

    // LINKTYPE_ETHERNET (1), for comparison.
    PcapFile(d + "/ethernet-1.pcap", 1).write(serialize(eth_raw(kCisco, kIntel, kEtherIPv4, ip4)));

    // LINKTYPE_LINUX_SLL (113): packet type 0 (to us), ARPHRD_ETHER, 6-byte address + 2 pad,
    // protocol 0x0800. All fields big-endian.
    {
        Bytes h;
        put16(h, 0);
        put16(h, 1);
        put16(h, 6);
        h.insert(h.end(), kIntel.begin(), kIntel.end());
        put16(h, 0);
        put16(h, kEtherIPv4);
        PcapFile(d + "/linux-sll-113.pcap", 113).write(with_prefix(h, ip4));
    }
    // LINKTYPE_LINUX_SLL2 (276): protocol, reserved, interface index 2, ARPHRD_ETHER,
    // packet type 4 (outgoing), address length 6, address + 2 pad.
    {
        Bytes h;
        put16(h, kEtherIPv4);
        put16(h, 0);
        put32(h, 2);
        put16(h, 1);
        h.push_back(4);
        h.push_back(6);
        h.insert(h.end(), kIntel.begin(), kIntel.end());
        put16(h, 0);
        PcapFile(d + "/linux-sll2-276.pcap", 276).write(with_prefix(h, ip4));
    }
    // LINKTYPE_NULL (0): 4-byte address family in the *writer's* byte order. This file is
    // little-endian, so AF_INET (2) is 02 00 00 00 ...
    PcapFile(d + "/null-0.pcap", 0).write(with_prefix({2, 0, 0, 0}, ip4));
    // ... and here it is the other way round (00 00 00 02), as when a big-endian host's capture
    // was rewritten by a little-endian tool; readers are expected to accept both.
    PcapFile(d + "/null-0-swapped.pcap", 0).write(with_prefix({0, 0, 0, 2}, ip4));
    // LINKTYPE_LOOP (108): like NULL, but the family is always big-endian.
    PcapFile(d + "/loop-108.pcap", 108).write(with_prefix({0, 0, 0, 2}, ip4));
    // LINKTYPE_RAW (101): the packet starts with the IP header.
    PcapFile(d + "/raw-101.pcap", 101).write(ip4);
    // LINKTYPE_IPV4 (228) and LINKTYPE_IPV6 (229).
    PcapFile(d + "/ipv4-228.pcap", 228).write(ip4);
    PcapFile(d + "/ipv6-229.pcap", 229).write(ip6);
    // LINKTYPE_IEEE802_11 (105): an 802.11 data frame (to DS) with LLC/SNAP carrying the same
    // IPv4 packet.
    Bytes wlan;
    {
        Dot11Data frame(kCisco, kIntel);  // addr1 = BSSID/receiver, addr2 = transmitter
        frame.addr3(kLocal);              // final destination
        frame.to_ds(1);
        SNAP snap;
        snap.eth_type(kEtherIPv4);
        wlan = serialize(frame / snap);
        append(wlan, ip4);
        PcapFile(d + "/ieee802-11-105.pcap", 105).write(wlan);
    }
    // LINKTYPE_IEEE802_11_RADIOTAP (127): radiotap (flags with "FCS at end", rate 1 Mb/s,
    // channel 2412 MHz, antenna signal -60 dBm; 15 bytes), the same frame, its CRC-32 FCS.
    {
        Bytes b = {0x00, 0x00, 0x0f, 0x00, 0x2e, 0x00, 0x00, 0x00,
                   0x10, 0x02, 0x6c, 0x09, 0xa0, 0x00, 0xc4};
        append(b, wlan);
        uint32_t crc = 0xffffffffu;
        for (uint8_t byte : wlan) {
            crc ^= byte;
            for (int k = 0; k < 8; ++k)
                crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
        }
        crc = ~crc;
        for (int k = 0; k < 4; ++k)
            b.push_back(static_cast<uint8_t>(crc >> (8 * k)));  // little-endian on the air
        PcapFile(d + "/radiotap-127.pcap", 127).write(b);
    }
    // LINKTYPE_PRISM_HEADER (119): a 144-byte Prism header (message code 0x41, length 144,
    // device "wlan0", items left zero), then the same 802.11 frame.
    {
        Bytes b(144, 0);
        b[0] = 0x41;
        b[4] = 144;
        const std::string dev = "wlan0";
        std::copy(dev.begin(), dev.end(), b.begin() + 8);
        append(b, wlan);
        PcapFile(d + "/prism-119.pcap", 119).write(b);
    }
    // LINKTYPE_IEEE802_11_AVS (163): a 64-byte AVS version 1 header (channel 6), the frame.
    {
        Bytes b(64, 0);
        b[0] = 0x80, b[1] = 0x21, b[2] = 0x10, b[3] = 0x01, b[7] = 64, b[31] = 6;
        append(b, wlan);
        PcapFile(d + "/avs-163.pcap", 163).write(b);
    }
    // LINKTYPE_USER0 (147), which wirelens does not decode: the same Ethernet frame, only counted.
    PcapFile(d + "/user0-147-unsupported.pcap", 147)
        .write(serialize(eth_raw(kCisco, kIntel, kEtherIPv4, ip4)));
    // pcapng: Section Header, one Ethernet Interface Description, two Enhanced Packet Blocks
    // (the SYN and its SYN-ACK).
    {
        PcapngFile ng(d + "/ethernet.pcapng");
        ng.section_header("wirelens craft_samples");
        ng.interface(1, "eth0");
        ng.packet(serialize(eth_raw(kCisco, kIntel, kEtherIPv4, ip4)));
        TCP synack = tcp(80, 40000, 5000, 1001, TCP::SYN | TCP::ACK, 65160);
        synack.mss(1460);
        ng.packet(serialize(eth(kIntel, kCisco) / ipv4(kV4B, kV4A, 0) / synack));
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: " << argv[0] << " OUTPUT_DIR\n";
        return 2;
    }
    const std::string dir = argv[1];
    try {
        make_vlan_qinq(dir);
        make_ipv6_ext(dir);
        make_tcp_options(dir);
        make_malformed(dir);
        make_linktypes(dir);
    } catch (const std::exception& e) {
        std::cerr << "craft_samples: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
