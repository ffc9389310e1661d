#include "sink/record_router.hpp"

namespace wl {

namespace {
constexpr std::string_view kTypePrefix = "{\"type\":\"";
}

RecordRouter::RecordRouter(std::FILE* copy, std::string sensor) : copy_(copy) {
    if (!sensor.empty()) sensor_member_ = ",\"sensor\":\"" + sensor + "\"";
}

std::string_view RecordRouter::type_of(std::string_view line) {
    if (!line.starts_with(kTypePrefix)) return {};
    line.remove_prefix(kTypePrefix.size());
    const std::size_t q = line.find('"');
    if (q == std::string_view::npos) return {};
    return line.substr(0, q);
}

void RecordRouter::line(std::string_view l) {
    const std::string_view type = type_of(l);
    if (!type.empty() && !sensor_member_.empty()) {
        const std::size_t at = kTypePrefix.size() + type.size() + 1;  // after the closing quote
        scratch_.assign(l.substr(0, at));
        scratch_ += sensor_member_;
        scratch_.append(l.substr(at));
        l = scratch_;
    }
    if (copy_ != nullptr) {
        copy_buf_.append(l);
        copy_buf_ += '\n';
    }
    if (type.empty()) return;  // not a record (an empty line): stdout's only
    ++records_;
    // `type` points into the original line, which outlives the calls.
    for (RecordSink* s : sinks_)
        s->record(type, l);
}

bool RecordRouter::consume(std::string_view bytes) {
    while (!bytes.empty()) {
        const std::size_t nl = bytes.find('\n');
        if (nl == std::string_view::npos) {
            partial_.append(bytes);
            break;
        }
        if (partial_.empty()) {
            line(bytes.substr(0, nl));
        } else {
            partial_.append(bytes.substr(0, nl));
            const std::string whole = std::move(partial_);
            partial_.clear();
            line(whole);
        }
        bytes.remove_prefix(nl + 1);
    }
    if (copy_ != nullptr && !copy_buf_.empty() && !copy_failed_) {
        if (std::fwrite(copy_buf_.data(), 1, copy_buf_.size(), copy_) != copy_buf_.size() ||
            std::fflush(copy_) != 0) {
            copy_failed_ = true;
        }
    }
    copy_buf_.clear();
    return !copy_failed_;
}

bool RecordRouter::finish(std::string& error) {
    if (!partial_.empty()) {
        const std::string last = std::move(partial_);
        partial_.clear();
        consume(last + "\n");
    }
    bool ok = !copy_failed_;
    if (copy_failed_) error = "cannot write output";
    for (RecordSink* s : sinks_) {
        std::string e;
        if (!s->finish(e)) {
            if (ok) error = e;
            ok = false;
        }
    }
    return ok;
}

std::string sensor_name_problem(std::string_view name) {
    if (name.empty() || name.size() > 64) return "1 to 64 bytes";
    for (const char ch : name) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c >= 0x7f) return "printable ASCII only";
        if (c == '"' || c == '\\') return "no quote or backslash";
    }
    return {};
}

}  // namespace wl
