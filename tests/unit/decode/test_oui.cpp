// The OUI registry: the built-in table against the IEEE CSV files it was
// generated from (read here with a CSV reader of the test's own), and
// load_csv on small files written by the test.
#include <unistd.h>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "decode/oui.hpp"

using namespace wl;

namespace {

const std::string kIeeeDir = WIRELENS_IEEE_DIR;

// RFC 4180 records: quoted fields may hold commas, doubled quotes and newlines.
std::vector<std::vector<std::string>> read_csv(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    std::vector<std::vector<std::string>> rows(1, std::vector<std::string>(1));
    bool quoted = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        auto& row = rows.back();
        if (quoted) {
            if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
                row.back() += '"';
                ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                row.back() += c;
            }
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            row.emplace_back();
        } else if (c == '\n') {
            rows.emplace_back(1);
        } else if (c != '\r') {
            row.back() += c;
        }
    }
    return rows;
}

std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t");
    if (b == std::string::npos) return {};
    return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

struct Assignment {
    std::uint64_t prefix;
    int bits;
    std::string name;
};

// The rows of one registry file, in file order.
std::vector<Assignment> registry_rows(const std::string& file) {
    std::vector<Assignment> out;
    for (const auto& r : read_csv(kIeeeDir + "/" + file)) {
        if (r.size() < 3) continue;
        const std::string reg = r[0];
        const int bits = reg == "MA-L"                   ? 24
                         : reg == "MA-M"                 ? 28
                         : reg == "MA-S" || reg == "IAB" ? 36
                                                         : 0;
        if (bits == 0 || r[1].size() != static_cast<std::size_t>(bits / 4)) continue;
        const std::string name = trim(r[2]);
        if (name.empty()) continue;
        out.push_back({std::stoull(r[1], nullptr, 16), bits, name});
    }
    return out;
}

// A MAC address starting with `a`, the remaining bits from `rng`.
std::vector<std::uint8_t> mac_in(const Assignment& a, std::mt19937_64& rng) {
    const int free_bits = 48 - a.bits;
    const std::uint64_t low = rng() & ((std::uint64_t{1} << free_bits) - 1);
    const std::uint64_t v = (a.prefix << free_bits) | low;
    std::vector<std::uint8_t> mac(6);
    for (int i = 0; i < 6; ++i)
        mac[i] = static_cast<std::uint8_t>(v >> (40 - 8 * i));
    return mac;
}

std::string tmp_path(const char* tag) {
    return "/tmp/wirelens_test_oui_" + std::to_string(::getpid()) + "_" + tag;
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
}

}  // namespace

TEST_CASE("OUI builtin: well-known vendors", "[oui]") {
    const OuiRegistry& reg = OuiRegistry::builtin();
    CHECK(reg.size() > 30000);
    const std::uint8_t cisco[6] = {0x00, 0x00, 0x0c, 0x07, 0xac, 0x01};
    CHECK(reg.lookup(cisco) == "Cisco Systems, Inc");
    const std::uint8_t intel[6] = {0x00, 0x1b, 0x21, 0x3a, 0x4f, 0x5e};
    CHECK(reg.lookup(intel) == "Intel Corporate");
    // Locally administered addresses are in no registry.
    const std::uint8_t local[6] = {0x02, 0x42, 0xac, 0x11, 0x00, 0x02};
    CHECK(reg.lookup(local).empty());
    CHECK(&OuiRegistry::builtin() == &reg);
}

TEST_CASE("OUI: the all-zero address has no vendor, its neighbours keep Xerox's", "[oui]") {
    const OuiRegistry& reg = OuiRegistry::builtin();
    const std::uint8_t zero[6] = {0, 0, 0, 0, 0, 0};
    CHECK(reg.lookup(zero).empty());
    const std::uint8_t xerox[6] = {0, 0, 0, 0, 0, 1};
    CHECK(reg.lookup(xerox) == "XEROX CORPORATION");
}

TEST_CASE("OUI builtin: MA-M and MA-S/IAB prefixes win over their MA-L block", "[oui]") {
    const OuiRegistry& reg = OuiRegistry::builtin();
    std::mt19937_64 rng(28);
    for (const char* file : {"mam.csv", "oui36.csv", "iab.csv"}) {
        const std::vector<Assignment> rows = registry_rows(file);
        INFO(file);
        REQUIRE(rows.size() > 1000);
        // Pick named rows from the middle of the file, not just the first.
        int checked = 0;
        for (std::size_t i = rows.size() / 2; i < rows.size() && checked < 3; ++i) {
            const Assignment& a = rows[i];
            if (a.name == "Private") continue;
            const auto mac = mac_in(a, rng);
            INFO(a.name << " prefix " << std::hex << a.prefix << " bits " << std::dec << a.bits);
            CHECK(reg.lookup(mac.data()) == a.name);
            ++checked;
        }
        CHECK(checked == 3);
    }
}

TEST_CASE("OUI builtin agrees with the IEEE CSV files on random rows", "[oui]") {
    // The generator reads oui.csv, mam.csv, oui36.csv, iab.csv in that order
    // and keeps the first row for a prefix. Model that: first row wins per
    // (bits, prefix), longest prefix wins per address.
    std::map<std::pair<int, std::uint64_t>, std::string> first;
    std::vector<Assignment> all;
    for (const char* file : {"oui.csv", "mam.csv", "oui36.csv", "iab.csv"}) {
        for (auto& a : registry_rows(file)) {
            first.emplace(std::make_pair(a.bits, a.prefix), a.name);
            all.push_back(std::move(a));
        }
    }
    REQUIRE(all.size() > 40000);
    const OuiRegistry& reg = OuiRegistry::builtin();
    CHECK(reg.size() == first.size());
    auto expect = [&](const std::vector<std::uint8_t>& mac) -> std::string {
        std::uint64_t v = 0;
        for (auto b : mac)
            v = (v << 8) | b;
        for (int bits : {36, 28, 24}) {
            const auto it = first.find({bits, v >> (48 - bits)});
            if (it != first.end()) return it->second;
        }
        return {};
    };
    std::mt19937_64 rng(0x5eed);
    int by_bits[37] = {};
    for (int i = 0; i < 600; ++i) {
        const Assignment& a = all[rng() % all.size()];
        const auto mac = mac_in(a, rng);
        const std::string want = expect(mac);
        INFO("row " << a.name << " prefix " << std::hex << a.prefix << std::dec << "/" << a.bits);
        REQUIRE_FALSE(want.empty());
        CHECK(std::string(reg.lookup(mac.data())) == want);
        ++by_bits[a.bits];
    }
    CHECK(by_bits[24] > 100);
    CHECK(by_bits[28] > 10);
    CHECK(by_bits[36] > 10);
    // Duplicate assignments in oui.csv: the first row is the one kept.
    const std::uint8_t dup[6] = {0x08, 0x00, 0x30, 0x00, 0x00, 0x01};
    CHECK(std::string(reg.lookup(dup)) == expect({0x08, 0x00, 0x30, 0x00, 0x00, 0x01}));
}

TEST_CASE("OUI load_csv: quoted names with commas and doubled quotes", "[oui]") {
    const std::string path = tmp_path("small.csv");
    write_file(path,
               "Registry,Assignment,Organization Name,Organization Address\r\n"
               "MA-L,ABCDEF,\"Acme, Inc.\",\"1 Road, Town\"\r\n"
               "MA-M,ABCDEF1,\"The \"\"Quoted\"\" Co\",addr\n"
               "MA-S,ABCDEF123,  Tiny  Ltd ,x\n"
               "IAB,0050C2ABC,\"Old IAB, \"\"Ltd\"\"\",\n"
               "MA-L,abcdef,Second row for the same prefix,\n"
               "MA-L,12345,Too short,\n"
               "MA-L,12345G,Not hex,\n"
               "MA-L,123456,,empty name\n"
               "XX-L,654321,Unknown registry,\n"
               "not a csv row at all\n");
    OuiRegistry reg;
    std::string error;
    REQUIRE(reg.load_csv(path, error));
    CHECK(error.empty());
    CHECK(reg.size() == 4);
    const std::uint8_t acme[6] = {0xab, 0xcd, 0xef, 0x00, 0x00, 0x01};
    CHECK(reg.lookup(acme) == "Acme, Inc.");
    const std::uint8_t quoted[6] = {0xab, 0xcd, 0xef, 0x1f, 0xff, 0xff};
    CHECK(reg.lookup(quoted) == "The \"Quoted\" Co");
    const std::uint8_t tiny[6] = {0xab, 0xcd, 0xef, 0x12, 0x3f, 0xff};
    CHECK(reg.lookup(tiny) == "Tiny  Ltd");
    const std::uint8_t tiny_neighbour[6] = {0xab, 0xcd, 0xef, 0x12, 0x40, 0x00};
    CHECK(reg.lookup(tiny_neighbour) == "The \"Quoted\" Co");
    const std::uint8_t iab[6] = {0x00, 0x50, 0xc2, 0xab, 0xc1, 0x23};
    CHECK(reg.lookup(iab) == "Old IAB, \"Ltd\"");
    const std::uint8_t none[6] = {0x12, 0x34, 0x56, 0x00, 0x00, 0x00};
    CHECK(reg.lookup(none).empty());
    const std::uint8_t cisco[6] = {0x00, 0x00, 0x0c, 0x00, 0x00, 0x00};
    CHECK(reg.lookup(cisco).empty());  // a loaded table replaces the builtin one...
    CHECK(OuiRegistry::builtin().lookup(cisco) == "Cisco Systems, Inc");  // ...not changes it
    std::remove(path.c_str());
}

TEST_CASE("OUI load_csv: files that are not registries fail with a message", "[oui]") {
    OuiRegistry reg;
    std::string error;
    const std::string text = tmp_path("not.csv");
    write_file(text, "hello, world\nthis is, not, an IEEE registry\n\x01\x02\xff\n");
    CHECK_FALSE(reg.load_csv(text, error));
    CHECK_FALSE(error.empty());
    CHECK(error.find(text) != std::string::npos);
    CHECK(reg.size() == 0);
    std::remove(text.c_str());

    error.clear();
    const std::string empty = tmp_path("empty.csv");
    write_file(empty, "");
    CHECK_FALSE(reg.load_csv(empty, error));
    CHECK_FALSE(error.empty());
    std::remove(empty.c_str());

    error.clear();
    CHECK_FALSE(reg.load_csv(tmp_path("does-not-exist.csv"), error));
    CHECK_FALSE(error.empty());

    error.clear();
    CHECK_FALSE(reg.load_csv("/tmp", error));  // a directory
    CHECK_FALSE(error.empty());
}

TEST_CASE("OUI load_csv reads the real registry files", "[oui]") {
    OuiRegistry reg;
    std::string error;
    REQUIRE(reg.load_csv(kIeeeDir + "/mam.csv", error));
    const std::vector<Assignment> rows = registry_rows("mam.csv");
    std::map<std::uint64_t, std::string> first;
    for (const auto& a : rows)
        first.emplace(a.prefix, a.name);
    CHECK(reg.size() == first.size());
    std::mt19937_64 rng(99);
    for (int i = 0; i < 100; ++i) {
        const Assignment& a = rows[rng() % rows.size()];
        const auto mac = mac_in(a, rng);
        CHECK(std::string(reg.lookup(mac.data())) == first.at(a.prefix));
    }
}

TEST_CASE("split_csv_line and parse_oui_row", "[oui]") {
    std::vector<std::string> f;
    split_csv_line(R"(MA-L,00000C,"Cisco Systems, Inc",170 WEST TASMAN)", f);
    REQUIRE(f.size() == 4);
    CHECK(f[2] == "Cisco Systems, Inc");
    split_csv_line(R"(a,"b ""c"" d",,"")", f);
    REQUIRE(f.size() == 4);
    CHECK(f[1] == "b \"c\" d");
    CHECK(f[2].empty());
    CHECK(f[3].empty());
    split_csv_line("", f);
    CHECK(f.size() == 1);

    std::uint64_t prefix = 0;
    std::uint8_t bits = 0;
    REQUIRE(parse_oui_row({"MA-M", "70B3D5F", "x"}, prefix, bits));
    CHECK(prefix == 0x70b3d5f);
    CHECK(bits == 28);
    REQUIRE(parse_oui_row({"IAB", "0050c2fff", "x"}, prefix, bits));
    CHECK(prefix == 0x0050c2fff);
    CHECK(bits == 36);
    CHECK_FALSE(parse_oui_row({"MA-S", "70B3D5F2", "x"}, prefix, bits));
    CHECK_FALSE(parse_oui_row({"Registry", "Assignment", "Organization Name"}, prefix, bits));
}
