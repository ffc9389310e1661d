#include "flow/flow_key.hpp"

#include <cstddef>

namespace wl {

namespace {

// ICMP messages that are answered pair with their reply type, as Zeek keys
// them: a request and its reply belong to one connection. Returns -1 when
// the message has no counterpart (errors, redirects, ...).
int icmp_counterpart(bool v6, std::uint8_t type) {
    if (!v6) {
        switch (type) {
            case 8:
                return 0;  // echo request / reply
            case 0:
                return 8;
            case 13:
                return 14;  // timestamp
            case 14:
                return 13;
            case 15:
                return 16;  // information
            case 16:
                return 15;
            case 17:
                return 18;  // address mask
            case 18:
                return 17;
            case 10:
                return 9;  // router solicitation / advertisement
            case 9:
                return 10;
            default:
                return -1;
        }
    }
    switch (type) {
        case 128:
            return 129;  // echo
        case 129:
            return 128;
        case 133:
            return 134;  // router solicitation / advertisement
        case 134:
            return 133;
        case 135:
            return 136;  // neighbour solicitation / advertisement
        case 136:
            return 135;
        case 130:
            return 131;  // multicast listener query / report
        case 131:
            return 130;
        default:
            return -1;
    }
}

}  // namespace

bool flow_info(const Packet& pkt, FlowPacketInfo& info, std::uint64_t seed) {
    if (pkt.ip_version == 0 || pkt.ip_later_fragment) return false;
    std::uint16_t sport, dport;
    std::uint8_t proto;
    if (pkt.has(Layer::Tcp)) {
        sport = pkt.tcp.src_port();
        dport = pkt.tcp.dst_port();
        proto = ipproto::kTcp;
    } else if (pkt.has(Layer::Udp)) {
        sport = pkt.udp.src_port();
        dport = pkt.udp.dst_port();
        proto = ipproto::kUdp;
    } else if (pkt.has(Layer::Icmp) || pkt.has(Layer::Icmpv6)) {
        const bool v6 = pkt.has(Layer::Icmpv6);
        const std::uint8_t type = pkt.icmp.type();
        const int other = icmp_counterpart(v6, type);
        proto = v6 ? ipproto::kIcmpv6 : ipproto::kIcmp;
        // Zeek's keying: (type, counterpart type), so that a reply from the
        // other side is the same pair reversed; one-way messages use the code.
        sport = type;
        dport = other < 0 ? pkt.icmp.code() : static_cast<std::uint16_t>(other);
    } else {
        return false;
    }
    // The key is put together in registers, hashed there and stored a word
    // at a time: built field by field in memory, the words read back for the
    // hash waited on the stores.
    std::uint64_t s0 = 0, s1 = 0, d0 = 0, d1 = 0;
    if (pkt.ip_version == 4) {
        std::uint32_t a, b;
        std::memcpy(&a, pkt.ip_src(), 4);
        std::memcpy(&b, pkt.ip_dst(), 4);
        s0 = a;  // the address's bytes first in memory, zeros after
        d0 = b;
    } else {
        std::memcpy(&s0, pkt.ip_src(), 8);
        std::memcpy(&s1, pkt.ip_src() + 8, 8);
        std::memcpy(&d0, pkt.ip_dst(), 8);
        std::memcpy(&d1, pkt.ip_dst() + 8, 8);
    }
    std::memcpy(info.src.addr, &s0, 8);
    std::memcpy(info.src.addr + 8, &s1, 8);
    std::memcpy(info.dst.addr, &d0, 8);
    std::memcpy(info.dst.addr + 8, &d1, 8);
    info.src.port = sport;
    info.dst.port = dport;
    // The smaller of (address bytes, port) is lo: the addresses compared as
    // big-endian 128-bit numbers, with no data-dependent branch: spoofed
    // sources make the order random, so a branch would be mispredicted.
    const unsigned __int128 x =
        (static_cast<unsigned __int128>(__builtin_bswap64(s0)) << 64) | __builtin_bswap64(s1);
    const unsigned __int128 y =
        (static_cast<unsigned __int128>(__builtin_bswap64(d0)) << 64) | __builtin_bswap64(d1);
    const bool src_lo = (x < y) | ((x == y) & (sport <= dport));
    info.src_is_lo = src_lo;
    const std::uint64_t w0 = src_lo ? s0 : d0, w1 = src_lo ? s1 : d1;
    const std::uint64_t w2 = src_lo ? d0 : s0, w3 = src_lo ? d1 : s1;
    const std::uint64_t lo_port = src_lo ? sport : dport, hi_port = src_lo ? dport : sport;
    // lo_port, hi_port, proto, ip_version and the zero pad: the fifth word.
    static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && offsetof(FlowKey, lo_port) == 32 &&
                      offsetof(FlowKey, hi_port) == 34 && offsetof(FlowKey, proto) == 36 &&
                      offsetof(FlowKey, ip_version) == 37,
                  "the fifth word's layout");
    const std::uint64_t w4 =
        lo_port | hi_port << 16 | std::uint64_t{proto} << 32 | std::uint64_t{pkt.ip_version} << 40;
    // Stored a word at a time from registers, not built as an array: that
    // goes through the stack and is read back 16 bytes at a time, a load that
    // waits for the stores before it.
    auto* key = reinterpret_cast<unsigned char*>(&info.key);
    std::memcpy(key, &w0, 8);
    std::memcpy(key + 8, &w1, 8);
    std::memcpy(key + 16, &w2, 8);
    std::memcpy(key + 24, &w3, 8);
    std::memcpy(key + 32, &w4, 8);
    info.hash = FlowKey::hash_words(w0, w1, w2, w3, w4, seed);
    return true;
}

}  // namespace wl
