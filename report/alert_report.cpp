#include "report/alert_report.hpp"

#include <algorithm>
#include <cstdio>

#include "report/conn_report.hpp"

namespace wl {

namespace {

void put_victim(OutBuffer& out, const SynFloodAlert& a) {
    if (a.prefix_len != 0) {
        out.put_ip(a.victim, a.ip_version == 6 ? 6 : 4).put('/').put_u64(a.prefix_len);
        return;
    }
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

const char* trigger_name(SynFloodAlert::Trigger t) {
    switch (t) {
        case SynFloodAlert::kSynRate:
            return "syn_rate";
        case SynFloodAlert::kHalfOpen:
            return "half_open";
        case SynFloodAlert::kQueue:
            return "queue";
    }
    return "syn_rate";
}

void put_addrs(OutBuffer& out, const SynFloodAlert::Source* s, std::uint32_t n) {
    out.put('[');
    for (std::uint32_t i = 0; i < n; ++i) {
        if (i) out.put(',');
        out.put("{\"addr\":\"").put_ip(s[i].addr, s[i].ip_version == 6 ? 6 : 4);
        // Space-saving counts are upper bounds (exact for a source that stays on top).
        out.put("\",\"syns_at_most\":").put_u64(s[i].syns).put('}');
    }
    out.put(']');
}

int ver_of(const ScanAlert& a) {
    return a.ip_version == 6 ? 6 : 4;
}

// SYNs a second from the first to the last, over one second at least.
double scan_rate(const ScanAlert& a) {
    const double secs =
        static_cast<double>(a.ts_end_ns - std::min(a.ts_end_ns, a.ts_start_ns)) / 1e9;
    return static_cast<double>(a.syns) / std::max(secs, 1.0);
}

}  // namespace

void AlertReporter::write_json(const SynFloodAlert& a, const char* state) {
    out_.put("{\"type\":\"alert\"");
    if (stream_) out_.put(",\"ts_logged\":").put_ts(now());
    out_.put(",\"kind\":\"syn_flood\",\"state\":\"").put(state);
    out_.put("\",\"victim\":\"").put_ip(a.victim, a.ip_version == 6 ? 6 : 4);
    if (a.prefix_len != 0) out_.put('/').put_u64(a.prefix_len);
    out_.put("\",\"port\":").put_u64(a.port);
    out_.put(",\"ts_start\":").put_ts(a.ts_start_ns);
    if (a.ended) out_.put(",\"ts_end\":").put_ts(a.ts_end_ns);
    out_.put(",\"syns\":").put_u64(a.syns).put(",\"synacks\":").put_u64(a.synacks);
    out_.put(",\"rsts\":").put_u64(a.rsts).put(",\"completed\":").put_u64(a.completed);
    out_.put(",\"peak_syn_rate\":").put_fixed(a.peak_syn_rate, 1);
    out_.put(",\"completion_ratio\":").put_fixed(a.completion_ratio, 4);
    // An estimate: never more sources than SYNs.
    out_.put(",\"distinct_sources\":").put_u64(std::min(a.distinct_sources, a.syns));
    out_.put(",\"top_sources\":");
    put_addrs(out_, a.top, a.ntop);
    out_.put(",\"spoofed\":").put(a.spoofed ? "true" : "false");
    out_.put(",\"trigger\":\"").put(trigger_name(a.trigger));
    out_.put("\",\"detected_after\":").put_fixed(a.detected_after, 3);
    out_.put(",\"peak_queue\":").put_u64(a.peak_queue);
    out_.put(",\"hop_checked\":").put_u64(a.hop_checked);
    out_.put(",\"hop_mismatch\":").put_u64(a.hop_mismatch);
    if (a.prefix_len != 0) {
        out_.put(",\"addresses_hit\":").put_u64(a.addresses_hit).put(",\"top_victims\":");
        put_addrs(out_, a.top_victims, a.ntop_victims);
    }
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
    if (stream_) put_clock(out_, now(), true).put(' ');
    out_.put("ALERT syn_flood start ");
    put_victim(out_, a);
    out_.put(": ").put_fixed(a.peak_syn_rate, 0).put(" SYN/s, ");
    out_.put_fixed(100.0 * a.completion_ratio, 1).put("% completed, ~");
    out_.put_u64(std::min(a.distinct_sources, a.syns)).put(" sources");
    if (a.trigger == SynFloodAlert::kQueue) out_.put(", modelled queue ").put_u64(a.peak_queue);
    if (stream_) put_clock(out_.put(" (since "), a.ts_start_ns, true).put(')');
    out_.put('\n');
}

void AlertReporter::alert_ended(const SynFloodAlert& a) {
    if (json_) {
        write_json(a, "end");
        return;
    }
    if (stream_) put_clock(out_, now(), true).put(' ');
    out_.put("ALERT syn_flood end   ");
    put_victim(out_, a);
    out_.put(": ").put_u64(a.syns).put(" SYNs over ");
    out_.put_fixed(static_cast<double>(a.ts_end_ns - a.ts_start_ns) / 1e9, 1).put(" s");
    if (stream_) put_clock(out_.put(" (last "), a.ts_end_ns, true).put(')');
    out_.put('\n');
    if (ended_.size() < kMaxCharts) {
        ended_.push_back(a);
    } else {
        ++not_charted_;
    }
}

void AlertReporter::write_scan_json(const ScanAlert& a, const char* state) {
    const bool ports = a.kind == ScanAlert::kPortScan;
    out_.put("{\"type\":\"alert\"");
    if (stream_) out_.put(",\"ts_logged\":").put_ts(now());
    out_.put(",\"kind\":\"").put(ports ? "port_scan" : "address_scan");
    out_.put("\",\"state\":\"").put(state);
    out_.put("\",\"scanner\":\"").put_ip(a.scanner, ver_of(a)).put('"');
    if (ports) {
        out_.put(",\"target\":\"").put_ip(a.target, ver_of(a)).put('"');
    } else {
        out_.put(",\"port\":").put_u64(a.port);
    }
    out_.put(",\"ts_start\":").put_ts(a.ts_start_ns).put(",\"ts_end\":").put_ts(a.ts_end_ns);
    out_.put(",\"syns\":").put_u64(a.syns);
    out_.put(ports ? ",\"ports_tried\":" : ",\"hosts_tried\":").put_u64(a.tried);
    out_.put(",\"open\":").put_u64(a.open);
    out_.put(ports ? ",\"open_ports\":[" : ",\"open_hosts\":[");
    for (std::uint32_t i = 0; i < a.nopen_listed; ++i) {
        if (i) out_.put(',');
        if (ports) {
            out_.put_u64(a.open_ports[i]);
        } else {
            out_.put('"').put_ip(a.open_hosts[i], ver_of(a)).put('"');
        }
    }
    out_.put("],\"rate\":").put_fixed(scan_rate(a), 1).put("}\n");
}

void AlertReporter::write_scan_text(const ScanAlert& a, const char* state) {
    const bool ports = a.kind == ScanAlert::kPortScan;
    if (stream_) put_clock(out_, now(), true).put(' ');
    out_.put("ALERT ").put(ports ? "port_scan " : "address_scan ").put(state).put(' ');
    out_.put_ip(a.scanner, ver_of(a)).put(" -> ");
    if (ports) {
        out_.put_ip(a.target, ver_of(a));
    } else {
        out_.put("port ").put_u64(a.port);
    }
    out_.put(": ").put_u64(a.tried).put(ports ? " ports tried, " : " hosts tried, ");
    out_.put_u64(a.open).put(" open, ").put_fixed(scan_rate(a), 1).put(" SYN/s");
    if (stream_) {
        put_clock(out_.put(a.ended ? " (last " : " (since "), a.ended ? a.ts_end_ns : a.ts_start_ns,
                  true)
            .put(')');
    }
    out_.put('\n');
}

void AlertReporter::scan_started(const ScanAlert& a) {
    if (json_) {
        write_scan_json(a, "start");
    } else {
        write_scan_text(a, "start");
    }
}

void AlertReporter::scan_ended(const ScanAlert& a) {
    if (json_) {
        write_scan_json(a, "end");
    } else {
        write_scan_text(a, "end  ");
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
        if (a.prefix_len != 0) {
            out_.put("    ").put_u64(a.addresses_hit).put(" addresses hit");
            for (std::uint32_t i = 0; i < a.ntop_victims && i < 3; ++i) {
                out_.put(i ? ", " : "; top ");
                out_.put_ip(a.top_victims[i].addr, a.top_victims[i].ip_version == 6 ? 6 : 4);
                out_.put(" (up to ").put_u64(a.top_victims[i].syns).put(")");
            }
            out_.put('\n');
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
