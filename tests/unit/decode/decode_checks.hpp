// Checks shared by the tests that feed decode() broken frames: every view must
// lie inside the captured bytes, and the packet report writers must survive the
// packet and produce a JSON record that parses.
#pragma once

#include <catch2/catch.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "report/packet_report.hpp"

namespace wl::testing {

inline bool inside(Bytes span, const std::vector<std::uint8_t>& buf) {
    if (span.empty()) return true;
    return span.data() >= buf.data() && span.data() + span.size() <= buf.data() + buf.size();
}

// Runs the report writers over the packet (they must also stay inside the
// buffer) and checks each JSON record parses.
inline void report_survives(const Packet& pkt) {
    std::FILE* f = std::tmpfile();
    REQUIRE(f != nullptr);
    {
        OutBuffer out(f);
        write_packet_text(out, pkt, OuiRegistry::builtin());
        write_packet_json(out, pkt, OuiRegistry::builtin());
    }
    std::rewind(f);
    std::string all;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
        all.append(buf, n);
    std::fclose(f);
    const std::size_t json_at = all.find("\n{");
    REQUIRE(json_at != std::string::npos);
    std::string json = all.substr(json_at + 1);
    while (!json.empty() && json.back() == '\n')
        json.pop_back();
    INFO("JSON: " << json);
    CHECK(nlohmann::json::accept(json));
}

}  // namespace wl::testing
