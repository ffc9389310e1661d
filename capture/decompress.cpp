#include "capture/decompress.hpp"

#include <fcntl.h>
#include <lzma.h>
#include <pthread.h>
#include <signal.h>
#include <stdio_ext.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>

namespace wl {

namespace {
constexpr std::size_t kInBuf = 1 << 17;
constexpr std::size_t kOutBuf = 1 << 17;
// A pipe of 1 MiB rather than Linux's 64 KiB: fewer switches between the two
// threads. Best effort (a lower /proc/sys/fs/pipe-max-size keeps the default).
constexpr int kPipeSize = 1 << 20;
}  // namespace

Compression compression_of(const std::uint8_t* h, std::size_t n) {
    if (n >= 2 && h[0] == 0x1f && h[1] == 0x8b) return Compression::Gzip;
    if (n >= 4 && h[0] == 0x28 && h[1] == 0xb5 && h[2] == 0x2f && h[3] == 0xfd) {
        return Compression::Zstd;
    }
    static constexpr std::uint8_t xz[6] = {0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00};
    if (n >= 6 && std::memcmp(h, xz, 6) == 0) return Compression::Xz;
    return Compression::None;
}

const char* compression_name(Compression c) {
    switch (c) {
        case Compression::Gzip:
            return "gzip";
        case Compression::Zstd:
            return "zstd";
        case Compression::Xz:
            return "xz";
        case Compression::None:
            break;
    }
    return "none";
}

bool may_be_compressed(int b) {
    return b == 0x1f || b == 0x28 || b == 0xfd;
}

std::unique_ptr<Decompressor> Decompressor::start(Compression c, std::FILE* in, bool own_input,
                                                  std::unique_ptr<char[]>& in_buffer,
                                                  const std::uint8_t* head, std::size_t head_len,
                                                  int& read_fd, std::string& error) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        error = std::string("cannot make a pipe for decompression: ") + std::strerror(errno);
        return nullptr;
    }
    (void)fcntl(fds[1], F_SETPIPE_SZ, kPipeSize);
    std::unique_ptr<Decompressor> d(new Decompressor());
    d->kind_ = c;
    d->in_ = in;
    d->own_input_ = own_input;
    d->write_fd_ = fds[1];
    d->in_buf_.reset(new std::uint8_t[kInBuf]);
    d->out_buf_.reset(new std::uint8_t[kOutBuf]);
    std::memcpy(d->in_buf_.get(), head, head_len);
    d->head_len_ = head_len;
    try {
        d->thread_ = std::thread([p = d.get()] { p->run(); });
    } catch (const std::system_error& e) {
        close(fds[0]);
        close(fds[1]);
        error = std::string("cannot start the decompression thread: ") + e.what();
        return nullptr;
    }
    d->in_file_buffer_ = std::move(in_buffer);
    read_fd = fds[0];
    return d;
}

Decompressor::~Decompressor() {
    join();
}

void Decompressor::join() {
    if (thread_.joinable()) thread_.join();
}

void Decompressor::run() {
    // A reader that stops early (-c, an error) closes the read end: the write
    // then fails with EPIPE rather than raising SIGPIPE (kept pending in this
    // thread, which ends at once).
    sigset_t pipe_sig;
    sigemptyset(&pipe_sig);
    sigaddset(&pipe_sig, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_sig, nullptr);
    switch (kind_) {
        case Compression::Gzip:
            run_gzip();
            break;
        case Compression::Zstd:
            run_zstd();
            break;
        case Compression::Xz:
            run_xz();
            break;
        case Compression::None:
            break;
    }
    if (own_input_) std::fclose(in_);
    in_ = nullptr;
    done_.store(true, std::memory_order_release);
    close(write_fd_);  // after done_: the reader sees the end only once failure_ is final
    write_fd_ = -1;
}

std::size_t Decompressor::refill() {
    if (head_len_ != 0) {
        const std::size_t n = head_len_;
        head_len_ = 0;
        consumed_ += n;
        return n;
    }
    const std::size_t n = std::fread(in_buf_.get(), 1, kInBuf, in_);
    if (n == 0 && std::ferror(in_)) read_error_ = true;
    consumed_ += n;
    return n;
}

bool Decompressor::emit(const std::uint8_t* p, std::size_t n) {
    while (n > 0) {
        const ssize_t w = write(write_fd_, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;  // EPIPE: the reader is gone, nothing to report
        }
        p += w;
        n -= static_cast<std::size_t>(w);
        produced_ += static_cast<std::uint64_t>(w);
    }
    return true;
}

// One line: "gzip data corrupt at compressed byte 1234 (56789 bytes decompressed)".
void Decompressor::fail(const std::string& what) {
    if (read_error_) {
        failure_ = std::string("read error in ") + compression_name(kind_) + " data after " +
                   std::to_string(consumed_) + " bytes (" + std::to_string(produced_) +
                   " bytes decompressed)";
        return;
    }
    failure_ = std::string(compression_name(kind_)) + " data " + what + " at compressed byte " +
               std::to_string(consumed_) + " (" + std::to_string(produced_) +
               " bytes decompressed)";
}

// Each loop reads more input only when the decoder has emptied what it had and
// its last call did not fill the output (more may be waiting inside it).

void Decompressor::run_gzip() {
    z_stream z{};
    if (inflateInit2(&z, 15 + 16) != Z_OK) {  // +16: gzip framing only
        failure_ = "cannot initialise zlib";
        return;
    }
    bool eof = false, out_full = false, in_member = true;
    for (;;) {
        if (z.avail_in == 0 && !eof && !out_full) {
            const std::size_t n = refill();
            z.next_in = in_buf_.get();
            z.avail_in = static_cast<uInt>(n);
            eof = n == 0;
        }
        if (z.avail_in == 0 && eof && !out_full) {
            if (in_member || read_error_) fail("truncated");
            break;
        }
        // Another member follows (zcat reads concatenated members as one stream).
        if (!in_member) {
            inflateReset(&z);
            in_member = true;
        }
        z.next_out = out_buf_.get();
        z.avail_out = kOutBuf;
        const int rc = inflate(&z, Z_NO_FLUSH);
        const std::size_t made = kOutBuf - z.avail_out;
        if (!emit(out_buf_.get(), made)) break;
        out_full = z.avail_out == 0;
        if (rc == Z_STREAM_END) {
            in_member = false;
            out_full = false;
        } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
            consumed_ -= z.avail_in;  // where the damage was seen
            fail("corrupt");
            break;
        }
    }
    inflateEnd(&z);
}

void Decompressor::run_zstd() {
    ZSTD_DCtx* dctx = ZSTD_createDCtx();
    if (dctx == nullptr) {
        failure_ = "cannot initialise zstd";
        return;
    }
    ZSTD_inBuffer in{in_buf_.get(), 0, 0};
    bool eof = false, out_full = false;
    std::size_t last = 0;  // 0: at a frame's end (frames may follow one another)
    for (;;) {
        if (in.pos == in.size && !eof && !out_full) {
            const std::size_t n = refill();
            in = ZSTD_inBuffer{in_buf_.get(), n, 0};
            eof = n == 0;
        }
        if (in.pos == in.size && eof && !out_full) {
            if (last != 0 || read_error_) fail("truncated");
            break;
        }
        ZSTD_outBuffer out{out_buf_.get(), kOutBuf, 0};
        const std::size_t rc = ZSTD_decompressStream(dctx, &out, &in);
        if (ZSTD_isError(rc)) {
            consumed_ -= in.size - in.pos;
            fail(std::string("corrupt (") + ZSTD_getErrorName(rc) + ")");
            break;
        }
        if (!emit(out_buf_.get(), out.pos)) break;
        out_full = out.pos == out.size;
        last = rc;
    }
    ZSTD_freeDCtx(dctx);
}

void Decompressor::run_xz() {
    lzma_stream s = LZMA_STREAM_INIT;
    // LZMA_CONCATENATED: xz -dc reads concatenated streams as one.
    if (lzma_stream_decoder(&s, UINT64_MAX, LZMA_CONCATENATED) != LZMA_OK) {
        failure_ = "cannot initialise liblzma";
        return;
    }
    bool eof = false;
    for (;;) {
        if (s.avail_in == 0 && !eof) {
            const std::size_t n = refill();
            s.next_in = in_buf_.get();
            s.avail_in = n;
            eof = n == 0;
        }
        s.next_out = out_buf_.get();
        s.avail_out = kOutBuf;
        const lzma_ret rc = lzma_code(&s, eof ? LZMA_FINISH : LZMA_RUN);
        if (!emit(out_buf_.get(), kOutBuf - s.avail_out)) break;
        if (rc == LZMA_STREAM_END) {
            if (read_error_) fail("truncated");
            break;
        }
        if (rc == LZMA_OK) continue;
        if (rc == LZMA_BUF_ERROR && !eof) continue;
        consumed_ -= s.avail_in;
        fail(rc == LZMA_BUF_ERROR   ? "truncated"
             : rc == LZMA_MEM_ERROR ? "needing too much memory"
                                    : "corrupt");
        break;
    }
    lzma_end(&s);
}

}  // namespace wl
