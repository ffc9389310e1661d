// Synthetic traffic for the SYN-flood detector's tests: addresses as the bytes
// the decode stage hands over, TCP flags, and a sink that records every alert.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "analyzers/syn_flood.hpp"
#include "decode/tcp.hpp"

namespace flood_traffic {

using Addr = std::array<std::uint8_t, 16>;
constexpr std::uint64_t kSec = 1000000000ull;
constexpr std::uint16_t kSyn = wl::tcpflag::kSyn;
constexpr std::uint16_t kAck = wl::tcpflag::kAck;
constexpr std::uint16_t kSynAck = wl::tcpflag::kSyn | wl::tcpflag::kAck;
constexpr std::uint16_t kRstAck = wl::tcpflag::kRst | wl::tcpflag::kAck;

inline Addr v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    Addr x{};
    x[0] = a;
    x[1] = b;
    x[2] = c;
    x[3] = d;
    return x;
}

struct RecordingSink : wl::SynFloodSink {
    std::vector<wl::SynFloodAlert> started, ended;
    std::vector<wl::ScanAlert> scans_started, scans_ended;
    void alert_started(const wl::SynFloodAlert& a) override { started.push_back(a); }
    void alert_ended(const wl::SynFloodAlert& a) override { ended.push_back(a); }
    void scan_started(const wl::ScanAlert& a) override { scans_started.push_back(a); }
    void scan_ended(const wl::ScanAlert& a) override { scans_ended.push_back(a); }
};

}  // namespace flood_traffic
