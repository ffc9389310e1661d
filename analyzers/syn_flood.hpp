// The SYN-flood detector: follows SYNs, SYN-ACKs, RSTs and completed handshakes
// per victim (address and port, address over all ports, and destination
// prefix) in 1-second windows of capture time and in a model of the victim's
// half-open queue, and reports a flood when SYNs are many, or the queue full,
// and few of them complete. A scanner's SYNs are left to the scan detector. Every table is sized in
// the constructor: a flood of any size costs time, never memory, and a file and a live capture give
// the same answer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "analyzers/scan_detector.hpp"

namespace wl {

struct SynFloodOptions {
    // SYNs per second to one victim (sliding 1 s window) to consider it flooded ...
    double min_syn_rate = 1000;
    // ... when at most this share of them complete the handshake.
    double max_completion = 0.2;
    // Or: more than this many half-open SYNs (neither completed nor reset) in
    // the window, with the same completion share.
    std::uint32_t min_half_open = 500;
    double quiet_seconds = 5;      // an alert ends after this long below the thresholds
    std::uint32_t victims = 4096;  // victims (address+port, address) followed at once
    std::uint32_t detailed = 64;   // victims with source details at once (and open alerts)
    std::uint32_t top_k = 10;      // top sources reported, at most SynFloodAlert::kTop
    // The half-open queue model: a SYN neither completed nor reset holds a place
    // in its victim's queue for the SYN-ACK retry lifetime (Linux: 1+2+4+8+16+32
    // = 63 s with tcp_synack_retries 5; whole seconds, 1 to 64) ...
    double synack_lifetime = 63;
    // ... and a victim whose modelled queue passes this, with the same
    // completion share, is flooded (511: the listen() backlog of nginx,
    // Apache httpd, Node.js and Redis; Linux logs "Possible SYN flooding" when
    // the queue of a listener is full).
    std::uint32_t backlog = 511;
    // Destination prefixes followed as victims too (carpet bombing); 0: none.
    std::uint8_t prefix_v4 = 24, prefix_v6 = 64;
    ScanOptions scan;
};

struct SynFloodAlert {
    static constexpr int kTop = 10;
    static constexpr int kChart = 120;
    // What made the victim flooded: the SYN rate, the half-open SYNs of one
    // second, or the modelled half-open queue.
    enum Trigger : std::uint8_t { kSynRate, kHalfOpen, kQueue };

    std::uint8_t ip_version = 0;
    std::uint8_t victim[16] = {};   // IPv4: the first 4 bytes
    std::uint8_t prefix_len = 0;    // a prefix victim's length (0: one address)
    std::uint16_t port = 0;         // 0: all ports of the address (or prefix)
    std::uint64_t ts_start_ns = 0;  // first SYN of the first window of the alert
    std::uint64_t ts_end_ns = 0;    // last time the victim was over the thresholds
    std::uint64_t syns = 0, synacks = 0, rsts = 0, completed = 0;
    double peak_syn_rate = 0;            // SYNs in the busiest 1 s window
    double completion_ratio = 0;         // completed / syns
    std::uint64_t distinct_sources = 0;  // HyperLogLog estimate
    struct Source {
        std::uint8_t ip_version;
        std::uint8_t addr[16];
        std::uint64_t syns;  // space-saving count: may overestimate by the evicted minimum
    } top[kTop] = {};
    std::uint32_t ntop = 0;
    bool spoofed = false;  // many sources each sending few SYNs (distinct_sources > syns / 4)
    // SYNs per second, one per 1 s window from the first; the first kChart seconds.
    std::uint32_t rate[kChart] = {};
    std::uint32_t nrate = 0;
    Trigger trigger = kSynRate;
    double detected_after = 0;     // seconds from the episode's first SYN to the alert
    std::uint32_t peak_queue = 0;  // the largest modelled half-open queue
    // Hop-count consistency (Jin, Wang and Shin 2003): SYNs from a source seen
    // before in an established exchange, and those whose TTL puts the source at
    // another distance than that exchange did.
    std::uint64_t hop_checked = 0, hop_mismatch = 0;
    // A prefix victim: the addresses hit (told apart by their last byte: exact
    // within a /24) and the heaviest of them (space-saving, like top).
    std::uint32_t addresses_hit = 0;
    Source top_victims[kTop] = {};
    std::uint32_t ntop_victims = 0;
    bool ended = false;
};

// Scan alerts come through the same sink (ScanSink's members).
class SynFloodSink : public ScanSink {
  public:
    virtual ~SynFloodSink() = default;
    virtual void alert_started(const SynFloodAlert& a) = 0;
    virtual void alert_ended(const SynFloodAlert& a) = 0;
};

class SynFloodDetector;

namespace synflood_detail {

// Space-saving counters of the sources sending SYNs to one victim ("Efficient
// computation of frequent and top-k elements in data streams", Metwally et al.
// 2005): `slots` counters; a source without one takes the counter with the
// smallest count (the first such in slot order), counting on from there.
// The counters live in a caller's block of words_for(slots) words; this holds
// how many are in use and which hold the smallest count. A source found costs a
// compare of one tag byte per counter, eight at a time; the smallest count is
// kept as the set of counters holding it, rebuilt (one pass) only once all of
// them have been counted past it: amortized O(1) a SYN, found or not.
class TopSources {
  public:
    static constexpr std::uint32_t kMaxSlots = 32;  // the min set is a 32-bit mask
    // Per counter: the count, the address (16 bytes, zero-padded) and, in bytes,
    // its version and a tag (any byte derived from the address: a filter).
    // From 2 to kMaxSlots counters.
    static constexpr std::size_t words_for(std::uint32_t slots) { return 4 * std::size_t{slots}; }

    void clear() {
        used_ = 0;
        min_mask_ = 0;
    }
    std::uint32_t used() const { return used_; }
    // One SYN from `addr` (4 bytes for IPv4, 16 for IPv6).
    void add(std::uint64_t* block, std::uint32_t slots, int ver, const std::uint8_t* addr,
             std::uint8_t tag);
    // The at most k largest counters, largest first, into out. Orders the counters
    // as std::partial_sort on their counts always did (the order breaks later ties).
    std::uint32_t top(std::uint64_t* block, std::uint32_t slots, std::uint32_t k,
                      SynFloodAlert::Source* out);

  private:
    friend class wl::SynFloodDetector;
    // add, inlined where it is defined (the detector's per-SYN path).
    inline void count(std::uint64_t* block, std::uint32_t slots, int ver, const std::uint8_t* addr,
                      std::uint8_t tag);
    void find_min(const std::uint64_t* counts, std::uint32_t slots);

    std::uint32_t used_ = 0;
    std::uint32_t min_mask_ = 0;  // the counters holding the smallest count; 0: not known
};

}  // namespace synflood_detail

class SynFloodDetector {
  public:
    // The most memory a detector with these options holds, in bytes.
    static std::uint64_t memory_bound(const SynFloodOptions& opts);

    SynFloodDetector(const SynFloodOptions& opts, SynFloodSink& sink);

    // One TCP packet from its decoded headers: a SYN (no ACK) counts against
    // dst:dport; a SYN-ACK or a RST counts as the victim src:sport answering.
    // ttl: the IP TTL or hop limit (0: not known); a SYN's during a flood is
    // checked against the hop count its source completed a handshake from.
    void packet(std::uint64_t ts_ns, int ip_version, const std::uint8_t* src, std::uint16_t sport,
                const std::uint8_t* dst, std::uint16_t dport, std::uint16_t tcp_flags,
                std::uint8_t ttl = 0);
    // A handshake to victim:port completed (the flow stage knows); client (if
    // not null) completed it with a packet of this TTL (0: not known): it is
    // who it says, at the distance that tells (its SYNs during a flood are
    // checked against it).
    void completed(std::uint64_t ts_ns, int ip_version, const std::uint8_t* victim,
                   std::uint16_t port, const std::uint8_t* client = nullptr,
                   std::uint8_t client_ttl = 0);
    // Capture time passes: ends quiet alerts, returns idle trackers.
    void advance(std::uint64_t now_ns);
    // End of input: ends every open alert.
    void finish(std::uint64_t now_ns);

    std::uint64_t alerts() const { return alerts_; }
    std::uint64_t scan_alerts() const { return scans_.alerts(); }
    std::uint64_t scanners_evicted() const { return scans_.evicted(); }
    std::uint64_t victims_evicted() const { return evicted_; }
    // Victims over the thresholds that found no tracker free (no alert for them).
    std::uint64_t untracked() const { return untracked_; }
    // Bytes the detector holds; fixed after construction.
    std::size_t memory_bytes() const;

  private:
    static constexpr std::uint32_t kNone = 0xffffffffu;
    static constexpr int kHllBits = 10;
    static constexpr std::uint32_t kHllRegisters = 1u << kHllBits;
    static constexpr std::uint32_t kRecent = 4096;      // SYNs replayed into a new tracker
    static constexpr std::uint32_t kQueueSeconds = 64;  // the longest SYN-ACK lifetime modelled
    static constexpr std::uint32_t kHops = 16384;       // sources whose hop count is kept

    struct Window {
        std::uint32_t syns = 0, synacks = 0, rsts = 0, completed = 0;
        std::uint64_t first_ns = 0;  // first SYN
    };
    struct Victim {
        std::uint64_t hash = 0;
        std::uint64_t w = 0;  // index of the current window (seconds)
        Window cur, prev;
        std::uint32_t gen = 0;  // bumped on reuse, so recent SYNs of an old victim don't count
        std::uint32_t tracker = kNone;
        std::uint32_t open_port_alerts = 0;  // address or prefix: alerts inside it
        std::uint16_t port = 0;
        std::uint8_t ip_version = 0;
        std::uint8_t prefix = 0;  // a prefix victim's length (addr: the prefix), 0: none
        std::uint8_t addr[16] = {};
        // The modelled half-open queue: SYNs per second of the last life_
        // seconds (in qslots_, kQueueSeconds per victim: second %
        // kQueueSeconds), less those completed or reset.
        std::uint32_t queue = 0;
        std::uint64_t qw = 0;          // the second of the newest slot
        std::uint64_t episode_ns = 0;  // first SYN since the queue was last empty
    };
    struct Tracker {
        std::uint32_t victim = kNone;
        bool alerting = false;
        std::uint64_t start_w = 0;
        std::uint64_t last_above_ns = 0;
        synflood_detail::TopSources sources;  // its counters: source_words_ of this tracker
        synflood_detail::TopSources dests;    // a prefix's addresses hit: dest_words_
        SynFloodAlert alert;
    };
    struct RecentSyn {
        std::uint32_t victim[3];  // port entry, address entry, prefix entry (kNone: none)
        std::uint32_t gen[3];
        std::uint8_t ip_version;
        std::uint8_t src[16];
    };
    struct Rates {
        double syns, completed, rsts;
    };

    std::uint32_t find(int ver, const std::uint8_t* addr, std::uint16_t port, std::uint64_t hash,
                       std::uint8_t prefix = 0) const;
    std::uint32_t find_or_add(int ver, const std::uint8_t* addr, std::uint16_t port,
                              std::uint8_t prefix = 0);
    std::uint8_t prefix_of(int ver) const { return ver == 6 ? opts_.prefix_v6 : opts_.prefix_v4; }
    // The prefix victim of dst (kNone: none, or prefixes not followed).
    std::uint32_t find_prefix(int ver, const std::uint8_t* dst, bool add);
    void qroll(Victim& v, std::uint64_t w);
    void qremove(Victim& v);
    void qclear(Victim& v);
    // A victim's queue slots, and a prefix's bitmap of the last bytes of the
    // addresses hit: beside the table, so evictions scan compact entries.
    std::uint32_t* qslots(const Victim& v) {
        return &qslots_[static_cast<std::size_t>(&v - victims_.data()) * kQueueSeconds];
    }
    const std::uint64_t* hits(const Victim& v) const {
        return &hits_[static_cast<std::size_t>(&v - victims_.data()) * 4];
    }
    std::uint32_t evict_one();
    void erase_slot(std::uint32_t idx);
    void roll(Victim& v, std::uint64_t w);
    Rates rates(const Victim& v, std::uint64_t ts) const;
    bool over(const Rates& r, double scale, double max_completion) const;
    // inner_vi: the victim inside this one the SYN went to (an address's port,
    // a prefix's address); outer_vi: the prefix around it (kNone: none).
    void syn_to(std::uint32_t vi, std::uint32_t inner_vi, std::uint32_t outer_vi, std::uint64_t ts,
                int ver, const std::uint8_t* src, std::uint64_t src_hash, int hops);
    bool inside_alert(const Victim& v, std::uint32_t outer_vi, std::uint64_t ts) const;
    void answer_from(std::uint32_t vi, std::uint64_t ts, bool synack, bool rst);
    std::uint32_t take_tracker(std::uint32_t vi, bool steal);
    void release_tracker(std::uint32_t ti);
    void add_source(std::uint32_t ti, int ver, const std::uint8_t* src, std::uint64_t hash);
    void add_dest(std::uint32_t ti, const Victim& addr_victim);
    void start_alert(std::uint32_t vi, std::uint64_t ts, SynFloodAlert::Trigger trigger);
    void end_alert(std::uint32_t ti, std::uint64_t now);
    void summarize(std::uint32_t ti);
    std::uint64_t hll_estimate(std::uint32_t ti) const;
    void sweep(std::uint64_t now);

    SynFloodOptions opts_;
    SynFloodSink& sink_;
    std::uint64_t quiet_ns_;
    std::vector<Victim> victims_;
    std::vector<std::uint32_t> slots_;   // open addressing, linear probing: victim index + 1
    std::vector<std::uint32_t> qslots_;  // kQueueSeconds per victim
    std::vector<std::uint64_t> hits_;    // 4 per victim (256 bits)
    std::uint64_t slot_mask_ = 0;
    std::vector<std::uint32_t> free_victims_;
    std::uint32_t evict_cursor_ = 0;
    // The victims of the last SYN's destination, address+port and address
    // (kNone: none cached); only a new victim evicts one, and then this is reset.
    std::uint32_t syn_pv_ = kNone;
    std::vector<Tracker> trackers_;
    std::vector<std::uint8_t> hll_;            // kHllRegisters per tracker
    std::vector<std::uint64_t> source_words_;  // TopSources::words_for(2 * top_k) per tracker
    std::vector<std::uint64_t> dest_words_;    // as many, for prefix victims' addresses
    std::vector<std::uint32_t> free_trackers_;
    std::uint32_t source_slots_ = 0;
    std::uint32_t syn_av_ = kNone;
    std::uint32_t syn_xv_ = kNone;
    std::uint32_t life_ = 63;     // seconds a SYN stays in the modelled queue
    std::uint32_t alerting_ = 0;  // trackers alerting
    // Hop counts learnt from handshakes, direct-mapped by source hash: the hash's
    // upper 24 bits, then the hop count (0: empty).
    std::vector<std::uint32_t> hops_;
    bool hops_learnt_ = false;  // any: a flood in a capture without exchanges skips the look-up
    ScanDetector scans_;
    std::vector<RecentSyn> recent_;
    std::uint32_t recent_pos_ = 0;
    std::uint64_t now_ns_ = 0;
    std::uint64_t swept_w_ = 0;
    std::uint64_t alerts_ = 0, evicted_ = 0, untracked_ = 0;
};

}  // namespace wl
