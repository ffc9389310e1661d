// Compressed captures (gzip, zstd, xz), recognised by their magic bytes and
// decompressed by a thread of their own into a pipe whose read end libpcap
// reads as a stream: decompression runs beside the analysis, not before it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

namespace wl {

enum class Compression { None, Gzip, Zstd, Xz };

// The compression whose magic `head` (the first `n` bytes of a file) starts
// with: gzip 1f 8b, zstd 28 b5 2f fd, xz fd 37 7a 58 5a 00. None otherwise.
Compression compression_of(const std::uint8_t* head, std::size_t n);
const char* compression_name(Compression c);  // "gzip", "zstd", "xz"
// True when a file starting with byte `b` may be compressed (gzip, zstd or xz
// start so; pcap and pcapng never do): one byte decides whether to look further.
bool may_be_compressed(int b);

class Decompressor {
  public:
    // Starts the thread: it decompresses `head` (the bytes already read from
    // `in`) followed by the rest of `in` into a pipe, and closes `in` at the end
    // when `own_input`. `in_buffer`: the stdio buffer of `in` (may be null),
    // taken only on success to outlive the thread's fclose. Returns the pipe's
    // read end in `read_fd` (the caller owns it), or null and one line in `error`.
    static std::unique_ptr<Decompressor> start(Compression c, std::FILE* in, bool own_input,
                                               std::unique_ptr<char[]>& in_buffer,
                                               const std::uint8_t* head, std::size_t head_len,
                                               int& read_fd, std::string& error);
    // Joins the thread: close the read end first (a writer blocked on a full
    // pipe then fails with EPIPE and ends).
    ~Decompressor();
    Decompressor(const Decompressor&) = delete;
    Decompressor& operator=(const Decompressor&) = delete;

    void join();
    // The thread has closed the write end; failure() is then final.
    bool done() const { return done_.load(std::memory_order_acquire); }
    // Why the compressed stream ended early ("gzip data truncated at ..."),
    // empty when it ended well (or the reader went away). Read once done().
    const std::string& failure() const { return failure_; }
    Compression compression() const { return kind_; }

  private:
    Decompressor() = default;
    void run();
    bool emit(const std::uint8_t* p, std::size_t n);  // false: the reader is gone
    void fail(const std::string& what);
    void run_gzip();
    void run_zstd();
    void run_xz();
    std::size_t refill();  // 0 at end of input (or a read error, noted)

    Compression kind_ = Compression::None;
    std::FILE* in_ = nullptr;
    bool own_input_ = false;
    int write_fd_ = -1;
    std::unique_ptr<char[]> in_file_buffer_;  // `in`'s stdio buffer
    std::unique_ptr<std::uint8_t[]> in_buf_, out_buf_;
    std::size_t head_len_ = 0;    // bytes of `head` waiting in in_buf_
    std::uint64_t consumed_ = 0;  // compressed bytes read so far
    std::uint64_t produced_ = 0;  // decompressed bytes written so far
    bool read_error_ = false;
    std::string failure_;
    std::atomic<bool> done_{false};
    std::thread thread_;
};

}  // namespace wl
