// IPv4 header (RFC 791). parse() proves the header and its options are inside
// the captured bytes and that the total length fits the frame on the wire.
#pragma once

#include "decode/bytes.hpp"
#include "decode/events.hpp"
#include "decode/options.hpp"

namespace wl {

// Where each field of the IPv4 header sits, from the header's first byte.
namespace field::ipv4 {
inline constexpr std::size_t kVersionIhl = 0;  // version (high nibble), header length in words
inline constexpr std::size_t kTos = 1;
inline constexpr std::size_t kTotalLen = 2;  // 2 bytes
inline constexpr std::size_t kId = 4;        // 2 bytes
inline constexpr std::size_t kFragment = 6;  // 2 bytes: reserved, DF, MF flags, offset (13 bits)
inline constexpr std::size_t kTtl = 8;
inline constexpr std::size_t kProtocol = 9;
inline constexpr std::size_t kChecksum = 10;  // 2 bytes
inline constexpr std::size_t kSrc = 12;       // 4 bytes
inline constexpr std::size_t kDst = 16;       // 4 bytes
inline constexpr std::size_t kOptions = 20;   // options, up to the header length
// Flags in kFragment's first byte.
inline constexpr std::uint8_t kFlagReserved = 0x80;
inline constexpr std::uint8_t kFlagDf = 0x40;
inline constexpr std::uint8_t kFlagMf = 0x20;
inline std::uint8_t version(const std::uint8_t* header) {
    return header[kVersionIhl] >> 4;
}
inline std::size_t header_len(const std::uint8_t* header) {
    return (header[kVersionIhl] & 0x0fu) * 4u;
}
}  // namespace field::ipv4

struct Ipv4View {
    static constexpr std::size_t kMinHeaderLen = field::ipv4::kOptions;
    Bytes bytes;                     // header + captured payload, padding trimmed
    std::uint32_t payload_wire_len;  // total length - header length

    // `captured` are the bytes we have; `wire_len` how many the frame carried
    // from this header on (more than captured when the snap length cut it).
    // BadOptionLength does not stop decoding: `out` is filled in.
    static DecodeError parse(Bytes captured, std::uint32_t wire_len, Ipv4View& out) {
        if (captured.empty()) return DecodeError::Truncated;
        if (field::ipv4::version(captured.data()) != 4) return DecodeError::BadVersion;
        if (captured.size() < kMinHeaderLen) return DecodeError::Truncated;
        const std::size_t hl = field::ipv4::header_len(captured.data());
        if (hl < kMinHeaderLen) return DecodeError::BadHeaderLength;
        std::uint32_t total = load_be16(captured.data() + field::ipv4::kTotalLen);
        // Zero is what TCP segmentation offload (and Linux BIG TCP) leaves in
        // captures taken on the sending host: the frame says how long it is.
        if (total == 0) total = wire_len;
        if (total < hl) return DecodeError::BadTotalLength;
        if (total > wire_len) return DecodeError::BadTotalLength;
        if (hl > captured.size()) return DecodeError::Truncated;
        out.bytes = captured.first(captured.size() < total ? captured.size() : total);
        out.payload_wire_len = total - static_cast<std::uint32_t>(hl);
        if (!options_valid(captured.subspan(kMinHeaderLen, hl - kMinHeaderLen))) {
            return DecodeError::BadOptionLength;
        }
        return DecodeError::None;
    }

    // Every option fits the list (IPv4 sets no length per kind).
    static bool options_valid(Bytes opts) {
        OptionIterator it(opts);
        HeaderOption o;
        while (it.next(o)) {
        }
        return !it.malformed();
    }

    std::size_t header_len() const { return field::ipv4::header_len(view_at(bytes, 0)); }
    std::uint8_t tos() const { return *view_at(bytes, field::ipv4::kTos); }
    std::uint16_t total_len() const {  // the raw field
        return load_be16(view_at(bytes, field::ipv4::kTotalLen));
    }
    // The datagram's length: the field, or the frame's when the field is 0 (offload).
    std::uint32_t datagram_len() const {
        return static_cast<std::uint32_t>(header_len()) + payload_wire_len;
    }
    std::uint16_t id() const { return load_be16(view_at(bytes, field::ipv4::kId)); }
    bool dont_fragment() const {
        return (*view_at(bytes, field::ipv4::kFragment) & field::ipv4::kFlagDf) != 0;
    }
    bool more_fragments() const {
        return (*view_at(bytes, field::ipv4::kFragment) & field::ipv4::kFlagMf) != 0;
    }
    bool reserved_flag() const {
        return (*view_at(bytes, field::ipv4::kFragment) & field::ipv4::kFlagReserved) != 0;
    }
    std::uint16_t fragment_offset() const {  // in 8-byte units
        return load_be16(view_at(bytes, field::ipv4::kFragment)) & 0x1fff;
    }
    bool is_fragment() const { return more_fragments() || fragment_offset() != 0; }
    std::uint8_t ttl() const { return *view_at(bytes, field::ipv4::kTtl); }
    std::uint8_t protocol() const { return *view_at(bytes, field::ipv4::kProtocol); }
    std::uint16_t checksum() const { return load_be16(view_at(bytes, field::ipv4::kChecksum)); }
    const std::uint8_t* src() const { return view_at(bytes, field::ipv4::kSrc); }
    const std::uint8_t* dst() const { return view_at(bytes, field::ipv4::kDst); }
    Bytes header() const { return bytes.first(header_len()); }
    Bytes payload() const { return bytes.subspan(header_len()); }
};

}  // namespace wl
