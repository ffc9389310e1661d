// MD5 of many upload bodies at once.
//
// MD5 is one chain of dependent 32-bit steps: hashing one stream leaves a core's vector
// units idle, and on one core OpenSSL's MD5 runs at ~0.8 GB/s here, the largest cost of
// a full analysis. Bodies of concurrent uploads are independent chains, so this engine
// stages each stream's bytes in a small buffer (a "slot") and, when a slot fills or its
// upload ends, hashes its whole 64-byte blocks together with those of the other streams
// with the most staged, one stream per 32-bit lane: 16 with AVX-512F, 8 with AVX2 (the
// multi-buffer technique of Intel's isa-l_crypto and ipsec-mb, neither of which offers
// plain MD5 in Debian 12).
//
// Only the lanes' compression functions are ours. OpenSSL's MD5 does everything else:
// each stream's context (state and length) is OpenSSL's MD5_CTX, the lanes start from
// and write back its state, and OpenSSL hashes the leftovers, pads and finalises. Fewer
// than four streams with bytes staged are hashed by OpenSSL from the slot; a stream that
// gets no slot (all taken, a CPU with neither AVX2 nor AVX-512F, or slots == 0) by
// OpenSSL straight from the caller's bytes. Digests are the same either way
// (tests/unit/analyzers/test_md5_batch.cpp checks the lanes against OpenSSL).
//
// Nothing is allocated after construction: the slots are one arena.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace wl {

// One stream's MD5. Opaque storage for OpenSSL's MD5_CTX (kept out of this header, whose
// declaration OpenSSL 3 marks deprecated) and the stream's slot, if it has one.
struct Md5Stream {
    alignas(8) std::array<unsigned char, 96> ctx{};
    std::int32_t slot = -1;
};

// How many streams one run of the lanes hashes: AVX-512F 16, AVX2 8.
enum class Md5Lanes : std::uint8_t { None = 0, Avx2 = 8, Avx512 = 16 };

struct Md5BatchCounters {
    std::uint64_t batches = 0;       // runs of the lanes
    std::uint64_t lane_blocks = 0;   // 64-byte blocks hashed in lanes
    std::uint64_t scalar_bytes = 0;  // bytes hashed by OpenSSL (no slot, tails, few lanes)
};

class Md5Batch {
  public:
    static constexpr unsigned kMaxLanes = 16;
    static constexpr std::size_t kSlotBytes = 4096;

    // `slots` streams can be staged at once (0: every stream goes to OpenSSL directly).
    // `lanes`: at most this width (tests choose AVX2 on an AVX-512 CPU); the CPU's best
    // by default. A width the CPU lacks is lowered to one it has.
    explicit Md5Batch(std::uint32_t slots, Md5Lanes lanes = best_lanes());
    ~Md5Batch();
    Md5Batch(const Md5Batch&) = delete;
    Md5Batch& operator=(const Md5Batch&) = delete;

    static std::uint64_t memory_bound(std::uint32_t slots);
    static Md5Lanes best_lanes();              // AVX-512F, else AVX2, else None
    unsigned lanes() const { return lanes_; }  // streams per run of the lanes; 0: none

    void init(Md5Stream& s);  // a new digest (gives back the slot it had, staged bytes dropped)
    void update(Md5Stream& s, const std::uint8_t* p, std::size_t n);
    void final(Md5Stream& s, unsigned char out[16]);  // gives the slot back
    void release(Md5Stream& s);                       // abandoned: slot back, nothing hashed

    const Md5BatchCounters& counters() const { return counters_; }

  private:
    struct Slot {
        Md5Stream* owner = nullptr;
        std::uint32_t have = 0;  // staged bytes at slot * kSlotBytes
        std::uint32_t used_pos = 0;
    };
    void drain(
        std::uint32_t slot);  // hash the slot's whole blocks (with companions), keep the rest
    void scalar(std::uint32_t slot);
    std::uint8_t* staged(std::uint32_t slot);  // the slot's bytes in the arena

    unsigned lanes_ = 0;
    struct ArenaFree {
        void operator()(std::uint8_t* p) const;
    };
    std::unique_ptr<std::uint8_t, ArenaFree> arena_;
    std::vector<Slot> slots_;
    std::vector<std::uint32_t> free_;  // slot indices not in use
    std::vector<std::uint32_t> used_;  // slot indices in use (Slot::used_pos is its place)
    Md5BatchCounters counters_;
};

namespace md5_lanes {
// The compression functions, exposed for tests: state[w][lane] is word w (A..D) of lane's
// MD5 state; lane l hashes blocks[l] whole 64-byte blocks at base + offsets[l] (lanes with
// 0 blocks are left as they are). compress16 (AVX-512F) uses lanes 0-15, compress8 (AVX2)
// lanes 0-7; each only on a CPU that best_lanes() says has it.
void compress16(std::uint32_t state[4][16], const std::uint8_t* base,
                const std::uint32_t offsets[16], const std::uint32_t blocks[16]);
void compress8(std::uint32_t state[4][16], const std::uint8_t* base,
               const std::uint32_t offsets[16], const std::uint32_t blocks[16]);
}  // namespace md5_lanes

}  // namespace wl
