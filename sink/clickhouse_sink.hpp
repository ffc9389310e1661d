// The ClickHouse destination: JSON records batched per type and inserted over
// ClickHouse's HTTP interface (INSERT INTO db.<type> FORMAT JSONEachRow) by a
// sender thread of its own. record() never waits on the network: sealed batches
// wait in a queue bounded in bytes, and go to a spool folder (bounded in bytes)
// when the queue is full; the sender replays the spool in order once the server
// answers. Every row carries its batch's id and its row number in the batch, so
// a batch whose first attempt had an unknown outcome is re-sent without the rows
// the server already holds (docs/clickhouse.md, "No row twice").
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "sink/record_sink.hpp"

namespace wl {

struct ClickHouseLimits {
    std::size_t queue_bytes = 16u << 20;     // sealed batches waiting in memory
    std::size_t batch_bytes = 1u << 20;      // a batch is sealed at this size ...
    double flush_seconds = 1.0;              // ... or this old
    std::uint64_t spool_bytes = 1ull << 30;  // the spool folder's cap
    double connect_timeout = 5.0;            // seconds
    double request_timeout = 30.0;           // seconds, a whole INSERT
    double finish_wait = 30.0;               // finish() waits this long for the sender
    double retry_max = 10.0;                 // backoff between attempts: 0.25 s doubling to this
    int server_errors_before_reject = 5;     // an INSERT the server refused this often is set aside
    std::string sensor;                      // stored in each row's `sensor` (when non-empty)
    std::vector<std::string> types = {"conn", "upload", "alert", "attempts", "stats"};
};

struct ClickHouseCounters {
    std::uint64_t records = 0;          // handed to record()
    std::uint64_t skipped = 0;          // records of a type without a table
    std::uint64_t batches_sent = 0;     // INSERTs the server acknowledged
    std::uint64_t rows_sent = 0;        // rows in them
    std::uint64_t batches_spooled = 0;  // written to the spool folder
    std::uint64_t batches_resent = 0;   // sent from the spool folder
    std::uint64_t batches_dropped = 0;  // neither queue nor spool had room
    std::uint64_t rows_dropped = 0;
    std::uint64_t batches_rejected =
        0;                     // refused by the server repeatedly (kept in spool/rejected)
    std::uint64_t checks = 0;  // "which rows of this batch are there?" queries
    std::uint64_t rows_already_there = 0;  // rows not re-sent because a check found them
    std::uint64_t attempts_failed = 0;
};

class ClickHouseSink : public RecordSink {
  public:
    // url: http://[user[:password]@]host[:port]/[?database=NAME&setting=value...]
    // (database "wirelens" unless given). Credentials: the URL's, else
    // WIRELENS_CLICKHOUSE_USER / WIRELENS_CLICKHOUSE_PASSWORD, else CLICKHOUSE_USER /
    // CLICKHOUSE_PASSWORD; never printed. spool_dir: "" for none (made if missing);
    // batches an earlier run left there are sent first. Throws std::runtime_error
    // (one line, credentials removed) for a bad URL or an unusable spool folder.
    ClickHouseSink(const std::string& url, std::string spool_dir, ClickHouseLimits limits);
    ~ClickHouseSink() override;
    ClickHouseSink(const ClickHouseSink&) = delete;
    ClickHouseSink& operator=(const ClickHouseSink&) = delete;

    void record(std::string_view type, std::string_view json) override;
    bool finish(std::string& error) override;

    // The most memory the sink holds (queue, open batches, the sender's buffers).
    static std::size_t memory_bound(const ClickHouseLimits& limits);
    std::size_t memory_bound() const { return memory_bound(limits_); }
    ClickHouseCounters counters() const;
    // The URL without its credentials, as errors show it.
    const std::string& shown_url() const { return shown_url_; }

    struct Batch {
        std::string key;  // order: run start and seal sequence (also the spool file's name)
        std::string id;   // stored in every row's batch_id
        std::string type;
        std::string body;  // JSON lines, batch_id/batch_row/sensor prepended to each
        std::size_t rows = 0;
        bool attempted = false;  // an attempt may have reached the server
        int server_errors = 0;
    };

  private:
    struct Open {
        std::string id;
        std::string body;
        std::size_t rows = 0;
        double opened = 0;
    };
    struct SpoolEntry {
        std::string type;
        std::uint64_t size = 0;
        bool attempted = true;  // earlier runs' files are always checked
        int server_errors = 0;
    };

    void seal_locked(const std::string& type, Open& open, std::unique_lock<std::mutex>& lock);
    void place(Batch&& b, std::unique_lock<std::mutex>& lock);
    bool spool_write(const Batch& b, const std::string& folder);
    void sender_loop();
    enum class Outcome { sent, not_sent, unknown, refused, aborted };
    Outcome deliver(Batch& b, std::string& message);
    bool check_present(Batch& b, std::string& message);
    bool load_spool(const std::string& name, const SpoolEntry& e, Batch& b);
    void warn_once(const std::string& line);

    struct Http;
    std::unique_ptr<Http> http_;
    ClickHouseLimits limits_;
    std::string spool_dir_;
    std::string shown_url_;
    std::string database_;
    std::string run_;  // run start, nanoseconds, 20 digits
    std::string sensor_id_;

    mutable std::mutex m_;
    std::condition_variable cv_;
    std::map<std::string, Open> open_;
    std::deque<Batch> queue_;
    std::size_t queue_bytes_ = 0;
    std::map<std::string, SpoolEntry> spool_;
    std::uint64_t spool_used_ = 0;
    std::uint64_t open_seq_ = 0, seal_seq_ = 0;
    bool stopping_ = false;
    bool busy_ = false;  // the sender holds a batch
    bool warned_ = false;
    std::string last_error_;
    ClickHouseCounters c_;
    std::atomic<bool> abort_{false};
    bool finished_ = false;
    std::string finish_error_;
    std::thread sender_;
};

}  // namespace wl
