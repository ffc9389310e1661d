// The input format of fuzz_segments: a few settings, then a script of TCP segments
// between fixed endpoints, which the harness turns into real Ethernet frames.
// seed_writer encodes its seeds with the same definitions.
//
// Settings, 3 bytes:
//   byte 0  bits 0-1 connections - 1 (modulo 3: 1 to 3 connections)
//           bit 2 IPv6 endpoints              bit 3 the server port is an --upload-port
//           bit 4 SHA-256 of bodies           bit 5 carve bodies (partial ones kept)
//           bit 6 small reassembly buffers    bit 7 ladder logs
//   byte 1  max_header = 16 + 16 * byte
//   byte 2  the initial sequence numbers: client (byte << 24) | 0xfffff0, server its
//           complement (byte 0xff puts the client's next to the 2^32 wrap)
// Then per segment, until the input ends:
//   byte 0  bits 0-1 connection (modulo the count)   bit 2 direction (1: server to client)
//           bit 3 absolute sequence number           bit 4 absolute acknowledgement
//           bit 5 snapped: only half the payload captured
//           bits 6-7 time before it: +1 ms, +0, +1 s, +301 s (past the TCP timeout)
//   byte 1  TCP flags (FIN SYN RST PSH ACK URG ECE CWR)
//   seq     4 bytes absolute, or a signed byte added to where the direction's
//           previous segment ended (0: right after it; the first: the ISN)
//   ack     4 bytes absolute, or a signed byte added to where the other direction's
//           previous segment ended
//   byte    window / 256 (0: a zero window)
//   length  one byte below 0xf0, else 12 bits: (byte & 0x0f) << 8 | next byte
//   payload that many bytes (fewer if the input ends)
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "fuzz/fuzz_input.hpp"

namespace wl::fuzz::segments {

struct Settings {
    int connections = 1;
    bool ipv6 = false;
    bool upload_port = false;
    bool sha256 = false;
    bool extract = false;
    bool small_buffers = false;
    bool ladder = false;
    std::uint8_t max_header_byte = 15;  // 256
    std::uint8_t isn_byte = 1;

    std::uint32_t max_header() const { return 16u + 16u * max_header_byte; }
    std::uint32_t isn(int dir) const {
        const std::uint32_t client = std::uint32_t{isn_byte} << 24 | 0xfffff0u;
        return dir == 0 ? client : ~client;
    }
};

inline constexpr int kMaxConnections = 3;
inline constexpr std::uint32_t kMaxPayload = 4095;

enum class Step : std::uint8_t { Millisecond = 0, None = 1, Second = 2, PastTimeout = 3 };

struct Segment {
    int conn = 0;
    int dir = 0;
    bool seq_absolute = false;
    bool ack_absolute = false;
    bool snapped = false;
    Step step = Step::Millisecond;
    std::uint8_t flags = 0;
    std::uint32_t seq = 0;  // when seq_absolute
    std::int8_t seq_delta = 0;
    std::uint32_t ack = 0;  // when ack_absolute
    std::int8_t ack_delta = 0;
    std::uint8_t window = 0xff;
    std::span<const std::uint8_t> payload;
};

inline Settings read_settings(FuzzInput& in) {
    Settings s;
    const std::uint8_t b = in.u8();
    s.connections = (b & 3) % kMaxConnections + 1;
    s.ipv6 = b & 0x04;
    s.upload_port = b & 0x08;
    s.sha256 = b & 0x10;
    s.extract = b & 0x20;
    s.small_buffers = b & 0x40;
    s.ladder = b & 0x80;
    s.max_header_byte = in.u8();
    s.isn_byte = in.u8();
    return s;
}

// False once the input is used up.
inline bool read_segment(FuzzInput& in, Segment& seg) {
    if (in.empty()) return false;
    const std::uint8_t b = in.u8();
    seg.conn = b & 3;
    seg.dir = (b >> 2) & 1;
    seg.seq_absolute = b & 0x08;
    seg.ack_absolute = b & 0x10;
    seg.snapped = b & 0x20;
    seg.step = static_cast<Step>(b >> 6);
    seg.flags = in.u8();
    if (seg.seq_absolute) {
        seg.seq = in.u32();
    } else {
        seg.seq_delta = static_cast<std::int8_t>(in.u8());
    }
    if (seg.ack_absolute) {
        seg.ack = in.u32();
    } else {
        seg.ack_delta = static_cast<std::int8_t>(in.u8());
    }
    seg.window = in.u8();
    std::uint32_t len = in.u8();
    if (len >= 0xf0) len = (len & 0x0f) << 8 | in.u8();
    seg.payload = in.bytes(len);
    return true;
}

inline void write_settings(std::vector<std::uint8_t>& out, const Settings& s) {
    out.push_back(static_cast<std::uint8_t>((s.connections - 1) | (s.ipv6 ? 0x04 : 0) |
                                            (s.upload_port ? 0x08 : 0) | (s.sha256 ? 0x10 : 0) |
                                            (s.extract ? 0x20 : 0) | (s.small_buffers ? 0x40 : 0) |
                                            (s.ladder ? 0x80 : 0)));
    out.push_back(s.max_header_byte);
    out.push_back(s.isn_byte);
}

inline void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
        out.push_back(static_cast<std::uint8_t>(v >> shift));
}

// The payload must be at most kMaxPayload bytes.
inline void write_segment(std::vector<std::uint8_t>& out, const Segment& seg) {
    out.push_back(static_cast<std::uint8_t>(
        seg.conn | seg.dir << 2 | (seg.seq_absolute ? 0x08 : 0) | (seg.ack_absolute ? 0x10 : 0) |
        (seg.snapped ? 0x20 : 0) | static_cast<int>(seg.step) << 6));
    out.push_back(seg.flags);
    if (seg.seq_absolute) {
        put_u32(out, seg.seq);
    } else {
        out.push_back(static_cast<std::uint8_t>(seg.seq_delta));
    }
    if (seg.ack_absolute) {
        put_u32(out, seg.ack);
    } else {
        out.push_back(static_cast<std::uint8_t>(seg.ack_delta));
    }
    out.push_back(seg.window);
    const auto len = static_cast<std::uint32_t>(seg.payload.size());
    if (len < 0xf0) {
        out.push_back(static_cast<std::uint8_t>(len));
    } else {
        out.push_back(static_cast<std::uint8_t>(0xf0 | len >> 8));
        out.push_back(static_cast<std::uint8_t>(len));
    }
    out.insert(out.end(), seg.payload.begin(), seg.payload.end());
}

}  // namespace wl::fuzz::segments
