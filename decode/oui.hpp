// MAC vendor lookup from the IEEE registries (MA-L 24-bit, MA-M 28-bit,
// MA-S/IAB 36-bit prefixes). The built-in table is generated at build time
// from Debian's ieee-data and compiled into the binary; --oui loads another.
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace wl {

struct OuiRecord {
    std::uint64_t prefix;  // the assignment's bits, right-aligned
    std::uint8_t bits;     // 24, 28 or 36
    std::string_view name;
};

// Parses the IEEE CSV layout (Registry,Assignment,Organization Name,...),
// calling sink(OuiRecord) per valid row. Returns rows rejected.
template <class Sink>
std::size_t parse_ieee_csv(std::istream& in, Sink&& sink);

// Splits one CSV line into fields, honouring quotes and doubled quotes.
void split_csv_line(std::string_view line, std::vector<std::string>& fields);
bool parse_oui_row(const std::vector<std::string>& fields, std::uint64_t& prefix,
                   std::uint8_t& bits);

struct OuiEntry {
    std::uint64_t key;      // prefix bits, right-aligned
    std::uint32_t name_at;  // offset into the name pool
};

// Collects records into three sorted tables and a pool of NUL-terminated,
// de-duplicated names. Later records for the same prefix are ignored.
struct OuiTableBuilder {
    std::vector<OuiEntry> t24, t28, t36;
    std::string pool;
    void add(const OuiRecord& rec);
    void finish();  // sorts and drops duplicate prefixes

  private:
    std::unordered_map<std::string, std::uint32_t> index_;  // name -> offset in pool
    std::uint32_t intern(std::string_view name);
};

class OuiRegistry {
  public:
    using Entry = OuiEntry;

    // The table compiled into the binary.
    static const OuiRegistry& builtin();

    // Loads IEEE CSV files (oui.csv, mam.csv, oui36.csv, iab.csv). Returns
    // false with `error` set when nothing could be read.
    bool load_csv(const std::string& path, std::string& error);

    // The vendor of `mac`, longest prefix first; empty when unknown.
    std::string_view lookup(const std::uint8_t* mac) const;
    std::size_t size() const { return n24_ + n28_ + n36_; }

  private:
    static std::string_view find(const Entry* table, std::size_t n, std::uint64_t key,
                                 const char* pool);
    const Entry* t24_ = nullptr;
    const Entry* t28_ = nullptr;
    const Entry* t36_ = nullptr;
    std::size_t n24_ = 0, n28_ = 0, n36_ = 0;
    const char* pool_ = nullptr;
    // Storage when loaded at run time.
    std::vector<Entry> own24_, own28_, own36_;
    std::string own_pool_;
};

template <class Sink>
std::size_t parse_ieee_csv(std::istream& in, Sink&& sink) {
    std::string line;
    std::vector<std::string> fields;
    std::size_t rejected = 0;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        split_csv_line(line, fields);
        std::uint64_t prefix;
        std::uint8_t bits;
        if (fields.size() < 3 || !parse_oui_row(fields, prefix, bits)) {
            ++rejected;
            continue;
        }
        sink(OuiRecord{prefix, bits, fields[2]});
    }
    return rejected;
}

}  // namespace wl
