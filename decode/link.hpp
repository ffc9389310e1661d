// Link-layer headers other than Ethernet: Linux cooked capture v1/v2 and the
// BSD null/loopback header. libpcap DLT numbers are spelled out here so that
// decode/ does not depend on capture/.
#pragma once

#include "decode/bytes.hpp"
#include "decode/events.hpp"

namespace wl {

namespace linktype {
inline constexpr int kNull = 0;           // DLT_NULL: 4-byte family, host byte order of the writer
inline constexpr int kEthernet = 1;       // DLT_EN10MB
inline constexpr int kRaw = 12;           // DLT_RAW as libpcap reports LINKTYPE_RAW on Linux
inline constexpr int kRawBsd = 14;        // DLT_RAW on OpenBSD
inline constexpr int kRawLinktype = 101;  // LINKTYPE_RAW, in case it is passed through
inline constexpr int kLoop = 108;         // DLT_LOOP: 4-byte family, network byte order
inline constexpr int kLinuxSll = 113;     // DLT_LINUX_SLL
inline constexpr int kIpv4 = 228;         // DLT_IPV4
inline constexpr int kIpv6 = 229;         // DLT_IPV6
inline constexpr int kLinuxSll2 = 276;    // DLT_LINUX_SLL2
bool supported(int dlt);
}  // namespace linktype

// Linux cooked capture, v1 (16 bytes) and v2 (20 bytes), normalised.
struct LinuxSllView {
    Bytes bytes;
    std::uint8_t version;  // 1 or 2

    static DecodeError parse(Bytes buf, int version, LinuxSllView& out) {
        const std::size_t need = version == 2 ? 20 : 16;
        if (buf.size() < need) return DecodeError::Truncated;
        out.bytes = buf;
        out.version = static_cast<std::uint8_t>(version);
        return DecodeError::None;
    }
    std::size_t header_len() const { return version == 2 ? 20 : 16; }
    std::uint16_t packet_type() const {  // 0 host, 1 broadcast, 2 multicast, 3 other, 4 outgoing
        return version == 2 ? bytes[10] : load_be16(bytes.data());
    }
    std::uint16_t hatype() const {
        return version == 2 ? load_be16(bytes.data() + 8) : load_be16(bytes.data() + 2);
    }
    std::uint8_t addr_len() const {
        const std::uint16_t n = version == 2 ? bytes[11] : load_be16(bytes.data() + 4);
        return static_cast<std::uint8_t>(n > 8 ? 8 : n);
    }
    const std::uint8_t* addr() const { return bytes.data() + (version == 2 ? 12 : 6); }
    std::uint16_t protocol() const {
        return version == 2 ? load_be16(bytes.data()) : load_be16(bytes.data() + 14);
    }
    std::uint32_t ifindex() const { return version == 2 ? load_be32(bytes.data() + 4) : 0; }
    Bytes payload() const { return bytes.subspan(header_len()); }
};

// BSD null (host byte order) and loop (network byte order) headers.
struct NullLinkView {
    static constexpr std::size_t kHeaderLen = 4;
    Bytes bytes;
    std::uint32_t family;

    static DecodeError parse(Bytes buf, bool network_order, NullLinkView& out) {
        if (buf.size() < kHeaderLen) return DecodeError::Truncated;
        out.bytes = buf;
        std::uint32_t v = network_order ? load_be32(buf.data()) : load_le32(buf.data());
        // DLT_NULL is in the writer's byte order; a family never exceeds 16 bits.
        if (!network_order && (v & 0xffff0000u) != 0) v = load_be32(buf.data());
        out.family = v;
        return DecodeError::None;
    }
    bool is_ipv4() const { return family == 2; }
    bool is_ipv6() const { return family == 24 || family == 28 || family == 30 || family == 10; }
    Bytes payload() const { return bytes.subspan(kHeaderLen); }
};

}  // namespace wl
