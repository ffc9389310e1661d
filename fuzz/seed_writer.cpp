// seed_writer: the seed corpora of the fuzz targets that take structured inputs
// (fuzz/make_seeds.sh runs it).
//
//   seed_writer frames OUTDIR MAX_PER_FILE CAPTURE...
//       fuzz_decode: the first MAX_PER_FILE frames of each capture (pcap or pcapng,
//       read through libpcap), each prefixed with its link-type selector; frames of
//       link types fuzz_decode does not select are left out
//   seed_writer segments OUTDIR
//       fuzz_segments: framed uploads over whole TCP connections, hand-encoded
//   seed_writer framed OUTDIR
//       fuzz_framed: framed uploads and replies cut at their boundaries
//
// Files are named by a hash of their contents, so equal seeds are written once.
#include <openssl/evp.h>
#include <pcap/pcap.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/decode_input.hpp"
#include "fuzz/framed_script.hpp"
#include "fuzz/segment_script.hpp"

namespace {

using Bytes = std::vector<std::uint8_t>;
namespace seg = wl::fuzz::segments;
namespace fr = wl::fuzz::framed;

bool write_seed(const std::string& dir, const Bytes& b) {
    std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
    for (const std::uint8_t x : b)
        h = (h ^ x) * 0x100000001b3ull;
    char name[32];
    std::snprintf(name, sizeof name, "/%016llx", static_cast<unsigned long long>(h));
    std::FILE* f = std::fopen((dir + name).c_str(), "wb");
    if (f == nullptr) {
        std::perror((dir + name).c_str());
        return false;
    }
    const bool ok = std::fwrite(b.data(), 1, b.size(), f) == b.size();
    return std::fclose(f) == 0 && ok;
}

// ------------------------------------------------------------------ frames

int write_frames(const std::string& dir, long max_per_file, int nfiles, char** files) {
    long written = 0;
    for (int i = 0; i < nfiles; ++i) {
        char errbuf[PCAP_ERRBUF_SIZE] = {};
        pcap_t* p = pcap_open_offline(files[i], errbuf);
        if (p == nullptr) continue;  // not a capture libpcap reads: nothing to cut
        const int selector = wl::fuzz::decode_input::selector_for(pcap_datalink(p));
        pcap_pkthdr* hdr = nullptr;
        const u_char* data = nullptr;
        for (long n = 0; selector >= 0 && n < max_per_file && pcap_next_ex(p, &hdr, &data) == 1;
             ++n) {
            Bytes b;
            if (selector >= static_cast<int>(wl::fuzz::decode_input::kExtended)) {
                b.push_back(static_cast<std::uint8_t>(wl::fuzz::decode_input::kExtended));
            }
            b.push_back(static_cast<std::uint8_t>(selector));
            b.insert(b.end(), data, data + hdr->caplen);
            if (!write_seed(dir, b)) return 1;
            ++written;
        }
        pcap_close(p);
    }
    std::printf("seed_writer: %ld frames\n", written);
    return 0;
}

// ------------------------------------------------------------------ uploads

std::string md5_hex(const Bytes& body) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(body.data(), body.size(), md, &n, EVP_md5(), nullptr);
    std::string hex;
    for (unsigned int i = 0; i < n; ++i) {
        char two[3];
        std::snprintf(two, sizeof two, "%02x", md[i]);
        hex += two;
    }
    return hex;
}

Bytes body_of(std::size_t n, std::uint8_t seed) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i)
        b[i] = static_cast<std::uint8_t>(seed + i * 7);
    return b;
}

void put_prefix(Bytes& out, std::uint32_t len, bool big_endian) {
    for (int i = 0; i < 4; ++i) {
        const int shift = big_endian ? 24 - 8 * i : 8 * i;
        out.push_back(static_cast<std::uint8_t>(len >> shift));
    }
}

// A 4-byte length, a JSON header, then its body (upload_client.py's framing).
Bytes json_frame(const std::string& header, const Bytes& body, bool big_endian) {
    Bytes out;
    put_prefix(out, static_cast<std::uint32_t>(header.size()), big_endian);
    out.insert(out.end(), header.begin(), header.end());
    out.insert(out.end(), body.begin(), body.end());
    return out;
}

Bytes upload(std::string_view name, const Bytes& body, bool big_endian) {
    const std::string header = std::string(R"({"file_name": ")") + std::string(name) +
                               R"(", "file_size": )" + std::to_string(body.size()) +
                               R"(, "md5": ")" + md5_hex(body) + R"("})";
    return json_frame(header, body, big_endian);
}

Bytes reply(const Bytes& body, bool big_endian) {
    return json_frame(R"({"status": "ok", "md5": ")" + md5_hex(body) + R"("})", {}, big_endian);
}

Bytes headerless(const Bytes& body, bool big_endian) {
    Bytes out;
    put_prefix(out, static_cast<std::uint32_t>(body.size()), big_endian);
    out.insert(out.end(), body.begin(), body.end());
    return out;
}

Bytes concat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

// ------------------------------------------------------------------ segments

// Writes a segment script while following the sequence numbers as fuzz_segments does,
// so that a seed can place a segment anywhere in a stream.
class Script {
  public:
    explicit Script(const seg::Settings& s) : set_(s) {
        seg::write_settings(out_, s);
        for (auto& conn : next_)
            conn = {s.isn(0), s.isn(1)};
    }

    // The next segment of `dir`, right after its previous one.
    void send(int conn, int dir, std::uint8_t flags, const Bytes& payload = {},
              seg::Step step = seg::Step::Millisecond) {
        at(conn, dir, next_[conn][dir], flags, payload, step);
    }
    // A segment at sequence `offset` bytes past the first data byte (after the SYN).
    void send_at(int conn, int dir, std::uint32_t offset, std::uint8_t flags,
                 const Bytes& payload) {
        at(conn, dir, set_.isn(dir) + 1 + offset, flags, payload, seg::Step::Millisecond);
    }
    // The first segment of a connection: a SYN-ACK seen before its SYN (it acknowledges
    // the SYN no script segment has sent yet).
    void synack_first(int conn) {
        const std::uint32_t seq = next_[conn][1];
        at(conn, 1, seq, kSyn | kAck, {}, seg::Step::Millisecond, set_.isn(0) + 1);
    }
    // An ACK from `dir` acknowledging everything the other side sent so far.
    void ack(int conn, int dir) { send(conn, dir, kAck); }
    void handshake(int conn) {
        send(conn, 0, kSyn);
        send(conn, 1, kSyn | kAck);
        ack(conn, 0);
    }
    void close(int conn) {
        send(conn, 0, kFin | kAck);
        send(conn, 1, kFin | kAck);
        ack(conn, 0);
    }
    // `bytes` from `dir` in segments of at most `mss`, each acknowledged.
    void stream(int conn, int dir, const Bytes& bytes, std::size_t mss) {
        for (std::size_t at = 0; at < bytes.size(); at += mss) {
            const std::size_t n = std::min(mss, bytes.size() - at);
            send(conn, dir, kAck | kPsh, Bytes(bytes.begin() + at, bytes.begin() + at + n));
            ack(conn, 1 - dir);
        }
    }
    const Bytes& bytes() const { return out_; }

    static constexpr std::uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;

  private:
    void at(int conn, int dir, std::uint32_t seq, std::uint8_t flags, const Bytes& payload,
            seg::Step step, std::optional<std::uint32_t> ack = std::nullopt) {
        seg::Segment s;
        s.conn = conn;
        s.dir = dir;
        s.step = step;
        s.flags = flags;
        s.seq_absolute = true;
        s.seq = seq;
        s.ack_absolute = ack.has_value();
        s.ack = ack.value_or(0);
        s.ack_delta = 0;  // else: where the other side's previous segment ended
        s.window = 0xfa;
        s.payload = payload;
        seg::write_segment(out_, s);
        const std::uint32_t end = seq + static_cast<std::uint32_t>(payload.size()) +
                                  ((flags & kSyn) ? 1 : 0) + ((flags & kFin) ? 1 : 0);
        next_[conn][dir] = end;
    }

    seg::Settings set_;
    Bytes out_;
    std::array<std::array<std::uint32_t, 2>, seg::kMaxConnections> next_{};
};

int write_segments(const std::string& dir) {
    const Bytes small = body_of(100, 1), large = body_of(700, 2), tiny = body_of(5, 3);
    std::vector<Bytes> seeds;
    {  // one upload and its reply over IPv4, little-endian, 3 segments
        seg::Settings s;
        Script sc(s);
        sc.handshake(0);
        sc.stream(0, 0, upload("report.pdf", small, false), 60);
        sc.stream(0, 1, reply(small, false), 200);
        sc.close(0);
        seeds.push_back(sc.bytes());
    }
    {  // IPv6, big-endian, the body's segments out of order, SHA-256, carved
        seg::Settings s;
        s.ipv6 = true;
        s.sha256 = true;
        s.extract = true;
        Script sc(s);
        sc.handshake(0);
        const Bytes up = upload("../etc/passwd", large, true);
        const auto half = static_cast<std::uint32_t>(up.size() / 2);
        sc.send_at(0, 0, half, Script::kAck, Bytes(up.begin() + half, up.end()));
        sc.send_at(0, 0, 0, Script::kAck, Bytes(up.begin(), up.begin() + half));
        sc.ack(0, 1);
        sc.stream(0, 1, reply(large, true), 200);
        sc.close(0);
        seeds.push_back(sc.bytes());
    }
    {  // two uploads coalesced in one segment, header-less replies, an --upload-port
        seg::Settings s;
        s.upload_port = true;
        s.extract = true;
        Script sc(s);
        sc.handshake(0);
        sc.stream(0, 0, concat({upload("a.txt", tiny, false), upload("b.txt", small, false)}), 400);
        sc.stream(0, 1, concat({headerless(tiny, false), headerless(small, false)}), 400);
        sc.close(0);
        seeds.push_back(sc.bytes());
    }
    {  // two connections interleaved, then a third losing a segment; small buffers
        seg::Settings s;
        s.connections = 3;
        s.small_buffers = true;
        s.extract = true;
        s.ladder = true;
        Script sc(s);
        sc.handshake(0);
        sc.handshake(1);
        const Bytes up0 = upload("zero.bin", small, false), up1 = upload("one.bin", large, false);
        sc.stream(0, 0, Bytes(up0.begin(), up0.begin() + 50), 50);
        sc.stream(1, 0, up1, 300);
        sc.stream(0, 0, Bytes(up0.begin() + 50, up0.end()), 50);
        sc.close(0);
        // Connection 2 takes the table's free slot; its first data segment is never
        // seen, the second is acknowledged.
        sc.handshake(2);
        sc.send_at(2, 0, 40, Script::kAck, Bytes(up0.begin() + 40, up0.end()));
        sc.ack(2, 1);
        sc.close(1);
        sc.close(2);
        seeds.push_back(sc.bytes());
    }
    {  // picked up midstream on an --upload-port, reset, then a timeout
        seg::Settings s;
        s.upload_port = true;
        Script sc(s);
        sc.stream(0, 0, upload("mid.txt", tiny, false), 100);
        sc.send(0, 1, Script::kRst);
        sc.send(0, 0, Script::kSyn, {}, seg::Step::PastTimeout);
        seeds.push_back(sc.bytes());
    }
    {  // the SYN-ACK captured before its SYN (its receiver is the originator), then an upload
        seg::Settings s;
        s.extract = true;
        Script sc(s);
        sc.synack_first(0);
        sc.send(0, 0, Script::kSyn);
        sc.ack(0, 0);
        sc.stream(0, 0, upload("swapped.txt", small, false), 80);
        sc.stream(0, 1, reply(small, false), 200);
        sc.close(0);
        seeds.push_back(sc.bytes());
    }
    {  // big segments out of order, overlapping, and retransmitted in part
        seg::Settings s;
        s.isn_byte = 0xff;  // the client's sequence numbers wrap past 2^32
        Script sc(s);
        sc.handshake(0);
        const Bytes up = upload("big.bin", body_of(3000, 7), false);
        const auto piece = [&](std::uint32_t from, std::uint32_t to) {
            return Bytes(up.begin() + from, up.begin() + std::min<std::size_t>(to, up.size()));
        };
        sc.send_at(0, 0, 1400, Script::kAck, piece(1400, 2800));
        sc.send_at(0, 0, 2700, Script::kAck, piece(2700, 4000));
        sc.send_at(0, 0, 0, Script::kAck, piece(0, 1400));
        sc.send_at(0, 0, 700, Script::kAck, piece(700, 1900));
        sc.ack(0, 1);
        sc.close(0);
        seeds.push_back(sc.bytes());
    }
    {  // a hostile file name (long, bidirectional overrides, bad UTF-8), a size past the
       // carving limit, a reset
        seg::Settings s;
        s.extract = true;
        s.max_header_byte = 40;  // 656 bytes
        Script sc(s);
        sc.handshake(0);
        std::string name = "..\\\\x\u202e\u0000gpj.exe/\u00e9t\u00e9-";
        while (name.size() < 300)
            name += "\u4e2d\u6587";
        const std::string header =
            R"({"file_name": ")" + name + R"(", "file_size": 20000, "md5": "00"})";
        sc.stream(0, 0, json_frame(header, body_of(1000, 8), false), 500);
        sc.send(0, 1, Script::kRst);
        seeds.push_back(sc.bytes());
    }
    for (const Bytes& b : seeds)
        if (!write_seed(dir, b)) return 1;
    std::printf("seed_writer: %zu segment scripts\n", seeds.size());
    return 0;
}

// ------------------------------------------------------------------ framed

class FramedSeed {
  public:
    explicit FramedSeed(const fr::Settings& s) : set_(s) {}
    // `bytes` to `dir`, cut at the given lengths (and the rest in one last piece).
    void data(int dir, const Bytes& bytes, std::initializer_list<std::uint32_t> cuts,
              bool same_segment = false) {
        std::uint32_t at = 0;
        bool first = true;
        for (const std::uint32_t n : cuts) {
            piece(dir, bytes, at, n, same_segment && !first);
            at += n;
            first = false;
        }
        piece(dir, bytes, at, static_cast<std::uint32_t>(bytes.size()) - at,
              same_segment && !first);
    }
    void gap(int dir, std::uint32_t n) { ops_.push_back({dir, fr::Kind::Gap, n}); }
    void jump(int dir, std::int64_t by) {
        ops_.push_back({dir, fr::Kind::Jump, static_cast<std::uint32_t>(by + fr::kJumpBias)});
    }
    Bytes bytes() const {
        fr::Settings s = set_;
        s.ops = static_cast<std::uint8_t>(ops_.size());
        Bytes out;
        fr::write_settings(out, s);
        for (const fr::Op& op : ops_)
            fr::write_op(out, op);
        out.insert(out.end(), data_.begin(), data_.end());
        return out;
    }

  private:
    void piece(int dir, const Bytes& bytes, std::uint32_t at, std::uint32_t n, bool same) {
        if (n == 0) return;
        ops_.push_back({dir, same ? fr::Kind::SameSegment : fr::Kind::Data, n});
        data_.insert(data_.end(), bytes.begin() + at, bytes.begin() + at + n);
    }
    fr::Settings set_;
    std::vector<fr::Op> ops_;
    Bytes data_;
};

int write_framed(const std::string& dir) {
    const Bytes small = body_of(100, 4), large = body_of(3000, 5), tiny = body_of(5, 6);
    std::vector<Bytes> seeds;
    {  // an upload cut at its prefix, header and body; its reply
        fr::Settings s;
        FramedSeed f(s);
        const Bytes up = upload("notes.txt", small, false);
        f.data(0, up, {4, static_cast<std::uint32_t>(up.size() - small.size() - 4)});
        f.data(1, reply(small, false), {});
        seeds.push_back(f.bytes());
    }
    {  // two big-endian uploads, the second coalesced with the first's end, SHA-256
        fr::Settings s;
        s.sha256 = true;
        s.end[0] = s.end[1] = 4;  // end of input
        FramedSeed f(s);
        const Bytes a = upload("a.bin", large, true), b = upload("b.bin", tiny, true);
        f.data(0, a, {1000, 1000});
        f.data(0, b, {}, true);
        f.data(1, concat({reply(large, true), reply(tiny, true)}), {10});
        seeds.push_back(f.bytes());
    }
    {  // header-less frames in both orders of cutting, ending at a boundary
        fr::Settings s;
        s.allow_headerless[0] = s.allow_headerless[1] = true;
        s.small_headerless = true;
        FramedSeed f(s);
        f.data(0, concat({headerless(small, false), headerless(tiny, false)}), {4, 50});
        f.data(1, concat({headerless(tiny, true), headerless(tiny, true), headerless(tiny, true)}),
               {9});
        seeds.push_back(f.bytes());
    }
    {  // a gap inside the body, then a reset
        fr::Settings s;
        s.end[0] = s.end[1] = 1;  // reset
        FramedSeed f(s);
        const Bytes up = upload("holey.dat", large, false);
        f.data(0, Bytes(up.begin(), up.begin() + 500), {});
        f.gap(0, 100);
        f.data(0, Bytes(up.begin() + 600, up.end()), {});
        seeds.push_back(f.bytes());
    }
    {  // forced (an --upload-port stream) picked up midstream, a size key of its own
        fr::Settings s;
        s.forced = true;
        s.size_key = true;
        s.max_header_index = 2;
        FramedSeed f(s);
        f.jump(0, 1000);
        f.data(0, json_frame(R"({"name": "k", "len": 5})", tiny, false), {});
        f.data(1, reply(tiny, false), {});
        seeds.push_back(f.bytes());
    }
    for (const Bytes& b : seeds)
        if (!write_seed(dir, b)) return 1;
    std::printf("seed_writer: %zu framed inputs\n", seeds.size());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string_view mode = argc > 2 ? argv[1] : "";
    if (mode == "frames" && argc > 3) {
        return write_frames(argv[2], std::strtol(argv[3], nullptr, 10), argc - 4, argv + 4);
    }
    if (mode == "segments") return write_segments(argv[2]);
    if (mode == "framed") return write_framed(argv[2]);
    std::fprintf(stderr,
                 "usage: seed_writer frames OUTDIR MAX_PER_FILE CAPTURE...\n"
                 "       seed_writer segments OUTDIR\n"
                 "       seed_writer framed OUTDIR\n");
    return 2;
}
