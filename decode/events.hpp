// Decode events: what was wrong with a packet and where (Suricata's decode
// events). A malformed packet is counted by (layer, event), never a reason to
// stop processing. The tables below are the only list of layers and events:
// the enums, their names and the README check (tests/unit/decode/test_events.cpp)
// are generated from them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string_view>

namespace wl {

// X(enumerator, name)
#define WL_DECODE_LAYERS(X)                                                                    \
    X(None, "none")                                                                            \
    X(Link, "link") /* link-layer pseudo headers: SLL, SLL2, null/loop, ipnet, IPoIB, PKTAP */ \
    X(Ethernet, "eth")                                                                         \
    X(Radiotap, "radiotap") /* 802.11 radio headers: radiotap, Prism, AVS */                   \
    X(Wlan, "wlan")         /* the 802.11 MAC header */                                        \
    X(Llc, "llc")           /* 802.2 LLC and SNAP */                                           \
    X(Vlan, "vlan")                                                                            \
    X(Ppp, "ppp")                                                                              \
    X(Pppoe, "pppoe")                                                                          \
    X(Mpls, "mpls")                                                                            \
    X(Pbb, "pbb")                                                                              \
    X(VnTag, "vntag")                                                                          \
    X(FabricPath, "fabricpath")                                                                \
    X(Chdlc, "chdlc")                                                                          \
    X(FrameRelay, "frelay")                                                                    \
    X(Slip, "slip")                                                                            \
    X(Nflog, "nflog")                                                                          \
    X(Arp, "arp")                                                                              \
    X(Ipv4, "ipv4")                                                                            \
    X(Ipv6, "ipv6")                                                                            \
    X(Ipv6Ext, "ipv6_ext")                                                                     \
    X(Tcp, "tcp")                                                                              \
    X(Udp, "udp")                                                                              \
    X(Icmp, "icmp")                                                                            \
    X(Icmpv6, "icmpv6")

// X(enumerator, name, stops). `stops`: the header that raised the event
// cannot be used, so its layer is not decoded. Otherwise the header's fields
// stay usable and its own checks (the checksum) still run. Either way decoding
// goes no deeper than a header with an event. The order is malformed_by's.
#define WL_DECODE_EVENTS(X)                                                                     \
    X(Truncated, "truncated", true)                    /* the capture ends inside the header */ \
    X(BadHeaderLength, "bad_header_length", true)      /* IHL, data offset, ext length */       \
    X(BadVersion, "bad_version", true)                 /* IP version vs ethertype or link */    \
    X(BadTotalLength, "bad_total_length", true)        /* IP length vs the frame on the wire */ \
    X(BadLength, "bad_length", true)                   /* UDP length, ICMP shorter than 4 */    \
    X(BadOptionLength, "bad_option_length", false)     /* IPv4/TCP option length */             \
    X(BadChecksum, "bad_checksum", false)              /* only with --verify-checksums */       \
    X(TooManyVlanTags, "too_many_vlan_tags", true)     /* more stacked tags than we decode */   \
    X(TooManyExtHeaders, "too_many_ext_headers", true) /* a longer IPv6 extension chain */      \
    X(TooManyMplsLabels, "too_many_mpls_labels", true) /* a longer MPLS label stack */          \
    X(TooManyShims, "too_many_shims", true)            /* link shims nested deeper than we follow */

#define WL_ENUMERATOR(e, ...) e,
enum class Layer : std::uint8_t { WL_DECODE_LAYERS(WL_ENUMERATOR) Count };
enum class DecodeEvent : std::uint8_t { None, WL_DECODE_EVENTS(WL_ENUMERATOR) Count };
#undef WL_ENUMERATOR

// The name most callers know the events by: each is why decoding went wrong.
using DecodeError = DecodeEvent;

namespace decode_events {
#define WL_NAME(e, name, ...) name,
inline constexpr std::string_view kLayerNames[] = {WL_DECODE_LAYERS(WL_NAME)};
inline constexpr std::string_view kEventNames[] = {"none", WL_DECODE_EVENTS(WL_NAME)};
#undef WL_NAME
#define WL_STOPS(e, name, stops) stops,
inline constexpr bool kStops[] = {false, WL_DECODE_EVENTS(WL_STOPS)};
#undef WL_STOPS
static_assert(std::size(kLayerNames) == static_cast<std::size_t>(Layer::Count));
static_assert(std::size(kLayerNames) <= 32, "Packet::layers has a bit per layer");
static_assert(std::size(kEventNames) == static_cast<std::size_t>(DecodeEvent::Count));
}  // namespace decode_events

constexpr std::string_view layer_name(Layer layer) {
    return layer < Layer::Count ? decode_events::kLayerNames[static_cast<std::size_t>(layer)]
                                : std::string_view("?");
}
constexpr std::string_view error_name(DecodeEvent event) {
    return event < DecodeEvent::Count ? decode_events::kEventNames[static_cast<std::size_t>(event)]
                                      : std::string_view("?");
}
// Whether decoding stops at the header that raised `event` (None does not).
constexpr bool stops_decoding(DecodeEvent event) {
    return event < DecodeEvent::Count && decode_events::kStops[static_cast<std::size_t>(event)];
}

// One event and the layer that raised it.
struct LayerEvent {
    Layer layer = Layer::None;
    DecodeEvent event = DecodeEvent::None;
};

// The events of one packet, in the order decoding met them. Fixed size, no
// allocation: decoding goes no deeper than the first header with an event, so
// a packet has at most that header's events (an option and a checksum one).
struct DecodeEvents {
    static constexpr std::size_t kMax = 4;
    std::uint8_t count = 0;
    LayerEvent list[kMax] = {};

    void clear() { count = 0; }
    void add(Layer layer, DecodeEvent event) {
        if (count < kMax) list[count++] = LayerEvent{layer, event};
    }
    bool empty() const { return count == 0; }
    const LayerEvent* begin() const { return list; }
    const LayerEvent* end() const { return list + count; }
    bool contains(Layer layer, DecodeEvent event) const {
        for (const LayerEvent& e : *this) {
            if (e.layer == layer && e.event == event) return true;
        }
        return false;
    }
};

}  // namespace wl
