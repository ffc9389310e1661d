// --log-dir DIR: every record type in a file of its own (conn.log, upload.log,
// ..., TYPE.log), as JSON Lines or as Zeek's tab-separated logs, rotated by
// time on request (--log-rotate). Files are made with openat() under DIR's
// descriptor, O_CREAT|O_EXCL|O_NOFOLLOW: no link is followed, nothing is
// written outside DIR and no file is replaced. A folder that holds a .log
// file already is refused at the start.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sink/record_sink.hpp"
#include "sink/zeek_tsv.hpp"

namespace wl {

struct LogDirOptions {
    std::string dir;
    bool zeek = false;                 // --log-format zeek (else json)
    std::uint32_t rotate_seconds = 0;  // --log-rotate: 0 for none
};

class LogDir final : public RecordSink {
  public:
    static constexpr std::size_t kMaxLogs = 64;             // record types (open files) at most
    static constexpr std::size_t kBufferBytes = 64u << 10;  // written out when this full

    LogDir();
    ~LogDir() override;
    LogDir(const LogDir&) = delete;
    LogDir& operator=(const LogDir&) = delete;

    // Makes DIR if missing (one level) and opens it; false + one line on failure.
    bool open(const LogDirOptions& opt, std::string& error);
    void record(std::string_view type, std::string_view json) override;
    // The time records are written at (capture time offline, the clock live):
    // at an interval's end (--log-rotate), every file is closed and renamed
    // TYPE.START-END.log, the next record of the type opening a new one.
    void advance(std::uint64_t now_ns);
    // Whether advance(now_ns) would rotate (the caller writes out what it holds first).
    bool due(std::uint64_t now_ns) const {
        return opt_.rotate_seconds != 0 && interval_end_ != 0 && now_ns >= interval_end_;
    }
    bool finish(std::string& error) override;

  private:
    struct Log;
    Log* log_of(std::string_view type);
    void write(Log& log, std::string_view bytes);
    bool drain(Log& log);
    void close(Log& log);
    std::uint64_t now() const;
    void fail(const std::string& why);

    LogDirOptions opt_;
    int dir_fd_ = -1;
    std::vector<std::unique_ptr<Log>> logs_;
    std::uint64_t clock_ns_ = 0;  // the latest time given to advance()
    std::uint64_t interval_start_ = 0, interval_end_ = 0;
    std::string error_;  // the first thing that went wrong
    std::uint64_t lost_ = 0;
};

}  // namespace wl
