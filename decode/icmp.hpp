// ICMP (RFC 792) and ICMPv6 (RFC 4443) headers, and the packet an ICMP error
// quotes: the IP header of the datagram that caused it and the first bytes of
// that datagram's transport header (RFC 792 asks for 8; RFC 1812 and 4443 let
// a router quote as much as fits). The quote is often cut short: one that
// does not decode is left out, never an error of the ICMP packet itself.
#pragma once

#include "decode/bytes.hpp"
#include "decode/events.hpp"
#include "decode/ipv4.hpp"
#include "decode/ipv6.hpp"

namespace wl {

// ICMP and ICMPv6: type, code and checksum, then a word whose meaning depends
// on the type (echo: identifier and sequence), then the message body.
namespace field::icmp {
inline constexpr std::size_t kType = 0;
inline constexpr std::size_t kCode = 1;
inline constexpr std::size_t kChecksum = 2;  // 2 bytes
inline constexpr std::size_t kEchoId = 4;    // 2 bytes
inline constexpr std::size_t kEchoSeq = 6;   // 2 bytes
inline constexpr std::size_t kEchoEnd = 8;
inline constexpr std::size_t kPointer = 4;     // ICMP parameter problem: 1 byte
inline constexpr std::size_t kGateway = 4;     // ICMP redirect: 4 bytes
inline constexpr std::size_t kNextHopMtu = 6;  // ICMP fragmentation needed (RFC 1191): 2 bytes
inline constexpr std::size_t kMtu6 = 4;        // ICMPv6 packet too big: 4 bytes
inline constexpr std::size_t kPointer6 = 4;    // ICMPv6 parameter problem: 4 bytes
inline constexpr std::size_t kQuote = 8;       // errors: the quoted datagram
}  // namespace field::icmp

// The message types whose body is a quoted datagram.
namespace icmptype {
inline constexpr std::uint8_t kEchoReply = 0;
inline constexpr std::uint8_t kUnreachable = 3;
inline constexpr std::uint8_t kSourceQuench = 4;
inline constexpr std::uint8_t kRedirect = 5;
inline constexpr std::uint8_t kEcho = 8;
inline constexpr std::uint8_t kTimeExceeded = 11;
inline constexpr std::uint8_t kParamProblem = 12;
inline constexpr std::uint8_t kUnreachableCodeNeedFrag = 4;
// ICMPv6: every type below 128 is an error (RFC 4443, 2.1).
inline constexpr std::uint8_t kUnreachable6 = 1;
inline constexpr std::uint8_t kPacketTooBig6 = 2;
inline constexpr std::uint8_t kTimeExceeded6 = 3;
inline constexpr std::uint8_t kParamProblem6 = 4;
inline constexpr std::uint8_t kRedirect6 = 137;  // quotes inside an option: not decoded
}  // namespace icmptype

// ICMP (RFC 792) and ICMPv6 (RFC 4443) share the first four bytes.
struct IcmpView {
    static constexpr std::size_t kHeaderLen = field::icmp::kEchoId;
    Bytes bytes;

    static DecodeError parse(Bytes captured, std::uint32_t wire_len, IcmpView& out) {
        if (wire_len < kHeaderLen) return DecodeError::BadLength;
        if (captured.size() < kHeaderLen) return DecodeError::Truncated;
        out.bytes = captured;
        return DecodeError::None;
    }
    // Whether a message of `type` quotes the datagram that caused it.
    static bool is_error(bool v6, std::uint8_t type) {
        if (v6) return type < 128;
        return type == icmptype::kUnreachable || type == icmptype::kSourceQuench ||
               type == icmptype::kRedirect || type == icmptype::kTimeExceeded ||
               type == icmptype::kParamProblem;
    }
    std::uint8_t type() const { return *view_at(bytes, field::icmp::kType); }
    std::uint8_t code() const { return *view_at(bytes, field::icmp::kCode); }
    std::uint16_t checksum() const { return load_be16(view_at(bytes, field::icmp::kChecksum)); }
    bool has_echo_fields() const { return bytes.size() >= field::icmp::kEchoEnd; }
    std::uint16_t echo_id() const { return load_be16(view_at(bytes, field::icmp::kEchoId)); }
    std::uint16_t echo_seq() const { return load_be16(view_at(bytes, field::icmp::kEchoSeq)); }
    // The word after the checksum (pointer, gateway, MTU) and the quote after
    // it: present when the captured message reaches kQuote.
    bool has_rest() const { return bytes.size() >= field::icmp::kQuote; }
    std::uint8_t pointer() const { return *view_at(bytes, field::icmp::kPointer); }
    const std::uint8_t* gateway() const { return view_at(bytes, field::icmp::kGateway); }
    std::uint16_t next_hop_mtu() const {
        return load_be16(view_at(bytes, field::icmp::kNextHopMtu));
    }
    std::uint32_t mtu6() const { return load_be32(view_at(bytes, field::icmp::kMtu6)); }
    std::uint32_t pointer6() const { return load_be32(view_at(bytes, field::icmp::kPointer6)); }
    Bytes quote() const { return bytes.subspan(field::icmp::kQuote); }
};

// The datagram an ICMP error quotes: its IP header (IPv4 with options; IPv6
// with its extension headers walked as far as they were quoted) and the first
// four bytes of its transport header when quoted (TCP and UDP ports, ICMP
// type and code). `bytes` empty: no quote decoded.
struct IcmpQuoteView {
    Bytes bytes;                      // from the quoted IP header to the end of the capture
    std::uint8_t version = 0;         // 4 or 6
    std::uint8_t proto = 0;           // the quoted datagram's upper-layer protocol
    bool has_transport = false;       // the first 4 bytes of its transport header are here
    std::uint16_t ip_header_len = 0;  // to the transport header
    std::uint16_t total_len = 0;      // the quoted datagram's own length field (IPv6: + 40)

    // False (and `out` emptied) when the quote is not an IP header of the
    // version `v6` says, or is cut inside the fixed header.
    static bool parse(Bytes quote, bool v6, IcmpQuoteView& out) {
        out.bytes = {};
        out.has_transport = false;
        if (quote.empty()) return false;
        const std::uint8_t* p = quote.data();
        std::size_t hl;
        std::uint8_t proto;
        bool later_fragment;
        if (!v6) {
            if (field::ipv4::version(p) != 4 || quote.size() < Ipv4View::kMinHeaderLen)
                return false;
            hl = field::ipv4::header_len(p);
            if (hl < Ipv4View::kMinHeaderLen) return false;
            proto = p[field::ipv4::kProtocol];
            later_fragment = (load_be16(p + field::ipv4::kFragment) & 0x1fff) != 0;
            out.total_len = load_be16(p + field::ipv4::kTotalLen);
        } else {
            if (field::ipv6::version(p) != 6 || quote.size() < Ipv6View::kHeaderLen) return false;
            hl = Ipv6View::kHeaderLen;
            proto = p[field::ipv6::kNextHeader];
            later_fragment = false;
            out.total_len = static_cast<std::uint16_t>(load_be16(p + field::ipv6::kPayloadLen) +
                                                       Ipv6View::kHeaderLen);
            // Extension headers, as far as the quote holds them.
            for (int n = 0; n < 8; ++n) {
                if (proto != ipproto::kHopByHop && proto != ipproto::kRouting &&
                    proto != ipproto::kDestOpts && proto != ipproto::kFragment) {
                    break;
                }
                if (hl + 8 > quote.size()) break;
                const std::uint8_t* e = p + hl;
                std::size_t len;
                if (proto == ipproto::kFragment) {
                    later_fragment = (load_be16(e + field::ipv6_ext::kFragmentOffset) >> 3) != 0;
                    len = field::ipv6_ext::kFragmentLen;
                } else {
                    len = (std::size_t{e[field::ipv6_ext::kLength]} + 1) * 8;
                }
                proto = e[field::ipv6_ext::kNextHeader];
                hl += len;
            }
        }
        out.bytes = quote;
        out.version = v6 ? 6 : 4;
        out.proto = proto;
        out.ip_header_len = static_cast<std::uint16_t>(hl);
        out.has_transport = !later_fragment && hl + 4 <= quote.size() &&
                            (proto == ipproto::kTcp || proto == ipproto::kUdp ||
                             proto == ipproto::kIcmp || proto == ipproto::kIcmpv6);
        return true;
    }

    const std::uint8_t* src() const {
        return view_at(bytes, version == 4 ? field::ipv4::kSrc : field::ipv6::kSrc);
    }
    const std::uint8_t* dst() const {
        return view_at(bytes, version == 4 ? field::ipv4::kDst : field::ipv6::kDst);
    }
    // TCP and UDP (has_transport): the ports.
    std::uint16_t src_port() const { return load_be16(view_at(bytes, ip_header_len)); }
    std::uint16_t dst_port() const { return load_be16(view_at(bytes, ip_header_len + 2u)); }
    // ICMP and ICMPv6 (has_transport): the quoted message's type and code.
    std::uint8_t icmp_type() const { return *view_at(bytes, ip_header_len); }
    std::uint8_t icmp_code() const { return *view_at(bytes, ip_header_len + 1u); }
};

}  // namespace wl
