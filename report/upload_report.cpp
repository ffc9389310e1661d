#include "report/upload_report.hpp"

#include "report/conn_report.hpp"

#include <algorithm>
#include <cstdio>
#include <string_view>
#include <unordered_map>

namespace wl {

namespace {

// The header as sent is valid JSON (the decoder parsed it); JSON Lines
// needs it on one line, and line breaks can only be whitespace outside strings.
void put_header_one_line(OutBuffer& out, std::string_view json) {
    for (char ch : json)
        out.put(ch == '\n' || ch == '\r' ? ' ' : ch);
}

double throughput(const UploadFrame& f) {
    if (f.ts_end <= f.ts_start) return 0.0;
    return static_cast<double>(f.received) / (static_cast<double>(f.ts_end - f.ts_start) / 1e9);
}

void put_size(OutBuffer& out, std::uint64_t n) {
    char buf[32];
    if (n >= 10ull << 20) {
        std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(n) / (1 << 20));
    } else if (n >= 10ull << 10) {
        std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(n) / 1024);
    } else {
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
    }
    out.put(buf);
}

}  // namespace

std::uint64_t UploadReporter::memory_bound() {
    // A std::string holds up to 15 bytes inline; longer ones are on the heap,
    // with some rounding: count twice the cut lengths.
    // Printing a batch groups it by connection: two indexes per row and a
    // hash table of uids (a node of about 48 bytes and a bucket per row).
    return kMaxBufferedRows * (sizeof(Row) + 2 * (kMaxNameBytes + kMaxPathBytes + 32) +
                               2 * sizeof(std::size_t) + 48 + sizeof(void*));
}

namespace {
std::array<char, 19> uid_of(const Connection& c) {
    std::array<char, 19> uid;
    conn_uid(c, uid.data());
    return uid;
}

// A string from the network, cut to `max` bytes for a table cell ("..." marks the cut).
std::string cell(std::string_view s, std::size_t max) {
    if (s.size() <= max) return std::string(s);
    std::string out(s.substr(0, max - 3));
    out += "...";
    return out;
}
}  // namespace

void UploadReporter::upload(const UploadRecord& rec) {
    const UploadFrame& f = *rec.frame;
    const Connection& c = *rec.conn;
    if (!json_) {
        if (stream_) {
            put_clock(out_, std::max(now(), f.ts_end), true);
            out_.put(" upload ");
            print_row(Row{uid_of(c), rec.dir, f.index, cell(f.file_name, kMaxNameBytes),
                          f.declared_size, f.received, f.complete, f.has_size, f.digest_ok,
                          throughput(f), f.coalesced, f.split,
                          f.missing != nullptr ? f.missing : "", std::string(rec.extracted)});
            return;
        }
        if (rows_.size() == kMaxBufferedRows) print_rows();
        rows_.push_back(Row{
            uid_of(c), rec.dir, f.index, cell(f.file_name, kMaxNameBytes), f.declared_size,
            f.received, f.complete, f.has_size, f.digest_ok, throughput(f), f.coalesced, f.split,
            f.missing != nullptr ? f.missing : "", cell(rec.extracted, kMaxPathBytes)});
        return;
    }
    out_.put("{\"type\":\"upload\"");
    if (stream_) out_.put(",\"ts_logged\":").put_ts(std::max(now(), f.ts_end));
    put_conn_id(out_, c);
    put_community_id(out_, c, cid_seed_);
    out_.put(",\"dir\":\"").put(rec.dir == 0 ? "orig" : "resp").put('"');
    out_.put(",\"index\":").put_u64(f.index).put(",\"offset\":").put_u64(f.offset);
    out_.put(",\"byte_order\":\"").put(f.byte_order == ByteOrder::Little ? "little" : "big");
    out_.put('"');
    // The header as sent when it is a JSON object; otherwise (not JSON, cut by
    // a gap) what arrived of it, as a JSON string.
    if (f.has_header && f.header_valid) {
        out_.put(",\"header\":");
        put_header_one_line(out_, f.header_json);
    } else if (f.has_header && !f.header_json.empty()) {
        out_.put(",\"header_text\":").put_json_string(f.header_json);
    }
    if (!f.file_name.empty()) out_.put(",\"file_name\":").put_json_string(f.file_name);
    if (f.has_size) out_.put(",\"declared_size\":").put_u64(f.declared_size);
    out_.put(",\"received\":").put_u64(f.received);
    out_.put(",\"complete\":").put(f.complete ? "true" : "false");
    if (f.missing != nullptr) out_.put(",\"missing\":\"").put(f.missing).put('"');
    if (f.has_size) out_.put(",\"md5\":\"").put(f.md5).put('"');
    if (f.has_sha256) out_.put(",\"sha256\":\"").put(f.sha256).put('"');
    if (f.digest_ok >= 0) out_.put(",\"digest_ok\":").put(f.digest_ok ? "true" : "false");
    out_.put(",\"ts_start\":").put_ts(f.ts_start).put(",\"ts_end\":").put_ts(f.ts_end);
    out_.put(",\"throughput\":").put_fixed(throughput(f), 1);
    out_.put(",\"segments\":").put_u64(f.segments);
    out_.put(",\"coalesced\":").put(f.coalesced ? "true" : "false");
    out_.put(",\"split\":").put(f.split ? "true" : "false");
    if (!rec.extracted.empty()) out_.put(",\"extracted\":").put_json_string(rec.extracted);
    if (!rec.refused.empty()) out_.put(",\"extract_refused\":").put_json_string(rec.refused);
    out_.put("}\n");
}

void UploadReporter::inconsistent(const Connection& c, int dir, std::uint64_t offset,
                                  std::uint64_t len) {
    ++inconsistent_;
    if (!json_) return;
    out_.put("{\"type\":\"anomaly\"");
    if (stream_) out_.put(",\"ts_logged\":").put_ts(now());
    out_.put(",\"kind\":\"inconsistent_retransmission\"");
    put_conn_id(out_, c);
    put_community_id(out_, c, cid_seed_);
    out_.put(",\"dir\":\"").put(dir == 0 ? "orig" : "resp").put("\",\"offset\":").put_u64(offset);
    out_.put(",\"len\":").put_u64(len).put("}\n");
}

void UploadReporter::print_row(const Row& r) {
    const char* uid = r.uid.data();
    std::string name = r.file.empty() ? (r.has_size ? "(no name)" : "(reply)") : r.file;
    if (name.size() > 24) name = name.substr(0, 21) + "...";
    // Names come from the network: keep the table on one line per frame.
    for (char& ch : name) {
        if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = '?';
    }
    char size[48] = "-";
    if (r.has_size) {
        if (r.complete) {
            std::snprintf(size, sizeof size, "%llu", static_cast<unsigned long long>(r.received));
        } else {
            std::snprintf(size, sizeof size, "%llu/%llu",
                          static_cast<unsigned long long>(r.received),
                          static_cast<unsigned long long>(r.declared));
        }
    }
    const char* verdict = !r.complete        ? r.missing.c_str()
                          : !r.has_size      ? "-"
                          : r.digest_ok == 1 ? "ok"
                          : r.digest_ok == 0 ? "MISMATCH"
                                             : "no digest";
    char line[160];
    std::snprintf(line, sizeof line, "%s %s %3u  %-24s %-11s %-9s ", uid, r.dir == 0 ? ">" : "<",
                  r.index, name.c_str(), size, verdict);
    out_.put(line);
    if (r.throughput > 0) {
        put_size(out_, static_cast<std::uint64_t>(r.throughput));
        out_.put("/s");
    }
    if (!r.extracted.empty()) out_.put("  -> ").put_json_string(r.extracted);
    out_.put('\n');
}

void UploadReporter::print_rows() {
    if (rows_.empty()) return;
    if (printed_ == 0) {
        out_.put("uploads (framed: 4-byte length, JSON header, body)\n");
        out_.put(
            "uid                dir  #  file                     size        digest    rate\n");
    }
    // One connection's rows together, connections in the order their first
    // frame ended, each one's frames in the order they ended.
    auto key = [](const Row& r) { return std::string_view(r.uid.data(), 18); };
    std::vector<std::size_t> rank_of(rows_.size()), order(rows_.size());
    {
        std::unordered_map<std::string_view, std::size_t> rank;  // keys point into rows_
        rank.reserve(rows_.size());
        for (std::size_t i = 0; i < rows_.size(); ++i)
            rank_of[i] = rank.emplace(key(rows_[i]), rank.size()).first->second;
    }
    for (std::size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t x, std::size_t y) { return rank_of[x] < rank_of[y]; });
    for (std::size_t i : order) {
        ++printed_;
        print_row(rows_[i]);
    }
    // The sticky-packet summary, per connection, in the same order.
    out_.put("sticky packets (frames sharing a segment / frames split over segments)\n");
    for (std::size_t i = 0; i < order.size();) {
        const Row& first = rows_[order[i]];
        std::size_t j = i;
        std::uint32_t frames = 0, coalesced = 0, split = 0;
        for (; j < order.size() && rank_of[order[j]] == rank_of[order[i]]; ++j) {
            ++frames;
            coalesced += rows_[order[j]].coalesced;
            split += rows_[order[j]].split;
        }
        out_.put("  ").put(key(first)).put("  ").put_u64(frames).put(" frames: ");
        out_.put_u64(coalesced).put(" coalesced, ").put_u64(split).put(" split\n");
        i = j;
    }
    rows_.clear();
}

void UploadReporter::finish() {
    if (json_) return;
    print_rows();
    if (inconsistent_) {
        out_.put("anomalies ").put_u64(inconsistent_);
        out_.put(" retransmissions with bytes that differ from the first copy\n");
    }
}

}  // namespace wl
