// One reassembler, several readers of its streams: every call is passed on
// to each consumer in the order they were added (the framed-upload analyzer,
// the stream exporter, --follow).
#pragma once

#include <vector>

#include "flow/tcp_reassembler.hpp"

namespace wl {

class StreamFanout : public StreamConsumer {
  public:
    void add(StreamConsumer* c) {
        if (c != nullptr) consumers_.push_back(c);
    }
    bool empty() const { return consumers_.empty(); }
    // The only consumer when there is one (no fan-out needed), else this.
    StreamConsumer* single_or_self() { return consumers_.size() == 1 ? consumers_[0] : this; }

    void stream_start(std::uint32_t conn) override {
        for (StreamConsumer* c : consumers_)
            c->stream_start(conn);
    }
    void stream_swap(std::uint32_t conn) override {
        for (StreamConsumer* c : consumers_)
            c->stream_swap(conn);
    }
    void stream_data(std::uint32_t conn, int dir, std::uint64_t offset, const std::uint8_t* p,
                     std::size_t n, std::uint32_t segment, std::uint64_t ts_ns,
                     bool from_start) override {
        for (StreamConsumer* c : consumers_)
            c->stream_data(conn, dir, offset, p, n, segment, ts_ns, from_start);
    }
    void stream_gap(std::uint32_t conn, int dir, std::uint64_t offset, std::uint64_t len,
                    GapCause cause) override {
        for (StreamConsumer* c : consumers_)
            c->stream_gap(conn, dir, offset, len, cause);
    }
    void stream_filled(std::uint32_t conn, int dir, std::uint64_t offset, std::uint64_t len,
                       FillCause cause, std::uint64_t opened_ns, std::uint64_t ts_ns) override {
        for (StreamConsumer* c : consumers_)
            c->stream_filled(conn, dir, offset, len, cause, opened_ns, ts_ns);
    }
    void stream_inconsistent(std::uint32_t conn, int dir, std::uint64_t offset,
                             std::uint64_t len) override {
        for (StreamConsumer* c : consumers_)
            c->stream_inconsistent(conn, dir, offset, len);
    }
    void stream_end(std::uint32_t conn, int dir, ConnEnd why, bool reset) override {
        for (StreamConsumer* c : consumers_)
            c->stream_end(conn, dir, why, reset);
    }

  private:
    std::vector<StreamConsumer*> consumers_;
};

}  // namespace wl
