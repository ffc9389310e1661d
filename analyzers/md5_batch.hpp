// MD5 of many upload bodies at once.
//
// MD5 is one chain of dependent 32-bit steps: hashing one stream leaves a core's vector
// units idle, and on one core OpenSSL's MD5 runs at ~0.8 GB/s here, the largest cost of
// a full analysis. Bodies of concurrent uploads are independent chains, so this engine
// stages each stream's bytes in a small buffer (a "slot") and, when a slot fills, runs
// its whole 64-byte blocks together with those of up to 15 other streams, one stream
// per 32-bit lane of an AVX-512 register (the multi-buffer technique of Intel's
// isa-l_crypto and ipsec-mb, neither of which offers plain MD5 in Debian 12).
//
// Only the 16-lane compression function is ours. OpenSSL's MD5 does everything else:
// each stream's context (state and length) is OpenSSL's MD5_CTX, the lanes start from
// and write back its state, and OpenSSL hashes the leftovers, pads and finalises. A
// stream that gets no slot (all taken, or a CPU without AVX-512, or slots == 0) is
// hashed by OpenSSL straight from the caller's bytes, as before. Digests are the same
// either way (tests/unit/test_md5_batch.cpp checks the lanes against OpenSSL).
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

struct Md5BatchCounters {
    std::uint64_t batches = 0;       // runs of the 16-lane function
    std::uint64_t lane_blocks = 0;   // 64-byte blocks hashed in lanes
    std::uint64_t scalar_bytes = 0;  // bytes hashed by OpenSSL (no slot, tails, few lanes)
};

class Md5Batch {
  public:
    static constexpr unsigned kLanes = 16;
    static constexpr std::size_t kSlotBytes = 4096;

    // `slots` streams can be staged at once (0: every stream goes to OpenSSL directly).
    // Lanes are used only when the CPU has AVX-512F and `use_lanes` is set.
    explicit Md5Batch(std::uint32_t slots, bool use_lanes = true);
    ~Md5Batch();
    Md5Batch(const Md5Batch&) = delete;
    Md5Batch& operator=(const Md5Batch&) = delete;

    static std::uint64_t memory_bound(std::uint32_t slots);
    static bool cpu_has_lanes();  // AVX-512F
    bool lanes() const { return lanes_; }

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
    void give_back(Md5Stream& s);

    bool lanes_ = false;
    std::uint32_t nslots_ = 0;
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
// The 16-lane compression function, exposed for tests: state[w][lane] is word w (A..D) of
// lane's MD5 state; lane l hashes blocks[l] whole 64-byte blocks at base + offsets[l]
// (lanes with 0 blocks are left as they are). Requires cpu_has_lanes().
void compress16(std::uint32_t state[4][16], const std::uint8_t* base,
                const std::uint32_t offsets[16], const std::uint32_t blocks[16]);
}  // namespace md5_lanes

}  // namespace wl
