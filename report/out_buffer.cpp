#include "report/out_buffer.hpp"

#include <charconv>
#include <cmath>
#include <cstring>

#include "report/format.hpp"

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
    commit(fmt::u64(reserve(20), v));
    return *this;
}

OutBuffer& OutBuffer::put_i64(std::int64_t v) {
    if (v >= 0) return put_u64(static_cast<std::uint64_t>(v));
    put('-');
    return put_u64(~static_cast<std::uint64_t>(v) + 1);
}

OutBuffer& OutBuffer::put_ts(std::uint64_t ns, int digits) {
    commit(fmt::ts(reserve(32), ns, digits));
    return *this;
}

OutBuffer& OutBuffer::put_fixed(double v, int digits) {
    if (!std::isfinite(v)) return put("0");
    char tmp[64];
    const auto r = std::to_chars(tmp, tmp + sizeof tmp, v, std::chars_format::fixed, digits);
    if (r.ec != std::errc()) return put("0");
    return put(std::string_view(tmp, static_cast<std::size_t>(r.ptr - tmp)));
}

using fmt::kHex;

OutBuffer& OutBuffer::put_mac(const std::uint8_t* mac) {
    commit(fmt::mac(reserve(17), mac));
    return *this;
}

OutBuffer& OutBuffer::put_ipv4(const std::uint8_t* a) {
    commit(fmt::ipv4(reserve(15), a));
    return *this;
}

OutBuffer& OutBuffer::put_ipv6(const std::uint8_t* a) {
    commit(fmt::ipv6(reserve(fmt::kIpv6Max), a));
    return *this;
}

OutBuffer& OutBuffer::put_json_string(std::string_view s) {
    put('"');
    std::size_t i = 0;
    while (i < s.size()) {
        // A run of printable ASCII that needs no escape goes in one copy.
        std::size_t j = i;
        while (j < s.size()) {
            const unsigned char d = static_cast<unsigned char>(s[j]);
            if (d < 0x20 || d >= 0x7f || d == '"' || d == '\\') break;
            ++j;
        }
        if (j != i) {
            put(s.substr(i, j - i));
            i = j;
            continue;
        }
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
    if (len_ != 0 && !failed_ && consumer_ != nullptr) {
        if (!consumer_->consume(std::string_view(buf_, len_))) failed_ = true;
    } else if (len_ != 0 && !failed_ && file_ != nullptr) {
        if (std::fwrite(buf_, 1, len_, file_) != len_ || std::fflush(file_) != 0) failed_ = true;
    }
    len_ = 0;
    return !failed_;
}

}  // namespace wl
