#include "report/packet_report.hpp"

#include <ctime>

namespace wl {

namespace {

constexpr std::size_t idx(Layer l) {
    return static_cast<std::size_t>(l);
}

std::string_view ethertype_name(std::uint16_t t) {
    switch (t) {
        case ethertype::kIpv4:
            return "IPv4";
        case ethertype::kIpv6:
            return "IPv6";
        case ethertype::kArp:
            return "ARP";
        default:
            return {};
    }
}

void put_hex16(OutBuffer& out, std::uint16_t v) {
    constexpr char hex[] = "0123456789abcdef";
    out.put("0x");
    for (int s = 12; s >= 0; s -= 4)
        out.put(hex[(v >> s) & 15]);
}

void put_time_of_day(OutBuffer& out, std::uint64_t ns) {
    const std::time_t secs = static_cast<std::time_t>(ns / 1000000000ull);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char tmp[9] = {
        static_cast<char>('0' + tm.tm_hour / 10), static_cast<char>('0' + tm.tm_hour % 10), ':',
        static_cast<char>('0' + tm.tm_min / 10),  static_cast<char>('0' + tm.tm_min % 10),  ':',
        static_cast<char>('0' + tm.tm_sec / 10),  static_cast<char>('0' + tm.tm_sec % 10),  '.'};
    out.put(std::string_view(tmp, 9));
    std::uint64_t us = (ns % 1000000000ull) / 1000;
    char frac[6];
    for (int i = 5; i >= 0; --i) {
        frac[i] = static_cast<char>('0' + us % 10);
        us /= 10;
    }
    out.put(std::string_view(frac, 6));
}

void put_mac_with_vendor(OutBuffer& out, const std::uint8_t* mac, const OuiRegistry& oui) {
    out.put_mac(mac);
    const MacAddr m{mac};
    if (m.is_broadcast()) {
        out.put(" (broadcast)");
        return;
    }
    const std::string_view vendor = oui.lookup(mac);
    if (!vendor.empty()) {
        out.put(" (").put(vendor).put(')');
    } else if (m.is_group()) {
        out.put(" (multicast)");
    } else if (m.is_local()) {
        out.put(" (local)");
    }
}

void put_tcp_options_text(OutBuffer& out, const TcpView& tcp) {
    if (tcp.options().empty()) return;
    out.put(", options [");
    bool first = true;
    bool said_bad = false;
    OptionIterator it = tcp.option_iterator();
    TcpOption o;
    while (it.next(o)) {
        if (o.kind == tcpopt::kEnd) continue;
        if (!first) out.put(',');
        first = false;
        const bool ok = TcpView::option_len_ok(o.kind, o.len) || o.kind == tcpopt::kNop;
        switch (ok ? o.kind : 255) {
            case tcpopt::kNop:
                out.put("nop");
                break;
            case tcpopt::kMss:
                out.put("mss ").put_u64(load_be16(o.data));
                break;
            case tcpopt::kWindowScale:
                out.put("wscale ").put_u64(o.data[0]);
                break;
            case tcpopt::kSackPermitted:
                out.put("sackOK");
                break;
            case tcpopt::kSack:
                out.put("sack ").put_u64(o.data_len() / 8u);
                for (std::size_t i = 0; i + 8 <= o.data_len(); i += 8) {
                    out.put(" {").put_u64(load_be32(o.data + i)).put(':');
                    out.put_u64(load_be32(o.data + i + 4)).put('}');
                }
                break;
            case tcpopt::kTimestamps:
                out.put("TS val ").put_u64(load_be32(o.data)).put(" ecr ");
                out.put_u64(load_be32(o.data + 4));
                break;
            case tcpopt::kFastOpen:
                out.put(o.data_len() ? "tfo cookie" : "tfo cookiereq");
                break;
            case tcpopt::kMd5:
                out.put("md5");
                break;
            case tcpopt::kMptcp:
                out.put("mptcp");
                break;
            case 255:
                out.put("[bad opt]");
                said_bad = true;
                break;
            default:
                out.put("opt-").put_u64(o.kind).put(':').put_u64(o.len);
                break;
        }
    }
    // The walk stops at an option that does not fit; say so, as tcpdump does.
    if (!said_bad && it.malformed()) {
        out.put(first ? "[bad opt]" : ",[bad opt]");
    }
    out.put(']');
}

std::string_view icmp_name(bool v6, std::uint8_t type) {
    if (!v6) {
        switch (type) {
            case 0:
                return "echo reply";
            case 3:
                return "unreachable";
            case 5:
                return "redirect";
            case 8:
                return "echo request";
            case 11:
                return "time exceeded";
            default:
                return {};
        }
    }
    switch (type) {
        case 1:
            return "unreachable";
        case 2:
            return "packet too big";
        case 3:
            return "time exceeded";
        case 128:
            return "echo request";
        case 129:
            return "echo reply";
        case 133:
            return "router solicitation";
        case 134:
            return "router advertisement";
        case 135:
            return "neighbor solicitation";
        case 136:
            return "neighbor advertisement";
        default:
            return {};
    }
}

void put_endpoint(OutBuffer& out, const std::uint8_t* addr, int version, std::uint16_t port) {
    out.put_ip(addr, version).put('.').put_u64(port);
}

void put_malformed_reason(OutBuffer& out, const Packet& pkt) {
    out.put(layer_name(pkt.error_layer)).put('.').put(error_name(pkt.error));
}

}  // namespace

std::size_t tcp_flags_string(std::uint16_t flags, char* out) {
    static constexpr struct {
        std::uint16_t bit;
        char ch;
    } kOrder[] = {{tcpflag::kFin, 'F'}, {tcpflag::kSyn, 'S'}, {tcpflag::kRst, 'R'},
                  {tcpflag::kPsh, 'P'}, {tcpflag::kAck, '.'}, {tcpflag::kUrg, 'U'},
                  {tcpflag::kEce, 'E'}, {tcpflag::kCwr, 'W'}, {tcpflag::kNs, 'N'}};
    std::size_t n = 0;
    for (const auto& f : kOrder) {
        if (flags & f.bit) out[n++] = f.ch;
    }
    if (n == 0) {
        for (char c : std::string_view("none"))
            out[n++] = c;
    }
    return n;
}

void write_packet_text(OutBuffer& out, const Packet& pkt, const OuiRegistry& oui) {
    put_time_of_day(out, pkt.ts_ns);
    out.put(' ');
    if (pkt.unsupported_link) {
        out.put("link type ").put_u64(static_cast<std::uint64_t>(pkt.linktype));
        out.put(" not decoded, length ").put_u64(pkt.wire_len).put('\n');
        return;
    }
    if (pkt.has(Layer::Ethernet)) {
        put_mac_with_vendor(out, pkt.eth.src().p, oui);
        out.put(" > ");
        put_mac_with_vendor(out, pkt.eth.dst().p, oui);
        out.put(", ");
    } else if (pkt.has(Layer::Link) &&
               (pkt.linktype == linktype::kLinuxSll || pkt.linktype == linktype::kLinuxSll2)) {
        static constexpr std::string_view kDir[] = {"In", "B", "M", "P", "Out"};
        const std::uint16_t t = pkt.sll.packet_type();
        out.put(t < 5 ? kDir[t] : "?").put(' ');
        if (pkt.sll.addr_len() == 6) put_mac_with_vendor(out, pkt.sll.addr(), oui), out.put(' ');
    }
    for (std::uint8_t i = 0; i < pkt.vlan_count; ++i) {
        out.put("vlan ").put_u64(pkt.vlans[i].id()).put(", ");
    }
    out.put("length ").put_u64(pkt.wire_len).put(": ");

    if (pkt.has(Layer::Arp)) {
        const ArpView& a = pkt.arp;
        if (a.is_ether_ipv4() && a.operation() == 1) {
            out.put("ARP, Request who-has ").put_ipv4(a.target_ip()).put(" tell ");
            out.put_ipv4(a.sender_ip());
        } else if (a.is_ether_ipv4() && a.operation() == 2) {
            out.put("ARP, Reply ").put_ipv4(a.sender_ip()).put(" is-at ").put_mac(a.sender_mac());
        } else {
            out.put("ARP, op ").put_u64(a.operation());
        }
    } else if (pkt.ip_version != 0) {
        const int v = pkt.ip_version;
        out.put(v == 4 ? "IPv4 " : "IPv6 ");
        if (pkt.has(Layer::Tcp)) {
            const TcpView& t = pkt.tcp;
            put_endpoint(out, pkt.ip_src(), v, t.src_port());
            out.put(" > ");
            put_endpoint(out, pkt.ip_dst(), v, t.dst_port());
            char flags[10];
            out.put(": Flags [").put(std::string_view(flags, tcp_flags_string(t.flags(), flags)));
            out.put("], seq ").put_u64(t.seq());
            if (pkt.payload_wire_len) out.put(':').put_u64(t.seq() + pkt.payload_wire_len);
            if (t.has(tcpflag::kAck)) out.put(", ack ").put_u64(t.ack());
            out.put(", win ").put_u64(t.window());
            if (t.has(tcpflag::kUrg)) out.put(", urg ").put_u64(t.urgent_ptr());
            put_tcp_options_text(out, t);
            out.put(", length ").put_u64(pkt.payload_wire_len);
        } else if (pkt.has(Layer::Udp)) {
            put_endpoint(out, pkt.ip_src(), v, pkt.udp.src_port());
            out.put(" > ");
            put_endpoint(out, pkt.ip_dst(), v, pkt.udp.dst_port());
            out.put(": UDP, length ").put_u64(pkt.payload_wire_len);
        } else {
            out.put_ip(pkt.ip_src(), v).put(" > ").put_ip(pkt.ip_dst(), v).put(": ");
            if (pkt.has(Layer::Icmp) || pkt.has(Layer::Icmpv6)) {
                const bool v6 = pkt.has(Layer::Icmpv6);
                const std::string_view name = icmp_name(v6, pkt.icmp.type());
                out.put(v6 ? "ICMP6 " : "ICMP ");
                if (!name.empty()) {
                    out.put(name);
                } else {
                    out.put("type ").put_u64(pkt.icmp.type());
                }
                out.put(", code ").put_u64(pkt.icmp.code());
                out.put(", length ").put_u64(pkt.payload_wire_len + IcmpView::kHeaderLen);
            } else if (pkt.ip_later_fragment) {
                const std::uint32_t off =
                    v == 4 ? pkt.ip4.fragment_offset() * 8u : pkt.ip6_chain.fragment_offset * 8u;
                out.put("fragment offset ").put_u64(off).put(", proto ").put_u64(pkt.ip_proto);
                out.put(", length ").put_u64(pkt.payload_wire_len);
            } else {
                out.put("ip-proto-").put_u64(pkt.ip_proto);
                if (!pkt.malformed()) out.put(", length ").put_u64(pkt.payload_wire_len);
            }
        }
    } else if (pkt.ethertype != 0) {
        const std::string_view name = ethertype_name(pkt.ethertype);
        out.put("ethertype ");
        if (!name.empty()) out.put(name).put(' ');
        put_hex16(out, pkt.ethertype);
    } else if (pkt.has(Layer::Ethernet)) {
        out.put("802.3 LLC");
    } else if (pkt.has(Layer::Link)) {
        out.put("link protocol not decoded");
    }
    if (pkt.malformed()) {
        out.put(" [malformed: ");
        put_malformed_reason(out, pkt);
        out.put(']');
    }
    out.put('\n');
}

void write_packet_json(OutBuffer& out, const Packet& pkt, const OuiRegistry& oui) {
    out.put("{\"type\":\"packet\",\"ts\":").put_ts(pkt.ts_ns);
    out.put(",\"len\":").put_u64(pkt.wire_len).put(",\"caplen\":").put_u64(pkt.caplen);
    out.put(",\"linktype\":").put_i64(pkt.linktype);
    auto mac_fields = [&](std::string_view key, const std::uint8_t* mac) {
        out.put(",\"").put(key).put("\":\"").put_mac(mac).put('"');
        const std::string_view vendor = oui.lookup(mac);
        if (!vendor.empty()) {
            out.put(",\"").put(key).put("_vendor\":").put_json_string(vendor);
        }
        const MacAddr m{mac};
        out.put(",\"").put(key).put("_local\":").put(m.is_local() ? "true" : "false");
        out.put(",\"").put(key).put("_multicast\":").put(m.is_group() ? "true" : "false");
    };
    if (pkt.has(Layer::Ethernet)) {
        mac_fields("eth.src", pkt.eth.src().p);
        mac_fields("eth.dst", pkt.eth.dst().p);
    } else if (pkt.has(Layer::Link) &&
               (pkt.linktype == linktype::kLinuxSll || pkt.linktype == linktype::kLinuxSll2)) {
        out.put(",\"sll.pkttype\":").put_u64(pkt.sll.packet_type());
        if (pkt.sll.addr_len() == 6) mac_fields("sll.src", pkt.sll.addr());
    }
    if (pkt.vlan_count) {
        out.put(",\"vlan\":[");
        for (std::uint8_t i = 0; i < pkt.vlan_count; ++i) {
            if (i) out.put(',');
            out.put_u64(pkt.vlans[i].id());
        }
        out.put(']');
    }
    if (pkt.ethertype) out.put(",\"eth.type\":").put_u64(pkt.ethertype);
    if (pkt.has(Layer::Arp)) {
        const ArpView& a = pkt.arp;
        out.put(",\"arp.op\":").put_u64(a.operation());
        if (a.is_ether_ipv4()) {
            out.put(",\"arp.src_mac\":\"").put_mac(a.sender_mac()).put('"');
            out.put(",\"arp.src_ip\":\"").put_ipv4(a.sender_ip()).put('"');
            out.put(",\"arp.dst_mac\":\"").put_mac(a.target_mac()).put('"');
            out.put(",\"arp.dst_ip\":\"").put_ipv4(a.target_ip()).put('"');
        }
    }
    if (pkt.ip_version) {
        const int v = pkt.ip_version;
        out.put(",\"ip.version\":").put_u64(static_cast<std::uint64_t>(v));
        out.put(",\"ip.src\":\"").put_ip(pkt.ip_src(), v).put('"');
        out.put(",\"ip.dst\":\"").put_ip(pkt.ip_dst(), v).put('"');
        out.put(",\"ip.proto\":").put_u64(pkt.ip_proto);
        out.put(",\"ip.ttl\":").put_u64(pkt.ip_ttl());
        if (v == 4) {
            out.put(",\"ip.id\":").put_u64(pkt.ip4.id());
            out.put(",\"ip.len\":").put_u64(pkt.ip4.datagram_len());
        } else {
            out.put(",\"ip.len\":").put_u64(pkt.ip6.payload_len_field() + Ipv6View::kHeaderLen);
            if (pkt.ip6_chain.count) {
                out.put(",\"ip6.ext\":[");
                for (std::uint8_t i = 0; i < pkt.ip6_chain.count; ++i) {
                    if (i) out.put(',');
                    out.put_u64(pkt.ip6_chain.types[i]);
                }
                out.put(']');
            }
        }
        if (pkt.ip_fragment) {
            const bool v4 = v == 4;
            out.put(",\"ip.frag_offset\":")
                .put_u64(v4 ? pkt.ip4.fragment_offset() * 8u : pkt.ip6_chain.fragment_offset * 8u);
            out.put(",\"ip.more_fragments\":")
                .put((v4 ? pkt.ip4.more_fragments() : pkt.ip6_chain.more_fragments) ? "true"
                                                                                    : "false");
        }
    }
    if (pkt.has(Layer::Tcp)) {
        const TcpView& t = pkt.tcp;
        out.put(",\"src_port\":").put_u64(t.src_port()).put(",\"dst_port\":").put_u64(t.dst_port());
        char flags[10];
        out.put(",\"tcp.flags\":").put_u64(t.flags());
        out.put(",\"tcp.flags_str\":\"")
            .put(std::string_view(flags, tcp_flags_string(t.flags(), flags)))
            .put('"');
        out.put(",\"tcp.seq\":").put_u64(t.seq()).put(",\"tcp.ack\":").put_u64(t.ack());
        out.put(",\"tcp.win\":").put_u64(t.window());
        out.put(",\"tcp.hdr_len\":").put_u64(t.header_len());
        if (!t.options().empty()) {
            out.put(",\"tcp.options\":{");
            bool first = true;
            auto key = [&](std::string_view k) {
                if (!first) out.put(',');
                first = false;
                out.put('"').put(k).put("\":");
            };
            t.for_each_option([&](const TcpOption& o) {
                if (o.kind == tcpopt::kNop || o.kind == tcpopt::kEnd) return;
                if (!TcpView::option_len_ok(o.kind, o.len)) return;
                switch (o.kind) {
                    case tcpopt::kMss:
                        key("mss"), out.put_u64(load_be16(o.data));
                        break;
                    case tcpopt::kWindowScale:
                        key("wscale"), out.put_u64(o.data[0]);
                        break;
                    case tcpopt::kSackPermitted:
                        key("sack_permitted"), out.put("true");
                        break;
                    case tcpopt::kSack:
                        key("sack");
                        out.put('[');
                        for (std::size_t i = 0; i + 8 <= o.data_len(); i += 8) {
                            if (i) out.put(',');
                            out.put('[').put_u64(load_be32(o.data + i)).put(',');
                            out.put_u64(load_be32(o.data + i + 4)).put(']');
                        }
                        out.put(']');
                        break;
                    case tcpopt::kTimestamps:
                        key("ts_val"), out.put_u64(load_be32(o.data));
                        key("ts_ecr"), out.put_u64(load_be32(o.data + 4));
                        break;
                    case tcpopt::kFastOpen:
                        key("tfo_cookie_len"), out.put_u64(o.data_len());
                        break;
                    default:
                        if (!first) out.put(',');
                        first = false;
                        out.put("\"opt").put_u64(o.kind).put("\":").put_u64(o.len);
                        break;
                }
            });
            out.put('}');
        }
    } else if (pkt.has(Layer::Udp)) {
        out.put(",\"src_port\":").put_u64(pkt.udp.src_port());
        out.put(",\"dst_port\":").put_u64(pkt.udp.dst_port());
        out.put(",\"udp.length\":").put_u64(pkt.udp.length());
    } else if (pkt.has(Layer::Icmp) || pkt.has(Layer::Icmpv6)) {
        out.put(",\"icmp.type\":").put_u64(pkt.icmp.type());
        out.put(",\"icmp.code\":").put_u64(pkt.icmp.code());
    }
    if (pkt.ip_version) out.put(",\"payload_len\":").put_u64(pkt.payload_wire_len);
    if (pkt.unsupported_link) out.put(",\"unsupported_link\":true");
    if (pkt.malformed()) {
        out.put(",\"malformed\":\"");
        put_malformed_reason(out, pkt);
        out.put('"');
    }
    out.put("}\n");
}

namespace {

struct ProtoCount {
    std::string_view name;
    std::uint64_t n;
};

template <class F>
void for_each_protocol(const DecodeCounters& c, F&& f) {
    const ProtoCount list[] = {
        {"eth", c.layer[idx(Layer::Ethernet)]}, {"vlan", c.layer[idx(Layer::Vlan)]},
        {"arp", c.layer[idx(Layer::Arp)]},      {"ipv4", c.layer[idx(Layer::Ipv4)]},
        {"ipv6", c.layer[idx(Layer::Ipv6)]},    {"ipv6_ext", c.layer[idx(Layer::Ipv6Ext)]},
        {"fragments", c.ip_fragments},          {"tunneled", c.tunneled},
        {"tcp", c.layer[idx(Layer::Tcp)]},      {"udp", c.layer[idx(Layer::Udp)]},
        {"icmp", c.layer[idx(Layer::Icmp)]},    {"icmpv6", c.layer[idx(Layer::Icmpv6)]},
        {"other_network", c.other_network},     {"other_transport", c.other_transport},
    };
    for (const auto& p : list) {
        if (p.n) f(p.name, p.n);
    }
}

template <class F>
void for_each_malformed(const DecodeCounters& c, F&& f) {
    for (std::size_t l = 0; l < c.malformed_by.size(); ++l) {
        for (std::size_t e = 0; e < c.malformed_by[l].size(); ++e) {
            if (c.malformed_by[l][e]) {
                f(static_cast<Layer>(l), static_cast<DecodeError>(e), c.malformed_by[l][e]);
            }
        }
    }
}

template <class F>
void for_each_unsupported(const DecodeCounters& c, F&& f) {
    for (std::size_t i = 0; i < DecodeCounters::kLinkSlots; ++i) {
        if (c.unsupported_count[i]) f(c.unsupported_type[i], c.unsupported_count[i]);
    }
}

double duration_s(const DecodeCounters& c) {
    return c.packets ? static_cast<double>(c.last_ts_ns - c.first_ts_ns) / 1e9 : 0.0;
}

}  // namespace

void write_summary_text(OutBuffer& out, const DecodeCounters& c, const InputSummary& in,
                        const StageCounters& stages) {
    const FlowCounters* flows = stages.flows;
    out.put("== ").put(in.source == "-" ? std::string_view("stdin") : std::string_view(in.source));
    out.put(" (").put(in.linktype).put(")\n");
    out.put("packets   ")
        .put_u64(c.packets)
        .put(", ")
        .put_u64(c.wire_bytes)
        .put(" bytes on wire, ");
    out.put_u64(c.captured_bytes).put(" captured");
    if (c.snapped) out.put(", ").put_u64(c.snapped).put(" cut by snap length");
    out.put(", ").put_fixed(duration_s(c), 3).put(" s\n");
    if (in.filtered) out.put("filter    ").put("applied by libpcap before decoding\n");
    out.put("protocols");
    bool any = false;
    for_each_protocol(c, [&](std::string_view name, std::uint64_t n) {
        out.put(' ').put(name).put(' ').put_u64(n);
        any = true;
    });
    if (!any) out.put(" none");
    out.put("\nmalformed ").put_u64(c.malformed);
    for_each_malformed(c, [&](Layer l, DecodeError e, std::uint64_t n) {
        out.put(", ").put(layer_name(l)).put('.').put(error_name(e)).put(' ').put_u64(n);
    });
    out.put('\n');
    if (c.unsupported) {
        out.put("skipped   ").put_u64(c.unsupported).put(" frames of unsupported link types:");
        for_each_unsupported(c, [&](int type, std::uint64_t n) {
            out.put(" DLT ").put_i64(type).put(' ').put_u64(n);
        });
        if (c.unsupported_other) out.put(" other ").put_u64(c.unsupported_other);
        out.put('\n');
    }
    if (flows != nullptr) {
        out.put("flows     ").put_u64(flows->conns_created).put(" connections (");
        out.put_u64(flows->max_open).put(" open at most), ").put_u64(flows->reused);
        out.put(" port reuses, ").put_u64(flows->evicted).put(" evicted");
        if (flows->evicted) out.put(" (").put_u64(flows->evicted_attempts).put(" unanswered)");
        out.put(", ").put_u64(flows->not_tracked).put(" IP packets untracked\n");
    }
    if (const ReassemblyCounters* r = stages.reassembly) {
        out.put("streams   ").put_u64(r->delivered_bytes).put(" B in order, ");
        out.put_u64(r->gaps).put(" gaps (").put_u64(r->gap_bytes).put(" B), ");
        out.put_u64(r->overlaps).put(" overlaps (").put_u64(r->inconsistent);
        out.put(" differ), ").put_u64(r->dropped_bytes).put(" B over limits\n");
    }
    if (const UploadAnalyzerCounters* u = stages.uploads) {
        out.put("uploads   ").put_u64(u->frames).put(" frames in ").put_u64(u->streams_framed);
        out.put(" framed streams, ").put_u64(u->complete).put(" complete, ");
        out.put_u64(u->digest_mismatch).put(" digest mismatches");
        if (u->extracted || u->extract_refused) {
            out.put(", ").put_u64(u->extracted).put(" extracted, ").put_u64(u->extract_refused);
            out.put(" not extracted");
        }
        if (u->decoders_busy) out.put(", ").put_u64(u->decoders_busy).put(" streams unexamined");
        out.put('\n');
    }
    if (const SynFloodDetector* f = stages.flood) {
        out.put("floods    ").put_u64(f->alerts()).put(" SYN-flood alerts, ");
        out.put_u64(f->victims_evicted()).put(" victims evicted, ").put_u64(f->untracked());
        out.put(" flooded victims untracked\n");
    }
    if (in.live) {
        const InputSummary::Capture& k = in.capture;
        out.put("capture   ").put_u64(k.captured).put(" captured, ").put_u64(k.received);
        out.put(" received by filter, ").put_u64(k.dropped_kernel).put(" dropped by kernel, ");
        out.put_u64(k.dropped_iface).put(" dropped by interface, ").put_u64(k.dropped_ring);
        out.put(" dropped at the analysis ring; stopped by ").put(k.stopped_by).put('\n');
        if (!k.write_path.empty()) {
            out.put("written   ").put_u64(k.written).put(" packets to ").put(k.write_path);
            if (k.files > 1) out.put(" (").put_u64(k.files).put(" files)");
            out.put('\n');
        }
    }
    if (in.memory.budget != 0) {
        const InputSummary::Memory& m = in.memory;
        const auto mib = [&](std::uint64_t b) -> OutBuffer& {
            return out.put_fixed(static_cast<double>(b) / (1 << 20), 1);
        };
        out.put("memory    at most ");
        mib(m.total()).put(" of ");
        mib(m.budget).put(" MiB (--max-memory): flows ");
        mib(m.flows).put(", reassembly ");
        mib(m.reassembly).put(", uploads ");
        mib(m.uploads).put(", flood ");
        mib(m.flood).put(", reports ");
        mib(m.reports);
        if (m.ring) {
            out.put(", ring ");
            mib(m.ring);
        }
        out.put(", other ");
        mib(m.other).put('\n');
        if (m.shrunk) {
            out.put("          limits lowered to fit: --max-flows ").put_u64(m.max_flows);
            out.put(" --max-reassembly ").put_u64(m.max_reassembly);
            out.put(" --max-uploads ").put_u64(m.max_uploads);
            if (m.ring) out.put(" --ring ").put_u64(m.ring_mib);
            out.put('\n');
        }
    }
    if (in.cut_short) out.put("input     cut short: ").put(in.cut_reason).put('\n');
}

void write_stats_json(OutBuffer& out, const DecodeCounters& c, const InputSummary& in,
                      const StageCounters& stages) {
    const FlowCounters* flows = stages.flows;
    out.put("{\"type\":\"stats\",\"source\":").put_json_string(in.source);
    out.put(",\"linktype\":").put_json_string(in.linktype);
    out.put(",\"packets\":").put_u64(c.packets);
    out.put(",\"bytes\":").put_u64(c.wire_bytes);
    out.put(",\"captured_bytes\":").put_u64(c.captured_bytes);
    out.put(",\"snapped\":").put_u64(c.snapped);
    if (c.packets) {
        out.put(",\"ts_first\":").put_ts(c.first_ts_ns).put(",\"ts_last\":").put_ts(c.last_ts_ns);
    }
    out.put(",\"protocols\":{");
    bool first = true;
    for_each_protocol(c, [&](std::string_view name, std::uint64_t n) {
        if (!first) out.put(',');
        first = false;
        out.put('"').put(name).put("\":").put_u64(n);
    });
    out.put("},\"malformed\":").put_u64(c.malformed).put(",\"malformed_by\":{");
    first = true;
    for_each_malformed(c, [&](Layer l, DecodeError e, std::uint64_t n) {
        if (!first) out.put(',');
        first = false;
        out.put('"').put(layer_name(l)).put('.').put(error_name(e)).put("\":").put_u64(n);
    });
    out.put("},\"unsupported_link\":{");
    first = true;
    for_each_unsupported(c, [&](int type, std::uint64_t n) {
        if (!first) out.put(',');
        first = false;
        out.put('"').put_i64(type).put("\":").put_u64(n);
    });
    if (c.unsupported_other)
        out.put(first ? "" : ",").put("\"other\":").put_u64(c.unsupported_other);
    out.put('}');
    if (flows != nullptr) {
        out.put(",\"flows\":{\"connections\":").put_u64(flows->conns_created);
        out.put(",\"max_open\":").put_u64(flows->max_open);
        out.put(",\"reused\":").put_u64(flows->reused);
        out.put(",\"evicted\":").put_u64(flows->evicted);
        out.put(",\"evicted_unanswered\":").put_u64(flows->evicted_attempts);
        out.put(",\"not_tracked\":").put_u64(flows->not_tracked).put('}');
    }
    if (const ReassemblyCounters* r = stages.reassembly) {
        out.put(",\"reassembly\":{\"delivered_bytes\":").put_u64(r->delivered_bytes);
        out.put(",\"buffered_peak\":").put_u64(r->buffered_peak);
        out.put(",\"gaps\":").put_u64(r->gaps).put(",\"gap_bytes\":").put_u64(r->gap_bytes);
        out.put(",\"overlaps\":").put_u64(r->overlaps);
        out.put(",\"inconsistent\":").put_u64(r->inconsistent);
        out.put(",\"dropped_segments\":").put_u64(r->dropped_segments);
        out.put(",\"dropped_bytes\":").put_u64(r->dropped_bytes);
        out.put(",\"snapped_segments\":").put_u64(r->snapped_segments).put('}');
    }
    if (const UploadAnalyzerCounters* u = stages.uploads) {
        out.put(",\"uploads\":{\"streams_examined\":").put_u64(u->streams_examined);
        out.put(",\"streams_framed\":").put_u64(u->streams_framed);
        out.put(",\"frames\":").put_u64(u->frames).put(",\"complete\":").put_u64(u->complete);
        out.put(",\"digest_mismatch\":").put_u64(u->digest_mismatch);
        out.put(",\"extracted\":").put_u64(u->extracted);
        out.put(",\"extract_refused\":").put_u64(u->extract_refused);
        out.put(",\"streams_unexamined\":").put_u64(u->decoders_busy).put('}');
    }
    if (const SynFloodDetector* f = stages.flood) {
        out.put(",\"floods\":{\"alerts\":").put_u64(f->alerts());
        out.put(",\"victims_evicted\":").put_u64(f->victims_evicted());
        out.put(",\"untracked\":").put_u64(f->untracked()).put('}');
    }
    if (in.live) {
        const InputSummary::Capture& k = in.capture;
        out.put(",\"capture\":{\"captured\":").put_u64(k.captured);
        out.put(",\"received\":").put_u64(k.received);
        out.put(",\"dropped_kernel\":").put_u64(k.dropped_kernel);
        out.put(",\"dropped_interface\":").put_u64(k.dropped_iface);
        out.put(",\"dropped_ring\":").put_u64(k.dropped_ring);
        if (!k.write_path.empty()) {
            out.put(",\"written\":").put_u64(k.written).put(",\"files\":").put_u64(k.files);
            out.put(",\"write_path\":").put_json_string(k.write_path);
        }
        out.put(",\"stopped_by\":\"").put(k.stopped_by).put("\"}");
    }
    if (in.memory.budget != 0) {
        const InputSummary::Memory& m = in.memory;
        out.put(",\"memory\":{\"budget\":").put_u64(m.budget);
        out.put(",\"bound\":").put_u64(m.total()).put(",\"flows\":").put_u64(m.flows);
        out.put(",\"reassembly\":").put_u64(m.reassembly).put(",\"uploads\":").put_u64(m.uploads);
        out.put(",\"flood\":").put_u64(m.flood).put(",\"reports\":").put_u64(m.reports);
        out.put(",\"ring\":").put_u64(m.ring).put(",\"other\":").put_u64(m.other);
        out.put(",\"max_flows\":").put_u64(m.max_flows);
        out.put(",\"max_reassembly\":").put_u64(m.max_reassembly);
        out.put(",\"max_uploads\":").put_u64(m.max_uploads);
        out.put(",\"shrunk\":").put(m.shrunk ? "true" : "false").put('}');
    }
    out.put(",\"cut_short\":").put(in.cut_short ? "true" : "false");
    if (in.cut_short) out.put(",\"cut_reason\":").put_json_string(in.cut_reason);
    out.put("}\n");
}

}  // namespace wl
