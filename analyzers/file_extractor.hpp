// Carves upload bodies into the folder named by --extract. Every file name comes
// from the network, so it is reduced to a safe base name, and every file is made
// with *at() calls relative to the folder's descriptor: a body can only ever
// become a new entry directly inside DIR. Nothing that exists there (a file, a
// folder, a symlink to anywhere, a dangling one) is followed, replaced or
// modified; a taken name gets a numbered suffix instead.
//
// A body streams into a temporary ".wirelens-<pid>-<n>.tmp" and takes its final
// name only in finish(), so DIR never holds a half-written file under a name the
// network chose.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace wl {

struct ExtractOptions {
    std::string dir;            // --extract DIR (must exist and be a directory; not created)
    bool keep_partial = false;  // --extract-partial: keep incomplete bodies as NAME.partial
    std::uint64_t max_size = 1ull << 30;  // --extract-max: refuse bodies declared larger (bytes)
    std::size_t max_open_files = 64;      // bodies begun and not finished, at most
};

class FileExtractor {
  public:
    FileExtractor() = default;
    FileExtractor(const FileExtractor&) = delete;
    FileExtractor& operator=(const FileExtractor&) = delete;
    ~FileExtractor();  // closes and removes unfinished temporary files

    // Opens DIR once. False and a one-line `error` when it does not exist, is not
    // a directory or is not writable. Opening again first drops unfinished bodies.
    bool open(const ExtractOptions& opts, std::string& error);

    // Starts a body. `name` is the header's file name, hostile bytes included; it
    // never causes a refusal (see safe_file_name). Returns a handle >= 0, or -1 and
    // `refusal`: "not_open", "too_large" (declared_size > max_size), "no_space"
    // (more than the file system has free), "too_many_open", "io_error".
    int begin(std::string_view name, std::uint64_t declared_size, std::string& refusal);

    // Appends to a body. False on an I/O error, or when the body grows past
    // max_size; the temporary file is then removed at once and finish() reports
    // why. Never allocates.
    bool write(int handle, const std::uint8_t* p, std::size_t n);

    // Leaves `n` bytes of a body unwritten (a gap: bytes never seen). They become a
    // hole in the file, which reads as zeros and takes no disk space, so a hostile
    // gap of a gigabyte costs nothing. False and the same failures as write() when
    // the body would grow past max_size or the file system refuses.
    bool skip(int handle, std::uint64_t n);

    // Ends a body and frees its handle. Complete: the body takes its safe name,
    // or "stem-1.ext", "stem-2.ext", ... when that is taken. Incomplete: kept as
    // NAME.partial (numbered the same way) only with keep_partial, else removed.
    // Returns the kept file's name relative to DIR, or "" and `refusal`:
    // "incomplete", "io_error", "no_space", "too_large", "name_taken" (a thousand
    // numbers tried), "bad_handle".
    std::string finish(int handle, bool complete, std::string& refusal);

    // Bodies begun and not yet finished.
    std::size_t open_files() const;

  private:
    struct Body {
        bool in_use = false;
        int fd = -1;  // -1 once the temporary file is gone (failed body)
        std::uint64_t written = 0;
        const char* failure = nullptr;  // refusal for finish(), set by a failed write
        char temp_name[48] = {};
        std::string name;  // the safe final name
    };

    Body* body_at(int handle);
    void fail(Body& body, const char* reason);
    void drop(Body& body);
    std::string publish(Body& body, std::string_view extra_suffix, std::string& refusal);
    void close_all();

    ExtractOptions opts_;
    int dir_fd_ = -1;
    std::uint64_t uploads_ = 0;  // begin() calls, numbering unnamed bodies
    std::vector<Body> bodies_;
    // Next number to try per taken name, so a thousand uploads of "a.bin" cost one
    // rename each rather than a thousand.
    std::unordered_map<std::string, unsigned> next_suffix_;
};

// The safe base name for a file name from the network (exposed for tests). Keeps
// only the part after the last '/' or '\\'; replaces control characters (C0, DEL,
// C1), bidirectional overrides, NUL and invalid UTF-8 bytes with '_', and a
// leading '.' with '_'; caps the length at kMaxSafeNameBytes on a character
// boundary, keeping a short extension; appends '_' to names ending in ".partial".
// A name left empty or made only of dots and spaces becomes "upload-N.bin", N
// being `fallback_index`.
inline constexpr std::size_t kMaxSafeNameBytes = 200;
std::string safe_file_name(std::string_view name, std::uint64_t fallback_index);

// Opens the output folder an option names (--extract, --streams) for *at()
// calls, made first when `create` and it does not exist (one level, 0755).
// DIR is the user's own choice, so a symlink to a folder is followed here; only
// names inside it are held to O_NOFOLLOW. Returns the descriptor, or -1 and a
// one-line `error` ("OPTION DIR: ...") when it is not a writable directory.
int open_output_dir(const std::string& dir, std::string_view option, bool create,
                    std::string& error);

// The refusal a failed create or write reports: "no_space", "too_many_open" or "io_error".
const char* write_failure_reason(int err);

}  // namespace wl
