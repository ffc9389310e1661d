// TCP header (RFC 9293) with its options. parse() proves the header and every
// option length once; the getters and the option walk read without checks.
#pragma once

#include "decode/bytes.hpp"
#include "decode/events.hpp"
#include "decode/options.hpp"

namespace wl {

namespace tcpflag {
inline constexpr std::uint16_t kFin = 0x001;
inline constexpr std::uint16_t kSyn = 0x002;
inline constexpr std::uint16_t kRst = 0x004;
inline constexpr std::uint16_t kPsh = 0x008;
inline constexpr std::uint16_t kAck = 0x010;
inline constexpr std::uint16_t kUrg = 0x020;
inline constexpr std::uint16_t kEce = 0x040;
inline constexpr std::uint16_t kCwr = 0x080;
inline constexpr std::uint16_t kNs = 0x100;
}  // namespace tcpflag

namespace tcpopt {
inline constexpr std::uint8_t kEnd = optkind::kEnd;
inline constexpr std::uint8_t kNop = optkind::kNop;
inline constexpr std::uint8_t kMss = 2;
inline constexpr std::uint8_t kWindowScale = 3;
inline constexpr std::uint8_t kSackPermitted = 4;
inline constexpr std::uint8_t kSack = 5;
inline constexpr std::uint8_t kTimestamps = 8;
inline constexpr std::uint8_t kMd5 = 19;
inline constexpr std::uint8_t kMptcp = 30;
inline constexpr std::uint8_t kFastOpen = 34;
}  // namespace tcpopt

using TcpOption = HeaderOption;

// Where each field of the TCP header sits, from the header's first byte.
namespace field::tcp {
inline constexpr std::size_t kSrcPort = 0;  // 2 bytes
inline constexpr std::size_t kDstPort = 2;  // 2 bytes
inline constexpr std::size_t kSeq = 4;      // 4 bytes
inline constexpr std::size_t kAck = 8;      // 4 bytes
// High nibble: the header length in 32-bit words; bit 0: the NS flag.
inline constexpr std::size_t kDataOffset = 12;
inline constexpr std::size_t kFlags = 13;      // CWR ECE URG ACK PSH RST SYN FIN
inline constexpr std::size_t kWindow = 14;     // 2 bytes
inline constexpr std::size_t kChecksum = 16;   // 2 bytes
inline constexpr std::size_t kUrgentPtr = 18;  // 2 bytes
inline constexpr std::size_t kOptions = 20;    // options, up to the header length
inline std::size_t header_len(const std::uint8_t* header) {
    return (header[kDataOffset] >> 4) * 4u;
}
}  // namespace field::tcp

struct TcpView {
    static constexpr std::size_t kMinHeaderLen = field::tcp::kOptions;
    Bytes bytes;                     // header + captured payload
    std::uint32_t payload_wire_len;  // segment length on the wire minus the header

    // `captured`: the bytes we have from the TCP header on; `wire_len`: the
    // segment's length according to the IP layer. BadOptionLength does not
    // stop decoding: `out` is filled in, the header is usable.
    static DecodeError parse(Bytes captured, std::uint32_t wire_len, TcpView& out) {
        if (wire_len < kMinHeaderLen) return DecodeError::BadHeaderLength;
        if (captured.size() < kMinHeaderLen) return DecodeError::Truncated;
        const std::size_t hl = field::tcp::header_len(captured.data());
        if (hl < kMinHeaderLen || hl > wire_len) return DecodeError::BadHeaderLength;
        if (hl > captured.size()) return DecodeError::Truncated;
        out.bytes = captured;
        out.payload_wire_len = wire_len - static_cast<std::uint32_t>(hl);
        return options_valid(out.options()) ? DecodeError::None : DecodeError::BadOptionLength;
    }

    // Lengths a well-formed option of a known kind must have.
    static bool option_len_ok(std::uint8_t kind, std::uint8_t len) {
        switch (kind) {
            case tcpopt::kMss:
                return len == 4;
            case tcpopt::kWindowScale:
                return len == 3;
            case tcpopt::kSackPermitted:
                return len == 2;
            case tcpopt::kSack:
                return len >= 10 && (len - 2) % 8 == 0;
            case tcpopt::kTimestamps:
                return len == 10;
            case tcpopt::kMd5:
                return len == 18;
            case tcpopt::kFastOpen:
                return len == 2 || (len >= 6 && len <= 18);
            default:
                return len >= 2;
        }
    }

    // Every option fits the list and has its kind's length.
    static bool options_valid(Bytes opts) {
        OptionIterator it(opts);
        HeaderOption o;
        while (it.next(o)) {
            if (o.len >= 2 && !option_len_ok(o.kind, o.len)) return false;
        }
        return !it.malformed();
    }

    OptionIterator option_iterator() const { return OptionIterator(options()); }

    // Calls f(TcpOption) for each option up to End, stopping early at any
    // option that does not fit (only possible when parse() reported it).
    template <class F>
    void for_each_option(F&& f) const {
        OptionIterator it = option_iterator();
        HeaderOption o;
        while (it.next(o))
            f(o);
    }

    std::uint16_t src_port() const { return load_be16(view_at(bytes, field::tcp::kSrcPort)); }
    std::uint16_t dst_port() const { return load_be16(view_at(bytes, field::tcp::kDstPort)); }
    std::uint32_t seq() const { return load_be32(view_at(bytes, field::tcp::kSeq)); }
    std::uint32_t ack() const { return load_be32(view_at(bytes, field::tcp::kAck)); }
    std::size_t header_len() const { return field::tcp::header_len(view_at(bytes, 0)); }
    std::uint16_t flags() const {  // the nine flags, NS in bit 8
        return static_cast<std::uint16_t>(((*view_at(bytes, field::tcp::kDataOffset) & 0x01) << 8) |
                                          *view_at(bytes, field::tcp::kFlags));
    }
    bool has(std::uint16_t flag) const { return (flags() & flag) != 0; }
    std::uint16_t window() const { return load_be16(view_at(bytes, field::tcp::kWindow)); }
    std::uint16_t checksum() const { return load_be16(view_at(bytes, field::tcp::kChecksum)); }
    std::uint16_t urgent_ptr() const { return load_be16(view_at(bytes, field::tcp::kUrgentPtr)); }
    Bytes options() const {
        return bytes.subspan(field::tcp::kOptions, header_len() - field::tcp::kOptions);
    }
    Bytes payload() const { return bytes.subspan(header_len()); }
};

}  // namespace wl
