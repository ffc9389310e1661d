#include "flow/uid.hpp"

#include <array>
#include <cstddef>
#include <cstring>

namespace wl {

namespace {
// Two base-62 digits (low first) per table read: 62 * 62 entries.
constexpr auto kBase62Pairs = [] {
    constexpr char kDigits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    std::array<char, 62 * 62 * 2> t{};
    for (std::size_t i = 0; i < 62 * 62; ++i) {
        t[2 * i] = kDigits[i % 62];
        t[2 * i + 1] = kDigits[i / 62];
    }
    return t;
}();
}  // namespace

void make_uid(std::uint64_t seq, char out[19]) {
    std::uint64_t a = seq * 0x9e3779b97f4a7c15ull;
    a = (a ^ (a >> 30)) * 0xbf58476d1ce4e5b9ull;
    a = (a ^ (a >> 27)) * 0x94d049bb133111ebull;
    a ^= a >> 31;
    std::uint64_t b = (seq + 0x632be59bd9b4e019ull) * 0xd6e8feb86659fd93ull;
    b ^= b >> 32;
    out[0] = 'C';
    // Characters 1-10 are a's base-62 digits, 11-17 b's, lowest first.
    for (int i = 1; i <= 9; i += 2) {
        std::memcpy(out + i, &kBase62Pairs[static_cast<std::size_t>(a % 3844) * 2], 2);
        a /= 3844;
    }
    for (int i = 11; i <= 15; i += 2) {
        std::memcpy(out + i, &kBase62Pairs[static_cast<std::size_t>(b % 3844) * 2], 2);
        b /= 3844;
    }
    out[17] = kBase62Pairs[static_cast<std::size_t>(b % 62) * 2];
    out[18] = '\0';
}

}  // namespace wl
