// Tunnel headers: what carries a packet inside a packet (IP-in-IP, GRE and
// PPTP's enhanced GRE with PPP, ERSPAN, Aruba's GRE, GRE over UDP, VXLAN,
// Geneve, Teredo, GTP-U, AYIYA). Each view recognises its header and says
// where the inner packet starts and whether it begins with Ethernet or IP;
// the caller decodes the inner packet as a packet of its own. A header that
// is not recognised is not malformed: the datagram is just not a tunnel.
#pragma once

#include "decode/bytes.hpp"
#include "decode/ethernet.hpp"
#include "decode/ipv6.hpp"
#include "decode/link.hpp"
#include "decode/ppp.hpp"

namespace wl {

// UDP ports on which a tunnel is recognised (either end of the datagram).
namespace tunnelport {
inline constexpr std::uint16_t kVxlan = 4789;   // RFC 7348
inline constexpr std::uint16_t kGeneve = 6081;  // RFC 8926
inline constexpr std::uint16_t kTeredo = 3544;  // RFC 4380
inline constexpr std::uint16_t kGtpu = 2152;    // 3GPP TS 29.281
inline constexpr std::uint16_t kGreUdp = 4754;  // RFC 8086
inline constexpr std::uint16_t kAyiya = 5072;   // AYIYA (SixXS)
}  // namespace tunnelport

// What a tunnel header is followed by: Ethernet, IP (by its version nibble),
// or an 802.11 frame (Aruba's GRE).
enum class Encap : std::uint8_t { None, Ethernet, Ip, Ieee80211 };

// The link type the carried packet is decoded as.
inline constexpr int kIeee80211Linktype = 105;  // DLT_IEEE802_11
inline int linktype_of(Encap e) {
    return e == Encap::Ethernet    ? linktype::kEthernet
           : e == Encap::Ieee80211 ? kIeee80211Linktype
                                   : linktype::kRaw;
}

// Which kind of tunnel carried a packet: counted per kind, named in reports.
#define WL_TUNNEL_KINDS(X) \
    X(None, "none")        \
    X(IpIp, "ipip")        \
    X(Gre, "gre")          \
    X(Pptp, "pptp")        \
    X(Erspan, "erspan")    \
    X(Aruba, "aruba")      \
    X(GreUdp, "gre_udp")   \
    X(Vxlan, "vxlan")      \
    X(Geneve, "geneve")    \
    X(Teredo, "teredo")    \
    X(Gtpu, "gtpu")        \
    X(Ayiya, "ayiya")
enum class TunnelKind : std::uint8_t {
#define WL_X(e, n) e,
    WL_TUNNEL_KINDS(WL_X)
#undef WL_X
        Count
};
inline const char* tunnel_name(TunnelKind k) {
    static constexpr const char* kNames[] = {
#define WL_X(e, n) n,
        WL_TUNNEL_KINDS(WL_X)
#undef WL_X
    };
    return kNames[static_cast<std::size_t>(k)];
}

// The inner packet of a tunnel whose header says which protocol follows.
inline Encap encap_of_ethertype(std::uint16_t type) {
    if (type == ethertype::kIpv4 || type == ethertype::kIpv6) return Encap::Ip;
    if (type == ethertype::kTransparentBridging) return Encap::Ethernet;
    return Encap::None;
}

// GRE (RFC 2784, keys and sequence numbers RFC 2890), version 0, and PPTP's
// enhanced GRE (RFC 2637, 4.1), version 1: a key made of the payload length
// and the call id, optional sequence and acknowledgment numbers, PPP inside.
namespace field::gre {
inline constexpr std::size_t kFlags = 0;     // 2 bytes: C, R, K, S ..., A (v1), version (3 bits)
inline constexpr std::size_t kProtocol = 2;  // 2 bytes: an ethertype
inline constexpr std::size_t kOptional =
    4;  // checksum, key, sequence, ack: 4 bytes each, if flagged
inline constexpr std::uint16_t kChecksumPresent = 0x8000;
inline constexpr std::uint16_t kRoutingPresent = 0x4000;
inline constexpr std::uint16_t kKeyPresent = 0x2000;
inline constexpr std::uint16_t kSequencePresent = 0x1000;
inline constexpr std::uint16_t kAckPresent = 0x0080;  // version 1 only
inline constexpr std::uint16_t kReserved = 0x0078;    // must be zero (as Zeek checks)
inline constexpr std::uint16_t kVersion = 0x0007;
inline constexpr std::uint16_t kPptpProtocol = 0x880b;
// Version 1's key: payload length (2 bytes), then call id (2 bytes).
inline constexpr std::size_t kKeyPayloadLen = 0;
inline constexpr std::size_t kKeyCallId = 2;
}  // namespace field::gre

// Ethertypes GRE carries besides IP and Ethernet.
namespace greproto {
inline constexpr std::uint16_t kErspan2 = 0x88be;  // ERSPAN type I (no sequence) and II
inline constexpr std::uint16_t kErspan3 = 0x22eb;  // ERSPAN type III
// Aruba's access points: 802.11 frames. As Zeek's GRE analyzer reads them:
// protocols with the bits 0x8200 set and the low 4 clear (0x8200-0x8370 in
// steps of 16 among them), and 0x9000.
inline bool is_aruba(std::uint16_t p) {
    return ((p & 0x8200u) == 0x8200u && (p & 0x0fu) == 0) || p == 0x9000u;
}
}  // namespace greproto

// ERSPAN (draft-foschiano-erspan) in front of a mirrored Ethernet frame: type
// I has no header, type II 8 bytes, type III 12 (and an 8-byte platform
// subheader when its O flag is set).
namespace field::erspan {
inline constexpr std::size_t kVersionVlan = 0;  // version (4 bits), VLAN (12 bits)
inline constexpr std::size_t kSession = 2;      // COS, EN/BSO, T (6 bits), session id (10 bits)
inline constexpr std::size_t kType2Len = 8;
inline constexpr std::size_t kType3Len = 12;
inline constexpr std::size_t kType3Flags = 11;  // ..., O (the last bit)
inline constexpr std::uint8_t kType3Optional = 0x01;
inline constexpr std::size_t kPlatformLen = 8;
}  // namespace field::erspan

struct ErspanView {
    static constexpr const char* kName = "erspan";
    Bytes bytes;
    std::size_t len;  // 0 for type I

    // `sequenced`: GRE's S flag (type II; type I has none). False when cut short.
    static bool parse(Bytes p, std::uint16_t gre_protocol, bool sequenced, ErspanView& out) {
        using namespace field::erspan;
        std::size_t len = 0;
        if (gre_protocol == greproto::kErspan3) {
            if (p.size() < kType3Len) return false;
            len = kType3Len + ((p[kType3Flags] & kType3Optional) ? kPlatformLen : 0);
        } else if (sequenced) {
            len = kType2Len;
        }
        if (p.size() < len + EthernetView::kHeaderLen) return false;
        out.bytes = p;
        out.len = len;
        return true;
    }
    // Type II and III only (len != 0).
    std::uint8_t version() const { return *view_at(bytes, field::erspan::kVersionVlan) >> 4; }
    std::uint16_t session_id() const {
        return load_be16(view_at(bytes, field::erspan::kSession)) & 0x03ffu;
    }
    std::size_t header_len() const { return len; }
    Encap inner() const { return Encap::Ethernet; }
};

struct GreView {
    static constexpr const char* kName = "gre";
    Bytes bytes;

    // Version 0, and version 1 carrying PPP, without source routing (RFC 1701's
    // routing is not followed) or reserved flags.
    static bool parse(Bytes buf, GreView& out) {
        using namespace field::gre;
        if (buf.size() < kOptional) return false;
        const std::uint16_t flags = load_be16(buf.data() + kFlags);
        const std::uint16_t version = flags & kVersion;
        if (version > 1 || (flags & (kRoutingPresent | kReserved)) != 0) return false;
        if (version == 0 && (flags & kAckPresent) != 0) return false;
        if (version == 1 &&
            (load_be16(buf.data() + kProtocol) != kPptpProtocol || (flags & kKeyPresent) == 0)) {
            return false;
        }
        out.bytes = buf;
        return true;
    }
    std::uint16_t flags() const { return load_be16(view_at(bytes, field::gre::kFlags)); }
    std::uint8_t version() const { return flags() & field::gre::kVersion; }
    std::uint16_t protocol() const { return load_be16(view_at(bytes, field::gre::kProtocol)); }
    std::size_t header_len() const {  // may exceed the captured bytes
        const std::uint16_t f = flags();
        return field::gre::kOptional + ((f & field::gre::kChecksumPresent) ? 4 : 0) +
               ((f & field::gre::kKeyPresent) ? 4 : 0) +
               ((f & field::gre::kSequencePresent) ? 4 : 0) +
               ((f & field::gre::kAckPresent) ? 4 : 0);
    }
    // Where the optional word after the checksum starts: the key.
    std::size_t key_at() const {
        return field::gre::kOptional + ((flags() & field::gre::kChecksumPresent) ? 4 : 0);
    }
    bool has_sequence() const { return (flags() & field::gre::kSequencePresent) != 0; }
    bool has_ack() const { return (flags() & field::gre::kAckPresent) != 0; }
    // Version 1's key, sequence and acknowledgment: valid when header_len() is captured.
    std::uint16_t pptp_payload_len() const {
        return load_be16(view_at(bytes, key_at() + field::gre::kKeyPayloadLen));
    }
    std::uint16_t pptp_call_id() const {
        return load_be16(view_at(bytes, key_at() + field::gre::kKeyCallId));
    }
    std::uint32_t sequence() const { return load_be32(view_at(bytes, key_at() + 4)); }
    std::uint32_t ack() const {
        return load_be32(view_at(bytes, key_at() + 4 + (has_sequence() ? 4 : 0)));
    }

    // What the protocol field names, when no other header follows GRE's.
    Encap inner() const { return encap_of_ethertype(protocol()); }
    // What follows the header (and the PPP, ERSPAN header in front of the
    // packet): kind, where the packet starts, as what; Encap::None when there
    // is none (an acknowledgment alone, PPP control, a protocol not followed,
    // headers cut short).
    Encap payload(TunnelKind& kind, std::size_t& at) const {
        const std::size_t hl = header_len();
        if (hl > bytes.size()) return Encap::None;
        const Bytes rest = bytes.subspan(hl);
        const std::uint16_t proto = protocol();
        kind = TunnelKind::Gre;
        at = hl;
        if (version() == 1) {
            kind = TunnelKind::Pptp;
            // PPP (RFC 1661), address and control optional: only IPv4 and IPv6 go on.
            PppView ppp;
            if (pptp_payload_len() == 0 || PppView::parse(rest, true, ppp) != DecodeError::None) {
                return Encap::None;
            }
            at += ppp.header_len;
            return ppp.protocol() == pppproto::kIpv4 || ppp.protocol() == pppproto::kIpv6
                       ? Encap::Ip
                       : Encap::None;
        }
        if (proto == greproto::kErspan2 || proto == greproto::kErspan3) {
            kind = TunnelKind::Erspan;
            ErspanView e;
            if (!ErspanView::parse(rest, proto, has_sequence(), e)) return Encap::None;
            at += e.header_len();
            return e.inner();
        }
        if (greproto::is_aruba(proto)) {
            kind = TunnelKind::Aruba;
            return rest.empty() ? Encap::None : Encap::Ieee80211;
        }
        return encap_of_ethertype(proto);
    }
};

// VXLAN (RFC 7348): flags with the I (valid VNI) bit, VNI, Ethernet inside.
namespace field::vxlan {
inline constexpr std::size_t kFlags = 0;
inline constexpr std::size_t kVni = 4;  // 3 bytes
inline constexpr std::size_t kPayload = 8;
inline constexpr std::uint8_t kVniValid = 0x08;
}  // namespace field::vxlan

struct VxlanView {
    static constexpr const char* kName = "vxlan";
    Bytes bytes;

    static bool parse(Bytes buf, VxlanView& out) {
        if (buf.size() < field::vxlan::kPayload) return false;
        if ((buf[field::vxlan::kFlags] & field::vxlan::kVniValid) == 0) return false;
        out.bytes = buf;
        return true;
    }
    std::uint32_t vni() const { return load_be32(view_at(bytes, field::vxlan::kVni)) >> 8; }
    std::size_t header_len() const { return field::vxlan::kPayload; }
    Encap inner() const { return Encap::Ethernet; }
};

// Geneve (RFC 8926), version 0: options of a length given in 4-byte units.
namespace field::geneve {
inline constexpr std::size_t kVersionOptLen = 0;  // version (2 bits), options length (6 bits)
inline constexpr std::size_t kFlags = 1;
inline constexpr std::size_t kProtocol = 2;  // 2 bytes: an ethertype
inline constexpr std::size_t kVni = 4;       // 3 bytes
inline constexpr std::size_t kOptions = 8;
}  // namespace field::geneve

struct GeneveView {
    static constexpr const char* kName = "geneve";
    Bytes bytes;

    static bool parse(Bytes buf, GeneveView& out) {
        if (buf.size() < field::geneve::kOptions) return false;
        if ((buf[field::geneve::kVersionOptLen] >> 6) != 0) return false;
        out.bytes = buf;
        return true;
    }
    std::uint16_t protocol() const { return load_be16(view_at(bytes, field::geneve::kProtocol)); }
    std::size_t header_len() const {  // may exceed the captured bytes
        return field::geneve::kOptions +
               (*view_at(bytes, field::geneve::kVersionOptLen) & 0x3fu) * 4u;
    }
    Encap inner() const { return encap_of_ethertype(protocol()); }
};

// Teredo (RFC 4380, 5.1.1): an optional authentication indicator and origin
// indication in front of an IPv6 packet.
namespace field::teredo {
inline constexpr std::uint8_t kAuthType[2] = {0x00, 0x01};
inline constexpr std::size_t kAuthIdLen = 2;
inline constexpr std::size_t kAuthValueLen = 3;
inline constexpr std::size_t kAuthFixed = 4 + 8 + 1;  // type, two lengths; nonce; confirmation
inline constexpr std::uint8_t kOriginType[2] = {0x00, 0x00};
inline constexpr std::size_t kOriginLen = 8;  // type, port, address
}  // namespace field::teredo

struct TeredoView {
    static constexpr const char* kName = "teredo";
    Bytes bytes;
    std::size_t ipv6_at;  // where the IPv6 packet starts

    // Only what is an IPv6 packet of exactly the remaining length.
    static bool parse(Bytes p, TeredoView& out) {
        using namespace field::teredo;
        std::size_t at = 0;
        if (p.size() >= 4 && p[0] == kAuthType[0] && p[1] == kAuthType[1]) {
            at = kAuthFixed + p[kAuthIdLen] + p[kAuthValueLen];
        }
        if (p.size() >= at + kOriginLen && p[at] == kOriginType[0] && p[at + 1] == kOriginType[1]) {
            at += kOriginLen;
        }
        if (p.size() < at + Ipv6View::kHeaderLen || field::ipv6::version(p.data() + at) != 6) {
            return false;
        }
        const std::size_t plen = load_be16(p.data() + at + field::ipv6::kPayloadLen);
        if (Ipv6View::kHeaderLen + plen != p.size() - at) return false;
        out.bytes = p;
        out.ipv6_at = at;
        return true;
    }
    std::size_t header_len() const { return ipv6_at; }
    Encap inner() const { return Encap::Ip; }
};

// GTP-U (3GPP TS 29.281, 5.1): a G-PDU, version 1, carries an IP packet
// after the optional fields and any extension headers.
namespace field::gtpu {
inline constexpr std::size_t kFlags = 0;  // version (3 bits), PT, reserved, E, S, PN
inline constexpr std::size_t kMessageType = 1;
inline constexpr std::size_t kLength = 2;    // 2 bytes
inline constexpr std::size_t kTeid = 4;      // 4 bytes
inline constexpr std::size_t kOptional = 8;  // sequence (2), N-PDU (1), next extension type (1)
inline constexpr std::size_t kNextExtType = 11;
inline constexpr std::size_t kOptionalEnd = 12;
inline constexpr std::uint8_t kProtocolType = 0x10;  // GTP, not GTP'
inline constexpr std::uint8_t kExtFlag = 0x04;
inline constexpr std::uint8_t kOptionalFlags = 0x07;  // E, S or PN: the optional fields are there
inline constexpr std::uint8_t kGpdu = 0xff;
inline constexpr int kMaxExtHeaders = 16;
}  // namespace field::gtpu

struct GtpuView {
    static constexpr const char* kName = "gtpu";
    Bytes bytes;
    std::size_t ip_at;  // where the IP packet starts

    static bool parse(Bytes p, GtpuView& out) {
        using namespace field::gtpu;
        if (p.size() < kOptional || (p[kFlags] >> 5) != 1 || (p[kFlags] & kProtocolType) == 0 ||
            p[kMessageType] != kGpdu) {
            return false;
        }
        std::size_t at = kOptional;
        if (p[kFlags] & kOptionalFlags) {
            if (p.size() < kOptionalEnd) return false;
            at = kOptionalEnd;
            if ((p[kFlags] & kExtFlag) && !skip_extensions(p, p[kNextExtType], at)) return false;
        }
        if (at >= p.size() || ((p[at] >> 4) != 4 && (p[at] >> 4) != 6)) return false;
        out.bytes = p;
        out.ip_at = at;
        return true;
    }
    std::uint32_t teid() const { return load_be32(view_at(bytes, field::gtpu::kTeid)); }
    std::size_t header_len() const { return ip_at; }
    Encap inner() const { return Encap::Ip; }

  private:
    // Extension headers: a length in 4-byte units first, the next type last.
    static bool skip_extensions(Bytes p, std::uint8_t next, std::size_t& at) {
        int guard = 0;
        while (next != 0) {
            if (at >= p.size() || p[at] == 0 || ++guard > field::gtpu::kMaxExtHeaders) return false;
            const std::size_t len = p[at] * 4u;
            if (at + len > p.size()) return false;
            next = p[at + len - 1];
            at += len;
        }
        return true;
    }
};

// AYIYA ("Anything In Anything", SixXS): identity and signature of lengths
// given in the first two bytes, then the packet named by the next-header
// field. Only the "forward" operation carries one (as Zeek reads it).
namespace field::ayiya {
inline constexpr std::size_t kIdLenType = 0;   // identity length (2^n bytes), identity type
inline constexpr std::size_t kSigLenHash = 1;  // signature length (4n bytes), hash method
inline constexpr std::size_t kAuthOpcode = 2;  // authentication method, operation (4 bits)
inline constexpr std::size_t kNextHeader = 3;  // an IP protocol number
inline constexpr std::size_t kEpoch = 4;       // 4 bytes
inline constexpr std::size_t kIdentity = 8;
inline constexpr std::uint8_t kForward = 1;
}  // namespace field::ayiya

struct AyiyaView {
    static constexpr const char* kName = "ayiya";
    Bytes bytes;

    static bool parse(Bytes p, AyiyaView& out) {
        using namespace field::ayiya;
        if (p.size() < kIdentity) return false;
        out.bytes = p;
        return out.header_len() <= p.size();
    }
    std::uint8_t opcode() const { return *view_at(bytes, field::ayiya::kAuthOpcode) & 0x0fu; }
    std::uint8_t next_header() const { return *view_at(bytes, field::ayiya::kNextHeader); }
    std::size_t header_len() const {
        return field::ayiya::kIdentity +
               (std::size_t{1} << (bytes[field::ayiya::kIdLenType] >> 4)) +
               (bytes[field::ayiya::kSigLenHash] >> 4) * 4u;
    }
    // A forwarded IPv4 or IPv6 packet whose version agrees with the next header.
    Encap inner() const {
        const std::size_t hl = header_len();
        if (opcode() != field::ayiya::kForward || hl >= bytes.size()) return Encap::None;
        const unsigned version = bytes[hl] >> 4;
        if ((next_header() == ipproto::kIpInIp && version == 4) ||
            (next_header() == ipproto::kIpv6InIp && version == 6)) {
            return Encap::Ip;
        }
        return Encap::None;
    }
};

}  // namespace wl
