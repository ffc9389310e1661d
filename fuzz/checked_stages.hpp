// Stage boundaries that check what crosses them, for the harnesses that wire the
// stages themselves: the reassembler's contract with its consumer, and the facts an
// upload record promises its reader. A broken promise aborts (a finding).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "analyzers/file_extractor.hpp"
#include "analyzers/upload_analyzer.hpp"
#include "flow/tcp_reassembler.hpp"
#include "fuzz/fuzz_input.hpp"

namespace wl::fuzz {

// Well-formed UTF-8: no stray continuation, overlong form, surrogate or code point past
// U+10FFFF.
inline bool valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const auto b = static_cast<unsigned char>(s[i]);
        std::size_t len = 1;
        unsigned lo = 0x80, hi = 0xbf;
        if (b < 0x80) {
            ++i;
            continue;
        } else if (b >= 0xc2 && b <= 0xdf) {
            len = 2;
        } else if (b >= 0xe0 && b <= 0xef) {
            len = 3;
            if (b == 0xe0) lo = 0xa0;
            if (b == 0xed) hi = 0x9f;
        } else if (b >= 0xf0 && b <= 0xf4) {
            len = 4;
            if (b == 0xf0) lo = 0x90;
            if (b == 0xf4) hi = 0x8f;
        } else {
            return false;
        }
        if (s.size() - i < len) return false;
        for (std::size_t k = 1; k < len; ++k) {
            const auto c = static_cast<unsigned char>(s[i + k]);
            if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xbf)) return false;
        }
        i += len;
    }
    return true;
}

// What file_extractor.hpp promises of safe_file_name: a plain, visible name.
inline void check_safe_name(std::string_view name) {
    check(!name.empty() && name.size() <= kMaxSafeNameBytes, "a safe name is 1 to 200 bytes");
    check(name.find_first_of("/\\") == std::string_view::npos, "a safe name has no path in it");
    check(name[0] != '.', "a safe name is not hidden");
    for (const char c : name)
        check(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f, "a safe name has no C0 or DEL");
    check(valid_utf8(name), "a safe name is UTF-8");
    for (std::size_t i = 0; i + 1 < name.size(); ++i) {
        const auto b0 = static_cast<unsigned char>(name[i]);
        const auto b1 = static_cast<unsigned char>(name[i + 1]);
        const auto b2 = i + 2 < name.size() ? static_cast<unsigned char>(name[i + 2]) : 0;
        const bool c1 = b0 == 0xc2 && b1 <= 0x9f;
        const bool bidi =
            b0 == 0xe2 &&
            ((b1 == 0x80 && (b2 == 0x8e || b2 == 0x8f || (b2 >= 0xa8 && b2 <= 0xae))) ||
             (b1 == 0x81 && b2 >= 0xa6 && b2 <= 0xa9));
        check(!c1 && !bidi, "a safe name has no C1 control, bidirectional control or separator");
    }
    std::string tail(name.substr(name.size() >= 8 ? name.size() - 8 : 0));
    for (char& c : tail)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    check(tail != ".partial", "a safe name does not pass for a partial body");
}

// Between TcpReassembler and its consumer: per direction, bytes and gaps come in
// order from offset 0, with neither overlap nor hole between them, and nothing comes
// after the direction's end until its slot is started again.
class CheckedStreams : public StreamConsumer {
  public:
    CheckedStreams(std::uint32_t max_flows, StreamConsumer& next)
        : expect_(2ull * max_flows), next_(next) {}

    void stream_start(std::uint32_t conn) override {
        at(conn, 0) = Expect{};
        at(conn, 1) = Expect{};
        next_.stream_start(conn);
    }
    void stream_swap(std::uint32_t conn) override {
        std::swap(at(conn, 0), at(conn, 1));
        next_.stream_swap(conn);
    }
    void stream_data(std::uint32_t conn, int dir, std::uint64_t offset, const std::uint8_t* p,
                     std::size_t n, std::uint32_t segment, std::uint64_t ts_ns,
                     bool from_start) override {
        Expect& e = at(conn, dir);
        check(!e.ended, "stream_data after stream_end");
        check(offset == e.next, "stream_data not at the offset where the stream stood");
        check(n != 0, "stream_data of no bytes");
        e.next += n;
        next_.stream_data(conn, dir, offset, p, n, segment, ts_ns, from_start);
    }
    void stream_gap(std::uint32_t conn, int dir, std::uint64_t offset, std::uint64_t len,
                    GapCause cause) override {
        Expect& e = at(conn, dir);
        check(!e.ended, "stream_gap after stream_end");
        check(offset == e.next, "stream_gap not at the offset where the stream stood");
        check(len != 0, "stream_gap of no bytes");
        e.next += len;
        next_.stream_gap(conn, dir, offset, len, cause);
    }
    void stream_inconsistent(std::uint32_t conn, int dir, std::uint64_t offset,
                             std::uint64_t len) override {
        next_.stream_inconsistent(conn, dir, offset, len);
    }
    void stream_end(std::uint32_t conn, int dir, ConnEnd why, bool reset) override {
        Expect& e = at(conn, dir);
        check(!e.ended, "stream_end twice");
        e.ended = true;
        next_.stream_end(conn, dir, why, reset);
    }

  private:
    struct Expect {
        std::uint64_t next = 0;
        bool ended = false;
    };
    Expect& at(std::uint32_t conn, int dir) { return expect_.at(2ull * conn + dir); }

    std::vector<Expect> expect_;
    StreamConsumer& next_;
};

// Reads every upload record in full (so the sanitizers see each view it holds) and
// checks that its verdict agrees with its counts; with the extraction folder, that a
// carved body is a regular file directly inside it, of a plausible size.
class CheckedUploads : public UploadRecordSink {
  public:
    CheckedUploads() = default;
    explicit CheckedUploads(std::string extract_dir) : dir_(std::move(extract_dir)) {}

    void upload(const UploadRecord& rec) override {
        const UploadFrame& f = *rec.frame;
        check(f.complete == (f.missing == nullptr), "an upload is complete iff nothing is missing");
        check(!f.complete || !f.has_size || f.received == f.declared_size,
              "a complete upload received its declared size");
        check(!f.has_size || f.received <= f.declared_size,
              "an upload received more than it declared");
        std::uint64_t sum = rec.conn->uid_tie + static_cast<std::uint64_t>(rec.dir);
        for (const std::string_view s : {f.header_json, f.file_name, rec.extracted, rec.refused}) {
            for (const char c : s)
                sum += static_cast<unsigned char>(c);
        }
        keep(sum);
        if (!rec.extracted.empty()) check_carved(rec);
    }
    void inconsistent(const Connection& c, int, std::uint64_t, std::uint64_t) override {
        keep(c.uid_tie + c.start_ns);
    }

  private:
    void check_carved(const UploadRecord& rec) const {
        const UploadFrame& f = *rec.frame;
        std::string_view name = rec.extracted;
        check(name.find('/') == std::string_view::npos && name[0] != '.',
              "a carved body is a visible entry of the extraction folder");
        if (!f.complete) {
            check(name.size() > 8 && name.substr(name.size() - 8) == ".partial",
                  "an incomplete carved body is NAME.partial");
            name.remove_suffix(8);
        }
        check(valid_utf8(name), "a carved body's name is UTF-8");
        struct stat st {};
        const std::string path = dir_ + "/" + std::string(rec.extracted);
        check(!dir_.empty() && lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode),
              "a carved body is a regular file where its record says");
        const auto size = static_cast<std::uint64_t>(st.st_size);
        check(f.complete ? size == f.declared_size : size <= f.declared_size,
              "a carved body holds its declared size, or less when incomplete");
    }

    std::string dir_;
};

}  // namespace wl::fuzz
