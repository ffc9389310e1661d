// UDP header (RFC 768) with its length checked against the IP payload.
#pragma once

#include "decode/bytes.hpp"
#include "decode/events.hpp"

namespace wl {

// Where each field of the UDP header sits, from its first byte (2 bytes each).
namespace field::udp {
inline constexpr std::size_t kSrcPort = 0;
inline constexpr std::size_t kDstPort = 2;
inline constexpr std::size_t kLength = 4;  // header and data
inline constexpr std::size_t kChecksum = 6;
inline constexpr std::size_t kPayload = 8;
}  // namespace field::udp

struct UdpView {
    static constexpr std::size_t kHeaderLen = field::udp::kPayload;
    Bytes bytes;  // header + captured payload, trimmed to the UDP length

    // In the first fragment of a datagram the UDP length covers fragments not
    // in this packet, so it may exceed `wire_len` (pass `first_fragment`).
    static DecodeError parse(Bytes captured, std::uint32_t wire_len, UdpView& out,
                             bool first_fragment = false) {
        if (wire_len < kHeaderLen) return DecodeError::BadLength;
        if (captured.size() < kHeaderLen) return DecodeError::Truncated;
        const std::uint16_t len = load_be16(captured.data() + field::udp::kLength);
        if (len < kHeaderLen || (len > wire_len && !first_fragment)) return DecodeError::BadLength;
        out.bytes = captured.first(captured.size() < len ? captured.size() : len);
        return DecodeError::None;
    }
    std::uint16_t src_port() const { return load_be16(view_at(bytes, field::udp::kSrcPort)); }
    std::uint16_t dst_port() const { return load_be16(view_at(bytes, field::udp::kDstPort)); }
    std::uint16_t length() const { return load_be16(view_at(bytes, field::udp::kLength)); }
    std::uint16_t checksum() const { return load_be16(view_at(bytes, field::udp::kChecksum)); }
    // The payload carried by this packet (less than length() in a first fragment).
    std::uint32_t payload_wire_len(std::uint32_t wire_len) const {
        const std::uint32_t len = length() < wire_len ? length() : wire_len;
        return len - static_cast<std::uint32_t>(kHeaderLen);
    }
    Bytes payload() const { return bytes.subspan(kHeaderLen); }
};

}  // namespace wl
