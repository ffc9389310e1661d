#include "report/summary_report.hpp"

#include "analyzers/stream_export.hpp"
#include "analyzers/syn_flood.hpp"
#include "analyzers/upload_analyzer.hpp"
#include "flow/flow_tracker.hpp"
#include "flow/ip_fragments.hpp"
#include "flow/tcp_reassembler.hpp"

namespace wl {

namespace {

constexpr std::size_t idx(Layer l) {
    return static_cast<std::size_t>(l);
}

struct ProtoCount {
    std::string_view name;
    std::uint64_t n;
};

template <class F>
void for_each_protocol(const DecodeCounters& c, F&& f) {
    const ProtoCount list[] = {
        {"eth", c.layer[idx(Layer::Ethernet)]},
        {"radiotap", c.layer[idx(Layer::Radiotap)]},
        {"wlan", c.layer[idx(Layer::Wlan)]},
        {"wlan_data", c.wlan[static_cast<std::size_t>(WlanKind::Data)]},
        {"wlan_qos_data", c.wlan[static_cast<std::size_t>(WlanKind::QosData)]},
        {"wlan_no_data", c.wlan[static_cast<std::size_t>(WlanKind::NoData)]},
        {"wlan_protected", c.wlan[static_cast<std::size_t>(WlanKind::Protected)]},
        {"wlan_mgmt", c.wlan[static_cast<std::size_t>(WlanKind::Management)]},
        {"wlan_ctrl", c.wlan[static_cast<std::size_t>(WlanKind::Control)]},
        {"wlan_ext", c.wlan[static_cast<std::size_t>(WlanKind::Extension)]},
        {"llc", c.layer[idx(Layer::Llc)]},
        {"vlan", c.layer[idx(Layer::Vlan)]},
        {"ppp", c.layer[idx(Layer::Ppp)]},
        {"pppoe", c.layer[idx(Layer::Pppoe)]},
        {"mpls", c.layer[idx(Layer::Mpls)]},
        {"pbb", c.layer[idx(Layer::Pbb)]},
        {"vntag", c.layer[idx(Layer::VnTag)]},
        {"fabricpath", c.layer[idx(Layer::FabricPath)]},
        {"chdlc", c.layer[idx(Layer::Chdlc)]},
        {"frelay", c.layer[idx(Layer::FrameRelay)]},
        {"slip", c.layer[idx(Layer::Slip)]},
        {"nflog", c.layer[idx(Layer::Nflog)]},
        {"arp", c.layer[idx(Layer::Arp)]},
        {"ipv4", c.layer[idx(Layer::Ipv4)]},
        {"ipv6", c.layer[idx(Layer::Ipv6)]},
        {"ipv6_ext", c.layer[idx(Layer::Ipv6Ext)]},
        {"fragments", c.ip_fragments},
        {"tunneled", c.tunneled},
        {"tcp", c.layer[idx(Layer::Tcp)]},
        {"udp", c.layer[idx(Layer::Udp)]},
        {"icmp", c.layer[idx(Layer::Icmp)]},
        {"icmpv6", c.layer[idx(Layer::Icmpv6)]},
        {"other_network", c.other_network},
        {"other_transport", c.other_transport},
    };
    for (const auto& p : list) {
        if (p.n) f(p.name, p.n);
    }
}

template <class F>
void for_each_malformed(const DecodeCounters& c, F&& f) {
    for (std::size_t l = 0; l < c.malformed_by.size(); ++l) {
        for (std::size_t e = 0; e < c.malformed_by[l].size(); ++e) {
            if (c.malformed_by[l][e]) {
                f(static_cast<Layer>(l), static_cast<DecodeError>(e), c.malformed_by[l][e]);
            }
        }
    }
}

template <class F>
void for_each_unsupported(const DecodeCounters& c, F&& f) {
    for (std::size_t i = 0; i < DecodeCounters::kLinkSlots; ++i) {
        if (c.unsupported_count[i]) f(c.unsupported_type[i], c.unsupported_count[i]);
    }
}

// Packets by the kind of tunnel that carried them, then the tunnels not opened.
template <class F>
void for_each_tunnel_count(const DecodeCounters& c, F&& f) {
    for (std::size_t k = 1; k < c.tunnel.size(); ++k) {
        if (c.tunnel[k]) f(std::string_view(tunnel_name(static_cast<TunnelKind>(k))), c.tunnel[k]);
    }
    if (c.tunnel_too_deep) f(std::string_view("too_deep"), c.tunnel_too_deep);
    if (c.teredo_unconfirmed) f(std::string_view("teredo_unconfirmed"), c.teredo_unconfirmed);
}

double duration_s(const DecodeCounters& c) {
    return c.packets ? static_cast<double>(c.last_ts_ns - c.first_ts_ns) / 1e9 : 0.0;
}

}  // namespace

void write_summary_text(OutBuffer& out, const DecodeCounters& c, const InputSummary& in,
                        const StageCounters& stages) {
    const FlowCounters* flows = stages.flows;
    out.put("== ").put(in.source == "-" ? std::string_view("stdin") : std::string_view(in.source));
    out.put(" (").put(in.linktype).put(")\n");
    out.put("packets   ")
        .put_u64(c.packets)
        .put(", ")
        .put_u64(c.wire_bytes)
        .put(" bytes on wire, ");
    out.put_u64(c.captured_bytes).put(" captured");
    if (c.snapped) out.put(", ").put_u64(c.snapped).put(" cut by snap length");
    out.put(", ").put_fixed(duration_s(c), 3).put(" s\n");
    if (in.filtered) out.put("filter    ").put("applied by libpcap before decoding\n");
    out.put("protocols");
    bool any = false;
    for_each_protocol(c, [&](std::string_view name, std::uint64_t n) {
        out.put(' ').put(name).put(' ').put_u64(n);
        any = true;
    });
    if (!any) out.put(" none");
    out.put("\nmalformed ").put_u64(c.malformed);
    for_each_malformed(c, [&](Layer l, DecodeError e, std::uint64_t n) {
        out.put(", ").put(layer_name(l)).put('.').put(error_name(e)).put(' ').put_u64(n);
    });
    out.put('\n');
    if (c.checksum_offload_kept != 0 || c.checksum_hosts_untracked != 0) {
        out.put("checksums ").put_u64(c.checksum_offload_kept);
        out.put(" bad TCP/UDP checksums analysed as offload, from ");
        out.put_u64(c.checksum_offload_hosts).put(" offload host(s)");
        if (c.checksum_hosts_untracked != 0) {
            out.put(", ").put_u64(c.checksum_hosts_untracked);
            out.put(" from hosts beyond the offload table");
        }
        out.put('\n');
    }
    if (c.any_tunnel()) {
        out.put("tunnels  ");
        for_each_tunnel_count(c, [&](std::string_view name, std::uint64_t n) {
            out.put(' ').put(name).put(' ').put_u64(n);
        });
        out.put('\n');
    }
    if (c.unsupported) {
        out.put("skipped   ").put_u64(c.unsupported).put(" frames of unsupported link types:");
        for_each_unsupported(c, [&](int type, std::uint64_t n) {
            out.put(" DLT ").put_i64(type).put(' ').put_u64(n);
        });
        if (c.unsupported_other) out.put(" other ").put_u64(c.unsupported_other);
        out.put('\n');
    }
    if (flows != nullptr) {
        out.put("flows     ").put_u64(flows->conns_created).put(" connections (");
        out.put_u64(flows->max_open).put(" open at most), ").put_u64(flows->reused);
        out.put(" port reuses, ").put_u64(flows->evicted).put(" evicted");
        if (flows->evicted) out.put(" (").put_u64(flows->evicted_attempts).put(" unanswered)");
        out.put(", ").put_u64(flows->not_tracked).put(" IP packets untracked\n");
    }
    if (const ReassemblyCounters* r = stages.reassembly) {
        out.put("streams   ").put_u64(r->delivered_bytes).put(" B in order, ");
        out.put_u64(r->gaps).put(" gaps (").put_u64(r->gap_bytes).put(" B), ");
        out.put_u64(r->overlaps).put(" overlaps (").put_u64(r->inconsistent);
        out.put(" differ), ").put_u64(r->dropped_bytes).put(" B over limits\n");
    }
    if (const FragmentCounters* f = stages.fragments; f != nullptr && f->received != 0) {
        out.put("fragments ").put_u64(f->received).put(" received, ").put_u64(f->reassembled);
        out.put(" datagrams reassembled, ").put_u64(f->timed_out).put(" timed out, ");
        out.put_u64(f->evicted).put(" evicted, ").put_u64(f->duplicates).put(" duplicates, ");
        out.put_u64(f->overlapping).put(" overlapping, ").put_u64(f->conflicting);
        out.put(" conflicting, ").put_u64(f->too_big).put(" too big, ").put_u64(f->too_many);
        out.put(" too many, ").put_u64(f->tiny).put(" tiny, ").put_u64(f->bad_length);
        out.put(" bad length, ").put_u64(f->incomplete_first).put(" incomplete first, ");
        out.put_u64(f->snapped).put(" snapped, ").put_u64(f->malformed).put(" malformed\n");
    }
    if (const UploadAnalyzerCounters* u = stages.uploads) {
        out.put("uploads   ").put_u64(u->frames).put(" frames in ").put_u64(u->streams_framed);
        out.put(" framed streams, ").put_u64(u->complete).put(" complete, ");
        out.put_u64(u->digest_mismatch).put(" digest mismatches");
        if (u->extracted || u->extract_refused) {
            out.put(", ").put_u64(u->extracted).put(" extracted, ").put_u64(u->extract_refused);
            out.put(" not extracted");
        }
        if (u->decoders_busy) out.put(", ").put_u64(u->decoders_busy).put(" streams unexamined");
        out.put('\n');
    }
    if (const StreamExportCounters* x = stages.streams) {
        out.put("exported  ").put_u64(x->streams).put(" stream directions to files, ");
        out.put_u64(x->bytes_written).put(" bytes written, ").put_u64(x->files_refused);
        out.put(" files refused, ").put_u64(x->truncated).put(" truncated");
        if (x->index_errors) out.put(", index.jsonl not fully written");
        out.put('\n');
    }
    if (const SynFloodDetector* f = stages.flood) {
        out.put("floods    ").put_u64(f->alerts()).put(" SYN-flood alerts, ");
        out.put_u64(f->victims_evicted()).put(" victims evicted, ").put_u64(f->untracked());
        out.put(" flooded victims untracked");
        if (f->scan_alerts() != 0 || f->scanners_evicted() != 0) {
            out.put(", ").put_u64(f->scan_alerts()).put(" scan alerts, ");
            out.put_u64(f->scanners_evicted()).put(" scanners evicted");
        }
        out.put('\n');
    }
    if (in.live) {
        const InputSummary::Capture& k = in.capture;
        out.put("capture   ").put_u64(k.captured).put(" captured, ").put_u64(k.received);
        out.put(" received by filter, ").put_u64(k.dropped_kernel).put(" dropped by kernel, ");
        out.put_u64(k.dropped_iface).put(" dropped by interface, ").put_u64(k.dropped_ring);
        out.put(" dropped at the analysis ring; stopped by ").put(k.stopped_by).put('\n');
        if (!k.write_path.empty()) {
            out.put("written   ").put_u64(k.written).put(" packets to ").put(k.write_path);
            if (k.files > 1) out.put(" (").put_u64(k.files).put(" files)");
            out.put('\n');
        }
    }
    if (in.memory.budget != 0 && in.memory_lines) {
        const InputSummary::Memory& m = in.memory;
        const auto mib = [&](std::uint64_t b) -> OutBuffer& {
            return out.put_fixed(static_cast<double>(b) / (1 << 20), 1);
        };
        out.put("memory    at most ");
        mib(m.total()).put(" of ");
        mib(m.budget).put(" MiB (--max-memory): flows ");
        mib(m.flows).put(", reassembly ");
        mib(m.reassembly).put(", uploads ");
        mib(m.uploads).put(", fragments ");
        mib(m.fragments).put(", flood ");
        mib(m.flood).put(", reports ");
        mib(m.reports);
        if (m.streams) {
            out.put(", streams ");
            mib(m.streams);
        }
        if (m.ring) {
            out.put(", ring ");
            mib(m.ring);
        }
        out.put(", other ");
        mib(m.other).put('\n');
        if (m.shrunk) {
            out.put("          limits lowered to fit: --max-flows ").put_u64(m.max_flows);
            out.put(" --max-reassembly ").put_u64(m.max_reassembly);
            out.put(" --max-uploads ").put_u64(m.max_uploads);
            if (m.ring) out.put(" --ring ").put_u64(m.ring_mib);
            out.put('\n');
        }
    }
    if (in.cut_short) out.put("input     cut short: ").put(in.cut_reason).put('\n');
}

void write_stats_json(OutBuffer& out, const DecodeCounters& c, const InputSummary& in,
                      const StageCounters& stages) {
    const FlowCounters* flows = stages.flows;
    out.put("{\"type\":\"stats\",\"source\":").put_json_string(in.source);
    out.put(",\"linktype\":").put_json_string(in.linktype);
    out.put(",\"packets\":").put_u64(c.packets);
    out.put(",\"bytes\":").put_u64(c.wire_bytes);
    out.put(",\"captured_bytes\":").put_u64(c.captured_bytes);
    out.put(",\"snapped\":").put_u64(c.snapped);
    if (c.packets) {
        out.put(",\"ts_first\":").put_ts(c.first_ts_ns).put(",\"ts_last\":").put_ts(c.last_ts_ns);
    }
    out.put(",\"protocols\":{");
    bool first = true;
    for_each_protocol(c, [&](std::string_view name, std::uint64_t n) {
        if (!first) out.put(',');
        first = false;
        out.put('"').put(name).put("\":").put_u64(n);
    });
    out.put("},\"malformed\":").put_u64(c.malformed).put(",\"malformed_by\":{");
    first = true;
    for_each_malformed(c, [&](Layer l, DecodeError e, std::uint64_t n) {
        if (!first) out.put(',');
        first = false;
        out.put('"').put(layer_name(l)).put('.').put(error_name(e)).put("\":").put_u64(n);
    });
    out.put("},\"unsupported_link\":{");
    first = true;
    for_each_unsupported(c, [&](int type, std::uint64_t n) {
        if (!first) out.put(',');
        first = false;
        out.put('"').put_i64(type).put("\":").put_u64(n);
    });
    if (c.unsupported_other)
        out.put(first ? "" : ",").put("\"other\":").put_u64(c.unsupported_other);
    out.put('}');
    if (c.checksum_offload_kept != 0 || c.checksum_hosts_untracked != 0) {
        out.put(",\"checksum_offload\":{\"hosts\":").put_u64(c.checksum_offload_hosts);
        out.put(",\"kept\":").put_u64(c.checksum_offload_kept);
        out.put(",\"untracked\":").put_u64(c.checksum_hosts_untracked).put('}');
    }
    if (c.any_tunnel()) {
        out.put(",\"tunnels\":{");
        first = true;
        for_each_tunnel_count(c, [&](std::string_view name, std::uint64_t n) {
            if (!first) out.put(',');
            first = false;
            out.put('"').put(name).put("\":").put_u64(n);
        });
        out.put('}');
    }
    if (flows != nullptr) {
        out.put(",\"flows\":{\"connections\":").put_u64(flows->conns_created);
        out.put(",\"max_open\":").put_u64(flows->max_open);
        out.put(",\"reused\":").put_u64(flows->reused);
        out.put(",\"evicted\":").put_u64(flows->evicted);
        out.put(",\"evicted_unanswered\":").put_u64(flows->evicted_attempts);
        out.put(",\"not_tracked\":").put_u64(flows->not_tracked).put('}');
    }
    if (const ReassemblyCounters* r = stages.reassembly) {
        out.put(",\"reassembly\":{\"delivered_bytes\":").put_u64(r->delivered_bytes);
        out.put(",\"buffered_peak\":").put_u64(r->buffered_peak);
        out.put(",\"gaps\":").put_u64(r->gaps).put(",\"gap_bytes\":").put_u64(r->gap_bytes);
        out.put(",\"overlaps\":").put_u64(r->overlaps);
        out.put(",\"inconsistent\":").put_u64(r->inconsistent);
        out.put(",\"dropped_segments\":").put_u64(r->dropped_segments);
        out.put(",\"dropped_bytes\":").put_u64(r->dropped_bytes);
        out.put(",\"snapped_segments\":").put_u64(r->snapped_segments).put('}');
    }
    if (const FragmentCounters* f = stages.fragments; f != nullptr && f->received != 0) {
        out.put(",\"fragments\":{\"received\":").put_u64(f->received);
        out.put(",\"reassembled\":").put_u64(f->reassembled);
        out.put(",\"timed_out\":").put_u64(f->timed_out);
        out.put(",\"evicted\":").put_u64(f->evicted);
        out.put(",\"duplicates\":").put_u64(f->duplicates);
        out.put(",\"overlapping\":").put_u64(f->overlapping);
        out.put(",\"conflicting\":").put_u64(f->conflicting);
        out.put(",\"too_big\":").put_u64(f->too_big);
        out.put(",\"too_many\":").put_u64(f->too_many);
        out.put(",\"tiny\":").put_u64(f->tiny);
        out.put(",\"bad_length\":").put_u64(f->bad_length);
        out.put(",\"incomplete_first\":").put_u64(f->incomplete_first);
        out.put(",\"snapped\":").put_u64(f->snapped);
        out.put(",\"malformed\":").put_u64(f->malformed);
        out.put(",\"tunneled\":").put_u64(f->tunneled);
        out.put(",\"in_progress_peak\":").put_u64(f->in_progress_peak);
        out.put(",\"bytes_peak\":").put_u64(f->bytes_peak).put('}');
    }
    if (const UploadAnalyzerCounters* u = stages.uploads) {
        out.put(",\"uploads\":{\"streams_examined\":").put_u64(u->streams_examined);
        out.put(",\"streams_framed\":").put_u64(u->streams_framed);
        out.put(",\"frames\":").put_u64(u->frames).put(",\"complete\":").put_u64(u->complete);
        out.put(",\"digest_mismatch\":").put_u64(u->digest_mismatch);
        out.put(",\"extracted\":").put_u64(u->extracted);
        out.put(",\"extract_refused\":").put_u64(u->extract_refused);
        out.put(",\"streams_unexamined\":").put_u64(u->decoders_busy).put('}');
    }
    if (const StreamExportCounters* x = stages.streams) {
        out.put(",\"streams\":{\"exported\":").put_u64(x->streams);
        out.put(",\"bytes_written\":").put_u64(x->bytes_written);
        out.put(",\"files_refused\":").put_u64(x->files_refused);
        out.put(",\"truncated\":").put_u64(x->truncated);
        out.put(",\"reopened\":").put_u64(x->reopened);
        out.put(",\"index_errors\":").put_u64(x->index_errors).put('}');
    }
    if (const SynFloodDetector* f = stages.flood) {
        out.put(",\"floods\":{\"alerts\":").put_u64(f->alerts());
        out.put(",\"victims_evicted\":").put_u64(f->victims_evicted());
        out.put(",\"untracked\":").put_u64(f->untracked());
        out.put(",\"scan_alerts\":").put_u64(f->scan_alerts());
        out.put(",\"scanners_evicted\":").put_u64(f->scanners_evicted()).put('}');
    }
    if (in.live) {
        const InputSummary::Capture& k = in.capture;
        out.put(",\"capture\":{\"captured\":").put_u64(k.captured);
        out.put(",\"received\":").put_u64(k.received);
        out.put(",\"dropped_kernel\":").put_u64(k.dropped_kernel);
        out.put(",\"dropped_interface\":").put_u64(k.dropped_iface);
        out.put(",\"dropped_ring\":").put_u64(k.dropped_ring);
        if (!k.write_path.empty()) {
            out.put(",\"written\":").put_u64(k.written).put(",\"files\":").put_u64(k.files);
            out.put(",\"write_path\":").put_json_string(k.write_path);
        }
        out.put(",\"stopped_by\":\"").put(k.stopped_by).put("\"}");
    }
    if (in.memory.budget != 0) {
        const InputSummary::Memory& m = in.memory;
        out.put(",\"memory\":{\"budget\":").put_u64(m.budget);
        out.put(",\"bound\":").put_u64(m.total()).put(",\"flows\":").put_u64(m.flows);
        out.put(",\"reassembly\":").put_u64(m.reassembly).put(",\"uploads\":").put_u64(m.uploads);
        out.put(",\"flood\":").put_u64(m.flood).put(",\"reports\":").put_u64(m.reports);
        out.put(",\"ring\":").put_u64(m.ring).put(",\"other\":").put_u64(m.other);
        out.put(",\"fragments\":").put_u64(m.fragments);
        if (m.streams) out.put(",\"streams\":").put_u64(m.streams);
        out.put(",\"max_flows\":").put_u64(m.max_flows);
        out.put(",\"max_reassembly\":").put_u64(m.max_reassembly);
        out.put(",\"max_uploads\":").put_u64(m.max_uploads);
        out.put(",\"shrunk\":").put(m.shrunk ? "true" : "false").put('}');
    }
    out.put(",\"cut_short\":").put(in.cut_short ? "true" : "false");
    if (in.cut_short) out.put(",\"cut_reason\":").put_json_string(in.cut_reason);
    out.put("}\n");
}

}  // namespace wl
