// Md5Batch: bodies hashed 16 streams at a time must give OpenSSL's digests, whatever the
// interleaving, the chunk sizes, the slots available or the streams abandoned midway.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/md5.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include "analyzers/md5_batch.hpp"

namespace {

using Digest = std::array<unsigned char, 16>;

Digest md5_of(const std::vector<std::uint8_t>& v) {
    Digest d{};
    MD5(v.data(), v.size(), d.data());
    return d;
}

struct Body {
    std::vector<std::uint8_t> bytes;
    std::size_t fed = 0;
    wl::Md5Stream md5;
    bool done = false;
};

// Feeds `bodies` to `batch` in random interleaved chunks (0 to 3,000 bytes; with `jumbo`,
// one in 16 a 64 KiB loopback segment) and checks every digest against OpenSSL's MD5.
void feed_all(wl::Md5Batch& batch, std::vector<Body>& bodies, std::mt19937& rng,
              bool jumbo = true) {
    for (Body& b : bodies)
        batch.init(b.md5);
    std::size_t left = bodies.size();
    while (left > 0) {
        Body& b = bodies[rng() % bodies.size()];
        if (b.done) continue;
        std::size_t k = jumbo && rng() % 16 == 0 ? 65535 : rng() % 3001;
        k = std::min(k, b.bytes.size() - b.fed);
        batch.update(b.md5, b.bytes.data() + b.fed, k);
        b.fed += k;
        if (b.fed == b.bytes.size()) {
            Digest got{};
            batch.final(b.md5, got.data());
            CHECK(got == md5_of(b.bytes));
            CHECK(b.md5.slot == -1);
            b.done = true;
            --left;
        }
    }
}

std::vector<Body> make_bodies(std::size_t n, std::mt19937& rng) {
    std::vector<Body> bodies(n);
    for (std::size_t i = 0; i < n; ++i) {
        // Lengths around the edges too: empty, one block, a slot, a slot and a byte.
        static constexpr std::size_t kEdges[] = {0, 1, 63, 64, 65, 4095, 4096, 4097, 8192};
        const std::size_t len = i < std::size(kEdges) ? kEdges[i] : rng() % 70000;
        bodies[i].bytes.resize(len);
        for (auto& c : bodies[i].bytes)
            c = static_cast<std::uint8_t>(rng());
    }
    return bodies;
}

}  // namespace

namespace {

// Each lane from its own random state over 0 to 5 random blocks, against OpenSSL's
// MD5_Transform block by block.
template <typename Compress>
void check_lanes(Compress compress, int width) {
    std::mt19937 rng(11);
    constexpr std::uint32_t kMaxBlocks = 5;
    std::vector<std::uint8_t> arena(16 * kMaxBlocks * 64);
    for (int round = 0; round < 50; ++round) {
        for (auto& c : arena)
            c = static_cast<std::uint8_t>(rng());
        alignas(64) std::uint32_t state[4][16] = {};
        std::uint32_t offsets[16] = {}, blocks[16] = {};
        MD5_CTX want[16];
        for (int l = 0; l < width; ++l) {
            MD5_Init(&want[l]);
            want[l].A = static_cast<std::uint32_t>(rng());
            want[l].B = static_cast<std::uint32_t>(rng());
            want[l].C = static_cast<std::uint32_t>(rng());
            want[l].D = static_cast<std::uint32_t>(rng());
            state[0][l] = want[l].A;
            state[1][l] = want[l].B;
            state[2][l] = want[l].C;
            state[3][l] = want[l].D;
            // Lanes in a shuffled order, some idle.
            offsets[l] = static_cast<std::uint32_t>(((l * 7) % 16) * kMaxBlocks * 64);
            blocks[l] = static_cast<std::uint32_t>(rng() % (kMaxBlocks + 1));
            for (std::uint32_t k = 0; k < blocks[l]; ++k)
                MD5_Transform(&want[l], arena.data() + offsets[l] + 64 * k);
        }
        compress(state, arena.data(), offsets, blocks);
        for (int l = 0; l < width; ++l) {
            INFO("round " << round << " lane " << l << " blocks " << blocks[l]);
            CHECK(state[0][l] == want[l].A);
            CHECK(state[1][l] == want[l].B);
            CHECK(state[2][l] == want[l].C);
            CHECK(state[3][l] == want[l].D);
        }
    }
}

}  // namespace

TEST_CASE("md5 lanes: each compression function equals OpenSSL's, lane by lane") {
    const auto best = wl::Md5Batch::best_lanes();
    if (best == wl::Md5Lanes::None) {
        WARN("skipped: this CPU has neither AVX2 nor AVX-512F (the lanes are never used here)");
        return;
    }
    SECTION("AVX2, 8 lanes") {
        check_lanes(wl::md5_lanes::compress8, 8);
    }
    if (best == wl::Md5Lanes::Avx512) {
        SECTION("AVX-512F, 16 lanes") {
            check_lanes(wl::md5_lanes::compress16, 16);
        }
    } else {
        WARN("AVX-512F part skipped: this CPU has AVX2 only");
    }
}

TEST_CASE("md5 batch: interleaved streams get OpenSSL's digests") {
    std::mt19937 rng(5);
    SECTION("64 KiB segments among packet-sized ones") {
        wl::Md5Batch batch(256);
        auto bodies = make_bodies(200, rng);
        feed_all(batch, bodies, rng);
    }
    for (const auto width : {wl::Md5Lanes::Avx512, wl::Md5Lanes::Avx2}) {
        DYNAMIC_SECTION("packet-sized chunks, enough slots for every stream, at most "
                        << static_cast<int>(width) << " lanes") {
            wl::Md5Batch batch(256, width);
            auto bodies = make_bodies(200, rng);
            feed_all(batch, bodies, rng, false);
            if (batch.lanes() != 0) {
                CHECK(batch.lanes() <= static_cast<unsigned>(width));
                // Nearly every byte went through the lanes, not OpenSSL.
                std::uint64_t total = 0;
                for (const Body& b : bodies)
                    total += b.bytes.size();
                CHECK(batch.counters().lane_blocks * 64 > total * 9 / 10);
                CHECK(batch.counters().batches > 0);
            } else {
                WARN("no AVX2 or AVX-512F: every stream was hashed by OpenSSL");
            }
        }
    }
    SECTION("fewer slots than streams: the rest go to OpenSSL directly") {
        wl::Md5Batch batch(8);
        auto bodies = make_bodies(100, rng);
        feed_all(batch, bodies, rng);
        CHECK(batch.counters().scalar_bytes > 0);
    }
    SECTION("no slots at all") {
        wl::Md5Batch batch(0);
        CHECK(batch.lanes() == 0);
        auto bodies = make_bodies(40, rng);
        feed_all(batch, bodies, rng);
        CHECK(batch.counters().lane_blocks == 0);
    }
}

TEST_CASE("md5 batch: a stream abandoned with bytes staged leaves the others right") {
    std::mt19937 rng(9);
    wl::Md5Batch batch(32);
    auto bodies = make_bodies(30, rng);
    for (Body& b : bodies)
        batch.init(b.md5);
    // Every stream gets 3,000 bytes staged; then every third is abandoned (released, or
    // started again on other bytes), and the rest are finished.
    for (Body& b : bodies) {
        const std::size_t k = std::min<std::size_t>(3000, b.bytes.size());
        batch.update(b.md5, b.bytes.data(), k);
        b.fed = k;
    }
    for (std::size_t i = 0; i < bodies.size(); i += 3) {
        Body& b = bodies[i];
        if (i % 2 == 0) {
            batch.release(b.md5);
            CHECK(b.md5.slot == -1);
            b.done = true;
        } else {
            batch.init(b.md5);  // a new body on the same stream
            b.fed = 0;
        }
    }
    std::vector<Body*> rest;
    for (Body& b : bodies)
        if (!b.done) rest.push_back(&b);
    for (Body* b : rest) {
        batch.update(b->md5, b->bytes.data() + b->fed, b->bytes.size() - b->fed);
        Digest got{};
        batch.final(b->md5, got.data());
        CHECK(got == md5_of(b->bytes));
    }
}
