// The pipeline hook of the sink stage: an OutBuffer's bytes (JSON Lines) split
// into records, each handed with its type to every destination (RecordSink),
// and copied to a FILE* (stdout with --json) when one is given. With a sensor
// name, `"sensor":"NAME"` goes into every record right after its type, in the
// copy and for the destinations alike.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "report/out_buffer.hpp"
#include "sink/record_sink.hpp"

namespace wl {

class RecordRouter final : public ByteConsumer {
  public:
    // `copy`: where the lines also go (null: nowhere); `sensor`: empty for none.
    RecordRouter(std::FILE* copy, std::string sensor);
    void add(RecordSink* sink) { sinks_.push_back(sink); }

    bool consume(std::string_view bytes) override;
    // A last line without its newline is handed on; then every sink finishes.
    // False with `error` (one line) when the copy or a sink lost something.
    bool finish(std::string& error);

    std::uint64_t records() const { return records_; }

    // The value of the "type" member a record begins with ({"type":"X"...),
    // empty when the line does not begin so.
    static std::string_view type_of(std::string_view line);

  private:
    void line(std::string_view l);

    std::FILE* copy_;
    std::string sensor_member_;  // ,"sensor":"NAME"
    std::vector<RecordSink*> sinks_;
    std::string partial_;  // a line begun in an earlier piece
    std::string scratch_;  // a line with the sensor in it
    std::string copy_buf_;
    std::uint64_t records_ = 0;
    bool copy_failed_ = false;
};

// --sensor's rule: 1..64 printable ASCII bytes, no quote or backslash. Empty
// when `name` is fine, else why not.
std::string sensor_name_problem(std::string_view name);

}  // namespace wl
