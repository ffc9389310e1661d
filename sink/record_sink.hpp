// Where records go besides stdout: the destinations of the last pipeline stage
// (a log folder, ClickHouse). The report stage writes JSON Lines; a router
// (sink/) hands each line to the destinations with its record type.
#pragma once

#include <string>
#include <string_view>

namespace wl {

class RecordSink {
  public:
    virtual ~RecordSink() = default;
    // One JSON record: `json` is one line without its newline, `type` the value
    // of its "type" member ("conn", "upload", "alert", "attempts", "ladder",
    // "packet", "stats", ...). Called from one thread.
    virtual void record(std::string_view type, std::string_view json) = 0;
    // Everything written or handed on; false with `error` set (one line) when
    // something was lost.
    virtual bool finish(std::string& error) = 0;
};

}  // namespace wl
