#include "sink/zeek_tsv.hpp"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace wl::zeek {

namespace {

using Json = nlohmann::ordered_json;

struct TableColumn {
    const char* name;
    const char* type;
};

// Zeek's conn.log columns, in Zeek's order with Zeek's types, then wirelens' own.
const TableColumn kConn[] = {
    {"ts", "time"},
    {"uid", "string"},
    {"id.orig_h", "addr"},
    {"id.orig_p", "port"},
    {"id.resp_h", "addr"},
    {"id.resp_p", "port"},
    {"proto", "enum"},
    {"service", "string"},
    {"duration", "interval"},
    {"orig_bytes", "count"},
    {"resp_bytes", "count"},
    {"conn_state", "string"},
    {"local_orig", "bool"},
    {"local_resp", "bool"},
    {"missed_bytes", "count"},
    {"history", "string"},
    {"orig_pkts", "count"},
    {"orig_ip_bytes", "count"},
    {"resp_pkts", "count"},
    {"resp_ip_bytes", "count"},
    {"tunnel_parents", "set[string]"},
    // wirelens' columns
    {"capture_loss_bytes", "count"},
    {"retransmitted_bytes", "count"},
    {"orig_l2_addr", "string"},
    {"resp_l2_addr", "string"},
    {"handshake_rtt.syn_synack", "interval"},
    {"handshake_rtt.synack_ack", "interval"},
    {"teardown", "string"},
    {"retransmits", "count"},
    {"out_of_order", "count"},
    {"flipped", "bool"},
    {"end", "string"},
    {"community_id", "string"},
    {"sensor", "string"},
};

const TableColumn kUpload[] = {
    {"uid", "string"},     {"id.orig_h", "addr"},    {"id.orig_p", "port"},
    {"id.resp_h", "addr"}, {"id.resp_p", "port"},    {"dir", "string"},
    {"index", "count"},    {"offset", "count"},      {"byte_order", "string"},
    {"header", "string"},  {"file_name", "string"},  {"declared_size", "count"},
    {"received", "count"}, {"complete", "bool"},     {"md5", "string"},
    {"sha256", "string"},  {"digest_ok", "bool"},    {"ts_start", "time"},
    {"ts_end", "time"},    {"throughput", "double"}, {"segments", "count"},
    {"coalesced", "bool"}, {"split", "bool"},        {"community_id", "string"},
    {"sensor", "string"},
};

const TableColumn kAlert[] = {
    {"kind", "string"},
    {"state", "string"},
    {"scanner", "addr"},
    {"victim", "addr"},
    {"target", "addr"},
    {"port", "port"},
    {"ts_start", "time"},
    {"ts_end", "time"},
    {"syns", "count"},
    {"synacks", "count"},
    {"rsts", "count"},
    {"completed", "count"},
    {"ports_tried", "count"},
    {"hosts_tried", "count"},
    {"open", "count"},
    {"open_ports", "vector[count]"},
    {"open_hosts", "vector[addr]"},
    {"rate", "double"},
    {"peak_syn_rate", "double"},
    {"completion_ratio", "double"},
    {"distinct_sources", "count"},
    {"top_sources", "vector[string]"},
    {"spoofed", "bool"},
    {"trigger", "string"},
    {"detected_after", "interval"},
    {"peak_queue", "count"},
    {"hop_checked", "count"},
    {"hop_mismatch", "count"},
    {"syn_rate", "vector[count]"},
    {"community_id", "string"},
    {"sensor", "string"},
};

const TableColumn kAttempts[] = {
    {"ts", "time"},        {"ts_last", "time"},    {"id.resp_h", "addr"},
    {"id.resp_p", "port"}, {"proto", "enum"},      {"conn_state", "string"},
    {"attempts", "count"}, {"orig_pkts", "count"}, {"orig_ip_bytes", "count"},
    {"end", "string"},     {"sensor", "string"},
};

const TableColumn kEstablished[] = {
    {"ts_logged", "time"},
    {"ts", "time"},
    {"uid", "string"},
    {"id.orig_h", "addr"},
    {"id.orig_p", "port"},
    {"id.resp_h", "addr"},
    {"id.resp_p", "port"},
    {"proto", "enum"},
    {"handshake_rtt.syn_synack", "interval"},
    {"handshake_rtt.synack_ack", "interval"},
    {"sensor", "string"},
};

template <std::size_t N>
std::vector<Column> table(const TableColumn (&t)[N]) {
    std::vector<Column> v;
    for (const auto& c : t)
        v.push_back({c.name, c.type});
    return v;
}

std::string guess_type(std::string_view name, const Json& v) {
    const bool timeish = name == "ts" || name.starts_with("ts_") ||
                         name.find(".ts_") != std::string_view::npos || name.ends_with(".ts");
    if (v.is_boolean()) return "bool";
    if (v.is_number_unsigned()) return "count";
    if (v.is_number_integer()) return "int";
    if (v.is_number_float()) return timeish ? "time" : "double";
    if (v.is_array()) {
        std::string elem = "string";
        if (!v.empty() && !v.front().is_array() && !v.front().is_object()) {
            elem = guess_type("", v.front());
        }
        return "vector[" + elem + "]";
    }
    return "string";
}

void flatten(const Json& obj, const std::string& prefix, std::vector<Column>& cols,
             const std::vector<Column>& known) {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
        const std::string name = prefix.empty() ? it.key() : prefix + "." + it.key();
        if (prefix.empty() && name == "type") continue;
        bool named = false;
        for (const auto& c : known)
            named = named || c.name == name;
        if (named) continue;
        if (it.value().is_object()) {
            flatten(it.value(), name, cols, known);  // dotted columns
            continue;
        }
        bool have = false;
        for (const auto& c : cols)
            have = have || c.name == name;
        if (!have) cols.push_back({name, guess_type(name, it.value())});
    }
}

// The value at a dotted path: the member named by the whole rest first (a
// flat "id.orig_h"), then nested objects.
const Json* lookup(const Json& obj, std::string_view path) {
    if (!obj.is_object()) return nullptr;
    auto it = obj.find(std::string(path));
    if (it != obj.end()) return &*it;
    for (std::size_t dot = path.find('.'); dot != std::string_view::npos;
         dot = path.find('.', dot + 1)) {
        auto jt = obj.find(std::string(path.substr(0, dot)));
        if (jt != obj.end() && jt->is_object()) {
            if (const Json* r = lookup(*jt, path.substr(dot + 1))) return r;
        }
    }
    return nullptr;
}

std::string number_text(const Json& v, std::string_view type) {
    if (v.is_number_float()) {
        const double d = v.get<double>();
        if (!std::isfinite(d)) return "0";
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.6f", d);
        return buf;
    }
    if (type == "time" || type == "interval" || type == "double") {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.6f", v.get<double>());
        return buf;
    }
    return v.dump();
}

std::string scalar(const Json& v, std::string_view type, bool in_container) {
    if (v.is_boolean()) return v.get<bool>() ? "T" : "F";
    if (v.is_number()) return number_text(v, type);
    if (v.is_string()) return escape(v.get_ref<const std::string&>(), in_container);
    return escape(v.dump(), in_container);  // an object or array: its JSON text
}

std::string field(const Json* v, const Column& c) {
    if (v == nullptr || v->is_null()) return "-";
    if (v->is_array() && c.type.find('[') != std::string::npos) {
        if (v->empty()) return "(empty)";
        const std::string elem =
            c.type.substr(c.type.find('[') + 1, c.type.size() - c.type.find('[') - 2);
        std::string s;
        for (const auto& e : *v) {
            if (!s.empty()) s += ',';
            s += scalar(e, elem, true);
        }
        return s;
    }
    return scalar(*v, c.type, false);
}

}  // namespace

std::vector<Column> schema_of(std::string_view type, std::string_view first_json) {
    std::vector<Column> cols;
    if (type == "conn") {
        cols = table(kConn);
    } else if (type == "upload") {
        cols = table(kUpload);
    } else if (type == "alert") {
        cols = table(kAlert);
    } else if (type == "attempts") {
        cols = table(kAttempts);
    } else if (type == "conn_established") {
        cols = table(kEstablished);
    }
    const Json j = Json::parse(first_json, nullptr, false);
    if (j.is_object()) {
        std::vector<Column> extra;
        flatten(j, "", extra, cols);
        cols.insert(cols.end(), extra.begin(), extra.end());
    }
    return cols;
}

std::string escape(std::string_view f, bool in_container) {
    static const char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(f.size());
    auto hex = [&out](unsigned char c) {
        out += "\\x";
        out += kHex[c >> 4];
        out += kHex[c & 15];
    };
    if (f.empty()) return in_container ? std::string() : std::string("(empty)");
    const bool marker = f == "-" || f == "(empty)";
    for (std::size_t i = 0; i < f.size(); ++i) {
        const auto c = static_cast<unsigned char>(f[i]);
        if (c < 0x20 || c >= 0x7f || c == '\\' || (in_container && c == ',') ||
            (marker && i == 0)) {
            hex(c);
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

std::string stamp(std::uint64_t ns) {
    const std::time_t t = static_cast<std::time_t>(ns / 1000000000ull);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[80];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d-%02d-%02d-%02d", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

std::string header(std::string_view path, const std::vector<Column>& cols, std::uint64_t open_ns) {
    std::string h = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n";
    h += "#path\t";
    h += escape(path);
    h += "\n#open\t" + stamp(open_ns) + "\n#fields";
    for (const auto& c : cols)
        h += "\t" + c.name;
    h += "\n#types";
    for (const auto& c : cols)
        h += "\t" + c.type;
    h += '\n';
    return h;
}

bool row(std::string_view json, const std::vector<Column>& cols, std::string& out) {
    const Json j = Json::parse(json, nullptr, false);
    if (!j.is_object()) return false;
    for (std::size_t i = 0; i < cols.size(); ++i) {
        if (i != 0) out += '\t';
        out += field(lookup(j, cols[i].name), cols[i]);
    }
    out += '\n';
    return true;
}

std::string close_line(std::uint64_t close_ns) {
    return "#close\t" + stamp(close_ns) + "\n";
}

}  // namespace wl::zeek
