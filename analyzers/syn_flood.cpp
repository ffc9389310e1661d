#include "analyzers/syn_flood.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "decode/tcp.hpp"

namespace wl {

namespace {

constexpr std::uint64_t kSecond = 1000000000ull;

std::uint64_t mix64(std::uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

int addr_len(int ver) {
    return ver == 6 ? 16 : 4;
}

std::uint64_t hash_key(int ver, const std::uint8_t* addr, std::uint16_t port, std::uint64_t seed) {
    std::uint64_t h = seed ^ (static_cast<std::uint64_t>(ver) << 16) ^ port;
    const int n = addr_len(ver);
    for (int i = 0; i < n; i += 4) {
        std::uint32_t word;
        std::memcpy(&word, addr + i, 4);
        h = mix64(h ^ word) + 0x9e3779b97f4a7c15ull;
    }
    return mix64(h);
}

// The hash of a source the trackers count (HyperLogLog, top sources' tags).
std::uint64_t source_hash(int ver, const std::uint8_t* src) {
    return hash_key(ver, src, 0, 0x5f1d5eedull);
}

bool same_addr(int ver_a, const std::uint8_t* a, int ver_b, const std::uint8_t* b) {
    return ver_a == ver_b && std::memcmp(a, b, static_cast<std::size_t>(addr_len(ver_a))) == 0;
}

// The first `bits` bits of addr, the rest zero (16 bytes out).
void mask_prefix(int ver, const std::uint8_t* addr, int bits, std::uint8_t* out) {
    std::memset(out, 0, 16);
    const int full = bits / 8;
    std::memcpy(out, addr, static_cast<std::size_t>(full));
    if (bits % 8 != 0 && full < addr_len(ver)) {
        out[full] = static_cast<std::uint8_t>(addr[full] & (0xff << (8 - bits % 8)));
    }
}

// Hops from the sender: its initial TTL is taken to be the smallest common one
// (32, 64, 128, 255) not below what arrived (Jin, Wang and Shin, "Hop-count
// filtering", CCS 2003).
int hop_count(std::uint8_t ttl) {
    const int initial = ttl <= 32 ? 32 : ttl <= 64 ? 64 : ttl <= 128 ? 128 : 255;
    return initial - ttl;
}

// Ertl's corrections ("New cardinality estimation algorithms for HyperLogLog
// sketches", 2017): unbiased from empty to large without bias tables.
double hll_sigma(double x) {
    if (x == 1.0) return INFINITY;
    double y = 1.0, z = x, last;
    do {
        x *= x;
        last = z;
        z += x * y;
        y += y;
    } while (z != last);
    return z;
}

double hll_tau(double x) {
    if (x == 0.0 || x == 1.0) return 0.0;
    double y = 1.0, z = 1.0 - x, last;
    do {
        x = std::sqrt(x);
        last = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
    } while (z != last);
    return z / 3.0;
}

}  // namespace

// --- top sources ---------------------------------------------------------------

namespace synflood_detail {

namespace {

// Where a block's parts are: the counts, the addresses (two words each), then
// the tags (rounded up to whole words, to be read eight at a time) and the
// versions, all in the 32 bytes a counter.
struct Layout {
    std::uint64_t* count;
    std::uint64_t* addr;
    std::uint8_t* tag;
    std::uint8_t* ver;
};

constexpr std::uint32_t tag_bytes(std::uint32_t slots) {
    return (slots + 7) & ~7u;
}

constexpr bool tags_fit() {
    for (std::uint32_t slots = 2; slots <= TopSources::kMaxSlots; ++slots) {
        if (tag_bytes(slots) + slots > 8 * slots) return false;
    }
    return true;
}
static_assert(tags_fit(), "from 2 counters on, the tags and versions fit in 8 bytes a counter");

Layout layout(std::uint64_t* block, std::uint32_t slots) {
    auto* bytes = reinterpret_cast<std::uint8_t*>(block + 3 * std::size_t{slots});
    return {block, block + slots, bytes, bytes + tag_bytes(slots)};
}

// 0x80 in each byte of x that is 0, and maybe in bytes above one that is (a
// borrow): candidates, to be checked.
std::uint64_t zero_bytes(std::uint64_t x) {
    return (x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull;
}

}  // namespace

// Inlined into the detector's per-SYN path.
[[gnu::always_inline]] inline void TopSources::count(std::uint64_t* block, std::uint32_t slots,
                                                     int ver, const std::uint8_t* addr,
                                                     std::uint8_t tag) {
    const Layout c = layout(block, slots);
    std::uint64_t key[2] = {0, 0};  // zero-padded, as the counters keep addresses
    if (ver == 6) {
        std::memcpy(key, addr, 16);
    } else {
        std::memcpy(key, addr, 4);
    }
    const std::uint64_t pattern = 0x0101010101010101ull * tag;
    for (std::uint32_t base = 0; base < used_; base += 8) {
        std::uint64_t tags;
        std::memcpy(&tags, c.tag + base, 8);
        for (std::uint64_t z = zero_bytes(tags ^ pattern); z != 0; z &= z - 1) {
            const std::uint32_t byte = static_cast<std::uint32_t>(std::countr_zero(z)) / 8;
            const std::uint32_t i =
                base + (std::endian::native == std::endian::little ? byte : 7 - byte);
            if (i < used_ && c.addr[2 * i] == key[0] && c.addr[2 * i + 1] == key[1] &&
                c.ver[i] == ver) {
                ++c.count[i];
                min_mask_ &= ~(1u << i);
                return;
            }
        }
    }
    std::uint32_t i;
    if (used_ < slots) {
        i = used_++;
        c.count[i] = 1;
    } else {
        if (min_mask_ == 0) find_min(c.count, slots);
        i = static_cast<std::uint32_t>(std::countr_zero(min_mask_));
        ++c.count[i];  // the evicted minimum, plus this SYN
        min_mask_ &= min_mask_ - 1;
    }
    c.addr[2 * i] = key[0];
    c.addr[2 * i + 1] = key[1];
    c.ver[i] = static_cast<std::uint8_t>(ver);
    c.tag[i] = tag;
}

void TopSources::add(std::uint64_t* block, std::uint32_t slots, int ver, const std::uint8_t* addr,
                     std::uint8_t tag) {
    count(block, slots, ver, addr, tag);
}

// Once min_mask_ is empty, every counter that held the smallest count was
// counted past it: the smallest count grew since the last pass, and it is at
// most the SYNs counted / slots.
void TopSources::find_min(const std::uint64_t* counts, std::uint32_t slots) {
    std::uint64_t min = counts[0];
    std::uint32_t mask = 1;
    for (std::uint32_t i = 1; i < slots; ++i) {
        if (counts[i] < min) {
            min = counts[i];
            mask = 1u << i;
        } else if (counts[i] == min) {
            mask |= 1u << i;
        }
    }
    min_mask_ = mask;
}

std::uint32_t TopSources::top(std::uint64_t* block, std::uint32_t slots, std::uint32_t k,
                              SynFloodAlert::Source* out) {
    const Layout c = layout(block, slots);
    struct Counter {
        std::uint64_t count;
        std::uint64_t addr[2];
        std::uint8_t ver, tag;
    } v[kMaxSlots];
    for (std::uint32_t i = 0; i < used_; ++i)
        v[i] = {c.count[i], {c.addr[2 * i], c.addr[2 * i + 1]}, c.ver[i], c.tag[i]};
    // std::partial_sort's moves depend on the comparisons only: the counters end
    // in the order they did when they were sorted in place, which later
    // evictions' ties depend on.
    const std::uint32_t n = std::min(used_, k);
    std::partial_sort(v, v + n, v + used_,
                      [](const Counter& x, const Counter& y) { return x.count > y.count; });
    for (std::uint32_t i = 0; i < used_; ++i) {
        c.count[i] = v[i].count;
        c.addr[2 * i] = v[i].addr[0];
        c.addr[2 * i + 1] = v[i].addr[1];
        c.ver[i] = v[i].ver;
        c.tag[i] = v[i].tag;
    }
    min_mask_ = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
        out[i].ip_version = v[i].ver;
        std::memcpy(out[i].addr, v[i].addr, sizeof out[i].addr);
        out[i].syns = v[i].count;
    }
    return n;
}

}  // namespace synflood_detail

SynFloodDetector::SynFloodDetector(const SynFloodOptions& opts, SynFloodSink& sink)
    : opts_(opts), sink_(sink), scans_(opts.scan, sink) {
    life_ = static_cast<std::uint32_t>(
        std::clamp(std::lround(opts_.synack_lifetime), 1l, static_cast<long>(kQueueSeconds)));
    opts_.prefix_v4 = opts_.prefix_v4 >= 32 ? 0 : opts_.prefix_v4;
    opts_.prefix_v6 = opts_.prefix_v6 >= 128 ? 0 : opts_.prefix_v6;
    opts_.victims = std::max<std::uint32_t>(opts_.victims, 2);
    opts_.detailed = std::max<std::uint32_t>(opts_.detailed, 1);
    opts_.top_k = std::clamp<std::uint32_t>(opts_.top_k, 1, SynFloodAlert::kTop);
    quiet_ns_ = static_cast<std::uint64_t>(std::max(opts_.quiet_seconds, 0.0) * 1e9);

    victims_.resize(opts_.victims);
    qslots_.assign(std::size_t{opts_.victims} * kQueueSeconds, 0);
    hits_.assign(std::size_t{opts_.victims} * 4, 0);
    std::uint64_t nslots = std::bit_ceil(static_cast<std::uint64_t>(opts_.victims) * 2);
    slots_.assign(nslots, 0);
    slot_mask_ = nslots - 1;
    free_victims_.reserve(opts_.victims);
    for (std::uint32_t i = opts_.victims; i-- > 0;)
        free_victims_.push_back(i);

    trackers_.resize(opts_.detailed);
    hll_.assign(static_cast<std::size_t>(opts_.detailed) * kHllRegisters, 0);
    static_assert(2 * SynFloodAlert::kTop <= synflood_detail::TopSources::kMaxSlots);
    source_slots_ = 2 * opts_.top_k;
    source_words_.resize(opts_.detailed * synflood_detail::TopSources::words_for(source_slots_));
    dest_words_.resize(source_words_.size());
    hops_.assign(kHops, 0);
    free_trackers_.reserve(opts_.detailed);
    for (std::uint32_t i = opts_.detailed; i-- > 0;)
        free_trackers_.push_back(i);

    recent_.resize(kRecent);
    for (auto& r : recent_)
        r.victim[0] = r.victim[1] = r.victim[2] = kNone;
}

std::uint64_t SynFloodDetector::memory_bound(const SynFloodOptions& o) {
    const std::uint64_t victims = std::max<std::uint32_t>(o.victims, 2);
    const std::uint64_t detailed = std::max<std::uint32_t>(o.detailed, 1);
    const std::uint64_t top = std::clamp<std::uint32_t>(o.top_k, 1, SynFloodAlert::kTop);
    return sizeof(SynFloodDetector) + victims * (sizeof(Victim) + 4 + kQueueSeconds * 4 + 32) +
           std::bit_ceil(victims * 2) * 4 +
           detailed * (sizeof(Tracker) + kHllRegisters +
                       2 * synflood_detail::TopSources::words_for(2 * top) * 8 + 4) +
           kRecent * sizeof(RecentSyn) + kHops * 4 + ScanDetector::memory_bound(o.scan);
}

std::size_t SynFloodDetector::memory_bytes() const {
    return sizeof(*this) + victims_.capacity() * sizeof(Victim) +
           qslots_.capacity() * sizeof(std::uint32_t) + hits_.capacity() * sizeof(std::uint64_t) +
           slots_.capacity() * sizeof(std::uint32_t) +
           free_victims_.capacity() * sizeof(std::uint32_t) +
           trackers_.capacity() * sizeof(Tracker) + hll_.capacity() +
           source_words_.capacity() * sizeof(std::uint64_t) +
           dest_words_.capacity() * sizeof(std::uint64_t) +
           free_trackers_.capacity() * sizeof(std::uint32_t) +
           recent_.capacity() * sizeof(RecentSyn) + hops_.capacity() * sizeof(std::uint32_t) +
           scans_.memory_bytes();
}

// --- the victim table -------------------------------------------------------

std::uint32_t SynFloodDetector::find(int ver, const std::uint8_t* addr, std::uint16_t port,
                                     std::uint64_t hash, std::uint8_t prefix) const {
    for (std::uint64_t s = hash & slot_mask_;; s = (s + 1) & slot_mask_) {
        const std::uint32_t e = slots_[s];
        if (e == 0) return kNone;
        const Victim& v = victims_[e - 1];
        if (v.hash == hash && v.port == port && v.prefix == prefix &&
            same_addr(v.ip_version, v.addr, ver, addr)) {
            return e - 1;
        }
    }
}

std::uint32_t SynFloodDetector::find_or_add(int ver, const std::uint8_t* addr, std::uint16_t port,
                                            std::uint8_t prefix) {
    // A prefix's hash is seeded with its length: 198.19.0.0/24 is not 198.19.0.0.
    const std::uint64_t hash = hash_key(ver, addr, port, prefix);
    std::uint32_t vi = find(ver, addr, port, hash, prefix);
    if (vi != kNone) return vi;
    if (free_victims_.empty()) {
        vi = evict_one();
        if (vi == kNone) return kNone;
    } else {
        vi = free_victims_.back();
        free_victims_.pop_back();
    }
    Victim& v = victims_[vi];
    qclear(v);  // (cheap: a queue of a few SYNs is in a slot or two)
    const std::uint32_t gen = v.gen + 1;
    v = Victim{};
    v.gen = gen;
    v.hash = hash;
    v.port = port;
    v.ip_version = static_cast<std::uint8_t>(ver);
    v.prefix = prefix;
    std::memcpy(v.addr, addr, static_cast<std::size_t>(addr_len(ver)));
    v.w = now_ns_ / kSecond;
    v.qw = v.w;
    if (prefix != 0) std::memset(&hits_[std::size_t{vi} * 4], 0, 4 * sizeof(std::uint64_t));
    std::uint64_t s = hash & slot_mask_;
    while (slots_[s] != 0)
        s = (s + 1) & slot_mask_;
    slots_[s] = vi + 1;
    return vi;
}

// Space-saving over victims, approximately: of a few candidates, the one with
// the fewest SYNs in the last second goes. Victims with a tracker (alerting or
// about to) or with open alerts on their ports are never evicted.
std::uint32_t SynFloodDetector::evict_one() {
    constexpr int kCandidates = 8;
    const std::uint32_t n = static_cast<std::uint32_t>(victims_.size());
    std::uint32_t best = kNone;
    double best_weight = 0;
    int found = 0;
    for (std::uint32_t scanned = 0; scanned < n && found < kCandidates; ++scanned) {
        const std::uint32_t vi = evict_cursor_;
        evict_cursor_ = evict_cursor_ + 1 == n ? 0 : evict_cursor_ + 1;
        const Victim& v = victims_[vi];
        if (v.tracker != kNone || v.open_port_alerts != 0) continue;
        const double weight = rates(v, now_ns_).syns;
        if (best == kNone || weight < best_weight) {
            best = vi;
            best_weight = weight;
        }
        ++found;
    }
    if (best == kNone) return kNone;
    erase_slot(best);
    ++evicted_;
    return best;
}

// Backward-shift deletion keeps linear probing free of tombstones.
void SynFloodDetector::erase_slot(std::uint32_t vi) {
    std::uint64_t i = victims_[vi].hash & slot_mask_;
    while (slots_[i] != vi + 1)
        i = (i + 1) & slot_mask_;
    slots_[i] = 0;
    for (std::uint64_t j = (i + 1) & slot_mask_; slots_[j] != 0; j = (j + 1) & slot_mask_) {
        const std::uint64_t home = victims_[slots_[j] - 1].hash & slot_mask_;
        // Move j back to i unless its home lies cyclically in (i, j].
        const bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            slots_[i] = slots_[j];
            slots_[j] = 0;
            i = j;
        }
    }
}

// --- windows -----------------------------------------------------------------

void SynFloodDetector::roll(Victim& v, std::uint64_t w) {
    if (w <= v.w) return;
    if (v.tracker != kNone && trackers_[v.tracker].alerting) {
        SynFloodAlert& a = trackers_[v.tracker].alert;
        a.peak_syn_rate = std::max(a.peak_syn_rate, static_cast<double>(v.cur.syns));
    }
    v.prev = w == v.w + 1 ? v.cur : Window{};
    v.cur = Window{};
    v.w = w;
}

// Sliding 1 s estimate: the current window plus the part of the previous one
// still inside the last second.
SynFloodDetector::Rates SynFloodDetector::rates(const Victim& v, std::uint64_t ts) const {
    const std::uint64_t w = ts / kSecond;
    if (w > v.w + 1) return {0, 0, 0};
    // Whole packets of the previous window, so evenly spaced traffic at a
    // threshold does not cross it by a fraction. keep is in (0, 1], so n * keep
    // is in [0, 2^32): truncating it is its floor (and without SSE4.1 much
    // cheaper than std::floor).
    const double keep = 1.0 - static_cast<double>(ts % kSecond) / 1e9;
    auto part = [keep](std::uint32_t n) {
        return static_cast<double>(static_cast<std::int64_t>(n * keep));
    };
    if (w == v.w + 1) {  // v.cur is the previous window as seen from ts
        return {part(v.cur.syns), part(v.cur.completed), part(v.cur.rsts)};
    }
    return {v.cur.syns + part(v.prev.syns), v.cur.completed + part(v.prev.completed),
            v.cur.rsts + part(v.prev.rsts)};
}

bool SynFloodDetector::over(const Rates& r, double scale, double max_completion) const {
    if (r.syns <= 0) return false;
    if (r.completed > max_completion * r.syns) return false;
    const double half_open = r.syns - r.completed - r.rsts;
    return r.syns >= opts_.min_syn_rate * scale || half_open > opts_.min_half_open * scale;
}

// --- the half-open queue ----------------------------------------------------

std::uint32_t SynFloodDetector::find_prefix(int ver, const std::uint8_t* dst, bool add) {
    const std::uint8_t bits = prefix_of(ver);
    if (bits == 0) return kNone;
    std::uint8_t masked[16];
    mask_prefix(ver, dst, bits, masked);
    if (add) return find_or_add(ver, masked, 0, bits);
    return find(ver, masked, 0, hash_key(ver, masked, 0, bits), bits);
}

// The queue moves on to second w: the SYNs of the seconds that fall out of the
// lifetime leave it (the last SYN-ACK retry gave up on them).
void SynFloodDetector::qroll(Victim& v, std::uint64_t w) {
    if (w <= v.qw) return;
    std::uint32_t* slot = qslots(v);
    if (w - v.qw >= life_) {
        std::memset(slot, 0, kQueueSeconds * sizeof(std::uint32_t));
        v.queue = 0;
    } else {
        // Leaving: the seconds (v.qw - life_, w - life_].
        for (std::uint64_t s = v.qw + 1; s <= w; ++s) {
            if (s < life_) continue;
            std::uint32_t& n = slot[(s - life_) % kQueueSeconds];
            v.queue -= n;
            n = 0;
        }
    }
    v.qw = w;
}

// One half-open connection leaves the queue (completed or reset): the newest,
// as a handshake completes or a RST answers within a round trip.
void SynFloodDetector::qremove(Victim& v) {
    if (v.queue == 0) return;
    std::uint32_t* slot = qslots(v);
    for (std::uint32_t k = 0; k < life_; ++k) {
        std::uint32_t& n = slot[(v.qw - k) % kQueueSeconds];
        if (n != 0) {
            --n;
            --v.queue;
            return;
        }
    }
}

// --- packets -----------------------------------------------------------------

void SynFloodDetector::packet(std::uint64_t ts_ns, int ip_version, const std::uint8_t* src,
                              std::uint16_t sport, const std::uint8_t* dst, std::uint16_t dport,
                              std::uint16_t tcp_flags, std::uint8_t ttl) {
    if (ip_version != 4 && ip_version != 6) return;
    advance(ts_ns);
    const std::uint64_t ts = now_ns_;  // capture time, never backwards
    const bool syn = (tcp_flags & tcpflag::kSyn) != 0;
    const bool ack = (tcp_flags & tcpflag::kAck) != 0;
    const bool rst = (tcp_flags & tcpflag::kRst) != 0;
    if (syn && !ack && !rst) {
        const std::uint64_t src_hash = source_hash(ip_version, src);
        // A flood sends SYN after SYN to one victim: its entries are those of
        // the last SYN as long as no victim was evicted (find_or_add finding
        // them has no effect besides).
        const auto cached = [&](const Victim& c) {
            if (c.ip_version != ip_version) return false;
            return ip_version == 4 ? std::memcmp(c.addr, dst, 4) == 0
                                   : std::memcmp(c.addr, dst, 16) == 0;
        };
        const bool hit = syn_av_ != kNone && cached(victims_[syn_av_]) &&
                         (dport == 0 || (syn_pv_ != kNone && victims_[syn_pv_].port == dport));
        // A scanner's SYNs are the scan detector's alone. A SYN to a victim
        // under a flood alert is the flood's: the scan detector is spared
        // looking up its (likely spoofed, never seen again) source.
        const std::uint32_t flooded = hit ? (dport != 0 ? syn_pv_ : syn_av_) : kNone;
        const bool to_alert = flooded != kNone && victims_[flooded].tracker != kNone &&
                              trackers_[victims_[flooded].tracker].alerting;
        if (!to_alert && scans_.syn(ts, ip_version, src, src_hash, dst, dport)) return;
        // Hop-count consistency, for the alerts open: 0 source not known, 1 its
        // hop count as learnt, 2 another.
        int hops = 0;
        if (alerting_ != 0 && ttl != 0 && hops_learnt_) {
            const std::uint32_t e = hops_[src_hash & (kHops - 1)];
            if (e != 0 && (e >> 8) == static_cast<std::uint32_t>(src_hash >> 40)) {
                const int learnt = static_cast<int>(e & 0xff) - 1;
                hops = std::abs(learnt - hop_count(ttl)) > 1 ? 2 : 1;
            }
        }
        std::uint32_t pv, av, xv;
        if (hit) {
            pv = dport != 0 ? syn_pv_ : kNone;
            av = syn_av_;
            xv = syn_xv_;
        } else {
            const std::uint64_t evicted = evicted_;
            xv = find_prefix(ip_version, dst, true);
            pv = dport != 0 ? find_or_add(ip_version, dst, dport) : kNone;
            av = find_or_add(ip_version, dst, 0);
            if (evicted_ != evicted) {
                // An entry added for this SYN may have made room for the next.
                xv = find_prefix(ip_version, dst, false);
                pv = dport != 0 ? find(ip_version, dst, dport, hash_key(ip_version, dst, dport, 0))
                                : kNone;
                av = find(ip_version, dst, 0, hash_key(ip_version, dst, 0, 0));
            }
            syn_pv_ = pv;
            syn_xv_ = xv;
            syn_av_ = evicted_ == evicted ? av : kNone;
        }
        RecentSyn& r = recent_[recent_pos_];
        recent_pos_ = (recent_pos_ + 1) % kRecent;
        r.victim[0] = pv;
        r.victim[1] = av;
        r.victim[2] = xv;
        r.gen[0] = pv != kNone ? victims_[pv].gen : 0;
        r.gen[1] = av != kNone ? victims_[av].gen : 0;
        r.gen[2] = xv != kNone ? victims_[xv].gen : 0;
        r.ip_version = static_cast<std::uint8_t>(ip_version);
        if (ip_version == 4) {
            std::memcpy(r.src, src, 4);
        } else {
            std::memcpy(r.src, src, 16);
        }
        if (pv != kNone) syn_to(pv, kNone, xv, ts, ip_version, src, src_hash, hops);
        if (av != kNone) syn_to(av, pv, xv, ts, ip_version, src, src_hash, hops);
        // A SYN an alert of its port or address tells of is not the prefix's:
        // the prefix alerts for the SYNs no narrower alert explains.
        const auto alerting = [this](std::uint32_t vi) {
            return vi != kNone && victims_[vi].tracker != kNone &&
                   trackers_[victims_[vi].tracker].alerting;
        };
        if (xv != kNone && (alerting(pv) || alerting(av))) {
            r.victim[2] = kNone;
        } else if (xv != kNone) {
            const std::uint8_t last = dst[addr_len(ip_version) - 1];
            hits_[std::size_t{xv} * 4 + (last >> 6)] |= std::uint64_t{1} << (last & 63);
            syn_to(xv, av, kNone, ts, ip_version, src, src_hash, hops);
        }
    } else if ((syn && ack) || rst) {
        const bool synack = syn && ack;
        if (sport != 0) {
            const std::uint32_t pv =
                find(ip_version, src, sport, hash_key(ip_version, src, sport, 0));
            if (pv != kNone) answer_from(pv, ts, synack, rst);
        }
        const std::uint32_t av = find(ip_version, src, 0, hash_key(ip_version, src, 0, 0));
        if (av != kNone) answer_from(av, ts, synack, rst);
        const std::uint32_t xv = find_prefix(ip_version, src, false);
        if (xv != kNone) answer_from(xv, ts, synack, rst);
        if (synack && scans_.following()) {
            scans_.synack(ip_version, src, sport, dst, source_hash(ip_version, dst));
        }
    }
}

// Whether v is one of many victims of the alert of the prefix around it (it
// gets no more than 4 times the prefix's SYNs per address hit): its SYNs are
// told of there, with the prefix's top victims. A victim flooded well beyond
// its share keeps an alert of its own.
bool SynFloodDetector::inside_alert(const Victim& v, std::uint32_t outer_vi,
                                    std::uint64_t ts) const {
    if (outer_vi == kNone) return false;
    const Victim& x = victims_[outer_vi];
    if (x.tracker == kNone || !trackers_[x.tracker].alerting) return false;
    int hit = 0;
    for (int k = 0; k < 4; ++k)
        hit += std::popcount(hits(x)[k]);
    return rates(v, ts).syns <= 4 * rates(x, ts).syns / std::max(hit, 1);
}

void SynFloodDetector::syn_to(std::uint32_t vi, std::uint32_t inner_vi, std::uint32_t outer_vi,
                              std::uint64_t ts, int ver, const std::uint8_t* src,
                              std::uint64_t src_hash, int hops) {
    Victim& v = victims_[vi];
    const std::uint64_t w = ts / kSecond;
    roll(v, w);
    qroll(v, w);
    if (v.queue == 0) v.episode_ns = ts;
    ++v.queue;
    ++qslots(v)[w % kQueueSeconds];
    if (v.cur.syns == 0) v.cur.first_ns = ts;
    ++v.cur.syns;
    const bool had_tracker = v.tracker != kNone;
    if (had_tracker && trackers_[v.tracker].alerting) {
        Tracker& t = trackers_[v.tracker];
        ++t.alert.syns;
        const std::uint64_t i = w - t.start_w;
        if (i < SynFloodAlert::kChart) ++t.alert.rate[i];
        t.alert.peak_queue = std::max(t.alert.peak_queue, v.queue);
        if (hops != 0) {
            ++t.alert.hop_checked;
            if (hops == 2) ++t.alert.hop_mismatch;
        }
    }
    // v is in its window of ts now, so rates(v, ts) counts all of v.cur and at
    // most all of v.prev: when v.cur's SYNs alone are over min_syn_rate and
    // both windows' completed handshakes are few enough, it is over without
    // computing it (a flood's every SYN).
    Rates r;
    const bool surely_over =
        v.cur.syns >= opts_.min_syn_rate &&
        static_cast<double>(std::uint64_t{v.cur.completed} + v.prev.completed) <=
            opts_.max_completion * v.cur.syns;
    bool flooded = surely_over;
    SynFloodAlert::Trigger trigger = SynFloodAlert::kSynRate;
    if (!surely_over) {
        r = rates(v, ts);
        if (over(r, 1.0, opts_.max_completion)) {
            flooded = true;
            if (r.syns < opts_.min_syn_rate) trigger = SynFloodAlert::kHalfOpen;
        } else if (v.queue > opts_.backlog && r.completed <= opts_.max_completion * r.syns) {
            trigger = SynFloodAlert::kQueue;
            // A full queue keeps an alert going only if it started one: the
            // queue a fast flood left behind is no reason to go on after it.
            flooded = v.tracker == kNone || !trackers_[v.tracker].alerting ||
                      trackers_[v.tracker].alert.trigger == SynFloodAlert::kQueue;
        }
    }
    if (flooded && v.tracker == kNone && free_trackers_.empty() && alerting_ >= trackers_.size()) {
        // Every tracker tells of an alert already: this one is missed, unless
        // the alert of one of its ports tells of it.
        if (v.open_port_alerts == 0) ++untracked_;
    } else if (flooded) {
        // Leave a flood of one port to the port, of one address to the address.
        bool concentrated = false;
        if (v.prefix != 0) {
            const Victim& in = victims_[inner_vi];
            concentrated =
                in.open_port_alerts != 0 || (in.tracker != kNone && trackers_[in.tracker].alerting);
            if (!concentrated) {
                if (surely_over) r = rates(v, ts);
                concentrated = rates(in, ts).syns >= 0.5 * r.syns;
            }
        } else if (v.port == 0) {
            concentrated = v.open_port_alerts != 0;
            if (!concentrated && inner_vi != kNone) {
                if (surely_over) r = rates(v, ts);
                concentrated = rates(victims_[inner_vi], ts).syns >= 0.5 * r.syns;
            }
        }
        if (!concentrated && (v.tracker == kNone || !trackers_[v.tracker].alerting)) {
            concentrated = inside_alert(v, outer_vi, ts);
        }
        if (concentrated) {
            // The port's own alert tells of this flood; a tracker kept for the
            // address alone would count every SYN's source a second time. If
            // the flood spreads, the tracker taken then replays the recent SYNs.
            if (v.tracker != kNone && !trackers_[v.tracker].alerting) release_tracker(v.tracker);
        } else {
            if (v.tracker == kNone) take_tracker(vi, true);
            if (v.tracker == kNone) {
                ++untracked_;
            } else {
                Tracker& t = trackers_[v.tracker];
                t.last_above_ns = ts;
                if (!t.alerting) start_alert(vi, ts, trigger);
            }
        }
    } else if (v.tracker == kNone && v.prefix == 0) {
        // (A prefix takes its tracker only when flooded, from the recent SYNs:
        // near a threshold it is nearly always for one address inside it.)
        const double near_completion = std::min(1.0, 2 * opts_.max_completion);
        if (over(r, 0.25, near_completion) ||
            (v.queue > opts_.backlog / 4 && r.completed <= near_completion * r.syns)) {
            take_tracker(vi, false);
        }
    }
    // A tracker taken now replayed this SYN from the recent ones already.
    if (had_tracker && v.tracker != kNone) {
        add_source(v.tracker, ver, src, src_hash);
        if (v.prefix != 0) add_dest(v.tracker, victims_[inner_vi]);
    }
}

void SynFloodDetector::answer_from(std::uint32_t vi, std::uint64_t ts, bool synack, bool rst) {
    Victim& v = victims_[vi];
    roll(v, ts / kSecond);
    if (synack) ++v.cur.synacks;
    if (rst) {
        ++v.cur.rsts;
        qroll(v, ts / kSecond);
        qremove(v);
    }
    if (v.tracker != kNone && trackers_[v.tracker].alerting) {
        SynFloodAlert& a = trackers_[v.tracker].alert;
        if (synack) ++a.synacks;
        if (rst) ++a.rsts;
    }
}

void SynFloodDetector::completed(std::uint64_t ts_ns, int ip_version, const std::uint8_t* victim,
                                 std::uint16_t port, const std::uint8_t* client,
                                 std::uint8_t client_ttl) {
    if (ip_version != 4 && ip_version != 6) return;
    advance(ts_ns);
    if (client != nullptr && client_ttl != 0) {
        const std::uint64_t h = source_hash(ip_version, client);
        hops_learnt_ = true;
        hops_[h & (kHops - 1)] = static_cast<std::uint32_t>(h >> 40) << 8 |
                                 static_cast<std::uint32_t>(hop_count(client_ttl) + 1);
    }
    const std::uint64_t ts = now_ns_;
    const std::uint16_t ports[2] = {port, 0};
    std::uint32_t vis[3] = {kNone, kNone, find_prefix(ip_version, victim, false)};
    for (int k = port != 0 ? 0 : 1; k < 2; ++k) {
        vis[k] = find(ip_version, victim, ports[k], hash_key(ip_version, victim, ports[k], 0));
    }
    for (const std::uint32_t vi : vis) {
        if (vi == kNone) continue;
        Victim& v = victims_[vi];
        roll(v, ts / kSecond);
        ++v.cur.completed;
        qroll(v, ts / kSecond);
        qremove(v);
        if (v.tracker != kNone && trackers_[v.tracker].alerting) {
            ++trackers_[v.tracker].alert.completed;
        }
    }
}

// --- trackers ----------------------------------------------------------------

std::uint32_t SynFloodDetector::take_tracker(std::uint32_t vi, bool steal) {
    std::uint32_t ti = kNone;
    if (!free_trackers_.empty()) {
        ti = free_trackers_.back();
        free_trackers_.pop_back();
    } else if (steal && alerting_ < trackers_.size()) {
        // (With every tracker alerting there is none to steal: no need to look.)
        // A victim over the full threshold outranks one only over a quarter of it.
        double lowest = 0;
        for (std::uint32_t i = 0; i < trackers_.size(); ++i) {
            const Tracker& t = trackers_[i];
            if (t.alerting) continue;
            const double s = rates(victims_[t.victim], now_ns_).syns;
            if (ti == kNone || s < lowest) {
                ti = i;
                lowest = s;
            }
        }
        if (ti == kNone) return kNone;
        victims_[trackers_[ti].victim].tracker = kNone;
    } else {
        return kNone;
    }
    Tracker& t = trackers_[ti];
    t = Tracker{};
    t.victim = vi;
    std::memset(&hll_[static_cast<std::size_t>(ti) * kHllRegisters], 0, kHllRegisters);
    victims_[vi].tracker = ti;
    // Replay the recent SYNs to this victim, so the sources that brought it
    // over the threshold are counted too.
    const Victim& v = victims_[vi];
    for (const RecentSyn& r : recent_) {
        for (int k = 0; k < 3; ++k) {
            if (r.victim[k] == vi && r.gen[k] == v.gen) {
                add_source(ti, r.ip_version, r.src, source_hash(r.ip_version, r.src));
                if (k == 2 && r.victim[1] != kNone && victims_[r.victim[1]].gen == r.gen[1]) {
                    add_dest(ti, victims_[r.victim[1]]);
                }
            }
        }
    }
    return ti;
}

void SynFloodDetector::release_tracker(std::uint32_t ti) {
    Tracker& t = trackers_[ti];
    victims_[t.victim].tracker = kNone;
    t.victim = kNone;
    t.alerting = false;
    free_trackers_.push_back(ti);
}

void SynFloodDetector::add_source(std::uint32_t ti, int ver, const std::uint8_t* src,
                                  std::uint64_t h) {
    std::uint8_t* reg = &hll_[static_cast<std::size_t>(ti) * kHllRegisters];
    const std::uint64_t idx = h >> (64 - kHllBits);
    const std::uint64_t rest = h << kHllBits;
    const int rank = rest == 0 ? 64 - kHllBits + 1 : std::countl_zero(rest) + 1;
    if (reg[idx] < rank) reg[idx] = static_cast<std::uint8_t>(rank);

    // Space-saving top sources, tagged with the low byte of the same hash.
    trackers_[ti].sources.count(
        &source_words_[ti * synflood_detail::TopSources::words_for(source_slots_)], source_slots_,
        ver, src, static_cast<std::uint8_t>(h));
}

// One SYN to an address of a prefix victim (its address entry), for the
// prefix's top victims; tagged with the low byte of the entry's hash.
void SynFloodDetector::add_dest(std::uint32_t ti, const Victim& addr_victim) {
    trackers_[ti].dests.count(
        &dest_words_[ti * synflood_detail::TopSources::words_for(source_slots_)], source_slots_,
        addr_victim.ip_version, addr_victim.addr, static_cast<std::uint8_t>(addr_victim.hash));
}

std::uint64_t SynFloodDetector::hll_estimate(std::uint32_t ti) const {
    constexpr int q = 64 - kHllBits;
    std::uint32_t hist[q + 2] = {};
    const std::uint8_t* reg = &hll_[static_cast<std::size_t>(ti) * kHllRegisters];
    for (std::uint32_t i = 0; i < kHllRegisters; ++i)
        ++hist[reg[i]];
    const double m = kHllRegisters;
    double z = m * hll_tau(1.0 - hist[q + 1] / m);
    for (int k = q; k >= 1; --k)
        z = 0.5 * (z + hist[k]);
    z += m * hll_sigma(hist[0] / m);
    const double alpha_inf = 0.5 / std::log(2.0);
    return static_cast<std::uint64_t>(std::llround(alpha_inf * m * m / z));
}

// --- alerts ------------------------------------------------------------------

void SynFloodDetector::start_alert(std::uint32_t vi, std::uint64_t ts,
                                   SynFloodAlert::Trigger trigger) {
    Victim& v = victims_[vi];
    Tracker& t = trackers_[v.tracker];
    t.alerting = true;
    ++alerting_;
    t.last_above_ns = ts;
    SynFloodAlert& a = t.alert;
    a = SynFloodAlert{};
    a.ip_version = v.ip_version;
    std::memcpy(a.victim, v.addr, sizeof a.victim);
    a.prefix_len = v.prefix;
    a.port = v.port;
    a.trigger = trigger;
    a.peak_queue = v.queue;
    // The episode: from the first SYN since the queue was empty, or the oldest
    // second still modelled.
    const std::uint64_t oldest = v.w + 1 >= life_ ? v.w + 1 - life_ : 0;
    const std::uint64_t episode_ns = std::max(v.episode_ns, oldest * kSecond);
    a.detected_after = static_cast<double>(ts - std::min(ts, episode_ns)) / 1e9;
    // The alert starts with the window before when the flood was ramping up in it.
    const bool with_prev = v.prev.syns > 0 && v.prev.syns >= opts_.min_syn_rate / 4;
    t.start_w = with_prev ? v.w - 1 : v.w;
    a.ts_start_ns = with_prev ? v.prev.first_ns : v.cur.first_ns;
    std::uint32_t i = 0;
    for (const Window* win : {with_prev ? &v.prev : nullptr, &v.cur}) {
        if (win == nullptr) continue;
        a.syns += win->syns;
        a.synacks += win->synacks;
        a.rsts += win->rsts;
        a.completed += win->completed;
        a.rate[i++] = win->syns;
        a.peak_syn_rate = std::max(a.peak_syn_rate, static_cast<double>(win->syns));
    }
    a.nrate = i;
    if (trigger == SynFloodAlert::kQueue) {
        // The alert tells of the episode: its seconds' SYNs still modelled
        // half-open (those of a flood nobody answers: all of them).
        t.start_w = episode_ns / kSecond;
        a.ts_start_ns = episode_ns;
        a.syns = 0;
        a.nrate = static_cast<std::uint32_t>(v.w - t.start_w + 1);
        for (std::uint32_t k = 0; k < a.nrate; ++k) {
            const std::uint32_t n = qslots(v)[(t.start_w + k) % kQueueSeconds];
            a.rate[k] = n;
            a.syns += n;
            a.peak_syn_rate = std::max(a.peak_syn_rate, static_cast<double>(n));
        }
    }
    ++alerts_;
    if (v.port != 0) {
        const std::uint32_t av =
            find(v.ip_version, v.addr, 0, hash_key(v.ip_version, v.addr, 0, 0));
        if (av != kNone) ++victims_[av].open_port_alerts;
    }
    summarize(v.tracker);
    sink_.alert_started(a);
}

void SynFloodDetector::summarize(std::uint32_t ti) {
    Tracker& t = trackers_[ti];
    SynFloodAlert& a = t.alert;
    const Victim& v = victims_[t.victim];
    a.peak_syn_rate = std::max(a.peak_syn_rate, static_cast<double>(v.cur.syns));
    a.completion_ratio =
        a.syns ? static_cast<double>(a.completed) / static_cast<double>(a.syns) : 0.0;
    a.distinct_sources = hll_estimate(ti);
    a.spoofed = a.distinct_sources * 4 > a.syns;
    a.peak_queue = std::max(a.peak_queue, v.queue);
    if (v.prefix != 0) {
        a.addresses_hit = 0;
        for (int k = 0; k < 4; ++k)
            a.addresses_hit += static_cast<std::uint32_t>(std::popcount(hits(v)[k]));
        a.ntop_victims =
            t.dests.top(&dest_words_[ti * synflood_detail::TopSources::words_for(source_slots_)],
                        source_slots_, opts_.top_k, a.top_victims);
    }
    // The top_k largest space-saving counters, largest first.
    a.ntop =
        t.sources.top(&source_words_[ti * synflood_detail::TopSources::words_for(source_slots_)],
                      source_slots_, opts_.top_k, a.top);
}

// The half-open SYNs of an alert that ended were told of: the next alert
// needs a queue filled anew.
void SynFloodDetector::qclear(Victim& v) {
    // The queue is the sum of the slots of the last life_ seconds: clear
    // from the newest back until all of it is gone.
    std::uint32_t* slot = qslots(v);
    for (std::uint32_t k = 0; k < life_ && v.queue != 0; ++k) {
        std::uint32_t& n = slot[(v.qw - k) % kQueueSeconds];
        v.queue -= n;
        n = 0;
    }
}

void SynFloodDetector::end_alert(std::uint32_t ti, std::uint64_t now) {
    Tracker& t = trackers_[ti];
    Victim& v = victims_[t.victim];
    roll(v, now / kSecond);
    qclear(v);
    if (v.prefix == 0) {
        // The address and prefix around it held the same SYNs.
        const std::uint32_t xv = find_prefix(v.ip_version, v.addr, false);
        if (xv != kNone) qclear(victims_[xv]);
        if (v.port != 0) {
            const std::uint32_t av =
                find(v.ip_version, v.addr, 0, hash_key(v.ip_version, v.addr, 0, 0));
            if (av != kNone) qclear(victims_[av]);
        }
    }
    SynFloodAlert& a = t.alert;
    a.ts_end_ns = t.last_above_ns;
    a.nrate = static_cast<std::uint32_t>(
        std::min<std::uint64_t>(SynFloodAlert::kChart, now / kSecond - t.start_w + 1));
    // The chart ends with the victim's last SYN, not with the quiet seconds that
    // ended the alert: how long those were depends on when the input stopped
    // (a file ends at its last packet, a live capture sees the clock run on).
    while (a.nrate > 1 && a.rate[a.nrate - 1] == 0)
        --a.nrate;
    a.ended = true;
    --alerting_;
    summarize(ti);
    if (v.port != 0) {
        const std::uint32_t av =
            find(v.ip_version, v.addr, 0, hash_key(v.ip_version, v.addr, 0, 0));
        if (av != kNone && victims_[av].open_port_alerts > 0) --victims_[av].open_port_alerts;
    }
    sink_.alert_ended(a);
    release_tracker(ti);
}

void SynFloodDetector::advance(std::uint64_t now_ns) {
    if (now_ns > now_ns_) now_ns_ = now_ns;
    const std::uint64_t w = now_ns_ / kSecond;
    if (w != swept_w_) {
        swept_w_ = w;
        sweep(now_ns_);
    }
}

// Once a second: end alerts quiet for long enough, return trackers of victims
// that fell back under a quarter of the thresholds.
void SynFloodDetector::sweep(std::uint64_t now) {
    for (std::uint32_t ti = 0; ti < trackers_.size(); ++ti) {
        Tracker& t = trackers_[ti];
        if (t.victim == kNone) continue;
        Victim& v = victims_[t.victim];
        roll(v, now / kSecond);
        qroll(v, now / kSecond);
        const double near_completion = std::min(1.0, 2 * opts_.max_completion);
        const Rates r = rates(v, now);
        if (t.alerting) {
            if (now - t.last_above_ns >= quiet_ns_) end_alert(ti, now);
        } else if (!over(r, 0.25, near_completion) &&
                   !(v.queue > opts_.backlog / 4 && r.completed <= near_completion * r.syns)) {
            release_tracker(ti);
        }
    }
    scans_.sweep(now);
}

void SynFloodDetector::finish(std::uint64_t now_ns) {
    advance(now_ns);
    for (std::uint32_t ti = 0; ti < trackers_.size(); ++ti) {
        if (trackers_[ti].victim != kNone && trackers_[ti].alerting) end_alert(ti, now_ns_);
    }
    scans_.finish(now_ns_);
}

}  // namespace wl
