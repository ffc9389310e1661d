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

// tcpdump's ip_printroute: the addresses of a record-route or source-route
// option, a comma after those already passed (`cp`: the option, `len` its length).
void put_ip_route(OutBuffer& out, const std::uint8_t* cp, std::uint32_t len) {
    if (len < 3) {
        out.put(" [bad length ").put_u64(len).put(']');
        return;
    }
    if ((len + 1) & 3) out.put(" [bad length ").put_u64(len).put(']');
    const std::uint32_t ptr = cp[2] - 1u;
    if (ptr < 3 || ((ptr + 1) & 3) || ptr > len + 1) out.put(" [bad ptr ").put_u64(cp[2]).put(']');
    for (std::uint32_t at = 3; at + 4 <= len; at += 4) {
        out.put(' ').put_ipv4(cp + at);
        if (ptr > at) out.put(',');
    }
}

// tcpdump's ip_printts: a timestamp option's flag, stamps and addresses.
void put_ip_timestamp(OutBuffer& out, const std::uint8_t* cp, std::uint32_t len) {
    if (len < 4) {
        out.put("[bad length ").put_u64(len).put(']');
        return;
    }
    out.put(" TS{");
    const std::uint32_t hoplen = (cp[3] & 0xf) != 0 ? 8 : 4;
    if ((len - 4) & (hoplen - 1)) out.put("[bad length ").put_u64(len).put(']');
    const std::uint32_t ptr = cp[2] - 1u;
    std::uint32_t at = 0;
    if (ptr < 4 || ((ptr - 4) & (hoplen - 1)) || ptr > len + 1) {
        out.put("[bad ptr ").put_u64(cp[2]).put(']');
    }
    switch (cp[3] & 0xf) {
        case 0:
            out.put("TSONLY");
            break;
        case 1:
            out.put("TS+ADDR");
            break;
        case 3:
            out.put("PRESPEC");
            break;
        default:
            out.put("[bad ts type ").put_u64(cp[3] & 0xf).put(']');
            goto done;
    }
    for (at = 4; at < len; at += hoplen) {
        if (at + hoplen > len) break;
        out.put(ptr == at ? " ^ " : " ").put_u64(load_be32(cp + at + hoplen - 4)).put('@');
        if (hoplen == 8) out.put_ipv4(cp + at);
    }
done:
    if (ptr == at) out.put(" ^ ");
    if (cp[3] >> 4) {
        out.put(" [").put_u64(cp[3] >> 4).put(" hops not recorded]} ");
    } else {
        out.put('}');
    }
}

// An IPv4 option's name as tcpdump -v prints it ("unknown N" for the others).
void put_ipv4_option_name(OutBuffer& out, std::uint8_t kind) {
    switch (kind) {
        case optkind::kEnd:
            out.put("EOL");
            break;
        case optkind::kNop:
            out.put("NOP");
            break;
        case 7:
            out.put("RR");
            break;
        case 131:
            out.put("LSRR");
            break;
        case 137:
            out.put("SSRR");
            break;
        case 68:
            out.put("timestamp");
            break;
        case 130:
            out.put("security");
            break;
        case 82:
            out.put("traceroute");
            break;
        case 148:
            out.put("RA");
            break;
        default:
            out.put("unknown ").put_u64(kind);
            break;
    }
}

// The IPv4 options as tcpdump -v lists them inside "options (...)": each
// option's name (or "unknown N"), its addresses and stamps, and a bad length
// where the list stops making sense.
void put_ipv4_options(OutBuffer& out, Bytes opts) {
    OptionIterator it(opts);
    HeaderOption o;
    std::size_t at = 0;
    const char* sep = "";
    while (it.next(o)) {
        out.put(sep);
        sep = ",";
        put_ipv4_option_name(out, o.kind);
        switch (o.kind) {
            case optkind::kEnd:
                return;
            case 7:
            case 131:
            case 137:
                put_ip_route(out, opts.data() + at, o.len);
                break;
            case 68:
                put_ip_timestamp(out, opts.data() + at, o.len);
                break;
            case 148:
                if (o.len < 4) {
                    out.put(" [bad length ").put_u64(o.len).put(']');
                } else if (load_be16(o.data) != 0) {
                    out.put(" value ").put_u64(load_be16(o.data));
                }
                break;
            default:
                break;
        }
        at += o.len;
    }
    if (it.malformed() && at < opts.size()) {
        // The option the list could not hold: its name, then its length.
        out.put(sep);
        put_ipv4_option_name(out, opts[at]);
        if (at + 1 < opts.size()) out.put(" [bad length ").put_u64(opts[at + 1]).put(']');
    }
}

// An IP protocol's name as tcpdump -v names it after "proto" / "next-header".
std::string_view ip_proto_name(std::uint8_t proto) {
    switch (proto) {
        case 0:
            return "Options";
        case 1:
            return "ICMP";
        case 2:
            return "IGMP";
        case 4:
            return "IPIP";
        case 6:
            return "TCP";
        case 17:
            return "UDP";
        case 41:
            return "IPv6";
        case 43:
            return "Routing";
        case 44:
            return "frag";
        case 47:
            return "GRE";
        case 50:
            return "ESP";
        case 51:
            return "AH";
        case 58:
            return "ICMPv6";
        case 59:
            return "NONE";
        case 60:
            return "DSTOPT";
        case 89:
            return "OSPF";
        case 103:
            return "PIM";
        case 112:
            return "VRRP";
        case 132:
            return "SCTP";
        default:
            return "unknown";
    }
}

// -v: the IP header's fields in parentheses, then a space, in tcpdump -v's
// words: "(tos 0x0, ttl 64, id 1, offset 0, flags [DF], proto TCP (6), length
// 60) " for IPv4 (its options last), "(hlim 64, next-header TCP (6) payload
// length: 40) " for IPv6 (class and flow label first when not zero).
[[gnu::noinline]] void put_ip_verbose(OutBuffer& out, const Packet& pkt) {
    if (pkt.ip_version == 4) {
        const Ipv4View& ip = pkt.ip4;
        out.put("(tos ");
        put_hex(out, ip.tos(), ip.tos() < 16 ? 1 : 2);
        out.put(", ttl ").put_u64(ip.ttl()).put(", id ").put_u64(ip.id());
        out.put(", offset ").put_u64(ip.fragment_offset() * 8u).put(", flags [");
        const char* sep = "";
        if (ip.more_fragments()) out.put('+'), sep = ", ";
        if (ip.dont_fragment()) out.put(sep).put("DF"), sep = ", ";
        if (ip.reserved_flag()) out.put(sep).put("rsvd"), sep = ", ";
        if (*sep == '\0') out.put("none");
        out.put("], proto ").put(ip_proto_name(ip.protocol())).put(" (");
        out.put_u64(ip.protocol()).put("), length ").put_u64(ip.datagram_len());
        if (ip.header_len() > Ipv4View::kMinHeaderLen) {
            out.put(", options (");
            put_ipv4_options(out, ip.header().subspan(Ipv4View::kMinHeaderLen));
            out.put(')');
        }
        out.put(") ");
        return;
    }
    const Ipv6View& ip = pkt.ip6;
    out.put('(');
    if (ip.traffic_class() != 0) {
        out.put("class ");
        put_hex(out, ip.traffic_class(), ip.traffic_class() < 16 ? 1 : 2);
        out.put(", ");
    }
    if (ip.flow_label() != 0)
        out.put("flowlabel "), put_hex(out, ip.flow_label(), 5), out.put(", ");
    out.put("hlim ").put_u64(ip.hop_limit()).put(", next-header ");
    out.put(ip_proto_name(ip.next_header())).put(" (").put_u64(ip.next_header());
    out.put(") payload length: ").put_u64(ip.payload_len_field()).put(") ");
}

// The quoted datagram's destination port: its transport header's bytes 2-3,
// as tcpdump reads them whatever the protocol; false when not quoted.
bool quoted_dst_port(const IcmpQuoteView& q, std::uint16_t& port) {
    if (q.bytes.size() < q.ip_header_len + 4u) return false;
    port = q.dst_port();
    return true;
}

// "D tcp port P" / "D udp port P" / "D protocol N port P", as tcpdump names
// the target of a port unreachable.
void put_quoted_port_target(OutBuffer& out, const IcmpQuoteView& q, std::uint16_t port) {
    out.put_ip(q.dst(), q.version);
    if (q.proto == ipproto::kTcp) {
        out.put(" tcp port ").put_u64(port);
    } else if (q.proto == ipproto::kUdp) {
        out.put(" udp port ").put_u64(port);
    } else {
        out.put(" protocol ").put_u64(q.proto).put(" port ").put_u64(port);
    }
}

// An ICMP error described as tcpdump describes it (print-icmp.c), from the
// message's code and its quoted datagram. False, with nothing written, when
// the message is no error or the description needs a quote it lacks.
bool put_icmp4_error(OutBuffer& out, const Packet& pkt) {
    const IcmpView& i = pkt.icmp;
    const IcmpQuoteView& q = pkt.icmp_quote;
    const std::uint8_t type = i.type(), code = i.code();
    const bool quoted = !q.bytes.empty() && q.version == 4;
    switch (type) {
        case icmptype::kSourceQuench:
            out.put("source quench");
            return true;
        case icmptype::kTimeExceeded:
            if (code == 0) {
                out.put("time exceeded in-transit");
            } else if (code == 1) {
                out.put("ip reassembly time exceeded");
            } else {
                out.put("time exceeded-#").put_u64(code);
            }
            return true;
        case icmptype::kParamProblem:
            if (!i.has_rest()) return false;
            if (code != 0) {
                out.put("parameter problem - code ").put_u64(code);
            } else {
                out.put("parameter problem - octet ").put_u64(i.pointer());
            }
            return true;
        case icmptype::kRedirect: {
            if (!quoted) return false;
            static constexpr std::string_view kTo[] = {"redirect ", "redirect ", "redirect-tos ",
                                                       "redirect-tos "};
            static constexpr std::string_view kKind[] = {" to net ", " to host ", " to net ",
                                                         " to host "};
            if (code < 4) {
                out.put(kTo[code]).put_ipv4(q.dst()).put(kKind[code]).put_ipv4(i.gateway());
            } else {
                out.put("redirect-#").put_u64(code).put(' ').put_ipv4(q.dst()).put(" to ");
                out.put_ipv4(i.gateway());
            }
            return true;
        }
        case icmptype::kUnreachable:
            break;
        default:
            return false;
    }
    if (!quoted) return false;
    // Destination unreachable, by code.
    static constexpr struct {
        std::string_view before, after;  // around the quoted destination
    } kUnreach[] = {
        {"net ", " unreachable"},                               // 0
        {"host ", " unreachable"},                              // 1
        {"", ""},                                               // 2: protocol
        {"", ""},                                               // 3: port
        {"", ""},                                               // 4: need to frag
        {"", " unreachable - source route failed"},             // 5
        {"net ", " unreachable - unknown"},                     // 6
        {"host ", " unreachable - unknown"},                    // 7
        {"", " unreachable - source host isolated"},            // 8
        {"net ", " unreachable - admin prohibited"},            // 9
        {"host ", " unreachable - admin prohibited"},           // 10
        {"net ", " unreachable - tos prohibited"},              // 11
        {"host ", " unreachable - tos prohibited"},             // 12
        {"host ", " unreachable - admin prohibited filter"},    // 13
        {"host ", " unreachable - host precedence violation"},  // 14
        {"host ", " unreachable - precedence cutoff"},          // 15
    };
    if (code == 2) {
        out.put_ipv4(q.dst()).put(" protocol ").put_u64(q.proto).put(" unreachable");
    } else if (code == 3) {
        std::uint16_t port;
        if (!quoted_dst_port(q, port)) return false;
        put_quoted_port_target(out, q, port);
        out.put(" unreachable");
    } else if (code == icmptype::kUnreachableCodeNeedFrag) {
        out.put_ipv4(q.dst()).put(" unreachable - need to frag");
        if (i.next_hop_mtu() != 0) out.put(" (mtu ").put_u64(i.next_hop_mtu()).put(')');
    } else if (code < 16) {
        out.put(kUnreach[code].before).put_ipv4(q.dst()).put(kUnreach[code].after);
    } else {
        out.put_ipv4(q.dst()).put(" unreachable - #").put_u64(code);
    }
    return true;
}

// Whether put_icmp4_error / put_icmp6_error can describe the packet: an
// error whose description has what it needs (the quote, the word after the
// checksum). Otherwise the line names the type and code.
bool icmp_error_described(const Packet& pkt, bool v6) {
    const IcmpView& i = pkt.icmp;
    const IcmpQuoteView& q = pkt.icmp_quote;
    const bool quoted = !q.bytes.empty() && q.version == (v6 ? 6 : 4);
    std::uint16_t port;
    if (!v6) {
        switch (i.type()) {
            case icmptype::kSourceQuench:
            case icmptype::kTimeExceeded:
                return true;
            case icmptype::kParamProblem:
                return i.has_rest();
            case icmptype::kRedirect:
                return quoted;
            case icmptype::kUnreachable:
                return quoted && (i.code() != 3 || quoted_dst_port(q, port));
            default:
                return false;
        }
    }
    switch (i.type()) {
        case icmptype::kUnreachable6:
            // An unknown code: tcpdump dumps the packet instead of describing it.
            return quoted && i.code() < 5;
        case icmptype::kPacketTooBig6:
        case icmptype::kParamProblem6:
            return i.has_rest();
        case icmptype::kTimeExceeded6:
            return true;
        default:
            return false;
    }
}

// ICMPv6 errors as tcpdump's print-icmp6.c prints them, after "ICMP6, ".
bool put_icmp6_error(OutBuffer& out, const Packet& pkt) {
    const IcmpView& i = pkt.icmp;
    const IcmpQuoteView& q = pkt.icmp_quote;
    const std::uint8_t type = i.type(), code = i.code();
    const bool quoted = !q.bytes.empty() && q.version == 6;
    switch (type) {
        case icmptype::kUnreachable6: {
            static constexpr std::string_view kCodes[] = {
                "unreachable route",
                // tcpdump's table has this one with a leading space, so two follow the comma.
                " unreachable prohibited", "beyond scope", "unreachable address",
                "unreachable port"};
            if (!quoted) return false;
            out.put("destination unreachable, ").put(kCodes[code]);
            if (code == 4) {
                std::uint16_t port;
                if (!q.has_transport || !quoted_dst_port(q, port)) return true;
                out.put(", ");
                put_quoted_port_target(out, q, port);
                if (q.proto != ipproto::kTcp && q.proto != ipproto::kUdp) out.put(" unreachable");
            } else if (code == 2) {
                out.put(' ').put_ipv6(q.dst()).put(", source address ").put_ipv6(q.src());
            } else {
                out.put(' ').put_ipv6(q.dst());
            }
            return true;
        }
        case icmptype::kPacketTooBig6:
            if (!i.has_rest()) return false;
            out.put("packet too big, mtu ").put_u64(i.mtu6());
            return true;
        case icmptype::kTimeExceeded6:
            out.put("time exceeded in-transit");
            if (code == 0) {
                if (!quoted) return true;
                out.put(" for ").put_ipv6(q.dst());
            } else if (code == 1) {
                out.put(" (reassembly)");
            } else {
                out.put(", unknown code (").put_u64(code).put(')');
            }
            return true;
        case icmptype::kParamProblem6: {
            static constexpr std::string_view kCodes[] = {"erroneous - octet ",
                                                          "next header - octet ", "option - octet ",
                                                          "incomplete header chain - octet "};
            if (!i.has_rest()) return false;
            out.put("parameter problem, ");
            if (code < 4) {
                out.put(kCodes[code]).put_u64(i.pointer6());
            } else {
                out.put("unknown code (").put_u64(code).put(')');
            }
            return true;
        }
        default:
            return false;
    }
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

// The link layers and shims other than Ethernet, SLL and VLAN tags (none on plain IP).
constexpr std::uint32_t kShimLayers = (1u << idx(Layer::Ppp)) | (1u << idx(Layer::Pppoe)) |
                                      (1u << idx(Layer::Mpls)) | (1u << idx(Layer::Pbb)) |
                                      (1u << idx(Layer::VnTag)) | (1u << idx(Layer::FabricPath)) |
                                      (1u << idx(Layer::Chdlc)) | (1u << idx(Layer::FrameRelay)) |
                                      (1u << idx(Layer::Slip)) | (1u << idx(Layer::Nflog));

std::string_view pppoe_code_name(std::uint8_t code) {
    switch (code) {
        case 0x00:
            return "session";
        case 0x09:
            return "PADI";
        case 0x07:
            return "PADO";
        case 0x19:
            return "PADR";
        case 0x65:
            return "PADS";
        case 0xa7:
            return "PADT";
        default:
            return {};
    }
}

std::string_view ppp_protocol_name(std::uint16_t proto) {
    switch (proto) {
        case pppproto::kIpv4:
            return "IP";
        case pppproto::kIpv6:
            return "IPv6";
        case pppproto::kMplsUnicast:
        case pppproto::kMplsMulticast:
            return "MPLS";
        case pppproto::kLcp:
            return "LCP";
        case pppproto::kIpcp:
            return "IPCP";
        case pppproto::kIpv6cp:
            return "IPV6CP";
        case pppproto::kPap:
            return "PAP";
        case pppproto::kChap:
            return "CHAP";
        default:
            return {};
    }
}

[[gnu::noinline]] void put_shims_text(OutBuffer& out, const Packet& pkt) {
    if (pkt.has(Layer::Slip)) out.put(pkt.slip.direction() == 0 ? "SLIP I, " : "SLIP O, ");
    if (pkt.has(Layer::Nflog)) {
        out.put("NFLOG resource ").put_u64(pkt.nflog.resource_id());
        if (pkt.nflog.prefix_len) out.put(" prefix ").put(pkt.nflog.prefix());
        out.put(", ");
    }
    if (pkt.has(Layer::Chdlc)) out.put("CHDLC, ");
    if (pkt.has(Layer::FrameRelay)) out.put("FR DLCI ").put_u64(pkt.frelay.dlci()).put(", ");
    if (pkt.has(Layer::FabricPath)) {
        out.put("FabricPath ftag ").put_u64(pkt.fabricpath.ftag());
        out.put(" ttl ").put_u64(pkt.fabricpath.ttl()).put(", ");
    }
    if (pkt.has(Layer::VnTag)) {
        out.put("VN-Tag dvif ").put_u64(pkt.vntag.dst_vif());
        out.put(" svif ").put_u64(pkt.vntag.src_vif()).put(", ");
    }
    if (pkt.has(Layer::Pbb)) out.put("PBB isid ").put_u64(pkt.pbb.isid()).put(", ");
    if (pkt.has(Layer::Pppoe)) {
        const std::string_view name = pppoe_code_name(pkt.pppoe.code());
        out.put("PPPoE ");
        if (name.empty()) {
            out.put("code ").put_u64(pkt.pppoe.code());
        } else {
            out.put(name);
        }
        out.put(" 0x");
        constexpr char hex[] = "0123456789abcdef";
        for (int s = 12; s >= 0; s -= 4)
            out.put(hex[(pkt.pppoe.session() >> s) & 15]);
        out.put(", ");
    }
    if (pkt.has(Layer::Ppp)) out.put("PPP, ");
    if (pkt.has(Layer::Mpls)) {
        out.put("MPLS");
        for (std::uint8_t i = 0; i < pkt.mpls.count; ++i) {
            const MplsEntry e = pkt.mpls.entries[i];
            out.put(i ? ", (label " : " (label ").put_u64(e.label());
            out.put(" tc ").put_u64(e.tc()).put(e.bottom() ? " [S]" : "");
            out.put(" ttl ").put_u64(e.ttl()).put(')');
        }
        out.put(", ");
    }
}

[[gnu::noinline]] void put_shims_json(OutBuffer& out, const Packet& pkt) {
    if (pkt.has(Layer::Slip)) out.put(",\"slip.direction\":").put_u64(pkt.slip.direction());
    if (pkt.has(Layer::Nflog)) {
        out.put(",\"nflog.family\":").put_u64(pkt.nflog.family());
        out.put(",\"nflog.resource_id\":").put_u64(pkt.nflog.resource_id());
        if (pkt.nflog.prefix_len) {
            out.put(",\"nflog.prefix\":").put_json_string(pkt.nflog.prefix());
        }
    }
    if (pkt.has(Layer::Chdlc)) {
        out.put(",\"chdlc.address\":").put_u64(pkt.chdlc.address());
        out.put(",\"chdlc.protocol\":").put_u64(pkt.chdlc.protocol());
    }
    if (pkt.has(Layer::FrameRelay)) {
        out.put(",\"fr.dlci\":").put_u64(pkt.frelay.dlci());
        if (pkt.frelay.has_nlpid()) out.put(",\"fr.nlpid\":").put_u64(pkt.frelay.nlpid());
    }
    if (pkt.has(Layer::FabricPath)) {
        out.put(",\"fabricpath.ftag\":").put_u64(pkt.fabricpath.ftag());
        out.put(",\"fabricpath.ttl\":").put_u64(pkt.fabricpath.ttl());
    }
    if (pkt.has(Layer::VnTag)) {
        out.put(",\"vntag.dst_vif\":").put_u64(pkt.vntag.dst_vif());
        out.put(",\"vntag.src_vif\":").put_u64(pkt.vntag.src_vif());
    }
    if (pkt.has(Layer::Pbb)) out.put(",\"pbb.isid\":").put_u64(pkt.pbb.isid());
    if (pkt.has(Layer::Pppoe)) {
        out.put(",\"pppoe.code\":").put_u64(pkt.pppoe.code());
        out.put(",\"pppoe.session\":").put_u64(pkt.pppoe.session());
        out.put(",\"pppoe.length\":").put_u64(pkt.pppoe.length());
    }
    if (pkt.has(Layer::Ppp)) out.put(",\"ppp.protocol\":").put_u64(pkt.ppp.protocol());
    if (pkt.has(Layer::Mpls)) {
        auto list = [&](std::string_view key, auto get) {
            out.put(",\"").put(key).put("\":[");
            for (std::uint8_t i = 0; i < pkt.mpls.count; ++i) {
                if (i) out.put(',');
                out.put_u64(get(pkt.mpls.entries[i]));
            }
            out.put(']');
        };
        list("mpls.labels", [](MplsEntry e) { return e.label(); });
        list("mpls.tc", [](MplsEntry e) { return e.tc(); });
        list("mpls.ttl", [](MplsEntry e) { return e.ttl(); });
    }
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

namespace {

// IPv6 extension headers in the order met, in tcpdump's words, each followed
// by a space: HBH, DSTOPT, RT6 (type=N, segleft=N), frag (OFFSET|LENGTH) with
// LENGTH the bytes after the fragment header, AH, MH, HIP, shim6.
void put_ipv6_ext_text(OutBuffer& out, const Packet& pkt) {
    if (pkt.ip_version != 6 || !pkt.has(Layer::Ipv6Ext)) return;
    const Ipv6Chain& chain = pkt.ip6_chain;
    const Bytes p = pkt.ip6.payload();
    const std::uint32_t wire = pkt.ip6.payload_wire_len;
    std::size_t off = 0;
    for (std::uint8_t i = 0; i < chain.count && off + 2 <= p.size(); ++i) {
        const std::uint8_t t = chain.types[i];
        const std::uint8_t* h = p.data() + off;
        const std::size_t len = t == ipproto::kFragment ? field::ipv6_ext::kFragmentLen
                                : t == ipproto::kAh     ? (h[1] + 2u) * 4u
                                                        : (h[1] + 1u) * 8u;
        switch (t) {
            case ipproto::kHopByHop:
                out.put("HBH ");
                break;
            case ipproto::kDestOpts:
                out.put("DSTOPT ");
                break;
            case ipproto::kRouting:
                out.put("RT6 ");
                if (off + 4 <= p.size()) {
                    out.put("(type=").put_u64(h[2]).put(", segleft=").put_u64(h[3]).put(") ");
                }
                break;
            case ipproto::kFragment: {
                const std::uint64_t end = off + len;
                out.put("frag (").put_u64(chain.fragment_offset * 8u).put('|');
                out.put_u64(wire > end ? wire - end : 0).put(") ");
                break;
            }
            case ipproto::kAh:
                out.put("AH ");
                break;
            case ipproto::kMobility:
                out.put("MH ");
                break;
            case ipproto::kHip:
                out.put("HIP ");
                break;
            default:
                out.put("shim6 ");
                break;
        }
        off += len;
    }
}

// A TCP header whose data offset is below 5 words or past the segment: the
// ports still stand, and tcpdump's words follow: `tcp 8 [bad hdr length 12 -
// too short, < 20]` (the bytes after the header claimed) or `Flags [S] [bad hdr
// length 60 - too long, > 20]`. False when the first 14 bytes were not captured.
bool put_tcp_bad_header_text(OutBuffer& out, const Packet& pkt) {
    if (pkt.error_layer != Layer::Tcp || pkt.error != DecodeError::BadHeaderLength) return false;
    const int v = pkt.ip_version;
    Bytes seg;
    std::uint32_t wire = 0;
    if (v == 4) {
        seg = pkt.ip4.payload();
        wire = pkt.ip4.payload_wire_len;
    } else {
        const Bytes p = pkt.ip6.payload();
        if (pkt.ip6_chain.offset > p.size()) return false;
        seg = p.subspan(pkt.ip6_chain.offset);
        wire = pkt.ip6.payload_wire_len - pkt.ip6_chain.offset;
    }
    if (seg.size() < 14) return false;
    const std::uint8_t* t = seg.data();
    put_endpoint(out, pkt.ip_src(), v, load_be16(t));
    out.put(" > ");
    put_endpoint(out, pkt.ip_dst(), v, load_be16(t + 2));
    out.put(": ");
    put_ipv6_ext_text(out, pkt);
    const std::uint32_t hlen = (t[12] >> 4) * 4u;
    if (hlen < TcpView::kMinHeaderLen) {
        out.put("tcp ").put_u64(wire > hlen ? wire - hlen : 0);
        out.put(" [bad hdr length ").put_u64(hlen).put(" - too short, < 20]");
    } else {
        char flags[10];
        const auto bits = static_cast<std::uint16_t>(((t[12] & 1u) << 8) | t[13]);
        out.put("Flags [").put(std::string_view(flags, tcp_flags_string(bits, flags)));
        out.put("] [bad hdr length ").put_u64(hlen).put(" - too long, > ").put_u64(wire);
        out.put(']');
    }
    return true;
}

// The line after its time of day.
void put_packet_text(OutBuffer& out, const Packet& pkt, const OuiRegistry& oui, bool verbose) {
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
    if (pkt.layers & kShimLayers) [[unlikely]] {
        put_shims_text(out, pkt);
    }
    if (pkt.has_inner_eth) [[unlikely]] {
        put_mac_with_vendor(out, pkt.inner_eth.src().p, oui);
        out.put(" > ");
        put_mac_with_vendor(out, pkt.inner_eth.dst().p, oui);
        out.put(", ");
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
        if (verbose) [[unlikely]] {
            put_ip_verbose(out, pkt);
        } else if (v == 4 && pkt.ip4.header_len() > Ipv4View::kMinHeaderLen) {
            out.put("(options (");
            put_ipv4_options(out, pkt.ip4.header().subspan(Ipv4View::kMinHeaderLen));
            out.put(")) ");
        }
        if (pkt.has(Layer::Tcp)) {
            const TcpView& t = pkt.tcp;
            put_endpoint(out, pkt.ip_src(), v, t.src_port());
            out.put(" > ");
            put_endpoint(out, pkt.ip_dst(), v, t.dst_port());
            out.put(": ");
            put_ipv6_ext_text(out, pkt);
            char flags[10];
            out.put("Flags [").put(std::string_view(flags, tcp_flags_string(t.flags(), flags)));
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
            out.put(": ");
            put_ipv6_ext_text(out, pkt);
            out.put("UDP, length ").put_u64(pkt.payload_wire_len);
        } else if (put_tcp_bad_header_text(out, pkt)) {
        } else {
            out.put_ip(pkt.ip_src(), v).put(" > ").put_ip(pkt.ip_dst(), v).put(": ");
            put_ipv6_ext_text(out, pkt);
            if (pkt.has(Layer::Icmp) || pkt.has(Layer::Icmpv6)) {
                const bool v6 = pkt.has(Layer::Icmpv6);
                const std::string_view name = icmp_name(v6, pkt.icmp.type());
                if (icmp_error_described(pkt, v6)) {
                    out.put(v6 ? "ICMP6, " : "ICMP ");
                    if (v6) {
                        put_icmp6_error(out, pkt);
                    } else {
                        put_icmp4_error(out, pkt);
                    }
                } else if ((pkt.icmp.type() == (v6 ? 128 : 8) ||
                            pkt.icmp.type() == (v6 ? 129 : 0)) &&
                           pkt.icmp.has_echo_fields()) {
                    // Echo, as tcpdump: ICMP6, echo request, id 1234, seq 1
                    out.put(v6 ? "ICMP6, " : "ICMP ").put(name);
                    out.put(", id ").put_u64(pkt.icmp.echo_id());
                    out.put(", seq ").put_u64(pkt.icmp.echo_seq());
                } else {
                    out.put(v6 ? "ICMP6 " : "ICMP ");
                    if (!name.empty()) {
                        out.put(name);
                    } else {
                        out.put("type ").put_u64(pkt.icmp.type());
                    }
                    out.put(", code ").put_u64(pkt.icmp.code());
                }
                out.put(", length ").put_u64(pkt.payload_wire_len + IcmpView::kHeaderLen);
            } else if (pkt.ip_later_fragment && v == 6) {
                out.put("proto ").put_u64(pkt.ip_proto);  // after "frag (OFFSET|LENGTH) "
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
    } else if (pkt.has(Layer::Ppp) && ethertype_of_ppp(pkt.ppp.protocol()) == 0) {
        const std::string_view name = ppp_protocol_name(pkt.ppp.protocol());
        out.put("PPP ");
        if (!name.empty()) out.put(name).put(' ');
        put_hex16(out, pkt.ppp.protocol());
    } else if (pkt.has(Layer::Pppoe) && pkt.pppoe.code() != 0) {
        out.put("PPPoE discovery, length ").put_u64(pkt.pppoe.length());
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

// An ICMP error's own fields and its quoted datagram: the MTU of a
// fragmentation-needed or packet-too-big, a redirect's gateway, the quoted
// addresses and protocol, and its ports when they were quoted.
void put_icmp_error_json(OutBuffer& out, const Packet& pkt) {
    const IcmpView& i = pkt.icmp;
    const bool v6 = pkt.has(Layer::Icmpv6);
    if (!IcmpView::is_error(v6, i.type()) || !i.has_rest()) return;
    if (!v6 && i.type() == icmptype::kUnreachable &&
        i.code() == icmptype::kUnreachableCodeNeedFrag) {
        out.put(",\"icmp.mtu\":").put_u64(i.next_hop_mtu());
    } else if (v6 && i.type() == icmptype::kPacketTooBig6) {
        out.put(",\"icmp.mtu\":").put_u64(i.mtu6());
    } else if (!v6 && i.type() == icmptype::kRedirect) {
        out.put(",\"icmp.gateway\":\"").put_ipv4(i.gateway()).put('"');
    }
    const IcmpQuoteView& q = pkt.icmp_quote;
    if (q.bytes.empty()) return;
    out.put(",\"icmp.inner.src\":\"").put_ip(q.src(), q.version).put('"');
    out.put(",\"icmp.inner.dst\":\"").put_ip(q.dst(), q.version).put('"');
    out.put(",\"icmp.inner.proto\":").put_u64(q.proto);
    if (!q.has_transport) return;
    if (q.proto == ipproto::kTcp || q.proto == ipproto::kUdp) {
        out.put(",\"icmp.inner.src_port\":").put_u64(q.src_port());
        out.put(",\"icmp.inner.dst_port\":").put_u64(q.dst_port());
    } else {
        out.put(",\"icmp.inner.type\":").put_u64(q.icmp_type());
        out.put(",\"icmp.inner.code\":").put_u64(q.icmp_code());
    }
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

// The ipnet, IPoIB and PKTAP headers' fields (Layer::Link of their link types).
[[gnu::cold]] void put_link_json(OutBuffer& out, const Packet& pkt) {
    switch (pkt.linktype) {
        case linktype::kIpnet:
            out.put(",\"ipnet.family\":").put_u64(pkt.ipnet.family());
            break;
        case linktype::kIpoib:
            out.put(",\"ipoib.type\":").put_u64(pkt.ipoib.type());
            break;
        case linktype::kPktap:
        case linktype::kPktapDarwin:
            out.put(",\"pktap.dlt\":").put_u64(pkt.pktap.dlt());
            out.put(",\"pktap.ifname\":").put_json_string(pkt.pktap.ifname());
            break;
        default:
            break;
    }
}

}  // namespace

// The record's fields after its time stamp.
void put_packet_json(OutBuffer& out, const Packet& pkt, const OuiRegistry& oui) {
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
    if (pkt.has(Layer::Link)) put_link_json(out, pkt);
    if (pkt.layers & kShimLayers) [[unlikely]] {
        put_shims_json(out, pkt);
    }
    if (pkt.has_inner_eth) [[unlikely]] {
        mac_fields("inner_eth.src", pkt.inner_eth.src().p);
        mac_fields("inner_eth.dst", pkt.inner_eth.dst().p);
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
            if (pkt.ip4.header_len() > Ipv4View::kMinHeaderLen) {
                out.put(",\"ip.options\":\"");
                put_ipv4_options(out, pkt.ip4.header().subspan(Ipv4View::kMinHeaderLen));
                out.put('"');
            }
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
        put_icmp_error_json(out, pkt);
    }
    if (pkt.ip_version) out.put(",\"payload_len\":").put_u64(pkt.payload_wire_len);
    if (pkt.unsupported_link) out.put(",\"unsupported_link\":true");
    if (pkt.malformed()) {
        out.put(",\"malformed\":\"");
        put_malformed_reason(out, pkt);
        out.put('"');
    }
}

}  // namespace

void write_packet_text(OutBuffer& out, const Packet& pkt, const OuiRegistry& oui, bool verbose) {
    put_time_of_day(out, pkt.ts_ns);
    out.put(' ');
    put_packet_text(out, pkt, oui, verbose);
}

void write_tunneled_packet_text(OutBuffer& out, const Packet& inner, const OuiRegistry& oui,
                                int depth, TunnelKind kind, bool verbose) {
    for (int i = 0; i < depth; ++i)
        out.put("  ");
    out.put(tunnel_name(kind)).put(": ");
    put_packet_text(out, inner, oui, verbose);
}

void write_packet_json(OutBuffer& out, const Packet& pkt, const OuiRegistry& oui, bool close) {
    out.put("{\"type\":\"packet\",\"ts\":").put_ts(pkt.ts_ns);
    put_packet_json(out, pkt, oui);
    if (close) out.put("}\n");
}

void write_tunneled_packet_json(OutBuffer& out, const Packet& inner, const OuiRegistry& oui,
                                int depth, TunnelKind kind) {
    out.put(depth == 1 ? ",\"tunnel\":[" : ",");
    out.put("{\"depth\":").put_u64(static_cast<std::uint64_t>(depth));
    out.put(",\"kind\":\"").put(tunnel_name(kind)).put('"');
    put_packet_json(out, inner, oui);
    out.put('}');
}

void end_packet_json(OutBuffer& out, bool tunneled) {
    out.put(tunneled ? "]}\n" : "}\n");
}

}  // namespace wl
