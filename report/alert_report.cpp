#include "report/alert_report.hpp"

#include <algorithm>
#include <cstdio>

#include "report/conn_report.hpp"

namespace wl {

namespace {

void put_victim(OutBuffer& out, const SynFloodAlert& a) {
    if (a.ip_version == 6) {
        out.put('[').put_ipv6(a.victim).put(']');
    } else {
        out.put_ipv4(a.victim);
    }
    if (a.port != 0) {
        out.put(':').put_u64(a.port);
    } else {
        out.put(" (all ports)");
    }
}

}  // namespace

void AlertReporter::write_json(const SynFloodAlert& a, const char* state) {
    out_.put("{\"type\":\"alert\",\"kind\":\"syn_flood\",\"state\":\"").put(state);
    out_.put("\",\"victim\":\"").put_ip(a.victim, a.ip_version == 6 ? 6 : 4);
    out_.put("\",\"port\":").put_u64(a.port);
    out_.put(",\"ts_start\":").put_ts(a.ts_start_ns);
    if (a.ended) out_.put(",\"ts_end\":").put_ts(a.ts_end_ns);
    out_.put(",\"syns\":").put_u64(a.syns).put(",\"synacks\":").put_u64(a.synacks);
    out_.put(",\"rsts\":").put_u64(a.rsts).put(",\"completed\":").put_u64(a.completed);
    out_.put(",\"peak_syn_rate\":").put_fixed(a.peak_syn_rate, 1);
    out_.put(",\"completion_ratio\":").put_fixed(a.completion_ratio, 4);
    // An estimate: never more sources than SYNs.
    out_.put(",\"distinct_sources\":").put_u64(std::min(a.distinct_sources, a.syns));
    out_.put(",\"top_sources\":[");
    for (std::uint32_t i = 0; i < a.ntop; ++i) {
        if (i) out_.put(',');
        out_.put("{\"addr\":\"").put_ip(a.top[i].addr, a.top[i].ip_version == 6 ? 6 : 4);
        // Space-saving counts are upper bounds (exact for a source that stays on top).
        out_.put("\",\"syns_at_most\":").put_u64(a.top[i].syns).put('}');
    }
    out_.put("],\"spoofed\":").put(a.spoofed ? "true" : "false");
    if (a.ended) {
        out_.put(",\"syn_rate\":[");
        for (std::uint32_t i = 0; i < a.nrate; ++i) {
            if (i) out_.put(',');
            out_.put_u64(a.rate[i]);
        }
        out_.put(']');
    }
    out_.put("}\n");
}

void AlertReporter::alert_started(const SynFloodAlert& a) {
    if (json_) {
        write_json(a, "start");
        return;
    }
    if (stream_) put_clock(out_, a.ts_start_ns, true).put(' ');
    out_.put("ALERT syn_flood start ");
    put_victim(out_, a);
    out_.put(": ").put_fixed(a.peak_syn_rate, 0).put(" SYN/s, ");
    out_.put_fixed(100.0 * a.completion_ratio, 1).put("% completed, ~");
    out_.put_u64(std::min(a.distinct_sources, a.syns)).put(" sources\n");
}

void AlertReporter::alert_ended(const SynFloodAlert& a) {
    if (json_) {
        write_json(a, "end");
        return;
    }
    if (stream_) put_clock(out_, a.ts_end_ns, true).put(' ');
    out_.put("ALERT syn_flood end   ");
    put_victim(out_, a);
    out_.put(": ").put_u64(a.syns).put(" SYNs over ");
    out_.put_fixed(static_cast<double>(a.ts_end_ns - a.ts_start_ns) / 1e9, 1).put(" s\n");
    if (ended_.size() < kMaxCharts) {
        ended_.push_back(a);
    } else {
        ++not_charted_;
    }
}

void AlertReporter::finish() {
    if (json_ || (ended_.empty() && not_charted_ == 0)) return;
    out_.put("\nSYN floods\n");
    for (const SynFloodAlert& a : ended_) {
        out_.put("  ");
        put_victim(out_, a);
        out_.put(a.spoofed ? "  spoofed" : "  concentrated").put(", ").put_u64(a.syns);
        out_.put(" SYNs, peak ").put_fixed(a.peak_syn_rate, 0).put("/s, ");
        out_.put_fixed(100.0 * a.completion_ratio, 1).put("% completed, ~");
        out_.put_u64(std::min(a.distinct_sources, a.syns)).put(" sources\n");
        // Heaviest sources only mean something when the flood is concentrated.
        for (std::uint32_t i = 0; i < a.ntop && i < 3 && !a.spoofed; ++i) {
            out_.put("    top source ").put_ip(a.top[i].addr, a.top[i].ip_version == 6 ? 6 : 4);
            out_.put(" (up to ").put_u64(a.top[i].syns).put(" SYNs)\n");
        }
        // The per-second SYN rate, one bar per second, scaled to 50 columns.
        std::uint32_t peak = 1;
        for (std::uint32_t i = 0; i < a.nrate; ++i)
            peak = std::max(peak, a.rate[i]);
        for (std::uint32_t i = 0; i < a.nrate; ++i) {
            char label[24];
            std::snprintf(label, sizeof label, "    %4us |", i);
            out_.put(label);
            const std::uint32_t bar = static_cast<std::uint32_t>(
                (static_cast<std::uint64_t>(a.rate[i]) * 50 + peak - 1) / peak);
            for (std::uint32_t k = 0; k < bar; ++k)
                out_.put('#');
            out_.put(' ').put_u64(a.rate[i]).put('\n');
        }
    }
    if (not_charted_) out_.put("  (").put_u64(not_charted_).put(" more floods not charted)\n");
}

}  // namespace wl
