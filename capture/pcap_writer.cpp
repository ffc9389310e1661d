#include "capture/pcap_writer.hpp"

#include <fcntl.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace wl {

namespace {

constexpr std::uint64_t kNsPerSec = 1000000000ull;
constexpr std::uint64_t kFileHeaderLen = 24;
constexpr std::uint64_t kRecordHeaderLen = 16;
// Larger than stdio's default (one disk block), so that small frames do not
// each cost a write(2); flush() hands it to the kernel.
constexpr std::size_t kBufferSize = 1 << 16;

// Digits of n, as tcpdump pads -W numbers: 0 for n == 0.
int digits(std::uint32_t n) {
    int d = 0;
    for (; n > 0; n /= 10)
        ++d;
    return d;
}

std::string shown(const std::string& path) {
    return path == "-" ? std::string("standard output") : path;
}

}  // namespace

PcapWriter::~PcapWriter() {
    if (dumper_ != nullptr) pcap_dump_close(dumper_);
    if (dead_ != nullptr) pcap_close(dead_);
}

std::unique_ptr<PcapWriter> PcapWriter::open(const WriterOptions& opt, std::string& error) {
    if (opt.path.empty()) {
        error = "no file name to write to (-w)";
        return nullptr;
    }
    if (opt.path == "-" && (opt.rotate_bytes != 0 || opt.rotate_seconds != 0)) {
        error = "cannot rotate standard output (-w -): give a file name";
        return nullptr;
    }
    std::unique_ptr<PcapWriter> w(new PcapWriter(opt));
    w->number_width_ = opt.max_files > 0 ? digits(opt.max_files - 1) : 0;
    if (opt.rotate_seconds != 0) {
        tzset();  // names are in local time: take TZ as it is now
        w->interval_start_ = opt.start_ns != 0 ? static_cast<std::int64_t>(opt.start_ns / kNsPerSec)
                                               : static_cast<std::int64_t>(std::time(nullptr));
    }
    const std::uint32_t snaplen = opt.snaplen == 0 ? 262144u : opt.snaplen;
    w->opt_.snaplen = snaplen;
    w->dead_ = pcap_open_dead_with_tstamp_precision(
        opt.linktype, snaplen > INT_MAX ? INT_MAX : static_cast<int>(snaplen),
        PCAP_TSTAMP_PRECISION_NANO);
    if (w->dead_ == nullptr) {
        error = "cannot write " + shown(opt.path) + ": out of memory";
        return nullptr;
    }
    if (!w->rotate(0)) {
        error = w->error_;
        return nullptr;
    }
    return w;
}

// tcpdump's names: the path (strftime-expanded with -G), then with -C the
// file's number, zero-padded to the width of -W's largest; the first file of
// an unbounded -C series has no number.
bool PcapWriter::name_file(std::uint32_t number, std::string& name) {
    std::string base;
    if (opt_.rotate_seconds != 0) {
        const std::time_t t = static_cast<std::time_t>(interval_start_);
        std::tm local{};
        char buf[PATH_MAX];
        const std::size_t n = localtime_r(&t, &local) != nullptr
                                  ? std::strftime(buf, sizeof buf, opt_.path.c_str(), &local)
                                  : 0;
        if (n == 0) {
            error_ = "-w " + opt_.path + ": the pattern gives an empty or too long file name";
            return false;
        }
        base.assign(buf, n);
    } else {
        base = opt_.path;
    }
    const int width = opt_.rotate_bytes != 0 ? number_width_ : 0;
    if (number == 0 && width == 0) {
        name = base;
    } else {
        char num[16];
        std::snprintf(num, sizeof num, "%0*u", width, number);
        name = base + num;
    }
    return true;
}

bool PcapWriter::open_file(const std::string& name) {
    const int fd = name == "-"
                       ? fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0)
                       : ::open(name.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        error_ = "cannot write " + shown(name) + ": " + std::strerror(errno);
        return false;
    }
    std::FILE* fp = fdopen(fd, "wb");
    if (fp == nullptr) {
        error_ = "cannot write " + shown(name) + ": " + std::strerror(errno);
        ::close(fd);
        return false;
    }
    std::setvbuf(fp, nullptr, _IOFBF, kBufferSize);
    pcap_dumper_t* d = pcap_dump_fopen(dead_, fp);
    if (d == nullptr) {
        error_ = "cannot write " + shown(name) + ": " + pcap_geterr(dead_);
        std::fclose(fp);
        return false;
    }
    dumper_ = d;
    current_path_ = name;
    file_bytes_ = kFileHeaderLen;
    ++files_;
    return true;
}

bool PcapWriter::close_file() {
    const bool ok = pcap_dump_flush(dumper_) == 0 && std::ferror(pcap_dump_file(dumper_)) == 0;
    const int err = errno;
    pcap_dump_close(dumper_);
    dumper_ = nullptr;
    if (!ok) error_ = "cannot write " + shown(current_path_) + ": " + std::strerror(err);
    return ok;
}

bool PcapWriter::rotate(std::uint32_t number) {
    std::string name;
    return name_file(number, name) && open_file(name);
}

bool PcapWriter::write(const RawFrame& f) {
    if (done_) return true;
    if (!error_.empty()) return false;  // a failed writer stays failed
    if (dumper_ == nullptr) {
        if (error_.empty()) error_ = "cannot write " + shown(current_path_) + ": already closed";
        return false;
    }
    if (opt_.rotate_seconds != 0) {
        const auto sec = static_cast<std::int64_t>(f.ts_ns / kNsPerSec);
        if (sec - interval_start_ >= static_cast<std::int64_t>(opt_.rotate_seconds)) {
            if (!close_file()) return false;
            interval_start_ = sec;
            ++interval_files_;
            if (opt_.rotate_bytes == 0 && opt_.max_files != 0 &&
                interval_files_ >= opt_.max_files) {
                done_ = true;
                return true;
            }
            size_number_ = 0;
            if (!rotate(0)) return false;
        }
    }
    // As tcpdump: rotate once the file already holds more than the limit, so
    // a file ends with the frame that took it past the limit.
    if (opt_.rotate_bytes != 0 && file_bytes_ > opt_.rotate_bytes) {
        if (!close_file()) return false;
        ++size_number_;
        if (opt_.max_files != 0 && size_number_ >= opt_.max_files) size_number_ = 0;
        if (!rotate(size_number_)) return false;
    }
    pcap_pkthdr h{};
    h.ts.tv_sec = static_cast<time_t>(f.ts_ns / kNsPerSec);
    h.ts.tv_usec = static_cast<suseconds_t>(f.ts_ns % kNsPerSec);  // nanoseconds in this file
    h.caplen = f.caplen < opt_.snaplen ? f.caplen : opt_.snaplen;
    h.len = f.len;
    pcap_dump(reinterpret_cast<u_char*>(dumper_), &h, f.data);
    if (std::ferror(pcap_dump_file(dumper_)) != 0) {
        error_ = "cannot write " + shown(current_path_) + ": " + std::strerror(errno);
        return false;
    }
    file_bytes_ += kRecordHeaderLen + h.caplen;
    ++packets_;
    return true;
}

bool PcapWriter::flush() {
    if (dumper_ == nullptr) return error_.empty();
    if (pcap_dump_flush(dumper_) != 0 || std::ferror(pcap_dump_file(dumper_)) != 0) {
        error_ = "cannot write " + shown(current_path_) + ": " + std::strerror(errno);
        return false;
    }
    return true;
}

bool PcapWriter::close() {
    if (dumper_ == nullptr) return error_.empty();
    return close_file();
}

}  // namespace wl
