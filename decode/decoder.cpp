#include "decode/checksum.hpp"
#include "decode/packet.hpp"

namespace wl {

namespace linktype {
bool supported(int dlt) {
    switch (dlt) {
        case kNull:
        case kEthernet:
        case kRaw:
        case kRawBsd:
        case kRawLinktype:
        case kLoop:
        case kLinuxSll:
        case kIpv4:
        case kIpv6:
        case kLinuxSll2:
        case kSlip:
        case kPpp:
        case kPppSerial:
        case kPppEther:
        case kCHdlc:
        case kFrelay:
        case kNflog:
        case kAtmRfc1483:
        case kAtmClip:
        case kIeee80211:
        case kPrism:
        case kRadiotap:
        case kAvs:
        case kIpnet:
        case kIpoib:
        case kPktap:
        case kPktapDarwin:
            return true;
        default:
            return false;
    }
}
}  // namespace linktype

namespace {

constexpr std::uint32_t bit(Layer l) {
    return 1u << static_cast<unsigned>(l);
}

// Decoding state for one frame: the remaining captured bytes and how many
// bytes the wire carried from the same point on.
struct Cursor {
    Bytes data;
    std::uint32_t wire;
    void advance(std::size_t n) {
        data = data.subspan(n);
        wire -= static_cast<std::uint32_t>(n);
    }
};

class FrameDecoder {
  public:
    FrameDecoder(Packet& pkt, const DecodeOptions& opts) : pkt_(pkt), opts_(opts) {}

    void run(Bytes frame) {
        // A record may claim fewer bytes on the wire than it captured; trust the capture.
        Cursor c{frame, pkt_.wire_len > frame.size() ? pkt_.wire_len
                                                     : static_cast<std::uint32_t>(frame.size())};
        link(c, pkt_.linktype);
    }

  private:
    // The frame's link type, or the one a PKTAP header names.
    [[gnu::always_inline]] void link(Cursor c, int dlt) {
        switch (dlt) {
            case linktype::kEthernet:
                return ethernet(c);
            case linktype::kLinuxSll:
                return sll(c, 1);
            case linktype::kLinuxSll2:
                return sll(c, 2);
            case linktype::kNull:
                return null_link(c, false);
            case linktype::kLoop:
                return null_link(c, true);
            case linktype::kRaw:
            case linktype::kRawBsd:
            case linktype::kRawLinktype:
                return raw_ip(c);
            case linktype::kIpv4:
                pkt_.ethertype = ethertype::kIpv4;
                return ipv4(c);
            case linktype::kIpv6:
                pkt_.ethertype = ethertype::kIpv6;
                return ipv6(c);
            case linktype::kRadiotap:
                return radiotap(c);
            case linktype::kIeee80211:
                return wlan(c, false);
            case linktype::kPrism:
            case linktype::kAvs:
                return radio_header(c, dlt);
            case linktype::kAtmRfc1483:
                return llc(c);
            case linktype::kAtmClip:  // IPv4 straight away, as tshark reads it
                pkt_.ethertype = ethertype::kIpv4;
                return ipv4(c);
            default:
                return other_link(c, dlt);
        }
    }

    // Off the hot path: most packets have no event.
    [[gnu::cold, gnu::noinline]] void record(Layer layer, DecodeEvent event) {
        if (pkt_.events.empty()) {
            pkt_.error_layer = layer;
            pkt_.error = event;
        }
        pkt_.events.add(layer, event);
    }
    // Records `event` (if any) at `layer`; true when the header is usable:
    // no event, or one that does not stop decoding.
    bool usable(Layer layer, DecodeEvent event) {
        if (event == DecodeEvent::None) [[likely]] {
            return true;
        }
        record(layer, event);
        return !stops_decoding(event);
    }
    void mark(Layer l) { pkt_.layers |= bit(l); }

    void ethernet(Cursor c) {
        if (!usable(Layer::Ethernet, EthernetView::parse(c.data, pkt_.eth))) return;
        mark(Layer::Ethernet);
        const std::uint16_t type = pkt_.eth.type_or_length();
        c.advance(EthernetView::kHeaderLen);
        if (type < ethertype::kMinEthertype) return ieee8023(c, type);
        // Untagged IP straight on: network() serves every link and shim, and is
        // not inlined, so its cursor would go through memory.
        if (type == ethertype::kIpv4) [[likely]] {
            pkt_.ethertype = type;
            return ipv4(c);
        }
        network(c, type);
    }

    // An 802.3 length field: LLC follows, and the length bounds it (the rest is padding).
    [[gnu::cold, gnu::noinline]] void ieee8023(Cursor c, std::uint16_t length) {
        pkt_.ethertype = 0;  // a length, not a protocol
        if (c.data.size() >= 2 && load_be16(c.data.data()) == 0xffff) return;  // raw IPX, no LLC
        if (length < c.wire) {
            c.wire = length;
            if (c.data.size() > length) c.data = c.data.first(length);
        }
        llc(c);
    }

    // 802.2 LLC; with SNAP (or the IP SAP) an ethertype, and the network protocol.
    [[gnu::noinline]] void llc(Cursor c) {
        LlcView& l = pkt_.llc;
        if (!usable(Layer::Llc, LlcView::parse(c.data, l))) return;
        mark(Layer::Llc);
        const std::uint16_t type = l.ethertype();
        if (type < ethertype::kMinEthertype) return;  // no network protocol named
        c.advance(l.header_len());
        network(c, type);
    }

    // Radiotap, then 802.11 (its flags say whether the frame ends with the FCS
    // and whether the 802.11 header is padded to 4 bytes).
    [[gnu::noinline]] void radiotap(Cursor c) {
        RadiotapView& r = pkt_.radiotap;
        if (!usable(Layer::Radiotap, RadiotapView::parse(c.data, r))) return;
        mark(Layer::Radiotap);
        c.advance(r.header_len());
        if (r.has_fcs()) {
            if (c.wire < 4) {
                record(Layer::Wlan, DecodeEvent::Truncated);
                return;
            }
            c.wire -= 4;  // the FCS is not payload
            if (c.data.size() > c.wire) c.data = c.data.first(c.wire);
        }
        wlan(c, r.data_pad());
    }

    // Prism or AVS (DLT 119 holds either: AVS starts with its magic), then 802.11.
    [[gnu::noinline]] void radio_header(Cursor c, int dlt) {
        RadioHeaderView& r = pkt_.radio;
        const bool avs = dlt == linktype::kAvs || field::avs::is_avs(c.data);
        if (!usable(Layer::Radiotap, avs ? RadioHeaderView::parse_avs(c.data, r)
                                         : RadioHeaderView::parse_prism(c.data, r))) {
            return;
        }
        mark(Layer::Radiotap);
        c.advance(r.header_len());
        wlan(c, false);
    }

    // The 802.11 MAC header. Only data frames with a body and not protected go
    // on, to LLC (or to the first A-MSDU subframe, as Zeek and tshark decode).
    [[gnu::noinline]] void wlan(Cursor c, bool data_pad) {
        using namespace field::wlan;
        WlanView& w = pkt_.wlan;
        if (!usable(Layer::Wlan, WlanView::parse(c.data, w))) return;
        mark(Layer::Wlan);
        pkt_.wlan_kind = w.kind();
        if (pkt_.wlan_kind != WlanKind::Data && pkt_.wlan_kind != WlanKind::QosData) return;
        std::size_t at = w.header_len();
        if (data_pad) at = (at + 3) & ~std::size_t{3};
        // 802.11s mesh control, as Wireshark finds it: QoS data from a mesh STA
        // with the Mesh Control Present bit, flags holding only a valid address mode.
        if (w.is_qos() && w.from_ds() && (w.qos_control() & kQosMeshControl) &&
            at < c.data.size() && (c.data[at] & ~3u) == 0 && (c.data[at] & 3u) != 3) {
            at += kMeshFixed + kAddrLen * (c.data[at] & 3u);
        }
        if (at > c.data.size()) {
            record(Layer::Wlan, DecodeEvent::Truncated);
            return;
        }
        c.advance(at);
        if (w.amsdu()) {
            if (c.data.size() < kAmsduHeader) {
                record(Layer::Wlan, DecodeEvent::Truncated);
                return;
            }
            const std::uint32_t len = load_be16(c.data.data() + kAmsduLen);
            c.advance(kAmsduHeader);
            if (len > c.wire) {
                record(Layer::Wlan, DecodeEvent::BadLength);
                return;
            }
            c.wire = len;  // the first subframe only
            if (c.data.size() > len) c.data = c.data.first(len);
        }
        llc(c);
    }

    void sll(Cursor c, int version) {
        if (!usable(Layer::Link, LinuxSllView::parse(c.data, version, pkt_.sll))) return;
        mark(Layer::Link);
        const std::uint16_t proto = pkt_.sll.protocol();
        c.advance(pkt_.sll.header_len());
        // Below 0x0600 the field names an encapsulation (802.2 LLC, 802.3, CAN...).
        if (proto < ethertype::kMinEthertype) return;
        network(c, proto);
    }

    void null_link(Cursor c, bool network_order) {
        if (!usable(Layer::Link, NullLinkView::parse(c.data, network_order, pkt_.null_link))) {
            return;
        }
        mark(Layer::Link);
        c.advance(NullLinkView::kHeaderLen);
        if (pkt_.null_link.is_ipv4()) {
            pkt_.ethertype = ethertype::kIpv4;
            ipv4(c);
        } else if (pkt_.null_link.is_ipv6()) {
            pkt_.ethertype = ethertype::kIpv6;
            ipv6(c);
        }
    }

    void raw_ip(Cursor c) {
        if (c.data.empty()) {
            record(Layer::Ipv4, DecodeEvent::Truncated);
            return;
        }
        if (field::ipv6::version(c.data.data()) == 6) {
            pkt_.ethertype = ethertype::kIpv6;
            ipv6(c);
        } else {
            pkt_.ethertype = ethertype::kIpv4;
            ipv4(c);
        }
    }

    // After a link header: VLAN tags, then the network protocol.
    void network(Cursor c, std::uint16_t type) {
        while (ethertype::is_vlan(type)) {
            if (pkt_.vlan_count == Packet::kMaxVlanTags) {
                record(Layer::Vlan, DecodeEvent::TooManyVlanTags);
                return;
            }
            if (c.data.size() < field::vlan::kLen) {
                record(Layer::Vlan, DecodeEvent::Truncated);
                return;
            }
            pkt_.vlans[pkt_.vlan_count++] =
                VlanTag{type, load_be16(c.data.data() + field::vlan::kTci)};
            type = load_be16(c.data.data() + field::vlan::kType);
            c.advance(field::vlan::kLen);
            mark(Layer::Vlan);
        }
        pkt_.ethertype = type;
        switch (type) {
            case ethertype::kIpv4:
                return ipv4(c);
            case ethertype::kIpv6:
                return ipv6(c);
            case ethertype::kArp:
                if (usable(Layer::Arp, ArpView::parse(c.data, pkt_.arp))) mark(Layer::Arp);
                return;
            default:
                // After VLAN tags, a value below 0x0600 is an 802.3 length: LLC follows.
                if (type < ethertype::kMinEthertype && pkt_.vlan_count) return ieee8023(c, type);
                return shim(c, type);
        }
    }

    // ------------------------------------------------------------------
    // Link types other than Ethernet and the pseudo headers, and the shims
    // between a link header and IP: none of this is on plain IP's path.

    [[gnu::noinline]] void other_link(Cursor c, int dlt) {
        switch (dlt) {
            case linktype::kPpp:
            case linktype::kPppSerial:
                // tcpdump and tshark take Cisco HDLC framing on a PPP link too.
                if (ChdlcView::looks_like(c.data)) return chdlc(c);
                return ppp(c, true);
            case linktype::kPppEther:
                return pppoe(c, ethertype::kPppoeSession);
            case linktype::kCHdlc:
                return chdlc(c);
            case linktype::kFrelay:
                return frame_relay(c);
            case linktype::kSlip:
                return slip(c);
            case linktype::kNflog:
                return nflog(c);
            case linktype::kIpnet:
                return ipnet(c);
            case linktype::kIpoib:
                return ipoib(c);
            case linktype::kPktap:
            case linktype::kPktapDarwin:
                return pktap(c);
            default:
                pkt_.unsupported_link = true;
                return;
        }
    }

    [[gnu::noinline]] void shim(Cursor c, std::uint16_t type) {
        switch (type) {
            case ethertype::kMplsUnicast:
            case ethertype::kMplsMulticast:
                return mpls(c);
            case ethertype::kPppoeSession:
            case ethertype::kPppoeDiscovery:
                return pppoe(c, type);
            case ethertype::kPbb:
                return pbb(c);
            case ethertype::kVnTag:
                return vntag(c);
            case ethertype::kFabricPath:
                return fabricpath(c);
            default:
                return;
        }
    }

    // Each shim (and each customer Ethernet header inside one) counts towards a
    // depth limit: a pseudowire may carry MPLS again, PBB may carry PBB.
    bool deeper(Layer layer) {
        if (++shim_depth_ <= kMaxShimDepth) return true;
        record(layer, DecodeEvent::TooManyShims);
        return false;
    }

    // The bytes of the header's payload as `c` with the length a header gives it:
    // Ethernet padding after it is not part of it.
    static Cursor bounded(Cursor c, std::uint32_t len) {
        if (c.data.size() > len) c.data = c.data.first(len);
        c.wire = len;
        return c;
    }

    void ppp(Cursor c, bool framed) {
        if (!usable(Layer::Ppp, PppView::parse(c.data, framed, pkt_.ppp))) return;
        mark(Layer::Ppp);
        c.advance(pkt_.ppp.header_len);
        const std::uint16_t type = ethertype_of_ppp(pkt_.ppp.protocol());
        if (type != 0) network(c, type);  // LCP, IPCP, PAP...: the PPP layer only
    }

    void pppoe(Cursor c, std::uint16_t type) {
        if (!deeper(Layer::Pppoe)) return;
        if (!usable(Layer::Pppoe, PppoeView::parse(c.data, c.wire, pkt_.pppoe))) return;
        mark(Layer::Pppoe);
        // Discovery (PADI, PADO, PADR, PADS, PADT) carries tags, not packets.
        if (type == ethertype::kPppoeDiscovery || pkt_.pppoe.code() != 0) return;
        c.advance(PppoeView::kHeaderLen);
        ppp(bounded(c, pkt_.pppoe.length()), false);
    }

    void chdlc(Cursor c) {
        if (!usable(Layer::Chdlc, ChdlcView::parse(c.data, pkt_.chdlc))) return;
        mark(Layer::Chdlc);
        c.advance(ChdlcView::kHeaderLen);
        const std::uint16_t type = pkt_.chdlc.protocol();
        if (type >= ethertype::kMinEthertype) network(c, type);
    }

    void frame_relay(Cursor c) {
        if (!usable(Layer::FrameRelay, FrameRelayView::parse(c.data, pkt_.frelay))) return;
        mark(Layer::FrameRelay);
        c.advance(pkt_.frelay.header_len);
        const std::uint16_t type = pkt_.frelay.protocol();
        if (type >= ethertype::kMinEthertype) network(c, type);
    }

    void slip(Cursor c) {
        if (!usable(Layer::Slip, SlipView::parse(c.data, pkt_.slip))) return;
        mark(Layer::Slip);
        c.advance(SlipView::kHeaderLen);
        if (c.data.empty()) return;
        switch (field::ipv6::version(c.data.data())) {  // the same nibble as IPv4's
            case 4:
                pkt_.ethertype = ethertype::kIpv4;
                return ipv4(c);
            case 6:
                pkt_.ethertype = ethertype::kIpv6;
                return ipv6(c);
            default:
                return;  // compressed TCP/IP (RFC 1144): not decoded
        }
    }

    void nflog(Cursor c) {
        NflogView& n = pkt_.nflog;
        if (!usable(Layer::Nflog, NflogView::parse(c.data, n))) return;
        mark(Layer::Nflog);
        if (!n.has_payload()) return;
        c.advance(n.payload_offset);
        c = bounded(c, n.payload_len);
        if (n.family() == field::nflog::kAfInet) {
            pkt_.ethertype = ethertype::kIpv4;
            ipv4(c);
        } else if (n.family() == field::nflog::kAfInet6) {
            pkt_.ethertype = ethertype::kIpv6;
            ipv6(c);
        }
    }

    void ipnet(Cursor c) {
        if (!usable(Layer::Link, IpnetView::parse(c.data, pkt_.ipnet))) return;
        mark(Layer::Link);
        c.advance(IpnetView::kHeaderLen);
        if (pkt_.ipnet.family() == field::ipnet::kAfInet) {
            pkt_.ethertype = ethertype::kIpv4;
            ipv4(c);
        } else if (pkt_.ipnet.family() == field::ipnet::kAfInet6) {
            pkt_.ethertype = ethertype::kIpv6;
            ipv6(c);
        }
    }

    void ipoib(Cursor c) {
        if (!usable(Layer::Link, IpoibView::parse(c.data, pkt_.ipoib))) return;
        mark(Layer::Link);
        c.advance(IpoibView::kHeaderLen);
        const std::uint16_t type = pkt_.ipoib.type();
        if (type >= ethertype::kMinEthertype) network(c, type);
    }

    // PKTAP: the packet after the header is decoded as the link type it names;
    // a PKTAP header inside one is not followed.
    void pktap(Cursor c) {
        if (!usable(Layer::Link, PktapView::parse(c.data, pkt_.pktap))) return;
        mark(Layer::Link);
        if (!pkt_.pktap.is_packet()) return;
        c.advance(pkt_.pktap.header_len);
        const std::uint32_t dlt = pkt_.pktap.dlt();
        if (dlt == linktype::kPktap || dlt == linktype::kPktapDarwin) {
            pkt_.unsupported_link = true;
            return;
        }
        link(c, static_cast<int>(dlt & 0x7fffffffu));
    }

    void mpls(Cursor c) {
        if (!deeper(Layer::Mpls)) return;
        // The first stack is the packet's; one inside a pseudowire is walked, not kept.
        MplsStackView inner;
        MplsStackView& stack = pkt_.has(Layer::Mpls) ? inner : pkt_.mpls;
        if (!usable(Layer::Mpls, MplsStackView::parse(c.data, stack))) return;
        mark(Layer::Mpls);
        c.advance(stack.header_len());
        if (c.data.empty()) return;
        switch (guess_mpls_payload(c.data)) {
            case MplsPayload::Ipv4:
                pkt_.ethertype = ethertype::kIpv4;
                return ipv4(c);
            case MplsPayload::Ipv6:
                pkt_.ethertype = ethertype::kIpv6;
                return ipv6(c);
            case MplsPayload::EthernetControlWord:
                if (c.data.size() < field::mpls::kEntryLen) {
                    record(Layer::Mpls, DecodeEvent::Truncated);
                    return;
                }
                c.advance(field::mpls::kEntryLen);
                return inner_ethernet(c);
            case MplsPayload::Ethernet:
                return inner_ethernet(c);
        }
    }

    void pbb(Cursor c) {
        if (!deeper(Layer::Pbb)) return;
        PbbView inner;
        PbbView& v = pkt_.has(Layer::Pbb) ? inner : pkt_.pbb;
        if (!usable(Layer::Pbb, PbbView::parse(c.data, v))) return;
        mark(Layer::Pbb);
        c.advance(field::pbb::kInnerEthernet);
        inner_ethernet(c);
    }

    void vntag(Cursor c) {
        if (!deeper(Layer::VnTag)) return;
        VnTagView inner;
        VnTagView& v = pkt_.has(Layer::VnTag) ? inner : pkt_.vntag;
        if (!usable(Layer::VnTag, VnTagView::parse(c.data, v))) return;
        mark(Layer::VnTag);
        c.advance(VnTagView::kHeaderLen);
        network(c, v.type());
    }

    void fabricpath(Cursor c) {
        if (!deeper(Layer::FabricPath)) return;
        FabricPathView inner;
        FabricPathView& v = pkt_.has(Layer::FabricPath) ? inner : pkt_.fabricpath;
        if (!usable(Layer::FabricPath, FabricPathView::parse(c.data, v))) return;
        mark(Layer::FabricPath);
        c.advance(field::fabricpath::kInnerEthernet);
        inner_ethernet(c);
    }

    // The customer's Ethernet header inside PBB, FabricPath or an MPLS pseudowire.
    // The first one is kept for the reports; the Ethernet layer stays the outer one's.
    void inner_ethernet(Cursor c) {
        if (!deeper(Layer::Ethernet)) return;
        EthernetView inner;
        EthernetView& e = pkt_.has_inner_eth ? inner : pkt_.inner_eth;
        if (!usable(Layer::Ethernet, EthernetView::parse(c.data, e))) return;
        pkt_.has_inner_eth = true;
        const std::uint16_t type = e.type_or_length();
        c.advance(EthernetView::kHeaderLen);
        if (type < ethertype::kMinEthertype) return;
        network(c, type);
    }

    void ipv4(Cursor c) {
        Ipv4View& ip = pkt_.ip4;
        if (!usable(Layer::Ipv4, Ipv4View::parse(c.data, c.wire, ip))) return;
        pkt_.ip_version = 4;
        pkt_.ip_proto = ip.protocol();
        mark(Layer::Ipv4);
        if (opts_.verify_checksums && !ipv4_header_checksum_ok(ip.header())) {
            record(Layer::Ipv4, DecodeEvent::BadChecksum);
        }
        if (pkt_.malformed()) return;  // its payload is not decoded (nor are its fragment fields)
        pkt_.ip_fragment = ip.is_fragment();
        pkt_.ip_later_fragment = ip.fragment_offset() != 0;
        const Bytes payload = ip.payload();
        if (pkt_.ip_later_fragment) {
            pkt_.payload = payload;
            pkt_.payload_wire_len = ip.payload_wire_len;
            return;
        }
        transport(payload, ip.payload_wire_len, ip.protocol());
    }

    void ipv6(Cursor c) {
        Ipv6View& ip = pkt_.ip6;
        if (!usable(Layer::Ipv6, Ipv6View::parse(c.data, c.wire, ip))) return;
        pkt_.ip_version = 6;
        pkt_.ip_proto = ip.next_header();
        mark(Layer::Ipv6);
        Ipv6Chain& chain = pkt_.ip6_chain;
        const Bytes payload = ip.payload();
        if (!usable(Layer::Ipv6Ext,
                    Ipv6Chain::walk(ip.next_header(), payload, ip.payload_wire_len, chain))) {
            return;
        }
        if (chain.count > 0) mark(Layer::Ipv6Ext);
        pkt_.ip_proto = chain.upper_protocol;
        // An atomic fragment (offset 0, no more to come, RFC 6946) is a whole datagram.
        pkt_.ip_fragment =
            chain.has_fragment && (chain.more_fragments || chain.fragment_offset != 0);
        pkt_.ip_later_fragment = chain.has_fragment && chain.fragment_offset != 0;
        Cursor upper{payload.subspan(chain.offset), ip.payload_wire_len - chain.offset};
        if (pkt_.ip_later_fragment || chain.upper_protocol == ipproto::kNoNext) {
            pkt_.payload = upper.data;
            pkt_.payload_wire_len = upper.wire;
            return;
        }
        transport(upper.data, upper.wire, chain.upper_protocol);
    }

    // Whole segment captured and not a fragment: only then is a checksum checkable.
    bool checksum_checkable(const Cursor& c) const {
        return opts_.verify_checksums && !pkt_.ip_fragment && c.data.size() == c.wire;
    }
    bool l4_checksum_ok(std::uint8_t proto, Bytes segment) const {
        return pkt_.ip_version == 4
                   ? l4_checksum_ok_v4(pkt_.ip4.src(), pkt_.ip4.dst(), proto, segment)
                   : l4_checksum_ok_v6(pkt_.ip6.src(), pkt_.ip6.dst(), proto, segment);
    }

    // The cursor's parts passed in registers: a 24-byte Cursor goes through
    // memory, written field by field and read back 16 bytes at a time (a load
    // that waits for the stores: a third of the decoder's time on a flood).
    void transport(Bytes data, std::uint32_t wire, std::uint8_t proto) {
        const Cursor c{data, wire};
        switch (proto) {
            case ipproto::kTcp:
                return tcp(c);
            case ipproto::kUdp:
                return udp(c);
            case ipproto::kIcmp:
                return icmp(c, Layer::Icmp);
            case ipproto::kIcmpv6:
                return icmp(c, Layer::Icmpv6);
            default:
                pkt_.payload = c.data;
                pkt_.payload_wire_len = c.wire;
                if (proto == ipproto::kIpInIp || proto == ipproto::kIpv6InIp) {
                    encapsulated(Encap::Ip, c, 0, TunnelKind::IpIp);
                } else if (proto == ipproto::kGre) {
                    gre(c, TunnelKind::Gre);
                }
                return;
        }
    }

    // The packet inside a tunnel: kept for the caller when it is all here.
    void encapsulated(Encap kind, Cursor c, std::size_t header, TunnelKind name) {
        if (kind == Encap::None || header > c.data.size() || pkt_.ip_fragment) {
            return;  // fragments: not reassembled
        }
        pkt_.encap = kind;
        pkt_.encap_bytes = c.data.subspan(header);
        pkt_.encap_wire_len = c.wire - static_cast<std::uint32_t>(header);
        pkt_.encap_kind = name;
        pkt_.encap_name = tunnel_name(name);
    }
    template <class TunnelView>
    void tunnel(const TunnelView& t, Cursor c, TunnelKind name) {
        encapsulated(t.inner(), c, t.header_len(), name);
    }
    // GRE in IP or in UDP (`over`): the kind of tunnel is the GRE payload's
    // (PPTP, ERSPAN, Aruba) when it has one of its own.
    void gre(Cursor c, TunnelKind over) {
        GreView gre;
        if (!GreView::parse(c.data, gre)) return;
        TunnelKind kind = over;
        std::size_t at = 0;
        const Encap inner = gre.payload(kind, at);
        encapsulated(inner, c, at, kind == TunnelKind::Gre ? over : kind);
    }

    // UDP tunnels on their registered ports, either end.
    void udp_tunnel(const UdpView& u) {
        const Bytes p = u.payload();
        if (p.size() != u.payload_wire_len(static_cast<std::uint32_t>(u.bytes.size())) ||
            pkt_.ip_fragment) {
            return;  // only whole, captured datagrams
        }
        const Cursor c{p, static_cast<std::uint32_t>(p.size())};
        auto on = [&](std::uint16_t port) { return u.dst_port() == port || u.src_port() == port; };
        VxlanView vxlan;
        GeneveView geneve;
        if (on(tunnelport::kVxlan) && VxlanView::parse(p, vxlan)) {
            tunnel(vxlan, c, TunnelKind::Vxlan);
        } else if (on(tunnelport::kGeneve) && GeneveView::parse(p, geneve)) {
            tunnel(geneve, c, TunnelKind::Geneve);
        } else if (on(tunnelport::kTeredo)) {
            TeredoView teredo;
            if (TeredoView::parse(p, teredo)) tunnel(teredo, c, TunnelKind::Teredo);
        } else if (on(tunnelport::kGtpu)) {
            GtpuView gtpu;
            if (GtpuView::parse(p, gtpu)) tunnel(gtpu, c, TunnelKind::Gtpu);
        } else if (on(tunnelport::kGreUdp)) {
            gre(c, TunnelKind::GreUdp);
        } else if (on(tunnelport::kAyiya)) {
            AyiyaView ayiya;
            if (AyiyaView::parse(p, ayiya)) tunnel(ayiya, c, TunnelKind::Ayiya);
        }
    }

    void tcp(Cursor c) {
        TcpView& t = pkt_.tcp;
        if (!usable(Layer::Tcp, TcpView::parse(c.data, c.wire, t))) return;
        mark(Layer::Tcp);
        pkt_.payload = t.payload();
        pkt_.payload_wire_len = t.payload_wire_len;
        if (checksum_checkable(c)) {
            const bool ok = l4_checksum_ok(ipproto::kTcp, c.data);
            pkt_.l4_checksum = ok ? L4Checksum::Good : L4Checksum::Bad;
            if (!ok) record(Layer::Tcp, DecodeEvent::BadChecksum);
        }
    }

    void udp(Cursor c) {
        UdpView& u = pkt_.udp;
        if (!usable(Layer::Udp, UdpView::parse(c.data, c.wire, u, pkt_.ip_fragment))) return;
        mark(Layer::Udp);
        pkt_.payload = u.payload();
        pkt_.payload_wire_len = u.payload_wire_len(c.wire);
        udp_tunnel(u);
        // Over IPv4 a zero checksum means "none"; over IPv6 it is not allowed.
        const bool skip = pkt_.ip_version == 4 && u.checksum() == 0;
        if (!skip && checksum_checkable(c) && u.bytes.size() == u.length()) {
            const bool ok = l4_checksum_ok(ipproto::kUdp, u.bytes);
            pkt_.l4_checksum = ok ? L4Checksum::Good : L4Checksum::Bad;
            if (!ok) record(Layer::Udp, DecodeEvent::BadChecksum);
        }
    }

    void icmp(Cursor c, Layer layer) {
        IcmpView& i = pkt_.icmp;
        if (!usable(layer, IcmpView::parse(c.data, c.wire, i))) return;
        mark(layer);
        pkt_.payload = c.data.subspan(IcmpView::kHeaderLen);
        pkt_.payload_wire_len = c.wire - static_cast<std::uint32_t>(IcmpView::kHeaderLen);
        const bool v6 = layer == Layer::Icmpv6;
        if (IcmpView::is_error(v6, i.type()) && i.has_rest()) {
            IcmpQuoteView::parse(i.quote(), v6, pkt_.icmp_quote);
        } else {
            pkt_.icmp_quote.bytes = {};
        }
        if (!checksum_checkable(c)) return;
        // ICMPv4 has no pseudo header; ICMPv6 does.
        const bool ok = layer == Layer::Icmp ? checksum_fold(checksum_add(c.data)) == 0xffff
                                             : l4_checksum_ok(ipproto::kIcmpv6, c.data);
        if (!ok) record(layer, DecodeEvent::BadChecksum);
    }

    static constexpr std::uint8_t kMaxShimDepth = 8;

    Packet& pkt_;
    const DecodeOptions& opts_;
    std::uint8_t shim_depth_ = 0;
};

}  // namespace

void decode(Bytes frame, Packet& pkt, const DecodeOptions& opts) {
    // Reset the per-frame results; the capture facts were set by the caller.
    pkt.layers = 0;
    pkt.vlan_count = 0;
    pkt.ethertype = 0;
    pkt.ip_version = 0;
    pkt.ip_proto = 0;
    pkt.ip_fragment = false;
    pkt.ip_later_fragment = false;
    pkt.payload = {};
    pkt.payload_wire_len = 0;
    pkt.encap = Packet::Encap::None;
    pkt.encap_bytes = {};
    pkt.encap_wire_len = 0;
    pkt.encap_kind = TunnelKind::None;
    pkt.encap_name = nullptr;
    pkt.events.clear();
    pkt.error_layer = Layer::None;
    pkt.error = DecodeError::None;
    pkt.unsupported_link = false;
    pkt.l4_checksum = L4Checksum::Unchecked;
    pkt.checksum_offload = false;
    pkt.has_inner_eth = false;
    FrameDecoder(pkt, opts).run(frame);
}

}  // namespace wl
