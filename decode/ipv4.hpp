// IPv4 header (RFC 791). parse() proves the header and its options are inside
// the captured bytes and that the total length fits the frame on the wire.
#pragma once

#include "decode/bytes.hpp"
#include "decode/events.hpp"

namespace wl {

struct Ipv4View {
    static constexpr std::size_t kMinHeaderLen = 20;
    Bytes bytes;                     // header + captured payload, padding trimmed
    std::uint32_t payload_wire_len;  // total length - header length

    // `captured` are the bytes we have; `wire_len` how many the frame carried
    // from this header on (more than captured when the snap length cut it).
    static DecodeError parse(Bytes captured, std::uint32_t wire_len, Ipv4View& out) {
        if (captured.empty()) return DecodeError::Truncated;
        if ((captured[0] >> 4) != 4) return DecodeError::BadVersion;
        if (captured.size() < kMinHeaderLen) return DecodeError::Truncated;
        const std::size_t hl = (captured[0] & 0x0fu) * 4u;
        if (hl < kMinHeaderLen) return DecodeError::BadHeaderLength;
        std::uint32_t total = load_be16(captured.data() + 2);
        // Zero is what TCP segmentation offload (and Linux BIG TCP) leaves in
        // captures taken on the sending host: the frame says how long it is.
        if (total == 0) total = wire_len;
        if (total < hl) return DecodeError::BadTotalLength;
        if (total > wire_len) return DecodeError::BadTotalLength;
        if (hl > captured.size()) return DecodeError::Truncated;
        out.bytes = captured.first(captured.size() < total ? captured.size() : total);
        out.payload_wire_len = total - static_cast<std::uint32_t>(hl);
        if (!options_valid(captured.subspan(kMinHeaderLen, hl - kMinHeaderLen))) {
            return DecodeError::BadOptionLength;  // header fields stay usable
        }
        return DecodeError::None;
    }

    static bool options_valid(Bytes opts) {
        std::size_t i = 0;
        while (i < opts.size()) {
            const std::uint8_t kind = opts[i];
            if (kind == 0) return true;  // end of option list
            if (kind == 1) {             // no-operation
                ++i;
                continue;
            }
            if (i + 1 >= opts.size()) return false;
            const std::uint8_t len = opts[i + 1];
            if (len < 2 || i + len > opts.size()) return false;
            i += len;
        }
        return true;
    }

    std::size_t header_len() const { return (bytes[0] & 0x0fu) * 4u; }
    std::uint8_t tos() const { return bytes[1]; }
    std::uint16_t total_len() const { return load_be16(bytes.data() + 2); }  // the raw field
    // The datagram's length: the field, or the frame's when the field is 0 (offload).
    std::uint32_t datagram_len() const {
        return static_cast<std::uint32_t>(header_len()) + payload_wire_len;
    }
    std::uint16_t id() const { return load_be16(bytes.data() + 4); }
    bool dont_fragment() const { return (bytes[6] & 0x40) != 0; }
    bool more_fragments() const { return (bytes[6] & 0x20) != 0; }
    bool reserved_flag() const { return (bytes[6] & 0x80) != 0; }
    std::uint16_t fragment_offset() const {  // in 8-byte units
        return load_be16(bytes.data() + 6) & 0x1fff;
    }
    bool is_fragment() const { return more_fragments() || fragment_offset() != 0; }
    std::uint8_t ttl() const { return bytes[8]; }
    std::uint8_t protocol() const { return bytes[9]; }
    std::uint16_t checksum() const { return load_be16(bytes.data() + 10); }
    const std::uint8_t* src() const { return bytes.data() + 12; }
    const std::uint8_t* dst() const { return bytes.data() + 16; }
    Bytes header() const { return bytes.first(header_len()); }
    Bytes payload() const { return bytes.subspan(header_len()); }
};

}  // namespace wl
