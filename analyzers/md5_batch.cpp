#include "analyzers/md5_batch.hpp"

// MD5_CTX and MD5_Init/Update/Final are OpenSSL's low-level MD5, deprecated in 3.0 in
// favour of EVP, which cannot start from or hand over a state. They are still part of
// libcrypto 3; this file is the only one that uses them.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/md5.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace wl {

namespace {

static_assert(sizeof(MD5_CTX) <= sizeof(Md5Stream::ctx));
static_assert(alignof(MD5_CTX) <= alignof(Md5Stream));

MD5_CTX* ctx_of(Md5Stream& s) {
    return std::launder(reinterpret_cast<MD5_CTX*>(s.ctx.data()));
}

// A lane run is worth it with this many streams; fewer go to OpenSSL.
constexpr unsigned kMinLanes = 4;
// Companions of a full slot: streams with at least this many staged bytes.
constexpr std::uint32_t kCompanionMin = 1024;

}  // namespace

#if defined(__x86_64__)
namespace md5_lanes {
namespace {

// T[i] = floor(|sin(i + 1)| * 2^32) (RFC 1321, 3.4).
alignas(64) constexpr std::uint32_t kT[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};
// Left-rotation amounts, four per round.
constexpr int kS[4][4] = {{7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};

// The round functions as vpternlogd truth tables over (x, y, z):
// F = x ? y : z, G = z ? x : y, H = x ^ y ^ z, I = y ^ (x | ~z).
constexpr int kF = 0xCA, kG = 0xE4, kH = 0x96, kI = 0x39;

// Message word used by step i of round r.
constexpr int word_of(int r, int i) {
    return r == 0 ? i : r == 1 ? (5 * i + 1) % 16 : r == 2 ? (3 * i + 5) % 16 : (7 * i) % 16;
}

template <int R, int Fn>
__attribute__((target("avx512f"), always_inline)) inline void round16(__m512i& a, __m512i& b,
                                                                      __m512i& c, __m512i& d,
                                                                      const __m512i m[16]) {
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) {
        const __m512i f = _mm512_ternarylogic_epi32(b, c, d, Fn);
        __m512i t = _mm512_add_epi32(a, _mm512_set1_epi32(static_cast<int>(kT[R * 16 + i])));
        t = _mm512_add_epi32(t, m[word_of(R, i)]);
        t = _mm512_add_epi32(t, f);
        t = _mm512_mask_rolv_epi32(t, 0xFFFF, t, _mm512_set1_epi32(kS[R][i % 4]));
        t = _mm512_add_epi32(t, b);
        a = d;
        d = c;
        c = b;
        b = t;
    }
}

// The same on 8 lanes with AVX2, which has neither three-input logic nor rotation.
template <int Fn>
__attribute__((target("avx2"), always_inline)) inline __m256i fn8(__m256i x, __m256i y, __m256i z) {
    if constexpr (Fn == kF) return _mm256_xor_si256(z, _mm256_and_si256(x, _mm256_xor_si256(y, z)));
    if constexpr (Fn == kG) return _mm256_xor_si256(y, _mm256_and_si256(z, _mm256_xor_si256(x, y)));
    if constexpr (Fn == kH) return _mm256_xor_si256(_mm256_xor_si256(x, y), z);
    return _mm256_xor_si256(y, _mm256_or_si256(x, _mm256_xor_si256(z, _mm256_set1_epi32(-1))));
}

template <int R, int Fn>
__attribute__((target("avx2"), always_inline)) inline void round8(__m256i& a, __m256i& b,
                                                                  __m256i& c, __m256i& d,
                                                                  const __m256i m[16]) {
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) {
        __m256i t = _mm256_add_epi32(a, _mm256_set1_epi32(static_cast<int>(kT[R * 16 + i])));
        t = _mm256_add_epi32(t, m[word_of(R, i)]);
        t = _mm256_add_epi32(t, fn8<Fn>(b, c, d));
        const int sh = kS[R][i % 4];
        t = _mm256_or_si256(_mm256_sll_epi32(t, _mm_cvtsi32_si128(sh)),
                            _mm256_srl_epi32(t, _mm_cvtsi32_si128(32 - sh)));
        t = _mm256_add_epi32(t, b);
        a = d;
        d = c;
        c = b;
        b = t;
    }
}

}  // namespace

__attribute__((target("avx2"))) void compress8(std::uint32_t state[4][16], const std::uint8_t* base,
                                               const std::uint32_t offsets[16],
                                               const std::uint32_t blocks[16]) {
    __m256i sa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(state[0])),
            sb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(state[1])),
            sc = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(state[2])),
            sd = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(state[3]));
    // Unsigned compare through the sign bit (block counts stay far below 2^31 anyway).
    const __m256i bias = _mm256_set1_epi32(static_cast<int>(0x80000000u));
    const __m256i count =
        _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blocks)), bias);
    __m256i at = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(offsets));
    std::uint32_t most = 0;
    for (int l = 0; l < 8; ++l)
        most = std::max(most, blocks[l]);
    for (std::uint32_t k = 0; k < most; ++k) {
        const __m256i live = _mm256_cmpgt_epi32(
            count, _mm256_xor_si256(_mm256_set1_epi32(static_cast<int>(k)), bias));
        __m256i m[16];
        for (int w = 0; w < 16; ++w)
            m[w] = _mm256_mask_i32gather_epi32(
                _mm256_setzero_si256(), reinterpret_cast<const int*>(base),
                _mm256_add_epi32(at, _mm256_set1_epi32(4 * w)), live, 1);
        __m256i a = sa, b = sb, c = sc, d = sd;
        round8<0, kF>(a, b, c, d, m);
        round8<1, kG>(a, b, c, d, m);
        round8<2, kH>(a, b, c, d, m);
        round8<3, kI>(a, b, c, d, m);
        sa = _mm256_add_epi32(sa, _mm256_and_si256(live, a));
        sb = _mm256_add_epi32(sb, _mm256_and_si256(live, b));
        sc = _mm256_add_epi32(sc, _mm256_and_si256(live, c));
        sd = _mm256_add_epi32(sd, _mm256_and_si256(live, d));
        at = _mm256_add_epi32(at, _mm256_set1_epi32(64));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(state[0]), sa);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(state[1]), sb);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(state[2]), sc);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(state[3]), sd);
}

__attribute__((target("avx512f"))) void compress16(std::uint32_t state[4][16],
                                                   const std::uint8_t* base,
                                                   const std::uint32_t offsets[16],
                                                   const std::uint32_t blocks[16]) {
    __m512i sa = _mm512_loadu_si512(state[0]);
    __m512i sb = _mm512_loadu_si512(state[1]);
    __m512i sc = _mm512_loadu_si512(state[2]);
    __m512i sd = _mm512_loadu_si512(state[3]);
    const __m512i count = _mm512_loadu_si512(blocks);
    __m512i at = _mm512_loadu_si512(offsets);
    std::uint32_t most = 0;
    for (int l = 0; l < 16; ++l)
        most = std::max(most, blocks[l]);
    const __m512i step = _mm512_set1_epi32(64);
    for (std::uint32_t k = 0; k < most; ++k) {
        // Lanes still hashing: only they load (the others' offsets may be past their bytes).
        const __mmask16 live =
            _mm512_cmpgt_epu32_mask(count, _mm512_set1_epi32(static_cast<int>(k)));
        __m512i m[16];
        for (int w = 0; w < 16; ++w)
            m[w] = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), live,
                                               _mm512_add_epi32(at, _mm512_set1_epi32(4 * w)), base,
                                               1);
        __m512i a = sa, b = sb, c = sc, d = sd;
        round16<0, kF>(a, b, c, d, m);
        round16<1, kG>(a, b, c, d, m);
        round16<2, kH>(a, b, c, d, m);
        round16<3, kI>(a, b, c, d, m);
        sa = _mm512_mask_add_epi32(sa, live, sa, a);
        sb = _mm512_mask_add_epi32(sb, live, sb, b);
        sc = _mm512_mask_add_epi32(sc, live, sc, c);
        sd = _mm512_mask_add_epi32(sd, live, sd, d);
        at = _mm512_add_epi32(at, step);
    }
    _mm512_storeu_si512(state[0], sa);
    _mm512_storeu_si512(state[1], sb);
    _mm512_storeu_si512(state[2], sc);
    _mm512_storeu_si512(state[3], sd);
}

}  // namespace md5_lanes

Md5Lanes Md5Batch::best_lanes() {
    if (__builtin_cpu_supports("avx512f")) return Md5Lanes::Avx512;
    if (__builtin_cpu_supports("avx2")) return Md5Lanes::Avx2;
    return Md5Lanes::None;
}
#else
namespace md5_lanes {
void compress16(std::uint32_t[4][16], const std::uint8_t*, const std::uint32_t[16],
                const std::uint32_t[16]) {
    std::abort();  // best_lanes() is None: never called
}
void compress8(std::uint32_t[4][16], const std::uint8_t*, const std::uint32_t[16],
               const std::uint32_t[16]) {
    std::abort();
}
}  // namespace md5_lanes
Md5Lanes Md5Batch::best_lanes() {
    return Md5Lanes::None;
}
#endif

void Md5Batch::ArenaFree::operator()(std::uint8_t* p) const {
    std::free(p);
}

std::uint64_t Md5Batch::memory_bound(std::uint32_t slots) {
    return std::uint64_t{slots} * (kSlotBytes + sizeof(Slot) + 2 * sizeof(std::uint32_t));
}

Md5Batch::Md5Batch(std::uint32_t slots, Md5Lanes want) {
    const Md5Lanes best = best_lanes();
    lanes_ = slots == 0 ? 0u : std::min(static_cast<unsigned>(want), static_cast<unsigned>(best));
    if (lanes_ == 0) return;
    arena_.reset(static_cast<std::uint8_t*>(std::aligned_alloc(64, slots * kSlotBytes)));
    if (!arena_) throw std::bad_alloc();
    slots_.resize(slots);
    free_.reserve(slots);
    used_.reserve(slots);
    for (std::uint32_t i = slots; i-- > 0;)
        free_.push_back(i);
}

Md5Batch::~Md5Batch() = default;

std::uint8_t* Md5Batch::staged(std::uint32_t idx) {
    return arena_.get() + std::size_t{idx} * kSlotBytes;
}

void Md5Batch::release(Md5Stream& s) {
    if (s.slot < 0) return;
    const auto idx = static_cast<std::uint32_t>(s.slot);
    Slot& sl = slots_[idx];
    const std::uint32_t pos = sl.used_pos;
    used_[pos] = used_.back();
    slots_[used_[pos]].used_pos = pos;
    used_.pop_back();
    sl.owner = nullptr;
    sl.have = 0;
    free_.push_back(idx);
    s.slot = -1;
}

void Md5Batch::init(Md5Stream& s) {
    release(s);
    MD5_Init(ctx_of(s));
    if (lanes_ == 0 || free_.empty()) return;
    const std::uint32_t idx = free_.back();
    free_.pop_back();
    Slot& sl = slots_[idx];
    sl.owner = &s;
    sl.have = 0;
    sl.used_pos = static_cast<std::uint32_t>(used_.size());
    used_.push_back(idx);
    s.slot = static_cast<std::int32_t>(idx);
}

void Md5Batch::update(Md5Stream& s, const std::uint8_t* p, std::size_t n) {
    if (s.slot < 0) {
        MD5_Update(ctx_of(s), p, n);
        counters_.scalar_bytes += n;
        return;
    }
    const auto idx = static_cast<std::uint32_t>(s.slot);
    std::uint8_t* buf = staged(idx);
    while (n > 0) {
        Slot& sl = slots_[idx];
        if (sl.have == kSlotBytes) drain(idx);
        const std::size_t k = std::min<std::size_t>(n, kSlotBytes - sl.have);
        std::memcpy(buf + sl.have, p, k);
        sl.have += static_cast<std::uint32_t>(k);
        p += k;
        n -= k;
    }
}

void Md5Batch::final(Md5Stream& s, unsigned char out[16]) {
    if (s.slot >= 0) {
        const auto idx = static_cast<std::uint32_t>(s.slot);
        drain(idx);
        const Slot& sl = slots_[idx];
        MD5_Update(ctx_of(s), staged(idx), sl.have);
        counters_.scalar_bytes += sl.have;
        release(s);
    }
    MD5_Final(out, ctx_of(s));
}

// OpenSSL hashes the slot's whole blocks; the partial one stays staged (the context's own
// partial-block buffer stays empty while a stream has a slot).
void Md5Batch::scalar(std::uint32_t idx) {
    Slot& sl = slots_[idx];
    std::uint8_t* buf = staged(idx);
    const std::uint32_t whole = sl.have & ~63u;
    MD5_Update(ctx_of(*sl.owner), buf, whole);
    counters_.scalar_bytes += whole;
    std::memmove(buf, buf + whole, sl.have - whole);
    sl.have -= whole;
}

void Md5Batch::drain(std::uint32_t idx) {
    if (slots_[idx].have < 64) return;
    // The slot and the fullest other slots with enough staged to be worth a lane.
    std::array<std::uint32_t, kMaxLanes> lane{};
    unsigned n = 0;
    lane[n++] = idx;
    std::array<std::uint32_t, 64> extra{};
    unsigned nextra = 0;
    for (const std::uint32_t u : used_) {
        if (u == idx || slots_[u].have < kCompanionMin) continue;
        if (nextra < extra.size()) extra[nextra++] = u;
    }
    if (nextra > lanes_ - 1) {
        std::partial_sort(
            extra.begin(), extra.begin() + (lanes_ - 1), extra.begin() + nextra,
            [this](std::uint32_t x, std::uint32_t y) { return slots_[x].have > slots_[y].have; });
        nextra = lanes_ - 1;
    }
    for (unsigned i = 0; i < nextra; ++i)
        lane[n++] = extra[i];
    if (n < kMinLanes) {
        scalar(idx);
        return;
    }
    alignas(64) std::uint32_t state[4][16] = {};
    alignas(64) std::uint32_t offsets[16] = {};
    alignas(64) std::uint32_t blocks[16] = {};
    for (unsigned l = 0; l < n; ++l) {
        const MD5_CTX* c = ctx_of(*slots_[lane[l]].owner);
        state[0][l] = c->A;
        state[1][l] = c->B;
        state[2][l] = c->C;
        state[3][l] = c->D;
        offsets[l] = static_cast<std::uint32_t>(lane[l] * kSlotBytes);
        blocks[l] = slots_[lane[l]].have / 64;
    }
    if (lanes_ == kMaxLanes)
        md5_lanes::compress16(state, arena_.get(), offsets, blocks);
    else
        md5_lanes::compress8(state, arena_.get(), offsets, blocks);
    ++counters_.batches;
    for (unsigned l = 0; l < n; ++l) {
        Slot& sl = slots_[lane[l]];
        MD5_CTX* c = ctx_of(*sl.owner);
        c->A = state[0][l];
        c->B = state[1][l];
        c->C = state[2][l];
        c->D = state[3][l];
        const std::uint64_t bits =
            ((std::uint64_t{c->Nh} << 32) | c->Nl) + std::uint64_t{blocks[l]} * 512;
        c->Nl = static_cast<MD5_LONG>(bits);
        c->Nh = static_cast<MD5_LONG>(bits >> 32);
        counters_.lane_blocks += blocks[l];
        const std::uint32_t whole = blocks[l] * 64;
        std::uint8_t* buf = staged(lane[l]);
        std::memmove(buf, buf + whole, sl.have - whole);
        sl.have -= whole;
    }
}

}  // namespace wl
