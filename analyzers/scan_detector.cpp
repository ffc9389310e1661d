#include "analyzers/scan_detector.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace wl {

namespace {

constexpr std::uint32_t kNone = 0xffffffffu;

std::size_t addr_len(int ver) {
    return ver == 6 ? 16 : 4;
}

// A host folded to 32 bits: exact for IPv4.
std::uint32_t fold(int ver, const std::uint8_t* a) {
    std::uint32_t w[4] = {};
    std::memcpy(w, a, addr_len(ver));
    return w[0] ^ w[1] ^ w[2] ^ w[3];
}

// The last 16 bits of a host: the address scan's bitmap index.
std::uint32_t low16(int ver, const std::uint8_t* a) {
    const std::size_t n = addr_len(ver);
    return std::uint32_t{a[n - 2]} << 8 | a[n - 1];
}

bool test_and_set(std::uint64_t* bits, std::uint32_t i) {
    std::uint64_t& w = bits[i / 64];
    const std::uint64_t m = std::uint64_t{1} << (i % 64);
    const bool was = (w & m) != 0;
    w |= m;
    return was;
}

}  // namespace

ScanDetector::ScanDetector(const ScanOptions& opts, ScanSink& sink) : opts_(opts), sink_(sink) {
    opts_.port_threshold = std::max<std::uint32_t>(opts_.port_threshold, 2);
    opts_.addr_threshold = std::max<std::uint32_t>(opts_.addr_threshold, 2);
    opts_.scanners = std::clamp<std::uint32_t>(opts_.scanners, 1, 255);
    const std::uint64_t ncand = std::bit_ceil(std::max<std::uint64_t>(opts_.candidates, 2));
    interval_ns_ = static_cast<std::uint64_t>(std::max(opts_.interval_seconds, 1.0) * 1e9);
    quiet_ns_ = static_cast<std::uint64_t>(std::max(opts_.quiet_seconds, 1.0) * 1e9);
    candidates_.resize(ncand);
    candidate_mask_ = ncand - 1;
    scanners_.resize(opts_.scanners);
    tried_.assign(std::size_t{opts_.scanners} * kBitmapWords, 0);
    open_.assign(std::size_t{opts_.scanners} * kBitmapWords, 0);
}

std::uint64_t ScanDetector::memory_bound(const ScanOptions& o) {
    const std::uint64_t ncand = std::bit_ceil(std::max<std::uint64_t>(o.candidates, 2));
    const std::uint64_t nscan = std::clamp<std::uint32_t>(o.scanners, 1, 255);
    return ncand * sizeof(Candidate) + nscan * (sizeof(Scanner) + 2 * kBitmapWords * 8);
}

std::size_t ScanDetector::memory_bytes() const {
    return candidates_.capacity() * sizeof(Candidate) + scanners_.capacity() * sizeof(Scanner) +
           (tried_.capacity() + open_.capacity()) * sizeof(std::uint64_t);
}

bool ScanDetector::syn(std::uint64_t ts, int ver, const std::uint8_t* src, std::uint64_t src_hash,
                       const std::uint8_t* dst, std::uint16_t dport) {
    if (!opts_.enabled) return false;
    const std::uint32_t ci = static_cast<std::uint32_t>(src_hash & candidate_mask_);
    Candidate& c = candidates_[ci];
    const std::uint32_t tag = static_cast<std::uint32_t>(src_hash >> 32) | 1u;
    const std::uint32_t host = fold(ver, dst);
    if (c.tag == tag) {
        if (c.vertical == kPromoted) return scanner_syn(c.horizontal, ts, ver, dst, dport);
        if (ts - c.since_ns > interval_ns_) {
            c.vertical = c.horizontal = 0;
            c.since_ns = ts;
        } else if (host == c.host) {
            if (dport != c.port && c.vertical < kPromoted - 1) ++c.vertical;
        } else if (dport == c.port && c.horizontal < kPromoted - 1) {
            ++c.horizontal;
        }
        c.host = host;
        c.port = dport;
        // Followed in detail from half the thresholds on, so the SYN-ACKs of
        // open ports are seen before an alert is due.
        const bool vertical = c.vertical >= std::max<std::uint32_t>(opts_.port_threshold / 2, 2);
        if (vertical || c.horizontal >= std::max<std::uint32_t>(opts_.addr_threshold / 2, 2)) {
            const std::uint32_t before = vertical ? c.vertical : c.horizontal;
            const std::uint32_t si = promote(ci, ts, ver, src, dst, dport, vertical, before);
            if (si != kNone) return scanner_syn(si, ts, ver, dst, dport);
        }
        return false;
    }
    // Another source: it takes the slot from one that has shown nothing, and
    // otherwise wears it down (one step of Misra-Gries), so a scanner keeps its
    // slot through a spoofed flood's stream of one-SYN sources.
    if (c.vertical == kPromoted) return false;
    if (c.tag == 0 || (c.vertical == 0 && c.horizontal == 0) || ts - c.since_ns > interval_ns_) {
        c = Candidate{tag, host, dport, 0, 0, ts};
    } else {
        if (c.vertical != 0) --c.vertical;
        if (c.horizontal != 0) --c.horizontal;
    }
    return false;
}

std::uint32_t ScanDetector::promote(std::uint32_t ci, std::uint64_t ts, int ver,
                                    const std::uint8_t* src, const std::uint8_t* dst,
                                    std::uint16_t dport, bool vertical, std::uint32_t before) {
    const std::uint32_t si = free_scanner();
    if (si == kNone) return kNone;
    Candidate& c = candidates_[ci];
    Scanner& s = scanners_[si];
    s = Scanner{};
    s.in_use = true;
    s.candidate = ci;
    s.last_ns = ts;
    std::memset(&tried_[std::size_t{si} * kBitmapWords], 0, kBitmapWords * 8);
    std::memset(&open_[std::size_t{si} * kBitmapWords], 0, kBitmapWords * 8);
    ScanAlert& a = s.alert;
    a.kind = vertical ? ScanAlert::kPortScan : ScanAlert::kAddressScan;
    a.ip_version = static_cast<std::uint8_t>(ver);
    std::memcpy(a.scanner, src, addr_len(ver));
    std::memcpy(a.target, dst, addr_len(ver));
    a.port = vertical ? 0 : dport;
    a.ts_start_ns = c.since_ns;
    // The targets seen before, one SYN each (the candidate kept no more).
    a.tried = before;
    a.syns = before;
    c.vertical = kPromoted;
    c.horizontal = static_cast<std::uint8_t>(si);
    ++in_use_;
    return si;
}

bool ScanDetector::scanner_syn(std::uint32_t si, std::uint64_t ts, int ver, const std::uint8_t* dst,
                               std::uint16_t dport) {
    Scanner& s = scanners_[si];
    ScanAlert& a = s.alert;
    s.last_ns = ts;
    std::uint32_t bit;
    if (a.kind == ScanAlert::kPortScan) {
        if (a.ip_version != ver || std::memcmp(a.target, dst, addr_len(ver)) != 0) {
            return !s.demoted;
        }
        bit = dport;
    } else {
        if (dport != a.port) return !s.demoted;
        bit = low16(ver, dst);
    }
    ++a.syns;
    a.ts_end_ns = ts;
    if (!test_and_set(&tried_[std::size_t{si} * kBitmapWords], bit)) ++a.tried;
    // Many SYNs to each target: a flood (a single-source one spread over
    // hosts or ports), whose SYNs the flood detector should count.
    if (!s.alerting && a.syns > 4 * std::uint64_t{a.tried} + 16) s.demoted = true;
    return !s.demoted;
}

void ScanDetector::synack(int ver, const std::uint8_t* src, std::uint16_t sport,
                          const std::uint8_t* dst, std::uint64_t dst_hash) {
    const Candidate& c = candidates_[dst_hash & candidate_mask_];
    const std::uint32_t tag = static_cast<std::uint32_t>(dst_hash >> 32) | 1u;
    if (c.tag != tag || c.vertical != kPromoted) return;
    Scanner& s = scanners_[c.horizontal];
    ScanAlert& a = s.alert;
    if (a.ip_version != ver || std::memcmp(a.scanner, dst, addr_len(ver)) != 0) return;
    std::uint32_t bit;
    if (a.kind == ScanAlert::kPortScan) {
        if (std::memcmp(a.target, src, addr_len(ver)) != 0) return;
        bit = sport;
    } else {
        if (sport != a.port) return;
        bit = low16(ver, src);
    }
    if (test_and_set(&open_[std::size_t{c.horizontal} * kBitmapWords], bit)) return;
    ++a.open;
    if (a.nopen_listed < ScanAlert::kOpenListed) {
        a.open_ports[a.nopen_listed] = sport;
        std::memcpy(a.open_hosts[a.nopen_listed], src, addr_len(ver));
        ++a.nopen_listed;
    }
}

void ScanDetector::sweep(std::uint64_t now) {
    if (in_use_ == 0) return;
    for (std::uint32_t si = 0; si < scanners_.size(); ++si) {
        Scanner& s = scanners_[si];
        if (!s.in_use) continue;
        ScanAlert& a = s.alert;
        if (now - s.last_ns >= quiet_ns_) {
            if (s.alerting) end(si);
            release(si);
            continue;
        }
        if (!start_if_due(si) && !s.alerting && now - a.ts_start_ns > interval_ns_) {
            release(si);  // too slow to be a scan: start counting afresh
        }
    }
}

// Starts the alert of a scanner whose failed attempts reached the threshold.
bool ScanDetector::start_if_due(std::uint32_t si) {
    Scanner& s = scanners_[si];
    const ScanAlert& a = s.alert;
    if (s.alerting || s.demoted) return false;
    const std::uint32_t failed = a.tried > a.open ? a.tried - a.open : 0;
    const std::uint32_t need =
        a.kind == ScanAlert::kPortScan ? opts_.port_threshold : opts_.addr_threshold;
    if (failed < need) return false;
    s.alerting = true;
    ++alerts_;
    sink_.scan_started(a);
    return true;
}

void ScanDetector::end(std::uint32_t si) {
    Scanner& s = scanners_[si];
    s.alert.ended = true;
    sink_.scan_ended(s.alert);
    s.alerting = false;
}

void ScanDetector::release(std::uint32_t si) {
    Scanner& s = scanners_[si];
    Candidate& c = candidates_[s.candidate];
    if (c.vertical == kPromoted && c.horizontal == si) c = Candidate{};
    s.in_use = false;
    --in_use_;
}

// A free scanner entry, or the one idle longest (quiet scanners before those
// with an open alert, which ends).
std::uint32_t ScanDetector::free_scanner() {
    std::uint32_t best = kNone;
    for (std::uint32_t si = 0; si < scanners_.size(); ++si) {
        const Scanner& s = scanners_[si];
        if (!s.in_use) return si;
        if (best == kNone) {
            best = si;
            continue;
        }
        const Scanner& b = scanners_[best];
        if (s.alerting != b.alerting ? !s.alerting : s.last_ns < b.last_ns) best = si;
    }
    if (scanners_[best].alerting) end(best);
    release(best);
    ++evicted_;
    return best;
}

void ScanDetector::finish(std::uint64_t) {
    for (std::uint32_t si = 0; si < scanners_.size(); ++si) {
        if (!scanners_[si].in_use) continue;
        start_if_due(si);
        if (scanners_[si].alerting) end(si);
    }
}

}  // namespace wl
