#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1  // renameat2 and RENAME_NOREPLACE (g++ defines it already)
#endif
#include "analyzers/file_extractor.hpp"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>

namespace wl {

namespace {

constexpr std::size_t kMaxExtensionBytes = 16;  // ".partial_" and ".tar.gz"-like, not prose
constexpr std::string_view kPartialSuffix = ".partial";
constexpr unsigned kMaxSuffixTries = 1000;  // per finish(); next_suffix_ makes one try usual
constexpr unsigned kMaxTempTries = 100;

bool is_continuation(std::uint8_t b) {
    return (b & 0xC0) == 0x80;
}

// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF), or 0 when s[i] does not start one.
std::size_t utf8_length(std::string_view s, std::size_t i) {
    const auto at = [&](std::size_t k) { return static_cast<std::uint8_t>(s[i + k]); };
    const std::uint8_t b = at(0);
    std::size_t len = 0;
    std::uint8_t lo = 0x80, hi = 0xBF;  // range of the second byte
    if (b < 0x80) return 1;
    if (b >= 0xC2 && b <= 0xDF) {
        len = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
        len = 3;
        if (b == 0xE0) lo = 0xA0;
        if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        len = 4;
        if (b == 0xF0) lo = 0x90;
        if (b == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (s.size() - i < len) return 0;
    if (at(1) < lo || at(1) > hi) return 0;
    for (std::size_t k = 2; k < len; ++k) {
        if (!is_continuation(at(k))) return 0;
    }
    return len;
}

// Characters a terminal or a file manager acts on rather than shows: C0, DEL, C1
// (U+0080..U+009F, e.g. CSI), and the bidirectional controls and line separators
// that let "evil\u202Efdp.exe" display as "evilexe.pdf".
bool is_control(std::string_view seq) {
    const auto b = [&](std::size_t k) { return static_cast<std::uint8_t>(seq[k]); };
    if (seq.size() == 1) return b(0) < 0x20 || b(0) == 0x7F;
    if (seq.size() == 2) return b(0) == 0xC2 && b(1) <= 0x9F;
    if (seq.size() != 3) return false;
    if (b(0) == 0xE2 && b(1) == 0x80) {
        return b(2) == 0x8E || b(2) == 0x8F || (b(2) >= 0xA8 && b(2) <= 0xAE);
    }
    return b(0) == 0xE2 && b(1) == 0x81 && b(2) >= 0xA6 && b(2) <= 0xA9;
}

// Where a name's extension starts: its last '.', unless that is the first byte or
// the extension is too long to be one.
std::size_t extension_pos(std::string_view name) {
    const std::size_t dot = name.rfind('.');
    if (dot == std::string_view::npos || dot == 0 || name.size() - dot > kMaxExtensionBytes) {
        return name.size();
    }
    return dot;
}

// `s` is well-formed UTF-8 here, so a cut before a non-continuation byte is a
// cut between characters.
void cap_length(std::string& s) {
    if (s.size() <= kMaxSafeNameBytes) return;
    const std::size_t ext = extension_pos(s);
    const std::size_t ext_len = s.size() - ext;
    std::size_t stem = kMaxSafeNameBytes - ext_len;
    while (stem > 0 && is_continuation(static_cast<std::uint8_t>(s[stem]))) {
        --stem;
    }
    s.erase(stem, ext - stem);
}

bool ends_with_reserved(std::string_view s) {
    if (s.size() < kPartialSuffix.size()) return false;
    const std::string_view tail = s.substr(s.size() - kPartialSuffix.size());
    for (std::size_t i = 0; i < tail.size(); ++i) {
        char c = tail[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != kPartialSuffix[i]) return false;
    }
    return true;
}

// "stem-N.ext", or "name-N" when there is no extension.
std::string with_number(std::string_view name, unsigned n) {
    const std::size_t ext = extension_pos(name);
    std::string out(name.substr(0, ext));
    out += '-';
    out += std::to_string(n);
    out += name.substr(ext);
    return out;
}

std::atomic<std::uint64_t> temp_counter{0};  // shared: extractors may share one DIR

}  // namespace

const char* write_failure_reason(int err) {
    switch (err) {
        case ENOSPC:
        case EDQUOT:
            return "no_space";
        case EMFILE:
        case ENFILE:
            return "too_many_open";
        default:
            return "io_error";
    }
}

int open_output_dir(const std::string& dir, std::string_view option, bool create,
                    std::string& error) {
    const std::string what = std::string(option) + " " + dir + ": ";
    if (dir.empty()) {
        error = std::string(option) + ": no directory given";
        return -1;
    }
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
        if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
            error = what + "cannot create it (" + std::strerror(errno) + ")";
            return -1;
        }
        fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (fd < 0) {
        const int err = errno;
        error = what + (err == ENOTDIR  ? "not a directory"
                        : err == ENOENT ? "no such directory"
                                        : std::strerror(err));
        return -1;
    }
    if (::faccessat(fd, ".", W_OK | X_OK, AT_EACCESS) != 0) {
        const int err = errno;
        ::close(fd);
        error = what + "not writable (" + std::strerror(err) + ")";
        return -1;
    }
    return fd;
}

std::string safe_file_name(std::string_view name, std::uint64_t fallback_index) {
    const std::size_t slash = name.find_last_of("/\\");
    if (slash != std::string_view::npos) name.remove_prefix(slash + 1);

    std::string out;
    out.reserve(std::min(name.size(), 4 * kMaxSafeNameBytes));
    for (std::size_t i = 0; i < name.size();) {
        const std::size_t len = utf8_length(name, i);
        if (len == 0) {
            out += '_';
            ++i;
            continue;
        }
        const std::string_view seq = name.substr(i, len);
        if (is_control(seq)) {
            out += '_';
        } else {
            out += seq;
        }
        i += len;
    }

    if (out.find_first_not_of(". ") == std::string::npos) {
        return "upload-" + std::to_string(fallback_index) + ".bin";
    }
    if (out[0] == '.') out[0] = '_';
    cap_length(out);
    // A complete body must never look like a kept incomplete one.
    if (ends_with_reserved(out)) {
        out += '_';
        cap_length(out);
    }
    return out;
}

FileExtractor::~FileExtractor() {
    close_all();
}

bool FileExtractor::open(const ExtractOptions& opts, std::string& error) {
    close_all();
    error.clear();
    const int fd = open_output_dir(opts.dir, "--extract", false, error);
    if (fd < 0) return false;
    opts_ = opts;
    dir_fd_ = fd;
    bodies_.assign(opts.max_open_files, Body{});
    return true;
}

int FileExtractor::begin(std::string_view name, std::uint64_t declared_size, std::string& refusal) {
    refusal.clear();
    if (dir_fd_ < 0) {
        refusal = "not_open";
        return -1;
    }
    if (declared_size > opts_.max_size) {
        refusal = "too_large";
        return -1;
    }
    std::size_t slot = 0;
    while (slot < bodies_.size() && bodies_[slot].in_use) {
        ++slot;
    }
    if (slot == bodies_.size()) {
        refusal = "too_many_open";
        return -1;
    }
    struct statvfs fs {};
    if (::fstatvfs(dir_fd_, &fs) == 0 && fs.f_blocks > 0 && fs.f_frsize > 0) {
        const std::uint64_t blocks =
            declared_size / fs.f_frsize + (declared_size % fs.f_frsize != 0 ? 1 : 0);
        if (blocks > fs.f_bavail) {
            refusal = "no_space";
            return -1;
        }
    }

    Body& body = bodies_[slot];
    body.name = safe_file_name(name, ++uploads_);  // before the file: nothing to undo if it throws
    int fd = -1;
    for (unsigned tries = 0; fd < 0 && tries < kMaxTempTries; ++tries) {
        (void)std::snprintf(body.temp_name, sizeof body.temp_name, ".wirelens-%ld-%llu.tmp",
                            static_cast<long>(::getpid()),
                            static_cast<unsigned long long>(temp_counter.fetch_add(1)));
        fd = ::openat(dir_fd_, body.temp_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                      0644);
        if (fd < 0 && errno != EEXIST && errno != EINTR) break;
    }
    if (fd < 0) {
        refusal = errno == EEXIST ? "io_error" : write_failure_reason(errno);
        return -1;
    }
    body.in_use = true;
    body.fd = fd;
    body.written = 0;
    body.failure = nullptr;
    return static_cast<int>(slot);
}

bool FileExtractor::write(int handle, const std::uint8_t* p, std::size_t n) {
    Body* body = body_at(handle);
    if (body == nullptr || body->fd < 0) return false;
    if (n > opts_.max_size - body->written) {
        fail(*body, "too_large");
        return false;
    }
    while (n > 0) {
        const ssize_t k = ::write(body->fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            fail(*body, k < 0 ? write_failure_reason(errno) : "io_error");
            return false;
        }
        p += k;
        n -= static_cast<std::size_t>(k);
        body->written += static_cast<std::uint64_t>(k);
    }
    return true;
}

bool FileExtractor::skip(int handle, std::uint64_t n) {
    Body* body = body_at(handle);
    if (body == nullptr || body->fd < 0) return false;
    if (n > opts_.max_size - body->written) {
        fail(*body, "too_large");
        return false;
    }
    if (n == 0) return true;
    // Extending the file makes the hole; the next write goes after it.
    const std::uint64_t end = body->written + n;
    if (::ftruncate(body->fd, static_cast<off_t>(end)) != 0 ||
        ::lseek(body->fd, static_cast<off_t>(end), SEEK_SET) < 0) {
        fail(*body, write_failure_reason(errno));
        return false;
    }
    body->written = end;
    return true;
}

std::string FileExtractor::finish(int handle, bool complete, std::string& refusal) {
    refusal.clear();
    Body* body = body_at(handle);
    if (body == nullptr) {
        refusal = "bad_handle";
        return {};
    }
    std::string kept;
    if (body->failure != nullptr) {
        refusal = body->failure;
    } else if (::close(body->fd) != 0 && errno != EINTR) {
        // Network file systems may report a lost write only here.
        body->fd = -1;
        fail(*body, write_failure_reason(errno));
        refusal = body->failure;
    } else {
        body->fd = -1;
        if (complete || opts_.keep_partial) {
            kept = publish(*body, complete ? "" : kPartialSuffix, refusal);
        } else {
            ::unlinkat(dir_fd_, body->temp_name, 0);
            refusal = "incomplete";
        }
    }
    drop(*body);
    return kept;
}

std::size_t FileExtractor::open_files() const {
    std::size_t n = 0;
    for (const Body& body : bodies_) {
        n += body.in_use ? 1 : 0;
    }
    return n;
}

FileExtractor::Body* FileExtractor::body_at(int handle) {
    if (handle < 0 || static_cast<std::size_t>(handle) >= bodies_.size()) return nullptr;
    Body& body = bodies_[static_cast<std::size_t>(handle)];
    return body.in_use ? &body : nullptr;
}

// Frees the disk space at once; finish() still reports `reason`.
void FileExtractor::fail(Body& body, const char* reason) {
    if (body.fd >= 0) ::close(body.fd);
    body.fd = -1;
    ::unlinkat(dir_fd_, body.temp_name, 0);
    body.failure = reason;
}

void FileExtractor::drop(Body& body) {
    body.in_use = false;
    body.fd = -1;
    body.written = 0;
    body.failure = nullptr;
    body.name.clear();
}

// Gives the temporary file its final name without ever replacing an entry:
// RENAME_NOREPLACE (or link(), which never replaces either) fails with EEXIST
// on a file, folder or symlink, dangling or not, and the next number is tried.
std::string FileExtractor::publish(Body& body, std::string_view extra, std::string& refusal) {
    const std::string key = body.name + std::string(extra);
    auto known = next_suffix_.find(key);
    unsigned n = known == next_suffix_.end() ? 0 : known->second;
    int err = EEXIST;
    for (unsigned tries = 0; tries < kMaxSuffixTries; ++tries, ++n) {
        std::string candidate = n == 0 ? body.name : with_number(body.name, n);
        candidate += extra;
        int rc = ::renameat2(dir_fd_, body.temp_name, dir_fd_, candidate.c_str(), RENAME_NOREPLACE);
        if (rc != 0 && (errno == EINVAL || errno == ENOSYS)) {
            // The file system cannot rename without replacing: link, then unlink.
            rc = ::linkat(dir_fd_, body.temp_name, dir_fd_, candidate.c_str(), 0);
            if (rc == 0) ::unlinkat(dir_fd_, body.temp_name, 0);
        }
        if (rc == 0) {
            if (n > 0) next_suffix_[key] = n + 1;
            return candidate;
        }
        err = errno;
        if (err != EEXIST) break;
    }
    ::unlinkat(dir_fd_, body.temp_name, 0);
    refusal = err == EEXIST ? "name_taken" : write_failure_reason(err);
    return {};
}

void FileExtractor::close_all() {
    for (Body& body : bodies_) {
        if (!body.in_use) continue;
        if (body.fd >= 0) ::close(body.fd);
        body.fd = -1;
        ::unlinkat(dir_fd_, body.temp_name, 0);
        drop(body);
    }
    bodies_.clear();
    next_suffix_.clear();
    if (dir_fd_ >= 0) ::close(dir_fd_);
    dir_fd_ = -1;
}

}  // namespace wl
