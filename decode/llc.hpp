// IEEE 802.2 LLC and the SNAP extension (RFC 1042): what follows an 802.3
// length field, an 802.11 data header and an RFC 1483 ATM cell payload.
#pragma once

#include "decode/bytes.hpp"
#include "decode/events.hpp"

namespace wl {

// Where each field of the LLC header and of its SNAP extension sits.
namespace field::llc {
inline constexpr std::size_t kDsap = 0;
inline constexpr std::size_t kSsap = 1;
inline constexpr std::size_t kControl = 2;  // 1 byte (U format) or 2 (I and S formats)
inline constexpr std::size_t kSnapOui = 3;  // 3 bytes, when DSAP and SSAP are both 0xaa
inline constexpr std::size_t kSnapPid = 6;  // 2 bytes: an ethertype when the OUI is 0 or 0000f8
inline constexpr std::size_t kSnapPayload = 8;
inline constexpr std::uint8_t kSapSnap = 0xaa;
inline constexpr std::uint8_t kSapIp = 0x06;      // IPv4 straight after LLC (RFC 1042's "IP SAP")
inline constexpr std::uint8_t kUFormat = 0x03;    // control & 3 == 3: one control byte
inline constexpr std::uint32_t kOuiCisco = 0xf8;  // 00-00-f8: Cisco's "90-compatible" SNAP
}  // namespace field::llc

struct LlcView {
    Bytes bytes;
    std::uint8_t header_len_ = 0;  // 3 or 4 (LLC), 8 (LLC + SNAP)

    static DecodeError parse(Bytes buf, LlcView& out) {
        using namespace field::llc;
        if (buf.size() <= kControl) return DecodeError::Truncated;
        std::size_t len = (buf[kControl] & kUFormat) == kUFormat ? 3 : 4;
        if (buf[kDsap] == kSapSnap && buf[kSsap] == kSapSnap && len == 3) len = kSnapPayload;
        if (buf.size() < len) return DecodeError::Truncated;
        out.bytes = buf;
        out.header_len_ = static_cast<std::uint8_t>(len);
        return DecodeError::None;
    }
    std::uint8_t dsap() const { return *view_at(bytes, field::llc::kDsap); }
    std::uint8_t ssap() const { return *view_at(bytes, field::llc::kSsap); }
    std::uint8_t control() const { return *view_at(bytes, field::llc::kControl); }
    bool is_snap() const { return header_len_ == field::llc::kSnapPayload; }
    std::uint32_t oui() const {  // SNAP only
        const std::uint8_t* p = view_at(bytes, field::llc::kSnapOui);
        return (std::uint32_t{p[0]} << 16) | (std::uint32_t{p[1]} << 8) | p[2];
    }
    std::uint16_t pid() const { return load_be16(view_at(bytes, field::llc::kSnapPid)); }
    // The ethertype of the payload, or 0 when the header names none: SNAP with
    // an encapsulated-Ethernet OUI, or IPv4 under the IP SAP.
    std::uint16_t ethertype() const {
        if (is_snap()) {
            const std::uint32_t o = oui();
            return o == 0 || o == field::llc::kOuiCisco ? pid() : 0;
        }
        return dsap() == field::llc::kSapIp && ssap() == field::llc::kSapIp && header_len_ == 3
                   ? std::uint16_t{0x0800}
                   : std::uint16_t{0};
    }
    std::size_t header_len() const { return header_len_; }
    Bytes payload() const { return bytes.subspan(header_len_); }
};

}  // namespace wl
