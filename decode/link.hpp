// Link-layer headers other than Ethernet: Linux cooked capture v1/v2 and the
// BSD null/loopback header. libpcap DLT numbers are spelled out here so that
// decode/ does not depend on capture/.
#pragma once

#include <string_view>

#include "decode/bytes.hpp"
#include "decode/events.hpp"

namespace wl {

namespace linktype {
inline constexpr int kNull = 0;        // DLT_NULL: 4-byte family, host byte order of the writer
inline constexpr int kEthernet = 1;    // DLT_EN10MB
inline constexpr int kSlip = 8;        // DLT_SLIP: BSD's 16-byte SLIP pseudo header
inline constexpr int kPpp = 9;         // DLT_PPP: PPP, address/control optional
inline constexpr int kRaw = 12;        // DLT_RAW as libpcap reports LINKTYPE_RAW on Linux
inline constexpr int kRawBsd = 14;     // DLT_RAW on OpenBSD
inline constexpr int kPppSerial = 50;  // DLT_PPP_SERIAL: PPP in HDLC-like framing (or Cisco HDLC)
inline constexpr int kPppEther = 51;   // DLT_PPP_ETHER: PPPoE header without Ethernet
inline constexpr int kRawLinktype = 101;  // LINKTYPE_RAW, in case it is passed through
inline constexpr int kCHdlc = 104;        // DLT_C_HDLC: Cisco HDLC
inline constexpr int kFrelay = 107;       // DLT_FRELAY: frame relay, Q.922 address
inline constexpr int kLoop = 108;         // DLT_LOOP: 4-byte family, network byte order
inline constexpr int kLinuxSll = 113;     // DLT_LINUX_SLL
inline constexpr int kIpv4 = 228;         // DLT_IPV4
inline constexpr int kIpv6 = 229;         // DLT_IPV6
inline constexpr int kNflog = 239;        // DLT_NFLOG: Linux netfilter log TLVs
inline constexpr int kLinuxSll2 = 276;    // DLT_LINUX_SLL2
// 802.11 and ATM (libpcap maps LINKTYPE_ATM_RFC1483 100 to DLT 11, LINKTYPE_ATM_CLIP 106 to 19).
inline constexpr int kAtmRfc1483 = 11;  // DLT_ATM_RFC1483: LLC/SNAP, then the packet
inline constexpr int kAtmClip = 19;     // DLT_ATM_CLIP (Linux classical IP over ATM): IPv4
inline constexpr int kIeee80211 = 105;  // DLT_IEEE802_11: the 802.11 MAC header first
inline constexpr int kPrism = 119;      // DLT_PRISM_HEADER: Prism (or AVS) header, then 802.11
inline constexpr int kRadiotap = 127;   // DLT_IEEE802_11_RADIO: radiotap, then 802.11
inline constexpr int kAvs = 163;        // DLT_IEEE802_11_RADIO_AVS: AVS header, then 802.11
// Headers that name the packet's network protocol or link type.
inline constexpr int kPktapDarwin = 149;  // DLT_USER2, Darwin's DLT_PKTAP
inline constexpr int kIpnet = 226;        // DLT_IPNET: Solaris ipnet header
inline constexpr int kIpoib = 242;        // DLT_IPOIB: IP over InfiniBand (RFC 4391)
inline constexpr int kPktap = 258;        // DLT_PKTAP elsewhere (LINKTYPE_PKTAP)
bool supported(int dlt);
}  // namespace linktype

// Where each field of the Linux cooked capture headers sits: v1 (16 bytes,
// protocol last) and v2 (20 bytes, protocol first).
namespace field::sll {
inline constexpr std::size_t kPacketType = 0;  // 2 bytes
inline constexpr std::size_t kHatype = 2;      // 2 bytes
inline constexpr std::size_t kAddrLen = 4;     // 2 bytes
inline constexpr std::size_t kAddr = 6;        // 8 bytes
inline constexpr std::size_t kProtocol = 14;   // 2 bytes
inline constexpr std::size_t kPayload = 16;
}  // namespace field::sll
namespace field::sll2 {
inline constexpr std::size_t kProtocol = 0;  // 2 bytes
inline constexpr std::size_t kIfindex = 4;   // 4 bytes (after 2 reserved)
inline constexpr std::size_t kHatype = 8;    // 2 bytes
inline constexpr std::size_t kPacketType = 10;
inline constexpr std::size_t kAddrLen = 11;
inline constexpr std::size_t kAddr = 12;  // 8 bytes
inline constexpr std::size_t kPayload = 20;
}  // namespace field::sll2
namespace field::null_link {
// 4 bytes: the writer's byte order (null) or big-endian (loop)
inline constexpr std::size_t kFamily = 0;
inline constexpr std::size_t kPayload = 4;
}  // namespace field::null_link

// Solaris ipnet (24 bytes, big-endian): Solaris address family, then the packet.
namespace field::ipnet {
inline constexpr std::size_t kVersion = 0;   // 1 byte
inline constexpr std::size_t kFamily = 1;    // 1 byte: Solaris AF_INET 2, AF_INET6 26
inline constexpr std::size_t kHook = 2;      // 2 bytes: 0 inbound, 1 outbound, 2 local
inline constexpr std::size_t kDataLen = 4;   // 4 bytes
inline constexpr std::size_t kIfindex = 8;   // 4 bytes
inline constexpr std::size_t kGroupIf = 12;  // 4 bytes
inline constexpr std::size_t kSrcZone = 16;  // 4 bytes
inline constexpr std::size_t kDstZone = 20;  // 4 bytes
inline constexpr std::size_t kPayload = 24;
inline constexpr std::uint8_t kAfInet = 2;
inline constexpr std::uint8_t kAfInet6 = 26;
}  // namespace field::ipnet
// IP over InfiniBand as libpcap captures it (44 bytes): a 20-byte pseudo header,
// the destination hardware address (a 24-bit queue pair number in 4 bytes, a
// 16-byte GID), then RFC 4391's 4-byte header: ethertype and 2 reserved bytes.
namespace field::ipoib {
inline constexpr std::size_t kDestQpn = 20;  // 4 bytes, the low 24 bits
inline constexpr std::size_t kDestGid = 24;  // 16 bytes
inline constexpr std::size_t kType = 40;     // 2 bytes
inline constexpr std::size_t kPayload = 44;
}  // namespace field::ipoib
// Apple's PKTAP header, little-endian: its own length, a record type, the DLT of
// the packet after it, the interface name... (108 bytes in its first version).
namespace field::pktap {
inline constexpr std::size_t kLength = 0;      // 4 bytes: where the packet starts
inline constexpr std::size_t kRecordType = 4;  // 4 bytes: 1 for a packet
inline constexpr std::size_t kDlt = 8;         // 4 bytes
inline constexpr std::size_t kIfname = 12;     // 24 bytes, NUL-padded
inline constexpr std::size_t kIfnameLen = 24;
inline constexpr std::size_t kMinLength = 108;
inline constexpr std::uint32_t kRecordPacket = 1;
}  // namespace field::pktap

struct IpnetView {
    static constexpr std::size_t kHeaderLen = field::ipnet::kPayload;
    Bytes bytes;

    static DecodeError parse(Bytes buf, IpnetView& out) {
        if (buf.size() < kHeaderLen) return DecodeError::Truncated;
        out.bytes = buf;
        return DecodeError::None;
    }
    std::uint8_t family() const { return *view_at(bytes, field::ipnet::kFamily); }
    std::uint16_t hook() const { return load_be16(view_at(bytes, field::ipnet::kHook)); }
    std::uint32_t ifindex() const { return load_be32(view_at(bytes, field::ipnet::kIfindex)); }
};

struct IpoibView {
    static constexpr std::size_t kHeaderLen = field::ipoib::kPayload;
    Bytes bytes;

    static DecodeError parse(Bytes buf, IpoibView& out) {
        if (buf.size() < kHeaderLen) return DecodeError::Truncated;
        out.bytes = buf;
        return DecodeError::None;
    }
    std::uint32_t dest_qpn() const {
        return load_be32(view_at(bytes, field::ipoib::kDestQpn)) & 0xffffffu;
    }
    const std::uint8_t* dest_gid() const { return view_at(bytes, field::ipoib::kDestGid); }
    std::uint16_t type() const { return load_be16(view_at(bytes, field::ipoib::kType)); }
};

// The header's length is proved to be at least the first version's and within
// the capture; the packet after it has the link type dlt().
struct PktapView {
    Bytes bytes;
    std::uint32_t header_len;

    static DecodeError parse(Bytes buf, PktapView& out) {
        if (buf.size() < field::pktap::kMinLength) return DecodeError::Truncated;
        const std::uint32_t len = load_le32(buf.data() + field::pktap::kLength);
        if (len < field::pktap::kMinLength) return DecodeError::BadHeaderLength;
        if (len > buf.size()) return DecodeError::Truncated;
        out.bytes = buf;
        out.header_len = len;
        return DecodeError::None;
    }
    std::uint32_t record_type() const {
        return load_le32(view_at(bytes, field::pktap::kRecordType));
    }
    bool is_packet() const { return record_type() == field::pktap::kRecordPacket; }
    std::uint32_t dlt() const { return load_le32(view_at(bytes, field::pktap::kDlt)); }
    // The interface name up to its first NUL.
    std::string_view ifname() const {
        const char* p = reinterpret_cast<const char*>(view_at(bytes, field::pktap::kIfname));
        std::size_t n = 0;
        while (n < field::pktap::kIfnameLen && p[n] != 0)
            ++n;
        return {p, n};
    }
};

// Linux cooked capture, v1 and v2, normalised.
struct LinuxSllView {
    Bytes bytes;
    std::uint8_t version;  // 1 or 2

    static DecodeError parse(Bytes buf, int version, LinuxSllView& out) {
        const std::size_t need = version == 2 ? field::sll2::kPayload : field::sll::kPayload;
        if (buf.size() < need) return DecodeError::Truncated;
        out.bytes = buf;
        out.version = static_cast<std::uint8_t>(version);
        return DecodeError::None;
    }
    std::size_t header_len() const {
        return version == 2 ? field::sll2::kPayload : field::sll::kPayload;
    }
    std::uint16_t packet_type() const {  // 0 host, 1 broadcast, 2 multicast, 3 other, 4 outgoing
        return version == 2 ? *view_at(bytes, field::sll2::kPacketType)
                            : load_be16(view_at(bytes, field::sll::kPacketType));
    }
    std::uint16_t hatype() const {
        return load_be16(view_at(bytes, version == 2 ? field::sll2::kHatype : field::sll::kHatype));
    }
    std::uint8_t addr_len() const {
        const std::uint16_t n = version == 2 ? *view_at(bytes, field::sll2::kAddrLen)
                                             : load_be16(view_at(bytes, field::sll::kAddrLen));
        return static_cast<std::uint8_t>(n > 8 ? 8 : n);
    }
    const std::uint8_t* addr() const {
        return view_at(bytes, version == 2 ? field::sll2::kAddr : field::sll::kAddr);
    }
    std::uint16_t protocol() const {
        return load_be16(
            view_at(bytes, version == 2 ? field::sll2::kProtocol : field::sll::kProtocol));
    }
    std::uint32_t ifindex() const {
        return version == 2 ? load_be32(view_at(bytes, field::sll2::kIfindex)) : 0;
    }
    Bytes payload() const { return bytes.subspan(header_len()); }
};

// BSD null (host byte order) and loop (network byte order) headers.
struct NullLinkView {
    static constexpr std::size_t kHeaderLen = field::null_link::kPayload;
    Bytes bytes;
    std::uint32_t family;

    static DecodeError parse(Bytes buf, bool network_order, NullLinkView& out) {
        if (buf.size() < kHeaderLen) return DecodeError::Truncated;
        out.bytes = buf;
        const std::uint8_t* f = buf.data() + field::null_link::kFamily;
        std::uint32_t v = network_order ? load_be32(f) : load_le32(f);
        // DLT_NULL is in the writer's byte order; a family never exceeds 16 bits.
        if (!network_order && (v & 0xffff0000u) != 0) v = load_be32(f);
        out.family = v;
        return DecodeError::None;
    }
    bool is_ipv4() const { return family == 2; }
    bool is_ipv6() const { return family == 24 || family == 28 || family == 30 || family == 10; }
    Bytes payload() const { return bytes.subspan(kHeaderLen); }
};

}  // namespace wl
