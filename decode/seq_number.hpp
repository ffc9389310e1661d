// A TCP sequence number (RFC 9293 3.4): 32 bits that wrap, so that "before"
// and "after" are decided by the signed difference modulo 2^32, never by
// comparing the raw values. Shaped after smoltcp's TcpSeqNumber.
#pragma once

#include <cstdint>

namespace wl {

struct SeqNumber {
    std::uint32_t value = 0;

    constexpr SeqNumber() = default;
    constexpr explicit SeqNumber(std::uint32_t v) : value(v) {}

    // The position `n` bytes later (or earlier), wrapping past 2^32.
    constexpr SeqNumber operator+(std::uint32_t n) const { return SeqNumber(value + n); }
    constexpr SeqNumber operator-(std::uint32_t n) const { return SeqNumber(value - n); }
    constexpr SeqNumber& operator+=(std::uint32_t n) {
        value += n;
        return *this;
    }
    // How far `this` lies after `o` (negative: before), taking the shorter
    // way round the sequence space.
    constexpr std::int32_t operator-(SeqNumber o) const {
        return static_cast<std::int32_t>(value - o.value);
    }

    constexpr bool operator==(const SeqNumber&) const = default;
    constexpr bool operator<(SeqNumber o) const { return *this - o < 0; }
    constexpr bool operator>(SeqNumber o) const { return *this - o > 0; }
    constexpr bool operator<=(SeqNumber o) const { return *this - o <= 0; }
    constexpr bool operator>=(SeqNumber o) const { return *this - o >= 0; }
};
static_assert(sizeof(SeqNumber) == 4, "laid out as the header's 32-bit field");

}  // namespace wl
