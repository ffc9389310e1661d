#include "flow/tcp_reassembler.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <type_traits>

namespace wl {

namespace {

// A cheap hash of a delivered range: enough to tell a retransmission with
// other bytes from a faithful one. 32 bytes a step in four independent lanes
// (one multiply chain would take longer than the rest of delivery). Fed in
// pieces (a buffered segment lies in several blocks) it gives what one call
// would.
class RangeHash {
  public:
    explicit RangeHash(std::uint32_t n) {
        for (int i = 0; i < kLanes; ++i)
            h_[i] = 0x9e3779b97f4a7c15ull ^ n ^ (std::uint64_t(i) << 56);
    }
    void add(const std::uint8_t* p, std::uint32_t n) {
        if (fill_ != 0) {  // complete the step a previous piece began
            const std::uint32_t k = std::min(n, kStep - fill_);
            std::memcpy(part_ + fill_, p, k);
            fill_ += k;
            p += k;
            n -= k;
            if (fill_ < kStep) return;
            step(part_);
            fill_ = 0;
        }
        for (; n >= kStep; p += kStep, n -= kStep)
            step(p);
        std::memcpy(part_, p, n);
        fill_ = n;
    }
    std::uint32_t value() const {
        std::uint64_t h = 0;
        for (int i = 0; i < kLanes; ++i)
            h = (h ^ h_[i]) * 0xff51afd7ed558ccdull;
        for (std::uint32_t i = 0; i < fill_; ++i)
            h = (h ^ part_[i]) * 0x100000001b3ull;
        h ^= h >> 32;
        return static_cast<std::uint32_t>(h);
    }

  private:
    static constexpr int kLanes = 4;
    static constexpr std::uint32_t kStep = 8 * kLanes;
    void step(const std::uint8_t* p) {
        for (int i = 0; i < kLanes; ++i) {
            std::uint64_t w;
            std::memcpy(&w, p + 8 * i, 8);
            h_[i] = (h_[i] ^ w) * 0xff51afd7ed558ccdull;
            h_[i] ^= h_[i] >> 29;
        }
    }
    std::uint64_t h_[kLanes];
    std::uint8_t part_[kStep] = {};
    std::uint32_t fill_ = 0;
};

std::uint32_t range_hash(const std::uint8_t* p, std::uint32_t n) {
    RangeHash h(n);
    h.add(p, n);
    return h.value();
}

}  // namespace

const char* gap_cause_name(GapCause c) {
    switch (c) {
        case GapCause::NotCaptured:
            return "not_captured";
        case GapCause::UnacknowledgedTail:
            return "unacknowledged_tail";
        case GapCause::Snaplen:
            return "snaplen";
        case GapCause::BufferLimit:
            return "buffer_limit";
    }
    return "?";
}

const char* fill_cause_name(FillCause c) {
    return c == FillCause::Reordered ? "reordered" : "retransmitted";
}

std::uint64_t TcpReassembler::memory_bound(std::uint32_t max_flows, const ReassemblyOptions& opts) {
    const std::uint64_t blocks =
        std::max<std::uint64_t>(std::min<std::uint64_t>(opts.max_bytes / kBlock, 1ull << 28), 1);
    return 2ull * max_flows * sizeof(Stream) + max_flows +
           blocks * (kBlock + sizeof(std::uint32_t)) + blocks * sizeof(Waiting);
}

TcpReassembler::TcpReassembler(std::uint32_t max_flows, const ReassemblyOptions& opts,
                               StreamConsumer& consumer)
    : opts_(opts), consumer_(consumer) {
    static_assert(std::is_trivially_copyable_v<Stream>);
    // calloc: streams and blocks never used are never touched.
    streams_.reset(static_cast<Stream*>(std::calloc(2ull * max_flows, sizeof(Stream))));
    nblocks_ = static_cast<std::uint32_t>(
        std::min<std::uint64_t>(opts_.max_bytes / kBlock, std::uint64_t{1} << 28));
    arena_.reset(
        static_cast<std::uint8_t*>(std::calloc(std::max<std::uint64_t>(nblocks_, 1), kBlock)));
    if (!streams_ || !arena_) throw std::bad_alloc();
    // Blocks and waiting segments never used are never touched either: the
    // free lists start empty and fresh ones are taken in order.
    touched_.reset(static_cast<std::uint8_t*>(std::calloc(std::max(max_flows, 1u), 1)));
    block_next_.reset(static_cast<std::uint32_t*>(
        std::calloc(std::max<std::uint64_t>(nblocks_, 1), sizeof(std::uint32_t))));
    // A waiting segment holds at least one block.
    waiting_.reset(
        static_cast<Waiting*>(std::calloc(std::max<std::uint64_t>(nblocks_, 1), sizeof(Waiting))));
    if (!touched_ || !block_next_ || !waiting_) throw std::bad_alloc();
}

void TcpReassembler::start(std::uint32_t conn) {
    // A slot whose streams were never set up is not read: its pages stay
    // untouched (a flood of connections without data).
    for (int dir = 0; dir < 2 && touched_[conn] != 0; ++dir) {
        Stream& s = stream(conn, dir);
        // Nothing is written here: a flood of connections that never carry data
        // must not make every stream's memory resident. The slot's previous
        // connection may not have been finished, though.
        if (s.init) {
            while (s.head != kNone)
                free_waiting(s, s.head);
            s.init = false;
            s.active = false;
        }
    }
    touched_[conn] = 0;
    consumer_.stream_start(conn);
}

void TcpReassembler::activate(std::uint32_t conn, Stream& s) {
    touched_[conn] = 1;
    if (s.init) return;
    std::memset(&s, 0, sizeof s);
    s.head = kNone;
    s.init = true;
}

void TcpReassembler::deliver(std::uint32_t conn, int dir, Stream& s, const std::uint8_t* p,
                             std::uint32_t n, std::uint32_t segment, std::uint64_t ts,
                             bool record) {
    if (n == 0) return;
    if (record) remember(s, s.next, n, range_hash(p, n));
    const std::uint64_t offset = s.next - s.base;
    s.next += n;
    counters_.delivered_bytes += n;
    consumer_.stream_data(conn, dir, offset, p, n, segment, ts, s.from_start);
}

void TcpReassembler::remember(Stream& s, std::uint64_t rel, std::uint32_t n, std::uint32_t hash) {
    s.recent[s.recent_pos] = Recent{rel, n, hash};
    s.recent_pos = static_cast<std::uint8_t>((s.recent_pos + 1) % kRecent);
}

void TcpReassembler::check_delivered(std::uint32_t conn, int dir, Stream& s, std::uint64_t rel,
                                     const std::uint8_t* p, std::uint32_t n) {
    ++counters_.overlaps;
    // Delivered bytes are not kept; the last few ranges are remembered by a
    // hash, which catches the common case: the same segment sent again.
    for (const Recent& r : s.recent) {
        if (r.len == n && r.rel == rel && r.len != 0) {
            if (r.hash != range_hash(p, n)) {
                ++counters_.inconsistent;
                consumer_.stream_inconsistent(conn, dir, rel - s.base, n);
            }
            return;
        }
    }
}

bool TcpReassembler::same_as_stored(const Waiting& w, std::uint64_t rel, const std::uint8_t* p,
                                    std::uint32_t n) const {
    std::uint64_t skip = rel - w.rel;
    std::uint32_t b = w.first_block;
    while (skip >= kBlock) {
        b = block_next_[b];
        skip -= kBlock;
    }
    std::uint32_t at = static_cast<std::uint32_t>(skip);
    while (n != 0) {
        const std::uint32_t k = std::min(n, kBlock - at);
        if (std::memcmp(arena_.get() + std::uint64_t{b} * kBlock + at, p, k) != 0) return false;
        p += k;
        n -= k;
        at = 0;
        b = block_next_[b];
    }
    return true;
}

bool TcpReassembler::store_piece(Stream& s, std::uint32_t after, std::uint64_t rel,
                                 const std::uint8_t* p, std::uint32_t n, std::uint32_t segment,
                                 std::uint64_t ts) {
    const std::uint32_t need = (n + kBlock - 1) / kBlock;
    if (s.buffered + std::uint64_t{n} > opts_.max_per_stream || used_blocks_ + need > nblocks_ ||
        (free_waiting_ == kNone && fresh_waiting_ == nblocks_)) {
        return false;
    }
    // Take `need` blocks off the free list and copy the bytes in.
    std::uint32_t first = kNone, last = kNone;
    for (std::uint32_t i = 0; i < need; ++i) {
        std::uint32_t b = free_block_;
        if (b != kNone) {
            free_block_ = block_next_[b];
        } else {
            b = fresh_blocks_++;  // used + need <= nblocks: there is one
        }
        block_next_[b] = kNone;
        const std::uint32_t k = std::min<std::uint32_t>(kBlock, n - i * kBlock);
        std::memcpy(arena_.get() + std::uint64_t{b} * kBlock, p + std::uint64_t{i} * kBlock, k);
        if (first == kNone) {
            first = b;
        } else {
            block_next_[last] = b;
        }
        last = b;
    }
    used_blocks_ += need;
    std::uint32_t w = free_waiting_;
    if (w != kNone) {
        free_waiting_ = waiting_[w].next;
    } else {
        w = fresh_waiting_++;
    }
    Waiting& nw = waiting_[w];
    nw = Waiting{rel, ts, n, segment, first, kNone};
    if (after == kNone) {
        nw.next = s.head;
        s.head = w;
    } else {
        nw.next = waiting_[after].next;
        waiting_[after].next = w;
    }
    s.buffered += n;
    buffered_ += n;
    counters_.buffered_peak = std::max(counters_.buffered_peak, buffered_);
    return true;
}

void TcpReassembler::store(std::uint32_t conn, int dir, Stream& s, std::uint64_t rel,
                           const std::uint8_t* p, std::uint32_t n, std::uint32_t segment,
                           std::uint64_t ts, std::uint64_t seen_before) {
    // Insert the parts of [rel, rel+n) no waiting segment covers yet: the
    // first copy of a byte wins.
    const std::uint64_t end = rel + n;
    std::uint64_t cur = rel;
    std::uint32_t prev = kNone, w = s.head;
    bool overlapped = false, differs = false;
    while (cur < end) {
        while (w != kNone && waiting_[w].rel + waiting_[w].len <= cur) {
            prev = w;
            w = waiting_[w].next;
        }
        const std::uint64_t piece_end =
            w == kNone ? end : std::min(end, std::max(cur, waiting_[w].rel));
        if (piece_end > cur) {
            const auto k = static_cast<std::uint32_t>(piece_end - cur);
            if (cur < seen_before) {  // bytes below later ones already seen: a hole fills
                filled(conn, dir, s, cur, std::min(piece_end, seen_before),
                       w == kNone ? 0 : waiting_[w].ts_ns, ts);
            }
            if (!store_piece(s, prev, cur, p + (cur - rel), k, segment, ts)) {
                ++counters_.dropped_segments;
                counters_.dropped_bytes += end - cur;
                lost(s, cur, end, GapCause::BufferLimit);
                return;
            }
            prev = prev == kNone ? s.head : waiting_[prev].next;
            cur = piece_end;
            continue;
        }
        // waiting_[w] covers cur.
        const std::uint64_t ov_end = std::min(end, waiting_[w].rel + waiting_[w].len);
        overlapped = true;
        if (!same_as_stored(waiting_[w], cur, p + (cur - rel),
                            static_cast<std::uint32_t>(ov_end - cur))) {
            differs = true;
            consumer_.stream_inconsistent(conn, dir, cur - s.base, ov_end - cur);
        }
        cur = ov_end;
    }
    if (overlapped) ++counters_.overlaps;
    if (differs) ++counters_.inconsistent;
}

void TcpReassembler::free_waiting(Stream& s, std::uint32_t w) {
    Waiting& x = waiting_[w];
    s.head = x.next;
    s.buffered -= x.len;
    buffered_ -= x.len;
    std::uint32_t b = x.first_block;
    while (b != kNone) {
        const std::uint32_t nx = block_next_[b];
        block_next_[b] = free_block_;
        free_block_ = b;
        --used_blocks_;
        b = nx;
    }
    x.next = free_waiting_;
    free_waiting_ = w;
}

void TcpReassembler::deliver_waiting(std::uint32_t conn, int dir, Stream& s) {
    while (s.head != kNone && waiting_[s.head].rel <= s.next) {
        const std::uint32_t w = s.head;
        const Waiting x = waiting_[w];
        if (x.rel + x.len > s.next) {
            // Deliver the part beyond what is already out, block by block.
            std::uint64_t skip = s.next - x.rel;
            std::uint32_t b = x.first_block;
            while (skip >= kBlock) {
                b = block_next_[b];
                skip -= kBlock;
            }
            auto at = static_cast<std::uint32_t>(skip);
            const std::uint64_t from = s.next;
            const auto n = static_cast<std::uint32_t>(x.rel + x.len - s.next);
            // Remembered as one range, so a retransmission of the segment is checked.
            RangeHash hash(n);
            for (std::uint32_t left = n; left != 0;) {
                const std::uint32_t k = std::min(left, kBlock - at);
                const std::uint8_t* p = arena_.get() + std::uint64_t{b} * kBlock + at;
                hash.add(p, k);
                deliver(conn, dir, s, p, k, x.segment, x.ts_ns, false);
                left -= k;
                at = 0;
                b = block_next_[b];
            }
            remember(s, from, n, hash.value());
        }
        free_waiting(s, w);
    }
}

void TcpReassembler::lost(Stream& s, std::uint64_t lo, std::uint64_t hi, GapCause cause) {
    lo = std::max(lo, s.next);
    if (hi <= lo) return;
    if (s.lost_hi <= s.next) {  // the last range lost is behind: start anew
        s.lost_lo = lo;
        s.lost_hi = hi;
    } else {
        s.lost_lo = std::min(s.lost_lo, lo);
        s.lost_hi = std::max(s.lost_hi, hi);
    }
    s.lost_cause = cause;
}

void TcpReassembler::filled(std::uint32_t conn, int dir, Stream& s, std::uint64_t lo,
                            std::uint64_t hi, std::uint64_t opened_ns, std::uint64_t ts) {
    if (hi <= lo) return;
    const FillCause cause = opened_ns != 0 && ts >= opened_ns && ts - opened_ns < kReorderWindowNs
                                ? FillCause::Reordered
                                : FillCause::Retransmitted;
    counters_.filled_bytes += hi - lo;
    consumer_.stream_filled(conn, dir, lo - s.base, hi - lo, cause, opened_ns, ts);
}

// Reports [s.next, to) as missing: the part the stream saw but did not keep
// with that cause, the rest with `cause`.
void TcpReassembler::gap(std::uint32_t conn, int dir, Stream& s, std::uint64_t to, GapCause cause) {
    while (s.next < to) {
        std::uint64_t stop = to;
        GapCause why = cause;
        if (s.lost_hi > s.next && s.lost_lo < to) {
            if (s.lost_lo > s.next) {
                stop = s.lost_lo;
            } else {
                stop = std::min(to, s.lost_hi);
                why = s.lost_cause;
            }
        }
        ++counters_.gaps;
        counters_.gap_bytes += stop - s.next;
        consumer_.stream_gap(conn, dir, s.next - s.base, stop - s.next, why);
        s.next = stop;
    }
}

void TcpReassembler::skip_to(std::uint32_t conn, int dir, Stream& s, std::uint64_t to,
                             GapCause cause) {
    if (to > s.next) gap(conn, dir, s, to, cause);
    deliver_waiting(conn, dir, s);
}

void TcpReassembler::segment(std::uint32_t conn, int dir, std::uint64_t rel,
                             const std::uint8_t* captured, std::uint32_t captured_len,
                             std::uint32_t wire_len, bool syn_seen, std::uint64_t ts) {
    if (wire_len == 0) return;
    Stream& s = stream(conn, dir);
    activate(conn, s);
    if (s.ended) return;  // after the FIN: nothing more is stream data
    if (!s.active) {
        s.active = true;
        s.from_start = syn_seen;
        s.next = syn_seen ? 1 : rel;
        s.base = s.next;
    }
    const std::uint32_t seg_id = s.segments++;
    const std::uint64_t seen_before = s.seen_end;
    s.seen_end = std::max(s.seen_end, rel + wire_len);
    if (captured_len < wire_len) {
        // Bytes the snap length cut are unknown: leave the hole to become a gap.
        ++counters_.snapped_segments;
        lost(s, rel, rel + wire_len, GapCause::Snaplen);
        return;
    }
    std::uint64_t end = rel + wire_len;
    if (s.fin_at != 0 && end > s.fin_at) end = std::max(rel, s.fin_at);  // nothing after the FIN
    const std::uint8_t* p = captured;
    if (end <= s.next) {
        if (end > rel) check_delivered(conn, dir, s, rel, p, static_cast<std::uint32_t>(end - rel));
        return;
    }
    bool overlapped = false;
    if (rel < s.next) {
        overlapped = true;
        p += s.next - rel;
        rel = s.next;
    }
    const auto n = static_cast<std::uint32_t>(end - rel);
    if (rel != s.next) {
        store(conn, dir, s, rel, p, n, seg_id, ts, seen_before);
        return;
    }
    // In order, but bytes already waiting came first and win over this copy.
    bool differs = false;
    for (std::uint32_t w = s.head; w != kNone && waiting_[w].rel < end; w = waiting_[w].next) {
        const Waiting& x = waiting_[w];
        const std::uint64_t from = std::max(rel, x.rel), to = std::min(end, x.rel + x.len);
        if (to <= from) continue;
        overlapped = true;
        if (!same_as_stored(x, from, p + (from - rel), static_cast<std::uint32_t>(to - from))) {
            differs = true;
            consumer_.stream_inconsistent(conn, dir, from - s.base, to - from);
        }
    }
    if (overlapped) ++counters_.overlaps;
    if (differs) ++counters_.inconsistent;
    while (s.next < end) {
        const std::uint64_t stop = s.head == kNone ? end : std::min(end, waiting_[s.head].rel);
        if (stop > s.next) {
            if (s.next < seen_before) {
                filled(conn, dir, s, s.next, std::min(stop, seen_before),
                       s.head == kNone ? 0 : waiting_[s.head].ts_ns, ts);
            }
            deliver(conn, dir, s, p + (s.next - rel), static_cast<std::uint32_t>(stop - s.next),
                    seg_id, ts, true);
        }
        deliver_waiting(conn, dir, s);
    }
    deliver_waiting(conn, dir, s);
    end_if_complete(conn, dir, s);
}

void TcpReassembler::swap(std::uint32_t conn) {
    if (touched_[conn] != 0) std::swap(stream(conn, 0), stream(conn, 1));
    consumer_.stream_swap(conn);
}

void TcpReassembler::fin(std::uint32_t conn, int dir, std::uint64_t rel) {
    Stream& s = stream(conn, dir);
    activate(conn, s);
    if (s.fin_at == 0) s.fin_at = rel;
    end_if_complete(conn, dir, s);
}

// A direction whose every byte up to its FIN has been delivered is over: the
// consumer hears so now, not when the connection's record is written (Zeek's
// close delay, 5 s later), so that what it holds for the stream is free again.
void TcpReassembler::end_if_complete(std::uint32_t conn, int dir, Stream& s) {
    if (!s.active || s.ended || s.fin_at == 0 || s.next < s.fin_at || s.head != kNone) return;
    s.ended = true;
    s.active = false;
    consumer_.stream_end(conn, dir, ConnEnd::Closed, false);
}

void TcpReassembler::reset_at(std::uint32_t conn, int dir, std::uint64_t rel) {
    if (touched_[conn] == 0) return;
    Stream& s = stream(conn, dir);
    // Zeek trusts a RST's sequence number within TOO_LARGE_SEQ_DELTA (1 MiB).
    if (!s.active || s.ended || rel <= s.seen_end || rel - s.seen_end > (1u << 20)) return;
    if (s.fin_at != 0 && rel > s.fin_at) return;
    s.seen_end = rel;
}

void TcpReassembler::acked(std::uint32_t conn, int dir, std::uint64_t rel_ack) {
    if (touched_[conn] == 0) return;
    Stream& s = stream(conn, dir);
    if (!s.active) return;
    std::uint64_t limit = rel_ack;
    if (s.fin_at != 0 && limit > s.fin_at) limit = s.fin_at;  // the FIN is no stream byte
    while (s.next < limit) {
        if (s.head != kNone && waiting_[s.head].rel <= s.next) {
            deliver_waiting(conn, dir, s);
            continue;
        }
        const std::uint64_t hole_end =
            s.head != kNone ? std::min(limit, waiting_[s.head].rel) : limit;
        skip_to(conn, dir, s, hole_end, GapCause::NotCaptured);
    }
    end_if_complete(conn, dir, s);
}

void TcpReassembler::finish(std::uint32_t conn, ConnEnd why, bool reset) {
    for (int dir = 0; dir < 2 && touched_[conn] != 0; ++dir) {
        Stream& s = stream(conn, dir);
        if (!s.active) continue;
        while (s.head != kNone)
            skip_to(conn, dir, s, waiting_[s.head].rel, GapCause::UnacknowledgedTail);
        // Up to the FIN, or without one, past everything seen: segments not
        // kept (a limit, the snap length) at the stream's end are lost too.
        const std::uint64_t end = s.fin_at != 0 ? s.fin_at : s.seen_end;
        if (end > s.next) skip_to(conn, dir, s, end, GapCause::UnacknowledgedTail);
        consumer_.stream_end(conn, dir, why, reset);
        s.active = false;
    }
}

}  // namespace wl
