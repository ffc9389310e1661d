// IPv6 fixed header (RFC 8200) and the walk of its extension-header chain
// down to the upper-layer protocol.
#pragma once

#include "decode/bytes.hpp"
#include "decode/events.hpp"

namespace wl {

namespace ipproto {
inline constexpr std::uint8_t kHopByHop = 0;
inline constexpr std::uint8_t kIcmp = 1;
inline constexpr std::uint8_t kIpInIp = 4;  // IPv4 inside IP
inline constexpr std::uint8_t kTcp = 6;
inline constexpr std::uint8_t kUdp = 17;
inline constexpr std::uint8_t kIpv6InIp = 41;  // IPv6 inside IP
inline constexpr std::uint8_t kRouting = 43;
inline constexpr std::uint8_t kFragment = 44;
inline constexpr std::uint8_t kGre = 47;
inline constexpr std::uint8_t kEsp = 50;
inline constexpr std::uint8_t kAh = 51;
inline constexpr std::uint8_t kIcmpv6 = 58;
inline constexpr std::uint8_t kNoNext = 59;
inline constexpr std::uint8_t kDestOpts = 60;
inline constexpr std::uint8_t kMobility = 135;
inline constexpr std::uint8_t kHip = 139;
inline constexpr std::uint8_t kShim6 = 140;
}  // namespace ipproto

// Where each field of the IPv6 fixed header sits, from its first byte.
namespace field::ipv6 {
inline constexpr std::size_t kVersionClassFlow = 0;  // 4 bytes: version, traffic class, flow label
inline constexpr std::size_t kPayloadLen = 4;        // 2 bytes
inline constexpr std::size_t kNextHeader = 6;
inline constexpr std::size_t kHopLimit = 7;
inline constexpr std::size_t kSrc = 8;   // 16 bytes
inline constexpr std::size_t kDst = 24;  // 16 bytes
inline constexpr std::size_t kPayload = 40;
inline std::uint8_t version(const std::uint8_t* header) {
    return header[kVersionClassFlow] >> 4;
}
}  // namespace field::ipv6

// Extension headers (RFC 8200, 4): next header and length first; the
// fragment header's offset, M flag and identification.
namespace field::ipv6_ext {
inline constexpr std::size_t kNextHeader = 0;
// Length in 8-byte units, not counting the first 8 (AH: 4-byte units, not the first 8).
inline constexpr std::size_t kLength = 1;
inline constexpr std::size_t kFragmentOffset = 2;  // 2 bytes: offset (13 bits), 2 reserved, M
inline constexpr std::size_t kFragmentId = 4;      // 4 bytes
inline constexpr std::size_t kFragmentLen = 8;     // the fragment header's fixed length
}  // namespace field::ipv6_ext

struct Ipv6View {
    static constexpr std::size_t kHeaderLen = field::ipv6::kPayload;
    Bytes bytes;                     // header + captured payload, padding trimmed
    std::uint32_t payload_wire_len;  // the payload length field (or the frame, for jumbograms)

    static DecodeError parse(Bytes captured, std::uint32_t wire_len, Ipv6View& out) {
        if (captured.empty()) return DecodeError::Truncated;
        if (field::ipv6::version(captured.data()) != 6) return DecodeError::BadVersion;
        if (captured.size() < kHeaderLen) return DecodeError::Truncated;
        std::uint32_t plen = load_be16(captured.data() + field::ipv6::kPayloadLen);
        // A zero payload length is a jumbogram (RFC 2675), or Linux BIG TCP's
        // capture of one without its hop-by-hop option: the frame says how long it is.
        if (plen == 0) plen = wire_len - static_cast<std::uint32_t>(kHeaderLen);
        if (kHeaderLen + plen > wire_len) return DecodeError::BadTotalLength;
        const std::size_t keep = kHeaderLen + plen;
        out.bytes = captured.first(captured.size() < keep ? captured.size() : keep);
        out.payload_wire_len = plen;
        return DecodeError::None;
    }

    std::uint8_t traffic_class() const {
        return static_cast<std::uint8_t>(
            (load_be16(view_at(bytes, field::ipv6::kVersionClassFlow)) >> 4) & 0xff);
    }
    std::uint32_t flow_label() const {
        return load_be32(view_at(bytes, field::ipv6::kVersionClassFlow)) & 0x000fffffu;
    }
    std::uint16_t payload_len_field() const {
        return load_be16(view_at(bytes, field::ipv6::kPayloadLen));
    }
    std::uint8_t next_header() const { return *view_at(bytes, field::ipv6::kNextHeader); }
    std::uint8_t hop_limit() const { return *view_at(bytes, field::ipv6::kHopLimit); }
    const std::uint8_t* src() const { return view_at(bytes, field::ipv6::kSrc); }
    const std::uint8_t* dst() const { return view_at(bytes, field::ipv6::kDst); }
    Bytes payload() const { return bytes.subspan(kHeaderLen); }
};

// The result of following an IPv6 extension-header chain.
struct Ipv6Chain {
    static constexpr std::size_t kMaxHeaders = 8;
    std::uint8_t count = 0;
    std::uint8_t types[kMaxHeaders] = {};
    std::uint8_t upper_protocol = 0;  // first header that is not an extension header
    std::uint32_t offset = 0;         // of the upper-layer header from the end of the fixed header
    bool has_fragment = false;
    bool more_fragments = false;
    std::uint16_t fragment_offset = 0;  // in 8-byte units
    std::uint32_t fragment_id = 0;

    static bool is_extension(std::uint8_t nh) {
        return nh == ipproto::kHopByHop || nh == ipproto::kRouting || nh == ipproto::kFragment ||
               nh == ipproto::kDestOpts || nh == ipproto::kAh || nh == ipproto::kMobility ||
               nh == ipproto::kHip || nh == ipproto::kShim6;
    }

    // Walks from `first` over `captured` (the IPv6 payload we have) whose
    // length on the wire is `wire_len`.
    static DecodeError walk(std::uint8_t first, Bytes captured, std::uint32_t wire_len,
                            Ipv6Chain& out) {
        out = Ipv6Chain{};
        std::uint8_t nh = first;
        std::size_t off = 0;
        while (is_extension(nh)) {
            if (out.count == kMaxHeaders) return DecodeError::TooManyExtHeaders;
            if (off + 2 > captured.size()) {
                return off + 2 > wire_len ? DecodeError::BadHeaderLength : DecodeError::Truncated;
            }
            const std::uint8_t* h = captured.data() + off;
            std::size_t len;
            const std::size_t units = h[field::ipv6_ext::kLength];
            if (nh == ipproto::kFragment) {
                len = field::ipv6_ext::kFragmentLen;
            } else if (nh == ipproto::kAh) {
                len = (units + 2) * 4;
            } else {
                len = (units + 1) * 8;
            }
            if (off + len > wire_len) return DecodeError::BadHeaderLength;
            if (off + len > captured.size()) return DecodeError::Truncated;
            if (nh == ipproto::kFragment) {
                out.has_fragment = true;
                const std::uint16_t fo = load_be16(h + field::ipv6_ext::kFragmentOffset);
                out.fragment_offset = fo >> 3;
                out.more_fragments = (fo & 1) != 0;
                out.fragment_id = load_be32(h + field::ipv6_ext::kFragmentId);
            }
            out.types[out.count++] = nh;
            nh = h[field::ipv6_ext::kNextHeader];
            off += len;
            // Past a non-first fragment the bytes are the middle of someone else's payload.
            if (out.has_fragment && out.fragment_offset != 0) break;
        }
        out.upper_protocol = nh;
        out.offset = static_cast<std::uint32_t>(off);
        return DecodeError::None;
    }
};

}  // namespace wl
