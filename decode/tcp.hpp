// TCP header (RFC 9293) with its options. parse() proves the header and every
// option length once; the getters and the option walk read without checks.
#pragma once

#include "decode/bytes.hpp"
#include "decode/events.hpp"

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
inline constexpr std::uint8_t kEnd = 0;
inline constexpr std::uint8_t kNop = 1;
inline constexpr std::uint8_t kMss = 2;
inline constexpr std::uint8_t kWindowScale = 3;
inline constexpr std::uint8_t kSackPermitted = 4;
inline constexpr std::uint8_t kSack = 5;
inline constexpr std::uint8_t kTimestamps = 8;
inline constexpr std::uint8_t kMd5 = 19;
inline constexpr std::uint8_t kMptcp = 30;
inline constexpr std::uint8_t kFastOpen = 34;
}  // namespace tcpopt

struct TcpOption {
    std::uint8_t kind;
    std::uint8_t len;          // whole option, kind and length bytes included (1 for EOL/NOP)
    const std::uint8_t* data;  // len - 2 bytes of option data
    std::uint8_t data_len() const { return len >= 2 ? static_cast<std::uint8_t>(len - 2) : 0; }
};

struct TcpView {
    static constexpr std::size_t kMinHeaderLen = 20;
    Bytes bytes;                     // header + captured payload
    std::uint32_t payload_wire_len;  // segment length on the wire minus the header

    // `captured`: the bytes we have from the TCP header on; `wire_len`: the
    // segment's length according to the IP layer. Returns BadOptionLength with
    // `out` filled in when only the options are broken: the header is usable.
    static DecodeError parse(Bytes captured, std::uint32_t wire_len, TcpView& out) {
        if (wire_len < kMinHeaderLen) return DecodeError::BadHeaderLength;
        if (captured.size() < kMinHeaderLen) return DecodeError::Truncated;
        const std::size_t hl = (captured[12] >> 4) * 4u;
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

    static bool options_valid(Bytes opts) {
        std::size_t i = 0;
        while (i < opts.size()) {
            const std::uint8_t kind = opts[i];
            if (kind == tcpopt::kEnd) return true;
            if (kind == tcpopt::kNop) {
                ++i;
                continue;
            }
            if (i + 1 >= opts.size()) return false;
            const std::uint8_t len = opts[i + 1];
            if (len < 2 || i + len > opts.size() || !option_len_ok(kind, len)) return false;
            i += len;
        }
        return true;
    }

    // Calls f(TcpOption) for each option up to End, stopping early at any
    // option that does not fit (only possible when parse() reported it).
    template <class F>
    void for_each_option(F&& f) const {
        const Bytes opts = options();
        std::size_t i = 0;
        while (i < opts.size()) {
            const std::uint8_t kind = opts[i];
            if (kind == tcpopt::kEnd || kind == tcpopt::kNop) {
                f(TcpOption{kind, 1, opts.data() + i});
                if (kind == tcpopt::kEnd) return;
                ++i;
                continue;
            }
            if (i + 1 >= opts.size()) return;
            const std::uint8_t len = opts[i + 1];
            if (len < 2 || i + len > opts.size()) return;
            f(TcpOption{kind, len, opts.data() + i + 2});
            i += len;
        }
    }

    std::uint16_t src_port() const { return load_be16(bytes.data()); }
    std::uint16_t dst_port() const { return load_be16(bytes.data() + 2); }
    std::uint32_t seq() const { return load_be32(bytes.data() + 4); }
    std::uint32_t ack() const { return load_be32(bytes.data() + 8); }
    std::size_t header_len() const { return (bytes[12] >> 4) * 4u; }
    std::uint16_t flags() const {  // the nine flags, NS in bit 8
        return static_cast<std::uint16_t>(((bytes[12] & 0x01) << 8) | bytes[13]);
    }
    bool has(std::uint16_t flag) const { return (flags() & flag) != 0; }
    std::uint16_t window() const { return load_be16(bytes.data() + 14); }
    std::uint16_t checksum() const { return load_be16(bytes.data() + 16); }
    std::uint16_t urgent_ptr() const { return load_be16(bytes.data() + 18); }
    Bytes options() const { return bytes.subspan(kMinHeaderLen, header_len() - kMinHeaderLen); }
    Bytes payload() const { return bytes.subspan(header_len()); }
};

}  // namespace wl
