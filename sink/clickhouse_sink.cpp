#include "sink/clickhouse_sink.hpp"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>
#include <stdexcept>
#include <system_error>

namespace wl {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kSpoolMagic = "#wirelens-clickhouse-batch ";
constexpr std::size_t kLineAllowance = 64 * 1024;  // one record past batch_bytes
constexpr std::size_t kResponseFloor = 1u << 20;

// The largest answer kept: a check lists at most a batch's row numbers (a few bytes
// per row of 60 bytes or more), so the batch size bounds it.
std::size_t response_cap(std::size_t batch_bytes) {
    return std::max(kResponseFloor, batch_bytes);
}

double now_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::string pad(std::uint64_t v, int width) {
    std::string s = std::to_string(v);
    if (static_cast<int>(s.size()) < width) s.insert(0, width - s.size(), '0');
    return s;
}

std::string percent_decode(std::string_view s) {
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
            out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

void json_escape(std::string& out, std::string_view s) {
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += ch;
        }
    }
}

bool valid_identifier(std::string_view s) {
    if (s.empty()) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_';
    });
}

// The row number a line starts with: {"batch_id":"...","batch_row":N,
long row_of(std::string_view line) {
    auto p = line.find("\"batch_row\":");
    if (p == std::string_view::npos) return -1;
    p += 12;
    long v = 0;
    bool any = false;
    while (p < line.size() && line[p] >= '0' && line[p] <= '9') {
        v = v * 10 + (line[p++] - '0');
        any = true;
    }
    return any ? v : -1;
}

std::once_flag curl_once;

}  // namespace

// One libcurl handle, used by the sender thread only (keeps its connection alive).
struct ClickHouseSink::Http {
    CURL* h = nullptr;
    std::string base;  // scheme://host:port/path
    std::string user, password;
    std::vector<std::pair<std::string, std::string>> params;  // passed through
    const std::atomic<bool>* abort = nullptr;
    long connect_ms = 5000, timeout_ms = 30000;

    ~Http() {
        if (h) curl_easy_cleanup(h);
    }

    std::size_t cap = kResponseFloor;
    std::string* sink = nullptr;
    bool truncated = false;

    static std::size_t on_data(char* p, std::size_t size, std::size_t n, void* user) {
        auto* self = static_cast<Http*>(user);
        std::size_t len = size * n;
        std::string& out = *self->sink;
        if (out.size() + len > self->cap) self->truncated = true;
        if (out.size() < self->cap) out.append(p, std::min(len, self->cap - out.size()));
        return len;
    }
    static int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
        auto* self = static_cast<Http*>(user);
        return self->abort && self->abort->load() ? 1 : 0;
    }

    std::string escape(const std::string& s) {
        char* e = curl_easy_escape(h, s.data(), static_cast<int>(s.size()));
        std::string out = e ? e : "";
        curl_free(e);
        return out;
    }

    // POSTs `body` with `query` (and `extra` settings) in the URL. Returns the curl
    // code; `status` the HTTP status (0 without an answer), `response` its body.
    CURLcode post(const std::string& query,
                  const std::vector<std::pair<std::string, std::string>>& extra,
                  std::string_view body, long& status, std::string& response, std::string& err) {
        std::string url = base + "?query=" + escape(query);
        for (auto& [k, v] : params)
            url += "&" + escape(k) + "=" + escape(v);
        for (auto& [k, v] : extra)
            url += "&" + escape(k) + "=" + escape(v);
        response.clear();
        status = 0;
        char errbuf[CURL_ERROR_SIZE] = {0};
        curl_easy_reset(h);
        curl_easy_setopt(h, CURLOPT_URL, url.c_str());
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &Http::on_data);
        sink = &response;
        truncated = false;
        curl_easy_setopt(h, CURLOPT_WRITEDATA, this);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &Http::on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, this);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
        if (!user.empty()) {
            curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
            curl_easy_setopt(h, CURLOPT_USERNAME, user.c_str());
            curl_easy_setopt(h, CURLOPT_PASSWORD, password.c_str());
        }
        struct curl_slist* headers = curl_slist_append(nullptr, "Expect:");
        headers = curl_slist_append(headers, "Content-Type: text/plain; charset=utf-8");
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
        CURLcode rc = curl_easy_perform(h);
        curl_slist_free_all(headers);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        err = errbuf[0] ? errbuf : curl_easy_strerror(rc);
        return rc;
    }
};

ClickHouseSink::ClickHouseSink(const std::string& url, std::string spool_dir,
                               ClickHouseLimits limits)
    : http_(std::make_unique<Http>()),
      limits_(std::move(limits)),
      spool_dir_(std::move(spool_dir)) {
    // --- the URL: scheme://[user[:password]@]host[:port][/path][?params] ---
    auto scheme_end = url.find("://");
    std::string scheme = scheme_end == std::string::npos ? "" : url.substr(0, scheme_end);
    if (scheme != "http" && scheme != "https")
        throw std::runtime_error("--clickhouse: the URL must start with http:// or https://");
    std::string rest = url.substr(scheme_end + 3);
    auto auth_end = rest.find_first_of("/?");
    std::string authority = rest.substr(0, auth_end);
    std::string tail = auth_end == std::string::npos ? "" : rest.substr(auth_end);
    std::string user, password;
    bool url_creds = false;
    if (auto at = authority.rfind('@'); at != std::string::npos) {
        std::string info = authority.substr(0, at);
        authority = authority.substr(at + 1);
        auto colon = info.find(':');
        user = percent_decode(info.substr(0, colon));
        if (colon != std::string::npos) password = percent_decode(info.substr(colon + 1));
        url_creds = true;
    }
    if (authority.empty()) throw std::runtime_error("--clickhouse: no host in the URL");
    std::string path = tail.substr(0, tail.find('?'));
    if (path.empty()) path = "/";
    std::string query = tail.find('?') == std::string::npos ? "" : tail.substr(tail.find('?') + 1);
    database_ = "wirelens";
    std::string shown_params;
    std::size_t pos = 0;
    while (pos <= query.size() && !query.empty()) {
        auto amp = query.find('&', pos);
        std::string kv =
            query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
        pos = amp == std::string::npos ? query.size() + 1 : amp + 1;
        if (kv.empty()) continue;
        auto eq = kv.find('=');
        std::string k = percent_decode(kv.substr(0, eq));
        std::string v = eq == std::string::npos ? "" : percent_decode(kv.substr(eq + 1));
        if (k == "user") {
            user = v;
            url_creds = true;
            continue;
        }
        if (k == "password") {
            password = v;
            url_creds = true;
            continue;
        }
        if (k == "database") {
            database_ = v;
        } else if (k == "query" || k == "query_id") {
            throw std::runtime_error("--clickhouse: the URL may not set " + k);
        } else {
            http_->params.emplace_back(k, v);
        }
        shown_params += (shown_params.empty() ? "?" : "&") + kv;
    }
    shown_url_ = scheme + "://" + authority + path + shown_params;
    if (!valid_identifier(database_))
        throw std::runtime_error("--clickhouse " + shown_url_ + ": bad database name");
    if (!url_creds) {
        auto env = [](const char* name) -> std::string {
            const char* v = std::getenv(name);
            return v ? v : "";
        };
        if (const char* u = std::getenv("WIRELENS_CLICKHOUSE_USER")) {
            user = u;
            password = env("WIRELENS_CLICKHOUSE_PASSWORD");
        } else if (const char* u2 = std::getenv("CLICKHOUSE_USER")) {
            user = u2;
            password = env("CLICKHOUSE_PASSWORD");
        }
    }
    for (auto& t : limits_.types)
        if (!valid_identifier(t))
            throw std::runtime_error("--clickhouse: bad record type name '" + t + "'");

    std::call_once(curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    http_->h = curl_easy_init();
    if (!http_->h) throw std::runtime_error("--clickhouse: libcurl could not start");
    http_->base = scheme + "://" + authority + path;
    http_->user = std::move(user);
    http_->password = std::move(password);
    http_->abort = &abort_;
    http_->cap = response_cap(limits_.batch_bytes);
    http_->connect_ms = static_cast<long>(limits_.connect_timeout * 1000);
    http_->timeout_ms = static_cast<long>(limits_.request_timeout * 1000);

    // --- the run's id and the sensor part of batch ids ---
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
    run_ = pad(static_cast<std::uint64_t>(ns), 20);
    for (char ch : limits_.sensor)
        sensor_id_ +=
            (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.') ? ch : '_';
    if (sensor_id_.empty()) sensor_id_ = "wirelens";

    // --- the spool: earlier runs' batches are sent first, in name order ---
    if (!spool_dir_.empty()) {
        std::error_code ec;
        fs::create_directory(spool_dir_, ec);
        if (ec || !fs::is_directory(spool_dir_))
            throw std::runtime_error("--spool " + spool_dir_ + ": cannot make the folder" +
                                     (ec ? ": " + ec.message() : ""));
        if (access(spool_dir_.c_str(), W_OK) != 0)
            throw std::runtime_error("--spool " + spool_dir_ + ": not writable");
        for (auto& e : fs::directory_iterator(spool_dir_, ec)) {
            if (!e.is_regular_file()) continue;
            std::string name = e.path().filename().string();
            if (name.size() > 4 && name.ends_with(".tmp")) {
                fs::remove(e.path(), ec);  // a write cut short: never renamed, never counted
                continue;
            }
            if (!name.ends_with(".jsonl")) continue;
            auto dot = name.find('.');
            SpoolEntry se;
            se.type = name.substr(dot + 1, name.size() - dot - 1 - 6);
            se.size = e.file_size();
            se.attempted = true;
            spool_used_ += se.size;
            spool_[name] = std::move(se);
        }
    }
    sender_ = std::thread([this] { sender_loop(); });
}

ClickHouseSink::~ClickHouseSink() {
    if (!finished_) {
        std::string ignored;
        finish(ignored);
    }
}

std::size_t ClickHouseSink::memory_bound(const ClickHouseLimits& l) {
    // The queue; an open batch per type (a batch is sealed once past batch_bytes, so
    // it holds at most one record more); the sender's batch from the spool, the
    // copy it filters when re-sending and the server's answer.
    return l.queue_bytes + l.types.size() * (l.batch_bytes + kLineAllowance) +
           2 * (l.batch_bytes + kLineAllowance) + response_cap(l.batch_bytes);
}

ClickHouseCounters ClickHouseSink::counters() const {
    std::lock_guard lock(m_);
    return c_;
}

void ClickHouseSink::warn_once(const std::string& line) {
    if (warned_) return;
    warned_ = true;
    std::cerr << "wirelens: warning: clickhouse " << shown_url_ << ": " << line << "\n";
}

void ClickHouseSink::record(std::string_view type, std::string_view json) {
    std::unique_lock lock(m_);
    ++c_.records;
    if (finished_ ||
        std::find(limits_.types.begin(), limits_.types.end(), type) == limits_.types.end() ||
        json.empty() || json.front() != '{') {
        ++c_.skipped;
        return;
    }
    std::string t(type);
    Open& o = open_[t];
    if (o.id.empty()) {
        o.id = sensor_id_ + "-" + run_ + "-" + pad(++open_seq_, 10);
        o.opened = now_seconds();
    }
    // {"batch_id":"ID","batch_row":N,"sensor":"S", then the record's members
    o.body += "{\"batch_id\":\"";
    o.body += o.id;
    o.body += "\",\"batch_row\":";
    o.body += std::to_string(o.rows++);
    if (!limits_.sensor.empty() && json.find("\"sensor\":") == std::string_view::npos) {
        o.body += ",\"sensor\":\"";
        json_escape(o.body, limits_.sensor);
        o.body += '"';
    }
    std::string_view members = json.substr(1);
    std::size_t first = members.find_first_not_of(" \t");
    if (first == std::string_view::npos || members[first] != '}') o.body += ',';
    o.body += members;
    o.body += '\n';
    if (o.body.size() >= limits_.batch_bytes) seal_locked(t, o, lock);
}

void ClickHouseSink::seal_locked(const std::string& type, Open& o,
                                 std::unique_lock<std::mutex>& lock) {
    Batch b;
    b.key = run_ + "-" + pad(++seal_seq_, 12);
    b.id = std::move(o.id);
    b.type = type;
    b.body = std::move(o.body);
    b.rows = o.rows;
    o = Open{};
    place(std::move(b), lock);
}

void ClickHouseSink::place(Batch&& b, std::unique_lock<std::mutex>&) {
    if (queue_bytes_ + b.body.size() <= limits_.queue_bytes || queue_bytes_ == 0) {
        queue_bytes_ += b.body.size();
        queue_.push_back(std::move(b));
        cv_.notify_all();
        return;
    }
    // The queue is full (the server is slow or down): the spool, written under the
    // lock so that spool files and queue keep their order.
    if (!spool_dir_.empty() && spool_used_ + b.body.size() + 128 <= limits_.spool_bytes &&
        spool_write(b, spool_dir_)) {
        ++c_.batches_spooled;
        cv_.notify_all();
        return;
    }
    ++c_.batches_dropped;
    c_.rows_dropped += b.rows;
    warn_once(spool_dir_.empty()
                  ? "queue full and no --spool: dropping batches (counted)"
                  : "queue full and spool " + spool_dir_ + " full: dropping batches (counted)");
}

bool ClickHouseSink::spool_write(const Batch& b, const std::string& folder) {
    std::string name = b.key + "." + b.type + ".jsonl";
    fs::path tmp = fs::path(folder) / (name + ".tmp");
    fs::path final_path = fs::path(folder) / name;
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        f << kSpoolMagic << b.id << ' ' << b.type << '\n';
        f.write(b.body.data(), static_cast<std::streamsize>(b.body.size()));
        f.flush();
        if (!f) {
            std::error_code ec;
            fs::remove(tmp, ec);
            return false;
        }
    }
    std::error_code ec;
    fs::rename(tmp, final_path, ec);
    if (ec) {
        fs::remove(tmp, ec);
        return false;
    }
    if (folder == spool_dir_) {
        SpoolEntry e;
        e.type = b.type;
        e.size = fs::file_size(final_path, ec);
        e.attempted = b.attempted;
        spool_used_ += e.size;
        spool_[name] = std::move(e);
    }
    return true;
}

bool ClickHouseSink::load_spool(const std::string& name, const SpoolEntry& e, Batch& b) {
    std::ifstream f(fs::path(spool_dir_) / name, std::ios::binary);
    std::string header;
    if (!f || !std::getline(f, header) || !header.starts_with(kSpoolMagic)) return false;
    std::string rest = header.substr(kSpoolMagic.size());
    auto sp = rest.find(' ');
    b.id = rest.substr(0, sp);
    b.type = sp == std::string::npos ? e.type : rest.substr(sp + 1);
    b.key = name.substr(0, name.find('.'));
    b.body.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    b.rows = static_cast<std::size_t>(std::count(b.body.begin(), b.body.end(), '\n'));
    b.attempted = e.attempted;
    return !b.id.empty() && valid_identifier(b.type) &&
           b.id.find_first_of("'\\") == std::string::npos;
}

// Before a batch whose earlier attempt may have reached the server is sent again:
// (1) no query with its id may still run (an INSERT the client gave up on can still
// be working on the server; it is killed, and the batch retried later); (2) the rows
// of the batch the server holds are removed from it. False: the server did not
// answer, try later.
bool ClickHouseSink::check_present(Batch& b, std::string& message) {
    long status = 0;
    std::string resp, err;
    {
        std::lock_guard lock(m_);
        ++c_.checks;
    }
    auto run = [&](const std::string& sql) {
        CURLcode rc = http_->post(sql, {}, {}, status, resp, err);
        if (rc != CURLE_OK || status != 200) {
            message = rc != CURLE_OK ? err
                                     : "HTTP " + std::to_string(status) + ": " +
                                           resp.substr(0, resp.find('\n'));
            return false;
        }
        if (http_->truncated) {
            message = "answer of the check too long";
            return false;
        }
        return true;
    };
    if (!run("SELECT count() FROM system.processes WHERE query_id = '" + b.id + "'")) return false;
    if (std::atoi(resp.c_str()) != 0) {
        run("KILL QUERY WHERE query_id = '" + b.id + "' SYNC");
        message = "an earlier INSERT of batch " + b.id + " was still running";
        return false;
    }
    if (!run("SELECT batch_row FROM `" + database_ + "`.`" + b.type + "` WHERE batch_id = '" +
             b.id + "' FORMAT TabSeparated"))
        return false;
    std::set<long> there;
    for (std::size_t p = 0; p < resp.size();) {
        auto nl = resp.find('\n', p);
        if (nl == std::string::npos) nl = resp.size();
        if (nl > p) there.insert(std::atol(resp.c_str() + p));
        p = nl + 1;
    }
    if (there.empty()) return true;
    std::string kept;
    std::size_t rows = 0, removed = 0;
    for (std::size_t p = 0; p < b.body.size();) {
        auto nl = b.body.find('\n', p);
        if (nl == std::string::npos) nl = b.body.size();
        std::string_view line(b.body.data() + p, nl - p);
        if (there.count(row_of(line))) {
            ++removed;
        } else {
            kept.append(line);
            kept += '\n';
            ++rows;
        }
        p = nl + 1;
    }
    b.body = std::move(kept);
    b.rows = rows;
    std::lock_guard lock(m_);
    c_.rows_already_there += removed;
    return true;
}

ClickHouseSink::Outcome ClickHouseSink::deliver(Batch& b, std::string& message) {
    if (b.attempted) {
        if (!check_present(b, message)) return Outcome::not_sent;
        if (b.rows == 0) return Outcome::sent;
    }
    long status = 0;
    std::string resp, err;
    CURLcode rc = http_->post("INSERT INTO `" + database_ + "`.`" + b.type + "` FORMAT JSONEachRow",
                              {{"input_format_skip_unknown_fields", "1"}, {"query_id", b.id}},
                              b.body, status, resp, err);
    if (rc == CURLE_OK && status == 200) return Outcome::sent;
    if (rc == CURLE_OK) {
        b.attempted = true;
        message = "HTTP " + std::to_string(status) + ": " + resp.substr(0, resp.find('\n'));
        // The server refuses a second query with a running one's id: not the batch's fault.
        if (resp.find("is already running") != std::string::npos) return Outcome::unknown;
        // Wrong credentials or rights: the batch waits (queue, spool) until they are fixed.
        if (status == 401 || status == 403) return Outcome::not_sent;
        return Outcome::refused;
    }
    message = err;
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
        rc == CURLE_COULDNT_RESOLVE_PROXY)
        return Outcome::not_sent;
    b.attempted = true;  // the request may have reached the server
    return rc == CURLE_ABORTED_BY_CALLBACK ? Outcome::aborted : Outcome::unknown;
}

void ClickHouseSink::sender_loop() {
    double backoff = 0;
    std::unique_lock lock(m_);
    for (;;) {
        double tick = std::clamp(limits_.flush_seconds / 2, 0.02, 1.0);
        cv_.wait_for(lock, std::chrono::duration<double>(tick));
        if (abort_) break;
        double now = now_seconds();
        for (auto& [type, o] : open_)
            if (o.rows > 0 && now - o.opened >= limits_.flush_seconds) seal_locked(type, o, lock);
        // Oldest first: the spool (earlier runs, then this run's overflow) and the
        // queue, merged by key.
        for (;;) {
            if (abort_) break;
            bool from_spool =
                !spool_.empty() &&
                (queue_.empty() || spool_.begin()->first.substr(
                                       0, spool_.begin()->first.find('.')) < queue_.front().key);
            if (!from_spool && queue_.empty()) break;
            Batch b;
            std::string spool_name;
            SpoolEntry entry;
            std::size_t held = 0;
            if (from_spool) {
                spool_name = spool_.begin()->first;
                entry = spool_.begin()->second;
            } else {
                b = std::move(queue_.front());
                queue_.pop_front();
                held = b.body.size();
            }
            busy_ = true;
            lock.unlock();
            std::string message;
            Outcome out;
            if (from_spool && !load_spool(spool_name, entry, b)) {
                out = Outcome::refused;
                b.server_errors = limits_.server_errors_before_reject;
                message = "unreadable spool file " + spool_name;
            } else {
                if (from_spool) b.server_errors = entry.server_errors;
                out = deliver(b, message);
            }
            lock.lock();
            busy_ = false;
            if (out == Outcome::refused && ++b.server_errors < limits_.server_errors_before_reject)
                out = Outcome::unknown;
            if (out == Outcome::sent || out == Outcome::refused) {
                if (out == Outcome::sent) {
                    ++c_.batches_sent;
                    c_.rows_sent += b.rows;
                    if (from_spool) ++c_.batches_resent;
                } else {
                    ++c_.batches_rejected;
                    last_error_ = message;
                    std::error_code ec;
                    if (!spool_dir_.empty()) {
                        fs::create_directory(fs::path(spool_dir_) / "rejected", ec);
                        if (!from_spool) {
                            spool_write(b, (fs::path(spool_dir_) / "rejected").string());
                        }
                    }
                    std::cerr << "wirelens: warning: clickhouse " << shown_url_ << ": batch "
                              << b.id << " (" << b.type << ") refused "
                              << limits_.server_errors_before_reject << " times, set aside"
                              << (spool_dir_.empty() ? " (lost)" : " in the spool's rejected/")
                              << ": " << message << "\n";
                    if (from_spool)
                        fs::rename(fs::path(spool_dir_) / spool_name,
                                   fs::path(spool_dir_) / "rejected" / spool_name, ec);
                }
                if (from_spool) {
                    std::error_code ec;
                    fs::remove(fs::path(spool_dir_) / spool_name, ec);
                    spool_used_ -= std::min(spool_used_, entry.size);
                    spool_.erase(spool_name);
                } else {
                    queue_bytes_ -= held;
                }
                backoff = 0;
                cv_.notify_all();
                continue;
            }
            // Not sent, or not known: the batch keeps its place; wait, then again.
            ++c_.attempts_failed;
            last_error_ = message;
            if (from_spool) {
                auto it = spool_.find(spool_name);
                if (it != spool_.end()) {
                    it->second.attempted = it->second.attempted || b.attempted;
                    it->second.server_errors = b.server_errors;
                }
            } else {
                queue_bytes_ -= held;
                queue_bytes_ += b.body.size();
                queue_.push_front(std::move(b));
            }
            cv_.notify_all();
            if (out == Outcome::aborted) break;
            backoff = backoff == 0 ? 0.25 : std::min(backoff * 2, limits_.retry_max);
            cv_.wait_for(lock, std::chrono::duration<double>(backoff),
                         [&] { return abort_.load(); });
        }
        if (abort_) break;
    }
    cv_.notify_all();
}

bool ClickHouseSink::finish(std::string& error) {
    std::unique_lock lock(m_);
    if (finished_) {
        error = finish_error_;
        return finish_error_.empty();
    }
    for (auto& [type, o] : open_)
        if (o.rows > 0) seal_locked(type, o, lock);
    stopping_ = true;
    cv_.notify_all();
    auto deadline =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(limits_.finish_wait);
    cv_.wait_until(lock, deadline, [&] { return queue_.empty() && spool_.empty() && !busy_; });
    abort_ = true;
    cv_.notify_all();
    lock.unlock();
    if (sender_.joinable()) sender_.join();
    lock.lock();
    finished_ = true;
    // What could not be sent in time: into the spool (sent by the next run), else lost.
    std::size_t lost_batches = 0, lost_rows = 0;
    while (!queue_.empty()) {
        Batch b = std::move(queue_.front());
        queue_.pop_front();
        if (!spool_dir_.empty() && spool_used_ + b.body.size() + 128 <= limits_.spool_bytes &&
            spool_write(b, spool_dir_)) {
            ++c_.batches_spooled;
        } else {
            ++lost_batches;
            lost_rows += b.rows;
            ++c_.batches_dropped;
            c_.rows_dropped += b.rows;
        }
    }
    queue_bytes_ = 0;
    std::size_t left_batches = spool_.size();
    std::string msg;
    if (left_batches > 0)
        msg += std::to_string(left_batches) + " batches not sent within " +
               std::to_string(static_cast<int>(limits_.finish_wait)) + " s, kept in spool " +
               spool_dir_ + " for the next run";
    if (c_.batches_dropped > 0)
        msg += (msg.empty() ? "" : "; ") + std::to_string(c_.batches_dropped) + " batches (" +
               std::to_string(c_.rows_dropped) + " records) dropped" +
               (spool_dir_.empty() ? " (no --spool)" : " (spool full)");
    if (c_.batches_rejected > 0)
        msg += (msg.empty() ? "" : "; ") + std::to_string(c_.batches_rejected) +
               " batches refused by the server";
    if (!msg.empty() && !last_error_.empty()) msg += " (last error: " + last_error_ + ")";
    (void)lost_batches;
    (void)lost_rows;
    if (msg.empty()) return true;
    error = "clickhouse " + shown_url_ + ": " + msg;
    finish_error_ = error;
    return false;
}

}  // namespace wl
