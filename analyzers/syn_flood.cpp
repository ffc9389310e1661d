#include "analyzers/syn_flood.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
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
    : opts_(opts), sink_(sink) {
    opts_.victims = std::max<std::uint32_t>(opts_.victims, 2);
    opts_.detailed = std::max<std::uint32_t>(opts_.detailed, 1);
    opts_.top_k = std::clamp<std::uint32_t>(opts_.top_k, 1, SynFloodAlert::kTop);
    quiet_ns_ = static_cast<std::uint64_t>(std::max(opts_.quiet_seconds, 0.0) * 1e9);

    victims_.resize(opts_.victims);
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
    free_trackers_.reserve(opts_.detailed);
    for (std::uint32_t i = opts_.detailed; i-- > 0;)
        free_trackers_.push_back(i);

    recent_.resize(kRecent);
    for (auto& r : recent_)
        r.victim[0] = r.victim[1] = kNone;
}

std::uint64_t SynFloodDetector::memory_bound(const SynFloodOptions& o) {
    const std::uint64_t victims = std::max<std::uint32_t>(o.victims, 2);
    const std::uint64_t detailed = std::max<std::uint32_t>(o.detailed, 1);
    const std::uint64_t top = std::clamp<std::uint32_t>(o.top_k, 1, SynFloodAlert::kTop);
    return sizeof(SynFloodDetector) + victims * (sizeof(Victim) + 4) +
           std::bit_ceil(victims * 2) * 4 +
           detailed * (sizeof(Tracker) + kHllRegisters +
                       synflood_detail::TopSources::words_for(2 * top) * 8 + 4) +
           kRecent * sizeof(RecentSyn);
}

std::size_t SynFloodDetector::memory_bytes() const {
    return sizeof(*this) + victims_.capacity() * sizeof(Victim) +
           slots_.capacity() * sizeof(std::uint32_t) +
           free_victims_.capacity() * sizeof(std::uint32_t) +
           trackers_.capacity() * sizeof(Tracker) + hll_.capacity() +
           source_words_.capacity() * sizeof(std::uint64_t) +
           free_trackers_.capacity() * sizeof(std::uint32_t) +
           recent_.capacity() * sizeof(RecentSyn);
}

// --- the victim table -------------------------------------------------------

std::uint32_t SynFloodDetector::find(int ver, const std::uint8_t* addr, std::uint16_t port,
                                     std::uint64_t hash) const {
    for (std::uint64_t s = hash & slot_mask_;; s = (s + 1) & slot_mask_) {
        const std::uint32_t e = slots_[s];
        if (e == 0) return kNone;
        const Victim& v = victims_[e - 1];
        if (v.hash == hash && v.port == port && same_addr(v.ip_version, v.addr, ver, addr)) {
            return e - 1;
        }
    }
}

std::uint32_t SynFloodDetector::find_or_add(int ver, const std::uint8_t* addr, std::uint16_t port) {
    const std::uint64_t hash = hash_key(ver, addr, port, 0);
    std::uint32_t vi = find(ver, addr, port, hash);
    if (vi != kNone) return vi;
    if (free_victims_.empty()) {
        vi = evict_one();
        if (vi == kNone) return kNone;
    } else {
        vi = free_victims_.back();
        free_victims_.pop_back();
    }
    Victim& v = victims_[vi];
    const std::uint32_t gen = v.gen + 1;
    v = Victim{};
    v.gen = gen;
    v.hash = hash;
    v.port = port;
    v.ip_version = static_cast<std::uint8_t>(ver);
    std::memcpy(v.addr, addr, static_cast<std::size_t>(addr_len(ver)));
    v.w = now_ns_ / kSecond;
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

// --- packets -----------------------------------------------------------------

void SynFloodDetector::packet(std::uint64_t ts_ns, int ip_version, const std::uint8_t* src,
                              std::uint16_t sport, const std::uint8_t* dst, std::uint16_t dport,
                              std::uint16_t tcp_flags) {
    if (ip_version != 4 && ip_version != 6) return;
    advance(ts_ns);
    const std::uint64_t ts = now_ns_;  // capture time, never backwards
    const bool syn = (tcp_flags & tcpflag::kSyn) != 0;
    const bool ack = (tcp_flags & tcpflag::kAck) != 0;
    const bool rst = (tcp_flags & tcpflag::kRst) != 0;
    if (syn && !ack && !rst) {
        // A flood sends SYN after SYN to one victim: its entries are those of
        // the last SYN as long as no victim was evicted (find_or_add finding
        // both has no effect besides).
        std::uint32_t pv, av;
        const auto cached = [&](const Victim& c) {
            if (c.ip_version != ip_version) return false;
            return ip_version == 4 ? std::memcmp(c.addr, dst, 4) == 0
                                   : std::memcmp(c.addr, dst, 16) == 0;
        };
        if (syn_av_ != kNone && cached(victims_[syn_av_]) &&
            (dport == 0 || (syn_pv_ != kNone && victims_[syn_pv_].port == dport))) {
            pv = dport != 0 ? syn_pv_ : kNone;
            av = syn_av_;
        } else {
            const std::uint64_t evicted = evicted_;
            pv = dport != 0 ? find_or_add(ip_version, dst, dport) : kNone;
            av = find_or_add(ip_version, dst, 0);
            syn_pv_ = pv;
            syn_av_ = evicted_ == evicted ? av : kNone;
        }
        RecentSyn& r = recent_[recent_pos_];
        recent_pos_ = (recent_pos_ + 1) % kRecent;
        r.victim[0] = pv;
        r.victim[1] = av;
        r.gen[0] = pv != kNone ? victims_[pv].gen : 0;
        r.gen[1] = av != kNone ? victims_[av].gen : 0;
        r.ip_version = static_cast<std::uint8_t>(ip_version);
        if (ip_version == 4) {
            std::memcpy(r.src, src, 4);
        } else {
            std::memcpy(r.src, src, 16);
        }
        std::uint64_t src_hash = 0;  // computed by the first tracker that needs it
        if (pv != kNone) syn_to(pv, kNone, ts, ip_version, src, src_hash);
        if (av != kNone) syn_to(av, pv, ts, ip_version, src, src_hash);
    } else if ((syn && ack) || rst) {
        const bool synack = syn && ack;
        if (sport != 0) {
            const std::uint32_t pv =
                find(ip_version, src, sport, hash_key(ip_version, src, sport, 0));
            if (pv != kNone) answer_from(pv, ts, synack, rst);
        }
        const std::uint32_t av = find(ip_version, src, 0, hash_key(ip_version, src, 0, 0));
        if (av != kNone) answer_from(av, ts, synack, rst);
    }
}

// src_hash: source_hash(ver, src), or 0 if not computed yet.
void SynFloodDetector::syn_to(std::uint32_t vi, std::uint32_t port_vi, std::uint64_t ts, int ver,
                              const std::uint8_t* src, std::uint64_t& src_hash) {
    Victim& v = victims_[vi];
    roll(v, ts / kSecond);
    if (v.cur.syns == 0) v.cur.first_ns = ts;
    ++v.cur.syns;
    const bool had_tracker = v.tracker != kNone;
    if (had_tracker && trackers_[v.tracker].alerting) {
        Tracker& t = trackers_[v.tracker];
        ++t.alert.syns;
        const std::uint64_t i = ts / kSecond - t.start_w;
        if (i < SynFloodAlert::kChart) ++t.alert.rate[i];
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
    if (!surely_over) r = rates(v, ts);
    if (surely_over || over(r, 1.0, opts_.max_completion)) {
        bool concentrated = false;  // address-wide: leave a one-port flood to its port
        if (v.port == 0) {
            concentrated = v.open_port_alerts != 0;
            if (!concentrated && port_vi != kNone) {
                if (surely_over) r = rates(v, ts);
                concentrated = rates(victims_[port_vi], ts).syns >= 0.5 * r.syns;
            }
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
                if (!t.alerting) start_alert(vi, ts);
            }
        }
    } else if (v.tracker == kNone && over(r, 0.25, std::min(1.0, 2 * opts_.max_completion))) {
        take_tracker(vi, false);
    }
    // A tracker taken now replayed this SYN from the recent ones already.
    if (had_tracker && v.tracker != kNone) {
        if (src_hash == 0) src_hash = source_hash(ver, src);
        add_source(v.tracker, ver, src, src_hash);
    }
}

void SynFloodDetector::answer_from(std::uint32_t vi, std::uint64_t ts, bool synack, bool rst) {
    Victim& v = victims_[vi];
    roll(v, ts / kSecond);
    if (synack) ++v.cur.synacks;
    if (rst) ++v.cur.rsts;
    if (v.tracker != kNone && trackers_[v.tracker].alerting) {
        SynFloodAlert& a = trackers_[v.tracker].alert;
        if (synack) ++a.synacks;
        if (rst) ++a.rsts;
    }
}

void SynFloodDetector::completed(std::uint64_t ts_ns, int ip_version, const std::uint8_t* victim,
                                 std::uint16_t port) {
    if (ip_version != 4 && ip_version != 6) return;
    advance(ts_ns);
    const std::uint64_t ts = now_ns_;
    const std::uint16_t ports[2] = {port, 0};
    for (int k = port != 0 ? 0 : 1; k < 2; ++k) {
        const std::uint32_t vi =
            find(ip_version, victim, ports[k], hash_key(ip_version, victim, ports[k], 0));
        if (vi == kNone) continue;
        Victim& v = victims_[vi];
        roll(v, ts / kSecond);
        ++v.cur.completed;
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
    } else if (steal) {
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
        for (int k = 0; k < 2; ++k) {
            if (r.victim[k] == vi && r.gen[k] == v.gen) {
                add_source(ti, r.ip_version, r.src, source_hash(r.ip_version, r.src));
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

void SynFloodDetector::start_alert(std::uint32_t vi, std::uint64_t ts) {
    Victim& v = victims_[vi];
    Tracker& t = trackers_[v.tracker];
    t.alerting = true;
    t.last_above_ns = ts;
    SynFloodAlert& a = t.alert;
    a = SynFloodAlert{};
    a.ip_version = v.ip_version;
    std::memcpy(a.victim, v.addr, sizeof a.victim);
    a.port = v.port;
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
    // The top_k largest space-saving counters, largest first.
    a.ntop =
        t.sources.top(&source_words_[ti * synflood_detail::TopSources::words_for(source_slots_)],
                      source_slots_, opts_.top_k, a.top);
}

void SynFloodDetector::end_alert(std::uint32_t ti, std::uint64_t now) {
    Tracker& t = trackers_[ti];
    Victim& v = victims_[t.victim];
    roll(v, now / kSecond);
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
        if (t.alerting) {
            if (now - t.last_above_ns >= quiet_ns_) end_alert(ti, now);
        } else if (!over(rates(v, now), 0.25, std::min(1.0, 2 * opts_.max_completion))) {
            release_tracker(ti);
        }
    }
}

void SynFloodDetector::finish(std::uint64_t now_ns) {
    advance(now_ns);
    for (std::uint32_t ti = 0; ti < trackers_.size(); ++ti) {
        if (trackers_[ti].victim != kNone && trackers_[ti].alerting) end_alert(ti, now_ns_);
    }
}

}  // namespace wl
