// Records as Zeek's ASCII (tab-separated) logs: the header block, one row per
// JSON record, the #close line. Each record type has a schema table (columns
// in a fixed order with Zeek's type names); conn.log begins with Zeek's own
// conn.log columns so that zeek-cut and Zeek log readers take it. A record is
// converted from its JSON line (nlohmann-json): fine for records, the one
// per-packet cost is packet.log's (--packets).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wl::zeek {

struct Column {
    std::string name;  // dotted path of the JSON member ("id.orig_h", "handshake_rtt.syn_synack")
    std::string type;  // Zeek's type name: time, string, addr, port, enum, interval, count,
                       // int, double, bool, set[string], vector[count], ...
};

// The columns of a log of `type`: its table's, then the members of `first_json`
// (its first record) the table does not name, with types guessed from their
// values; nested objects flattened with dots. "type" is no column (#path says it).
std::vector<Column> schema_of(std::string_view type, std::string_view first_json);

// One field escaped as Zeek's writer does: bytes outside printable ASCII, the
// separator (tab), the backslash, and (in_container) the set separator as \xNN;
// a field equal to "-" or "(empty)" (or empty) gets its first byte escaped.
std::string escape(std::string_view field, bool in_container = false);

// "2026-12-07-20-00-00" (UTC) of a time in ns.
std::string stamp(std::uint64_t ns);

// The header lines of `path`'s log (#separator ... #types), opened at `open_ns`.
std::string header(std::string_view path, const std::vector<Column>& cols, std::uint64_t open_ns);
// A record's row (with its newline); false when the line is not a JSON object.
bool row(std::string_view json, const std::vector<Column>& cols, std::string& out);
// "#close\t...\n".
std::string close_line(std::uint64_t close_ns);

}  // namespace wl::zeek
