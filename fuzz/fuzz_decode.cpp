// fuzz_decode: wl::decode on arbitrary frames of every link type it supports, then
// the decoded packet (and the packets it carries in tunnels, as the command feeds
// them) through the flow stage and the packet reports.
//
// Input: decode_input.hpp. The frame is decoded twice, without and with checksum
// verification, into the same Packet, as the command reuses one Packet for every frame.
#include <cstdint>
#include <cstdio>

#include "counters.hpp"
#include "decode_input.hpp"
#include "flow_tracker.hpp"
#include "fuzz_input.hpp"
#include "oui.hpp"
#include "out_buffer.hpp"
#include "packet.hpp"
#include "packet_report.hpp"

namespace {

constexpr std::uint64_t kTs = 1704067200ull * 1000000000ull;

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
    wl::fuzz::FuzzInput in(data, size);
    const std::uint8_t selector = in.u8();
    const auto frame = in.rest();
    const int linktype = wl::fuzz::decode_input::link_type(selector);
    const auto caplen = static_cast<std::uint32_t>(frame.size());

    wl::OutBuffer& out = null_output();
    const wl::OuiRegistry& oui = wl::OuiRegistry::builtin();
    wl::DecodeCounters counters;
    ConnFields conns;
    wl::FlowOptions fopts;
    fopts.max_flows = 4;
    fopts.ladder_conns = 2;
    wl::FlowTracker flows(fopts, conns);

    wl::Packet pkt;
    wl::Packet inner[2];
    for (const bool verify : {false, true}) {
        wl::DecodeOptions dopts;
        dopts.verify_checksums = verify;
        pkt.linktype = linktype;
        pkt.ts_ns = kTs + (verify ? 1000 : 0);
        pkt.caplen = caplen;
        pkt.wire_len = wl::fuzz::decode_input::wire_length(selector, caplen);
        wl::decode(wl::Bytes{frame.data(), frame.size()}, pkt, dopts);
        counters.count(pkt);
        wl::write_packet_text(out, pkt, oui);
        wl::write_packet_json(out, pkt, oui);
        flows.process(pkt);
        // Tunnels, as cli/main.cpp follows them: at most 4 deep, alternating buffers.
        const wl::Packet* outer = &pkt;
        for (int depth = 0;
             depth < 4 && outer->encap != wl::Packet::Encap::None && !outer->malformed(); ++depth) {
            const wl::Bytes bytes = outer->encap_bytes;
            wl::Packet& p = inner[depth & 1];
            p.ts_ns = pkt.ts_ns;
            p.caplen = static_cast<std::uint32_t>(bytes.size());
            p.wire_len = outer->encap_wire_len;
            p.linktype = outer->encap == wl::Packet::Encap::Ethernet ? wl::linktype::kEthernet
                                                                     : wl::linktype::kRaw;
            wl::decode(bytes, p, dopts);
            ++counters.tunneled;
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
