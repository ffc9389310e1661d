// UDP header (RFC 768) with its length checked against the IP payload.
#pragma once

#include "decode/bytes.hpp"
#include "decode/events.hpp"

namespace wl {

struct UdpView {
    static constexpr std::size_t kHeaderLen = 8;
    Bytes bytes;  // header + captured payload, trimmed to the UDP length

    // In the first fragment of a datagram the UDP length covers fragments not
    // in this packet, so it may exceed `wire_len` (pass `first_fragment`).
    static DecodeError parse(Bytes captured, std::uint32_t wire_len, UdpView& out,
                             bool first_fragment = false) {
        if (wire_len < kHeaderLen) return DecodeError::BadLength;
        if (captured.size() < kHeaderLen) return DecodeError::Truncated;
        const std::uint16_t len = load_be16(captured.data() + 4);
        if (len < kHeaderLen || (len > wire_len && !first_fragment)) return DecodeError::BadLength;
        out.bytes = captured.first(captured.size() < len ? captured.size() : len);
        return DecodeError::None;
    }
    std::uint16_t src_port() const { return load_be16(bytes.data()); }
    std::uint16_t dst_port() const { return load_be16(bytes.data() + 2); }
    std::uint16_t length() const { return load_be16(bytes.data() + 4); }
    std::uint16_t checksum() const { return load_be16(bytes.data() + 6); }
    // The payload carried by this packet (less than length() in a first fragment).
    std::uint32_t payload_wire_len(std::uint32_t wire_len) const {
        const std::uint32_t len = length() < wire_len ? length() : wire_len;
        return len - static_cast<std::uint32_t>(kHeaderLen);
    }
    Bytes payload() const { return bytes.subspan(kHeaderLen); }
};

// ICMP (RFC 792) and ICMPv6 (RFC 4443) share the first four bytes.
struct IcmpView {
    static constexpr std::size_t kHeaderLen = 4;
    Bytes bytes;

    static DecodeError parse(Bytes captured, std::uint32_t wire_len, IcmpView& out) {
        if (wire_len < kHeaderLen) return DecodeError::BadLength;
        if (captured.size() < kHeaderLen) return DecodeError::Truncated;
        out.bytes = captured;
        return DecodeError::None;
    }
    std::uint8_t type() const { return bytes[0]; }
    std::uint8_t code() const { return bytes[1]; }
    std::uint16_t checksum() const { return load_be16(bytes.data() + 2); }
    bool has_echo_fields() const { return bytes.size() >= 8; }
    std::uint16_t echo_id() const { return load_be16(bytes.data() + 4); }
    std::uint16_t echo_seq() const { return load_be16(bytes.data() + 6); }
};

}  // namespace wl
