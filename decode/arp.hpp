// ARP (RFC 826). Only Ethernet/IPv4 ARP exposes addresses; others are
// recognised by their fixed header alone.
#pragma once

#include "decode/bytes.hpp"
#include "decode/events.hpp"

namespace wl {

// Where each field of an ARP message sits; the addresses' offsets hold for
// Ethernet/IPv4 ARP only (6-byte and 4-byte addresses).
namespace field::arp {
inline constexpr std::size_t kHardwareType = 0;  // 2 bytes
inline constexpr std::size_t kProtocolType = 2;  // 2 bytes
inline constexpr std::size_t kHardwareLen = 4;
inline constexpr std::size_t kProtocolLen = 5;
inline constexpr std::size_t kOperation = 6;  // 2 bytes
inline constexpr std::size_t kAddresses = 8;  // sender hardware, sender protocol, target ...
inline constexpr std::size_t kSenderMac = 8;
inline constexpr std::size_t kSenderIp = 14;
inline constexpr std::size_t kTargetMac = 18;
inline constexpr std::size_t kTargetIp = 24;
}  // namespace field::arp

struct ArpView {
    static constexpr std::size_t kFixedLen = field::arp::kAddresses;
    Bytes bytes;

    static DecodeError parse(Bytes buf, ArpView& out) {
        if (buf.size() < kFixedLen) return DecodeError::Truncated;
        const std::size_t addrs =
            2u * (buf[field::arp::kHardwareLen] + buf[field::arp::kProtocolLen]);
        if (buf.size() < kFixedLen + addrs) return DecodeError::Truncated;
        out.bytes = buf;
        return DecodeError::None;
    }
    std::uint16_t hardware_type() const {
        return load_be16(view_at(bytes, field::arp::kHardwareType));
    }
    std::uint16_t protocol_type() const {
        return load_be16(view_at(bytes, field::arp::kProtocolType));
    }
    std::uint8_t hardware_len() const { return *view_at(bytes, field::arp::kHardwareLen); }
    std::uint8_t protocol_len() const { return *view_at(bytes, field::arp::kProtocolLen); }
    std::uint16_t operation() const {  // 1 request, 2 reply
        return load_be16(view_at(bytes, field::arp::kOperation));
    }
    bool is_ether_ipv4() const {
        return hardware_type() == 1 && protocol_type() == 0x0800 && hardware_len() == 6 &&
               protocol_len() == 4;
    }
    // Valid only when is_ether_ipv4().
    const std::uint8_t* sender_mac() const { return view_at(bytes, field::arp::kSenderMac); }
    const std::uint8_t* sender_ip() const { return view_at(bytes, field::arp::kSenderIp); }
    const std::uint8_t* target_mac() const { return view_at(bytes, field::arp::kTargetMac); }
    const std::uint8_t* target_ip() const { return view_at(bytes, field::arp::kTargetIp); }
};

}  // namespace wl
