// Shims between a link header and the network layer: MPLS label stacks
// (RFC 3032), 802.1ah provider backbone bridging, VN-Tag, Cisco FabricPath; and
// the NFLOG link type's TLVs (https://www.tcpdump.org/linktypes/LINKTYPE_NFLOG.html).
#pragma once

#include <cstring>

#include "decode/bytes.hpp"
#include "decode/ethernet.hpp"
#include "decode/events.hpp"

namespace wl {

namespace ethertype {
inline constexpr std::uint16_t kMplsUnicast = 0x8847;
inline constexpr std::uint16_t kMplsMulticast = 0x8848;
inline constexpr std::uint16_t kPbb = 0x88e7;  // 802.1ah I-TAG
inline constexpr std::uint16_t kVnTag = 0x8926;
inline constexpr std::uint16_t kFabricPath = 0x8903;
}  // namespace ethertype

// One MPLS label stack entry: label 20 bits, traffic class 3, bottom of stack 1, TTL 8.
namespace field::mpls {
inline constexpr std::size_t kEntryLen = 4;
inline constexpr std::uint32_t kBottom = 0x100;
inline constexpr std::uint32_t kControlWord = 0;  // first nibble 0: a pseudowire control word
}  // namespace field::mpls

struct MplsEntry {
    std::uint32_t raw;
    std::uint32_t label() const { return raw >> 12; }
    std::uint8_t tc() const { return static_cast<std::uint8_t>((raw >> 9) & 0x7); }
    bool bottom() const { return (raw & field::mpls::kBottom) != 0; }
    std::uint8_t ttl() const { return static_cast<std::uint8_t>(raw & 0xff); }
};

// What follows the bottom of an MPLS stack: RFC 3032 does not say, so the
// payload is guessed as tshark and Zeek do: IPv4 or IPv6 by the version nibble;
// anything else is an Ethernet pseudowire (RFC 4448), after a control word when
// the first nibble is 0.
enum class MplsPayload : std::uint8_t { Ipv4, Ipv6, Ethernet, EthernetControlWord };

inline MplsPayload guess_mpls_payload(Bytes after_stack) {
    if (after_stack.empty()) return MplsPayload::Ethernet;
    switch (after_stack[0] >> 4) {
        case 4:
            return MplsPayload::Ipv4;
        case 6:
            return MplsPayload::Ipv6;
        case 0:
            return MplsPayload::EthernetControlWord;
        default:
            return MplsPayload::Ethernet;
    }
}

// An MPLS label stack: entries up to the one with the bottom-of-stack bit.
struct MplsStackView {
    static constexpr std::size_t kMaxLabels = 8;
    Bytes bytes;
    std::uint8_t count;
    MplsEntry entries[kMaxLabels];

    static DecodeError parse(Bytes buf, MplsStackView& out) {
        out.count = 0;
        for (std::size_t at = 0;; at += field::mpls::kEntryLen) {
            if (out.count == kMaxLabels) return DecodeError::TooManyMplsLabels;
            if (buf.size() - at < field::mpls::kEntryLen) return DecodeError::Truncated;
            const MplsEntry e{load_be32(buf.data() + at)};
            out.entries[out.count++] = e;
            if (e.bottom()) break;
        }
        out.bytes = buf;
        return DecodeError::None;
    }
    std::size_t header_len() const { return count * field::mpls::kEntryLen; }
    Bytes payload() const { return bytes.subspan(header_len()); }
};

// 802.1ah I-TAG (after TPID 0x88e7): PCP 3 bits, DEI 1, UCA 1, reserved 3,
// I-SID 24 bits; then the customer's Ethernet header (destination, source, type).
namespace field::pbb {
inline constexpr std::size_t kTci = 0;  // 4 bytes
inline constexpr std::size_t kInnerEthernet = 4;
inline constexpr std::size_t kLen = kInnerEthernet + field::ethernet::kPayload;
}  // namespace field::pbb

struct PbbView {
    static constexpr std::size_t kHeaderLen = field::pbb::kLen;
    Bytes bytes;

    static DecodeError parse(Bytes buf, PbbView& out) {
        if (buf.size() < kHeaderLen) return DecodeError::Truncated;
        out.bytes = buf;
        return DecodeError::None;
    }
    std::uint32_t isid() const { return load_be32(view_at(bytes, field::pbb::kTci)) & 0xffffff; }
    std::uint8_t pcp() const { return *view_at(bytes, field::pbb::kTci) >> 5; }
    Bytes inner_ethernet() const { return bytes.subspan(field::pbb::kInnerEthernet); }
};

// VN-Tag (after TPID 0x8926): d, p, destination vif 14 bits; l, r, version 2,
// source vif 12 bits; then the next ethertype.
namespace field::vntag {
inline constexpr std::size_t kDst = 0;   // 2 bytes
inline constexpr std::size_t kSrc = 2;   // 2 bytes
inline constexpr std::size_t kType = 4;  // 2 bytes
inline constexpr std::size_t kLen = 6;
}  // namespace field::vntag

struct VnTagView {
    static constexpr std::size_t kHeaderLen = field::vntag::kLen;
    Bytes bytes;

    static DecodeError parse(Bytes buf, VnTagView& out) {
        if (buf.size() < kHeaderLen) return DecodeError::Truncated;
        out.bytes = buf;
        return DecodeError::None;
    }
    std::uint16_t dst_vif() const { return load_be16(view_at(bytes, field::vntag::kDst)) & 0x3fff; }
    std::uint16_t src_vif() const { return load_be16(view_at(bytes, field::vntag::kSrc)) & 0x0fff; }
    std::uint16_t type() const { return load_be16(view_at(bytes, field::vntag::kType)); }
    Bytes payload() const { return bytes.subspan(kHeaderLen); }
};

// Cisco FabricPath (outer ethertype 0x8903): FTag 10 bits and TTL 6 bits, then
// the classical Ethernet frame (Zeek skips the 16-byte outer header the same way).
namespace field::fabricpath {
inline constexpr std::size_t kTag = 0;  // 2 bytes
inline constexpr std::size_t kInnerEthernet = 2;
inline constexpr std::size_t kLen = kInnerEthernet + field::ethernet::kPayload;
}  // namespace field::fabricpath

struct FabricPathView {
    static constexpr std::size_t kHeaderLen = field::fabricpath::kLen;
    Bytes bytes;

    static DecodeError parse(Bytes buf, FabricPathView& out) {
        if (buf.size() < kHeaderLen) return DecodeError::Truncated;
        out.bytes = buf;
        return DecodeError::None;
    }
    std::uint16_t ftag() const { return load_be16(view_at(bytes, field::fabricpath::kTag)) >> 6; }
    std::uint8_t ttl() const { return *view_at(bytes, field::fabricpath::kTag + 1) & 0x3f; }
    Bytes inner_ethernet() const { return bytes.subspan(field::fabricpath::kInnerEthernet); }
};

// NFLOG: family, version 0, resource id (big-endian), then TLVs whose length and
// type are in host byte order (libpcap swaps them when the file's order is not
// the reader's), each padded to 4 bytes; type 9 holds the packet.
namespace field::nflog {
inline constexpr std::size_t kFamily = 0;
inline constexpr std::size_t kVersion = 1;
inline constexpr std::size_t kResourceId = 2;  // 2 bytes
inline constexpr std::size_t kTlvs = 4;
inline constexpr std::size_t kTlvHeaderLen = 4;  // length (includes these 4 bytes), type
inline constexpr std::uint16_t kTypePrefix = 10;
inline constexpr std::uint16_t kTypePayload = 9;
inline constexpr std::uint8_t kAfInet = 2;
inline constexpr std::uint8_t kAfInet6 = 10;
}  // namespace field::nflog

struct NflogView {
    static constexpr std::size_t kMaxTlvs = 64;  // a bound on the walk
    Bytes bytes;
    std::uint16_t payload_offset;  // 0 when there is no payload TLV
    std::uint16_t payload_len;     // its length in the TLV (may exceed the captured bytes)
    std::uint16_t prefix_offset;   // 0 when there is no prefix TLV
    std::uint16_t prefix_len;      // captured, without the terminating NUL

    static std::uint16_t host16(const std::uint8_t* p) {
        std::uint16_t v;
        std::memcpy(&v, p, sizeof v);
        return v;
    }
    static DecodeError parse(Bytes buf, NflogView& out) {
        if (buf.size() < field::nflog::kTlvs) return DecodeError::Truncated;
        if (buf[field::nflog::kVersion] != 0) return DecodeError::BadVersion;
        out.payload_offset = out.payload_len = out.prefix_offset = out.prefix_len = 0;
        std::size_t at = field::nflog::kTlvs;
        for (std::size_t n = 0; n < kMaxTlvs && buf.size() - at >= field::nflog::kTlvHeaderLen;
             ++n) {
            const std::uint16_t len = host16(buf.data() + at);
            const std::uint16_t type = host16(buf.data() + at + 2);
            if (len < field::nflog::kTlvHeaderLen) return DecodeError::BadLength;
            const std::size_t value = at + field::nflog::kTlvHeaderLen;
            if (type == field::nflog::kTypePayload) {
                out.payload_offset = static_cast<std::uint16_t>(value);
                out.payload_len = static_cast<std::uint16_t>(len - field::nflog::kTlvHeaderLen);
                break;
            }
            if (type == field::nflog::kTypePrefix && at + len <= buf.size()) {
                std::size_t n_chars = len - field::nflog::kTlvHeaderLen;
                while (n_chars > 0 && buf[value + n_chars - 1] == 0)
                    --n_chars;
                out.prefix_offset = static_cast<std::uint16_t>(value);
                out.prefix_len = static_cast<std::uint16_t>(n_chars);
            }
            const std::size_t padded = (static_cast<std::size_t>(len) + 3) & ~std::size_t{3};
            if (padded > buf.size() - at) break;  // the rest was not captured
            at += padded;
            if (at > 0xfff0) break;  // offsets are 16-bit; NFLOG packets are shorter
        }
        out.bytes = buf;
        return DecodeError::None;
    }
    std::uint8_t family() const { return *view_at(bytes, field::nflog::kFamily); }
    std::uint16_t resource_id() const {
        return load_be16(view_at(bytes, field::nflog::kResourceId));
    }
    bool has_payload() const { return payload_offset != 0; }
    Bytes payload() const { return bytes.subspan(payload_offset); }
    std::string_view prefix() const {
        return {reinterpret_cast<const char*>(bytes.data()) + prefix_offset, prefix_len};
    }
};

}  // namespace wl
