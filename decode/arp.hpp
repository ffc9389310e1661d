// ARP (RFC 826). Only Ethernet/IPv4 ARP exposes addresses; others are
// recognised by their fixed header alone.
#pragma once

#include "decode/bytes.hpp"
#include "decode/events.hpp"

namespace wl {

struct ArpView {
    static constexpr std::size_t kFixedLen = 8;
    Bytes bytes;

    static DecodeError parse(Bytes buf, ArpView& out) {
        if (buf.size() < kFixedLen) return DecodeError::Truncated;
        const std::size_t addrs = 2u * (buf[4] + buf[5]);
        if (buf.size() < kFixedLen + addrs) return DecodeError::Truncated;
        out.bytes = buf;
        return DecodeError::None;
    }
    std::uint16_t hardware_type() const { return load_be16(bytes.data()); }
    std::uint16_t protocol_type() const { return load_be16(bytes.data() + 2); }
    std::uint8_t hardware_len() const { return bytes[4]; }
    std::uint8_t protocol_len() const { return bytes[5]; }
    std::uint16_t operation() const { return load_be16(bytes.data() + 6); }  // 1 request, 2 reply
    bool is_ether_ipv4() const {
        return hardware_type() == 1 && protocol_type() == 0x0800 && hardware_len() == 6 &&
               protocol_len() == 4;
    }
    // Valid only when is_ether_ipv4().
    const std::uint8_t* sender_mac() const { return bytes.data() + 8; }
    const std::uint8_t* sender_ip() const { return bytes.data() + 14; }
    const std::uint8_t* target_mac() const { return bytes.data() + 18; }
    const std::uint8_t* target_ip() const { return bytes.data() + 24; }
};

}  // namespace wl
