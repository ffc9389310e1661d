// Upload records: one per framed-upload frame, as JSON Lines, or an upload
// table with each connection's sticky-packet summary for the terminal.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "analyzers/upload_analyzer.hpp"
#include "report/out_buffer.hpp"

namespace wl {

class UploadReporter : public UploadRecordSink {
  public:
    // Text rows beyond this many are printed in batches to keep memory bounded;
    // the names they hold are cut to what the table shows.
    static constexpr std::size_t kMaxBufferedRows = 16384;
    static constexpr std::size_t kMaxNameBytes = 64;
    static constexpr std::size_t kMaxPathBytes = 256;
    // The most memory the buffered rows can hold, in bytes.
    static std::uint64_t memory_bound();

    UploadReporter(OutBuffer& out, bool json) : out_(out), json_(json) {}
    // Stream mode: text lines are written as each frame ends, not as a table.
    void set_stream(bool on) { stream_ = on; }
    // --community-id-seed: the seed of the records' community_id (JSON).
    void set_community_id_seed(std::uint16_t seed) { cid_seed_ = seed; }
    // Stream mode: the packet clock (the latest capture time the pipeline has
    // reached), which begins every stream line and is every stream record's
    // ts_logged, so that they never go backwards; the event's own time is beside.
    void set_clock(const std::uint64_t* clock) { clock_ = clock; }
    void upload(const UploadRecord& rec) override;
    void inconsistent(const Connection& c, int dir, std::uint64_t offset,
                      std::uint64_t len) override;
    void finish();

  private:
    struct Row {
        std::array<char, 19> uid;
        int dir;
        std::uint32_t index;
        std::string file;
        std::uint64_t declared, received;
        bool complete, has_size;
        int digest_ok;
        double throughput;
        bool coalesced, split;
        std::string missing;
        std::string extracted;
    };
    void print_rows();
    void print_row(const Row& r);

    OutBuffer& out_;
    bool json_;
    bool stream_ = false;
    std::uint16_t cid_seed_ = 0;
    const std::uint64_t* clock_ = nullptr;
    std::uint64_t now() const { return clock_ != nullptr ? *clock_ : 0; }
    std::vector<Row> rows_;
    std::uint64_t printed_ = 0;
    std::uint64_t inconsistent_ = 0;
};

}  // namespace wl
