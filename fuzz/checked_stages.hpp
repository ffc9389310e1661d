// Stage boundaries that check what crosses them, for the harnesses that wire the
// stages themselves: the reassembler's contract with its consumer, and the facts an
// upload record promises its reader. A broken promise aborts (a finding).
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "fuzz_input.hpp"
#include "tcp_reassembler.hpp"
#include "upload_analyzer.hpp"

namespace wl::fuzz {

// Between TcpReassembler and its consumer: per direction, bytes and gaps come in
// order from offset 0, with neither overlap nor hole between them, and nothing comes
// after the direction's end until its slot is started again.
class CheckedStreams : public StreamConsumer {
  public:
    CheckedStreams(std::uint32_t max_flows, StreamConsumer& next)
        : expect_(2ull * max_flows), next_(next) {}

    void stream_start(std::uint32_t conn) override {
        at(conn, 0) = Expect{};
        at(conn, 1) = Expect{};
        next_.stream_start(conn);
    }
    void stream_swap(std::uint32_t conn) override {
        std::swap(at(conn, 0), at(conn, 1));
        next_.stream_swap(conn);
    }
    void stream_data(std::uint32_t conn, int dir, std::uint64_t offset, const std::uint8_t* p,
                     std::size_t n, std::uint32_t segment, std::uint64_t ts_ns,
                     bool from_start) override {
        Expect& e = at(conn, dir);
        check(!e.ended, "stream_data after stream_end");
        check(offset == e.next, "stream_data not at the offset where the stream stood");
        check(n != 0, "stream_data of no bytes");
        e.next += n;
        next_.stream_data(conn, dir, offset, p, n, segment, ts_ns, from_start);
    }
    void stream_gap(std::uint32_t conn, int dir, std::uint64_t offset, std::uint64_t len) override {
        Expect& e = at(conn, dir);
        check(!e.ended, "stream_gap after stream_end");
        check(offset == e.next, "stream_gap not at the offset where the stream stood");
        check(len != 0, "stream_gap of no bytes");
        e.next += len;
        next_.stream_gap(conn, dir, offset, len);
    }
    void stream_inconsistent(std::uint32_t conn, int dir, std::uint64_t offset,
                             std::uint64_t len) override {
        next_.stream_inconsistent(conn, dir, offset, len);
    }
    void stream_end(std::uint32_t conn, int dir, ConnEnd why, bool reset) override {
        Expect& e = at(conn, dir);
        check(!e.ended, "stream_end twice");
        e.ended = true;
        next_.stream_end(conn, dir, why, reset);
    }

  private:
    struct Expect {
        std::uint64_t next = 0;
        bool ended = false;
    };
    Expect& at(std::uint32_t conn, int dir) { return expect_.at(2ull * conn + dir); }

    std::vector<Expect> expect_;
    StreamConsumer& next_;
};

// Reads every upload record in full (so the sanitizers see each view it holds) and
// checks that its verdict agrees with its counts.
class CheckedUploads : public UploadRecordSink {
  public:
    void upload(const UploadRecord& rec) override {
        const UploadFrame& f = *rec.frame;
        check(f.complete == (f.missing == nullptr), "an upload is complete iff nothing is missing");
        check(!f.complete || !f.has_size || f.received == f.declared_size,
              "a complete upload received its declared size");
        check(!f.has_size || f.received <= f.declared_size,
              "an upload received more than it declared");
        std::uint64_t sum = rec.conn->uid_seq + static_cast<std::uint64_t>(rec.dir);
        for (const std::string_view s : {f.header_json, f.file_name, rec.extracted, rec.refused}) {
            for (const char c : s)
                sum += static_cast<unsigned char>(c);
        }
        keep(sum);
    }
    void inconsistent(const Connection& c, int, std::uint64_t, std::uint64_t) override {
        keep(c.uid_seq);
    }
};

}  // namespace wl::fuzz
