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

// 0x and `digits` hex digits of v.
void put_hex(OutBuffer& out, std::uint32_t v, int digits) {
    constexpr char hex[] = "0123456789abcdef";
    out.put("0x");
    for (int s = 4 * (digits - 1); s >= 0; s -= 4)
        out.put(hex[(v >> s) & 15]);
}

void put_hex16(OutBuffer& out, std::uint16_t v) {
    put_hex(out, v, 4);
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

std::string_view wlan_kind_name(WlanKind k) {
    static constexpr std::string_view kNames[] = {"data",       "qos-data", "no-data",  "protected",
                                                  "management", "control",  "extension"};
    return k < WlanKind::Count ? kNames[static_cast<std::size_t>(k)] : std::string_view("?");
}

// Radio and 802.11 header, as tcpdump prints them: channel, signal, then the addresses.
[[gnu::noinline]] void put_wlan_text(OutBuffer& out, const Packet& pkt, const OuiRegistry& oui) {
    if (pkt.has(Layer::Radiotap) && pkt.linktype == linktype::kRadiotap) {
        if (pkt.radiotap.freq) out.put_u64(pkt.radiotap.freq).put(" MHz ");
        if (pkt.radiotap.has_signal) out.put_i64(pkt.radiotap.signal).put("dBm signal ");
    }
    if (!pkt.has(Layer::Wlan)) return;
    const WlanView& w = pkt.wlan;
    out.put("802.11 ").put(wlan_kind_name(pkt.wlan_kind));
    if (w.type() != field::wlan::kTypeData) out.put(" subtype ").put_u64(w.subtype());
    auto addr = [&](std::string_view name, const std::uint8_t* mac) {
        if (mac) out.put(' ').put(name).put(':'), put_mac_with_vendor(out, mac, oui);
    };
    if (w.has_addr3()) {
        addr("BSSID", w.bssid());
        addr("SA", w.sa());
        addr("DA", w.da());
        if (w.four_addr()) addr("RA", w.ra()), addr("TA", w.ta());
    } else {
        addr("RA", w.ra());
        addr("TA", w.ta());
    }
    out.put(", ");
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
    } else if (pkt.has(Layer::Radiotap) || pkt.has(Layer::Wlan)) [[unlikely]] {
        put_wlan_text(out, pkt, oui);
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
    } else if (pkt.has(Layer::Llc)) {
        out.put("LLC dsap "), put_hex(out, pkt.llc.dsap(), 2);
        out.put(" ssap "), put_hex(out, pkt.llc.ssap(), 2);
        if (pkt.llc.is_snap()) {
            out.put(" SNAP oui "), put_hex(out, pkt.llc.oui(), 6);
            out.put(" pid "), put_hex16(out, pkt.llc.pid());
        }
    } else if (pkt.has(Layer::Ethernet)) {
        out.put("802.3 LLC");
    } else if (pkt.has(Layer::Wlan)) {
        out.put(pkt.wlan_kind == WlanKind::Protected ? "encrypted, not decoded" : "no payload");
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

namespace {

// Radio header, 802.11 header and LLC fields; `mac_fields` writes a MAC with its vendor.
template <class MacFields>
void put_wlan_json(OutBuffer& out, const Packet& pkt, MacFields& mac_fields) {
    if (pkt.has(Layer::Radiotap) && pkt.linktype == linktype::kRadiotap) {
        if (pkt.radiotap.freq) out.put(",\"radiotap.freq\":").put_u64(pkt.radiotap.freq);
        if (pkt.radiotap.has_signal) out.put(",\"radiotap.signal\":").put_i64(pkt.radiotap.signal);
    }
    if (pkt.has(Layer::Wlan)) {
        const WlanView& w = pkt.wlan;
        out.put(",\"wlan.type\":").put_u64(w.type());
        out.put(",\"wlan.subtype\":").put_u64(w.subtype());
        out.put(",\"wlan.kind\":\"").put(wlan_kind_name(pkt.wlan_kind)).put('"');
        out.put(",\"wlan.ra\":\"").put_mac(w.ra()).put('"');
        if (w.ta()) out.put(",\"wlan.ta\":\"").put_mac(w.ta()).put('"');
        if (w.bssid()) mac_fields("wlan.bssid", w.bssid());
        if (w.sa()) mac_fields("wlan.sa", w.sa());
        if (w.da()) mac_fields("wlan.da", w.da());
    }
    if (pkt.has(Layer::Llc)) {
        out.put(",\"llc.dsap\":").put_u64(pkt.llc.dsap());
        out.put(",\"llc.ssap\":").put_u64(pkt.llc.ssap());
        if (pkt.llc.is_snap()) {
            out.put(",\"llc.oui\":").put_u64(pkt.llc.oui());
            out.put(",\"llc.pid\":").put_u64(pkt.llc.pid());
        }
    }
}

}  // namespace

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
    constexpr std::uint32_t kWlanLayers =
        1u << idx(Layer::Radiotap) | 1u << idx(Layer::Wlan) | 1u << idx(Layer::Llc);
    if (pkt.layers & kWlanLayers) [[unlikely]] {
        put_wlan_json(out, pkt, mac_fields);
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

}  // namespace wl
