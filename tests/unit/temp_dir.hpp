// A temporary folder for one test case, removed with everything in it when the
// case ends; shared by the unit tests that write files.
#pragma once

#include <catch2/catch.hpp>

#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

namespace wl::test {

struct TempDir {
    std::filesystem::path path;
    // `prefix` names the folder: /tmp/PREFIX_XXXXXX.
    explicit TempDir(const std::string& prefix) {
        std::string tmpl = "/tmp/" + prefix + "_XXXXXX";
        const char* p = mkdtemp(tmpl.data());
        REQUIRE(p != nullptr);
        path = p;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    std::string operator/(const std::string& name) const { return (path / name).string(); }
    // Writes `b` to NAME in the folder; its path.
    std::string write(const std::string& name, const std::vector<std::uint8_t>& b) const {
        const std::string p = *this / name;
        std::ofstream(p, std::ios::binary)
            .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
        return p;
    }
    // The names in the folder, sorted.
    std::vector<std::string> names() const {
        std::vector<std::string> v;
        for (const auto& e : std::filesystem::directory_iterator(path))
            v.push_back(e.path().filename());
        std::sort(v.begin(), v.end());
        return v;
    }
};

}  // namespace wl::test
