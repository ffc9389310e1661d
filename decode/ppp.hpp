// Serial and dial-up link layers: PPP (RFC 1661, in HDLC-like framing RFC 1662),
// PPPoE (RFC 2516), Cisco HDLC, frame relay (Q.922 with RFC 2427's NLPID/SNAP or
// Cisco's ethertype encapsulation) and BSD SLIP's 16-byte pseudo header.
#pragma once

#include "decode/bytes.hpp"
#include "decode/ethernet.hpp"
#include "decode/events.hpp"

namespace wl {

namespace ethertype {
inline constexpr std::uint16_t kPppoeDiscovery = 0x8863;
inline constexpr std::uint16_t kPppoeSession = 0x8864;
}  // namespace ethertype

// PPP protocol numbers (the ones followed or named).
namespace pppproto {
inline constexpr std::uint16_t kIpv4 = 0x0021;
inline constexpr std::uint16_t kIpv6 = 0x0057;
inline constexpr std::uint16_t kMplsUnicast = 0x0281;
inline constexpr std::uint16_t kMplsMulticast = 0x0283;
inline constexpr std::uint16_t kIpcp = 0x8021;
inline constexpr std::uint16_t kIpv6cp = 0x8057;
inline constexpr std::uint16_t kLcp = 0xc021;
inline constexpr std::uint16_t kPap = 0xc023;
inline constexpr std::uint16_t kChap = 0xc223;
}  // namespace pppproto

// PPP: optional address/control (FF 03), then a protocol field of 2 bytes, or
// 1 when compressed (PFC: a protocol number's first byte is even, its last odd).
namespace field::ppp {
inline constexpr std::size_t kAddress = 0;  // 0xff, when present
inline constexpr std::size_t kControl = 1;  // 0x03, when present
inline constexpr std::size_t kAddressControlLen = 2;
inline constexpr std::uint8_t kAllStations = 0xff;
inline constexpr std::uint8_t kUi = 0x03;
}  // namespace field::ppp

struct PppView {
    Bytes bytes;
    std::uint8_t header_len;  // 1 to 4: address/control and the protocol field
    std::uint16_t proto;

    // `framed`: the link may carry HDLC address and control (DLT_PPP, PPP_SERIAL);
    // PPPoE's PPP never does.
    static DecodeError parse(Bytes buf, bool framed, PppView& out) {
        std::size_t at = 0;
        // As tshark: an all-stations address means address and control are there
        // (a protocol field never starts with 0xff: its first byte is even).
        if (framed && !buf.empty() && buf[field::ppp::kAddress] == field::ppp::kAllStations) {
            at = field::ppp::kAddressControlLen;
        }
        if (buf.size() <= at) return DecodeError::Truncated;
        if ((buf[at] & 0x01) != 0) {
            out.proto = buf[at];
            out.header_len = static_cast<std::uint8_t>(at + 1);
        } else {
            if (buf.size() < at + 2) return DecodeError::Truncated;
            out.proto = load_be16(buf.data() + at);
            out.header_len = static_cast<std::uint8_t>(at + 2);
        }
        out.bytes = buf;
        return DecodeError::None;
    }
    bool has_address_control() const {
        return header_len >= 3 && *view_at(bytes, field::ppp::kAddress) == field::ppp::kAllStations;
    }
    std::uint16_t protocol() const { return proto; }
    Bytes payload() const { return bytes.subspan(header_len); }
};

// The ethertype that stands for a PPP protocol we follow; 0 for the others.
inline std::uint16_t ethertype_of_ppp(std::uint16_t proto) {
    switch (proto) {
        case pppproto::kIpv4:
            return ethertype::kIpv4;
        case pppproto::kIpv6:
            return ethertype::kIpv6;
        case pppproto::kMplsUnicast:
            return 0x8847;
        case pppproto::kMplsMulticast:
            return 0x8848;
        default:
            return 0;
    }
}

// PPPoE (RFC 2516): the same 6-byte header for discovery (0x8863) and session
// (0x8864) stages; a session's payload is PPP without address and control.
namespace field::pppoe {
inline constexpr std::size_t kVersionType = 0;  // 4 bits each: 1, 1
inline constexpr std::size_t kCode = 1;         // 0 in a session; PADI 0x09, PADO 0x07 ...
inline constexpr std::size_t kSession = 2;      // 2 bytes
inline constexpr std::size_t kLength = 4;       // 2 bytes: the payload's
inline constexpr std::size_t kPayload = 6;
}  // namespace field::pppoe

struct PppoeView {
    static constexpr std::size_t kHeaderLen = field::pppoe::kPayload;
    Bytes bytes;

    // `wire`: the bytes on the wire from the header on. A payload length past
    // them is bad_length (Ethernet padding may make the frame longer: allowed).
    static DecodeError parse(Bytes buf, std::uint32_t wire, PppoeView& out) {
        if (buf.size() < kHeaderLen) return DecodeError::Truncated;
        if (load_be16(buf.data() + field::pppoe::kLength) > wire - kHeaderLen) {
            return DecodeError::BadLength;
        }
        out.bytes = buf;
        return DecodeError::None;
    }
    std::uint8_t version() const { return *view_at(bytes, field::pppoe::kVersionType) >> 4; }
    std::uint8_t type() const { return *view_at(bytes, field::pppoe::kVersionType) & 0x0f; }
    std::uint8_t code() const { return *view_at(bytes, field::pppoe::kCode); }
    std::uint16_t session() const { return load_be16(view_at(bytes, field::pppoe::kSession)); }
    std::uint16_t length() const { return load_be16(view_at(bytes, field::pppoe::kLength)); }
    Bytes payload() const { return bytes.subspan(kHeaderLen); }
};

// Cisco HDLC: address (0x0f unicast, 0x8f broadcast), control 0, an ethertype.
namespace field::chdlc {
inline constexpr std::size_t kAddress = 0;
inline constexpr std::size_t kControl = 1;
inline constexpr std::size_t kProtocol = 2;  // 2 bytes
inline constexpr std::size_t kPayload = 4;
inline constexpr std::uint8_t kUnicast = 0x0f;
inline constexpr std::uint8_t kBroadcast = 0x8f;
}  // namespace field::chdlc

struct ChdlcView {
    static constexpr std::size_t kHeaderLen = field::chdlc::kPayload;
    Bytes bytes;

    static DecodeError parse(Bytes buf, ChdlcView& out) {
        if (buf.size() < kHeaderLen) return DecodeError::Truncated;
        out.bytes = buf;
        return DecodeError::None;
    }
    // What tcpdump and tshark take for Cisco HDLC on a PPP link.
    static bool looks_like(Bytes buf) {
        return !buf.empty() &&
               (buf[0] == field::chdlc::kUnicast || buf[0] == field::chdlc::kBroadcast);
    }
    std::uint8_t address() const { return *view_at(bytes, field::chdlc::kAddress); }
    std::uint16_t protocol() const { return load_be16(view_at(bytes, field::chdlc::kProtocol)); }
    Bytes payload() const { return bytes.subspan(kHeaderLen); }
};

// Frame relay (DLT_FRELAY): a Q.922 address of 2 to 4 bytes (the EA bit, bit 0,
// ends it), then either RFC 2427's UI control 0x03, an optional 0x00 pad and an
// NLPID (0x80: SNAP, 3-byte OUI and 2-byte PID, follows), or Cisco's
// encapsulation: an ethertype right after the address.
namespace field::frelay {
inline constexpr std::size_t kAddress = 0;
inline constexpr std::size_t kMaxAddressLen = 4;
inline constexpr std::uint8_t kEa = 0x01;
inline constexpr std::uint8_t kDc = 0x02;  // in the last octet of a 3- or 4-byte address
inline constexpr std::uint8_t kUi = 0x03;
inline constexpr std::uint8_t kPad = 0x00;
inline constexpr std::size_t kSnapLen = 5;  // OUI, PID
}  // namespace field::frelay

namespace nlpid {
inline constexpr std::uint8_t kSnap = 0x80;
inline constexpr std::uint8_t kIpv4 = 0xcc;
inline constexpr std::uint8_t kIpv6 = 0x8e;
}  // namespace nlpid

struct FrameRelayView {
    Bytes bytes;
    std::uint8_t address_len;  // 2 to 4
    std::uint8_t header_len;   // up to and including the NLPID, SNAP or ethertype
    std::uint8_t nlpid_value;  // 0 in Cisco's encapsulation
    bool ui;                   // RFC 2427's form
    std::uint16_t proto;       // an ethertype: Cisco's, SNAP's PID (OUI 0), or the NLPID's

    static DecodeError parse(Bytes buf, FrameRelayView& out) {
        std::size_t n = 0;
        while (true) {
            if (n >= buf.size()) return DecodeError::Truncated;
            if (n == field::frelay::kMaxAddressLen) return DecodeError::BadHeaderLength;
            if ((buf[n++] & field::frelay::kEa) != 0) break;
        }
        if (n < 2) return DecodeError::BadHeaderLength;  // a 1-byte address does not exist
        out.address_len = static_cast<std::uint8_t>(n);
        out.nlpid_value = 0;
        out.proto = 0;
        out.ui = false;
        if (buf.size() <= n) return DecodeError::Truncated;
        if (buf[n] == field::frelay::kUi) {
            out.ui = true;
            ++n;
            if (n < buf.size() && buf[n] == field::frelay::kPad) ++n;
            if (n >= buf.size()) return DecodeError::Truncated;
            out.nlpid_value = buf[n++];
            if (out.nlpid_value == nlpid::kSnap) {
                if (buf.size() < n + field::frelay::kSnapLen) return DecodeError::Truncated;
                const bool ethertype_oui = buf[n] == 0 && buf[n + 1] == 0 && buf[n + 2] == 0;
                if (ethertype_oui) out.proto = load_be16(buf.data() + n + 3);
                n += field::frelay::kSnapLen;
            } else if (out.nlpid_value == nlpid::kIpv4) {
                out.proto = ethertype::kIpv4;
            } else if (out.nlpid_value == nlpid::kIpv6) {
                out.proto = ethertype::kIpv6;
            }
        } else {
            if (buf.size() < n + 2) return DecodeError::Truncated;
            out.proto = load_be16(buf.data() + n);
            n += 2;
        }
        out.header_len = static_cast<std::uint8_t>(n);
        out.bytes = buf;
        return DecodeError::None;
    }
    // The DLCI as tshark reads it: 6 bits of the first octet, 4 of the second, 7 of
    // the third, 6 of the fourth; a last octet whose D/C bit is set holds DL-CORE
    // control instead.
    std::uint32_t dlci() const {
        const std::uint8_t* a = view_at(bytes, field::frelay::kAddress);
        std::uint32_t v = ((a[0] >> 2) << 4) | (a[1] >> 4);
        for (std::size_t i = 2; i < address_len; ++i) {
            const bool last = (a[i] & field::frelay::kEa) != 0;
            if (last && (a[i] & field::frelay::kDc) != 0) break;
            v = i == 3 ? (v << 6) | (a[i] >> 2) : (v << 7) | (a[i] >> 1);
        }
        return v;
    }
    // RFC 2427's form (UI control, then an NLPID), not Cisco's.
    bool has_nlpid() const { return ui; }
    std::uint8_t nlpid() const { return nlpid_value; }
    std::uint16_t protocol() const { return proto; }
    Bytes payload() const { return bytes.subspan(header_len); }
};

// BSD SLIP (DLT_SLIP): a direction byte and the 15-byte compressed header
// before the packet; tcpdump reads what follows as IP by its version nibble.
namespace field::slip {
inline constexpr std::size_t kDirection = 0;   // 0 received, 1 sent
inline constexpr std::size_t kCompressed = 1;  // 15 bytes, unused
inline constexpr std::size_t kPayload = 16;
}  // namespace field::slip

struct SlipView {
    static constexpr std::size_t kHeaderLen = field::slip::kPayload;
    Bytes bytes;

    static DecodeError parse(Bytes buf, SlipView& out) {
        if (buf.size() < kHeaderLen) return DecodeError::Truncated;
        out.bytes = buf;
        return DecodeError::None;
    }
    std::uint8_t direction() const { return *view_at(bytes, field::slip::kDirection); }
    Bytes payload() const { return bytes.subspan(kHeaderLen); }
};

}  // namespace wl
