// Teredo confirmation: a UDP flow's Teredo is opened only once both of its
// directions carried it; the table is fixed in size and pushes out the flow
// used longest ago.
#include <tins/tins.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/teredo_confirm.hpp"

namespace {

using Frame = std::vector<std::uint8_t>;

// Ethernet/IPv4/UDP between the two endpoints, with a Teredo bubble inside.
Frame teredo_frame(const std::string& src, std::uint16_t sport, const std::string& dst,
                   std::uint16_t dport) {
    Tins::IPv6 bubble("2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:db8::2");
    bubble.next_header(59);
    Tins::EthernetII eth;
    eth /= Tins::IP(dst, src) / Tins::UDP(dport, sport) / Tins::RawPDU(bubble.serialize());
    return eth.serialize();
}

struct Decoded {
    Frame frame;
    wl::Packet pkt;
    explicit Decoded(Frame f, std::uint64_t ts = 0) : frame(std::move(f)) {
        pkt.linktype = wl::linktype::kEthernet;
        pkt.ts_ns = ts;
        pkt.caplen = pkt.wire_len = static_cast<std::uint32_t>(frame.size());
        wl::decode(wl::Bytes{frame.data(), frame.size()}, pkt);
    }
};

}  // namespace

TEST_CASE("Teredo confirmation: both directions of the UDP flow", "[tunnel][teredo]") {
    wl::TeredoConfirmation t;
    const Decoded out(teredo_frame("192.0.2.1", 40001, "192.0.2.2", 3544));
    const Decoded back(teredo_frame("192.0.2.2", 3544, "192.0.2.1", 40001));
    const Decoded other(teredo_frame("192.0.2.3", 40001, "192.0.2.2", 3544));
    REQUIRE(out.pkt.encap_kind == wl::TunnelKind::Teredo);
    REQUIRE(back.pkt.encap_kind == wl::TunnelKind::Teredo);
    // One direction, however often: not confirmed.
    for (int i = 0; i < 5; ++i)
        CHECK_FALSE(t.confirm(out.pkt));
    // Another flow's reply does not confirm this one.
    CHECK_FALSE(t.confirm(other.pkt));
    CHECK(t.confirm(back.pkt));
    CHECK(t.confirm(out.pkt));
    CHECK(t.confirm(back.pkt));
    CHECK_FALSE(t.confirm(other.pkt));
    CHECK(t.evicted() == 0);
}

TEST_CASE("Teredo confirmation: a full table pushes out the oldest flow", "[tunnel][teredo]") {
    wl::TeredoConfirmation t;
    const Decoded out(teredo_frame("192.0.2.1", 40001, "192.0.2.2", 3544), 1);
    const Decoded back(teredo_frame("192.0.2.2", 3544, "192.0.2.1", 40001), 2);
    CHECK_FALSE(t.confirm(out.pkt));
    CHECK(t.confirm(back.pkt));
    // Many more flows than slots, each newer than the confirmed one.
    const std::size_t flows = wl::TeredoConfirmation::kSlots * 4;
    for (std::size_t i = 0; i < flows; ++i) {
        const std::string src = "198.18." + std::to_string(i / 250) + "." + std::to_string(i % 250);
        const Decoded d(teredo_frame(src, 40001, "192.0.2.2", 3544), 10 + i);
        CHECK_FALSE(t.confirm(d.pkt));
    }
    CHECK(t.evicted() >= flows - wl::TeredoConfirmation::kSlots);
    // The first flow was pushed out: its next datagram starts over.
    const Decoded again(teredo_frame("192.0.2.1", 40001, "192.0.2.2", 3544), 99999);
    CHECK_FALSE(t.confirm(again.pkt));
}
