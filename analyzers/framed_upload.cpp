#include "analyzers/framed_upload.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

namespace wl {

namespace {

using nlohmann::json;

constexpr std::uint64_t kMaxBodySize = std::uint64_t{1} << 50;
constexpr std::uint16_t kMaxDepth = 64;
constexpr std::uint32_t kMaxLength = 0x7fffffff;  // a length is a signed 32-bit int

bool is_space(std::uint8_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::uint32_t load(const std::array<std::uint8_t, 4>& b, ByteOrder order) {
    if (order == ByteOrder::Little)
        return std::uint32_t{b[0]} | std::uint32_t{b[1]} << 8 | std::uint32_t{b[2]} << 16 |
               std::uint32_t{b[3]} << 24;
    return std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 | std::uint32_t{b[2]} << 8 |
           std::uint32_t{b[3]};
}

void to_hex(const unsigned char* md, unsigned int len, char* out) {
    static constexpr char kHex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < len; ++i) {
        out[2 * i] = kHex[md[i] >> 4];
        out[2 * i + 1] = kHex[md[i] & 15];
    }
    out[2 * len] = '\0';
}

void final_hex(EVP_MD_CTX* ctx, char* out) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx, md, &len);
    to_hex(md, len, out);
}

// The decoders' MD5 when they were given no batch: OpenSSL straight from their bytes.
Md5Batch& direct_md5() {
    thread_local Md5Batch direct(0);
    return direct;
}

bool hex_equal(std::string_view want, const char* got) {
    if (want.size() != std::strlen(got)) return false;
    for (std::size_t i = 0; i < want.size(); ++i) {
        char c = want[i];
        if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
        if (c != got[i]) return false;
    }
    return true;
}

bool all_hex(const std::string& s, std::size_t len) {
    return s.size() == len && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
           });
}

bool all_digits(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

enum class SizeKind : std::uint8_t { Absent, Good, Bad };

// A size key's value: a non-negative integer (or a string of digits) up to 2^50.
SizeKind read_size(const json& v, std::uint64_t& out) {
    out = 0;
    if (v.is_number_unsigned()) {
        out = v.get<std::uint64_t>();
        return out > kMaxBodySize ? SizeKind::Bad : SizeKind::Good;
    }
    if (v.is_number_integer()) {
        const std::int64_t i = v.get<std::int64_t>();
        if (i < 0) return SizeKind::Bad;
        out = static_cast<std::uint64_t>(i);
        return out > kMaxBodySize ? SizeKind::Bad : SizeKind::Good;
    }
    if (v.is_number_float()) {
        const double d = v.get<double>();
        if (d >= 0 && d <= static_cast<double>(kMaxBodySize) && d == std::floor(d)) {
            out = static_cast<std::uint64_t>(d);
            return SizeKind::Good;
        }
        return SizeKind::Bad;
    }
    if (v.is_string()) {
        const std::string& s = v.get_ref<const std::string&>();
        if (s.size() > 1 && s[0] == '-' && all_digits(std::string_view(s).substr(1)))
            return SizeKind::Bad;
        if (!all_digits(s)) return SizeKind::Absent;
        std::uint64_t n = 0;
        for (char c : s) {
            n = n * 10 + static_cast<std::uint64_t>(c - '0');
            if (n > kMaxBodySize) return SizeKind::Bad;
        }
        out = n;
        return SizeKind::Good;
    }
    return SizeKind::Absent;
}

const json* find_key(const json& obj, const char* key) {
    const auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
}

const std::string* find_string(const json& obj, const char* key) {
    const json* v = find_key(obj, key);
    return v && v->is_string() ? &v->get_ref<const std::string&>() : nullptr;
}

// SMB over TCP (port 445) frames its messages with a 4-byte big-endian length exactly like
// the header-less variant; its protocol id at the start of a body gives it away.
bool looks_like_smb(const std::array<std::uint8_t, 4>& b) {
    return (b[0] == 0xfd || b[0] == 0xfe || b[0] == 0xff) && b[1] == 'S' && b[2] == 'M' &&
           b[3] == 'B';
}

}  // namespace

void FramedStreamDecoder::HeaderScan::feed(const std::uint8_t* p, std::size_t n) {
    for (std::size_t i = 0; i < n && state != 3; ++i) {
        const std::uint8_t c = p[i];
        switch (state) {
            case 0:
                if (c == '{') {
                    state = 1;
                    depth = 1;
                } else if (!is_space(c)) {
                    state = 3;
                }
                break;
            case 1:
                if (in_string) {
                    if (escape)
                        escape = false;
                    else if (c == '\\')
                        escape = true;
                    else if (c == '"')
                        in_string = false;
                } else if (c == '"') {
                    in_string = true;
                } else if (c == '{' || c == '[') {
                    if (++depth > kMaxDepth) state = 3;
                } else if (c == '}' || c == ']') {
                    if (--depth == 0) state = 2;
                }
                break;
            default:  // 2: only white space may follow the object
                if (!is_space(c)) state = 3;
                break;
        }
    }
}

FramedStreamDecoder::~FramedStreamDecoder() {
    idle();
    for (Track& t : tracks_)
        EVP_MD_CTX_free(t.sha);
    EVP_MD_free(sha_owned_);
}

void FramedStreamDecoder::reset(const UploadOptions& opts, Md5Batch* md5) {
    idle();  // the previous stream's slots, in the batch that gave them
    md5_ = md5 ? md5 : &direct_md5();
    opts_ = opts;
    opts_.max_header = std::min(opts_.max_header, kMaxLength);
    opts_.max_headerless = std::min<std::uint64_t>(opts_.max_headerless, kMaxLength);
    if (!sha_md_) {
        sha_owned_ = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
        sha_md_ = sha_owned_ ? sha_owned_ : EVP_sha256();
    }
    mode_ = Mode::Undecided;
    started_ = false;
    ended_ = false;
    next_ = 0;
    for (std::size_t i = 0; i < tracks_.size(); ++i) {
        Track& t = tracks_[i];
        t.has_header = i < 2;
        t.order = i % 2 == 0 ? ByteOrder::Little : ByteOrder::Big;
        t.alive = t.chosen = t.acceptable = false;
        t.phase = Phase::Between;
        t.cur_open = false;
        t.next_index = 0;
        t.frames_whole = 0;
        t.npending = 0;
        t.header.clear();
        if (!t.sha) t.sha = EVP_MD_CTX_new();
    }
}

void FramedStreamDecoder::idle() {
    if (md5_)
        for (Track& t : tracks_)
            md5_->release(t.md5);
}

void FramedStreamDecoder::reject() {
    mode_ = Mode::Rejected;
    for (Track& t : tracks_) {
        md5_->release(t.md5);
        t.alive = t.chosen = false;
        t.cur_open = false;
        t.npending = 0;
        t.header.clear();
        t.header.shrink_to_fit();
        t.file_name.clear();
        t.want_md5.clear();
        t.want_sha.clear();
    }
}

void FramedStreamDecoder::data(const std::uint8_t* p, std::size_t n, std::uint64_t offset,
                               std::uint32_t segment, std::uint64_t ts_ns, UploadSink& sink) {
    if (n == 0 || ended_ || mode_ == Mode::Rejected || mode_ == Mode::Stopped) return;
    if (!started_) {
        // Frame boundaries can only be found from the stream's start, unless the port says
        // the stream is framed: then the first byte seen is taken for one.
        if (offset != 0 && !opts_.forced) return reject();
        started_ = true;
        next_ = offset;
        for (Track& t : tracks_) {
            t.alive = t.has_header ||
                      (opts_.max_headerless > 0 && (opts_.allow_headerless || opts_.forced));
            t.acceptable = !t.has_header && opts_.forced;
            t.at = offset;
        }
    }
    if (offset < next_) {  // already seen
        const std::uint64_t skip = next_ - offset;
        if (skip >= n) return;
        p += skip;
        n -= static_cast<std::size_t>(skip);
        offset = next_;
    }
    if (offset > next_) {
        gap(next_, offset - next_, sink);
        if (mode_ == Mode::Rejected || mode_ == Mode::Stopped) return;
    }
    for (Track& t : tracks_)
        if (t.alive) feed(t, p, n, offset, segment, ts_ns, sink);
    next_ = offset + n;
    settle(sink);
    // A frame whose last byte ended this segment cannot share it with the next
    // frame: it is reported now, not when the next frame starts (a live capture
    // reports an upload as soon as it is complete).
    for (Track& t : tracks_)
        if (t.alive && t.chosen && t.cur_open && t.phase == Phase::Between) emit_done(t, sink);
}

void FramedStreamDecoder::gap(std::uint64_t offset, std::uint64_t len, UploadSink& sink) {
    if (len == 0 || ended_ || mode_ == Mode::Rejected || mode_ == Mode::Stopped) return;
    if (!started_) {
        if (!opts_.forced) reject();
        return;  // forced: decoding starts at the first byte seen
    }
    const std::uint64_t end = offset + std::min(len, ~std::uint64_t{0} - offset);
    if (end <= next_) return;
    const std::uint64_t glen = end - next_;
    for (Track& t : tracks_)
        if (t.alive) gap_track(t, glen, sink);
    next_ = end;
    settle(sink);
}

void FramedStreamDecoder::end(StreamEnd why, UploadSink& sink) {
    if (ended_ || mode_ == Mode::Rejected) return;
    ended_ = true;
    if (mode_ == Mode::Stopped) return;
    if (!started_) return reject();
    if (mode_ == Mode::Undecided) {
        for (Track& t : tracks_) {
            if (!t.alive) continue;
            // A JSON reading still undecided never got its whole header.
            if (t.has_header) {
                t.alive = false;
                continue;
            }
            const bool at_boundary = t.phase == Phase::Between && t.cur_open;
            if (at_boundary && (why == StreamEnd::Fin || why == StreamEnd::EndOfInput))
                t.acceptable = true;
            if (!t.acceptable) t.alive = false;
        }
        settle(sink);
    }
    const char* missing = why == StreamEnd::Reset        ? upload_missing::kReset
                          : why == StreamEnd::EndOfInput ? upload_missing::kCaptureEnded
                                                         : upload_missing::kConnectionEnded;
    for (Track& t : tracks_) {
        if (!t.alive || !t.chosen) continue;
        if (t.phase != Phase::Between) finish_frame(t, missing, sink);
        if (t.cur_open) emit_done(t, sink);
        t.alive = false;
    }
}

void FramedStreamDecoder::feed(Track& t, const std::uint8_t* p, std::size_t n, std::uint64_t offset,
                               std::uint32_t segment, std::uint64_t ts, UploadSink& sink) {
    auto advance = [&](std::size_t k) {
        touch(t, segment, ts);
        p += k;
        n -= k;
        offset += k;
        t.at = offset;
    };
    while (n > 0 && t.alive) {
        switch (t.phase) {
            case Phase::Between: {
                bool shares_segment = false;
                if (t.cur_open) {
                    shares_segment = t.last_byte_seen && t.last_segment == segment;
                    if (shares_segment) t.cur.coalesced = true;
                    emit_done(t, sink);
                    if (!t.alive) return;
                }
                start_frame(t, offset, ts, shares_segment, sink);
                break;
            }
            case Phase::Prefix: {
                const std::size_t k = std::min<std::size_t>(4u - t.prefix_have, n);
                std::memcpy(t.prefix.data() + t.prefix_have, p, k);
                t.prefix_have = static_cast<std::uint8_t>(t.prefix_have + k);
                advance(k);
                if (t.prefix_have == 4) on_prefix(t, sink);
                break;
            }
            case Phase::Header: {
                const std::size_t k = std::min<std::size_t>(t.header_len - t.header.size(), n);
                grow_header(t, k);
                t.header.append(reinterpret_cast<const char*>(p), k);
                t.scan.feed(p, k);
                advance(k);
                // While detecting, give up on this reading as soon as it cannot be an object;
                // once framed, take the whole header so it can be reported as sent.
                if (!t.chosen && t.scan.state == 3) {
                    t.alive = false;
                    return;
                }
                if (t.header.size() == t.header_len) on_header(t, sink);
                break;
            }
            case Phase::Body: {
                const std::size_t k =
                    static_cast<std::size_t>(std::min<std::uint64_t>(t.body_left, n));
                if (!t.has_header && !t.chosen && t.cur.index == 0 && t.sniff_have < 4) {
                    const std::size_t s = std::min<std::size_t>(4u - t.sniff_have, k);
                    std::memcpy(t.sniff.data() + t.sniff_have, p, s);
                    t.sniff_have = static_cast<std::uint8_t>(t.sniff_have + s);
                    if (t.sniff_have == 4 && !opts_.forced && looks_like_smb(t.sniff)) {
                        t.alive = false;
                        return;
                    }
                }
                md5_->update(t.md5, p, k);
                if (t.hash_sha) EVP_DigestUpdate(t.sha, p, k);
                if (t.body_begun) sink.body_data(p, k);
                t.cur.received += k;
                t.body_left -= k;
                advance(k);
                if (t.body_left == 0) finish_frame(t, nullptr, sink);
                break;
            }
        }
    }
}

void FramedStreamDecoder::gap_track(Track& t, std::uint64_t len, UploadSink& sink) {
    if (!t.chosen) {
        // No evidence survives a gap while detecting, except a header-less reading that
        // was acceptable already (forced, or waiting on the JSON readings, which die here
        // first since they come first).
        if (t.has_header || !t.acceptable) {
            t.alive = false;
            return;
        }
        settle(sink);
        if (!t.chosen) {
            t.alive = false;
            return;
        }
    }
    switch (t.phase) {
        case Phase::Between:  // the next length prefix is in the gap
            if (t.cur_open) emit_done(t, sink);
            mode_ = Mode::Stopped;
            t.alive = false;
            return;
        case Phase::Prefix:
        case Phase::Header:
            stop_with(t, upload_missing::kGap, sink);
            return;
        case Phase::Body: {
            // The body's end is known from the stream offsets, so a gap that ends inside
            // the body (or at its end) loses no boundary; one that runs past it does.
            const std::uint64_t b = std::min(len, t.body_left);
            t.body_left -= b;
            t.at += b;
            t.gap_in_body = true;
            t.last_byte_seen = false;
            if (t.body_begun) sink.body_gap(b);
            if (t.body_left == 0) finish_frame(t, nullptr, sink);
            if (len > b) {
                emit_done(t, sink);
                mode_ = Mode::Stopped;
                t.alive = false;
            }
            return;
        }
    }
}

void FramedStreamDecoder::start_frame(Track& t, std::uint64_t offset, std::uint64_t ts,
                                      bool coalesced_prev, UploadSink& sink) {
    t.cur = UploadFrame{};
    t.cur.index = t.next_index++;
    t.cur.offset = offset;
    t.cur.byte_order = t.order;
    t.cur.has_header = t.has_header;
    t.cur.ts_start = t.cur.ts_end = ts;
    t.cur.coalesced = coalesced_prev;
    t.cur_open = true;
    t.phase = Phase::Prefix;
    t.prefix_have = 0;
    t.sniff_have = 0;
    t.header.clear();
    t.scan = HeaderScan{};
    t.file_name.clear();
    t.want_md5.clear();
    t.want_sha.clear();
    t.want_md5_set = t.want_sha_set = false;
    t.body_left = 0;
    t.body_begun = t.gap_in_body = t.hash_sha = false;
    t.last_byte_seen = false;
    md5_->init(t.md5);
    if (t.chosen) sink.frame_mark(FrameMark::Prefix, t.cur.index, offset, 4);
}

void FramedStreamDecoder::touch(Track& t, std::uint32_t segment, std::uint64_t ts) {
    if (t.cur.segments == 0 || segment != t.last_segment) ++t.cur.segments;
    t.last_segment = segment;
    t.last_byte_seen = true;
    t.cur.ts_end = ts;
}

void FramedStreamDecoder::grow_header(Track& t, std::size_t more) {
    const std::size_t need = t.header.size() + more;
    if (t.header.capacity() >= need) return;
    // Grow geometrically but never past the declared length (itself at most max_header),
    // into a fresh string so the library's own growth policy cannot overshoot it.
    const std::size_t cap = std::min<std::size_t>(
        t.header_len, std::max({need, 2 * t.header.capacity(), std::size_t{256}}));
    std::string fresh;
    fresh.reserve(cap);
    fresh.append(t.header);
    t.header.swap(fresh);
}

void FramedStreamDecoder::on_prefix(Track& t, UploadSink& sink) {
    const std::uint32_t v = load(t.prefix, t.order);
    const bool plausible = v >= 1 && v <= kMaxLength && v <= limit_of(t);
    if (!plausible) {
        if (t.chosen)
            stop_with(t, upload_missing::kBadLength, sink);
        else
            t.alive = false;
        return;
    }
    if (t.has_header) {
        t.header_len = v;
        t.phase = Phase::Header;
        if (t.chosen) sink.frame_mark(FrameMark::Header, t.cur.index, t.at, v);
        return;
    }
    t.cur.has_size = true;
    t.cur.declared_size = v;
    if (!t.chosen) {
        // Two whole frames, then a third plausible length: the frames tile the stream.
        if (t.frames_whole >= 2) t.acceptable = true;
        if (t.acceptable) settle(sink);
    }
    begin_body(t, sink);
}

void FramedStreamDecoder::on_header(Track& t, UploadSink& sink) {
    t.cur.header_json = std::string_view(t.header);
    json doc;
    bool ok = t.scan.state == 2;  // one object, nested at most 64 deep
    if (ok) {
        doc = json::parse(t.header.begin(), t.header.end(), nullptr, false);
        ok = !doc.is_discarded() && doc.is_object();
    }
    if (!ok) {
        if (t.chosen)
            stop_with(t, upload_missing::kBadHeader, sink);
        else
            t.alive = false;
        return;
    }
    t.cur.header_valid = true;
    if (!t.chosen) choose(t, sink);  // the first header to complete decides

    for (const char* key : {"file_name", "filename", "fileName", "file", "name", "path"}) {
        if (const std::string* s = find_string(doc, key)) {
            t.file_name = *s;
            break;
        }
    }
    t.cur.file_name = std::string_view(t.file_name);

    for (const char* key : {"md5", "md5sum", "file_md5", "md5_hash", "MD5"}) {
        if (const std::string* s = find_string(doc, key)) {
            t.want_md5 = *s;
            t.want_md5_set = true;
            break;
        }
    }
    for (const char* key : {"sha256", "sha256sum", "file_sha256", "sha256_hash", "SHA256"}) {
        if (const std::string* s = find_string(doc, key)) {
            t.want_sha = *s;
            t.want_sha_set = true;
            break;
        }
    }
    // Keys that do not name the algorithm: the length of the hex digest does.
    for (const char* key : {"checksum", "hash", "digest"}) {
        const std::string* s = find_string(doc, key);
        if (s == nullptr) continue;
        if (!t.want_md5_set && all_hex(*s, 32)) {
            t.want_md5 = *s;
            t.want_md5_set = true;
        } else if (!t.want_sha_set && all_hex(*s, 64)) {
            t.want_sha = *s;
            t.want_sha_set = true;
        }
    }

    SizeKind kind = SizeKind::Absent;
    std::uint64_t size = 0;
    auto try_key = [&](const char* key) {
        if (kind != SizeKind::Absent) return;
        if (const json* v = find_key(doc, key)) kind = read_size(*v, size);
    };
    if (!opts_.size_key.empty()) try_key(opts_.size_key.c_str());
    for (const char* key : {"file_size", "filesize", "size", "total_size", "data_size", "length"})
        try_key(key);

    if (kind == SizeKind::Bad) {
        t.cur.has_size = true;
        t.cur.declared_size = size;
        stop_with(t, upload_missing::kBadSize, sink);
        return;
    }
    if (kind == SizeKind::Absent) {  // a framed message without a body, e.g. a reply
        t.hash_sha = opts_.sha256;
        if (t.hash_sha) EVP_DigestInit_ex(t.sha, sha_md_, nullptr);
        t.cur.has_sha256 = t.hash_sha;
        finish_frame(t, nullptr, sink);
        return;
    }
    t.cur.has_size = true;
    t.cur.declared_size = size;
    begin_body(t, sink);
}

void FramedStreamDecoder::begin_body(Track& t, UploadSink& sink) {
    t.hash_sha = opts_.sha256 || t.want_sha_set;
    if (t.hash_sha) EVP_DigestInit_ex(t.sha, sha_md_, nullptr);
    t.cur.has_sha256 = t.hash_sha;
    if (t.chosen) {
        sink.frame_mark(FrameMark::Body, t.cur.index, t.at, t.cur.declared_size);
        sink.body_begin(t.cur);
        t.body_begun = true;
    }
    t.body_left = t.cur.declared_size;
    t.phase = Phase::Body;
    if (t.body_left == 0) finish_frame(t, nullptr, sink);
}

// The frame's bytes are over (or will never come): digests, completeness, verdict. It is
// reported later by emit_done().
void FramedStreamDecoder::finish_frame(Track& t, const char* missing, UploadSink& sink) {
    UploadFrame& f = t.cur;
    unsigned char md[16];
    md5_->final(t.md5, md);
    to_hex(md, sizeof md, f.md5);
    if (t.hash_sha) final_hex(t.sha, f.sha256);
    f.complete = !missing && !t.gap_in_body && (!f.has_size || f.received == f.declared_size);
    f.missing = f.complete ? nullptr : (missing ? missing : upload_missing::kGap);
    f.digest_ok = -1;
    if (f.complete && f.has_size && (t.want_md5_set || t.want_sha_set)) {
        const bool md5_ok = !t.want_md5_set || hex_equal(t.want_md5, f.md5);
        const bool sha_ok = !t.want_sha_set || (t.hash_sha && hex_equal(t.want_sha, f.sha256));
        f.digest_ok = md5_ok && sha_ok ? 1 : 0;
    }
    f.split = f.segments > 1;
    if (f.complete) ++t.frames_whole;
    t.phase = Phase::Between;
    if (t.chosen) sink.frame_mark(FrameMark::End, f.index, t.at, t.at - f.offset);
}

void FramedStreamDecoder::emit_done(Track& t, UploadSink& sink) {
    t.cur_open = false;
    if (t.chosen) {
        sink.frame_done(t.cur);
    } else if (!t.has_header && t.npending < kMaxPending) {
        t.pending[t.npending++] = t.cur;
    } else {
        t.alive = false;  // waited too long for a verdict
    }
}

void FramedStreamDecoder::stop_with(Track& t, const char* missing, UploadSink& sink) {
    finish_frame(t, missing, sink);
    emit_done(t, sink);
    mode_ = Mode::Stopped;
    t.alive = false;
}

void FramedStreamDecoder::choose(Track& t, UploadSink& sink) {
    mode_ = Mode::Framed;
    t.chosen = t.acceptable = true;
    for (Track& other : tracks_)
        if (&other != &t) {
            other.alive = false;
            md5_->release(other.md5);  // its staged body bytes will never be hashed now
        }
    sink.stream_framed(t.order, t.has_header);
    for (std::size_t i = 0; i < t.npending; ++i) {
        // Header-less frames, whole before the verdict: no gap came between them.
        const UploadFrame& f = t.pending[i];
        sink.frame_mark(FrameMark::Prefix, f.index, f.offset, 4);
        sink.frame_mark(FrameMark::Body, f.index, f.offset + 4, f.declared_size);
        sink.frame_mark(FrameMark::End, f.index, f.offset + 4 + f.received, 4 + f.received);
        sink.frame_done(f);
    }
    t.npending = 0;
    mark_known(t, sink);
}

// The boundaries of the frame in progress that were passed before the stream was judged
// framed; those still ahead are told as they are reached.
void FramedStreamDecoder::mark_known(const Track& t, UploadSink& sink) {
    if (!t.cur_open) return;
    const UploadFrame& f = t.cur;
    sink.frame_mark(FrameMark::Prefix, f.index, f.offset, 4);
    if (t.phase == Phase::Prefix) return;
    const std::uint64_t header_len = t.has_header ? t.header_len : 0;
    if (t.has_header) sink.frame_mark(FrameMark::Header, f.index, f.offset + 4, header_len);
    if (t.phase == Phase::Header) return;
    sink.frame_mark(FrameMark::Body, f.index, f.offset + 4 + header_len, f.declared_size);
    if (t.phase == Phase::Body) return;
    sink.frame_mark(FrameMark::End, f.index, t.at, t.at - f.offset);
}

// While undecided: the first live reading in priority order wins once it is acceptable;
// none left alive means the stream is not framed.
void FramedStreamDecoder::settle(UploadSink& sink) {
    if (mode_ != Mode::Undecided) return;
    for (Track& t : tracks_) {
        if (!t.alive) continue;
        if (!t.has_header && t.acceptable) choose(t, sink);
        return;
    }
    reject();
}

}  // namespace wl
