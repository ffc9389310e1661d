#include "out_buffer.hpp"

#include <charconv>
#include <cmath>
#include <cstring>

namespace wl {

OutBuffer& OutBuffer::put_long(std::string_view s) {
    while (!s.empty()) {
        if (len_ == kSize) flush();
        const std::size_t n = std::min(s.size(), kSize - len_);
        std::memcpy(buf_ + len_, s.data(), n);
        len_ += n;
        s.remove_prefix(n);
    }
    return *this;
}

OutBuffer& OutBuffer::put_u64(std::uint64_t v) {
    char tmp[24];
    const auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
    return put(std::string_view(tmp, static_cast<std::size_t>(r.ptr - tmp)));
}

OutBuffer& OutBuffer::put_i64(std::int64_t v) {
    char tmp[24];
    const auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
    return put(std::string_view(tmp, static_cast<std::size_t>(r.ptr - tmp)));
}

OutBuffer& OutBuffer::put_ts(std::uint64_t ns, int digits) {
    put_u64(ns / 1000000000ull);
    put('.');
    std::uint64_t frac = ns % 1000000000ull;
    for (int i = digits; i < 9; ++i)
        frac /= 10;
    char tmp[9];
    for (int i = digits - 1; i >= 0; --i) {
        tmp[i] = static_cast<char>('0' + frac % 10);
        frac /= 10;
    }
    return put(std::string_view(tmp, static_cast<std::size_t>(digits)));
}

OutBuffer& OutBuffer::put_fixed(double v, int digits) {
    if (!std::isfinite(v)) return put("0");
    char tmp[64];
    const auto r = std::to_chars(tmp, tmp + sizeof tmp, v, std::chars_format::fixed, digits);
    if (r.ec != std::errc()) return put("0");
    return put(std::string_view(tmp, static_cast<std::size_t>(r.ptr - tmp)));
}

namespace {
constexpr char kHex[] = "0123456789abcdef";
}

OutBuffer& OutBuffer::put_mac(const std::uint8_t* mac) {
    char tmp[17];
    for (int i = 0; i < 6; ++i) {
        tmp[i * 3] = kHex[mac[i] >> 4];
        tmp[i * 3 + 1] = kHex[mac[i] & 15];
        if (i < 5) tmp[i * 3 + 2] = ':';
    }
    return put(std::string_view(tmp, 17));
}

OutBuffer& OutBuffer::put_ipv4(const std::uint8_t* a) {
    for (int i = 0; i < 4; ++i) {
        if (i) put('.');
        put_u64(a[i]);
    }
    return *this;
}

OutBuffer& OutBuffer::put_ipv6(const std::uint8_t* a) {
    std::uint16_t w[8];
    for (int i = 0; i < 8; ++i)
        w[i] = static_cast<std::uint16_t>((a[2 * i] << 8) | a[2 * i + 1]);
    // RFC 5952: the longest run of two or more zero groups becomes "::" (first on ties).
    int best = -1, best_len = 0;
    for (int i = 0; i < 8;) {
        if (w[i] != 0) {
            ++i;
            continue;
        }
        int j = i;
        while (j < 8 && w[j] == 0)
            ++j;
        if (j - i > best_len && j - i >= 2) {
            best = i;
            best_len = j - i;
        }
        i = j;
    }
    // IPv4-mapped (::ffff:a.b.c.d) and -compatible (::a.b.c.d) addresses keep
    // their dotted tail, as inet_ntop writes them.
    const bool mapped = best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff));
    for (int i = 0; i < 8; ++i) {
        if (i == best) {
            put("::");
            i += best_len - 1;
            continue;
        }
        if (mapped && i == 6) {
            if (i != best + best_len) put(':');
            put_ipv4(a + 12);
            break;
        }
        if (i != 0 && i != best + best_len) put(':');
        char tmp[4];
        int n = 0;
        bool started = false;
        for (int s = 12; s >= 0; s -= 4) {
            const int d = (w[i] >> s) & 15;
            if (d || started || s == 0) {
                tmp[n++] = kHex[d];
                started = true;
            }
        }
        put(std::string_view(tmp, static_cast<std::size_t>(n)));
    }
    return *this;
}

OutBuffer& OutBuffer::put_json_string(std::string_view s) {
    put('"');
    std::size_t i = 0;
    while (i < s.size()) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            if (c == '"' || c == '\\') {
                put('\\').put(static_cast<char>(c));
            } else if (c == '\n') {
                put("\\n");
            } else if (c == '\r') {
                put("\\r");
            } else if (c == '\t') {
                put("\\t");
            } else if (c < 0x20 || c == 0x7f) {
                put("\\u00").put(kHex[c >> 4]).put(kHex[c & 15]);
            } else {
                put(static_cast<char>(c));
            }
            ++i;
            continue;
        }
        // Copy a valid UTF-8 sequence; replace anything else.
        std::size_t n = c >= 0xf0 && c <= 0xf4   ? 4
                        : c >= 0xe0 && c <= 0xef ? 3
                        : c >= 0xc2 && c <= 0xdf ? 2
                                                 : 0;
        bool ok = n != 0 && i + n <= s.size();
        for (std::size_t k = 1; ok && k < n; ++k) {
            ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
        }
        if (ok && n == 3) {
            const unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
            ok = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0);  // overlong, surrogate
        }
        if (ok && n == 4) {
            const unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
            ok = !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90);
        }
        if (ok) {
            put(s.substr(i, n));
            i += n;
        } else {
            put("\\ufffd");
            ++i;
        }
    }
    return put('"');
}

bool OutBuffer::flush() {
    if (len_ != 0 && !failed_) {
        if (std::fwrite(buf_, 1, len_, file_) != len_ || std::fflush(file_) != 0) failed_ = true;
    }
    len_ = 0;
    return !failed_;
}

}  // namespace wl
