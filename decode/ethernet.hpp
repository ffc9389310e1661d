// Ethernet II header and stacked 802.1Q / 802.1ad tags.
#pragma once

#include "decode/bytes.hpp"
#include "decode/events.hpp"

namespace wl {

namespace ethertype {
inline constexpr std::uint16_t kIpv4 = 0x0800;
inline constexpr std::uint16_t kArp = 0x0806;
inline constexpr std::uint16_t kVlan = 0x8100;     // 802.1Q C-tag
inline constexpr std::uint16_t kQinQ = 0x88a8;     // 802.1ad S-tag
inline constexpr std::uint16_t kQinQOld = 0x9100;  // pre-standard S-tag, still seen
inline constexpr std::uint16_t kIpv6 = 0x86dd;
inline constexpr std::uint16_t kTransparentBridging = 0x6558;  // Ethernet inside GRE, Geneve
inline constexpr std::uint16_t kMinEthertype = 0x0600;         // below: an 802.3 length field
inline bool is_vlan(std::uint16_t t) {
    return t == kVlan || t == kQinQ || t == kQinQOld;
}
}  // namespace ethertype

struct MacAddr {
    const std::uint8_t* p;
    bool is_group() const { return (p[0] & 0x01) != 0; }  // multicast or broadcast
    bool is_local() const { return (p[0] & 0x02) != 0; }  // locally administered
    bool is_broadcast() const { return (p[0] & p[1] & p[2] & p[3] & p[4] & p[5]) == 0xff; }
};

// Where each field of the Ethernet II header and of an 802.1Q tag sits.
namespace field::ethernet {
inline constexpr std::size_t kDst = 0;    // 6 bytes
inline constexpr std::size_t kSrc = 6;    // 6 bytes
inline constexpr std::size_t kType = 12;  // 2 bytes: ethertype, or 802.3 length
inline constexpr std::size_t kPayload = 14;
}  // namespace field::ethernet
namespace field::vlan {                  // after the TPID that announced the tag
inline constexpr std::size_t kTci = 0;   // 2 bytes: PCP, DEI, VLAN id
inline constexpr std::size_t kType = 2;  // 2 bytes: the next ethertype
inline constexpr std::size_t kLen = 4;
}  // namespace field::vlan

struct EthernetView {
    static constexpr std::size_t kHeaderLen = field::ethernet::kPayload;
    Bytes bytes;

    static DecodeError parse(Bytes buf, EthernetView& out) {
        if (buf.size() < kHeaderLen) return DecodeError::Truncated;
        out.bytes = buf;
        return DecodeError::None;
    }
    MacAddr dst() const { return {view_at(bytes, field::ethernet::kDst)}; }
    MacAddr src() const { return {view_at(bytes, field::ethernet::kSrc)}; }
    // An ethertype, or (below 0x0600) the 802.3 length of an LLC frame.
    std::uint16_t type_or_length() const {
        return load_be16(view_at(bytes, field::ethernet::kType));
    }
    Bytes payload() const { return bytes.subspan(kHeaderLen); }
};

// One 802.1Q/802.1ad tag: the TPID that announced it and the 4 bytes after it.
struct VlanTag {
    std::uint16_t tpid;
    std::uint16_t tci;
    std::uint16_t id() const { return tci & 0x0fff; }
    std::uint8_t pcp() const { return static_cast<std::uint8_t>(tci >> 13); }
    bool dei() const { return (tci & 0x1000) != 0; }
};

}  // namespace wl
