// Big-endian loads over raw captured bytes. Callers have already proven the
// range is inside the buffer (each view's parse() does that once).
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace wl {

using Bytes = std::span<const std::uint8_t>;

inline std::uint16_t load_be16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
inline std::uint32_t load_be32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}
inline std::uint16_t load_le16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
inline std::uint32_t load_le32(const std::uint8_t* p) {
    return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) |
           (std::uint32_t{p[3]} << 24);
}

// Byte `offset` of a view's bytes. A view left default in Packet (its layer
// not decoded) has none: debug builds stop here instead of reading through a
// null pointer (check Packet::has() first); release builds do not check.
inline const std::uint8_t* view_at(Bytes bytes, std::size_t offset) {
    assert(bytes.data() != nullptr && "header view read before parse(): check Packet::has()");
    return bytes.data() + offset;
}

}  // namespace wl
