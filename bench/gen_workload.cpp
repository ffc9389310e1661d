// gen_workload: writes the benchmark workloads, the same bytes for the same seed.
//
//   gen_workload mixed OUT.pcap [--seed N] [--connections N] [--concurrency N]
//                               [--flood N] [--flood-rate R] [--flood-start S]
//   gen_workload synflood OUT.pcap [--seed N] [--count N] [--rate R]
//
// mixed (defaults: 30,000 connections, 64 at once, a 300,000-SYN flood):
//   - TCP connections, each a framed upload as samples/upload/ makes them: a 4-byte
//     little-endian length, a JSON header {"file_name": ..., "file_size": N, "md5": ...},
//     then N body bytes (0 B to 64 KiB; 1 % empty, 1 % exactly 64 KiB, the rest
//     exponential, mean about 13 kB: about 390 MB of bodies in all), answered by the
//     server's framed reply {"status": "ok", "md5": ...}. A full handshake (MSS, SACK,
//     timestamps, window scale), MSS-sized segments (1448 bytes over IPv4, 1428 over IPv6,
//     timestamps in every segment), slow start from 10 segments, a delayed ACK every
//     second segment, the reply, FIN teardown. 10 % of the connections over IPv6.
//     3 % have a segment reordered (swapped with the next, or three segments late),
//     3 % a segment retransmitted, 1 % are reset mid-upload (by either side).
//   - The connections run in `concurrency` slots: a connection starts when a slot
//     frees. Every connection has its own RTT (90 %: 50-500 us, 10 %: 1-10 ms) and
//     its packets keep their gaps; all of them share a full-duplex 1 Gbit/s link
//     (every frame occupies it for its length plus 24 bytes of preamble, FCS and gap),
//     which is what the timestamps record, as seen at the servers' switch port.
//   - DNS over UDP while the uploads last: three clients, each sending a query 20-60 us
//     after its last answer, answered 60-200 us later.
//   - A spoofed SYN flood: `flood` SYNs from random addresses and ports in
//     198.18.0.0/15 to 198.19.0.80:80, `flood-rate` per second from `flood-start`
//     seconds on; never answered. 54-byte frames (no Ethernet padding).
// synflood (defaults: 10,000,000 SYNs at 1,000,000/s): the flood alone.
//
// Addresses: IPv4 in 198.18.0.0/15, IPv6 in 2001:2::/48 (both reserved for
// benchmarking). The file is pcap with nanosecond timestamps (wl::PcapWriter), Ethernet.
// A JSON summary of what was written (the counts the analysis should find) goes to
// standard output.
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "capture/pcap_writer.hpp"

namespace {

// ---------------------------------------------------------------------------------------------
// Randomness: xoshiro256** seeded by splitmix64; no <random> distributions, whose
// results differ between standard libraries.

std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

class Rng {
  public:
    explicit Rng(std::uint64_t seed) {
        for (auto& w : s_)
            w = splitmix64(seed);
    }
    std::uint64_t next() {
        const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }
    std::uint64_t below(std::uint64_t n) {  // [0, n)
        return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
    }
    std::int64_t range(std::int64_t lo, std::int64_t hi) {  // [lo, hi]
        return lo + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(hi - lo + 1)));
    }
    double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
    bool chance(double p) { return unit() < p; }
    void fill(std::uint8_t* p, std::size_t n) {
        while (n >= 8) {
            const std::uint64_t v = next();
            std::memcpy(p, &v, 8);
            p += 8;
            n -= 8;
        }
        if (n > 0) {
            const std::uint64_t v = next();
            std::memcpy(p, &v, n);
        }
    }

  private:
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    std::uint64_t s_[4];
};

// ---------------------------------------------------------------------------------------------
// Frames

constexpr std::int64_t kUs = 1000;
constexpr std::int64_t kMs = 1000 * kUs;
constexpr std::int64_t kSec = 1000 * kMs;
constexpr std::uint64_t kBaseNs = 1767225600ull * 1000000000ull;  // 2026-01-01T00:00:00Z
constexpr std::int64_t kLinkOverhead = 24;  // preamble + SFD 8, FCS 4, inter-frame gap 12
constexpr std::int64_t kNsPerByte = 8;      // 1 Gbit/s

using Mac = std::array<std::uint8_t, 6>;
constexpr Mac kRouterMac{0x00, 0x00, 0x0c, 0x9f, 0xf0, 0x01};      // Cisco: the clients' side
constexpr Mac kServerMacBase{0x3c, 0xfd, 0xfe, 0xa5, 0x00, 0x10};  // Intel X710

enum : std::uint8_t { kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10 };

struct Addr {
    bool v6 = false;
    std::array<std::uint8_t, 16> ip{};  // IPv4 in the first 4 bytes
};

Addr v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    Addr x;
    x.ip[0] = a;
    x.ip[1] = b;
    x.ip[2] = c;
    x.ip[3] = d;
    return x;
}

// 2001:2::/48 (RFC 5180): the 2001:2:0:SUBNET::HOST.
Addr v6(std::uint16_t subnet, std::uint32_t host) {
    Addr x;
    x.v6 = true;
    const std::uint8_t pre[8] = {0x20,
                                 0x01,
                                 0x00,
                                 0x02,
                                 0x00,
                                 0x00,
                                 static_cast<std::uint8_t>(subnet >> 8),
                                 static_cast<std::uint8_t>(subnet)};
    std::memcpy(x.ip.data(), pre, 8);
    x.ip[12] = static_cast<std::uint8_t>(host >> 24);
    x.ip[13] = static_cast<std::uint8_t>(host >> 16);
    x.ip[14] = static_cast<std::uint8_t>(host >> 8);
    x.ip[15] = static_cast<std::uint8_t>(host);
    return x;
}

void put16(std::uint8_t* p, std::uint32_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
void put32(std::uint8_t* p, std::uint32_t v) {
    put16(p, v >> 16);
    put16(p + 2, v & 0xffff);
}

// Ones' complement sum of big-endian 16-bit words (RFC 1071), not yet folded.
std::uint64_t sum16(const std::uint8_t* p, std::size_t n, std::uint64_t acc = 0) {
    for (; n >= 2; p += 2, n -= 2)
        acc += static_cast<std::uint32_t>(p[0] << 8 | p[1]);
    if (n == 1) acc += static_cast<std::uint32_t>(p[0] << 8);
    return acc;
}
std::uint16_t fold(std::uint64_t acc) {
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return static_cast<std::uint16_t>(~acc & 0xffff);
}

struct L3 {
    Addr src, dst;
    Mac mac_src, mac_dst;
    std::uint8_t ttl = 64;
    std::uint16_t ip_id = 0;
    std::uint32_t flow_label = 0;
};

// Builds Ethernet + IP + the L4 header and payload given (checksummed). Frames are not padded
// to Ethernet's 60 bytes (a 54-byte SYN, as captured on the sending host): tcpflow 1.6 would
// write the padding of every flood SYN into a file of its own.
class FrameBuilder {
  public:
    FrameBuilder() : buf_(70000) {}

    // l4: the L4 header with a zero checksum at csum_off; the payload follows it.
    std::uint32_t build(const L3& l3, std::uint8_t proto, const std::uint8_t* l4,
                        std::size_t l4_len, std::size_t csum_off, const std::uint8_t* payload,
                        std::size_t len) {
        std::uint8_t* f = buf_.data();
        std::memcpy(f, l3.mac_dst.data(), 6);
        std::memcpy(f + 6, l3.mac_src.data(), 6);
        const std::size_t seg_len = l4_len + len;
        std::size_t ip_len;
        std::uint64_t pseudo;
        if (!l3.src.v6) {
            put16(f + 12, 0x0800);
            std::uint8_t* ip = f + 14;
            ip[0] = 0x45;
            ip[1] = 0;
            put16(ip + 2, static_cast<std::uint32_t>(20 + seg_len));
            put16(ip + 4, l3.ip_id);
            put16(ip + 6, 0x4000);  // DF
            ip[8] = l3.ttl;
            ip[9] = proto;
            put16(ip + 10, 0);
            std::memcpy(ip + 12, l3.src.ip.data(), 4);
            std::memcpy(ip + 16, l3.dst.ip.data(), 4);
            put16(ip + 10, fold(sum16(ip, 20)));
            ip_len = 20;
            pseudo = sum16(ip + 12, 8) + proto + seg_len;
        } else {
            put16(f + 12, 0x86dd);
            std::uint8_t* ip = f + 14;
            put32(ip, 0x60000000u | (l3.flow_label & 0xfffff));
            put16(ip + 4, static_cast<std::uint32_t>(seg_len));
            ip[6] = proto;
            ip[7] = l3.ttl;
            std::memcpy(ip + 8, l3.src.ip.data(), 16);
            std::memcpy(ip + 24, l3.dst.ip.data(), 16);
            ip_len = 40;
            pseudo = sum16(ip + 8, 32) + proto + seg_len;
        }
        std::uint8_t* seg = f + 14 + ip_len;
        std::memcpy(seg, l4, l4_len);
        if (len > 0) std::memcpy(seg + l4_len, payload, len);
        std::uint16_t c = fold(sum16(seg, seg_len, pseudo));
        if (proto == 17 && c == 0) c = 0xffff;
        put16(seg + csum_off, c);
        return static_cast<std::uint32_t>(14 + ip_len + seg_len);
    }
    const std::uint8_t* data() const { return buf_.data(); }

  private:
    std::vector<std::uint8_t> buf_;
};

struct Output {
    std::unique_ptr<wl::PcapWriter> writer;
    FrameBuilder fb;
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;
    std::int64_t last_t = 0;

    void write(std::int64_t t, std::uint32_t len) {
        if (t < last_t) {
            std::fprintf(stderr, "gen_workload: internal error: time goes back\n");
            std::exit(3);
        }
        last_t = t;
        const wl::RawFrame fr{fb.data(), len, len, kBaseNs + static_cast<std::uint64_t>(t)};
        if (!writer->write(fr)) {
            std::fprintf(stderr, "gen_workload: %s\n", writer->error().c_str());
            std::exit(1);
        }
        ++packets;
        bytes += len;
    }
};

std::int64_t wire_ns(std::uint32_t frame_len) {
    return (std::max<std::int64_t>(frame_len, 60) + kLinkOverhead) * kNsPerByte;
}

// A spoofed SYN from a random address and port of 198.18.0.0/15, no options (as hping3's).
std::uint32_t build_flood_syn(Output& out, Rng& rng, const Addr& victim, std::uint16_t port) {
    L3 l3;
    const std::uint64_t r = rng.next();
    l3.src = v4(198, static_cast<std::uint8_t>(18 + (r & 1)), static_cast<std::uint8_t>(r >> 8),
                static_cast<std::uint8_t>(r >> 16));
    l3.dst = victim;
    l3.mac_src = kRouterMac;
    l3.mac_dst = kServerMacBase;
    l3.mac_dst[5] = 0x80;
    l3.ttl = static_cast<std::uint8_t>(40 + ((r >> 24) & 15));
    l3.ip_id = static_cast<std::uint16_t>(r >> 32);
    std::uint8_t tcp[20] = {};
    put16(tcp, static_cast<std::uint32_t>(1024 + (r >> 48) % 64512));
    put16(tcp + 2, port);
    put32(tcp + 4, static_cast<std::uint32_t>(rng.next()));
    tcp[12] = 0x50;
    tcp[13] = kSyn;
    put16(tcp + 14, 512);
    return out.fb.build(l3, 6, tcp, 20, 16, nullptr, 0);
}

// ---------------------------------------------------------------------------------------------
// The mixed workload

struct Config {
    std::uint64_t seed = 7;
    std::uint32_t connections = 30000;
    std::uint32_t concurrency = 64;
    std::uint64_t flood = 300000;
    double flood_rate = 100000;
    double flood_start = 0.5;
    // synflood
    std::uint64_t count = 10000000;
    double rate = 1000000;
};

const Addr kVictim = v4(198, 19, 0, 80);
constexpr std::uint16_t kVictimPort = 80;
constexpr std::uint16_t kUploadPort = 5001;
constexpr std::uint32_t kServers = 4;
constexpr std::uint32_t kClientHosts = 3000;

std::string hex(const std::uint8_t* d, std::size_t n) {
    static const char* digits = "0123456789abcdef";
    std::string s;
    for (std::size_t i = 0; i < n; ++i) {
        s += digits[d[i] >> 4];
        s += digits[d[i] & 15];
    }
    return s;
}

std::string md5_hex(const std::uint8_t* p, std::size_t n) {
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(p, n, d, &len, EVP_md5(), nullptr) != 1) {
        std::fprintf(stderr, "gen_workload: MD5 failed\n");
        std::exit(3);
    }
    return hex(d, len);
}

struct Stats {
    std::uint64_t connections = 0, v6_connections = 0, uploads_complete = 0, resets = 0;
    std::uint64_t reordered = 0, retransmitted = 0, body_bytes = 0, tcp_packets = 0;
    std::uint64_t udp_datagrams = 0, flood_syns = 0, data_segments = 0;
    std::uint32_t max_body = 0, empty_bodies = 0;
};

// One planned packet of a connection: its ideal time (the connection alone on the link),
// direction, flags and where its payload lies in its direction's stream.
struct Pkt {
    std::int64_t t;
    std::uint8_t dir;  // 0: client to server, 1: server to client
    std::uint8_t flags;
    std::uint32_t off;  // payload offset in the stream; for FIN and RST: the sequence offset
    std::uint32_t len;
    std::uint32_t order;  // tie-break
};

// One TCP connection: its streams, its plan, and the state the ACK numbers come from.
class Connection {
  public:
    Connection(const Config& cfg, std::uint32_t index, Stats& st) {
        std::uint64_t s = cfg.seed * 0x100000001b3ull + index;
        Rng rng(splitmix64(s));
        v6_ = rng.chance(0.10);
        const std::uint32_t host = index % kClientHosts;
        const std::uint32_t server = static_cast<std::uint32_t>(rng.below(kServers));
        if (!v6_) {
            cli_.src = v4(198, 18, static_cast<std::uint8_t>(1 + host / 250),
                          static_cast<std::uint8_t>(1 + host % 250));
            cli_.dst = v4(198, 19, 0, static_cast<std::uint8_t>(10 + server));
            mss_ = 1448;
        } else {
            cli_.src = v6(1, 0x100 + host);
            cli_.dst = v6(0, 0x10 + server);
            mss_ = 1428;
        }
        cli_.mac_src = kRouterMac;
        cli_.mac_dst = kServerMacBase;
        cli_.mac_dst[5] = static_cast<std::uint8_t>(0x10 + server);
        cli_.ttl = static_cast<std::uint8_t>(52 + rng.below(12));
        cli_.flow_label = static_cast<std::uint32_t>(rng.next() & 0xfffff);
        srv_.src = cli_.dst;
        srv_.dst = cli_.src;
        srv_.mac_src = cli_.mac_dst;
        srv_.mac_dst = cli_.mac_src;
        srv_.ttl = 64;
        srv_.flow_label = static_cast<std::uint32_t>(rng.next() & 0xfffff);
        // Unique ports per client host: each host opens at most 10 connections.
        cport_ =
            static_cast<std::uint16_t>(32768 + (index / kClientHosts) * 2000 + (host * 37) % 2000);
        isn_c_ = static_cast<std::uint32_t>(rng.next());
        isn_s_ = static_cast<std::uint32_t>(rng.next());
        cli_.ip_id = static_cast<std::uint16_t>(rng.next());
        srv_.ip_id = static_cast<std::uint16_t>(rng.next());
        tsc_ = static_cast<std::uint32_t>(rng.next());
        tss_ = static_cast<std::uint32_t>(rng.next());

        // The upload: body size, body, header, reply.
        std::uint32_t size;
        const double u = rng.unit();
        if (u < 0.01)
            size = 0;
        else if (u < 0.02)
            size = 65536;
        else
            size = static_cast<std::uint32_t>(
                std::clamp(-12800.0 * std::log(1.0 - rng.unit()), 1.0, 65536.0));
        static const char* exts[] = {"bin", "jpg", "log", "csv", "tar.gz", "json", "pdf", "txt"};
        char name[64];
        std::snprintf(name, sizeof name, "upload-%06u.%s", index, exts[rng.below(8)]);
        std::vector<std::uint8_t> body(size);
        rng.fill(body.data(), size);
        const std::string md5 = md5_hex(body.data(), size);
        const std::string header = std::string("{\"file_name\": \"") + name +
                                   "\", \"file_size\": " + std::to_string(size) + ", \"md5\": \"" +
                                   md5 + "\"}";
        framed(up_, header);
        const std::uint32_t header_end = static_cast<std::uint32_t>(up_.size());
        up_.insert(up_.end(), body.begin(), body.end());
        framed(down_, "{\"status\": \"ok\", \"md5\": \"" + md5 + "\"}");
        st.body_bytes += size;
        st.max_body = std::max(st.max_body, size);
        if (size == 0) ++st.empty_bodies;

        // Segments: the length and header in one segment, then the body (as the sample
        // client's separate sends), or the whole stream cut at the MSS.
        std::vector<std::pair<std::uint32_t, std::uint32_t>> segs;  // offset, length
        std::uint32_t pos = 0;
        if (rng.chance(0.5) || size == 0) {
            segs.emplace_back(0, header_end);
            pos = header_end;
        }
        while (pos < up_.size()) {
            const std::uint32_t n =
                std::min<std::uint32_t>(mss_, static_cast<std::uint32_t>(up_.size()) - pos);
            segs.emplace_back(pos, n);
            pos += n;
        }
        const std::size_t n = segs.size();
        st.data_segments += n;

        // The ideal times: handshake, slow start from 10 segments with a delayed ACK
        // every second segment, the reply, the teardown.
        const std::int64_t rtt =
            rng.chance(0.9) ? rng.range(50 * kUs, 500 * kUs) : rng.range(1 * kMs, 10 * kMs);
        const std::int64_t turn = rng.range(8 * kUs, 30 * kUs);  // server's reaction
        const std::uint32_t hdr = v6_ ? 14 + 40 + 32 : 14 + 20 + 32;
        std::vector<std::int64_t> seg_t(n), ack_t(n, -1);
        std::int64_t t = 0;
        add(t, 0, kSyn, 0, 0);
        add(t + turn, 1, kSyn | kAck, 0, 0);
        t += turn + rtt;
        add(t, 0, kAck, 0, 0);
        for (std::size_t k = 0; k < n; ++k) {
            std::int64_t ready =
                k == 0 ? t + 2 * kUs : seg_t[k - 1] + wire_ns(hdr + segs[k - 1].second);
            if (k >= 10) {
                const std::size_t a = (k - 10) / 2 + 1;  // segments that must be acked
                const std::size_t j = a + (a & 1) - 1;   // the ACK after segment j
                ready = std::max(ready, ack_t[j] + rtt);
            }
            seg_t[k] = ready;
            if (k % 2 == 1)
                ack_t[k] = ready + wire_ns(hdr + segs[k].second) + rng.range(3, 12) * kUs;
        }
        std::vector<std::uint8_t> psh(n, 0);
        psh[n - 1] = kPsh;
        if (segs[0].second == header_end) psh[0] = kPsh;

        // Anomalies, on the segment times.
        std::vector<std::pair<std::size_t, std::int64_t>> dups;  // retransmissions
        if (n >= 3 && rng.chance(0.03)) {
            reordered_ = true;
            const std::size_t k = 1 + rng.below(n - 2);
            if (rng.chance(0.5))
                std::swap(seg_t[k], seg_t[k + 1]);
            else
                seg_t[k] = seg_t[std::min(k + 3, n - 1)] + 1 * kUs;
        }
        std::int64_t last = *std::max_element(seg_t.begin(), seg_t.end());
        if (rng.chance(0.03)) {
            retransmitted_ = true;
            const std::size_t k = rng.below(n);
            dups.emplace_back(k, std::min(seg_t[k] + 2 * rtt, last + 1 * kUs));
        }
        std::int64_t reset_at = -1;
        bool reset_by_client = false;
        if (n >= 3 && rng.chance(0.01)) {
            const std::size_t k = 1 + rng.below(n - 2);
            reset_by_client = rng.chance(0.5);
            reset_at = seg_t[k] + (reset_by_client ? 3 * kUs : turn);
            // Mid-upload: before at least one later segment arrives.
            for (std::size_t j = k + 1; j < n; ++j)
                reset_at = std::min(reset_at, seg_t[j] - 1);
        }

        for (std::size_t k = 0; k < n; ++k) {
            add(seg_t[k], 0, kAck | psh[k], segs[k].first, segs[k].second);
            if (ack_t[k] >= 0 && k != n - 1) add(ack_t[k], 1, kAck, 0, 0);
        }
        for (const auto& [k, when] : dups) {
            add(when, 0, kAck | psh[k], segs[k].first, segs[k].second);
            add(when + turn, 1, kAck, 0, 0);  // the duplicate's ACK
        }
        // The reply once the server has read and hashed the body (about 600 MB/s).
        const std::int64_t reply =
            last + turn + 20 * kUs + static_cast<std::int64_t>(size) * 16 / 10;
        add(reply, 1, kAck | kPsh, 0, static_cast<std::uint32_t>(down_.size()));
        std::int64_t cfin = reply + rtt;
        if (rng.chance(0.5)) {  // the reply's ACK on its own, then the close
            add(cfin, 0, kAck, 0, 0);
            cfin += rng.range(10, 60) * kUs;
        }
        const auto up_len = static_cast<std::uint32_t>(up_.size());
        const auto down_len = static_cast<std::uint32_t>(down_.size());
        add(cfin, 0, kFin | kAck, up_len, 0);
        add(cfin + turn, 1, kFin | kAck, down_len, 0);
        add(cfin + turn + rtt, 0, kAck, 0, 0);

        std::stable_sort(plan_.begin(), plan_.end(), [](const Pkt& a, const Pkt& b) {
            return a.t != b.t ? a.t < b.t : a.order < b.order;
        });
        if (reset_at >= 0) {
            while (!plan_.empty() && plan_.back().t > reset_at)
                plan_.pop_back();
            plan_.push_back(Pkt{reset_at, static_cast<std::uint8_t>(reset_by_client ? 0 : 1),
                                kRst | kAck, 0, 0, next_order_++});
            reset_ = true;
        }

        ++st.connections;
        if (v6_) ++st.v6_connections;
        if (reset_)
            ++st.resets;
        else
            ++st.uploads_complete;
        if (reordered_) ++st.reordered;
        if (retransmitted_) ++st.retransmitted;
        st.tcp_packets += plan_.size();
    }

    bool done() const { return next_ >= plan_.size(); }
    std::uint8_t next_dir() const { return plan_[next_].dir; }
    // The gap to keep after this connection's previous packet.
    std::int64_t next_gap() const { return next_ == 0 ? 0 : plan_[next_].t - plan_[next_ - 1].t; }

    // Builds the next packet as sent at absolute time `now` (ns from the base).
    std::uint32_t emit(Output& out, std::int64_t now) {
        const Pkt& p = plan_[next_++];
        const bool c2s = p.dir == 0;
        L3& l3 = c2s ? cli_ : srv_;
        ++l3.ip_id;
        std::uint8_t tcp[40] = {};
        put16(tcp, c2s ? cport_ : kUploadPort);
        put16(tcp + 2, c2s ? kUploadPort : cport_);
        std::uint32_t seq_rel;  // from the ISN
        if (p.flags & kSyn)
            seq_rel = 0;
        else if (p.flags & (kFin | kRst))
            seq_rel = 1 + ((p.flags & kFin) ? p.off : (c2s ? cli_snd_max_ : srv_snd_max_));
        else
            seq_rel = 1 + p.off;
        const std::uint32_t isn = c2s ? isn_c_ : isn_s_;
        put32(tcp + 4, isn + seq_rel);
        // ACK: what this side has received contiguously so far.
        if (p.flags & kAck) put32(tcp + 8, (c2s ? isn_s_ : isn_c_) + (c2s ? cli_rcv_ : srv_rcv_));
        tcp[13] = p.flags;
        // The timestamp clock ticks every millisecond.
        const std::uint32_t tsval = (c2s ? tsc_ : tss_) + static_cast<std::uint32_t>(now / kMs);
        const std::uint32_t tsecr = c2s ? last_tss_ : last_tsc_;
        std::size_t hl;
        if (p.flags & kSyn) {
            put16(tcp + 14, c2s ? 64240 : 65160);
            std::uint8_t* o = tcp + 20;
            const std::uint16_t mss = v6_ ? 1440 : 1460;
            o[0] = 2, o[1] = 4, put16(o + 2, mss);
            o[4] = 4, o[5] = 2;  // SACK permitted
            o[6] = 8, o[7] = 10, put32(o + 8, tsval), put32(o + 12, c2s ? 0 : tsecr);
            o[16] = 1;                        // NOP
            o[17] = 3, o[18] = 3, o[19] = 7;  // window scale 7
            hl = 40;
        } else if (p.flags & kRst) {
            put16(tcp + 14, 0);
            hl = 20;
        } else {
            put16(tcp + 14, c2s ? 502 : 3000);  // scaled by 128
            std::uint8_t* o = tcp + 20;
            o[0] = 1, o[1] = 1, o[2] = 8, o[3] = 10, put32(o + 4, tsval), put32(o + 8, tsecr);
            hl = 32;
        }
        tcp[12] = static_cast<std::uint8_t>((hl / 4) << 4);
        const std::vector<std::uint8_t>& stream = c2s ? up_ : down_;
        const std::uint8_t* payload = p.len > 0 ? stream.data() + p.off : nullptr;
        const std::uint32_t len =
            out.fb.build(l3, 6, tcp, hl, 16, payload, (p.flags & (kFin | kRst)) ? 0 : p.len);

        // What the other side now has (it is captured at the server: as good as received).
        if (c2s) {
            last_tsc_ = tsval;
            receive(srv_rcv_, srv_ooo_, p);
            if (p.len > 0 && !(p.flags & (kFin | kRst)))
                cli_snd_max_ = std::max(cli_snd_max_, p.off + p.len);
        } else {
            last_tss_ = tsval;
            receive(cli_rcv_, cli_ooo_, p);
            if (p.len > 0 && !(p.flags & (kFin | kRst)))
                srv_snd_max_ = std::max(srv_snd_max_, p.off + p.len);
        }
        return len;
    }

  private:
    static void framed(std::vector<std::uint8_t>& s, const std::string& json) {
        const auto n = static_cast<std::uint32_t>(json.size());
        const std::uint8_t le[4] = {static_cast<std::uint8_t>(n), static_cast<std::uint8_t>(n >> 8),
                                    static_cast<std::uint8_t>(n >> 16),
                                    static_cast<std::uint8_t>(n >> 24)};
        s.insert(s.end(), le, le + 4);
        s.insert(s.end(), json.begin(), json.end());
    }
    void add(std::int64_t t, std::uint8_t dir, std::uint8_t flags, std::uint32_t off,
             std::uint32_t len) {
        plan_.push_back(Pkt{t, dir, flags, off, len, next_order_++});
    }
    // rcv: the next expected sequence offset from the ISN (0 before the SYN).
    static void receive(std::uint32_t& rcv,
                        std::vector<std::pair<std::uint32_t, std::uint32_t>>& ooo, const Pkt& p) {
        if (p.flags & kRst) return;
        std::uint32_t b, e;
        if (p.flags & kSyn) {
            b = 0, e = 1;
        } else if (p.flags & kFin) {
            b = 1 + p.off, e = b + 1;
        } else if (p.len > 0) {
            b = 1 + p.off, e = b + p.len;
        } else {
            return;
        }
        if (b > rcv) {
            ooo.emplace_back(b, e);
            return;
        }
        rcv = std::max(rcv, e);
        bool more = true;
        while (more) {
            more = false;
            for (std::size_t i = 0; i < ooo.size(); ++i) {
                if (ooo[i].first <= rcv) {
                    rcv = std::max(rcv, ooo[i].second);
                    ooo.erase(ooo.begin() + static_cast<std::ptrdiff_t>(i));
                    more = true;
                    break;
                }
            }
        }
    }

    bool v6_ = false, reordered_ = false, retransmitted_ = false, reset_ = false;
    L3 cli_, srv_;
    std::uint16_t cport_ = 0;
    std::uint32_t mss_ = 1448;
    std::uint32_t isn_c_ = 0, isn_s_ = 0, tsc_ = 0, tss_ = 0, last_tsc_ = 0, last_tss_ = 0;
    std::vector<std::uint8_t> up_, down_;
    std::vector<Pkt> plan_;
    std::size_t next_ = 0;
    std::uint32_t next_order_ = 0;
    std::uint32_t srv_rcv_ = 0, cli_rcv_ = 0, cli_snd_max_ = 0, srv_snd_max_ = 0;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> srv_ooo_, cli_ooo_;
};

// DNS: an A or AAAA query from a client to 198.19.0.53:53 and its answer.
class DnsSource {
  public:
    explicit DnsSource(std::uint64_t seed) : rng_(seed ^ 0xd45) {}

    bool answering() const { return answer_pending_; }
    // Builds the query at `now`; the answer follows 60-200 us later.
    std::uint32_t query(Output& out) {
        const std::uint32_t host = static_cast<std::uint32_t>(rng_.below(kClientHosts));
        q_.src = v4(198, 18, static_cast<std::uint8_t>(1 + host / 250),
                    static_cast<std::uint8_t>(1 + host % 250));
        q_.dst = v4(198, 19, 0, 53);
        q_.mac_src = kRouterMac;
        q_.mac_dst = kServerMacBase;
        q_.mac_dst[5] = 0x53;
        q_.ttl = 60;
        q_.ip_id = static_cast<std::uint16_t>(rng_.next());
        sport_ = static_cast<std::uint16_t>(32768 + rng_.below(28232));  // Linux ephemeral ports
        id_ = static_cast<std::uint16_t>(rng_.next());
        aaaa_ = rng_.chance(0.3);
        name_no_ = static_cast<std::uint32_t>(rng_.below(100000));
        n_ = 0;
        dns_header(0x0100, 0);
        question();
        answer_pending_ = true;
        return udp(out, q_, sport_, 53);
    }
    std::uint32_t answer(Output& out) {
        L3 a;
        a.src = q_.dst;
        a.dst = q_.src;
        a.mac_src = q_.mac_dst;
        a.mac_dst = q_.mac_src;
        a.ttl = 64;
        a.ip_id = static_cast<std::uint16_t>(rng_.next());
        n_ = 0;
        dns_header(0x8180, 1);
        question();
        const std::uint8_t rr[10] = {0xc0, 0x0c, 0, static_cast<std::uint8_t>(aaaa_ ? 28 : 1),
                                     0,    1,    0, 0,
                                     0x01, 0x2c};  // name pointer, type, IN, TTL 300
        put(rr, 10);
        if (aaaa_) {
            const Addr x = v6(0x100, 0x1000 + name_no_);
            byte(0), byte(16);
            put(x.ip.data(), 16);
        } else {
            byte(0), byte(4);
            byte(198), byte(19);
            byte(static_cast<std::uint8_t>(1 + name_no_ % 250));
            byte(static_cast<std::uint8_t>(1 + name_no_ / 250 % 250));
        }
        answer_pending_ = false;
        return udp(out, a, 53, sport_);
    }
    std::int64_t answer_delay() { return rng_.range(60, 200) * kUs; }
    std::int64_t query_gap() { return rng_.range(20, 60) * kUs; }

  private:
    void dns_header(std::uint16_t flags, std::uint16_t ancount) {
        const std::uint8_t h[12] = {static_cast<std::uint8_t>(id_ >> 8),
                                    static_cast<std::uint8_t>(id_),
                                    static_cast<std::uint8_t>(flags >> 8),
                                    static_cast<std::uint8_t>(flags),
                                    0,
                                    1,
                                    0,
                                    static_cast<std::uint8_t>(ancount),
                                    0,
                                    0,
                                    0,
                                    0};
        put(h, 12);
    }
    void question() {
        char label[16];
        const int n = std::snprintf(label, sizeof label, "h%05u", name_no_);
        byte(static_cast<std::uint8_t>(n));
        put(label, static_cast<std::size_t>(n));
        for (const char* l : {"bench", "example"}) {
            byte(static_cast<std::uint8_t>(std::strlen(l)));
            put(l, std::strlen(l));
        }
        byte(0);
        const std::uint8_t tail[4] = {0, static_cast<std::uint8_t>(aaaa_ ? 28 : 1), 0, 1};
        put(tail, 4);
    }
    std::uint32_t udp(Output& out, const L3& l3, std::uint16_t sport, std::uint16_t dport) {
        std::uint8_t h[8] = {};
        put16(h, sport);
        put16(h + 2, dport);
        put16(h + 4, static_cast<std::uint32_t>(8 + n_));
        return out.fb.build(l3, 17, h, 8, 6, msg_.data(), n_);
    }

    Rng rng_;
    L3 q_;
    std::uint16_t sport_ = 0, id_ = 0;
    bool aaaa_ = false, answer_pending_ = false;
    std::uint32_t name_no_ = 0;
    // A fixed buffer, not a vector: GCC 12 warns falsely on small vector inserts.
    void put(const void* p, std::size_t n) {
        std::memcpy(msg_.data() + n_, p, n);
        n_ += n;
    }
    void byte(std::uint8_t b) { msg_[n_++] = b; }

    std::array<std::uint8_t, 512> msg_{};
    std::size_t n_ = 0;
};

int write_mixed(const Config& cfg, Output& out) {
    Stats st;
    std::int64_t link_free[2] = {0, 0};
    const auto emit_at = [&](std::int64_t cand, int dir) { return std::max(cand, link_free[dir]); };

    // Sources: the connection slots, DNS, the flood. Each has one next packet, a candidate
    // time and a direction; the packet sent first is the one the link lets out first.
    struct Slot {
        std::unique_ptr<Connection> conn;
        std::int64_t last_emit = 0;  // of the connection's previous packet
    };
    std::vector<Slot> slots(cfg.concurrency);
    Rng sched(cfg.seed ^ 0x51075);
    std::uint32_t started = 0;
    for (auto& s : slots) {
        if (started == cfg.connections) break;
        s.conn = std::make_unique<Connection>(cfg, started++, st);
        s.last_emit = static_cast<std::int64_t>(sched.below(2 * kMs));  // staggered starts
    }
    // Three DNS clients, each with one query outstanding at a time.
    std::vector<DnsSource> dns;
    std::vector<std::int64_t> dns_next;
    for (std::uint64_t i = 0; i < 3; ++i) {
        dns.emplace_back(cfg.seed + (i << 32));
        dns_next.push_back(static_cast<std::int64_t>(sched.below(100 * kUs)));
    }
    Rng flood_rng(cfg.seed ^ 0xf100d);
    std::uint64_t flood_sent = 0;
    const auto flood_time = [&](std::uint64_t i) {
        return static_cast<std::int64_t>(cfg.flood_start * kSec) +
               static_cast<std::int64_t>(static_cast<double>(i) * 1e9 / cfg.flood_rate);
    };
    std::uint64_t tcp_pkts = 0;

    for (;;) {
        // Pick the source whose packet leaves first; of those the busy link holds back, the
        // one ready first (a FIFO queue at the switch), then slots, DNS, flood in turn.
        std::int64_t best = INT64_MAX, best_ready = INT64_MAX;
        constexpr int kFloodSrc = -1000;
        int best_src = -1;  // slot index, kFloodSrc, or -2 - DNS client
        const auto consider = [&](std::int64_t ready, int dir, int src) {
            const std::int64_t e = emit_at(ready, dir);
            if (e < best || (e == best && ready < best_ready))
                best = e, best_ready = ready, best_src = src;
        };
        bool tcp_active = false;
        for (std::size_t i = 0; i < slots.size(); ++i) {
            const Slot& s = slots[i];
            if (!s.conn) continue;
            tcp_active = true;
            consider(s.last_emit + s.conn->next_gap(), s.conn->next_dir(), static_cast<int>(i));
        }
        for (std::size_t i = 0; i < dns.size(); ++i)
            if (tcp_active || dns[i].answering())
                consider(dns_next[i], dns[i].answering() ? 1 : 0, -2 - static_cast<int>(i));
        if (flood_sent < cfg.flood) consider(flood_time(flood_sent), 0, kFloodSrc);
        if (best_src == -1) break;

        std::uint32_t len;
        int dir;
        if (best_src >= 0) {
            Slot& s = slots[static_cast<std::size_t>(best_src)];
            dir = s.conn->next_dir();
            len = s.conn->emit(out, best);
            s.last_emit = best;
            ++tcp_pkts;
            if (s.conn->done()) {
                s.conn.reset();
                if (started < cfg.connections) {
                    s.conn = std::make_unique<Connection>(cfg, started++, st);
                    s.last_emit =
                        best + static_cast<std::int64_t>(10 * kUs + sched.below(190 * kUs));
                }
            }
        } else if (best_src != kFloodSrc) {
            const auto i = static_cast<std::size_t>(-2 - best_src);
            if (dns[i].answering()) {
                dir = 1;
                len = dns[i].answer(out);
                dns_next[i] = best + dns[i].query_gap();
            } else {
                dir = 0;
                len = dns[i].query(out);
                dns_next[i] = best + dns[i].answer_delay();
            }
            ++st.udp_datagrams;
        } else {
            dir = 0;
            len = build_flood_syn(out, flood_rng, kVictim, kVictimPort);
            ++flood_sent;
            ++st.flood_syns;
        }
        out.write(best, len);
        link_free[dir] = best + wire_ns(len);
    }
    if (tcp_pkts != st.tcp_packets) {
        std::fprintf(stderr,
                     "gen_workload: internal error: %llu TCP packets planned, %llu written\n",
                     static_cast<unsigned long long>(st.tcp_packets),
                     static_cast<unsigned long long>(tcp_pkts));
        return 3;
    }
    std::printf(
        "{\"workload\":\"mixed\",\"seed\":%llu,\"packets\":%llu,\"frame_bytes\":%llu,"
        "\"duration\":%.6f,\"tcp_connections\":%llu,\"ipv6_connections\":%llu,"
        "\"tcp_packets\":%llu,\"data_segments\":%llu,\"uploads_complete\":%llu,\"resets\":%llu,"
        "\"reordered\":%llu,\"retransmitted\":%llu,\"body_bytes\":%llu,\"max_body\":%u,"
        "\"empty_bodies\":%u,\"udp_datagrams\":%llu,\"flood_syns\":%llu,"
        "\"flood_victim\":\"198.19.0.80\",\"flood_port\":%u,\"concurrency\":%u}\n",
        static_cast<unsigned long long>(cfg.seed), static_cast<unsigned long long>(out.packets),
        static_cast<unsigned long long>(out.bytes), static_cast<double>(out.last_t) / 1e9,
        static_cast<unsigned long long>(st.connections),
        static_cast<unsigned long long>(st.v6_connections),
        static_cast<unsigned long long>(st.tcp_packets),
        static_cast<unsigned long long>(st.data_segments),
        static_cast<unsigned long long>(st.uploads_complete),
        static_cast<unsigned long long>(st.resets), static_cast<unsigned long long>(st.reordered),
        static_cast<unsigned long long>(st.retransmitted),
        static_cast<unsigned long long>(st.body_bytes), st.max_body, st.empty_bodies,
        static_cast<unsigned long long>(st.udp_datagrams),
        static_cast<unsigned long long>(st.flood_syns), kVictimPort, cfg.concurrency);
    return 0;
}

int write_synflood(const Config& cfg, Output& out) {
    Rng rng(cfg.seed ^ 0x5f100d);
    for (std::uint64_t i = 0; i < cfg.count; ++i) {
        const std::uint32_t len = build_flood_syn(out, rng, kVictim, kVictimPort);
        out.write(static_cast<std::int64_t>(static_cast<double>(i) * 1e9 / cfg.rate), len);
    }
    std::printf(
        "{\"workload\":\"synflood\",\"seed\":%llu,\"packets\":%llu,\"frame_bytes\":%llu,"
        "\"duration\":%.6f,\"flood_syns\":%llu,\"flood_victim\":\"198.19.0.80\","
        "\"flood_port\":%u}\n",
        static_cast<unsigned long long>(cfg.seed), static_cast<unsigned long long>(out.packets),
        static_cast<unsigned long long>(out.bytes), static_cast<double>(out.last_t) / 1e9,
        static_cast<unsigned long long>(cfg.count), kVictimPort);
    return 0;
}

[[noreturn]] void usage() {
    std::fprintf(
        stderr,
        "usage: gen_workload mixed OUT.pcap [--seed N] [--connections N] [--concurrency N]\n"
        "                    [--flood N] [--flood-rate R] [--flood-start S]\n"
        "       gen_workload synflood OUT.pcap [--seed N] [--count N] [--rate R]\n");
    std::exit(2);
}

double number(const char* s) {
    char* end = nullptr;
    const double v = std::strtod(s, &end);
    if (end == s || *end != '\0' || !(v >= 0)) usage();
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) usage();
    const std::string mode = argv[1];
    if (mode != "mixed" && mode != "synflood") usage();
    Config cfg;
    for (int i = 3; i < argc; ++i) {
        const std::string opt = argv[i];
        if (i + 1 >= argc) usage();
        const double v = number(argv[++i]);
        if (opt == "--seed")
            cfg.seed = static_cast<std::uint64_t>(v);
        else if (opt == "--connections")
            cfg.connections = static_cast<std::uint32_t>(v);
        else if (opt == "--concurrency" && v >= 1)
            cfg.concurrency = static_cast<std::uint32_t>(v);
        else if (opt == "--flood")
            cfg.flood = static_cast<std::uint64_t>(v);
        else if (opt == "--flood-rate" && v > 0)
            cfg.flood_rate = v;
        else if (opt == "--flood-start")
            cfg.flood_start = v;
        else if (opt == "--count")
            cfg.count = static_cast<std::uint64_t>(v);
        else if (opt == "--rate" && v > 0)
            cfg.rate = v;
        else
            usage();
    }
    if (cfg.connections > 10 * kClientHosts) {
        std::fprintf(stderr, "gen_workload: at most %u connections (unique client ports)\n",
                     10 * kClientHosts);
        return 2;
    }
    Output out;
    wl::WriterOptions wo;
    wo.path = argv[2];
    std::string err;
    out.writer = wl::PcapWriter::open(wo, err);
    if (!out.writer) {
        std::fprintf(stderr, "gen_workload: %s\n", err.c_str());
        return 1;
    }
    const int rc = mode == "mixed" ? write_mixed(cfg, out) : write_synflood(cfg, out);
    if (!out.writer->close()) {
        std::fprintf(stderr, "gen_workload: %s\n", out.writer->error().c_str());
        return 1;
    }
    return rc;
}
