// The IEEE registry CSV parser, shared by the build-time table generator and
// the run-time --oui loader.
#include "decode/oui.hpp"

namespace wl {

void split_csv_line(std::string_view line, std::vector<std::string>& fields) {
    fields.clear();
    fields.emplace_back();
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char ch = line[i];
        if (quoted) {
            if (ch == '"' && i + 1 < line.size() && line[i + 1] == '"') {
                fields.back().push_back('"');
                ++i;
            } else if (ch == '"') {
                quoted = false;
            } else {
                fields.back().push_back(ch);
            }
        } else if (ch == '"') {
            quoted = true;
        } else if (ch == ',') {
            fields.emplace_back();
        } else {
            fields.back().push_back(ch);
        }
    }
    for (auto& f : fields) {  // trim the padding the registry leaves around names
        const auto b = f.find_first_not_of(" \t");
        const auto e = f.find_last_not_of(" \t");
        f = b == std::string::npos ? std::string{} : f.substr(b, e - b + 1);
    }
}

bool parse_oui_row(const std::vector<std::string>& fields, std::uint64_t& prefix,
                   std::uint8_t& bits) {
    const std::string& reg = fields[0];
    const std::string& hex = fields[1];
    std::size_t digits;
    if (reg == "MA-L") {
        digits = 6;
    } else if (reg == "MA-M") {
        digits = 7;
    } else if (reg == "MA-S" || reg == "IAB") {
        digits = 9;
    } else {
        return false;  // the header row, or a registry we do not know
    }
    if (hex.size() != digits || fields[2].empty()) return false;
    std::uint64_t v = 0;
    for (char ch : hex) {
        int d;
        if (ch >= '0' && ch <= '9') {
            d = ch - '0';
        } else if (ch >= 'A' && ch <= 'F') {
            d = ch - 'A' + 10;
        } else if (ch >= 'a' && ch <= 'f') {
            d = ch - 'a' + 10;
        } else {
            return false;
        }
        v = (v << 4) | static_cast<std::uint64_t>(d);
    }
    prefix = v;
    bits = static_cast<std::uint8_t>(digits * 4);
    return true;
}

}  // namespace wl

#include <algorithm>
namespace wl {

std::uint32_t OuiTableBuilder::intern(std::string_view name) {
    auto [it, inserted] =
        index_.try_emplace(std::string(name), static_cast<std::uint32_t>(pool.size()));
    if (inserted) {
        pool.append(name);
        pool.push_back('\0');
    }
    return it->second;
}

void OuiTableBuilder::add(const OuiRecord& rec) {
    const OuiEntry e{rec.prefix, intern(rec.name)};
    if (rec.bits == 24) t24.push_back(e);
    if (rec.bits == 28) t28.push_back(e);
    if (rec.bits == 36) t36.push_back(e);
}

void OuiTableBuilder::finish() {
    for (auto* t : {&t24, &t28, &t36}) {
        std::stable_sort(t->begin(), t->end(),
                         [](const OuiEntry& a, const OuiEntry& b) { return a.key < b.key; });
        t->erase(std::unique(t->begin(), t->end(),
                             [](const OuiEntry& a, const OuiEntry& b) { return a.key == b.key; }),
                 t->end());
    }
    index_.clear();
}

}  // namespace wl
