// Reading a fuzzer's input front to back as the fields of a structured input. Past
// the end every field reads as zero and every byte run as empty, so any input is a
// valid one: the harness never rejects, it only runs out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

namespace wl::fuzz {

class FuzzInput {
  public:
    FuzzInput(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

    bool empty() const { return pos_ == size_; }
    std::size_t remaining() const { return size_ - pos_; }

    std::uint8_t u8() { return pos_ < size_ ? data_[pos_++] : 0; }
    std::uint16_t u16() {  // big-endian, as the encoders write it
        const std::uint16_t hi = u8();
        return static_cast<std::uint16_t>(hi << 8 | u8());
    }
    std::uint32_t u32() {
        const std::uint32_t hi = u16();
        return hi << 16 | u16();
    }
    // Up to `n` bytes (fewer at the end).
    std::span<const std::uint8_t> bytes(std::size_t n) {
        if (n > size_ - pos_) n = size_ - pos_;
        const std::span<const std::uint8_t> out(data_ + pos_, n);
        pos_ += n;
        return out;
    }
    std::span<const std::uint8_t> rest() { return bytes(size_ - pos_); }

  private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
};

// A property the harness checks beyond what the sanitizers see: a failure is a
// finding like a crash (libFuzzer saves the input that caused it).
inline void check(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "fuzz check failed: %s\n", what);
    std::abort();
}

// Keeps a value computed from what the harness read, so that the reads stay in the
// optimised build, under the sanitizers' eyes.
inline void keep(std::uint64_t v) {
    asm volatile("" : : "r"(v));
}

}  // namespace wl::fuzz
