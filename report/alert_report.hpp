// SYN-flood and scan alerts: an `alert` record when one starts and when it
// ends (JSON), a line as each fires and, for floods, a per-second SYN-rate
// chart per alert in the summary (text).
#pragma once

#include <vector>

#include "analyzers/syn_flood.hpp"
#include "report/out_buffer.hpp"

namespace wl {

class AlertReporter : public SynFloodSink {
  public:
    // Ended alerts kept for the text summary's charts; the count beyond is noted.
    static constexpr std::size_t kMaxCharts = 16;

    AlertReporter(OutBuffer& out, bool json) : out_(out), json_(json) {}
    // Stream mode: text lines carry the time the alert started or ended.
    void set_stream(bool on) { stream_ = on; }
    // Stream mode: the packet clock (the latest capture time the pipeline has
    // reached), which begins every stream line and is every stream record's
    // ts_logged, so that they never go backwards; the event's own time is beside.
    void set_clock(const std::uint64_t* clock) { clock_ = clock; }
    void alert_started(const SynFloodAlert& a) override;
    void alert_ended(const SynFloodAlert& a) override;
    void scan_started(const ScanAlert& a) override;
    void scan_ended(const ScanAlert& a) override;
    void finish();

  private:
    void write_json(const SynFloodAlert& a, const char* state);
    void write_scan_json(const ScanAlert& a, const char* state);
    void write_scan_text(const ScanAlert& a, const char* state);
    OutBuffer& out_;
    bool json_;
    bool stream_ = false;
    const std::uint64_t* clock_ = nullptr;
    std::uint64_t now() const { return clock_ != nullptr ? *clock_ : 0; }
    std::vector<SynFloodAlert> ended_;
    std::uint64_t not_charted_ = 0;
};

}  // namespace wl
