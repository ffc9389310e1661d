// The scan detector: one source trying many ports of one host (a port scan,
// vertical) or one port of many hosts (an address scan, horizontal). Its SYNs
// are not a flood's: the SYN-flood detector asks this one about every SYN and
// leaves a scanner's out of its victims' counts. Thresholds after Zeek's scan
// policy (policy/misc/scan.zeek): 15 ports or 25 hosts whose attempts failed
// within 5 minutes. Every table is sized in the constructor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace wl {

struct ScanOptions {
    bool enabled = true;
    // Distinct ports of one host, or hosts on one port, not answered with a
    // SYN-ACK (refused or unanswered) that make a scan (Zeek: port_scan_threshold
    // 15, addr_scan_threshold 25) ...
    std::uint32_t port_threshold = 15;
    std::uint32_t addr_threshold = 25;
    // ... within this many seconds (Zeek: 5 min for both).
    double interval_seconds = 300;
    // A scan alert ends once its scanner sent no SYN for this long.
    double quiet_seconds = 60;
    std::uint32_t candidates = 4096;  // sources followed cheaply (power of two)
    std::uint32_t scanners = 32;      // sources followed in detail, open alerts included (<= 255)
};

struct ScanAlert {
    enum Kind : std::uint8_t { kPortScan, kAddressScan };
    static constexpr int kOpenListed = 16;

    Kind kind = kPortScan;
    std::uint8_t ip_version = 0;
    std::uint8_t scanner[16] = {};
    // Port scan: the host scanned. Address scan: the first host tried.
    std::uint8_t target[16] = {};
    std::uint16_t port = 0;                        // address scan: the port tried
    std::uint64_t ts_start_ns = 0, ts_end_ns = 0;  // first and last SYN to the target
    std::uint64_t syns = 0;                        // SYNs to the target
    // Ports (port scan) or hosts (address scan) tried, and of them those that
    // answered with a SYN-ACK (open). Hosts are told apart by their last 16
    // bits: exact within a /16.
    std::uint32_t tried = 0, open = 0;
    std::uint16_t open_ports[kOpenListed] = {};     // port scan: the first open ports
    std::uint8_t open_hosts[kOpenListed][16] = {};  // address scan: the first open hosts
    std::uint32_t nopen_listed = 0;
    bool ended = false;
};

class ScanSink {
  public:
    virtual ~ScanSink() = default;
    virtual void scan_started(const ScanAlert&) {}
    virtual void scan_ended(const ScanAlert&) {}
};

class ScanDetector {
  public:
    static std::uint64_t memory_bound(const ScanOptions& opts);

    ScanDetector(const ScanOptions& opts, ScanSink& sink);

    // A SYN from src (src_hash: any 64-bit hash of it) to dst:dport. True when
    // src is a scanner: the SYN is part of a scan, not of a flood.
    bool syn(std::uint64_t ts_ns, int ver, const std::uint8_t* src, std::uint64_t src_hash,
             const std::uint8_t* dst, std::uint16_t dport);
    // Whether any source is followed in detail (synack() has something to do).
    bool following() const { return in_use_ != 0; }
    // A SYN-ACK from src:sport to dst (dst_hash as src_hash in syn()).
    void synack(int ver, const std::uint8_t* src, std::uint16_t sport, const std::uint8_t* dst,
                std::uint64_t dst_hash);
    // Once a second of capture time: starts and ends alerts.
    void sweep(std::uint64_t now_ns);
    // End of input: ends every open alert.
    void finish(std::uint64_t now_ns);

    std::uint64_t alerts() const { return alerts_; }
    // Sources followed in detail that gave way to another (their alert ended).
    std::uint64_t evicted() const { return evicted_; }
    std::size_t memory_bytes() const;

  private:
    static constexpr std::uint8_t kPromoted = 0xff;
    static constexpr std::uint32_t kBitmapWords = 65536 / 64;

    // A source seen sending SYNs: how often its target changed in the port
    // alone (vertical) or in the host alone (horizontal). Direct-mapped by
    // the source's hash; promoted: followed by scanner `horizontal`.
    struct Candidate {
        std::uint32_t tag = 0;   // 0: empty
        std::uint32_t host = 0;  // the last host tried, folded to 32 bits
        std::uint16_t port = 0;  // the last port tried
        std::uint8_t vertical = 0, horizontal = 0;
        std::uint64_t since_ns = 0;  // the first SYN counted
    };
    struct Scanner {
        std::uint32_t candidate = 0;
        bool in_use = false, alerting = false;
        // Sending many SYNs to few targets: a flood's source, not a scanner.
        bool demoted = false;
        std::uint64_t last_ns = 0;
        ScanAlert alert;  // the scan as far as seen, alert or not
    };

    std::uint32_t promote(std::uint32_t ci, std::uint64_t ts, int ver, const std::uint8_t* src,
                          const std::uint8_t* dst, std::uint16_t dport, bool vertical,
                          std::uint32_t before);
    bool scanner_syn(std::uint32_t si, std::uint64_t ts, int ver, const std::uint8_t* dst,
                     std::uint16_t dport);
    bool start_if_due(std::uint32_t si);
    std::uint32_t free_scanner();
    void end(std::uint32_t si);
    void release(std::uint32_t si);

    ScanOptions opts_;
    ScanSink& sink_;
    std::uint64_t interval_ns_, quiet_ns_;
    std::vector<Candidate> candidates_;
    std::uint64_t candidate_mask_ = 0;
    std::vector<Scanner> scanners_;
    std::vector<std::uint64_t> tried_, open_;  // kBitmapWords per scanner
    std::uint32_t in_use_ = 0;
    std::uint64_t alerts_ = 0, evicted_ = 0;
};

}  // namespace wl
