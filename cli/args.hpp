// wirelens: the numbers given on the command line, checked the same way for
// every option: one line naming the option, the value given and what it takes.
#pragma once

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "pipeline/memory_plan.hpp"

namespace wl::cli {

// Digits only (no sign, no spaces): "-1" is refused, not wrapped to 2^64-1.
inline bool parse_whole(const std::string& text, std::uint64_t& v) {
    if (text.empty()) return false;
    for (const char ch : text) {
        if (ch < '0' || ch > '9') return false;
    }
    errno = 0;
    const unsigned long long n = std::strtoull(text.c_str(), nullptr, 10);
    if (errno != 0) return false;
    v = n;
    return true;
}

// A plain decimal number ("0.5", "30", "1e3"); no inf or nan.
inline bool parse_real(const std::string& text, double& v) {
    if (text.empty() || text[0] == ' ' || text[0] == '\t') return false;
    char* end = nullptr;
    errno = 0;
    const double d = std::strtod(text.c_str(), &end);
    if (errno != 0 || end == text.c_str() || *end != '\0' || !std::isfinite(d)) return false;
    v = d;
    return true;
}

// "1", "0.5", "86400": no trailing zeros.
inline std::string plain(double d) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6f", d);
    std::string s(buf);
    while (!s.empty() && s.back() == '0')
        s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
}

// "4G", "256K", "1000 bytes": the shortest exact form (K, M, G: what parse_size takes).
inline std::string size_text(std::uint64_t b) {
    const char* units[] = {"", "K", "M", "G"};
    int u = 0;
    while (u < 3 && b != 0 && b % 1024 == 0) {
        b /= 1024;
        ++u;
    }
    if (u == 0) return std::to_string(b) + (b == 1 ? " byte" : " bytes");
    return std::to_string(b) + units[u];
}

inline std::string mib_text(std::uint64_t b) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(b) / (1 << 20));
    return buf;
}

// Each check returns "" when `text` is taken, else the message after
// "wirelens: OPTION TEXT: ".

inline std::string check_whole(const std::string& text, std::uint64_t lo, std::uint64_t hi,
                               std::uint64_t& v) {
    std::uint64_t n = 0;
    if (!parse_whole(text, n) || n < lo || n > hi) {
        return "must be a whole number from " + std::to_string(lo) + " to " + std::to_string(hi);
    }
    v = n;
    return "";
}

// Seconds: above 0 (or from 0 when zero_ok), at most `hi`.
inline std::string check_seconds(const std::string& text, bool zero_ok, double hi, double& v) {
    double d = 0;
    if (!parse_real(text, d) || d < 0 || (d == 0 && !zero_ok) || d > hi) {
        return zero_ok ? "must be a number of seconds from 0 to " + plain(hi)
                       : "must be a number of seconds above 0 (at most " + plain(hi) + ")";
    }
    v = d;
    return "";
}

// A number from lo to hi (above lo when lo_open); `what` names it ("a share").
inline std::string check_real(const std::string& text, double lo, bool lo_open, double hi,
                              double& v) {
    double d = 0;
    if (!parse_real(text, d) || d < lo || (lo_open && d == lo) || d > hi) {
        return "must be a number " + std::string(lo_open ? "above " : "from ") + plain(lo) +
               (lo_open ? " (at most " + plain(hi) + ")" : " to " + plain(hi));
    }
    v = d;
    return "";
}

// Bytes, with the suffixes of --max-memory (K, M, G; KiB, MB...: binary units).
inline std::string check_size(const std::string& text, std::uint64_t lo, std::uint64_t hi,
                              std::uint64_t& v) {
    const std::string range = "must be a size from " + size_text(lo) + " to " + size_text(hi) +
                              " (bytes, or with K, M or G)";
    std::uint64_t b = 0;
    if (!parse_whole(text, b) && !parse_size(text, b)) return range;
    if (b < lo || b > hi) return range + "; " + text + " is " + std::to_string(b) + " bytes";
    v = b;
    return "";
}

// A connection uid as wirelens writes them: C and 17 letters or digits.
inline bool looks_like_uid(const std::string& word) {
    if (word.size() != 18 || word[0] != 'C') return false;
    for (std::size_t i = 1; i < word.size(); ++i) {
        const char ch = word[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')))
            return false;
    }
    return true;
}

}  // namespace wl::cli
