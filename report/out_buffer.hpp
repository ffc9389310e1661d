// A fixed-size output buffer with the few formatters the reports need:
// integers, fixed-point times, addresses and JSON strings. It never
// allocates; it flushes to its file descriptor when full.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace wl {

// Where an OutBuffer's bytes go instead of a FILE* (sink/record_router.hpp:
// the JSON Lines split into records for the log folder and other sinks).
// Given the bytes in order, in pieces that may end in the middle of a line.
class ByteConsumer {
  public:
    virtual ~ByteConsumer() = default;
    // False once the bytes could not be handed on (the buffer then fails).
    virtual bool consume(std::string_view bytes) = 0;
};

class OutBuffer {
  public:
    // A null `file`: what is written is discarded (output nobody asked for).
    explicit OutBuffer(std::FILE* file) : file_(file) {}
    // Flushes go to `consumer` (not null; it outlives the buffer).
    explicit OutBuffer(ByteConsumer* consumer) : file_(nullptr), consumer_(consumer) {}
    explicit OutBuffer(std::nullptr_t) : file_(nullptr) {}  // discards
    ~OutBuffer() { flush(); }
    OutBuffer(const OutBuffer&) = delete;
    OutBuffer& operator=(const OutBuffer&) = delete;

    OutBuffer& put(char c) {
        if (len_ == kSize) flush();
        buf_[len_++] = c;
        return *this;
    }
    // Short pieces are copied inline; a piece longer than the room left goes
    // through put_long().
    OutBuffer& put(std::string_view s) {
        if (s.size() > kSize - len_) return put_long(s);
        std::memcpy(buf_ + len_, s.data(), s.size());
        len_ += s.size();
        return *this;
    }
    // Inline, so that the length of a string literal is folded at compile time
    // (a char array that is not a literal must not be taken by its size).
    OutBuffer& put(const char* s) { return put(std::string_view(s)); }
    // Room for `n` bytes (n <= 4096) to be written through the pointer returned,
    // then commit(end) keeps what was written (see format.hpp).
    char* reserve(std::size_t n) {
        if (kSize - len_ < n) flush();
        return buf_ + len_;
    }
    void commit(const char* end) { len_ = static_cast<std::size_t>(end - buf_); }

    OutBuffer& put_u64(std::uint64_t v);
    OutBuffer& put_i64(std::int64_t v);
    // Seconds.fraction from nanoseconds, with `digits` fraction digits (1..9).
    OutBuffer& put_ts(std::uint64_t ns, int digits = 6);
    OutBuffer& put_fixed(double v, int digits);
    OutBuffer& put_mac(const std::uint8_t* mac);
    OutBuffer& put_ipv4(const std::uint8_t* addr);
    OutBuffer& put_ipv6(const std::uint8_t* addr);  // RFC 5952 compressed form
    OutBuffer& put_ip(const std::uint8_t* addr, int version) {
        return version == 4 ? put_ipv4(addr) : put_ipv6(addr);
    }
    // A JSON string literal, quotes included; invalid UTF-8 bytes become U+FFFD.
    OutBuffer& put_json_string(std::string_view s);

    // Writes out what is buffered; false once a write has failed (EPIPE, disk full).
    bool flush();
    bool failed() const { return failed_; }

  private:
    OutBuffer& put_long(std::string_view s);
    static constexpr std::size_t kSize = 1 << 16;
    std::FILE* file_;
    ByteConsumer* consumer_ = nullptr;
    std::size_t len_ = 0;
    bool failed_ = false;
    char buf_[kSize];
};

}  // namespace wl
