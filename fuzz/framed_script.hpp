// The input format of fuzz_framed: settings, a list of operations on two stream
// directions (which say where the data is cut), then the data the operations consume
// in turn. seed_writer encodes its seeds with the same definitions.
//
// Settings, 3 bytes:
//   byte 0  bit 0 / bit 1 allow_headerless for direction 0 / 1    bit 2 SHA-256
//           bit 3 forced (an --upload-port stream)
//           bits 4-5 max_header: 16, 64, 256, 65536
//           bit 6 max_headerless 4096 (else the default)   bit 7 --size-key "len"
//   byte 1  how each direction ends (StreamEnd, modulo 5): low nibble direction 0,
//           high nibble direction 1
//   byte 2  the number of operations
// Operations, 2 bytes each: bit 15 the direction, bits 13-14 the kind, bits 0-12 a
// length L:
//   Data         the next L bytes of data, as a segment of their own
//   SameSegment  the next L bytes of data, in the same segment as the previous data
//   Gap          L bytes never seen (gap())
//   Jump         the next data comes L - 4096 bytes from where the stream stands (ahead:
//                a hole no gap() announced; behind: bytes seen already)
// The data left after the operations goes to direction 0 as one segment; then both
// directions end.
#pragma once

#include <cstdint>
#include <vector>

#include "fuzz/fuzz_input.hpp"

namespace wl::fuzz::framed {

enum class Kind : std::uint8_t { Data = 0, SameSegment = 1, Gap = 2, Jump = 3 };

inline constexpr std::uint32_t kMaxLength = 8191;
inline constexpr std::int64_t kJumpBias = 4096;
inline constexpr std::uint32_t kMaxHeaders[4] = {16, 64, 256, 65536};

struct Settings {
    bool allow_headerless[2] = {false, false};
    bool sha256 = false;
    bool forced = false;
    std::uint8_t max_header_index = 3;
    bool small_headerless = false;
    bool size_key = false;
    std::uint8_t end[2] = {0, 0};  // StreamEnd values
    std::uint8_t ops = 0;
};

struct Op {
    int dir = 0;
    Kind kind = Kind::Data;
    std::uint32_t length = 0;
};

inline Settings read_settings(FuzzInput& in) {
    Settings s;
    const std::uint8_t b = in.u8();
    s.allow_headerless[0] = b & 0x01;
    s.allow_headerless[1] = b & 0x02;
    s.sha256 = b & 0x04;
    s.forced = b & 0x08;
    s.max_header_index = (b >> 4) & 3;
    s.small_headerless = b & 0x40;
    s.size_key = b & 0x80;
    const std::uint8_t e = in.u8();
    s.end[0] = static_cast<std::uint8_t>((e & 0x0f) % 5);
    s.end[1] = static_cast<std::uint8_t>((e >> 4) % 5);
    s.ops = in.u8();
    return s;
}

inline Op read_op(FuzzInput& in) {
    const std::uint16_t v = in.u16();
    return Op{v >> 15, static_cast<Kind>((v >> 13) & 3), v & 0x1fffu};
}

inline void write_settings(std::vector<std::uint8_t>& out, const Settings& s) {
    out.push_back(static_cast<std::uint8_t>(
        (s.allow_headerless[0] ? 0x01 : 0) | (s.allow_headerless[1] ? 0x02 : 0) |
        (s.sha256 ? 0x04 : 0) | (s.forced ? 0x08 : 0) | (s.max_header_index & 3) << 4 |
        (s.small_headerless ? 0x40 : 0) | (s.size_key ? 0x80 : 0)));
    out.push_back(static_cast<std::uint8_t>(s.end[0] | s.end[1] << 4));
    out.push_back(s.ops);
}

// The length must be at most kMaxLength.
inline void write_op(std::vector<std::uint8_t>& out, const Op& op) {
    const std::uint32_t v = static_cast<std::uint32_t>(op.dir) << 15 |
                            static_cast<std::uint32_t>(op.kind) << 13 | op.length;
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v));
}

}  // namespace wl::fuzz::framed
