#include "flow/flow_key.hpp"

#include <cstddef>
#include <cstring>

namespace wl {

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
        case 139:
            return 140;  // node information query / reply
        case 140:
            return 139;
        case 144:
            return 145;  // home agent address discovery request / reply
        case 145:
            return 144;
        default:
            return -1;
    }
}

namespace {

// The key of (src, sport) -> (dst, dport), laid out as flow_info lays it out.
FlowKey make_key(const std::uint8_t* src, const std::uint8_t* dst, std::uint8_t version,
                 std::uint16_t sport, std::uint16_t dport, std::uint8_t proto, bool one_way) {
    const std::size_t n = version == 4 ? 4 : 16;
    std::uint8_t s[16] = {}, d[16] = {};
    std::memcpy(s, src, n);
    std::memcpy(d, dst, n);
    const int order = std::memcmp(s, d, 16);
    const bool src_lo = one_way || order < 0 || (order == 0 && sport <= dport);
    FlowKey k{};
    std::memcpy(k.lo_addr, src_lo ? s : d, 16);
    std::memcpy(k.hi_addr, src_lo ? d : s, 16);
    k.lo_port = src_lo ? sport : dport;
    k.hi_port = src_lo ? dport : sport;
    k.proto = proto;
    k.ip_version = version;
    return k;
}

}  // namespace

bool quoted_flow_key(const Packet& pkt, FlowKey& key) {
    if (!pkt.has(Layer::Icmp) && !pkt.has(Layer::Icmpv6)) return false;
    const IcmpQuoteView& q = pkt.icmp_quote;
    if (q.bytes.empty() || !q.has_transport) return false;
    if (q.proto == ipproto::kTcp || q.proto == ipproto::kUdp) {
        key = make_key(q.src(), q.dst(), q.version, q.src_port(), q.dst_port(), q.proto, false);
        return true;
    }
    const bool v6 = q.proto == ipproto::kIcmpv6;
    const int other = icmp_counterpart(v6, q.icmp_type());
    const std::uint16_t dport = other < 0 ? q.icmp_code() : static_cast<std::uint16_t>(other);
    key = make_key(q.src(), q.dst(), q.version, q.icmp_type(), dport, q.proto, other < 0);
    return true;
}

bool flow_info(const Packet& pkt, FlowPacketInfo& info, std::uint64_t seed) {
    if (pkt.ip_version == 0 || pkt.ip_later_fragment) return false;
    std::uint16_t sport, dport;
    std::uint8_t proto;
    bool one_way = false;
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
        // other side is the same pair reversed; one-way messages (errors,
        // redirects, ...) use the code and keep the sender first: the same
        // message sent the other way is another "connection" (Zeek's is_one_way).
        sport = type;
        dport = other < 0 ? pkt.icmp.code() : static_cast<std::uint16_t>(other);
        one_way = other < 0;
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
    const bool src_lo = (x < y) | ((x == y) & (sport <= dport)) | one_way;
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
