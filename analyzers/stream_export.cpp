#include "analyzers/stream_export.hpp"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#include "analyzers/file_extractor.hpp"
#include "flow/uid.hpp"

namespace wl {

namespace {

constexpr std::uint32_t kDefaultGapLists = 1024;
// index.jsonl is written in blocks; a record is at most a few KiB (64 gap entries).
constexpr std::size_t kIndexBuffer = 64u << 10;
constexpr std::size_t kIndexFlushAt = 48u << 10;
constexpr const char* kIndexName = "index.jsonl";

std::uint32_t gap_lists_of(std::uint32_t max_flows, const StreamExportOptions& opts) {
    if (opts.gap_lists != 0) return opts.gap_lists;
    return static_cast<std::uint32_t>(
        std::min<std::uint64_t>(2ull * std::max(max_flows, 1u), kDefaultGapLists));
}

bool pwrite_all(int fd, const std::uint8_t* p, std::size_t n, std::uint64_t offset, int& err) {
    while (n > 0) {
        const ssize_t k = ::pwrite(fd, p, n, static_cast<off_t>(offset));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            err = k < 0 ? errno : EIO;
            return false;
        }
        p += k;
        n -= static_cast<std::size_t>(k);
        offset += static_cast<std::uint64_t>(k);
    }
    return true;
}

void put_u64(std::string& out, std::uint64_t v) {
    char tmp[24];
    const auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
    out.append(tmp, r.ptr);
}

// Seconds with six fraction digits, as conn records write ts.
void put_ts(std::string& out, std::uint64_t ns) {
    put_u64(out, ns / 1000000000ull);
    char frac[7];
    std::uint64_t us = ns % 1000000000ull / 1000;
    for (int i = 6; i > 0; --i, us /= 10)
        frac[i] = static_cast<char>('0' + us % 10);
    frac[0] = '.';
    out.append(frac, sizeof frac);
}

void put_ip(std::string& out, const std::uint8_t* addr, int version) {
    if (version != 6) {  // by hand: glibc's inet_ntop formats IPv4 with sprintf
        for (int i = 0; i < 4; ++i) {
            if (i != 0) out += '.';
            put_u64(out, addr[i]);
        }
        return;
    }
    char tmp[INET6_ADDRSTRLEN];
    if (::inet_ntop(AF_INET6, addr, tmp, sizeof tmp) != nullptr) {
        out += tmp;
    }
}

// "ip:port", "[ip6]:port".
void put_ip_port(std::string& out, const Endpoint& e, int version) {
    if (version == 6) out += '[';
    put_ip(out, e.addr, version);
    if (version == 6) out += ']';
    out += ':';
    put_u64(out, e.port);
}

}  // namespace

void StreamExporter::FreeDeleter::operator()(void* p) const {
    std::free(p);
}

std::uint64_t StreamExporter::memory_bound(std::uint32_t max_flows,
                                           const StreamExportOptions& opts) {
    const std::uint64_t flows = std::max(max_flows, 1u);
    const std::uint64_t lists = gap_lists_of(max_flows, opts);
    return flows * (sizeof(Slot) + 2 * sizeof(std::uint32_t)) +
           lists * (sizeof(GapList) + sizeof(std::uint32_t)) +
           std::uint64_t{opts.max_open_files} *
               (opts.buffer_bytes + sizeof(OpenFile) + sizeof(std::uint32_t)) +
           kIndexBuffer + sizeof(StreamExporter);
}

StreamExporter::StreamExporter(std::uint32_t max_flows,
                               std::function<const Connection&(std::uint32_t)> connection_of)
    : max_flows_(std::max(max_flows, 1u)), connection_of_(std::move(connection_of)) {}

StreamExporter::~StreamExporter() {
    finish();
    if (dir_fd_ >= 0) ::close(dir_fd_);
}

bool StreamExporter::open(const StreamExportOptions& opts, std::string& error) {
    if (opts.max_open_files == 0 || opts.buffer_bytes == 0) {
        error = "--streams: no file may be open";
        return false;
    }
    const int fd = open_output_dir(opts.dir, "--streams", true, error);
    if (fd < 0) return false;
    const int index =
        ::openat(fd, kIndexName, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (index < 0) {
        const int err = errno;
        ::close(fd);
        error = "--streams " + opts.dir + ": cannot create " + kIndexName + " (" +
                (err == EEXIST ? std::string("it exists already") : std::strerror(err)) + ")";
        return false;
    }
    opts_ = opts;
    dir_fd_ = fd;
    index_fd_ = index;

    const std::uint32_t lists = gap_lists_of(max_flows_, opts_);
    // calloc: pages no connection with data touches are never made resident.
    slot_of_.reset(static_cast<std::uint32_t*>(std::calloc(max_flows_, sizeof(std::uint32_t))));
    slots_.reset(static_cast<Slot*>(std::calloc(max_flows_, sizeof(Slot))));
    gap_lists_.reset(static_cast<GapList*>(std::calloc(lists, sizeof(GapList))));
    buffers_.reset(static_cast<std::uint8_t*>(
        std::calloc(opts_.max_open_files, std::size_t{opts_.buffer_bytes})));
    if (!slot_of_ || !slots_ || !gap_lists_ || !buffers_) throw std::bad_alloc();
    free_slots_.resize(max_flows_);
    for (std::uint32_t i = 0; i < max_flows_; ++i)
        free_slots_[i] = max_flows_ - 1 - i;
    free_gap_lists_.resize(lists);
    for (std::uint32_t i = 0; i < lists; ++i)
        free_gap_lists_[i] = lists - 1 - i;
    files_.assign(opts_.max_open_files, OpenFile{});
    free_files_.resize(opts_.max_open_files);
    for (std::uint32_t i = 0; i < opts_.max_open_files; ++i) {
        files_[i].buf = buffers_.get() + std::size_t{i} * opts_.buffer_bytes;
        free_files_[i] = opts_.max_open_files - 1 - i;
    }
    index_.reserve(kIndexBuffer);
    return true;
}

void StreamExporter::finish() {
    if (index_fd_ < 0) return;
    for (std::uint32_t conn = 0; conn < max_flows_; ++conn) {
        if (slot_of_[conn] == 0) continue;
        for (int dir = 0; dir < 2; ++dir)
            release(conn, dir);
        drop_slot_if_idle(conn);
    }
    flush_index();
    ::close(index_fd_);
    index_fd_ = -1;
}

StreamExporter::Dir& StreamExporter::track(std::uint32_t conn, int dir) {
    if (slot_of_[conn] == 0) {
        // One per connection, and no more connections than slots: never empty here.
        const std::uint32_t i = free_slots_.back();
        free_slots_.pop_back();
        Slot& s = slots_[i];
        std::memset(&s, 0, sizeof s);
        for (Dir& d : s.dir) {
            d.gaps = kNone;
            d.file = kNone;
        }
        slot_of_[conn] = i + 1;
    }
    Dir& d = slot_at(conn)->dir[dir];
    if (d.state == State::Idle) d.state = State::Tracking;
    return d;
}

void StreamExporter::drop_slot_if_idle(std::uint32_t conn) {
    const Slot* s = slot_at(conn);
    if (s == nullptr || s->dir[0].state != State::Idle || s->dir[1].state != State::Idle) return;
    free_slots_.push_back(slot_of_[conn] - 1);
    slot_of_[conn] = 0;
}

void StreamExporter::stream_start(std::uint32_t conn) {
    if (index_fd_ < 0 || slot_of_[conn] == 0) return;
    // The slot's previous connection was not finished: its records go out now.
    for (int dir = 0; dir < 2; ++dir)
        release(conn, dir);
    drop_slot_if_idle(conn);
}

void StreamExporter::stream_swap(std::uint32_t conn) {
    if (index_fd_ < 0 || slot_of_[conn] == 0) return;
    Slot& s = *slot_at(conn);
    std::swap(s.dir[0], s.dir[1]);
    std::swap(s.orig, s.resp);
    for (int dir = 0; dir < 2; ++dir) {
        if (s.dir[dir].file != kNone) files_[s.dir[dir].file].dir = dir;
    }
}

void StreamExporter::stream_data(std::uint32_t conn, int dir, std::uint64_t offset,
                                 const std::uint8_t* p, std::size_t n, std::uint32_t segment,
                                 std::uint64_t ts_ns, bool from_start) {
    (void)segment, (void)from_start;
    if (index_fd_ < 0 || n == 0) return;
    Dir& d = track(conn, dir);
    if (d.first_ns == 0) d.first_ns = ts_ns;
    d.last_ns = ts_ns;
    d.end = std::max(d.end, offset + n);

    // What the caps leave of [offset, offset + n).
    std::uint64_t allowed = n;
    Cut cut = Cut::None;
    if (offset >= opts_.max_stream) {
        allowed = 0;
        cut = Cut::StreamCap;
    } else if (opts_.max_stream - offset < allowed) {
        allowed = opts_.max_stream - offset;
        cut = Cut::StreamCap;
    }
    if (opts_.max_total - std::min(total_, opts_.max_total) < allowed) {
        allowed = opts_.max_total - std::min(total_, opts_.max_total);
        cut = Cut::TotalCap;
    }
    if (d.cut == Cut::None) {
        d.cut = cut;
        d.file_end = std::max(d.file_end, offset + allowed);
    }

    if (!ensure_open(conn, dir, d)) {
        d.not_written += n;
        return;
    }
    d.not_written += n - allowed;
    if (allowed == 0) return;

    OpenFile& f = files_[d.file];
    f.used = ++clock_;
    const std::size_t k = static_cast<std::size_t>(allowed);
    if (f.buf_len != 0 &&
        (f.buf_offset + f.buf_len != offset || opts_.buffer_bytes - f.buf_len < k)) {
        if (!flush(f, d)) {
            d.not_written += k;
            return;
        }
    }
    if (f.buf_len == 0 && k >= opts_.buffer_bytes) {
        int err = 0;
        if (!pwrite_all(f.fd, p, k, offset, err)) {
            d.not_written += k;
            refuse(d, write_failure_reason(err));
            return;
        }
        counters_.bytes_written += k;
    } else {
        if (f.buf_len == 0) f.buf_offset = offset;
        std::memcpy(f.buf + f.buf_len, p, k);
        f.buf_len += static_cast<std::uint32_t>(k);
    }
    d.written += k;
    total_ += k;
    d.extent = std::max(d.extent, offset + k);
}

void StreamExporter::stream_gap(std::uint32_t conn, int dir, std::uint64_t offset,
                                std::uint64_t len, GapCause cause) {
    if (index_fd_ < 0 || len == 0) return;
    Dir& d = track(conn, dir);
    d.end = std::max(d.end, offset + len);
    d.missing += len;
    add_gap(d, offset, len, static_cast<std::uint8_t>(cause));
    if (d.cut == Cut::None) {
        if (offset + len > opts_.max_stream) {
            d.cut = Cut::StreamCap;
            d.file_end = std::max(d.file_end, opts_.max_stream);
        } else {
            d.file_end = std::max(d.file_end, offset + len);
        }
    }
    // A direction with only gaps is exported too: its file is all hole.
    if (d.state == State::Tracking) ensure_open(conn, dir, d);
}

void StreamExporter::stream_filled(std::uint32_t conn, int dir, std::uint64_t offset,
                                   std::uint64_t len, FillCause cause, std::uint64_t opened_ns,
                                   std::uint64_t ts_ns) {
    (void)opened_ns, (void)ts_ns;
    if (index_fd_ < 0 || len == 0) return;
    Dir& d = track(conn, dir);
    if (cause == FillCause::Retransmitted) {
        d.retransmitted += len;
        add_gap(d, offset, len, kRetransmitted);
    } else {
        d.reordered += len;
    }
}

void StreamExporter::stream_inconsistent(std::uint32_t conn, int dir, std::uint64_t offset,
                                         std::uint64_t len) {
    (void)conn, (void)dir, (void)offset, (void)len;  // the first copy is the one delivered
}

void StreamExporter::stream_end(std::uint32_t conn, int dir, ConnEnd why, bool reset) {
    (void)why, (void)reset;
    if (index_fd_ < 0 || slot_of_[conn] == 0) return;
    release(conn, dir);
    drop_slot_if_idle(conn);
}

void StreamExporter::file_name(const Slot& s, int name_dir, char* out) {
    std::memcpy(out, s.prefix, s.prefix_len);
    std::memcpy(out + s.prefix_len, name_dir == 0 ? "orig.bin" : "resp.bin", 9);
}

bool StreamExporter::ensure_open(std::uint32_t conn, int dir, Dir& d) {
    if (d.file != kNone) return true;
    if (d.state == State::Refused) return false;
    Slot& s = *slot_at(conn);
    if (!s.known) {
        const Connection& c = connection_of_(conn);
        s.known = true;
        s.ip_version = c.key.ip_version;
        conn_uid(c, s.uid);
        s.tcp_stream = c.tcp_stream;
        // "tcp" + 20 digits at most + "-" + 18 + "-": 43 bytes, and 9 more for the suffix.
        char* p = s.prefix;
        std::memcpy(p, "tcp", 3);
        p = std::to_chars(p + 3, s.prefix + sizeof s.prefix, s.tcp_stream).ptr;
        *p++ = '-';
        std::memcpy(p, s.uid, 18);
        p += 18;
        *p++ = '-';
        s.prefix_len = static_cast<std::uint8_t>(p - s.prefix);
        s.orig = c.orig;
        s.resp = c.resp;
    }
    const bool create = d.state == State::Tracking;
    if (create) d.name_dir = static_cast<std::uint8_t>(dir);
    char name[kNameMax];
    file_name(s, d.name_dir, name);

    const std::uint32_t slot = take_open_slot();
    int fd = -1;
    const char* refusal = nullptr;
    struct stat st {};
    if (create) {
        fd = ::openat(dir_fd_, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0) refusal = errno == EEXIST ? "exists" : write_failure_reason(errno);
    } else {
        // Reopened: O_NOFOLLOW and the inode it had (taken when it was closed), so a
        // file swapped in meanwhile (a symlink, another file) is never written;
        // O_NONBLOCK, so that a FIFO swapped in cannot hang the open.
        fd = ::openat(dir_fd_, name, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        // The same file: a regular file with one link (not a hard link to one
        // elsewhere), its inode, and the size it was left with (inode numbers are
        // reused at once when a file is removed and another made).
        if (fd < 0) {
            const int err = errno;
            refusal = err == ELOOP || err == ENOENT || err == ENXIO || err == EISDIR
                          ? "replaced"
                          : write_failure_reason(err);
        } else if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
                   static_cast<std::uint64_t>(st.st_ino) != d.ino ||
                   static_cast<std::uint64_t>(st.st_size) != d.extent) {
            refusal = "replaced";
        } else {
            ++counters_.reopened;
        }
    }
    if (refusal != nullptr) {
        if (fd >= 0) ::close(fd);
        free_files_.push_back(slot);
        if (create) d.state = State::Writing;  // refuse() counts it
        refuse(d, refusal);
        return false;
    }
    if (create) d.state = State::Writing;
    OpenFile& f = files_[slot];
    f.fd = fd;
    f.conn = conn;
    f.dir = dir;
    f.used = ++clock_;
    f.buf_len = 0;
    d.file = slot;
    ++open_count_;
    return true;
}

// A free open-file slot, the least recently written file closed to make one.
std::uint32_t StreamExporter::take_open_slot() {
    if (free_files_.empty()) {
        std::uint32_t lru = 0;
        for (std::uint32_t i = 1; i < files_.size(); ++i) {
            if (files_[i].used < files_[lru].used) lru = i;
        }
        const OpenFile& f = files_[lru];
        Dir& d = slot_at(f.conn)->dir[f.dir];
        // Its inode, for the check when it is opened again (taken only now: most
        // files are written whole while open and never need it).
        struct stat st {};
        if (d.ino == 0 && ::fstat(f.fd, &st) == 0) d.ino = static_cast<std::uint64_t>(st.st_ino);
        close_file(d);
    }
    const std::uint32_t slot = free_files_.back();
    free_files_.pop_back();
    return slot;
}

bool StreamExporter::flush(OpenFile& f, Dir& d) {
    if (f.buf_len == 0) return true;
    int err = 0;
    if (!pwrite_all(f.fd, f.buf, f.buf_len, f.buf_offset, err)) {
        refuse(d, write_failure_reason(err));
        return false;
    }
    counters_.bytes_written += f.buf_len;
    f.buf_len = 0;
    return true;
}

void StreamExporter::close_file(Dir& d) {
    if (d.file == kNone) return;
    OpenFile& f = files_[d.file];
    if (!flush(f, d)) return;  // refuse() closed it
    const std::uint32_t slot = d.file;
    d.file = kNone;
    --open_count_;
    const int fd = f.fd;
    f.fd = -1;
    free_files_.push_back(slot);
    if (::close(fd) != 0 && errno != EINTR) refuse(d, "io_error");
}

// The file is not written again; what it holds stays (the index says why it stops).
void StreamExporter::refuse(Dir& d, const char* why) {
    if (d.file != kNone) {
        OpenFile& f = files_[d.file];
        d.written -= f.buf_len;  // what was buffered never reached the file
        d.not_written += f.buf_len;
        total_ -= f.buf_len;
        f.buf_len = 0;
        ::close(f.fd);
        f.fd = -1;
        free_files_.push_back(d.file);
        d.file = kNone;
        --open_count_;
    }
    if (d.state != State::Refused) {
        d.state = State::Refused;
        d.refusal = why;
        ++counters_.files_refused;
    }
}

// Keeps the list in offset order, merging an entry into a neighbour of the
// same cause that it touches.
void StreamExporter::add_gap(Dir& d, std::uint64_t offset, std::uint64_t len, std::uint8_t cause) {
    if (d.gaps == kNone) {
        if (free_gap_lists_.empty()) {
            ++d.gaps_not_listed;
            return;
        }
        d.gaps = free_gap_lists_.back();
        free_gap_lists_.pop_back();
        gap_lists_[d.gaps].count = 0;
    }
    GapList& list = gap_lists_[d.gaps];
    GapEntry* e = list.entries;
    std::uint32_t i = list.count;
    while (i > 0 && e[i - 1].offset > offset)
        --i;
    if (i > 0 && e[i - 1].cause == cause && e[i - 1].offset + e[i - 1].length == offset) {
        e[i - 1].length += len;
        if (i < list.count && e[i].cause == cause && offset + len == e[i].offset) {
            e[i - 1].length += e[i].length;
            std::memmove(e + i, e + i + 1, (list.count - i - 1) * sizeof(GapEntry));
            --list.count;
        }
        return;
    }
    if (i < list.count && e[i].cause == cause && offset + len == e[i].offset) {
        e[i].offset = offset;
        e[i].length += len;
        return;
    }
    if (list.count == kGapsListed) {
        ++d.gaps_not_listed;
        return;
    }
    std::memmove(e + i + 1, e + i, (list.count - i) * sizeof(GapEntry));
    e[i] = GapEntry{offset, len, cause};
    ++list.count;
}

// The direction is over: its file reaches its last byte or gap, its record
// goes to the index, its slot is free again.
void StreamExporter::release(std::uint32_t conn, int dir) {
    Dir& d = slot_at(conn)->dir[dir];
    if (d.state == State::Idle) return;
    if (d.state == State::Writing && d.file_end > d.extent && ensure_open(conn, dir, d)) {
        // A trailing gap: extending the file makes the hole.
        if (::ftruncate(files_[d.file].fd, static_cast<off_t>(d.file_end)) != 0) {
            refuse(d, write_failure_reason(errno));
        } else {
            d.extent = d.file_end;
        }
    }
    close_file(d);
    if (d.state == State::Writing || d.state == State::Refused) write_record(conn, dir);
    if (d.gaps != kNone) free_gap_lists_.push_back(d.gaps);
    std::memset(&d, 0, sizeof d);
    d.gaps = kNone;
    d.file = kNone;
}

void StreamExporter::write_record(std::uint32_t conn, int dir) {
    const Slot& s = *slot_at(conn);
    const Dir& d = s.dir[dir];
    const int v = s.ip_version;
    char name[kNameMax];
    file_name(s, d.name_dir, name);
    std::string& o = index_;
    // community_id: to come (a later issue), beside uid.
    o += "{\"uid\":\"";
    o += s.uid;
    o += "\",\"stream\":";
    put_u64(o, s.tcp_stream);
    o += dir == 0 ? ",\"dir\":\"orig\"" : ",\"dir\":\"resp\"";
    o += ",\"file\":\"";
    o += name;  // "tcpN-C...-orig.bin": nothing to escape
    o += "\",\"orig_h\":\"";
    put_ip(o, s.orig.addr, v);
    o += "\",\"orig_p\":";
    put_u64(o, s.orig.port);
    o += ",\"resp_h\":\"";
    put_ip(o, s.resp.addr, v);
    o += "\",\"resp_p\":";
    put_u64(o, s.resp.port);
    o += ",\"src\":\"";
    put_ip_port(o, dir == 0 ? s.orig : s.resp, v);
    o += "\",\"dst\":\"";
    put_ip_port(o, dir == 0 ? s.resp : s.orig, v);
    o += "\",\"bytes\":";
    put_u64(o, d.written);
    o += ",\"stream_bytes\":";
    put_u64(o, d.end);
    o += ",\"first_ts\":";
    put_ts(o, d.first_ns);
    o += ",\"last_ts\":";
    put_ts(o, d.last_ns);
    o += ",\"gaps\":[";
    if (d.gaps != kNone) {
        const GapList& list = gap_lists_[d.gaps];
        for (std::uint32_t i = 0; i < list.count; ++i) {
            const GapEntry& g = list.entries[i];
            o += i == 0 ? "{\"offset\":" : ",{\"offset\":";
            put_u64(o, g.offset);
            o += ",\"length\":";
            put_u64(o, g.length);
            if (g.cause == kRetransmitted) {
                o += ",\"cause\":\"retransmitted\",\"in_file\":true}";
            } else {
                o += ",\"cause\":\"";
                o += gap_cause_name(static_cast<GapCause>(g.cause));
                o += "\",\"in_file\":false}";
            }
        }
    }
    o += "],\"missing_bytes\":";
    put_u64(o, d.missing);
    o += ",\"retransmitted_bytes\":";
    put_u64(o, d.retransmitted);
    o += ",\"reordered_bytes\":";
    put_u64(o, d.reordered);
    if (d.gaps_not_listed != 0) {
        o += ",\"gaps_not_listed\":";
        put_u64(o, d.gaps_not_listed);
    }
    if (d.cut != Cut::None) {
        o += d.cut == Cut::StreamCap ? ",\"truncated\":\"stream_cap\""
                                     : ",\"truncated\":\"total_cap\"";
        ++counters_.truncated;
    }
    if (d.not_written != 0) {
        o += ",\"bytes_not_written\":";
        put_u64(o, d.not_written);
    }
    if (d.state == State::Refused) {
        o += ",\"refused\":\"";
        o += d.refusal;
        o += '"';
    }
    o += "}\n";
    ++counters_.streams;
    if (o.size() >= kIndexFlushAt) flush_index();
}

void StreamExporter::flush_index() {
    const char* p = index_.data();
    std::size_t n = index_.size();
    while (n > 0) {
        const ssize_t k = ::write(index_fd_, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            ++counters_.index_errors;
            break;
        }
        p += k;
        n -= static_cast<std::size_t>(k);
    }
    index_.clear();
}

}  // namespace wl
