// Cross-check of wl::decode against libtins on every packet of every sample
// capture (samples/*.pcap and samples/linktypes/*): the same captured bytes are
// parsed by both and the header fields compared - MACs, VLAN ids, IP addresses
// and header fields, ports, TCP flags/seq/ack/window/header length, payload
// length, UDP length, ICMP type/code.
//
// Rules:
// - libtins parses from the link layer for Ethernet (DLT 1, Tins::EthernetII)
//   and Linux SLL (DLT 113, Tins::SLL), from the IP header for raw IP link
//   types (Tins::IP / Tins::IPv6 on the whole frame). For link types libtins
//   has no parser for (SLL2, null/loop) it parses the IP header at the offset
//   wirelens found it.
// - Packets wirelens marks malformed are not compared; for those cut inside a
//   header (Truncated / BadHeaderLength) libtins must throw or not produce that
//   layer either.
// - libtins does not parse the transport header of any IPv4 fragment (not even
//   the first one, which wirelens does decode), nor anything after an IPv6
//   Fragment header, so for those only the IP layer is compared.
// - libtins keeps a UDP payload up to the end of the IP payload; wirelens trims
//   it to the UDP length field, so the smaller of libtins' size and the length
//   field is compared.
// - Where libtins throws and may (see libtins_may_reject) the packet is counted.
// - Payload sizes: libtins sees the captured bytes, wirelens also reports the
//   length on the wire; they are compared captured-to-captured.
#include <tins/tins.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "capture/pcap_source.hpp"
#include "decode/packet.hpp"

namespace {

namespace fs = std::filesystem;

// Enough to prove the comparison ran on real traffic, not on an empty list.
constexpr std::uint64_t kMinCompared = 100;

std::vector<fs::path> sample_captures() {
    std::vector<fs::path> found;
    const fs::path dir = WIRELENS_SAMPLES_DIR;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return found;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        const auto ext = e.path().extension();
        if (e.is_regular_file() && (ext == ".pcap" || ext == ".pcapng")) found.push_back(e.path());
    }
    if (fs::is_directory(dir / "linktypes", ec)) {
        for (const auto& e : fs::directory_iterator(dir / "linktypes", ec)) {
            if (e.is_regular_file()) found.push_back(e.path());
        }
    }
    std::sort(found.begin(), found.end());
    found.erase(std::remove_if(found.begin(), found.end(),
                               [](const fs::path& p) {
                                   std::error_code size_ec;
                                   return fs::file_size(p, size_ec) == 0;
                               }),
                found.end());
    return found;
}

std::string mac_string(const std::uint8_t* p) {
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", p[0], p[1], p[2], p[3], p[4],
                  p[5]);
    return buf;
}

std::string ipv4_string(const std::uint8_t* p) {
    return std::to_string(p[0]) + "." + std::to_string(p[1]) + "." + std::to_string(p[2]) + "." +
           std::to_string(p[3]);
}

template <class T>
std::string show(const T& v) {
    if constexpr (std::is_same_v<T, bool>) {
        return v ? "true" : "false";
    } else if constexpr (std::is_integral_v<T>) {
        return std::to_string(static_cast<long long>(v));
    } else if constexpr (std::is_same_v<T, std::vector<unsigned>>) {
        std::string s = "[";
        for (std::size_t i = 0; i < v.size(); ++i) {
            if (i != 0) s += ',';
            s += std::to_string(v[i]);
        }
        s += ']';
        return s;
    } else {
        return std::string(v);
    }
}

// Counts agreements per field and keeps the first disagreements with where they happened.
struct Tally {
    std::map<std::string, std::uint64_t> agreed;
    std::map<std::string, std::uint64_t> disagreed;
    std::vector<std::string> mismatches;
    std::string where;
    std::uint64_t compared = 0;
    std::uint64_t skipped_malformed = 0;
    std::uint64_t malformed_checked = 0;
    std::uint64_t fragments = 0;
    std::uint64_t link_from_offset = 0;
    std::uint64_t tins_rejected = 0;

    template <class A, class B>
    void eq(const std::string& field, const A& wl, const B& tins) {
        if (wl == tins) {
            ++agreed[field];
            return;
        }
        ++disagreed[field];
        if (mismatches.size() < 40) {
            mismatches.push_back(where + ": " + field + " wirelens=" + show(wl) +
                                 " libtins=" + show(tins));
        }
    }
    void note(const std::string& msg) {
        if (mismatches.size() < 40) mismatches.push_back(where + ": " + msg);
        ++disagreed["structure"];
    }
};

std::uint32_t inner_size(const Tins::PDU& pdu) {
    return pdu.inner_pdu() != nullptr ? pdu.inner_pdu()->size() : 0;
}

void compare_transport(Tally& t, const wl::Packet& pkt, const Tins::PDU& ip_pdu) {
    const Tins::PDU* inner = ip_pdu.inner_pdu();
    if (pkt.has(wl::Layer::Tcp)) {
        const auto* tcp = inner ? inner->find_pdu<Tins::TCP>() : nullptr;
        if (tcp == nullptr || inner != tcp) return t.note("wirelens decoded TCP, libtins did not");
        t.eq("tcp.sport", pkt.tcp.src_port(), tcp->sport());
        t.eq("tcp.dport", pkt.tcp.dst_port(), tcp->dport());
        t.eq("tcp.seq", pkt.tcp.seq(), tcp->seq());
        t.eq("tcp.ack", pkt.tcp.ack(), tcp->ack_seq());
        t.eq("tcp.window", pkt.tcp.window(), tcp->window());
        t.eq("tcp.flags", pkt.tcp.flags(), static_cast<std::uint16_t>(tcp->flags() & 0x1ff));
        t.eq("tcp.header_len", pkt.tcp.header_len(), tcp->data_offset() * 4u);
        t.eq("tcp.payload_captured", pkt.payload.size(), std::size_t{inner_size(*tcp)});
        if (pkt.caplen == pkt.wire_len) {
            t.eq("tcp.payload_len", pkt.payload_wire_len, inner_size(*tcp));
        }
    } else if (pkt.has(wl::Layer::Udp)) {
        const auto* udp = inner ? inner->find_pdu<Tins::UDP>() : nullptr;
        if (udp == nullptr || inner != udp) return t.note("wirelens decoded UDP, libtins did not");
        t.eq("udp.sport", pkt.udp.src_port(), udp->sport());
        t.eq("udp.dport", pkt.udp.dst_port(), udp->dport());
        t.eq("udp.length", pkt.udp.length(), udp->length());
        // libtins keeps the whole IP payload; wirelens trims it to the UDP length field.
        const std::size_t by_length = udp->length() >= 8 ? udp->length() - 8u : 0;
        t.eq("udp.payload_captured", pkt.payload.size(),
             std::min(std::size_t{inner_size(*udp)}, by_length));
    } else if (pkt.has(wl::Layer::Icmp)) {
        const auto* icmp = inner ? inner->find_pdu<Tins::ICMP>() : nullptr;
        if (icmp == nullptr) return t.note("wirelens decoded ICMP, libtins did not");
        t.eq("icmp.type", pkt.icmp.type(), static_cast<unsigned>(icmp->type()));
        t.eq("icmp.code", pkt.icmp.code(), icmp->code());
    } else if (pkt.has(wl::Layer::Icmpv6)) {
        const auto* icmp = inner ? inner->find_pdu<Tins::ICMPv6>() : nullptr;
        if (icmp == nullptr) return t.note("wirelens decoded ICMPv6, libtins did not");
        t.eq("icmpv6.type", pkt.icmp.type(), static_cast<unsigned>(icmp->type()));
        t.eq("icmpv6.code", pkt.icmp.code(), icmp->code());
    } else if (inner != nullptr &&
               (inner->pdu_type() == Tins::PDU::TCP || inner->pdu_type() == Tins::PDU::UDP)) {
        t.note("libtins decoded TCP/UDP, wirelens did not");
    }
}

void compare_ip(Tally& t, const wl::Packet& pkt, const Tins::PDU* pdu) {
    if (pkt.ip_version == 4) {
        const auto* ip = pdu ? pdu->find_pdu<Tins::IP>() : nullptr;
        if (ip == nullptr) return t.note("wirelens decoded IPv4, libtins did not");
        t.eq("ip.src", ipv4_string(pkt.ip4.src()), ip->src_addr().to_string());
        t.eq("ip.dst", ipv4_string(pkt.ip4.dst()), ip->dst_addr().to_string());
        t.eq("ip.ttl", pkt.ip4.ttl(), ip->ttl());
        t.eq("ip.protocol", pkt.ip4.protocol(), ip->protocol());
        t.eq("ip.tot_len", pkt.ip4.total_len(), ip->tot_len());
        t.eq("ip.id", pkt.ip4.id(), ip->id());
        t.eq("ip.header_len", pkt.ip4.header_len(), ip->head_len() * 4u);
        t.eq("ip.fragment_offset", pkt.ip4.fragment_offset(),
             static_cast<std::uint16_t>(ip->fragment_offset()));
        t.eq("ip.more_fragments", pkt.ip4.more_fragments(),
             (ip->flags() & Tins::IP::MORE_FRAGMENTS) != 0);
        if (pkt.ip_fragment) {
            ++t.fragments;  // libtins keeps every fragment's payload raw
            return;
        }
        compare_transport(t, pkt, *ip);
    } else if (pkt.ip_version == 6) {
        const auto* ip = pdu ? pdu->find_pdu<Tins::IPv6>() : nullptr;
        if (ip == nullptr) return t.note("wirelens decoded IPv6, libtins did not");
        t.eq("ipv6.src", Tins::IPv6Address(pkt.ip6.src()).to_string(), ip->src_addr().to_string());
        t.eq("ipv6.dst", Tins::IPv6Address(pkt.ip6.dst()).to_string(), ip->dst_addr().to_string());
        t.eq("ipv6.hop_limit", pkt.ip6.hop_limit(), ip->hop_limit());
        t.eq("ipv6.payload_length", pkt.ip6.payload_len_field(), ip->payload_length());
        t.eq("ipv6.next_header", pkt.ip6.next_header(), ip->next_header());
        t.eq("ipv6.ext_headers", static_cast<std::size_t>(pkt.ip6_chain.count),
             ip->headers().size());
        // libtins leaves everything after an IPv6 Fragment header raw, even in an atomic
        // fragment (offset 0, M clear: RFC 6946), which wirelens decodes as a whole datagram.
        if (pkt.ip_fragment || pkt.ip6_chain.has_fragment) {
            ++t.fragments;
            return;
        }
        compare_transport(t, pkt, *ip);
    }
}

std::unique_ptr<Tins::PDU> parse_ip(const std::uint8_t* p, std::uint32_t n) {
    if (n == 0) return nullptr;
    if ((p[0] >> 4) == 6) return std::make_unique<Tins::IPv6>(p, n);
    return std::make_unique<Tins::IP>(p, n);
}

std::vector<unsigned> wl_vlans(const wl::Packet& pkt) {
    std::vector<unsigned> v;
    for (std::uint8_t i = 0; i < pkt.vlan_count; ++i)
        v.push_back(pkt.vlans[i].id());
    return v;
}

std::vector<unsigned> tins_vlans(const Tins::PDU* pdu) {
    std::vector<unsigned> v;
    for (const Tins::PDU* p = pdu ? pdu->inner_pdu() : nullptr;
         p != nullptr && p->pdu_type() == Tins::PDU::DOT1Q; p = p->inner_pdu()) {
        v.push_back(static_cast<const Tins::Dot1Q*>(p)->id());
    }
    return v;
}

// Parses the frame with libtins the way described at the top; throws what libtins throws.
std::unique_ptr<Tins::PDU> tins_parse(const wl::Packet& pkt, const wl::RawFrame& f, Tally& t) {
    switch (pkt.linktype) {
        case wl::linktype::kEthernet:
            return std::make_unique<Tins::EthernetII>(f.data, f.caplen);
        case wl::linktype::kLinuxSll:
            return std::make_unique<Tins::SLL>(f.data, f.caplen);
        case wl::linktype::kRaw:
        case wl::linktype::kRawBsd:
        case wl::linktype::kRawLinktype:
        case wl::linktype::kIpv4:
        case wl::linktype::kIpv6:
            return parse_ip(f.data, f.caplen);
        default:
            break;
    }
    if (pkt.ip_version == 0) return nullptr;
    const std::uint8_t* ip = pkt.ip_version == 4 ? pkt.ip4.bytes.data() : pkt.ip6.bytes.data();
    const auto off = static_cast<std::uint32_t>(ip - f.data);
    ++t.link_from_offset;
    return parse_ip(f.data + off, f.caplen - off);
}

void compare_packet(Tally& t, const wl::Packet& pkt, const Tins::PDU* pdu) {
    if (pkt.has(wl::Layer::Ethernet)) {
        const auto* eth = pdu ? pdu->find_pdu<Tins::EthernetII>() : nullptr;
        if (eth == nullptr) return t.note("wirelens decoded Ethernet, libtins did not");
        t.eq("eth.src", mac_string(pkt.eth.src().p), eth->src_addr().to_string());
        t.eq("eth.dst", mac_string(pkt.eth.dst().p), eth->dst_addr().to_string());
        t.eq("eth.vlans", wl_vlans(pkt), tins_vlans(eth));
    } else if (pkt.linktype == wl::linktype::kLinuxSll && pkt.has(wl::Layer::Link)) {
        const auto* sll = pdu ? pdu->find_pdu<Tins::SLL>() : nullptr;
        if (sll == nullptr) return t.note("wirelens decoded SLL, libtins did not");
        t.eq("sll.packet_type", pkt.sll.packet_type(), sll->packet_type());
        t.eq("sll.protocol", pkt.sll.protocol(), sll->protocol());
        if (pkt.sll.addr_len() == 6) {
            const auto addr = sll->address();
            t.eq("sll.address", mac_string(pkt.sll.addr()), mac_string(addr.begin()));
        }
        t.eq("sll.vlans", wl_vlans(pkt), tins_vlans(sll));
    }
    compare_ip(t, pkt, pdu);
}

// TCP options after End-of-Option-List are padding (RFC 9293, 3.2); libtins keeps
// parsing them as options.
bool nonzero_after_eol(wl::Bytes opts) {
    std::size_t i = 0;
    while (i < opts.size() && opts[i] != wl::tcpopt::kEnd) {
        i += (opts[i] == wl::tcpopt::kNop || i + 1 >= opts.size() || opts[i + 1] < 2) ? 1
                                                                                      : opts[i + 1];
    }
    for (; i < opts.size(); ++i) {
        if (opts[i] != 0) return true;
    }
    return false;
}

// libtins throws where a length field points past the captured bytes (a frame cut by
// the snap length, an IPv6 jumbogram/BIG TCP frame with payload length 0), on IPv6
// "No Next Header" with bytes after it, on non-zero TCP option padding after EOL,
// and it parses protocols wirelens leaves alone (EAPOL, LLC, ...) more strictly.
// Those throws are counted, not compared.
bool libtins_may_reject(const wl::Packet& pkt) {
    if (pkt.caplen < pkt.wire_len) return true;
    if (pkt.ip_version == 0) return true;
    if (pkt.has(wl::Layer::Tcp) && nonzero_after_eol(pkt.tcp.options())) return true;
    return pkt.ip_version == 6 &&
           (pkt.ip6.payload_len_field() == 0 || pkt.ip_proto == wl::ipproto::kNoNext);
}

// On a packet wirelens calls cut inside a header, libtins must not produce that layer.
void check_malformed(Tally& t, const wl::Packet& pkt, const Tins::PDU* pdu) {
    if (pkt.error != wl::DecodeError::Truncated && pkt.error != wl::DecodeError::BadHeaderLength) {
        return;
    }
    ++t.malformed_checked;
    if (pdu == nullptr) return;
    bool has_layer = false;
    switch (pkt.error_layer) {
        case wl::Layer::Ipv4:
            has_layer = pdu->find_pdu<Tins::IP>() != nullptr;
            break;
        case wl::Layer::Ipv6:
            has_layer = pdu->find_pdu<Tins::IPv6>() != nullptr;
            break;
        case wl::Layer::Tcp:
            has_layer = pdu->find_pdu<Tins::TCP>() != nullptr;
            break;
        case wl::Layer::Udp:
            has_layer = pdu->find_pdu<Tins::UDP>() != nullptr;
            break;
        default:
            return;
    }
    if (has_layer) {
        t.note(std::string("wirelens: ") + std::string(wl::layer_name(pkt.error_layer)) + "." +
               std::string(wl::error_name(pkt.error)) + ", yet libtins parsed that layer");
    }
}

}  // namespace

TEST_CASE("wl::decode agrees with libtins on every sample packet", "[crosscheck][libtins]") {
    const auto captures = sample_captures();
    if (captures.empty()) {
        WARN("no sample captures in " WIRELENS_SAMPLES_DIR " yet: cross-check skipped");
        return;
    }
    Tally t;
    std::map<std::string, std::uint64_t> per_file;
    for (const auto& path : captures) {
        std::string err;
        auto src = wl::PcapSource::open_file(path.string(), err);
        INFO(path.string() << ": " << err);
        REQUIRE(src != nullptr);
        wl::Packet pkt;
        pkt.linktype = src->linktype();
        wl::RawFrame f{};
        std::uint64_t n = 0;
        while (src->next(f) == wl::PcapSource::Status::Frame) {
            ++n;
            pkt.caplen = f.caplen;
            pkt.wire_len = f.len;
            wl::decode(wl::Bytes{f.data, f.caplen}, pkt);
            t.where = path.filename().string() + " packet " + std::to_string(n);
            std::unique_ptr<Tins::PDU> pdu;
            std::string threw;
            try {
                pdu = tins_parse(pkt, f, t);
            } catch (const std::exception& e) {
                threw = e.what();
                if (threw.empty()) threw = "exception";
            }
            if (pkt.malformed()) {
                ++t.skipped_malformed;
                check_malformed(t, pkt, threw.empty() ? pdu.get() : nullptr);
                continue;
            }
            if (pkt.unsupported_link) continue;
            if (!threw.empty()) {
                if (libtins_may_reject(pkt)) {
                    ++t.tins_rejected;
                    continue;
                }
                t.note("libtins threw (" + threw +
                       ") on a packet wirelens decoded cleanly, ethertype " +
                       std::to_string(pkt.ethertype) + ", ip proto " +
                       std::to_string(pkt.ip_proto));
                continue;
            }
            ++t.compared;
            ++per_file[path.filename().string()];
            compare_packet(t, pkt, pdu.get());
        }
    }

    std::string summary =
        "libtins cross-check: " + std::to_string(t.compared) + " packets compared from " +
        std::to_string(captures.size()) + " captures; " + std::to_string(t.skipped_malformed) +
        " malformed skipped (" + std::to_string(t.malformed_checked) +
        " checked against libtins), " + std::to_string(t.fragments) +
        " fragments compared at the IP layer only, " + std::to_string(t.tins_rejected) +
        " rejected by libtins where it may (snapped, jumbogram, non-IP)\n";
    for (const auto& [field, n] : t.agreed) {
        summary += "  " + field + ": " + std::to_string(n) + " agree";
        if (t.disagreed.count(field)) summary += ", " + std::to_string(t.disagreed[field]) + " not";
        summary += "\n";
    }
    std::string first;
    for (const auto& m : t.mismatches)
        first += "  " + m + "\n";
    INFO(summary);
    INFO("first disagreements:\n" << first);
    CHECK(t.mismatches.empty());
    CHECK(t.compared >= kMinCompared);
    // Print the tally on success too (visible with -s).
    SUCCEED(summary);
}
