// --follow (FollowReporter) through the whole pipeline: TCP connections crafted
// with libtins, decoded, tracked, reassembled and fed to the upload analyzer
// and the reporter as a capture would be, and the text that reaches the file
// checked against the bytes that were sent: both directions in the order they
// arrived, a gap where it falls with its cause, a late fill, the hex dump byte
// for byte, frame boundaries at the right offsets for frames sharing a segment
// and a frame spread over three, selection by uid and by tcp.stream index.
#include <arpa/inet.h>
#include <tins/tins.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "decode/oui.hpp"
#include "flow/uid.hpp"
#include "pipeline/pipeline.hpp"
#include "report/follow_report.hpp"
#include "report/out_buffer.hpp"

namespace {

using Bytes = std::vector<std::uint8_t>;

constexpr int O = 0;  // originator -> responder
constexpr int R = 1;

Bytes bytes_of(std::string_view s) {
    return Bytes(s.begin(), s.end());
}

// One TCP connection's packets: a handshake, data at stream offsets, ACKs.
class Conn {
  public:
    Conn(std::string client, std::uint16_t cport, std::string server, std::uint16_t sport,
         bool v6 = false)
        : addr_{std::move(client), std::move(server)}, port_{cport, sport}, v6_(v6) {}

    void handshake(std::vector<Bytes>& frames) {
        frames.push_back(segment(O, isn_[O], 0, "S", {}));
        frames.push_back(segment(R, isn_[R], isn_[O] + 1, "SA", {}));
        frames.push_back(segment(O, isn_[O] + 1, isn_[R] + 1, "A", {}));
    }
    // `payload` at stream offset `offset` of `dir`; the segment acknowledges
    // what the peer sent up to `peer_acked`.
    Bytes data(int dir, std::uint32_t offset, const Bytes& payload, std::uint32_t peer_acked = 0) {
        return segment(dir, isn_[dir] + 1 + offset, isn_[1 - dir] + 1 + peer_acked, "PA", payload);
    }
    // `dir` acknowledges the peer's stream up to offset `upto`.
    Bytes ack(int dir, std::uint32_t upto, std::uint32_t own_next = 0) {
        return segment(dir, isn_[dir] + 1 + own_next, isn_[1 - dir] + 1 + upto, "A", {});
    }

  private:
    Bytes segment(int dir, std::uint32_t seq, std::uint32_t ack, const char* flags,
                  const Bytes& payload) {
        Tins::TCP tcp(port_[1 - dir], port_[dir]);
        for (const char* f = flags; *f != '\0'; ++f) {
            if (*f == 'S') tcp.set_flag(Tins::TCP::SYN, 1);
            if (*f == 'A') tcp.set_flag(Tins::TCP::ACK, 1);
            if (*f == 'P') tcp.set_flag(Tins::TCP::PSH, 1);
        }
        tcp.seq(seq);
        tcp.ack_seq(std::string(flags) == "S" ? 0 : ack);
        tcp.window(65535);
        if (!payload.empty()) tcp /= Tins::RawPDU(payload);
        Tins::EthernetII eth("02:00:00:00:00:02", "02:00:00:00:00:01");
        if (v6_) {
            eth /= Tins::IPv6(addr_[1 - dir], addr_[dir]);
        } else {
            eth /= Tins::IP(addr_[1 - dir], addr_[dir]);
        }
        eth /= tcp;
        return eth.serialize();
    }

    std::string addr_[2];
    std::uint16_t port_[2];
    bool v6_;
    std::uint32_t isn_[2] = {1000, 500000};
};

constexpr std::uint64_t kT0 = 1767225600ull * 1000000000ull;  // follow()'s clock, before frame 1

// The uid of the TCP connection between these endpoints whose first packet
// was at `first_ns`.
std::string tcp_uid(const char* a, std::uint16_t ap, const char* b, std::uint16_t bp, bool v6,
                    std::uint64_t first_ns) {
    wl::Endpoint x{}, y{};
    REQUIRE(::inet_pton(v6 ? AF_INET6 : AF_INET, a, x.addr) == 1);
    REQUIRE(::inet_pton(v6 ? AF_INET6 : AF_INET, b, y.addr) == 1);
    x.port = ap;
    y.port = bp;
    char uid[19];
    wl::make_uid(6, v6 ? 6 : 4, x, y, first_ns, 0, uid);
    return uid;
}

struct Followed {
    std::string text;
    bool found = false;
};

// The frames through a pipeline with --follow `target`, 1 ms apart (or
// `spacing_ns`); what it wrote.
Followed follow(const std::vector<Bytes>& frames, const std::string& target, bool hex = false,
                std::uint64_t spacing_ns = 1000000) {
    std::FILE* f = std::tmpfile();
    REQUIRE(f != nullptr);
    Followed out;
    {
        wl::OutBuffer buf(f);
        wl::PipelineOptions opt;
        opt.follow = target;
        opt.follow_hex = hex;
        opt.max_flows = 64;
        opt.max_uploads = 8;
        opt.max_reassembly = 1 << 20;
        wl::Pipeline pipe(opt, buf, wl::OuiRegistry::builtin());
        std::string err;
        REQUIRE(pipe.open(err));
        pipe.set_linktype(1);
        std::uint64_t ts = kT0;
        for (const Bytes& b : frames) {
            ts += spacing_ns;
            const auto len = static_cast<std::uint32_t>(b.size());
            pipe.frame(wl::RawFrame{b.data(), len, len, ts});
        }
        pipe.finish(wl::InputSummary{});
        out.found = pipe.follow_found();
    }
    std::rewind(f);
    char chunk[4096];
    std::size_t n = 0;
    while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0)
        out.text.append(chunk, n);
    std::fclose(f);
    return out;
}

// Where `needle` starts in `text`, or npos; the test fails when it is missing.
std::size_t at(const std::string& text, const std::string& needle) {
    const std::size_t i = text.find(needle);
    INFO("looking for: " << needle);
    INFO("in:\n" << text);
    CHECK(i != std::string::npos);
    return i;
}

// An upload frame as samples/upload/upload_client.py sends it.
struct Frame {
    std::string header;
    std::string body;
    Bytes bytes() const {
        const auto n = static_cast<std::uint32_t>(header.size());
        std::string s = {static_cast<char>(n), static_cast<char>(n >> 8),
                         static_cast<char>(n >> 16), static_cast<char>(n >> 24)};
        s += header;
        s += body;
        return bytes_of(s);
    }
};

Frame upload(const std::string& name, const std::string& body) {
    return Frame{
        R"({"file_name": ")" + name + R"(", "file_size": )" + std::to_string(body.size()) + "}",
        body};
}

// Bytes as the text view shows them.
std::string shown(const Bytes& b) {
    std::string s;
    for (std::uint8_t c : b)
        s += c == '\n' || (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '.';
    return s;
}

Bytes slice(const Bytes& b, std::size_t from, std::size_t to) {
    return Bytes(b.begin() + static_cast<std::ptrdiff_t>(from),
                 b.begin() + static_cast<std::ptrdiff_t>(to));
}

}  // namespace

TEST_CASE("follow: both directions in the order they arrive", "[follow]") {
    Conn c("10.0.0.1", 40000, "10.0.0.2", 80);
    std::vector<Bytes> frames;
    c.handshake(frames);
    const std::string req = "GET / HTTP/1.0\r\n\r\n";
    const std::string resp = "HTTP/1.0 200 OK\r\n\r\nhello\x01\xff";
    frames.push_back(c.data(O, 0, bytes_of(req)));
    frames.push_back(c.data(R, 0, bytes_of(resp), static_cast<std::uint32_t>(req.size())));
    frames.push_back(c.data(O, static_cast<std::uint32_t>(req.size()), bytes_of("bye\n"),
                            static_cast<std::uint32_t>(resp.size())));
    const Followed f = follow(frames, "0");
    REQUIRE(f.found);
    const std::string& t = f.text;
    const std::string uid = tcp_uid("10.0.0.1", 40000, "10.0.0.2", 80, false, kT0 + 1000000);
    CHECK(t.rfind("===", 0) == 0);
    at(t, "Filter: uid " + uid + " and tcp.stream eq 0\n");
    at(t, "Node 0: 10.0.0.1:40000  (originator, >>>)\nNode 1: 10.0.0.2:80  (responder, <<<)\n");
    const std::size_t a = at(t,
                             ">>> orig 10.0.0.1:40000 -> 10.0.0.2:80  offset 0  18 bytes  "
                             "t=1767225600.004000\nGET / HTTP/1.0.\n.\n");
    const std::size_t b = at(t,
                             "<<< resp 10.0.0.2:80 -> 10.0.0.1:40000  offset 0  26 bytes  "
                             "t=1767225600.005000\nHTTP/1.0 200 OK.\n.\nhello..\n");
    const std::size_t c2 = at(t,
                              ">>> orig 10.0.0.1:40000 -> 10.0.0.2:80  offset 18  4 bytes  "
                              "t=1767225600.006000\nbye\n");
    CHECK(a < b);
    CHECK(b < c2);
    at(t, "node 0 -> node 1: 22 bytes in 2 chunks, 0 gaps (0 bytes missing)");
    at(t, "node 1 -> node 0: 26 bytes in 1 chunks, 0 gaps (0 bytes missing)");
}

TEST_CASE("follow: a gap where it falls, with its cause; a late fill; other bytes resent",
          "[follow]") {
    Conn c("10.0.0.1", 40000, "10.0.0.2", 9000);
    std::vector<Bytes> frames;
    c.handshake(frames);
    const Bytes a(100, 'a'), b(100, 'b'), d(100, 'd'), e(50, 'e');
    frames.push_back(c.data(O, 0, a));
    // Resent with other bytes: the first copy stays.
    frames.push_back(c.data(O, 0, Bytes(100, 'X')));
    // [100, 200) is never captured; the receiver acknowledges it.
    frames.push_back(c.data(O, 200, d));
    frames.push_back(c.ack(R, 300));
    // [300, 350) comes after [350, 400): a hole filled late.
    frames.push_back(c.data(O, 350, e));
    frames.push_back(c.data(O, 300, Bytes(50, 'f')));
    const Followed f = follow(frames, "0", false, 5000000);  // 5 ms apart: a retransmission
    REQUIRE(f.found);
    const std::string& t = f.text;
    const std::size_t first = at(t, "offset 0  100 bytes");
    const std::size_t gap =
        at(t, ">>> orig [gap: 100 bytes missing at offset 100: not_captured]\n");
    const std::size_t after = at(t, "offset 200  100 bytes");
    CHECK(first < gap);
    CHECK(gap < after);
    at(t, std::string(100, 'd') + "\n");
    at(t,
       ">>> orig [retransmitted: 50 bytes at offset 300 arrived after later bytes, the hole "
       "was open 5.000 ms]\n");
    at(t,
       ">>> orig [inconsistent retransmission: 100 bytes at offset 0 resent with other "
       "content; the first copy is shown]\n");
    CHECK(t.find('X') == std::string::npos);
    const std::size_t fill_data = at(t, "offset 300  50 bytes");
    CHECK(fill_data < at(t, "offset 350  50 bytes"));
    at(t,
       "node 0 -> node 1: 300 bytes in 4 chunks, 1 gaps (100 bytes missing), 1 late fills "
       "(50 bytes), 1 inconsistent retransmissions\n");
}

TEST_CASE("follow: --hex dumps each chunk byte for byte", "[follow]") {
    Conn c("10.0.0.1", 40000, "10.0.0.2", 9000);
    std::vector<Bytes> frames;
    c.handshake(frames);
    Bytes payload;
    for (int i = 0; i < 20; ++i)
        payload.push_back(static_cast<std::uint8_t>(i == 0 ? 'A' : i * 13));
    frames.push_back(c.data(O, 0, payload));
    frames.push_back(c.data(R, 0, bytes_of("OK\n"), 20));
    const Followed f = follow(frames, "0", true);
    REQUIRE(f.found);
    at(f.text, "Follow: tcp,hex\n");
    at(f.text,
       ">>> orig 10.0.0.1:40000 -> 10.0.0.2:9000  offset 0  20 bytes  t=1767225600.004000\n"
       "00000000  41 0d 1a 27 34 41 4e 5b  68 75 82 8f 9c a9 b6 c3  A..'4AN[hu......\n"
       "00000010  d0 dd ea f7" +
           std::string(39, ' ') +
           "....\n"
           "<<< resp 10.0.0.2:9000 -> 10.0.0.1:40000  offset 0  3 bytes  t=1767225600.005000\n"
           "00000000  4f 4b 0a" +
           std::string(42, ' ') + "OK.\n");
}

TEST_CASE("follow: frame boundaries, two frames in one segment, one over three", "[follow]") {
    Conn c("198.18.0.1", 40000, "198.18.0.2", 9000);
    std::vector<Bytes> frames;
    c.handshake(frames);
    const Frame f0 = upload("a.txt", "0123456789");
    const Frame f1 = upload("b.txt", "abcdefghij");
    const Frame f2 = upload("c.txt", std::string(300, 'z'));
    Bytes both = f0.bytes();
    const Bytes b1 = f1.bytes();
    both.resize(both.size() + b1.size());
    std::copy(b1.begin(), b1.end(), both.end() - static_cast<std::ptrdiff_t>(b1.size()));
    const Bytes b2 = f2.bytes();
    const std::size_t e0 = f0.bytes().size(), e1 = both.size(), e2 = e1 + b2.size();
    frames.push_back(c.data(O, 0, both));
    // Frame 2: the prefix and half its header, the rest of the header and some
    // of the body, the rest of the body.
    const std::size_t cut1 = 4 + f2.header.size() / 2, cut2 = 4 + f2.header.size() + 100;
    frames.push_back(c.data(O, static_cast<std::uint32_t>(e1), slice(b2, 0, cut1)));
    frames.push_back(c.data(O, static_cast<std::uint32_t>(e1 + cut1), slice(b2, cut1, cut2)));
    frames.push_back(c.data(O, static_cast<std::uint32_t>(e1 + cut2), slice(b2, cut2, b2.size())));
    const Followed f = follow(frames, "0");
    REQUIRE(f.found);
    const std::string& t = f.text;
    const std::string h0 = std::to_string(f0.header.size()), h1 = std::to_string(f1.header.size());
    const std::string h2 = std::to_string(f2.header.size());
    // Frame 0 and 1, cut at their boundaries; the prefix's bytes (binary) as dots.
    at(t, "offset 0  " + std::to_string(both.size()) +
              " bytes  t=1767225600.004000\n"
              "[frame 0: prefix 4 bytes at offset 0]\n" +
              shown(slice(f0.bytes(), 0, 4)) + "\n[frame 0: header " + h0 +
              " bytes at offset 4]\n" + f0.header + "\n[frame 0: body 10 bytes at offset " +
              std::to_string(4 + f0.header.size()) + "]\n0123456789\n[frame 0: end at offset " +
              std::to_string(e0) + ", " + std::to_string(e0) +
              " bytes in 1 segment, coalesced: shares a segment with another frame]\n"
              "[frame 1: prefix 4 bytes at offset " +
              std::to_string(e0) + "]\n");
    at(t, "[frame 1: header " + h1 + " bytes at offset " + std::to_string(e0 + 4) + "]\n" +
              f1.header + "\n[frame 1: body 10 bytes at offset " +
              std::to_string(e0 + 4 + f1.header.size()) +
              "]\nabcdefghij\n[frame 1: end at offset " + std::to_string(e1) + ", " +
              std::to_string(e1 - e0) +
              " bytes in 1 segment, coalesced: shares a segment with another frame]\n");
    // Frame 2: each mark in the chunk that holds its offset.
    at(t, "offset " + std::to_string(e1) + "  " + std::to_string(cut1) +
              " bytes  t=1767225600.005000\n[frame 2: prefix 4 bytes at offset " +
              std::to_string(e1) + "]\n");
    at(t, "[frame 2: header " + h2 + " bytes at offset " + std::to_string(e1 + 4) + "]\n" +
              f2.header.substr(0, cut1 - 4) + "\n>>> orig");
    at(t, "offset " + std::to_string(e1 + cut1) + "  " + std::to_string(cut2 - cut1) +
              " bytes  t=1767225600.006000\n" + f2.header.substr(cut1 - 4) +
              "\n[frame 2: body 300 bytes at offset " + std::to_string(e1 + 4 + f2.header.size()) +
              "]\n" + std::string(100, 'z') + "\n>>> orig");
    at(t, "offset " + std::to_string(e1 + cut2) + "  200 bytes  t=1767225600.007000\n" +
              std::string(200, 'z') + "\n[frame 2: end at offset " + std::to_string(e2) + ", " +
              std::to_string(b2.size()) + " bytes in 3 segments, split over segments]\n");
}

TEST_CASE("follow: the marks waiting for one chunk are bounded", "[follow]") {
    Conn c("198.18.0.1", 40000, "198.18.0.2", 9000);
    std::vector<Bytes> frames;
    c.handshake(frames);
    // 200 frames with empty bodies in one segment: 4 marks each, 800 at once.
    Bytes all;
    for (int i = 0; i < 200; ++i) {
        std::string name = "f";  // (not "f" + ...: GCC 12 warns falsely, -Wrestrict)
        name += std::to_string(i);
        const Bytes b = upload(name, "").bytes();
        all.insert(all.end(), b.begin(), b.end());
    }
    frames.push_back(c.data(O, 0, all));
    const Followed f = follow(frames, "0");
    REQUIRE(f.found);
    const std::string& t = f.text;
    // The first 128 frames' marks fit (512); the rest, and the notes of their
    // reports, are counted as not shown. Every byte is still printed.
    at(t, "[frame 127: end at offset ");
    CHECK(t.find("[frame 128:") == std::string::npos);
    at(t, "node 0 -> node 1: " + std::to_string(all.size()) +
              " bytes in 1 chunks, 0 gaps (0 bytes missing), 0 late fills (0 bytes), 0 "
              "inconsistent retransmissions, 360 frame marks not shown (too many at once)\n");
    at(t, R"({"file_name": "f199", "file_size": 0})");
}

TEST_CASE("follow: selected by uid or by tcp.stream index, IPv6 in brackets", "[follow]") {
    Conn c1("10.0.0.1", 40000, "10.0.0.2", 80);
    Conn c2("2001:db8::1", 40001, "2001:db8::2", 443, true);
    std::vector<Bytes> frames;
    c1.handshake(frames);
    c2.handshake(frames);
    frames.push_back(c1.data(O, 0, bytes_of("first connection\n")));
    frames.push_back(c2.data(O, 0, bytes_of("second connection\n")));
    // Its first packet is the fourth frame.
    const std::string uid2 = tcp_uid("2001:db8::2", 443, "2001:db8::1", 40001, true, kT0 + 4000000);
    const Followed by_index = follow(frames, "1");
    const Followed by_uid = follow(frames, uid2);
    for (const Followed* f : {&by_index, &by_uid}) {
        REQUIRE(f->found);
        at(f->text, "Filter: uid " + uid2 + " and tcp.stream eq 1\n");
        at(f->text,
           "Node 0: [2001:db8::1]:40001  (originator, >>>)\n"
           "Node 1: [2001:db8::2]:443  (responder, <<<)\n");
        at(f->text, ">>> orig [2001:db8::1]:40001 -> [2001:db8::2]:443  offset 0  18 bytes");
        at(f->text, "second connection\n");
        CHECK(f->text.find("first connection") == std::string::npos);
    }
}

TEST_CASE("follow: a connection picked up midstream says so", "[follow]") {
    Conn c("10.0.0.1", 40000, "10.0.0.2", 80);
    std::vector<Bytes> frames;  // no handshake: the capture started later
    frames.push_back(c.data(O, 5000, bytes_of("late\n")));
    frames.push_back(c.data(R, 7000, bytes_of("later\n"), 5005));
    const Followed f = follow(frames, "0");
    REQUIRE(f.found);
    at(f.text,
       ">>> orig [picked up midstream: offsets count from the first byte seen, not the "
       "SYN]\n>>> orig 10.0.0.1:40000 -> 10.0.0.2:80  offset 0  5 bytes");
    at(f.text,
       "<<< resp [picked up midstream: offsets count from the first byte seen, not the "
       "SYN]\n<<< resp 10.0.0.2:80 -> 10.0.0.1:40000  offset 0  6 bytes");
}

TEST_CASE("follow: a connection that is not there", "[follow]") {
    Conn c("10.0.0.1", 40000, "10.0.0.2", 80);
    std::vector<Bytes> frames;
    c.handshake(frames);
    frames.push_back(c.data(O, 0, bytes_of("data\n")));
    const Followed by_index = follow(frames, "1");
    CHECK_FALSE(by_index.found);
    CHECK(by_index.text.empty());  // nor the connection table: --follow is the whole output
    const Followed by_uid = follow(frames, "CAAAAAAAAAAAAAAAAA");
    CHECK_FALSE(by_uid.found);
    CHECK(by_uid.text.empty());
}

TEST_CASE("follow: what names a connection", "[follow]") {
    using wl::FollowReporter;
    CHECK(FollowReporter::valid_target("0"));
    CHECK(FollowReporter::valid_target("123456"));
    CHECK(FollowReporter::valid_target(tcp_uid("10.0.0.1", 1, "10.0.0.2", 2, false, 42)));
    CHECK_FALSE(FollowReporter::valid_target(""));
    CHECK_FALSE(FollowReporter::valid_target("-1"));
    CHECK_FALSE(FollowReporter::valid_target("C123"));
    CHECK_FALSE(FollowReporter::valid_target("Xabcdefghijklmnopq"));
    CHECK_FALSE(FollowReporter::valid_target("C-bcdefghijklmnopq"));
    CHECK_FALSE(FollowReporter::valid_target("12a"));
}
