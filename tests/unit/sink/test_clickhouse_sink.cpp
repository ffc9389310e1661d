// The ClickHouse destination without a server (tests/e2e/test_clickhouse.py runs it
// against a real one): URLs and credentials (never shown), the spool when nothing
// answers (files named to replay in order, the error line naming the spool), the
// drop counters without a spool, records of a type without a table, memory_bound.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "sink/clickhouse_sink.hpp"

namespace fs = std::filesystem;

namespace {

// Nothing listens on port 1 of the loopback: every connection is refused at once.
const char* kDead = "http://127.0.0.1:1/?database=wirelens";

wl::ClickHouseLimits quick() {
    wl::ClickHouseLimits l;
    l.finish_wait = 0.3;
    l.connect_timeout = 0.5;
    l.flush_seconds = 0.05;
    return l;
}

struct TempDir {
    fs::path path;
    TempDir() {
        char tmpl[] = "/tmp/wl-ch-unit-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

std::vector<std::string> spool_files(const fs::path& dir) {
    std::vector<std::string> out;
    for (auto& e : fs::directory_iterator(dir))
        if (e.path().extension() == ".jsonl") out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

TEST_CASE("clickhouse sink: credentials are taken from the URL and never shown") {
    wl::ClickHouseSink s("http://writer:pa%3Ass@127.0.0.1:1/?database=db1&password=p2&x=1", "",
                         quick());
    CHECK(s.shown_url() == "http://127.0.0.1:1/?database=db1&x=1");
    std::string err;
    s.record("conn", R"({"type":"conn","ts":1.0})");
    CHECK_FALSE(s.finish(err));
    CHECK(err.find("pa:ss") == std::string::npos);
    CHECK(err.find("pa%3Ass") == std::string::npos);
    CHECK(err.find("password") == std::string::npos);
    CHECK(err.find("writer") == std::string::npos);
    CHECK(err.find("http://127.0.0.1:1/?database=db1&x=1") != std::string::npos);
}

TEST_CASE("clickhouse sink: bad URLs are refused with one line") {
    CHECK_THROWS_AS(wl::ClickHouseSink("ftp://h/", "", quick()), std::runtime_error);
    CHECK_THROWS_AS(wl::ClickHouseSink("http:///x", "", quick()), std::runtime_error);
    CHECK_THROWS_AS(wl::ClickHouseSink("http://h/?database=a;b", "", quick()), std::runtime_error);
    CHECK_THROWS_AS(wl::ClickHouseSink("http://h/?query=DROP", "", quick()), std::runtime_error);
    try {
        wl::ClickHouseSink("http://u:secret@h/?database=a-b", "", quick());
        FAIL("no exception");
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()).find("secret") == std::string::npos);
    }
}

TEST_CASE(
    "clickhouse sink: nothing answers: batches stay in the spool, in order, for the next run") {
    TempDir dir;
    auto limits = quick();
    limits.batch_bytes = 200;  // a batch every few records
    limits.queue_bytes = 400;
    std::size_t n = 0;
    {
        wl::ClickHouseSink s(kDead, dir.path.string(), limits);
        for (int i = 0; i < 50; ++i) {
            s.record("conn",
                     R"({"type":"conn","ts":1795831693.75,"uid":"C)" + std::to_string(i) + R"("})");
            ++n;
        }
        s.record("packet", R"({"type":"packet"})");  // no table: skipped
        std::string err;
        CHECK_FALSE(s.finish(err));
        CHECK(err.find("kept in spool " + dir.path.string()) != std::string::npos);
        auto c = s.counters();
        CHECK(c.records == n + 1);
        CHECK(c.skipped == 1);
        CHECK(c.batches_dropped == 0);
        CHECK(c.batches_spooled > 0);
    }
    auto files = spool_files(dir.path);
    REQUIRE(files.size() > 1);
    // Every record is in some file, once, and the files' order is the records' order.
    std::vector<int> uids;
    for (auto& f : files) {
        std::ifstream in(dir.path / f);
        std::string line;
        std::getline(in, line);
        CHECK(line.rfind("#wirelens-clickhouse-batch ", 0) == 0);
        while (std::getline(in, line)) {
            auto p = line.find("\"uid\":\"C");
            REQUIRE(p != std::string::npos);
            uids.push_back(std::atoi(line.c_str() + p + 8));
            CHECK(line.rfind("{\"batch_id\":\"wirelens-", 0) == 0);
        }
    }
    REQUIRE(uids.size() == n);
    for (std::size_t i = 0; i < n; ++i)
        CHECK(uids[i] == static_cast<int>(i));

    // The next run finds them (still nothing answers: they stay, none twice).
    wl::ClickHouseSink again(kDead, dir.path.string(), limits);
    std::string err;
    CHECK_FALSE(again.finish(err));
    CHECK(spool_files(dir.path) == files);
}

TEST_CASE("clickhouse sink: without a spool, what cannot wait is dropped and counted") {
    auto limits = quick();
    limits.batch_bytes = 100;
    limits.queue_bytes = 100;
    wl::ClickHouseSink s(kDead, "", limits);
    for (int i = 0; i < 20; ++i)
        s.record("alert", R"({"type":"alert","victim":"198.19.0.80"})");
    std::string err;
    CHECK_FALSE(s.finish(err));
    auto c = s.counters();
    CHECK(c.rows_dropped == 20);
    CHECK(err.find("dropped") != std::string::npos);
}

TEST_CASE("clickhouse sink: memory_bound grows with the queue and the batch size") {
    wl::ClickHouseLimits a, b = a;
    b.queue_bytes *= 2;
    CHECK(wl::ClickHouseSink::memory_bound(b) ==
          wl::ClickHouseSink::memory_bound(a) + a.queue_bytes);
    CHECK(wl::ClickHouseSink::memory_bound(a) > a.queue_bytes + a.types.size() * a.batch_bytes);
}
