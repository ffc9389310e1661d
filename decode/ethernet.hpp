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
inline constexpr std::uint16_t kMinEthertype = 0x0600;  // below: an 802.3 length field
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

struct EthernetView {
    static constexpr std::size_t kHeaderLen = 14;
    Bytes bytes;

    static DecodeError parse(Bytes buf, EthernetView& out) {
        if (buf.size() < kHeaderLen) return DecodeError::Truncated;
        out.bytes = buf;
        return DecodeError::None;
    }
    MacAddr dst() const { return {bytes.data()}; }
    MacAddr src() const { return {bytes.data() + 6}; }
    // An ethertype, or (below 0x0600) the 802.3 length of an LLC frame.
    std::uint16_t type_or_length() const { return load_be16(bytes.data() + 12); }
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
