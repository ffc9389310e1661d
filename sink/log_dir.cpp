#include "sink/log_dir.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace wl {

struct LogDir::Log {
    std::string type;
    int fd = -1;
    bool failed = false;
    std::string buf;
    std::vector<zeek::Column> cols;  // zeek format: set by the first record
    bool header_done = false;
    std::uint64_t open_ns = 0;
};

namespace {

std::uint64_t wall_now() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull +
           static_cast<std::uint64_t>(ts.tv_nsec);
}

// A type names a file: lower-case letters, digits and '_' only, 1..32 of them.
bool file_safe(std::string_view type) {
    if (type.empty() || type.size() > 32) return false;
    for (const char c : type)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    return true;
}

}  // namespace

LogDir::LogDir() = default;

LogDir::~LogDir() {
    for (auto& l : logs_)
        if (l->fd >= 0) ::close(l->fd);
    if (dir_fd_ >= 0) ::close(dir_fd_);
}

bool LogDir::open(const LogDirOptions& opt, std::string& error) {
    opt_ = opt;
    const std::string& dir = opt_.dir;
    dir_fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd_ < 0 && errno == ENOENT) {
        if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
            error = "--log-dir " + dir + ": " + std::strerror(errno);
            return false;
        }
        dir_fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (dir_fd_ < 0) {
        error = "--log-dir " + dir + ": " + std::strerror(errno);
        return false;
    }
    // One run's folder: a .log file there (a log of an earlier run) is refused.
    const int scan = ::dup(dir_fd_);
    DIR* d = scan >= 0 ? ::fdopendir(scan) : nullptr;
    if (d == nullptr) {
        if (scan >= 0) ::close(scan);
        error = "--log-dir " + dir + ": " + std::strerror(errno);
        return false;
    }
    std::string taken;
    while (const dirent* e = ::readdir(d)) {
        const std::string_view name = e->d_name;
        if (name.size() > 4 && name.ends_with(".log")) {
            taken = e->d_name;
            break;
        }
    }
    ::closedir(d);
    if (!taken.empty()) {
        error = "--log-dir " + dir + ": holds " + taken +
                " already (logs go into a folder without .log files)";
        return false;
    }
    return true;
}

std::uint64_t LogDir::now() const {
    return clock_ns_ != 0 ? clock_ns_ : wall_now();
}

void LogDir::fail(const std::string& why) {
    if (error_.empty()) error_ = "--log-dir " + opt_.dir + ": " + why;
}

LogDir::Log* LogDir::log_of(std::string_view type) {
    for (auto& l : logs_)
        if (l->type == type) return l.get();
    if (!file_safe(type)) {
        fail("record type \"" + std::string(type) + "\" cannot name a file: records dropped");
        return nullptr;
    }
    if (logs_.size() == kMaxLogs) {
        fail("more than " + std::to_string(kMaxLogs) + " record types: records dropped");
        return nullptr;
    }
    auto l = std::make_unique<Log>();
    l->type = std::string(type);
    l->buf.reserve(kBufferBytes);
    logs_.push_back(std::move(l));
    return logs_.back().get();
}

bool LogDir::drain(Log& log) {
    std::size_t at = 0;
    while (at < log.buf.size() && !log.failed) {
        const ssize_t n = ::write(log.fd, log.buf.data() + at, log.buf.size() - at);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            log.failed = true;
            fail(log.type + ".log: " + std::strerror(n < 0 ? errno : EIO));
            break;
        }
        at += static_cast<std::size_t>(n);
    }
    log.buf.clear();
    return !log.failed;
}

void LogDir::write(Log& log, std::string_view bytes) {
    if (log.buf.size() + bytes.size() > kBufferBytes) drain(log);
    log.buf.append(bytes);
    if (log.buf.size() >= kBufferBytes) drain(log);
}

void LogDir::record(std::string_view type, std::string_view json) {
    Log* log = log_of(type);
    if (log == nullptr) {
        ++lost_;
        return;
    }
    if (log->failed) {
        ++lost_;
        return;
    }
    if (opt_.rotate_seconds != 0 && interval_end_ == 0) advance(now());
    if (log->fd < 0) {
        const std::string name = log->type + ".log";
        log->fd = ::openat(dir_fd_, name.c_str(),
                           O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (log->fd < 0) {
            log->failed = true;
            ++lost_;
            fail(name + ": " +
                 (errno == EEXIST ? std::string("exists already (not replaced)")
                                  : std::string(std::strerror(errno))));
            return;
        }
        log->open_ns = now();
        log->header_done = false;
    }
    if (!opt_.zeek) {
        write(*log, json);
        write(*log, "\n");
        return;
    }
    if (!log->header_done) {
        if (log->cols.empty()) log->cols = zeek::schema_of(type, json);
        write(*log, zeek::header(type, log->cols, log->open_ns));
        log->header_done = true;
    }
    std::string row;
    if (!zeek::row(json, log->cols, row)) {
        ++lost_;
        fail(log->type + ".log: a record that is not a JSON object");
        return;
    }
    write(*log, row);
}

void LogDir::close(Log& log) {
    if (log.fd < 0) return;
    if (opt_.zeek && log.header_done) write(log, zeek::close_line(now()));
    drain(log);
    if (::close(log.fd) != 0 && !log.failed) {
        log.failed = true;
        fail(log.type + ".log: " + std::strerror(errno));
    }
    log.fd = -1;
    if (opt_.rotate_seconds == 0) return;
    // Rotated: renamed by the interval it covers, never over another file.
    const std::string from = log.type + ".log";
    const std::string to =
        log.type + "." + zeek::stamp(interval_start_) + "-" + zeek::stamp(interval_end_) + ".log";
    if (::renameat2(dir_fd_, from.c_str(), dir_fd_, to.c_str(), RENAME_NOREPLACE) != 0) {
        fail(from + " -> " + to + ": " + std::strerror(errno));
        log.failed = true;
    }
}

void LogDir::advance(std::uint64_t now_ns) {
    if (now_ns > clock_ns_) clock_ns_ = now_ns;
    if (opt_.rotate_seconds == 0) return;
    const std::uint64_t span = std::uint64_t{opt_.rotate_seconds} * 1000000000ull;
    if (interval_end_ != 0 && clock_ns_ < interval_end_) return;
    if (interval_end_ != 0) {
        for (auto& l : logs_)
            close(*l);
    }
    interval_start_ = clock_ns_ / span * span;
    interval_end_ = interval_start_ + span;
}

bool LogDir::finish(std::string& error) {
    for (auto& l : logs_)
        close(*l);
    if (!error_.empty()) {
        error = error_;
        if (lost_ != 0) error += " (" + std::to_string(lost_) + " records not written)";
        return false;
    }
    return true;
}

}  // namespace wl
