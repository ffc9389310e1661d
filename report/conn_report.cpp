#include "report/conn_report.hpp"

#include <algorithm>
#include <cstring>
#include <ctime>

#include "flow/community_id.hpp"
#include "report/format.hpp"
#include "report/packet_report.hpp"

namespace wl {

namespace {

void put_endpoint(OutBuffer& out, const Endpoint& e, int version) {
    if (version == 6) {
        out.put('[').put_ipv6(e.addr).put("]:");
    } else {
        out.put_ipv4(e.addr).put(':');
    }
    out.put_u64(e.port);
}

void put_seconds(OutBuffer& out, std::uint64_t ns) {
    out.put_fixed(static_cast<double>(ns) / 1e9, 6);
}

// ,"handshake_rtt":{...} when the SYN and SYN-ACK were both seen.
void put_handshake_rtt(OutBuffer& out, const Connection& c) {
    if (c.synack_ns <= c.syn_ns || c.syn_ns == 0) return;
    out.put(",\"handshake_rtt\":{\"syn_synack\":");
    put_seconds(out, c.synack_ns - c.syn_ns);
    if (c.ack_ns >= c.synack_ns && c.ack_ns != 0) {
        out.put(",\"synack_ack\":");
        put_seconds(out, c.ack_ns - c.synack_ns);
    }
    out.put('}');
}

void pad_to(OutBuffer& out, std::size_t written, std::size_t width) {
    for (std::size_t i = written; i < width; ++i)
        out.put(' ');
}

// RFC 793 state names a ladder shows for each side as the packets pass.
enum class RfcState : std::uint8_t {
    Unknown,
    Closed,
    Listen,
    SynSent,
    SynRcvd,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait
};

const char* rfc_name(RfcState s) {
    switch (s) {
        case RfcState::Unknown:
            return "?";
        case RfcState::Closed:
            return "CLOSED";
        case RfcState::Listen:
            return "LISTEN";
        case RfcState::SynSent:
            return "SYN_SENT";
        case RfcState::SynRcvd:
            return "SYN_RCVD";
        case RfcState::Established:
            return "ESTABLISHED";
        case RfcState::FinWait1:
            return "FIN_WAIT_1";
        case RfcState::FinWait2:
            return "FIN_WAIT_2";
        case RfcState::CloseWait:
            return "CLOSE_WAIT";
        case RfcState::Closing:
            return "CLOSING";
        case RfcState::LastAck:
            return "LAST_ACK";
        case RfcState::TimeWait:
            return "TIME_WAIT";
    }
    return "?";
}

// Follows both sides' RFC 793 states through the ladder's steps.
struct LadderStates {
    RfcState side[2];
    bool fin_sent[2] = {false, false};
    std::uint64_t fin_end[2] = {0, 0};  // relative sequence just past each side's FIN

    explicit LadderStates(bool saw_syn)
        : side{saw_syn ? RfcState::Closed : RfcState::Unknown,
               saw_syn ? RfcState::Listen : RfcState::Unknown} {}

    void step(const LadderStep& s, RfcState& sender_after, RfcState& receiver_after) {
        const int snd = s.dir, rcv = 1 - s.dir;
        const bool syn = s.flags & tcpflag::kSyn, fin = s.flags & tcpflag::kFin;
        const bool rst = s.flags & tcpflag::kRst, ack = s.flags & tcpflag::kAck;
        RfcState& S = side[snd];
        RfcState& R = side[rcv];
        if (rst) {
            S = RfcState::Closed;
            R = RfcState::Closed;
        } else if (syn) {
            if (!ack) {
                S = R == RfcState::SynSent ? RfcState::SynRcvd : RfcState::SynSent;
                if (R == RfcState::Listen || R == RfcState::Closed || R == RfcState::Unknown) {
                    R = RfcState::SynRcvd;
                }
            } else {
                S = RfcState::SynRcvd;
                if (R == RfcState::SynSent || R == RfcState::SynRcvd || R == RfcState::Unknown) {
                    R = RfcState::Established;
                }
            }
        } else {
            // The ACK part first: it may complete the handshake or ack a FIN.
            if (ack) {
                const bool acks_fin = fin_sent[rcv] && s.rel_ack >= fin_end[rcv];
                if (R == RfcState::SynRcvd) R = RfcState::Established;
                if (S == RfcState::SynRcvd || S == RfcState::Unknown) S = RfcState::Established;
                if (acks_fin) {
                    if (R == RfcState::FinWait1)
                        R = RfcState::FinWait2;
                    else if (R == RfcState::Closing)
                        R = RfcState::TimeWait;
                    else if (R == RfcState::LastAck)
                        R = RfcState::Closed;
                }
            }
            if (fin) {
                fin_sent[snd] = true;
                fin_end[snd] = s.rel_seq + s.len + 1;
                if (S == RfcState::CloseWait) {
                    S = RfcState::LastAck;
                } else {
                    S = RfcState::FinWait1;
                }
                if (R == RfcState::FinWait2) {
                    R = RfcState::TimeWait;
                } else if (R == RfcState::FinWait1) {
                    R = RfcState::Closing;
                } else {
                    R = RfcState::CloseWait;
                }
            }
        }
        sender_after = S;
        receiver_after = R;
    }
};

}  // namespace

// HH:MM:SS.mmm (UTC) or, with `micro`, HH:MM:SS.uuuuuu.
OutBuffer& put_clock(OutBuffer& out, std::uint64_t ns, bool micro) {
    const std::time_t secs = static_cast<std::time_t>(ns / 1000000000ull);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[24];
    if (micro) {
        std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%06u", tm.tm_hour, tm.tm_min, tm.tm_sec,
                      static_cast<unsigned>((ns % 1000000000ull) / 1000ull));
    } else {
        std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%03u", tm.tm_hour, tm.tm_min, tm.tm_sec,
                      static_cast<unsigned>((ns % 1000000000ull) / 1000000ull));
    }
    return out.put(buf);
}

const char* teardown_name(Teardown t) {
    switch (t) {
        case Teardown::None:
            return "none";
        case Teardown::Fin:
            return "fin";
        case Teardown::Simultaneous:
            return "simultaneous";
        case Teardown::HalfClosed:
            return "half_closed";
        case Teardown::ResetOrig:
            return "reset_orig";
        case Teardown::ResetResp:
            return "reset_resp";
    }
    return "none";
}

namespace {
// ,"uid":...,"id.resp_p":N; at most kConnIdMax bytes.
constexpr std::size_t kConnIdMax = 160;
char* conn_id(char* p, const Connection& c) {
    const int v = c.key.ip_version;
    p = fmt::lit(p, ",\"uid\":\"");
    conn_uid(c, p);  // 18 characters and a NUL, overwritten next
    p += 18;
    p = fmt::lit(p, "\",\"id.orig_h\":\"");
    p = fmt::ip(p, c.orig.addr, v);
    p = fmt::lit(p, "\",\"id.orig_p\":");
    p = fmt::u64(p, c.orig.port);
    p = fmt::lit(p, ",\"id.resp_h\":\"");
    p = fmt::ip(p, c.resp.addr, v);
    p = fmt::lit(p, "\",\"id.resp_p\":");
    return fmt::u64(p, c.resp.port);
}
}  // namespace

void put_conn_id(OutBuffer& out, const Connection& c) {
    out.commit(conn_id(out.reserve(kConnIdMax), c));
}

namespace {
// ,"community_id":"1:..."; at most kCommunityIdMax bytes.
constexpr std::size_t kCommunityIdMax = 18 + kCommunityIdLen;
char* community_id_field(char* p, const Connection& c, std::uint16_t seed) {
    p = fmt::lit(p, ",\"community_id\":\"");
    community_id(c.key, seed, p);  // and a NUL, overwritten next
    p += kCommunityIdLen;
    *p++ = '"';
    return p;
}
}  // namespace

void put_community_id(OutBuffer& out, const Connection& c, std::uint16_t seed) {
    out.commit(community_id_field(out.reserve(kCommunityIdMax), c, seed));
}

const char* proto_name(std::uint8_t proto) {
    switch (proto) {
        case ipproto::kTcp:
            return "tcp";
        case ipproto::kUdp:
            return "udp";
        default:
            return "icmp";  // Zeek names ICMPv6 connections "icmp" too
    }
}

namespace {
const char* end_name(ConnEnd why) {
    switch (why) {
        case ConnEnd::Closed:
            return "closed";
        case ConnEnd::Timeout:
            return "timeout";
        case ConnEnd::Reused:
            return "reused";
        case ConnEnd::Evicted:
            return "evicted";
        case ConnEnd::EndOfInput:
            return "end_of_input";
    }
    return "?";
}
}  // namespace

std::uint64_t ConnReporter::memory_bound(std::uint32_t ladder_conns) {
    return kMaxBufferedRows * sizeof(Row) +
           std::uint64_t{ladder_conns} * sizeof(std::pair<Row, LadderLog>);
}

ConnReporter::ConnReporter(OutBuffer& out, const OuiRegistry& oui, bool json)
    : out_(out), oui_(oui), json_(json) {}

ConnReporter::Row ConnReporter::make_row(const Connection& c) {
    Row r{};
    r.start_ns = c.start_ns;
    r.duration_ns = c.last_ns - c.start_ns;
    r.orig = c.orig;
    r.resp = c.resp;
    r.ip_version = c.key.ip_version;
    r.proto = c.proto;
    r.uid_tie = c.uid_tie;
    for (int s = 0; s < 2; ++s) {
        r.pkts[s] = c.side[s].pkts;
        r.bytes[s] = FlowTracker::payload_bytes(c, s);
    }
    r.state = FlowTracker::conn_state(c);
    r.teardown = c.proto == ipproto::kTcp ? FlowTracker::teardown(c) : Teardown::None;
    r.history_len = c.history_len;
    std::memcpy(r.history, c.history, c.history_len);
    r.icmp_errors = c.icmp_errors;
    return r;
}

void ConnReporter::conn_ended(const Connection& c, ConnEnd why, const LadderLog* ladder) {
    if (ladder == nullptr && fold(c, why)) return;
    if (ladder != nullptr) ++ladders_drawn_;
    if (json_) {
        write_json(c, why);
        if (ladder != nullptr) write_ladder_json(make_row(c), *ladder);
        return;
    }
    if (stream_) {
        write_stream_text(c, why);
        if (ladder != nullptr) write_ladder_text(make_row(c), *ladder);
        return;
    }
    if (ladders_only_) {
        if (ladder != nullptr) ladders_.emplace_back(make_row(c), *ladder);
        return;
    }
    if (rows_.size() == kMaxBufferedRows) print_rows();
    if (rows_.capacity() == 0) rows_.reserve(kMaxBufferedRows);  // never regrown
    rows_.push_back(make_row(c));
    if (ladder != nullptr) ladders_.emplace_back(rows_.back(), *ladder);
}

bool ConnReporter::fold(const Connection& c, ConnEnd why) {
    // Only what a flood leaves: a TCP attempt nobody answered, pushed out of a
    // full table. Attempts that time out normally keep their own records.
    if (!fold_ || why != ConnEnd::Evicted || c.proto != ipproto::kTcp || c.side[1].pkts != 0 ||
        c.side[0].tcp.state != TcpState::SynSent || c.side[1].tcp.state != TcpState::Inactive) {
        return false;
    }
    const bool table = !json_ && !stream_;
    if (!table) {
        // One record per responder and second of the attempts' start.
        const std::uint64_t sec = c.start_ns / 1000000000ull;
        if (sec != fold_sec_) flush_folded();
        fold_sec_ = sec;
    }
    // A flood folds attempt after attempt into one responder's record: the
    // one the last attempt went to is tried first.
    const auto same = [&](const Folded& g) {
        return g.ip_version == c.key.ip_version && same_endpoint(g.resp, c.resp);
    };
    Folded* f = nullptr;
    if (last_folded_ < nfolded_ && same(folded_[last_folded_])) {
        f = &folded_[last_folded_];
    } else {
        for (int i = 0; i < nfolded_; ++i) {
            if (same(folded_[i])) {
                f = &folded_[i];
                last_folded_ = i;
                break;
            }
        }
    }
    if (f == nullptr) {
        if (nfolded_ == kFoldSlots) {
            if (table) {
                ++folded_other_;
                return true;
            }
            flush_folded();
        }
        last_folded_ = nfolded_;
        f = &folded_[nfolded_++];
        *f = Folded{c.key.ip_version, c.resp, 0, 0, 0, c.start_ns, c.last_pkt_ns};
    }
    ++f->count;
    f->orig_pkts += c.side[0].pkts;
    f->orig_ip_bytes += c.side[0].ip_bytes;
    f->first_ns = std::min(f->first_ns, c.start_ns);
    f->last_ns = std::max(f->last_ns, c.last_pkt_ns);
    return true;
}

void ConnReporter::flush_folded() {
    const bool table = !json_ && !stream_;
    if (table && nfolded_ != 0) {
        out_.put(
            "\nunanswered attempts evicted from a full table (folded; --all-attempts lists "
            "each)\n");
    }
    for (int i = 0; i < nfolded_; ++i) {
        const Folded& f = folded_[i];
        if (json_) {
            out_.put("{\"type\":\"attempts\"");
            if (stream_) out_.put(",\"ts_logged\":").put_ts(std::max(now(), f.last_ns));
            out_.put(",\"ts\":").put_ts(f.first_ns);
            out_.put(",\"ts_last\":").put_ts(f.last_ns);
            out_.put(",\"id.resp_h\":\"").put_ip(f.resp.addr, f.ip_version);
            out_.put("\",\"id.resp_p\":").put_u64(f.resp.port);
            out_.put(",\"proto\":\"tcp\",\"conn_state\":\"S0\",\"attempts\":").put_u64(f.count);
            out_.put(",\"orig_pkts\":").put_u64(f.orig_pkts);
            out_.put(",\"orig_ip_bytes\":").put_u64(f.orig_ip_bytes);
            out_.put(",\"end\":\"evicted\"}\n");
            continue;
        }
        if (stream_) {
            put_clock(out_, std::max(now(), f.last_ns), true);
            out_.put(" attempts tcp > ");
        } else {
            put_clock(out_, f.first_ns);
            out_.put(" tcp > ");
        }
        put_endpoint(out_, f.resp, f.ip_version);
        out_.put(' ').put_u64(f.count).put(" unanswered attempts S0 pkts ").put_u64(f.orig_pkts);
        out_.put(" bytes ").put_u64(f.orig_ip_bytes);
        if (stream_) {
            put_clock(out_.put(" (evicted, last attempt "), f.last_ns, true).put(")\n");
        } else {
            out_.put(" (evicted)\n");
        }
    }
    if (table && folded_other_ != 0) {
        out_.put("  and ").put_u64(folded_other_).put(" more to other responders\n");
    }
    nfolded_ = 0;
    folded_other_ = 0;
}

void ConnReporter::established(const Connection& c, std::uint64_t ts_ns) {
    const bool rtt = c.synack_ns > c.syn_ns && c.syn_ns != 0;
    if (json_) {
        out_.put("{\"type\":\"conn_established\",\"ts_logged\":").put_ts(std::max(now(), ts_ns));
        out_.put(",\"ts\":").put_ts(ts_ns);
        put_conn_id(out_, c);
        put_community_id(out_, c, cid_seed_);
        out_.put(",\"proto\":\"tcp\"");
        put_handshake_rtt(out_, c);
        out_.put("}\n");
        return;
    }
    put_clock(out_, std::max(now(), ts_ns), true);
    out_.put(" established tcp ");
    put_endpoint(out_, c.orig, c.key.ip_version);
    out_.put(" > ");
    put_endpoint(out_, c.resp, c.key.ip_version);
    char uid[19];
    conn_uid(c, uid);
    out_.put(' ').put(uid);
    if (rtt) {
        out_.put(" rtt ").put_fixed(static_cast<double>(c.synack_ns - c.syn_ns) / 1e6, 3);
        out_.put(" ms");
    }
    out_.put('\n');
}

// One line per ended connection: when it ended, who, its state, history and counts.
void ConnReporter::write_stream_text(const Connection& c, ConnEnd why) {
    const Row r = make_row(c);
    put_clock(out_, std::max(now(), c.last_ns), true);
    out_.put(" conn ").put(proto_name(r.proto)).put(' ');
    put_endpoint(out_, r.orig, r.ip_version);
    out_.put(" > ");
    put_endpoint(out_, r.resp, r.ip_version);
    char uid[19];
    row_uid(r, uid);
    out_.put(' ').put(uid).put(' ').put(r.state).put(' ');
    const std::string_view hist(r.history, r.history_len);
    out_.put(hist.empty() ? std::string_view("-") : hist);
    out_.put(" pkts ").put_u64(r.pkts[0]).put('/').put_u64(r.pkts[1]);
    out_.put(" bytes ").put_u64(r.bytes[0]).put('/').put_u64(r.bytes[1]);
    out_.put(' ').put_fixed(static_cast<double>(r.duration_ns) / 1e9, 3).put('s');
    if (r.proto == ipproto::kTcp) out_.put(' ').put(teardown_name(r.teardown));
    if (r.icmp_errors != 0) out_.put(" icmp_errors ").put_u64(r.icmp_errors);
    out_.put(" (").put(end_name(why));
    put_clock(out_.put(", last packet "), c.last_ns, true).put(")\n");
}

// The registry is searched once per MAC address seen lately: a few hosts (or a
// router) are on every record.
std::string_view ConnReporter::vendor_of(const std::uint8_t* mac) {
    std::uint64_t key = 0;
    for (int i = 0; i < 6; ++i)
        key = (key << 8) | mac[i];
    VendorCache& e = vendors_[(key * 0x9e3779b97f4a7c15ull) >> (64 - kVendorCacheBits)];
    if (e.key != key + 1) {
        e.key = key + 1;
        e.vendor = oui_.lookup(mac);
    }
    return e.vendor;
}

void ConnReporter::write_json(const Connection& c, ConnEnd why) {
    // Built in place: up to the history, then the counts and addresses.
    char* p = out_.reserve(96 + kConnIdMax + kCommunityIdMax);
    p = fmt::lit(p, "{\"type\":\"conn\"");
    if (stream_) {
        p = fmt::lit(p, ",\"ts_logged\":");
        p = fmt::ts(p, std::max(now(), c.last_ns));
    }
    p = fmt::lit(p, ",\"ts\":");
    p = fmt::ts(p, c.start_ns);
    p = conn_id(p, c);
    p = community_id_field(p, c, cid_seed_);
    p = fmt::lit(p, ",\"proto\":\"");
    p = fmt::str(p, proto_name(c.proto));
    *p++ = '"';
    out_.commit(p);
    // As Zeek: duration and byte counts only for connections that lasted.
    if (c.last_ns > c.start_ns) {
        out_.put(",\"duration\":");
        put_seconds(out_, c.last_ns - c.start_ns);
        out_.put(",\"orig_bytes\":").put_u64(FlowTracker::payload_bytes(c, 0));
        out_.put(",\"resp_bytes\":").put_u64(FlowTracker::payload_bytes(c, 1));
    }
    static_assert(Connection::kHistoryMax <= 64);
    p = out_.reserve(512);
    p = fmt::lit(p, ",\"conn_state\":\"");
    p = fmt::str(p, FlowTracker::conn_state(c));
    p = fmt::lit(p, "\",\"missed_bytes\":");
    p = fmt::u64(p, c.side[0].tcp.missed_bytes + c.side[1].tcp.missed_bytes);
    // wirelens' own, beside Zeek's: what the capture lost, in every state,
    // and what the network lost and the sender resent.
    p = fmt::lit(p, ",\"capture_loss_bytes\":");
    p = fmt::u64(p, c.side[0].tcp.capture_loss_bytes + c.side[1].tcp.capture_loss_bytes);
    p = fmt::lit(p, ",\"retransmitted_bytes\":");
    p = fmt::u64(p, c.side[0].tcp.retransmitted_bytes + c.side[1].tcp.retransmitted_bytes);
    if (c.history_len != 0) {
        // History letters are ASCII letters and '^': nothing to escape.
        p = fmt::lit(p, ",\"history\":\"");
        p = fmt::str(p, std::string_view(c.history, c.history_len));
        *p++ = '"';
        if (c.history_cut) p = fmt::lit(p, ",\"history_truncated\":true");
    }
    p = fmt::lit(p, ",\"orig_pkts\":");
    p = fmt::u64(p, c.side[0].pkts);
    p = fmt::lit(p, ",\"orig_ip_bytes\":");
    p = fmt::u64(p, c.side[0].ip_bytes);
    p = fmt::lit(p, ",\"resp_pkts\":");
    p = fmt::u64(p, c.side[1].pkts);
    p = fmt::lit(p, ",\"resp_ip_bytes\":");
    p = fmt::u64(p, c.side[1].ip_bytes);
    if (c.side[0].has_mac) {
        p = fmt::lit(p, ",\"orig_l2_addr\":\"");
        p = fmt::mac(p, c.side[0].mac);
        *p++ = '"';
    }
    if (c.side[1].has_mac) {
        p = fmt::lit(p, ",\"resp_l2_addr\":\"");
        p = fmt::mac(p, c.side[1].mac);
        *p++ = '"';
    }
    out_.commit(p);
    // wirelens' own fields.
    if (c.proto == ipproto::kTcp) {
        put_handshake_rtt(out_, c);
        std::uint64_t rexmit = 0, ooo = 0;
        for (const auto& s : c.side) {
            rexmit += s.tcp.retransmits;
            ooo += s.tcp.out_of_order;
        }
        p = out_.reserve(128);
        p = fmt::lit(p, ",\"teardown\":\"");
        p = fmt::str(p, teardown_name(FlowTracker::teardown(c)));
        p = fmt::lit(p, "\",\"retransmits\":");
        p = fmt::u64(p, rexmit);
        p = fmt::lit(p, ",\"out_of_order\":");
        p = fmt::u64(p, ooo);
        out_.commit(p);
    }
    for (int s = 0; s < 2; ++s) {
        if (!c.side[s].has_mac) continue;
        const std::string_view vendor = vendor_of(c.side[s].mac);
        if (vendor.empty()) continue;
        out_.put(s == 0 ? ",\"orig_vendor\":" : ",\"resp_vendor\":").put_json_string(vendor);
    }
    if (c.icmp_errors != 0) out_.put(",\"icmp_errors\":").put_u64(c.icmp_errors);
    p = out_.reserve(64);
    p = c.flipped ? fmt::lit(p, ",\"flipped\":true,\"end\":\"")
                  : fmt::lit(p, ",\"flipped\":false,\"end\":\"");
    p = fmt::str(p, end_name(why));
    p = fmt::lit(p, "\"}\n");
    out_.commit(p);
}

void ConnReporter::print_rows() {
    std::stable_sort(rows_.begin(), rows_.end(),
                     [](const Row& a, const Row& b) { return a.start_ns < b.start_ns; });
    if (rows_printed_ == 0 && !rows_.empty()) {
        out_.put("connections, by start time (state and history as in Zeek's conn.log)\n");
    }
    for (const Row& r : rows_) {
        ++rows_printed_;
        // Line 1: when, what, who, and how it ended.
        put_clock(out_, r.start_ns);
        out_.put(' ').put(proto_name(r.proto)).put(' ');
        put_endpoint(out_, r.orig, r.ip_version);
        out_.put(" > ");
        put_endpoint(out_, r.resp, r.ip_version);
        out_.put(' ').put(r.state).put('\n');
        // Line 2: the uid, the history and the counts.
        char uid[19];
        row_uid(r, uid);
        out_.put("    ").put(uid).put(' ');
        const std::string_view hist(r.history, r.history_len);
        out_.put(hist.empty() ? std::string_view("-") : hist);
        pad_to(out_, hist.empty() ? 1 : hist.size(), 12);
        out_.put(" pkts ").put_u64(r.pkts[0]).put('/').put_u64(r.pkts[1]);
        out_.put(" bytes ").put_u64(r.bytes[0]).put('/').put_u64(r.bytes[1]);
        out_.put(' ').put_fixed(static_cast<double>(r.duration_ns) / 1e9, 3).put('s');
        if (r.proto == ipproto::kTcp) out_.put(' ').put(teardown_name(r.teardown));
        if (r.icmp_errors != 0) out_.put(" icmp_errors ").put_u64(r.icmp_errors);
        out_.put('\n');
    }
    rows_.clear();
}

void ConnReporter::write_ladder_json(const Row& row, const LadderLog& log) {
    char uid[19];
    row_uid(row, uid);
    out_.put("{\"type\":\"ladder\",\"uid\":\"").put(uid).put("\",\"steps\":[");
    const std::uint64_t t0 = log.count ? log.steps[0].ts_ns : 0;
    LadderStates states(log.count && (log.steps[0].flags & tcpflag::kSyn));
    for (int i = 0; i < log.count; ++i) {
        const LadderStep& s = log.steps[i];
        RfcState snd, rcv;
        states.step(s, snd, rcv);
        char flags[10];
        if (i) out_.put(',');
        out_.put("{\"t\":");
        put_seconds(out_, s.ts_ns - t0);
        out_.put(",\"dir\":\"").put(s.dir == 0 ? "orig" : "resp").put("\",\"flags\":\"");
        out_.put(std::string_view(flags, tcp_flags_string(s.flags, flags)));
        out_.put("\",\"seq\":").put_u64(s.rel_seq).put(",\"ack\":").put_u64(s.rel_ack);
        out_.put(",\"len\":").put_u64(s.len);
        out_.put(",\"orig_state\":\"").put(rfc_name(s.dir == 0 ? snd : rcv));
        out_.put("\",\"resp_state\":\"").put(rfc_name(s.dir == 0 ? rcv : snd)).put('"');
        if (s.skipped_pkts) {
            out_.put(",\"skipped_pkts\":").put_u64(s.skipped_pkts);
            out_.put(",\"skipped_bytes\":").put_u64(s.skipped_bytes);
        }
        out_.put('}');
    }
    out_.put("],\"dropped_steps\":").put_u64(log.dropped).put("}\n");
}

void ConnReporter::write_ladder_text(const Row& row, const LadderLog& log) {
    char uid[19];
    row_uid(row, uid);
    out_.put("\nladder ").put(uid).put("  ");
    put_endpoint(out_, row.orig, row.ip_version);
    out_.put(" > ");
    put_endpoint(out_, row.resp, row.ip_version);
    out_.put("  ").put(row.state).put(' ').put(std::string_view(row.history, row.history_len));
    out_.put('\n');
    // Columns: time (10), orig state (12), arrow (36), resp state.
    constexpr std::size_t kArrow = 36;
    out_.put("  time (s)  orig                                                  resp\n");
    const std::uint64_t t0 = log.count ? log.steps[0].ts_ns : 0;
    LadderStates states(log.count && (log.steps[0].flags & tcpflag::kSyn));
    RfcState shown[2] = {states.side[0], states.side[1]};
    for (int i = 0; i < log.count; ++i) {
        const LadderStep& s = log.steps[i];
        if (s.skipped_pkts) {
            out_.put("            ... ").put_u64(s.skipped_pkts).put(" packets, ");
            out_.put_u64(s.skipped_bytes).put(" bytes of data ...\n");
        }
        RfcState snd, rcv;
        states.step(s, snd, rcv);
        const RfcState o = s.dir == 0 ? snd : rcv, r = s.dir == 0 ? rcv : snd;
        char label[64];
        char flags[10];
        const std::size_t fl = tcp_flags_string(s.flags, flags);
        int n = std::snprintf(label, sizeof label, " %.*s seq %llu", static_cast<int>(fl), flags,
                              static_cast<unsigned long long>(s.rel_seq));
        if (s.flags & tcpflag::kAck) {
            n += std::snprintf(label + n, sizeof label - static_cast<std::size_t>(n), " ack %llu",
                               static_cast<unsigned long long>(s.rel_ack));
        }
        if (s.len) {
            n += std::snprintf(label + n, sizeof label - static_cast<std::size_t>(n), " len %u",
                               s.len);
        }
        label[n++] = ' ';
        label[n] = '\0';
        char tbuf[16];
        std::snprintf(tbuf, sizeof tbuf, "%10.6f", static_cast<double>(s.ts_ns - t0) / 1e9);
        out_.put(tbuf).put("  ");
        const char* oname = o != shown[0] ? rfc_name(o) : "";
        out_.put(oname);
        pad_to(out_, std::strlen(oname), 12);
        // The arrow: label inside a line of dashes, head towards the receiver.
        const std::size_t lab = std::min<std::size_t>(static_cast<std::size_t>(n), kArrow - 6);
        if (s.dir == 0) {
            out_.put("---").put(std::string_view(label, lab));
            for (std::size_t k = 3 + lab; k < kArrow - 1; ++k)
                out_.put('-');
            out_.put('>');
        } else {
            out_.put("<--").put(std::string_view(label, lab));
            for (std::size_t k = 3 + lab; k < kArrow; ++k)
                out_.put('-');
        }
        const char* rname = r != shown[1] ? rfc_name(r) : "";
        out_.put("  ").put(rname).put('\n');
        shown[0] = o;
        shown[1] = r;
    }
    if (log.pending_pkts) {
        out_.put("            ... ").put_u64(log.pending_pkts).put(" packets, ");
        out_.put_u64(log.pending_bytes).put(" bytes of data ...\n");
    }
    if (log.dropped) out_.put("            (").put_u64(log.dropped).put(" more steps not kept)\n");
}

void ConnReporter::finish(const FlowCounters& counters, std::uint32_t ladder_cap,
                          bool ladder_wanted, bool ladder_named) {
    (void)counters;
    if (json_) {
        flush_folded();
        return;
    }
    if (ladders_only_) {
        nfolded_ = 0;  // the attempts a flood left belong to the table
        folded_other_ = 0;
    } else {
        print_rows();
        flush_folded();
    }
    for (const auto& [row, log] : ladders_)
        write_ladder_text(row, log);
    if (ladder_wanted) {
        if (ladders_drawn_ == 0) {
            if (!ladder_named) out_.put("\nladder: no TCP connection matched\n");
        } else if (ladders_.size() == ladder_cap && ladder_cap > 1) {
            out_.put("\nladder: the first ").put_u64(ladder_cap);
            out_.put(" TCP connections are drawn; name one with --ladder UID\n");
        }
    }
    ladders_.clear();
}

}  // namespace wl
