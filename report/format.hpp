// Formatters that write straight into memory the caller has made room for
// (OutBuffer::reserve): the hot records (one per connection, up to millions
// under a SYN flood) are built without a bounds check per piece. Each returns
// the end of what it wrote.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace wl::fmt {

// "00".."99": two digits per table read.
inline constexpr auto kPairs = [] {
    std::array<char, 200> t{};
    for (int i = 0; i < 100; ++i) {
        t[static_cast<std::size_t>(2 * i)] = static_cast<char>('0' + i / 10);
        t[static_cast<std::size_t>(2 * i + 1)] = static_cast<char>('0' + i % 10);
    }
    return t;
}();

inline constexpr char kHex[] = "0123456789abcdef";

// A string literal, its length folded at compile time.
template <std::size_t N>
inline char* lit(char* p, const char (&s)[N]) {
    std::memcpy(p, s, N - 1);
    return p + N - 1;
}

inline char* str(char* p, std::string_view s) {
    std::memcpy(p, s.data(), s.size());
    return p + s.size();
}

inline int decimal_digits(std::uint64_t v) {
    int n = 1;
    for (; v >= 10000; v /= 10000)
        n += 4;
    if (v >= 1000) return n + 3;
    if (v >= 100) return n + 2;
    if (v >= 10) return n + 1;
    return n;
}

// Exactly `n` digits of v, zero-padded, ending before `end`.
inline void digits_fixed(char* end, std::uint64_t v, int n) {
    for (; n >= 2; n -= 2) {
        const std::size_t i = static_cast<std::size_t>(v % 100) * 2;
        v /= 100;
        end -= 2;
        std::memcpy(end, &kPairs[i], 2);
    }
    if (n == 1) *--end = static_cast<char>('0' + v % 10);
}

// At most 20 bytes.
inline char* u64(char* p, std::uint64_t v) {
    const int n = decimal_digits(v);
    digits_fixed(p + n, v, n);
    return p + n;
}

// Seconds.fraction from nanoseconds, `digits` (1..9) fraction digits; at most 31 bytes.
inline char* ts(char* p, std::uint64_t ns, int digits = 6) {
    static constexpr std::uint64_t kDiv[10] = {1000000000, 100000000, 10000000, 1000000, 100000,
                                               10000,      1000,      100,      10,      1};
    if (digits < 1) digits = 1;
    if (digits > 9) digits = 9;
    p = u64(p, ns / 1000000000ull);
    *p++ = '.';
    digits_fixed(p + digits, (ns % 1000000000ull) / kDiv[digits], digits);
    return p + digits;
}

// Dotted quad; at most 15 bytes.
inline char* ipv4(char* p, const std::uint8_t* a) {
    for (int i = 0; i < 4; ++i) {
        if (i != 0) *p++ = '.';
        p = u64(p, a[i]);
    }
    return p;
}

// xx:xx:xx:xx:xx:xx; 17 bytes.
inline char* mac(char* p, const std::uint8_t* m) {
    for (int i = 0; i < 6; ++i) {
        if (i != 0) *p++ = ':';
        *p++ = kHex[m[i] >> 4];
        *p++ = kHex[m[i] & 15];
    }
    return p;
}

// RFC 5952 compressed form, as inet_ntop writes it; at most kIpv6Max bytes.
inline constexpr std::size_t kIpv6Max = 45;
inline char* ipv6(char* p, const std::uint8_t* a) {
    std::uint16_t w[8];
    for (int i = 0; i < 8; ++i)
        w[i] = static_cast<std::uint16_t>((a[2 * i] << 8) | a[2 * i + 1]);
    // The longest run of two or more zero groups becomes "::" (the first on ties).
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
    // their dotted tail.
    const bool mapped = best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff));
    for (int i = 0; i < 8; ++i) {
        if (i == best) {
            p = lit(p, "::");
            i += best_len - 1;
            continue;
        }
        if (mapped && i == 6) {
            if (i != best + best_len) *p++ = ':';
            return ipv4(p, a + 12);
        }
        if (i != 0 && i != best + best_len) *p++ = ':';
        bool started = false;
        for (int s = 12; s >= 0; s -= 4) {
            const int d = (w[i] >> s) & 15;
            if (d || started || s == 0) {
                *p++ = kHex[d];
                started = true;
            }
        }
    }
    return p;
}

inline char* ip(char* p, const std::uint8_t* addr, int version) {
    return version == 4 ? ipv4(p, addr) : ipv6(p, addr);
}

}  // namespace wl::fmt
