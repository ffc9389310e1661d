// The checks behind every numeric option of the command line (cli/args.hpp).
#include "cli/args.hpp"

#include <catch2/catch.hpp>

using namespace wl::cli;

TEST_CASE("whole numbers: digits only, within the range", "[cli]") {
    std::uint64_t v = 7;
    CHECK(check_whole("0", 1, 10, v) == "must be a whole number from 1 to 10");
    CHECK(check_whole("-1", 1, 10, v) == "must be a whole number from 1 to 10");
    CHECK(check_whole("+3", 1, 10, v) != "");
    CHECK(check_whole(" 3", 1, 10, v) != "");
    CHECK(check_whole("3x", 1, 10, v) != "");
    CHECK(check_whole("0x3", 1, 10, v) != "");
    CHECK(check_whole("", 1, 10, v) != "");
    CHECK(check_whole("11", 1, 10, v) != "");
    CHECK(check_whole("99999999999999999999", 1, ~std::uint64_t{0}, v) != "");  // overflows
    CHECK(v == 7);
    CHECK(check_whole("18446744073709551615", 1, ~std::uint64_t{0}, v).empty());
    CHECK(v == ~std::uint64_t{0});
    CHECK(check_whole("10", 1, 10, v).empty());
    CHECK(v == 10);
}

TEST_CASE("seconds and other real numbers", "[cli]") {
    double d = 5;
    CHECK(check_seconds("0", false, 86400, d) ==
          "must be a number of seconds above 0 (at most 86400)");
    CHECK(check_seconds("-1", true, 86400, d) == "must be a number of seconds from 0 to 86400");
    CHECK(check_seconds("nan", false, 86400, d) != "");
    CHECK(check_seconds("inf", false, 86400, d) != "");
    CHECK(check_seconds("1e9", false, 86400, d) != "");
    CHECK(check_seconds("2s", false, 86400, d) != "");
    CHECK(d == 5);
    CHECK(check_seconds("0.5", false, 86400, d).empty());
    CHECK(d == 0.5);
    CHECK(check_seconds("0", true, 86400, d).empty());
    CHECK(d == 0);
    CHECK(check_real("1.5", 0, false, 1, d) == "must be a number from 0 to 1");
    CHECK(check_real("0", 0, true, 1e9, d) == "must be a number above 0 (at most 1000000000)");
    CHECK(check_real("0.25", 0, false, 1, d).empty());
    CHECK(d == 0.25);
}

TEST_CASE("sizes: bytes or K, M, G; what was understood when out of range", "[cli]") {
    std::uint64_t b = 3;
    CHECK(check_size("64M", 1, 1ull << 40, b).empty());
    CHECK(b == 64ull << 20);
    CHECK(check_size("1000", 1, 1ull << 40, b).empty());
    CHECK(b == 1000);
    CHECK(check_size("8G", 1, 1ull << 32, b) ==
          "must be a size from 1 byte to 4G (bytes, or with K, M or G); 8G is 8589934592 bytes");
    CHECK(check_size("-1", 1, 1ull << 32, b) ==
          "must be a size from 1 byte to 4G (bytes, or with K, M or G)");
    CHECK(check_size("12Q", 1, 1ull << 32, b) != "");
    CHECK(b == 1000);
    CHECK(size_text(1ull << 40) == "1024G");
    CHECK(size_text(1536) == "1536 bytes");
    CHECK(size_text(256ull << 10) == "256K");
}

TEST_CASE("a word that looks like a connection uid", "[cli]") {
    CHECK(looks_like_uid("COmIYnvrhRnCLumnuP"));
    CHECK_FALSE(looks_like_uid("38006"));
    CHECK_FALSE(looks_like_uid("port"));
    CHECK_FALSE(looks_like_uid("COmIYnvrhRnCLumnu"));    // 16 after C
    CHECK_FALSE(looks_like_uid("COmIYnvrhRnCLumnuP1"));  // 18 after C
    CHECK_FALSE(looks_like_uid("DOmIYnvrhRnCLumnuP"));
    CHECK_FALSE(looks_like_uid("COmIYnvrhRnCLumnu-"));
}
