// Why decoding stopped. A malformed packet is an event, counted by
// (layer, error), never a reason to stop processing (Suricata's model).
#pragma once

#include <cstdint>
#include <string_view>

namespace wl {

enum class Layer : std::uint8_t {
    None,
    Link,  // link-layer pseudo headers: SLL, SLL2, null/loop
    Ethernet,
    Vlan,
    Arp,
    Ipv4,
    Ipv6,
    Ipv6Ext,
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
    Count
};

enum class DecodeError : std::uint8_t {
    None,
    Truncated,          // the capture ends inside the header (snap length or cut)
    BadHeaderLength,    // IHL / data offset / ext-header length impossible
    BadVersion,         // IP version does not match the ethertype / link type
    BadTotalLength,     // IP total/payload length disagrees with the frame on the wire
    BadLength,          // UDP length field impossible
    BadOptionLength,    // TCP/IPv4 option with a length of 0, 1 or past the header
    BadChecksum,        // only with --verify-checksums
    TooManyVlanTags,    // more stacked tags than we decode
    TooManyExtHeaders,  // IPv6 extension chain longer than we follow
    Count
};

std::string_view layer_name(Layer layer);
std::string_view error_name(DecodeError error);

}  // namespace wl
