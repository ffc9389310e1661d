// Community ID v1 (flow/community_id.hpp) against the values the spec
// publishes: github.com/corelight/community-id-spec, baseline/README.md (the
// tables "Default settings" and "A custom seed=1 value") and
// baseline/baseline_deflt.json, baseline_seed1.json (flows of the spec's
// pcaps/combined.pcap.gz; their ICMP "ports" are the type and its counterpart).
// Each flow both ways: by its tuple, and, for what wirelens tracks (TCP, UDP,
// ICMP, ICMPv6), through a packet crafted with libtins, decoded, and keyed by
// flow_info as the connection table keys it.
#include <arpa/inet.h>
#include <tins/tins.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "decode/packet.hpp"
#include "flow/community_id.hpp"
#include "flow/flow_key.hpp"

namespace {

struct Addr {
    int version;
    std::uint8_t bytes[16];
};

Addr addr(const char* text) {
    Addr a{};
    a.version = std::strchr(text, ':') != nullptr ? 6 : 4;
    REQUIRE(::inet_pton(a.version == 6 ? AF_INET6 : AF_INET, text, a.bytes) == 1);
    return a;
}

// By the tuple: for ICMP, sport is the type and dport the code.
std::string by_tuple(std::uint16_t seed, const char* src, const char* dst, std::uint8_t proto,
                     std::uint16_t sport, std::uint16_t dport) {
    const Addr s = addr(src), d = addr(dst);
    REQUIRE(s.version == d.version);
    char out[wl::kCommunityIdLen + 1];
    std::memset(out, '#', sizeof out);
    wl::community_id(seed, s.version, s.bytes, d.bytes, proto, sport, dport, out);
    REQUIRE(out[wl::kCommunityIdLen] == '\0');
    return std::string(out);
}

// A frame src -> dst of `proto` (6, 17, 1 or 58), decoded and keyed.
wl::FlowKey key_of(const char* src, const char* dst, std::uint8_t proto, std::uint16_t sport,
                   std::uint16_t dport) {
    Tins::EthernetII eth("02:00:00:00:00:02", "02:00:00:00:00:01");
    const bool v6 = std::strchr(src, ':') != nullptr;
    if (v6) {
        eth /= Tins::IPv6(dst, src);
    } else {
        eth /= Tins::IP(dst, src);
    }
    if (proto == 6) {
        Tins::TCP t(dport, sport);
        t.set_flag(Tins::TCP::SYN, 1);
        eth /= t;
    } else if (proto == 17) {
        eth /= Tins::UDP(dport, sport) / Tins::RawPDU(std::vector<std::uint8_t>(8, 'u'));
    } else if (proto == 1) {
        Tins::ICMP m(static_cast<Tins::ICMP::Flags>(sport));
        m.code(static_cast<std::uint8_t>(dport));
        eth /= m;
    } else {
        Tins::ICMPv6 m(static_cast<Tins::ICMPv6::Types>(sport));
        m.code(static_cast<std::uint8_t>(dport));
        eth /= m;
    }
    const std::vector<std::uint8_t> bytes = eth.serialize();
    wl::Packet pkt;
    pkt.linktype = 1;
    pkt.caplen = pkt.wire_len = static_cast<std::uint32_t>(bytes.size());
    wl::decode(wl::Bytes(bytes.data(), bytes.size()), pkt, wl::DecodeOptions{});
    wl::FlowPacketInfo info;
    REQUIRE(wl::flow_info(pkt, info, 0));
    return info.key;
}

std::string by_key(std::uint16_t seed, const char* src, const char* dst, std::uint8_t proto,
                   std::uint16_t sport, std::uint16_t dport) {
    char out[wl::kCommunityIdLen + 1];
    wl::community_id(key_of(src, dst, proto, sport, dport), seed, out);
    return std::string(out);
}

// One published flow: the value by tuple, and by key where wirelens keys it.
void check(std::uint16_t seed, const char* src, const char* dst, std::uint8_t proto,
           std::uint16_t sport, std::uint16_t dport, const char* expected) {
    CAPTURE(seed, src, dst, proto, sport, dport);
    CHECK(by_tuple(seed, src, dst, proto, sport, dport) == expected);
    if (proto == 6 || proto == 17 || proto == 1 || proto == 58) {
        CHECK(by_key(seed, src, dst, proto, sport, dport) == expected);
    }
}

const char* kV6a = "fe80:0001:0203:0405:0607:0809:0A0B:0C0D";
const char* kV6b = "fe80:1011:1213:1415:1617:1819:1A1B:1C1D";

}  // namespace

TEST_CASE("community id: the spec's table, seed 0", "[community_id]") {
    // baseline/README.md, "Default settings".
    check(0, "1.2.3.4", "5.6.7.8", 6, 1122, 3344, "1:wCb3OG7yAFWelaUydu0D+125CLM=");
    check(0, "5.6.7.8", "1.2.3.4", 6, 3344, 1122, "1:wCb3OG7yAFWelaUydu0D+125CLM=");
    check(0, "1.2.3.4", "5.6.7.8", 17, 1122, 3344, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=");
    check(0, "5.6.7.8", "1.2.3.4", 17, 3344, 1122, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=");
    check(0, "1.2.3.4", "5.6.7.8", 132, 1122, 3344, "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8=");
    check(0, "5.6.7.8", "1.2.3.4", 132, 3344, 1122, "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8=");
    // ICMP echo request (8/0) and its reply (0/0): one flow.
    check(0, "1.2.3.4", "5.6.7.8", 1, 8, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=");
    check(0, "5.6.7.8", "1.2.3.4", 1, 0, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=");
    // Time exceeded (11/0): one-way.
    check(0, "1.2.3.4", "5.6.7.8", 1, 11, 0, "1:f/YiSyWqczrTgfUCZlBUnvHRcPk=");
    check(0, kV6a, kV6b, 58, 128, 0, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo=");
    check(0, kV6b, kV6a, 58, 129, 0, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo=");
    check(0, kV6a, kV6b, 58, 146, 0, "1:fYC8+pz24E+EhANP1EZhpX0Dw10=");
    // RSVP (46): no ports, the addresses alone.
    check(0, "1.2.3.4", "5.6.7.8", 46, 0, 0, "1:ikv3kmf89luf73WPz1jOs49S768=");
    check(0, "5.6.7.8", "1.2.3.4", 46, 0, 0, "1:ikv3kmf89luf73WPz1jOs49S768=");
    check(0, kV6a, kV6b, 46, 0, 0, "1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0=");
    check(0, kV6b, kV6a, 46, 0, 0, "1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0=");
    // Ports of a port-less protocol are not hashed.
    CHECK(by_tuple(0, "1.2.3.4", "5.6.7.8", 46, 1, 2) == "1:ikv3kmf89luf73WPz1jOs49S768=");
}

TEST_CASE("community id: the spec's table, seed 1", "[community_id]") {
    // baseline/README.md, "A custom seed=1 value".
    check(1, "1.2.3.4", "5.6.7.8", 6, 1122, 3344, "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=");
    check(1, "5.6.7.8", "1.2.3.4", 6, 3344, 1122, "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=");
    check(1, "1.2.3.4", "5.6.7.8", 17, 1122, 3344, "1:OShq+iKDAMVouh/4bMxB9Sz4amw=");
    check(1, "5.6.7.8", "1.2.3.4", 17, 3344, 1122, "1:OShq+iKDAMVouh/4bMxB9Sz4amw=");
    check(1, "1.2.3.4", "5.6.7.8", 132, 1122, 3344, "1:uitchpn5MMGAQKBJh7bIr/bAr7s=");
    check(1, "5.6.7.8", "1.2.3.4", 132, 3344, 1122, "1:uitchpn5MMGAQKBJh7bIr/bAr7s=");
    check(1, "1.2.3.4", "5.6.7.8", 1, 8, 0, "1:9pr4ZGTICiuZoIh90RRYE2RyXpU=");
    check(1, "5.6.7.8", "1.2.3.4", 1, 0, 0, "1:9pr4ZGTICiuZoIh90RRYE2RyXpU=");
    check(1, "1.2.3.4", "5.6.7.8", 1, 11, 0, "1:1DD7cWGC/Yg91YGsQeni8du3pIA=");
    check(1, kV6a, kV6b, 58, 128, 0, "1:IO27GQzPuCtNnwFvjWALMHu5tJE=");
    check(1, kV6b, kV6a, 58, 129, 0, "1:IO27GQzPuCtNnwFvjWALMHu5tJE=");
    check(1, kV6a, kV6b, 58, 146, 0, "1:Cv4IKJe56BNkF0MBW2YxQ3Nwc3s=");
    check(1, "1.2.3.4", "5.6.7.8", 46, 0, 0, "1:/buhqeOmaRCopOZFy9HnoJd5XW8=");
    check(1, "5.6.7.8", "1.2.3.4", 46, 0, 0, "1:/buhqeOmaRCopOZFy9HnoJd5XW8=");
    check(1, kV6a, kV6b, 46, 0, 0, "1:j6EyyfBzL4vWKHFXgUqb5Az3OxM=");
    check(1, kV6b, kV6a, 46, 0, 0, "1:j6EyyfBzL4vWKHFXgUqb5Az3OxM=");
}

TEST_CASE("community id: the spec's baseline flows (combined.pcap), seeds 0 and 1",
          "[community_id]") {
    struct Flow {
        const char *src, *dst;
        std::uint8_t proto;
        std::uint16_t sport, dport;  // ICMP: type, code (the baseline gives the counterpart)
        const char *seed0, *seed1;
    };
    const Flow flows[] = {
        // ICMPv6 neighbour solicitation and the advertisement answering it...
        {"fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 58, 135, 0,
         "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=", "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY="},
        {"fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 58, 136, 0,
         "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=", "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY="},
        // ... and a solicitation the other way: another flow.
        {"fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 58, 135, 0,
         "1:zavyT/cezQr1fmImYCwYnMXbgck=", "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM="},
        {"fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 58, 136, 0,
         "1:zavyT/cezQr1fmImYCwYnMXbgck=", "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM="},
        // ICMPv6 time exceeded (3/0) and destination unreachable (1/4): one-way.
        {"3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", 58, 3, 0,
         "1:2ObVBgIn28oZvibYZhZMBgh7WdQ=", "1:lVEtCZpYu84Xqaa++3lXFyuu2n4="},
        {"3ffe:501:410:0:2c0:dfff:fe47:33e", "3ffe:507:0:1:200:86ff:fe05:80da", 58, 1, 4,
         "1:hLZd0XGWojozrvxqE0dWB1iM6R0=", "1:W8MHwXpWzpoSTD+cGcaJr4u0ys8="},
        {"3ffe:507:0:1:200:86ff:fe05:80da", "3ffe:501:0:1001::2", 58, 128, 0,
         "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=", "1:GfZxjAkDk2MkegpBYHV6tadtFXQ="},
        {"3ffe:501:0:1001::2", "3ffe:507:0:1:200:86ff:fe05:80da", 58, 129, 0,
         "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=", "1:GfZxjAkDk2MkegpBYHV6tadtFXQ="},
        // Router solicitation and advertisement, to multicast groups.
        {"fe80::200:86ff:fe05:80da", "ff02::2", 58, 133, 0,
         "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=", "1:L7Ka0ZMYu+J3bL4ulW2PrqyXNo8="},
        {"fe80::260:97ff:fe07:69ea", "ff02::1", 58, 134, 0,
         "1:pkvHqCL88/tg1k4cPigmZXUtL00=", "1:K/ee5UCqAMAQXDorP5nSa2CGLjc="},
        {"192.168.0.89", "192.168.0.1", 1, 8, 0,
         "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=", "1:03g6IloqVBdcZlPyX8r0hgoE7kA="},
        {"192.168.0.1", "192.168.0.89", 1, 0, 0,
         "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=", "1:03g6IloqVBdcZlPyX8r0hgoE7kA="},
        {"10.0.0.1", "10.0.0.2", 1, 11, 0,
         "1:YHxtAirCG//0OzkcVAukqKQN9xM=", "1:XjUibYHaafLQ3pxQeiMI8g25q20="},
        {"2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 6, 63943, 25,
         "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw="},
        {"2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", 6, 25, 63943,
         "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw="},
        {"192.168.170.8", "192.168.170.56", 132, 7, 7,
         "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=", "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg="},
        {"192.168.170.56", "192.168.170.8", 132, 7, 7,
         "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=", "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg="},
        {"128.232.110.120", "66.35.250.204", 6, 34855, 80,
         "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "1:3V71V58M3Ksw/yuFALMcW0LAHvc="},
        {"66.35.250.204", "128.232.110.120", 6, 80, 34855,
         "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "1:3V71V58M3Ksw/yuFALMcW0LAHvc="},
        {"192.168.1.52", "8.8.8.8", 17, 54585, 53,
         "1:d/FP5EW3wiY1vCndhwleRRKHowQ=", "1:Q9We8WO3piVF8yEQBNJF4uiSVrI="},
        {"8.8.8.8", "192.168.1.52", 17, 53, 54585,
         "1:d/FP5EW3wiY1vCndhwleRRKHowQ=", "1:Q9We8WO3piVF8yEQBNJF4uiSVrI="},
        {"10.1.12.1", "10.1.12.2", 46, 0, 0,
         "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=", "1:rYir8gphR31noO9iDRQmF/BteEI="},
        {"10.1.12.2", "10.1.12.1", 46, 0, 0,
         "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=", "1:rYir8gphR31noO9iDRQmF/BteEI="},
    };
    for (const Flow& f : flows) {
        check(0, f.src, f.dst, f.proto, f.sport, f.dport, f.seed0);
        check(1, f.src, f.dst, f.proto, f.sport, f.dport, f.seed1);
    }
}

TEST_CASE("community id: one-way ICMP keeps the sender first; the seed changes every id",
          "[community_id]") {
    // A one-way message sent the other way is another flow (the sender is
    // hashed first), whichever address is smaller.
    for (std::uint8_t proto : {std::uint8_t{1}, std::uint8_t{58}}) {
        const char* a = proto == 1 ? "10.0.0.1" : "2001:db8::1";
        const char* b = proto == 1 ? "10.0.0.2" : "2001:db8::2";
        const std::uint16_t type = proto == 1 ? 3 : 1;  // destination unreachable
        CAPTURE(proto);
        CHECK(by_tuple(0, a, b, proto, type, 3) != by_tuple(0, b, a, proto, type, 3));
        CHECK(by_key(0, a, b, proto, type, 3) == by_tuple(0, a, b, proto, type, 3));
        CHECK(by_key(0, b, a, proto, type, 3) == by_tuple(0, b, a, proto, type, 3));
        // The code is hashed as the second port.
        CHECK(by_tuple(0, a, b, proto, type, 3) != by_tuple(0, a, b, proto, type, 1));
    }
    // Equal addresses: the ports decide.
    CHECK(by_tuple(0, "10.0.0.1", "10.0.0.1", 6, 80, 1234) ==
          by_tuple(0, "10.0.0.1", "10.0.0.1", 6, 1234, 80));
    CHECK(by_key(7, "10.0.0.1", "10.0.0.1", 17, 80, 1234) ==
          by_tuple(7, "10.0.0.1", "10.0.0.1", 17, 1234, 80));
    // The largest seed, both ways.
    CHECK(by_tuple(65535, "1.2.3.4", "5.6.7.8", 6, 1122, 3344) !=
          by_tuple(0, "1.2.3.4", "5.6.7.8", 6, 1122, 3344));
    CHECK(by_key(65535, "5.6.7.8", "1.2.3.4", 6, 3344, 1122) ==
          by_tuple(65535, "1.2.3.4", "5.6.7.8", 6, 1122, 3344));
}
