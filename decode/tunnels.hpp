// Tunnel headers: what carries a packet inside a packet (IP-in-IP, GRE,
// VXLAN, Geneve, Teredo, GTP-U). Each view recognises its header and says
// where the inner packet starts and whether it begins with Ethernet or IP;
// the caller decodes the inner packet as a packet of its own. A header that
// is not recognised is not malformed: the datagram is just not a tunnel.
#pragma once

#include "decode/bytes.hpp"
#include "decode/ethernet.hpp"
#include "decode/ipv6.hpp"

namespace wl {

// UDP ports on which a tunnel is recognised (either end of the datagram).
namespace tunnelport {
inline constexpr std::uint16_t kVxlan = 4789;   // RFC 7348
inline constexpr std::uint16_t kGeneve = 6081;  // RFC 8926
inline constexpr std::uint16_t kTeredo = 3544;  // RFC 4380
inline constexpr std::uint16_t kGtpu = 2152;    // 3GPP TS 29.281
}  // namespace tunnelport

// What a tunnel header is followed by.
enum class Encap : std::uint8_t { None, Ethernet, Ip };

// The inner packet of a tunnel whose header says which protocol follows.
inline Encap encap_of_ethertype(std::uint16_t type) {
    if (type == ethertype::kIpv4 || type == ethertype::kIpv6) return Encap::Ip;
    if (type == ethertype::kTransparentBridging) return Encap::Ethernet;
    return Encap::None;
}

// GRE (RFC 2784, keys and sequence numbers RFC 2890), version 0.
namespace field::gre {
inline constexpr std::size_t kFlags = 0;     // 2 bytes: C, R, K, S ..., version (3 bits)
inline constexpr std::size_t kProtocol = 2;  // 2 bytes: an ethertype
inline constexpr std::size_t kOptional = 4;  // checksum, key, sequence: 4 bytes each, if flagged
inline constexpr std::uint16_t kChecksumPresent = 0x8000;
inline constexpr std::uint16_t kRoutingPresent = 0x4000;
inline constexpr std::uint16_t kKeyPresent = 0x2000;
inline constexpr std::uint16_t kSequencePresent = 0x1000;
inline constexpr std::uint16_t kVersion = 0x0007;
}  // namespace field::gre

struct GreView {
    static constexpr const char* kName = "gre";
    Bytes bytes;

    // Version 0 without source routing (RFC 1701's routing is not followed).
    static bool parse(Bytes buf, GreView& out) {
        if (buf.size() < field::gre::kOptional) return false;
        const std::uint16_t flags = load_be16(buf.data() + field::gre::kFlags);
        if ((flags & field::gre::kVersion) != 0 || (flags & field::gre::kRoutingPresent) != 0) {
            return false;
        }
        out.bytes = buf;
        return true;
    }
    std::uint16_t flags() const { return load_be16(view_at(bytes, field::gre::kFlags)); }
    std::uint16_t protocol() const { return load_be16(view_at(bytes, field::gre::kProtocol)); }
    std::size_t header_len() const {  // may exceed the captured bytes
        const std::uint16_t f = flags();
        return field::gre::kOptional + ((f & field::gre::kChecksumPresent) ? 4 : 0) +
               ((f & field::gre::kKeyPresent) ? 4 : 0) +
               ((f & field::gre::kSequencePresent) ? 4 : 0);
    }
    Encap inner() const { return encap_of_ethertype(protocol()); }
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

}  // namespace wl
