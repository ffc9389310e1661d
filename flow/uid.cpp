#include "flow/uid.hpp"

#include <array>
#include <cstddef>
#include <cstring>
#include <utility>

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

// Two unrelated bijective 64-bit finalisers (multiply, xor-shift rounds with
// different constants), so the two hashes below are independent.
constexpr std::uint64_t mix_a(std::uint64_t x) {
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}
constexpr std::uint64_t mix_b(std::uint64_t x) {
    x = (x ^ (x >> 33)) * 0xff51afd7ed558ccdull;
    x = (x ^ (x >> 33)) * 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

constexpr int kWords = 7;

// One chain over the words: each word is folded into the state and the state
// mixed again, so every word reaches every output bit; `seed` and the
// position constant keep the two chains and the word positions apart.
template <std::uint64_t (*Mix)(std::uint64_t)>
std::uint64_t chain(const std::uint64_t (&w)[kWords], std::uint64_t seed) {
    std::uint64_t h = Mix(seed);
    for (int i = 0; i < kWords; ++i) {
        h = Mix(h ^ w[i] ^ (0x9e3779b97f4a7c15ull * static_cast<std::uint64_t>(i + 1)));
    }
    return h;
}

// The address as two words and the port, in an order both ends agree on.
struct EndpointWords {
    std::uint64_t hi, lo;
    std::uint16_t port;
    bool operator<(const EndpointWords& o) const {
        if (hi != o.hi) return hi < o.hi;
        if (lo != o.lo) return lo < o.lo;
        return port < o.port;
    }
};

EndpointWords words_of(const Endpoint& e) {
    EndpointWords w{};
    std::memcpy(&w.hi, e.addr, 8);
    std::memcpy(&w.lo, e.addr + 8, 8);
    w.port = e.port;
    return w;
}
}  // namespace

void make_uid(std::uint8_t proto, std::uint8_t ip_version, const Endpoint& a, const Endpoint& b,
              std::uint64_t first_ns, std::uint64_t tie, char out[19]) {
    EndpointWords x = words_of(a), y = words_of(b);
    if (y < x) std::swap(x, y);
    const std::uint64_t w[kWords] = {
        x.hi,
        x.lo,
        y.hi,
        y.lo,
        std::uint64_t{x.port} << 48 | std::uint64_t{y.port} << 32 | std::uint64_t{proto} << 8 |
            ip_version,
        first_ns,
        tie,
    };
    std::uint64_t h1 = chain<mix_a>(w, 0x5769726c656e7331ull);
    std::uint64_t h2 = chain<mix_b>(w, 0x7569642d32303236ull);
    out[0] = 'C';
    // Characters 1-10 are h1's base-62 digits (about 59.5 of its bits), 11-17
    // h2's (about 41.7 bits), lowest first: some 101 bits in all.
    for (int i = 1; i <= 9; i += 2) {
        std::memcpy(out + i, &kBase62Pairs[static_cast<std::size_t>(h1 % 3844) * 2], 2);
        h1 /= 3844;
    }
    for (int i = 11; i <= 15; i += 2) {
        std::memcpy(out + i, &kBase62Pairs[static_cast<std::size_t>(h2 % 3844) * 2], 2);
        h2 /= 3844;
    }
    out[17] = kBase62Pairs[static_cast<std::size_t>(h2 % 62) * 2];
    out[18] = '\0';
}

}  // namespace wl
