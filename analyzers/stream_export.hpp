// --streams DIR: every reassembled TCP stream direction written to a file of
// its own, "tcp<INDEX>-<UID>-orig.bin" / "-resp.bin" (INDEX: Wireshark's
// tcp.stream), at file offset = stream offset. Bytes that never came are holes
// of a sparse file; DIR/index.jsonl names every one of them, with its cause,
// in a record per direction written when the direction ends.
//
// Files are made as FileExtractor makes them: openat() relative to the
// folder's descriptor, O_EXCL | O_NOFOLLOW, so nothing that exists in DIR (a
// file, a symlink to anywhere) is followed or overwritten; a taken name is a
// refusal, recorded in the index and counted. At most max_open_files files are
// open at once: the least recently written is closed and opened again
// (O_NOFOLLOW; the same regular file, inode, size and one link, or a refusal)
// when more of its stream comes.
//
// Nothing is allocated per packet: the per-connection state is a preallocated
// pool (pages touched only as connections carry data at once), the open
// files' write buffers one block, the gap lists a bounded pool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "flow/connection.hpp"
#include "flow/tcp_reassembler.hpp"

namespace wl {

struct StreamExportOptions {
    std::string dir;                         // --streams DIR (made when missing)
    std::uint64_t max_stream = 1ull << 30;   // --streams-max: bytes of one direction's file
    std::uint64_t max_total = 16ull << 30;   // --streams-total: bytes written in all
    std::uint32_t max_open_files = 64;       // files open at once
    std::uint32_t buffer_bytes = 64u << 10;  // write buffer of each open file
    std::uint32_t gap_lists = 0;             // directions listing gaps at once; 0: automatic
};

struct StreamExportCounters {
    std::uint64_t streams = 0;        // directions exported (index records)
    std::uint64_t bytes_written = 0;  // to the stream files
    std::uint64_t files_refused = 0;  // could not be made (taken name) or written
    std::uint64_t truncated = 0;      // directions cut by --streams-max or --streams-total
    std::uint64_t reopened = 0;       // files closed to stay within max_open_files, opened again
    std::uint64_t index_errors = 0;   // writes of index.jsonl that failed
};

class StreamExporter : public StreamConsumer {
  public:
    // Gap entries one direction's index record lists; adjacent ones of one cause merge.
    static constexpr std::uint32_t kGapsListed = 64;

    // The most memory an exporter with these limits holds, in bytes.
    static std::uint64_t memory_bound(std::uint32_t max_flows, const StreamExportOptions& opts);

    // `connection_of(conn)`: the connection in slot `conn` (FlowTracker::connection).
    StreamExporter(std::uint32_t max_flows,
                   std::function<const Connection&(std::uint32_t)> connection_of);
    ~StreamExporter() override;  // finish()
    StreamExporter(const StreamExporter&) = delete;
    StreamExporter& operator=(const StreamExporter&) = delete;

    // Opens (or makes) DIR and creates DIR/index.jsonl (which must not exist).
    // False and a one-line `error` when that fails.
    bool open(const StreamExportOptions& opts, std::string& error);
    // Writes the records of directions still open, flushes the index, closes every file.
    void finish();

    void stream_start(std::uint32_t conn) override;
    void stream_swap(std::uint32_t conn) override;
    void stream_data(std::uint32_t conn, int dir, std::uint64_t offset, const std::uint8_t* p,
                     std::size_t n, std::uint32_t segment, std::uint64_t ts_ns,
                     bool from_start) override;
    void stream_gap(std::uint32_t conn, int dir, std::uint64_t offset, std::uint64_t len,
                    GapCause cause) override;
    void stream_filled(std::uint32_t conn, int dir, std::uint64_t offset, std::uint64_t len,
                       FillCause cause, std::uint64_t opened_ns, std::uint64_t ts_ns) override;
    void stream_inconsistent(std::uint32_t conn, int dir, std::uint64_t offset,
                             std::uint64_t len) override;
    void stream_end(std::uint32_t conn, int dir, ConnEnd why, bool reset) override;

    const StreamExportCounters& counters() const { return counters_; }
    std::uint32_t open_files() const { return open_count_; }

  private:
    static constexpr std::uint32_t kNone = 0xffffffffu;

    // A missing range (a hole in the file) or one filled late (in the file).
    struct GapEntry {
        std::uint64_t offset, length;
        std::uint8_t cause;  // GapCause, or kRetransmitted
    };
    static constexpr std::uint8_t kRetransmitted = 0xff;
    struct GapList {
        std::uint32_t count;
        GapEntry entries[kGapsListed];
    };

    enum class State : std::uint8_t { Idle, Tracking, Writing, Refused };
    enum class Cut : std::uint8_t { None, StreamCap, TotalCap };

    struct Dir {
        std::uint64_t end;       // stream_bytes: end of the last byte or gap
        std::uint64_t file_end;  // the size the file reaches (end, unless a cap cut it)
        std::uint64_t extent;    // end of what reached the file (written or buffered)
        std::uint64_t written, not_written;
        std::uint64_t missing, retransmitted, reordered;
        std::uint64_t first_ns, last_ns;
        std::uint64_t ino;   // the file's inode, checked when it is opened again
        std::uint32_t gaps;  // GapList index, kNone: none yet
        std::uint32_t gaps_not_listed;
        std::uint32_t file;  // open-file slot, kNone: closed
        State state;
        Cut cut;
        std::uint8_t name_dir;  // the suffix the file was named with (0: orig)
        const char* refusal;
    };
    // What the file name and the index record need, taken from the connection
    // when its first file is made (the slot may be reused before a record is written).
    struct Slot {
        bool known;
        std::uint8_t ip_version;
        char uid[19];
        std::uint8_t prefix_len;
        char prefix[48];  // "tcp<INDEX>-<UID>-": the file names without "orig.bin"/"resp.bin"
        std::uint64_t tcp_stream;
        Endpoint orig, resp;
        Dir dir[2];
    };
    struct OpenFile {
        int fd = -1;
        std::uint32_t conn = 0;
        int dir = 0;
        std::uint64_t used = 0;        // LRU clock
        std::uint64_t buf_offset = 0;  // stream offset of the buffer's first byte
        std::uint32_t buf_len = 0;
        std::uint8_t* buf = nullptr;
    };

    Slot* slot_at(std::uint32_t conn) {
        return slot_of_[conn] != 0 ? &slots_[slot_of_[conn] - 1] : nullptr;
    }
    Dir& track(std::uint32_t conn, int dir);
    void drop_slot_if_idle(std::uint32_t conn);
    // The file's name, NUL-terminated, in `out` (at least kNameMax bytes).
    static constexpr std::size_t kNameMax = 64;
    static void file_name(const Slot& s, int name_dir, char* out);
    bool ensure_open(std::uint32_t conn, int dir, Dir& d);
    std::uint32_t take_open_slot();
    void close_file(Dir& d);
    bool flush(OpenFile& f, Dir& d);
    void refuse(Dir& d, const char* why);
    void add_gap(Dir& d, std::uint64_t offset, std::uint64_t len, std::uint8_t cause);
    void write_record(std::uint32_t conn, int dir);
    void release(std::uint32_t conn, int dir);
    void flush_index();

    std::uint32_t max_flows_;
    std::function<const Connection&(std::uint32_t)> connection_of_;
    StreamExportOptions opts_;
    int dir_fd_ = -1;
    int index_fd_ = -1;
    struct FreeDeleter {
        void operator()(void* p) const;
    };
    // Per connection: 1 + its Slot's index in slots_, 0: none. Slots are taken
    // last-freed first, so the memory touched follows the connections carrying
    // data at once, not how the flow table spreads them.
    std::unique_ptr<std::uint32_t[], FreeDeleter> slot_of_;
    std::unique_ptr<Slot[], FreeDeleter> slots_;
    std::vector<std::uint32_t> free_slots_;
    std::unique_ptr<GapList[], FreeDeleter> gap_lists_;
    std::vector<std::uint32_t> free_gap_lists_;
    std::unique_ptr<std::uint8_t[], FreeDeleter> buffers_;
    std::vector<OpenFile> files_;
    std::vector<std::uint32_t> free_files_;
    std::uint32_t open_count_ = 0;
    std::uint64_t clock_ = 0;
    std::uint64_t total_ = 0;  // bytes written or buffered, all files
    std::string index_;        // records not yet written to index.jsonl
    StreamExportCounters counters_;
};

}  // namespace wl
