// OutBuffer's formatters against the C library (inet_ntop, snprintf) and
// against JSON parsed back by nlohmann::json.
#include <arpa/inet.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "report/out_buffer.hpp"

using namespace wl;

namespace {

// Runs `write` on an OutBuffer over a temporary file and returns what reached the file.
template <class F>
std::string written(F&& write) {
    std::FILE* f = std::tmpfile();
    REQUIRE(f != nullptr);
    {
        OutBuffer out(f);
        write(out);
    }  // the destructor flushes
    std::rewind(f);
    std::string s;
    char buf[8192];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
        s.append(buf, n);
    std::fclose(f);
    return s;
}

std::vector<std::string> lines_of(const std::string& s) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at < s.size()) {
        const std::size_t nl = s.find('\n', at);
        out.push_back(s.substr(at, nl - at));
        at = nl == std::string::npos ? s.size() : nl + 1;
    }
    return out;
}

std::string ntop6(const std::uint8_t* a) {
    char buf[INET6_ADDRSTRLEN];
    REQUIRE(inet_ntop(AF_INET6, a, buf, sizeof buf) != nullptr);
    return buf;
}

using Addr = std::array<std::uint8_t, 16>;

void set_group(Addr& a, int g, std::uint16_t v) {
    a[2 * g] = static_cast<std::uint8_t>(v >> 8);
    a[2 * g + 1] = static_cast<std::uint8_t>(v);
}

// Random IPv6 addresses shaped like real ones: zero groups alone and in runs
// of every length, ties between runs, short and long non-zero groups,
// IPv4-mapped, IPv4-compatible and NAT64 addresses.
std::vector<Addr> ipv6_samples(std::size_t count) {
    std::mt19937 rng(6);
    auto group = [&] {
        switch (rng() % 5) {
            case 0:
                return static_cast<std::uint16_t>(rng() % 0x10);
            case 1:
                return static_cast<std::uint16_t>(rng() % 0x100);
            case 2:
                return static_cast<std::uint16_t>(rng() % 0x1000);
            case 3:
                return static_cast<std::uint16_t>(0);
            default:
                return static_cast<std::uint16_t>(rng());
        }
    };
    std::vector<Addr> out;
    // Fixed cases first: every zero run position and length on a background of 1s...
    for (int start = 0; start < 8; ++start) {
        for (int len = 0; start + len <= 8; ++len) {
            Addr a{};
            for (int g = 0; g < 8; ++g)
                set_group(a, g, g >= start && g < start + len ? 0 : 1);
            out.push_back(a);
        }
    }
    // ...and every pattern of zero and non-zero groups.
    for (unsigned mask = 0; mask < 256; ++mask) {
        Addr a{};
        for (int g = 0; g < 8; ++g)
            set_group(a, g, (mask >> g) & 1 ? 0 : 0xab0);
        out.push_back(a);
    }
    while (out.size() < count) {
        Addr a{};
        const unsigned mode = rng() % 6;
        for (int g = 0; g < 8; ++g)
            set_group(a, g, mode == 0 ? static_cast<std::uint16_t>(rng()) : group());
        if (mode == 2 || mode == 3) {  // one or two runs of zeros of random length
            for (unsigned r = 0; r < mode - 1; ++r) {
                const int start = static_cast<int>(rng() % 8);
                const int len = 1 + static_cast<int>(rng() % static_cast<unsigned>(8 - start));
                for (int g = start; g < start + len; ++g)
                    set_group(a, g, 0);
            }
        }
        if (mode == 4) {  // IPv4-mapped, IPv4-compatible, or IPv4-translated/NAT64
            const unsigned kind = rng() % 4;
            for (int g = 0; g < 6; ++g)
                set_group(a, g, 0);
            if (kind == 0) set_group(a, 5, 0xffff);
            if (kind == 2) set_group(a, 4, 0xffff);
            if (kind == 3) {
                set_group(a, 0, 0x64);
                set_group(a, 1, 0xff9b);
            }
            for (int i = 12; i < 16; ++i)
                a[i] = rng() % 3 == 0 ? 0 : static_cast<std::uint8_t>(rng());
        }
        out.push_back(a);
    }
    return out;
}

// Unicode 15, table 3-7: the length of the well-formed UTF-8 sequence at s[i], 0 if none.
std::size_t well_formed_at(const std::string& s, std::size_t i) {
    auto byte = [&](std::size_t k) -> int {
        return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : -1;
    };
    auto in = [&](std::size_t k, int lo, int hi) { return byte(k) >= lo && byte(k) <= hi; };
    const int b0 = byte(0);
    if (b0 <= 0x7f) return 1;
    if (b0 >= 0xc2 && b0 <= 0xdf) return in(1, 0x80, 0xbf) ? 2 : 0;
    if (b0 == 0xe0) return in(1, 0xa0, 0xbf) && in(2, 0x80, 0xbf) ? 3 : 0;
    if ((b0 >= 0xe1 && b0 <= 0xec) || b0 == 0xee || b0 == 0xef) {
        return in(1, 0x80, 0xbf) && in(2, 0x80, 0xbf) ? 3 : 0;
    }
    if (b0 == 0xed) return in(1, 0x80, 0x9f) && in(2, 0x80, 0xbf) ? 3 : 0;
    if (b0 == 0xf0) return in(1, 0x90, 0xbf) && in(2, 0x80, 0xbf) && in(3, 0x80, 0xbf) ? 4 : 0;
    if (b0 >= 0xf1 && b0 <= 0xf3) {
        return in(1, 0x80, 0xbf) && in(2, 0x80, 0xbf) && in(3, 0x80, 0xbf) ? 4 : 0;
    }
    if (b0 == 0xf4) return in(1, 0x80, 0x8f) && in(2, 0x80, 0xbf) && in(3, 0x80, 0xbf) ? 4 : 0;
    return 0;
}

// What a JSON reader should get back: each byte not in a well-formed sequence becomes U+FFFD.
std::string expected_text(const std::string& s) {
    std::string out;
    std::size_t i = 0;
    while (i < s.size()) {
        const std::size_t n = well_formed_at(s, i);
        if (n == 0) {
            out += "\xef\xbf\xbd";
            ++i;
        } else {
            out.append(s, i, n);
            i += n;
        }
    }
    return out;
}

std::string json_of(const std::string& s) {
    return written([&](OutBuffer& out) { out.put_json_string(s); });
}

std::string parsed(const std::string& json) {
    return nlohmann::json::parse(json).get<std::string>();  // throws on invalid UTF-8
}

const std::string kFffd = "\xef\xbf\xbd";

std::string times(const std::string& s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i)
        out += s;
    return out;
}

}  // namespace

TEST_CASE("put_ipv6 writes what inet_ntop writes", "[out_buffer]") {
    const std::vector<Addr> addrs = ipv6_samples(10000);
    REQUIRE(addrs.size() == 10000);
    const std::string out = written([&](OutBuffer& o) {
        for (const Addr& a : addrs)
            o.put_ipv6(a.data()).put('\n');
    });
    const std::vector<std::string> lines = lines_of(out);
    REQUIRE(lines.size() == addrs.size());
    int mismatches = 0;
    for (std::size_t i = 0; i < addrs.size(); ++i) {
        const std::string want = ntop6(addrs[i].data());
        if (lines[i] != want && ++mismatches <= 10) {
            FAIL_CHECK("address " << i << ": put_ipv6 wrote " << lines[i] << ", inet_ntop "
                                  << want);
        }
    }
    CHECK(mismatches == 0);

    // A few by name (RFC 5952 section 4 and 5).
    auto one = [](std::initializer_list<std::uint16_t> groups) {
        Addr a{};
        int g = 0;
        for (auto v : groups)
            set_group(a, g++, v);
        return written([&](OutBuffer& o) { o.put_ipv6(a.data()); });
    };
    CHECK(one({0, 0, 0, 0, 0, 0, 0, 0}) == "::");
    CHECK(one({0, 0, 0, 0, 0, 0, 0, 1}) == "::1");
    CHECK(one({1, 0, 0, 0, 0, 0, 0, 0}) == "1::");
    CHECK(one({0x2001, 0xdb8, 0, 0, 0, 0, 0, 1}) == "2001:db8::1");
    CHECK(one({0x2001, 0xdb8, 0, 1, 1, 1, 1, 1}) == "2001:db8:0:1:1:1:1:1");
    CHECK(one({0x2001, 0, 0, 1, 0, 0, 0, 1}) == "2001:0:0:1::1");
    CHECK(one({0x2001, 0xdb8, 0, 0, 1, 0, 0, 1}) == "2001:db8::1:0:0:1");
    CHECK(one({0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0280}) == "::ffff:192.0.2.128");
    CHECK(one({0xfe80, 0, 0, 0, 0x21b, 0x21ff, 0xfe3a, 0x4f5e}) == "fe80::21b:21ff:fe3a:4f5e");
}

TEST_CASE("put_ipv4 and put_mac", "[out_buffer]") {
    std::mt19937 rng(4);
    std::vector<std::array<std::uint8_t, 6>> macs(500);
    std::vector<std::array<std::uint8_t, 4>> ips(500);
    for (auto& m : macs)
        for (auto& b : m)
            b = static_cast<std::uint8_t>(rng() % 4 == 0 ? 0 : rng());
    for (auto& a : ips)
        for (auto& b : a)
            b = static_cast<std::uint8_t>(rng() % 4 == 0 ? rng() % 10 : rng());
    ips[0] = {0, 0, 0, 0};
    ips[1] = {255, 255, 255, 255};
    ips[2] = {10, 0, 100, 9};
    const std::string out = written([&](OutBuffer& o) {
        for (std::size_t i = 0; i < 500; ++i) {
            o.put_ipv4(ips[i].data()).put(' ').put_mac(macs[i].data()).put('\n');
        }
    });
    const std::vector<std::string> lines = lines_of(out);
    REQUIRE(lines.size() == 500);
    for (std::size_t i = 0; i < 500; ++i) {
        char ip[INET_ADDRSTRLEN];
        REQUIRE(inet_ntop(AF_INET, ips[i].data(), ip, sizeof ip));
        char mac[18];
        const auto& m = macs[i];
        std::snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
                      m[4], m[5]);
        CHECK(lines[i] == std::string(ip) + " " + mac);
    }
    CHECK(lines[0].rfind("0.0.0.0 ", 0) == 0);
    CHECK(lines[1].rfind("255.255.255.255 ", 0) == 0);
}

TEST_CASE("put_ts writes seconds and truncated fraction digits", "[out_buffer]") {
    auto ts = [](std::uint64_t ns, int digits) {
        return written([&](OutBuffer& o) { o.put_ts(ns, digits); });
    };
    const std::uint64_t t = 1700000000123456789ull;
    CHECK(ts(t, 9) == "1700000000.123456789");
    CHECK(ts(t, 6) == "1700000000.123456");  // not ...457: it rounds down
    CHECK(ts(t, 3) == "1700000000.123");
    CHECK(ts(t, 1) == "1700000000.1");
    CHECK(ts(999999999, 6) == "0.999999");
    CHECK(ts(999999999, 1) == "0.9");
    CHECK(ts(0, 6) == "0.000000");
    CHECK(ts(1000000005, 9) == "1.000000005");
    CHECK(ts(1000000005, 8) == "1.00000000");
    CHECK(ts(42000, 6) == "0.000042");
    CHECK(ts(std::numeric_limits<std::uint64_t>::max(), 9) == "18446744073.709551615");
    // Against snprintf for random times and every width.
    std::mt19937_64 rng(9);
    for (int i = 0; i < 2000; ++i) {
        const std::uint64_t ns = rng() >> (rng() % 40);
        const int digits = 1 + static_cast<int>(rng() % 9);
        std::uint64_t frac = ns % 1000000000ull;
        for (int d = digits; d < 9; ++d)
            frac /= 10;
        char want[64];
        std::snprintf(want, sizeof want, "%llu.%0*llu",
                      static_cast<unsigned long long>(ns / 1000000000ull), digits,
                      static_cast<unsigned long long>(frac));
        REQUIRE(ts(ns, digits) == want);
    }
}

TEST_CASE("put_u64, put_i64 and put_fixed", "[out_buffer]") {
    const std::string out = written([](OutBuffer& o) {
        o.put_u64(0).put(' ').put_u64(std::numeric_limits<std::uint64_t>::max()).put(' ');
        o.put_i64(std::numeric_limits<std::int64_t>::min()).put(' ').put_i64(-1).put(' ');
        o.put_fixed(1.5, 2).put(' ').put_fixed(-0.125, 3).put(' ').put_fixed(2.0 / 3.0, 4);
        o.put(' ').put_fixed(std::numeric_limits<double>::quiet_NaN(), 2).put(' ');
        o.put_fixed(std::numeric_limits<double>::infinity(), 2);
    });
    CHECK(out == "0 18446744073709551615 -9223372036854775808 -1 1.50 -0.125 0.6667 0 0");
}

TEST_CASE("put_u64 at every digit-count boundary matches snprintf", "[out_buffer]") {
    // The formatter counts digits and writes two at a time: 9/10, 99/100, ...
    // and odd and even lengths are where an off-by-one would show.
    std::vector<std::uint64_t> values = {0, std::numeric_limits<std::uint64_t>::max()};
    std::uint64_t p = 1;
    for (int i = 0; i < 20; ++i) {
        values.push_back(p - 1);
        values.push_back(p);
        values.push_back(p + 1);
        if (p > std::numeric_limits<std::uint64_t>::max() / 10) break;
        p *= 10;
    }
    std::mt19937_64 rng(42);
    for (int i = 0; i < 2000; ++i)
        values.push_back(rng() >> (rng() % 64));
    std::string want;
    for (const std::uint64_t v : values) {
        char tmp[32];
        std::snprintf(tmp, sizeof tmp, "%llu,", static_cast<unsigned long long>(v));
        want += tmp;
    }
    const std::string out = written([&](OutBuffer& o) {
        for (const std::uint64_t v : values)
            o.put_u64(v).put(',');
    });
    CHECK(out == want);
}

TEST_CASE("put_json_string escapes and keeps valid UTF-8", "[out_buffer][json]") {
    CHECK(json_of("") == "\"\"");
    CHECK(json_of("plain") == "\"plain\"");
    CHECK(json_of("a\"b\\c") == R"("a\"b\\c")");
    CHECK(json_of("tab\there\nnl\rcr") == R"("tab\there\nnl\rcr")");
    CHECK(json_of(std::string("\x00\x01\x1f\x7f", 4)) == R"("\u0000\u0001\u001f\u007f")");

    std::string controls;
    for (int c = 0; c < 0x20; ++c)
        controls += static_cast<char>(c);
    controls += "\x7f\"\\/";
    const std::string j = json_of(controls);
    for (char c : j)
        CHECK(static_cast<unsigned char>(c) >= 0x20);
    CHECK(parsed(j) == controls);

    // Valid UTF-8 at every boundary of table 3-7 comes through byte for byte.
    const std::string valid[] = {
        "h\xc3\xa9llo",      // é
        "\xc2\x80",          // U+0080
        "\xdf\xbf",          // U+07FF
        "\xe0\xa0\x80",      // U+0800
        "\xe2\x82\xac",      // €
        "\xed\x9f\xbf",      // U+D7FF, the last before the surrogates
        "\xee\x80\x80",      // U+E000, the first after them
        "\xef\xbf\xbf",      // U+FFFF
        "\xf0\x90\x80\x80",  // U+10000
        "\xf0\x9d\x84\x9e",  // 𝄞
        "\xf3\xbf\xbf\xbf",  // U+FFFFF
        "\xf4\x8f\xbf\xbf",  // U+10FFFF
        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e and ASCII",
    };
    for (const auto& s : valid) {
        INFO(s);
        const std::string out = json_of(s);
        CHECK(out == "\"" + s + "\"");
        CHECK(parsed(out) == s);
    }
}

TEST_CASE("put_json_string replaces each invalid byte with U+FFFD", "[out_buffer][json]") {
    struct Case {
        std::string in;
        std::string want;
    };
    const Case cases[] = {
        {"\x80", kFffd},  // lone continuation
        {"a\xbf"
         "b",
         "a" + kFffd + "b"},                            // lone continuation
        {"\xc0\x80", times(kFffd, 2)},                  // overlong NUL
        {"\xc1\xbf", times(kFffd, 2)},                  // overlong U+007F
        {"\xe0\x80\x80", times(kFffd, 3)},              // overlong 3-byte
        {"\xe0\x9f\xbf", times(kFffd, 3)},              // overlong U+07FF
        {"\xed\xa0\x80", times(kFffd, 3)},              // surrogate U+D800
        {"\xed\xbf\xbf", times(kFffd, 3)},              // surrogate U+DFFF
        {"\xf0\x80\x80\x80", times(kFffd, 4)},          // overlong 4-byte
        {"\xf0\x8f\xbf\xbf", times(kFffd, 4)},          // overlong U+FFFF
        {"\xf4\x90\x80\x80", times(kFffd, 4)},          // U+110000
        {"\xf5\x80\x80\x80", times(kFffd, 4)},          // lead byte beyond F4
        {"\xf8\x88\x80\x80\x80", times(kFffd, 5)},      // old 5-byte form
        {"\xfc\x84\x80\x80\x80\x80", times(kFffd, 6)},  // old 6-byte form
        {"\xfe", kFffd},
        {"\xff"
         "x",
         kFffd + "x"},
        {"\xe2\x82", times(kFffd, 2)},  // cut at the end
        {"\xe2\x82"
         "A",
         times(kFffd, 2) + "A"},  // cut before ASCII
        {"\xf0\x9d\x84", times(kFffd, 3)},
        {"\xc3"
         "\xc3\xa9",
         kFffd + "\xc3\xa9"},  // a lead byte, then a valid é
        {"ok\xc3", "ok" + kFffd},
    };
    for (const auto& c : cases) {
        INFO("input " << nlohmann::json(std::vector<std::uint8_t>(c.in.begin(), c.in.end())));
        const std::string out = json_of(c.in);
        std::string got;
        REQUIRE_NOTHROW(got = parsed(out));
        CHECK(got == c.want);
        CHECK(expected_text(c.in) == c.want);  // the reference agrees with the table
    }
}

TEST_CASE("put_json_string on random bytes parses back to the reference", "[out_buffer][json]") {
    std::mt19937 rng(0xcafe);
    const std::uint8_t interesting[] = {0x00, 0x1f, 0x22, 0x5c, 0x7f, 0x80, 0x8f, 0x90,
                                        0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0,
                                        0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3,
                                        0xf4, 0xf5, 0xf7, 0xf8, 0xfb, 0xfc, 0xfe, 0xff};
    for (int round = 0; round < 5000; ++round) {
        std::string s(rng() % 24, '\0');
        for (auto& c : s) {
            c = static_cast<char>(rng() % 2 ? interesting[rng() % sizeof interesting]
                                            : static_cast<std::uint8_t>(rng()));
        }
        const std::string out = json_of(s);
        INFO("round " << round);
        std::string got;
        REQUIRE_NOTHROW(got = parsed(out));
        REQUIRE(got == expected_text(s));
    }
}

TEST_CASE("OutBuffer writes more than its 64 KiB buffer whole", "[out_buffer]") {
    std::string want;
    std::mt19937 rng(64);
    const std::string out = written([&](OutBuffer& o) {
        // Single characters across several buffer boundaries.
        for (int i = 0; i < 150000; ++i) {
            const char c = static_cast<char>('a' + i % 26);
            o.put(c);
            want += c;
        }
        // One string longer than the buffer, starting part-way into it.
        std::string big(200001, '\0');
        for (auto& c : big)
            c = static_cast<char>('0' + rng() % 10);
        o.put(big);
        want += big;
        // Formatted pieces straddling the boundaries.
        for (std::uint64_t i = 0; i < 20000; ++i) {
            o.put_u64(i * 7919).put(',');
            want += std::to_string(i * 7919) + ',';
        }
        CHECK(o.flush());
        CHECK_FALSE(o.failed());
        o.put("tail");
        want += "tail";
    });
    CHECK(out.size() == want.size());
    CHECK(out == want);
}

TEST_CASE("OutBuffer reports a failed write", "[out_buffer]") {
    std::FILE* f = std::fopen("/dev/null", "r");
    REQUIRE(f != nullptr);
    {
        OutBuffer out(f);
        out.put("x");
        CHECK_FALSE(out.flush());
        CHECK(out.failed());
        out.put("more");
        CHECK_FALSE(out.flush());
    }
    std::fclose(f);
}

TEST_CASE("put of a char buffer writes up to its NUL, not its size", "[out_buffer]") {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s", "abc");
    CHECK(written([&](OutBuffer& out) { out.put(buf).put("|").put(std::string_view("de")); }) ==
          "abc|de");
    // Pieces longer than the room left are split across flushes, byte for byte.
    const std::string big(200000, 'x');
    CHECK(written([&](OutBuffer& out) { out.put("<").put(big).put(">"); }) == "<" + big + ">");
}
