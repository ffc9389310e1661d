// fuzz_decode: wl::decode on arbitrary frames of every link type it supports, then
// the decoded packet (and the packets it carries in tunnels, as the command feeds
// them) through the flow stage and the packet reports.
//
// Input: decode_input.hpp. The frame is decoded three times: into a fresh Packet, then
// into one that decoded other frames before (as the command reuses one Packet for every
// frame), without and with checksum verification. Besides the sanitizers, the harness
// checks that a reused Packet shows nothing of earlier frames (same fields, same JSON
// record as the fresh one), that verifying checksums changes nothing but to stop at a bad
// one, and that payload and tunnelled bytes lie within the frame.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "decode/counters.hpp"
#include "decode/oui.hpp"
#include "decode/packet.hpp"
#include "flow/flow_tracker.hpp"
#include "fuzz/decode_input.hpp"
#include "fuzz/fuzz_input.hpp"
#include "report/out_buffer.hpp"
#include "report/packet_report.hpp"
#include "report/summary_report.hpp"

namespace {

constexpr std::uint64_t kTs = 1704067200ull * 1000000000ull;

// Frames that fill most of a Packet, decoded into the reused one before the input.
// Ethernet, two VLAN tags, IPv6 with a hop-by-hop header, TCP with options and data.
constexpr std::uint8_t kVlanIpv6Tcp[] = {
    0x00, 0x1b, 0x21, 0x3a, 0x4f, 0x01, 0x00, 0x00, 0x0c, 0x9f, 0xf0, 0x01, 0x81, 0x00,  // eth
    0x00, 0x64, 0x81, 0x00, 0x00, 0x0a, 0x86, 0xdd,                                      // vlans
    0x60, 0x00, 0x00, 0x00, 0x00, 0x34, 0x00, 0x40,                                      // ipv6
    0xfd, 0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
    0,    0x01,  //
    0xfd, 0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
    0,    0x02,                                      //
    0x06, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00,  // hbh
    0xc3, 0x50, 0x00, 0x50, 0,    0,    0,    1,    0,    0,    0,    2,    0xa0, 0x18,
    0xff, 0xff, 0,    0,    0,    0,  // tcp
    0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0,    0,    0,    1,    0,    0,
    0,    2,    0x01, 0x03,  //
    0x03, 0x07, 'a',  'b',  'c',  'd'};
// Linux cooked v2, IPv4 with options, UDP to VXLAN, then Ethernet, IPv4, ICMP echo.
constexpr std::uint8_t kSll2Vxlan[] = {
    0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x06,              // sll2
    0x02, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00,                                      //
    0x46, 0x00, 0x00, 0x56, 0x12, 0x34, 0x00, 0x00, 0x40, 0x11, 0,    0,                 // ipv4
    10,   0,    0,    1,    10,   0,    0,    2,    0x01, 0x01, 0x01, 0x00,              //
    0x12, 0x34, 0x12, 0xb5, 0x00, 0x3e, 0x00, 0x00,                                      // udp
    0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,                                      // vxlan
    0x02, 0,    0,    0,    0,    0x02, 0x02, 0,    0,    0,    0,    0x01, 0x08, 0x00,  // eth
    0x45, 0x00, 0x00, 0x20, 0,    0,    0,    0,    0x40, 0x01, 0,    0,                 // ipv4
    192,  168,  0,    1,    192,  168,  0,    2,                                         //
    0x08, 0x00, 0,    0,    0x00, 0x01, 0x00, 0x01, 'p',  'i',  'n',  'g'};              // icmp

void decode_as(wl::Packet& pkt, int linktype, const std::uint8_t* p, std::size_t n,
               std::uint32_t wire_len, const wl::DecodeOptions& opts) {
    pkt.linktype = linktype;
    pkt.ts_ns = kTs;
    pkt.caplen = static_cast<std::uint32_t>(n);
    pkt.wire_len = wire_len;
    wl::decode(wl::Bytes{p, n}, pkt, opts);
}

// The packet's JSON record, as --packets --json writes it.
std::string json_record(const wl::Packet& pkt) {
    static char buf[1 << 20];
    static std::FILE* mem = fmemopen(buf, sizeof buf, "w");
    std::rewind(mem);
    {
        wl::OutBuffer out(mem);
        wl::write_packet_json(out, pkt, wl::OuiRegistry::builtin());
    }
    std::fflush(mem);
    return std::string(buf, static_cast<std::size_t>(std::ftell(mem)));
}

bool same_result(const wl::Packet& a, const wl::Packet& b) {
    return a.layers == b.layers && a.error_layer == b.error_layer && a.error == b.error &&
           a.unsupported_link == b.unsupported_link && a.ethertype == b.ethertype &&
           a.vlan_count == b.vlan_count && a.ip_version == b.ip_version &&
           a.ip_proto == b.ip_proto && a.ip_fragment == b.ip_fragment &&
           a.ip_later_fragment == b.ip_later_fragment && a.payload.data() == b.payload.data() &&
           a.payload.size() == b.payload.size() && a.payload_wire_len == b.payload_wire_len &&
           a.encap == b.encap && a.encap_bytes.data() == b.encap_bytes.data() &&
           a.encap_bytes.size() == b.encap_bytes.size() && a.encap_wire_len == b.encap_wire_len;
}

bool within(wl::Bytes part, wl::Bytes whole) {
    return part.empty() || (part.data() >= whole.data() &&
                            part.data() + part.size() <= whole.data() + whole.size());
}

// Ends connections as the reports would read them: every derived field is computed.
class ConnFields : public wl::ConnSink {
  public:
    void conn_ended(const wl::Connection& c, wl::ConnEnd, const wl::LadderLog*) override {
        wl::fuzz::keep(static_cast<std::uint64_t>(wl::FlowTracker::conn_state(c)[0]) +
                       static_cast<unsigned>(wl::FlowTracker::teardown(c)) +
                       wl::FlowTracker::payload_bytes(c, 0) + wl::FlowTracker::payload_bytes(c, 1));
    }
};

wl::OutBuffer& null_output() {
    static std::FILE* devnull = std::fopen("/dev/null", "w");
    static wl::OutBuffer out(devnull);
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using wl::fuzz::check;
    wl::fuzz::FuzzInput in(data, size);
    const std::uint8_t selector = in.u8();
    const std::uint8_t extension = wl::fuzz::decode_input::extended(selector) ? in.u8() : 0;
    const auto frame = in.rest();
    const wl::Bytes whole{frame.data(), frame.size()};
    const int linktype = wl::fuzz::decode_input::link_type(selector, extension);
    const std::uint32_t wire_len =
        wl::fuzz::decode_input::wire_length(selector, static_cast<std::uint32_t>(frame.size()));

    wl::Packet fresh;
    decode_as(fresh, linktype, frame.data(), frame.size(), wire_len, {});
    check(within(fresh.payload, whole) && fresh.payload_wire_len >= fresh.payload.size(),
          "the payload lies within the frame");
    check(within(fresh.encap_bytes, whole) && fresh.encap_wire_len >= fresh.encap_bytes.size(),
          "tunnelled bytes lie within the frame");

    wl::OutBuffer& out = null_output();
    const wl::OuiRegistry& oui = wl::OuiRegistry::builtin();
    wl::DecodeCounters counters;
    ConnFields conns;
    wl::FlowOptions fopts;
    fopts.max_flows = 4;
    fopts.ladder_conns = 2;
    wl::FlowTracker flows(fopts, conns);

    wl::Packet pkt;
    decode_as(pkt, wl::linktype::kEthernet, kVlanIpv6Tcp, sizeof kVlanIpv6Tcp, sizeof kVlanIpv6Tcp,
              {});
    decode_as(pkt, wl::linktype::kLinuxSll2, kSll2Vxlan, sizeof kSll2Vxlan, sizeof kSll2Vxlan, {});
    wl::Packet inner[2];
    for (const bool verify : {false, true}) {
        wl::DecodeOptions dopts;
        dopts.verify_checksums = verify;
        decode_as(pkt, linktype, frame.data(), frame.size(), wire_len, dopts);
        if (!verify) {
            check(same_result(pkt, fresh), "a reused Packet decodes as a fresh one");
            check(json_record(pkt) == json_record(fresh),
                  "a reused Packet's JSON record is a fresh one's");
        } else if (pkt.error != wl::DecodeError::BadChecksum) {
            check(same_result(pkt, fresh), "verifying checksums changes nothing but a bad one");
        }
        counters.count(pkt);
        wl::write_packet_text(out, pkt, oui);
        wl::write_packet_json(out, pkt, oui);
        flows.process(pkt);
        // Tunnels, as the command follows them: at most 4 deep, alternating buffers.
        const wl::Packet* outer = &pkt;
        for (int depth = 0;
             depth < 4 && outer->encap != wl::Packet::Encap::None && !outer->malformed(); ++depth) {
            const wl::Bytes bytes = outer->encap_bytes;
            wl::Packet& p = inner[depth & 1];
            p.ts_ns = pkt.ts_ns;
            p.caplen = static_cast<std::uint32_t>(bytes.size());
            p.wire_len = outer->encap_wire_len;
            p.linktype = wl::linktype_of(outer->encap);
            wl::decode(bytes, p, dopts);
            counters.count_tunneled(outer->encap_kind);
            flows.process(p);
            outer = &p;
        }
    }
    flows.flush();
    wl::InputSummary summary;
    wl::StageCounters stages;
    stages.flows = &flows.counters();
    wl::write_summary_text(out, counters, summary, stages);
    wl::write_stats_json(out, counters, summary, stages);
    return 0;
}
