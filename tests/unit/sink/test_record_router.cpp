// The sink stage's pieces alone: the router splitting an OutBuffer's bytes
// into records (lines cut anywhere across flushes, the sensor member put in,
// lines that are no record kept off the sinks) and Zeek-TSV escaping and rows.
#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

#include "report/out_buffer.hpp"
#include "sink/record_router.hpp"
#include "sink/zeek_tsv.hpp"

namespace {

struct Collect : wl::RecordSink {
    std::vector<std::pair<std::string, std::string>> got;
    bool finished = false;
    void record(std::string_view type, std::string_view json) override {
        got.emplace_back(std::string(type), std::string(json));
    }
    bool finish(std::string&) override {
        finished = true;
        return true;
    }
};

}  // namespace

TEST_CASE("router: lines cut at every byte across flushes", "[sink][router]") {
    const std::string text =
        "{\"type\":\"conn\",\"uid\":\"C1\"}\n{\"type\":\"upload\",\"x\":1}\n\n"
        "{\"type\":\"stats\",\"packets\":3}";
    for (std::size_t cut = 0; cut <= text.size(); ++cut) {
        Collect sink;
        wl::RecordRouter router(nullptr, "");
        router.add(&sink);
        {
            wl::OutBuffer out(&router);
            out.put(std::string_view(text).substr(0, cut));
            out.flush();
            out.put(std::string_view(text).substr(cut));
        }  // flushes the rest
        std::string err;
        REQUIRE(router.finish(err));  // the last line has no newline
        REQUIRE(sink.finished);
        REQUIRE(sink.got.size() == 3);
        CHECK(sink.got[0].first == "conn");
        CHECK(sink.got[0].second == "{\"type\":\"conn\",\"uid\":\"C1\"}");
        CHECK(sink.got[1].first == "upload");
        CHECK(sink.got[2].first == "stats");
        CHECK(sink.got[2].second == "{\"type\":\"stats\",\"packets\":3}");
        CHECK(router.records() == 3);
    }
}

TEST_CASE("router: the sensor member goes right after the type", "[sink][router]") {
    Collect sink;
    wl::RecordRouter router(nullptr, "tap-1");
    router.add(&sink);
    router.consume("{\"type\":\"alert\",\"kind\":\"syn_flood\"}\nnot a record\n");
    std::string err;
    REQUIRE(router.finish(err));
    REQUIRE(sink.got.size() == 1);
    CHECK(sink.got[0].second == "{\"type\":\"alert\",\"sensor\":\"tap-1\",\"kind\":\"syn_flood\"}");
    CHECK(wl::RecordRouter::type_of("{\"type\":\"conn\"") == "conn");
    CHECK(wl::RecordRouter::type_of("conn").empty());
}

TEST_CASE("sensor names", "[sink][router]") {
    CHECK(wl::sensor_name_problem("edge-1.example").empty());
    CHECK(!wl::sensor_name_problem("").empty());
    CHECK(!wl::sensor_name_problem(std::string(65, 'a')).empty());
    CHECK(wl::sensor_name_problem(std::string(64, 'a')).empty());
    CHECK(!wl::sensor_name_problem("a\"b").empty());
    CHECK(!wl::sensor_name_problem("a\\b").empty());
    CHECK(!wl::sensor_name_problem("a\tb").empty());
    CHECK(!wl::sensor_name_problem("caf\xc3\xa9").empty());
}

TEST_CASE("zeek: escaping", "[sink][zeek]") {
    using wl::zeek::escape;
    CHECK(escape("plain text") == "plain text");
    CHECK(escape("a\tb") == "a\\x09b");
    CHECK(escape("a\nb\x7f") == "a\\x0ab\\x7f");
    CHECK(escape("back\\slash") == "back\\x5cslash");
    CHECK(escape("\xc3\xa9") == "\\xc3\\xa9");
    CHECK(escape("-") == "\\x2d");
    CHECK(escape("(empty)") == "\\x28empty)");
    CHECK(escape("--") == "--");
    CHECK(escape("") == "(empty)");
    CHECK(escape("a,b") == "a,b");
    CHECK(escape("a,b", true) == "a\\x2cb");
}

TEST_CASE("zeek: conn rows in Zeek's columns, absent fields unset", "[sink][zeek]") {
    const std::string rec =
        "{\"type\":\"conn\",\"ts\":1795831693.752940,\"uid\":\"C04ALLF9gjuLDiA1jB\","
        "\"id.orig_h\":\"198.18.0.1\",\"id.orig_p\":38000,\"id.resp_h\":\"198.18.0.2\","
        "\"id.resp_p\":5001,\"proto\":\"tcp\",\"duration\":0.051894,\"conn_state\":\"SF\","
        "\"history\":\"ShADadFf\",\"handshake_rtt\":{\"syn_synack\":0.000016},"
        "\"flipped\":false,\"extra\":[1,2],\"empty\":[]}";
    const auto cols = wl::zeek::schema_of("conn", rec);
    REQUIRE(cols.size() > 21);
    CHECK(cols[0].name == "ts");
    CHECK(cols[0].type == "time");
    CHECK(cols[20].name == "tunnel_parents");
    CHECK(cols[20].type == "set[string]");
    CHECK(cols[cols.size() - 2].name == "extra");
    CHECK(cols[cols.size() - 2].type == "vector[count]");
    std::string row;
    REQUIRE(wl::zeek::row(rec, cols, row));
    REQUIRE(row.back() == '\n');
    std::vector<std::string> f;
    std::size_t at = 0;
    for (std::size_t tab; (tab = row.find_first_of("\t\n", at)) != std::string::npos; at = tab + 1)
        f.push_back(row.substr(at, tab - at));
    REQUIRE(f.size() == cols.size());
    CHECK(f[0] == "1795831693.752940");
    CHECK(f[3] == "38000");
    CHECK(f[7] == "-");  // service: absent
    CHECK(f[8] == "0.051894");
    CHECK(f[20] == "-");
    CHECK(f[cols.size() - 2] == "1,2");
    CHECK(f[cols.size() - 1] == "(empty)");
    for (std::size_t i = 0; i < cols.size(); ++i) {
        if (cols[i].name == "handshake_rtt.syn_synack") CHECK(f[i] == "0.000016");
        if (cols[i].name == "handshake_rtt.synack_ack") CHECK(f[i] == "-");
        if (cols[i].name == "flipped") CHECK(f[i] == "F");
    }
    const std::string h = wl::zeek::header("conn", cols, 0);
    CHECK(h.rfind("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n"
                  "#unset_field\t-\n#path\tconn\n#open\t1970-01-01-00-00-00\n#fields\tts\tuid\t",
                  0) == 0);
}
