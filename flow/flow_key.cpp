#include "flow_key.hpp"

namespace wl {

namespace {

int compare(const Endpoint& a, const Endpoint& b) {
    const int c = std::memcmp(a.addr, b.addr, sizeof a.addr);
    if (c != 0) return c;
    return a.port < b.port ? -1 : a.port > b.port ? 1 : 0;
}

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

std::uint64_t FlowKey::hash(std::uint64_t seed) const {
    std::uint64_t words[5];
    std::memcpy(words, this, sizeof words);
    std::uint64_t h = 0x9e3779b97f4a7c15ull ^ seed;
    for (std::uint64_t w : words)
        h = splitmix_finalize(h ^ w);
    return h;
}

bool flow_info(const Packet& pkt, FlowPacketInfo& info) {
    if (pkt.ip_version == 0 || pkt.ip_later_fragment) return false;
    const std::size_t alen = pkt.ip_version == 4 ? 4 : 16;
    info = FlowPacketInfo{};
    std::memcpy(info.src.addr, pkt.ip_src(), alen);
    std::memcpy(info.dst.addr, pkt.ip_dst(), alen);
    info.key.ip_version = pkt.ip_version;
    if (pkt.has(Layer::Tcp)) {
        info.src.port = pkt.tcp.src_port();
        info.dst.port = pkt.tcp.dst_port();
        info.key.proto = ipproto::kTcp;
    } else if (pkt.has(Layer::Udp)) {
        info.src.port = pkt.udp.src_port();
        info.dst.port = pkt.udp.dst_port();
        info.key.proto = ipproto::kUdp;
    } else if (pkt.has(Layer::Icmp) || pkt.has(Layer::Icmpv6)) {
        const bool v6 = pkt.has(Layer::Icmpv6);
        const std::uint8_t type = pkt.icmp.type();
        const int other = icmp_counterpart(v6, type);
        info.key.proto = v6 ? ipproto::kIcmpv6 : ipproto::kIcmp;
        // Zeek's keying: (type, counterpart type), so that a reply from the
        // other side is the same pair reversed; one-way messages use the code.
        info.src.port = type;
        info.dst.port = other < 0 ? pkt.icmp.code() : static_cast<std::uint16_t>(other);
    } else {
        return false;
    }
    info.src_is_lo = compare(info.src, info.dst) <= 0;
    info.key.lo = info.src_is_lo ? info.src : info.dst;
    info.key.hi = info.src_is_lo ? info.dst : info.src;
    return true;
}

}  // namespace wl
