// The capture ring: frames come out whole and in order, a full ring drops and
// counts, records wrap around the end, and two threads agree on every byte.
#include <catch2/catch.hpp>
#include <cstring>
#include <thread>
#include <vector>

#include "capture/frame_ring.hpp"

namespace {

// A frame whose bytes are a function of its number, so any mix-up shows.
std::vector<std::uint8_t> frame_bytes(std::uint64_t n, std::uint32_t len) {
    std::vector<std::uint8_t> b(len);
    for (std::uint32_t i = 0; i < len; ++i)
        b[i] = static_cast<std::uint8_t>((n * 131 + i * 7) & 0xff);
    return b;
}

std::uint32_t length_of(std::uint64_t n) {
    return static_cast<std::uint32_t>(1 + (n * 977) % 1600);
}

bool check(const wl::RawFrame& f, std::uint64_t n) {
    const std::uint32_t len = length_of(n);
    if (f.caplen != len || f.len != len + 4 || f.ts_ns != n * 1000) return false;
    const auto want = frame_bytes(n, len);
    return std::memcmp(f.data, want.data(), len) == 0;
}

wl::RawFrame make(std::uint64_t n, const std::vector<std::uint8_t>& b) {
    return wl::RawFrame{b.data(), static_cast<std::uint32_t>(b.size()),
                        static_cast<std::uint32_t>(b.size() + 4), n * 1000};
}

}  // namespace

TEST_CASE("ring: frames come out in order, byte for byte", "[ring]") {
    wl::FrameRing ring(1 << 16);
    REQUIRE(ring.valid());
    REQUIRE(ring.capacity() == (1u << 16));
    wl::RawFrame f{};
    CHECK_FALSE(ring.peek(f));
    CHECK(ring.empty());
    for (std::uint64_t n = 0; n < 10; ++n) {
        const auto b = frame_bytes(n, length_of(n));
        REQUIRE(ring.push(make(n, b)));
    }
    for (std::uint64_t n = 0; n < 10; ++n) {
        REQUIRE(ring.peek(f));
        CHECK(check(f, n));
        ring.pop();
    }
    CHECK_FALSE(ring.peek(f));
    CHECK(ring.dropped() == 0);
}

TEST_CASE("ring: a full ring drops and counts, then takes frames again", "[ring]") {
    wl::FrameRing ring(1 << 16);
    const std::vector<std::uint8_t> b(1000, 0xab);
    std::uint64_t accepted = 0;
    for (int i = 0; i < 100; ++i)
        accepted += ring.push(wl::RawFrame{b.data(), 1000, 1000, 0}) ? 1 : 0;
    // 1000 bytes + 24-byte header rounded to 1024: 64 fit in 64 KiB.
    CHECK(accepted == 64);
    CHECK(ring.dropped() == 36);
    wl::RawFrame f{};
    REQUIRE(ring.peek(f));
    ring.pop();
    CHECK(ring.push(wl::RawFrame{b.data(), 1000, 1000, 0}));
    CHECK(ring.dropped() == 36);
    // A frame larger than half the ring is never taken.
    const std::vector<std::uint8_t> huge(40000, 1);
    wl::FrameRing big(1 << 16);
    CHECK_FALSE(big.push(wl::RawFrame{huge.data(), 40000, 40000, 0}));
    CHECK(big.dropped() == 1);
}

TEST_CASE("ring: records wrap around the end of the buffer", "[ring]") {
    wl::FrameRing ring(1 << 16);
    wl::RawFrame f{};
    // Keep the ring about half full while thousands of odd-sized frames pass:
    // the write position crosses the end many times.
    std::uint64_t next_in = 0, next_out = 0;
    while (next_out < 5000) {
        while (next_in < next_out + 20) {
            const auto b = frame_bytes(next_in, length_of(next_in));
            REQUIRE(ring.push(make(next_in, b)));
            ++next_in;
        }
        REQUIRE(ring.peek(f));
        REQUIRE(check(f, next_out));
        ring.pop();
        ++next_out;
    }
    CHECK(ring.dropped() == 0);
}

TEST_CASE("ring: a producer and a consumer thread agree on every frame", "[ring]") {
    wl::FrameRing ring(1 << 18);
    constexpr std::uint64_t kFrames = 200000;
    std::thread producer([&] {
        for (std::uint64_t n = 0; n < kFrames; ++n) {
            const auto b = frame_bytes(n, length_of(n));
            ring.push(make(n, b));  // may drop when the consumer lags: counted
        }
    });
    std::uint64_t got = 0, bad = 0, last = 0;
    bool first = true, ordered = true;
    const auto all_in = [&] { return got + ring.dropped() >= kFrames; };
    wl::RawFrame f{};
    while (!all_in()) {
        if (!ring.peek(f)) {
            std::this_thread::yield();
            continue;
        }
        const std::uint64_t n = f.ts_ns / 1000;
        if (!check(f, n)) ++bad;
        if (!first && n <= last) ordered = false;
        first = false;
        last = n;
        ++got;
        ring.pop();
    }
    producer.join();
    while (ring.peek(f)) {  // nothing may be left behind
        ++got;
        ring.pop();
    }
    CHECK(bad == 0);
    CHECK(ordered);
    CHECK(got + ring.dropped() == kFrames);
    CHECK(got > 0);
}
