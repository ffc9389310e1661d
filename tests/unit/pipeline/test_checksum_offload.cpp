// pipeline/checksum_offload.hpp: which bad TCP/UDP checksums are taken for
// checksum offload, and the table's bound.
#include <catch2/catch.hpp>

#include <cstdint>

#include "pipeline/checksum_offload.hpp"

namespace {

// A packet from IPv4 source a.b.c.d whose TCP/UDP checksum was checked.
struct Sent {
    std::uint8_t header[20] = {0x45};
    wl::Packet pkt;
    Sent(std::uint32_t src, wl::L4Checksum verdict) {
        header[12] = static_cast<std::uint8_t>(src >> 24);
        header[13] = static_cast<std::uint8_t>(src >> 16);
        header[14] = static_cast<std::uint8_t>(src >> 8);
        header[15] = static_cast<std::uint8_t>(src);
        pkt.ip_version = 4;
        pkt.ip4.bytes = wl::Bytes{header, sizeof header};
        pkt.l4_checksum = verdict;
    }
};

bool check(wl::ChecksumOffload& o, wl::DecodeCounters& c, std::uint32_t src,
           wl::L4Checksum verdict) {
    Sent s(src, verdict);
    return o.check(s.pkt, c);
}

constexpr auto kBad = wl::L4Checksum::Bad;
constexpr auto kGood = wl::L4Checksum::Good;

}  // namespace

TEST_CASE("checksum offload: a host with only bad checksums is kept", "[checksum][offload]") {
    wl::ChecksumOffload o;
    wl::DecodeCounters c;
    for (int i = 0; i < 10; ++i)
        CHECK(check(o, c, 0x7f000001, kBad));
    CHECK(c.checksum_offload_kept == 10);
    CHECK(c.checksum_offload_hosts == 1);
    // Its peer computes its checksums.
    CHECK_FALSE(check(o, c, 0x0a000002, kGood));
    // Unchecked packets change nothing.
    CHECK_FALSE(check(o, c, 0x0a000002, wl::L4Checksum::Unchecked));
    CHECK(c.checksum_offload_hosts == 1);
}

TEST_CASE("checksum offload: after one good checksum a bad one is corrupt", "[checksum][offload]") {
    wl::ChecksumOffload o;
    wl::DecodeCounters c;
    CHECK_FALSE(check(o, c, 0x0a000001, kGood));
    CHECK_FALSE(check(o, c, 0x0a000001, kBad));
    CHECK(c.checksum_offload_kept == 0);
    CHECK(c.checksum_offload_hosts == 0);
    // A suspect that then sends a good one: its later bad ones are corrupt.
    CHECK(check(o, c, 0x0a000002, kBad));
    CHECK_FALSE(check(o, c, 0x0a000002, kGood));
    CHECK_FALSE(check(o, c, 0x0a000002, kBad));
    CHECK(c.checksum_offload_kept == 1);
}

TEST_CASE("checksum offload: hosts beyond the table are handled as corrupt, and counted",
          "[checksum][offload]") {
    wl::ChecksumOffload o;
    wl::DecodeCounters c;
    for (std::uint32_t h = 0; h < wl::ChecksumOffload::kMaxHosts; ++h)
        CHECK_FALSE(check(o, c, 0x0b000000 + h, kGood));
    CHECK_FALSE(check(o, c, 0x0c000001, kBad));
    CHECK_FALSE(check(o, c, 0x0c000001, kBad));
    CHECK(c.checksum_hosts_untracked == 2);
    CHECK(c.checksum_offload_kept == 0);
    // Hosts already there are still followed.
    CHECK_FALSE(check(o, c, 0x0b000005, kBad));
    CHECK(wl::ChecksumOffload::memory_bound() == wl::ChecksumOffload::kSlots * 24);
}
