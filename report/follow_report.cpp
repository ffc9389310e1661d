#include "report/follow_report.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "flow/uid.hpp"
#include "report/format.hpp"

namespace wl {

namespace {

constexpr std::string_view kRule =
    "===================================================================\n";

bool is_base62(char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

bool all_digits(std::string_view s) {
    return !s.empty() && s.size() <= 19 &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_uid(std::string_view s) {
    return s.size() == 18 && s[0] == 'C' && std::all_of(s.begin() + 1, s.end(), is_base62);
}

char shown(std::uint8_t c) {
    return c == '\n' || (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '.';
}

// At least 8 hex digits of v (more when it needs them); at most 16 bytes.
char* hex_offset(char* p, std::uint64_t v) {
    int digits = 8;
    while (digits < 16 && (v >> (4 * digits)) != 0)
        ++digits;
    for (int i = digits - 1; i >= 0; --i)
        *p++ = fmt::kHex[(v >> (4 * i)) & 15];
    return p;
}

}  // namespace

FollowReporter::FollowReporter(OutBuffer& out, const FlowTracker& flows, std::string_view target,
                               bool hex)
    : out_(out), flows_(flows), hex_(hex) {
    if (all_digits(target)) {
        by_index_ = true;
        for (char c : target)
            index_ = index_ * 10 + static_cast<std::uint64_t>(c - '0');
    } else if (is_uid(target)) {
        std::memcpy(uid_, target.data(), target.size());
    }
}

bool FollowReporter::valid_target(std::string_view target) {
    return all_digits(target) || is_uid(target);
}

void FollowReporter::stream_start(std::uint32_t conn) {
    if (over_) return;
    if (following_) {
        // The slot went to another connection: ours is over.
        if (conn == conn_) {
            following_ = false;
            over_ = true;
        }
        return;
    }
    const Connection& c = flows_.connection(conn);
    bool match = false;
    char uid[19];
    conn_uid(c, uid);
    if (by_index_) {
        match = c.tcp_stream == index_;
    } else {
        match = uid_[0] != '\0' && std::strcmp(uid, uid_) == 0;
    }
    if (!match) return;
    found_ = following_ = true;
    conn_ = conn;
    std::memcpy(conn_uid_, uid, sizeof uid);
    tcp_stream_ = c.tcp_stream;
    // Kept: the slot may hold another connection by the time the header is written.
    node_[0] = c.orig;
    node_[1] = c.resp;
    ip_version_ = c.key.ip_version;
}

void FollowReporter::stream_swap(std::uint32_t conn) {
    if (!mine(conn)) return;
    std::swap(dirs_[0], dirs_[1]);
    std::swap(node_[0], node_[1]);
    if (!header_done_) return;
    // The endpoints in the header were the wrong way round: say so where it happened.
    line_start();
    out_.put("[roles swapped: node 0 is now ");
    endpoint(node_[0]);
    out_.put(", node 1 ");
    endpoint(node_[1]);
    out_.put("]\n");
}

// Written at the connection's first event (or at the end, if it had none), so
// that a swap of roles before any data leaves no trace.
void FollowReporter::header() {
    if (header_done_) return;
    header_done_ = true;
    out_.put(kRule);
    out_.put(hex_ ? "Follow: tcp,hex\n" : "Follow: tcp,ascii\n");
    out_.put("Filter: uid ").put(std::string_view(conn_uid_)).put(" and tcp.stream eq ");
    out_.put_u64(tcp_stream_).put('\n');
    out_.put("Node 0: ");
    endpoint(node_[0]);
    out_.put("  (originator, >>>)\nNode 1: ");
    endpoint(node_[1]);
    out_.put("  (responder, <<<)\n");
    out_.put(kRule);
    at_line_start_ = true;
}

void FollowReporter::endpoint(const Endpoint& e) {
    char* p = out_.reserve(fmt::kIpv6Max + 16);
    if (ip_version_ == 6) {
        *p++ = '[';
        p = fmt::ipv6(p, e.addr);
        *p++ = ']';
    } else {
        p = fmt::ipv4(p, e.addr);
    }
    *p++ = ':';
    out_.commit(fmt::u64(p, e.port));
}

void FollowReporter::direction_tag(int dir) {
    out_.put(dir == 0 ? ">>> orig " : "<<< resp ");
}

void FollowReporter::line_start() {
    if (!at_line_start_) out_.put('\n');
    at_line_start_ = true;
}

void FollowReporter::stream_data(std::uint32_t conn, int dir, std::uint64_t offset,
                                 const std::uint8_t* p, std::size_t n, std::uint32_t,
                                 std::uint64_t ts_ns, bool from_start) {
    if (!mine(conn) || n == 0) return;
    header();
    Direction& d = dirs_[dir];
    line_start();
    if (!from_start && !d.midstream_told) {
        d.midstream_told = true;
        direction_tag(dir);
        out_.put("[picked up midstream: offsets count from the first byte seen, not the SYN]\n");
    }
    direction_tag(dir);
    endpoint(node_[dir]);
    out_.put(" -> ");
    endpoint(node_[1 - dir]);
    out_.put("  offset ").put_u64(offset).put("  ").put_u64(n).put(" bytes  t=");
    out_.put_ts(ts_ns, 6).put('\n');
    ++d.chunks;
    d.bytes += n;
    // The bytes, cut where a frame boundary falls inside them.
    const std::uint64_t end = offset + n;
    std::uint64_t at = offset;
    for (;;) {
        print_notes_up_to(dir, at, offset);
        std::uint64_t stop = end;
        if (d.count != 0) stop = std::clamp(d.notes[d.head].offset, at, end);
        if (stop > at) {
            print_bytes(at, p + (at - offset), static_cast<std::size_t>(stop - at));
            at = stop;
        }
        if (at == end) break;
    }
    print_notes_up_to(dir, end);
    line_start();
    d.pos = end;
}

void FollowReporter::print_bytes(std::uint64_t offset, const std::uint8_t* p, std::size_t n) {
    if (!hex_) {
        while (n > 0) {
            const std::size_t k = std::min<std::size_t>(n, 4096);
            char* o = out_.reserve(k);
            for (std::size_t i = 0; i < k; ++i)
                o[i] = shown(p[i]);
            out_.commit(o + k);
            at_line_start_ = o[k - 1] == '\n';
            p += k;
            n -= k;
        }
        return;
    }
    // As Wireshark's hex view: the offset in the direction's stream, 16 bytes
    // in two groups of 8, then the same bytes as text.
    line_start();
    for (std::size_t i = 0; i < n; i += 16) {
        const std::size_t k = std::min<std::size_t>(16, n - i);
        char* o = hex_offset(out_.reserve(128), offset + i);
        *o++ = ' ';
        *o++ = ' ';
        for (std::size_t j = 0; j < 16; ++j) {
            if (j < k) {
                *o++ = fmt::kHex[p[i + j] >> 4];
                *o++ = fmt::kHex[p[i + j] & 15];
            } else {
                *o++ = ' ';
                *o++ = ' ';
            }
            *o++ = ' ';
            if (j == 7) *o++ = ' ';
        }
        *o++ = ' ';
        for (std::size_t j = 0; j < k; ++j) {
            const char c = shown(p[i + j]);
            *o++ = c == '\n' ? '.' : c;
        }
        *o++ = '\n';
        out_.commit(o);
    }
    at_line_start_ = true;
}

void FollowReporter::print_notes_up_to(int dir, std::uint64_t offset, std::uint64_t chunk) {
    Direction& d = dirs_[dir];
    while (d.count != 0 && d.notes[d.head].offset <= offset) {
        print_note(dir, d.notes[d.head], chunk);
        d.head = (d.head + 1) % kMaxMarks;
        --d.count;
    }
}

void FollowReporter::print_note(int dir, const Note& n, std::uint64_t chunk) {
    line_start();
    if (n.kind == NoteKind::Done) direction_tag(dir);  // apart from its chunk
    out_.put("[frame ").put_u64(n.frame).put(": ");
    switch (n.kind) {
        case NoteKind::Prefix:
            out_.put("prefix ").put_u64(n.len).put(" bytes at offset ").put_u64(n.offset);
            break;
        case NoteKind::Header:
            out_.put("header ").put_u64(n.len).put(" bytes at offset ").put_u64(n.offset);
            break;
        case NoteKind::Body:
            out_.put("body ").put_u64(n.len).put(" bytes at offset ").put_u64(n.offset);
            break;
        case NoteKind::End:
            out_.put("end at offset ").put_u64(n.offset).put(", ").put_u64(n.len).put(" bytes");
            break;
        case NoteKind::Done:
            out_.put("reported");
            break;
    }
    // A boundary passed while the decoder was still judging whether the stream
    // is framed at all: told once it knows.
    if (n.kind != NoteKind::Done && n.offset < chunk) out_.put(" (in earlier bytes)");
    if (n.done) {
        out_.put(" in ").put_u64(n.segments).put(n.segments == 1 ? " segment" : " segments");
        if (n.split) out_.put(", split over segments");
        if (n.coalesced) out_.put(", coalesced: shares a segment with another frame");
        if (!n.complete && n.missing != nullptr) out_.put(", incomplete: ").put(n.missing);
    }
    out_.put("]\n");
}

void FollowReporter::push(int dir, const Note& n) {
    Direction& d = dirs_[dir];
    if (d.count == kMaxMarks) {
        ++d.marks_dropped;
        return;
    }
    d.notes[(d.head + d.count) % kMaxMarks] = n;
    ++d.count;
}

void FollowReporter::frame_mark(std::uint32_t conn, int dir, FrameMark kind, std::uint32_t frame,
                                std::uint64_t offset, std::uint64_t len) {
    if (!mine(conn)) return;
    static_assert(static_cast<int>(NoteKind::End) == static_cast<int>(FrameMark::End));
    Note n;
    n.kind = static_cast<NoteKind>(kind);
    n.frame = frame;
    n.offset = offset;
    n.len = len;
    push(dir, n);
}

void FollowReporter::frame_done(std::uint32_t conn, int dir, const UploadFrame& f) {
    if (!mine(conn)) return;
    Direction& d = dirs_[dir];
    Note* end = nullptr;
    for (std::size_t i = d.count; i-- > 0;) {
        Note& n = d.notes[(d.head + i) % kMaxMarks];
        if (n.kind == NoteKind::End && n.frame == f.index) {
            end = &n;
            break;
        }
    }
    Note done;
    if (end == nullptr) {  // its end was printed already: a line of its own, next
        done.kind = NoteKind::Done;
        done.frame = f.index;
        done.offset = d.pos;
        end = &done;
    }
    end->done = true;
    end->segments = f.segments;
    end->split = f.split;
    end->coalesced = f.coalesced;
    end->complete = f.complete;
    end->missing = f.missing;
    if (end == &done) push(dir, done);
}

void FollowReporter::stream_gap(std::uint32_t conn, int dir, std::uint64_t offset,
                                std::uint64_t len, GapCause cause) {
    if (!mine(conn)) return;
    header();
    Direction& d = dirs_[dir];
    print_notes_up_to(dir, offset);
    line_start();
    direction_tag(dir);
    out_.put("[gap: ").put_u64(len).put(" bytes missing at offset ").put_u64(offset).put(": ");
    out_.put(gap_cause_name(cause)).put("]\n");
    ++d.gaps;
    d.gap_bytes += len;
    d.pos = offset + len;
    print_notes_up_to(dir, d.pos);
}

void FollowReporter::stream_filled(std::uint32_t conn, int dir, std::uint64_t offset,
                                   std::uint64_t len, FillCause cause, std::uint64_t opened_ns,
                                   std::uint64_t ts_ns) {
    if (!mine(conn)) return;
    header();
    Direction& d = dirs_[dir];
    line_start();
    direction_tag(dir);
    out_.put("[").put(fill_cause_name(cause)).put(": ").put_u64(len);
    out_.put(" bytes at offset ").put_u64(offset).put(" arrived after later bytes");
    if (opened_ns != 0 && ts_ns >= opened_ns) {
        out_.put(", the hole was open ").put_fixed(static_cast<double>(ts_ns - opened_ns) / 1e6, 3);
        out_.put(" ms");
    }
    out_.put("]\n");
    ++d.filled;
    d.filled_bytes += len;
}

void FollowReporter::stream_inconsistent(std::uint32_t conn, int dir, std::uint64_t offset,
                                         std::uint64_t len) {
    if (!mine(conn)) return;
    header();
    line_start();
    direction_tag(dir);
    out_.put("[inconsistent retransmission: ").put_u64(len).put(" bytes at offset ");
    out_.put_u64(offset).put(" resent with other content; the first copy is shown]\n");
    ++dirs_[dir].inconsistent;
}

void FollowReporter::stream_end(std::uint32_t conn, int dir, ConnEnd, bool) {
    if (!mine(conn)) return;
    Direction& d = dirs_[dir];
    print_notes_up_to(dir, ~std::uint64_t{0});
    d.ended = true;
}

bool FollowReporter::finish() {
    if (!found_) return false;
    header();
    for (int dir = 0; dir < 2; ++dir)
        print_notes_up_to(dir, ~std::uint64_t{0});
    line_start();
    out_.put(kRule);
    for (int dir = 0; dir < 2; ++dir) {
        const Direction& d = dirs_[dir];
        out_.put(dir == 0 ? "node 0 -> node 1: " : "node 1 -> node 0: ");
        out_.put_u64(d.bytes).put(" bytes in ").put_u64(d.chunks).put(" chunks, ");
        out_.put_u64(d.gaps).put(" gaps (").put_u64(d.gap_bytes).put(" bytes missing), ");
        out_.put_u64(d.filled).put(" late fills (").put_u64(d.filled_bytes).put(" bytes), ");
        out_.put_u64(d.inconsistent).put(" inconsistent retransmissions");
        if (d.marks_dropped != 0) {
            out_.put(", ")
                .put_u64(d.marks_dropped)
                .put(" frame marks not shown (too many at once)");
        }
        out_.put('\n');
    }
    out_.put(kRule);
    return true;
}

}  // namespace wl
