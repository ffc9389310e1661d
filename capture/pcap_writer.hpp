// Writing frames to pcap files (-w) with nanosecond timestamps, rotated as
// tcpdump rotates its savefiles:
//
//   -C  before a frame is written, if the current file already holds more than
//       rotate_bytes, a new file is started. Files are named PATH, PATH1, PATH2...;
//       with -W N they are PATH0..PATH(N-1), the number zero-padded to the width of
//       N-1, and the N+1st file overwrites the first (a ring).
//   -G  PATH is a strftime(3) pattern, expanded in local time (TZ) with the start
//       of the file's interval. A frame whose capture timestamp is rotate_seconds
//       or more past that start begins a new file and a new interval starting at
//       its own second. With -W N and no -C, once N files are complete the writer
//       is done(): the frame that would have opened file N+1 is not written.
//       With -C as well, each interval starts over at number 0 (-W then only sets
//       the ring of numbers within an interval, as in tcpdump).
//
// Unlike tcpdump, -G rotates by the frames' capture timestamps, not by the clock
// when the frame reaches the writer: a file then holds exactly the interval its
// name says, however late frames are delivered or when a capture file is re-read.
// A pattern without time fields names every interval's file the same: each new
// interval overwrites the last, as with tcpdump.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "capture/pcap_source.hpp"  // RawFrame

struct pcap;
struct pcap_dumper;

namespace wl {

struct WriterOptions {
    std::string path;                  // -w; "-" is standard output (no rotation)
    std::uint64_t rotate_bytes = 0;    // -C in bytes (tcpdump's unit is 1,000,000); 0: never
    std::uint32_t rotate_seconds = 0;  // -G; 0: never
    std::uint32_t max_files = 0;       // -W; 0: no limit
    int linktype = 1;                  // DLT of the frames written
    std::uint32_t snaplen = 262144;    // longer frames are cut to this
    // -G: the time (ns since the epoch) that names the first file and starts its
    // interval; 0 takes the clock when open() runs, as tcpdump does.
    std::uint64_t start_ns = 0;
};

class PcapWriter {
  public:
    ~PcapWriter();  // closes the file without reporting; call close() to know
    PcapWriter(const PcapWriter&) = delete;
    PcapWriter& operator=(const PcapWriter&) = delete;

    // Opens the first file. On failure returns null and sets `error` to one line.
    static std::unique_ptr<PcapWriter> open(const WriterOptions& opt, std::string& error);

    // Rotates first when due, then writes the frame (cut to snaplen). False and
    // error() on failure (the disk is full, a new file cannot be created). Once
    // done(), nothing more is written and write() returns true: stop capturing.
    bool write(const RawFrame& f);
    // Hands what is buffered to the kernel; call it periodically and at stop.
    bool flush();
    // Flushes and closes the current file; false (and error()) if buffered frames
    // could not be written. Later calls do nothing.
    bool close();
    // -W with -G (and no -C): the last of the files is complete.
    bool done() const { return done_; }

    std::uint64_t packets() const { return packets_; }  // frames written, all files
    std::uint64_t files() const { return files_; }      // files opened, re-opened ones included
    const std::string& current_path() const { return current_path_; }
    std::string error() const { return error_; }

  private:
    explicit PcapWriter(const WriterOptions& opt) : opt_(opt) {}
    bool name_file(std::uint32_t number, std::string& name);
    bool open_file(const std::string& name);
    bool close_file();
    bool rotate(std::uint32_t number);

    WriterOptions opt_;
    pcap* dead_ = nullptr;  // holds the link type, snaplen and precision for the dumper
    pcap_dumper* dumper_ = nullptr;
    std::string current_path_;
    std::string error_;
    std::uint64_t packets_ = 0;
    std::uint64_t files_ = 0;
    std::uint64_t file_bytes_ = 0;      // bytes in the current file, file header included
    std::int64_t interval_start_ = 0;   // -G: seconds since the epoch
    std::uint32_t size_number_ = 0;     // -C: number of the current file
    std::uint32_t interval_files_ = 0;  // -G: intervals completed
    int number_width_ = 0;              // digits of max_files - 1
    bool done_ = false;
};

}  // namespace wl
