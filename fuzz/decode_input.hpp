// The input format of fuzz_decode, shared with seed_writer: one selector byte, then
// the frame.
//   low nibble   the link type, an index into kLinkTypes; 15: the next byte is that
//                index (modulo its size) and the frame starts after it
//   high nibble  the wire length: 0 the frame's size; 1..14 that plus 2^n - 1 bytes
//                (a frame cut by the snap length); 15 half the frame's size (a capture
//                claiming fewer bytes on the wire than it holds)
#pragma once

#include <cstddef>
#include <cstdint>

#include "decode/link.hpp"

namespace wl::fuzz::decode_input {

inline constexpr int kLinkTypes[] = {
    linktype::kEthernet, linktype::kLinuxSll, linktype::kLinuxSll2, linktype::kNull,
    linktype::kLoop, linktype::kRaw, linktype::kRawBsd, linktype::kRawLinktype, linktype::kIpv4,
    linktype::kIpv6, linktype::kRadiotap, linktype::kPpp, linktype::kPppEther, linktype::kCHdlc,
    linktype::kFrelay,
    // from here on, through the extension byte
    linktype::kPppSerial, linktype::kSlip, linktype::kNflog, linktype::kIeee80211,
    linktype::kPrism,  // Prism, or AVS when the magic is there
    linktype::kAvs,
    linktype::kAtmRfc1483,  // LLC/SNAP first (DLT_ATM_CLIP is plain IPv4: kIpv4 covers it)
    147,                    // DLT_USER0: not decoded, only counted
    linktype::kIpnet, linktype::kIpoib,
    linktype::kPktap,  // then any link type above by its DLT field
};
inline constexpr std::size_t kNumLinkTypes = sizeof kLinkTypes / sizeof kLinkTypes[0];

inline constexpr unsigned kExtended = 15;

// Whether an extension byte follows the selector.
inline bool extended(std::uint8_t selector) {
    return (selector & 0x0f) == kExtended;
}
inline int link_type(std::uint8_t selector, std::uint8_t extension) {
    const unsigned i = selector & 0x0f;
    return kLinkTypes[(i == kExtended ? extension : i) % kNumLinkTypes];
}

inline std::uint32_t wire_length(std::uint8_t selector, std::uint32_t caplen) {
    const unsigned mode = selector >> 4;
    if (mode == 0) return caplen;
    if (mode == 15) return caplen / 2;
    return caplen + ((1u << mode) - 1);
}

// The index of link type `dlt` in kLinkTypes; -1 if fuzz_decode has none. Below
// kExtended it is the selector of a whole frame; from it on, the selector is
// kExtended and the index follows as the extension byte.
inline int selector_for(int dlt) {
    for (std::size_t i = 0; i < kNumLinkTypes; ++i)
        if (kLinkTypes[i] == dlt) return static_cast<int>(i);
    return -1;
}

}  // namespace wl::fuzz::decode_input
