// clickhouse_feed: JSON Lines from stdin (wirelens --json) into ClickHouse through
// wirelens' ClickHouse destination (sink/clickhouse_sink.hpp), as wirelens will
// once the destination is wired into its pipeline. Used by tests/e2e/test_clickhouse.py.
//
// usage: clickhouse_feed URL [--spool DIR] [--sensor NAME] [--queue-bytes N]
//        [--batch-bytes N] [--spool-bytes N] [--flush SECONDS] [--finish-wait SECONDS]
//        [--request-timeout SECONDS] [--connect-timeout SECONDS]
// At the end, the counters as one JSON line on stdout; exit 0 when everything was
// inserted, 2 when something was left in the spool or lost (the line on stderr), 1 on
// a bad argument.
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string>

#include "sink/clickhouse_sink.hpp"

namespace {

std::string_view type_of(std::string_view line) {
    constexpr std::string_view key = "\"type\":\"";
    auto p = line.find(key);
    if (p == std::string_view::npos) return {};
    p += key.size();
    auto q = line.find('"', p);
    return q == std::string_view::npos ? std::string_view{} : line.substr(p, q - p);
}

}  // namespace

int main(int argc, char** argv) {
    std::string url, spool;
    wl::ClickHouseLimits limits;
    try {
        for (int i = 1; i < argc; ++i) {
            std::string a = argv[i];
            auto value = [&]() -> std::string {
                if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
                return argv[++i];
            };
            if (a == "--spool")
                spool = value();
            else if (a == "--sensor")
                limits.sensor = value();
            else if (a == "--queue-bytes")
                limits.queue_bytes = std::stoull(value());
            else if (a == "--batch-bytes")
                limits.batch_bytes = std::stoull(value());
            else if (a == "--spool-bytes")
                limits.spool_bytes = std::stoull(value());
            else if (a == "--flush")
                limits.flush_seconds = std::stod(value());
            else if (a == "--finish-wait")
                limits.finish_wait = std::stod(value());
            else if (a == "--request-timeout")
                limits.request_timeout = std::stod(value());
            else if (a == "--connect-timeout")
                limits.connect_timeout = std::stod(value());
            else if (url.empty() && a.rfind("--", 0) != 0)
                url = a;
            else
                throw std::invalid_argument("unknown argument " + a);
        }
        if (url.empty()) throw std::invalid_argument("no URL");
    } catch (const std::exception& e) {
        std::cerr << "clickhouse_feed: " << e.what() << "\n";
        return 1;
    }
    try {
        wl::ClickHouseSink sink(url, spool, limits);
        std::string line;
        while (std::getline(std::cin, line)) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line.empty()) continue;
            sink.record(type_of(line), line);
        }
        std::string error;
        bool ok = sink.finish(error);
        auto c = sink.counters();
        std::cout << "{\"records\":" << c.records << ",\"skipped\":" << c.skipped
                  << ",\"batches_sent\":" << c.batches_sent << ",\"rows_sent\":" << c.rows_sent
                  << ",\"batches_spooled\":" << c.batches_spooled
                  << ",\"batches_resent\":" << c.batches_resent
                  << ",\"batches_dropped\":" << c.batches_dropped
                  << ",\"rows_dropped\":" << c.rows_dropped
                  << ",\"batches_rejected\":" << c.batches_rejected << ",\"checks\":" << c.checks
                  << ",\"rows_already_there\":" << c.rows_already_there
                  << ",\"attempts_failed\":" << c.attempts_failed
                  << ",\"memory_bound\":" << sink.memory_bound() << "}" << std::endl;
        if (!ok) {
            std::cerr << "clickhouse_feed: " << error << "\n";
            return 2;
        }
    } catch (const std::exception& e) {
        std::cerr << "clickhouse_feed: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
