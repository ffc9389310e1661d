// A bounded single-producer, single-consumer ring of captured frames: the
// capture thread copies each frame in, the analysis thread reads it in place.
// One mapping at construction, populated at once; push never blocks, never
// allocates and never page-faults: when the ring is full the frame is dropped
// and counted. (Faulting the pages in lazily, the capture thread paid for each
// 4 KiB on the first burst and the kernel dropped several times more frames:
// bench/live_drops.sh.) The ring is therefore resident from the start.
#pragma once

#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <cstring>

#include "capture/pcap_source.hpp"

namespace wl {

class FrameRing {
  public:
    // `bytes` is rounded up to a power of two, at least 64 KiB.
    explicit FrameRing(std::size_t bytes) {
        std::size_t cap = 1u << 16;
        while (cap < bytes)
            cap <<= 1;
        void* p = mmap(nullptr, cap, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (p == MAP_FAILED) return;
        buf_ = static_cast<std::uint8_t*>(p);
        cap_ = cap;
        mask_ = cap - 1;
    }
    ~FrameRing() {
        if (buf_ != nullptr) munmap(buf_, cap_);
    }
    FrameRing(const FrameRing&) = delete;
    FrameRing& operator=(const FrameRing&) = delete;

    bool valid() const { return buf_ != nullptr; }
    std::size_t capacity() const { return cap_; }

    // Producer: copies the frame in; false (and counted) if there is no room.
    bool push(const RawFrame& f) {
        const std::uint64_t need = record_size(f.caplen);
        const std::uint64_t head = head_.load(std::memory_order_relaxed);
        const std::uint64_t at = head & mask_;
        // A record never wraps: when it would, the rest of the ring is skipped.
        const std::uint64_t skip = at + need > cap_ ? cap_ - at : 0;
        if (need > cap_ / 2 || !room(head, skip + need)) {
            dropped_.store(dropped_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
            return false;
        }
        std::uint64_t pos = head;
        if (skip != 0) {
            Header h{0, kSkip, 0, 0};
            std::memcpy(buf_ + at, &h, sizeof h);  // the gap is >= 32 bytes
            pos += skip;
        }
        Header h{f.ts_ns, f.caplen, f.len, 0};
        std::uint8_t* p = buf_ + (pos & mask_);
        std::memcpy(p, &h, sizeof h);
        std::memcpy(p + sizeof h, f.data, f.caplen);
        head_.store(pos + need, std::memory_order_release);
        return true;
    }

    // Consumer: the oldest frame, in place (valid until pop()); false if empty.
    bool peek(RawFrame& f) {
        for (;;) {
            const std::uint64_t tail = tail_.load(std::memory_order_relaxed);
            if (tail == cached_head_) {
                cached_head_ = head_.load(std::memory_order_acquire);
                if (tail == cached_head_) return false;
            }
            const std::uint8_t* p = buf_ + (tail & mask_);
            Header h;
            std::memcpy(&h, p, sizeof h);
            if (h.caplen == kSkip) {
                tail_.store(tail + (cap_ - (tail & mask_)), std::memory_order_release);
                continue;
            }
            f.ts_ns = h.ts_ns;
            f.caplen = h.caplen;
            f.len = h.len;
            f.data = p + sizeof h;
            return true;
        }
    }
    // Consumer: releases the frame peek() returned.
    void pop() {
        const std::uint64_t tail = tail_.load(std::memory_order_relaxed);
        Header h;
        std::memcpy(&h, buf_ + (tail & mask_), sizeof h);
        tail_.store(tail + record_size(h.caplen), std::memory_order_release);
    }

    bool empty() const {
        return tail_.load(std::memory_order_acquire) == head_.load(std::memory_order_acquire);
    }
    // Frames refused because the ring was full (read from any thread).
    std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

  private:
    struct Header {
        std::uint64_t ts_ns;
        std::uint32_t caplen;
        std::uint32_t len;
        std::uint64_t reserved;
    };
    static_assert(sizeof(Header) == 24);
    static constexpr std::uint32_t kSkip = 0xffffffffu;

    // Header plus data, rounded up to 32 bytes: the space left at the end of
    // the ring is then always a multiple of 32, enough for a skip header.
    static std::uint64_t record_size(std::uint32_t caplen) {
        return (sizeof(Header) + static_cast<std::uint64_t>(caplen) + 31) & ~std::uint64_t{31};
    }
    bool room(std::uint64_t head, std::uint64_t need) {
        if (head + need - cached_tail_ <= cap_) return true;
        cached_tail_ = tail_.load(std::memory_order_acquire);
        return head + need - cached_tail_ <= cap_;
    }

    std::uint8_t* buf_ = nullptr;
    std::size_t cap_ = 0;
    std::uint64_t mask_ = 0;
    // Each side's index on its own cache line, with its cached copy of the other's.
    alignas(64) std::atomic<std::uint64_t> head_{0};
    std::uint64_t cached_tail_ = 0;  // producer's
    std::atomic<std::uint64_t> dropped_{0};
    alignas(64) std::atomic<std::uint64_t> tail_{0};
    std::uint64_t cached_head_ = 0;  // consumer's
};

}  // namespace wl
