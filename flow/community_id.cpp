#include "flow/community_id.hpp"

// SHA1_Init/Update/Final are deprecated in OpenSSL 3.0 in favour of EVP, which
// allocates a context (and looks the digest up) on every call; these run on a
// stack context, from any thread.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstring>

namespace wl {

namespace {

bool has_ports(std::uint8_t proto) {
    return proto == ipproto::kTcp || proto == ipproto::kUdp || proto == 132 ||
           proto == ipproto::kIcmp || proto == ipproto::kIcmpv6;
}

// The hash input, in the spec's layout: seed, the first address, the second,
// the protocol, a zero byte, then (with ports) the first port and the second,
// all in network byte order. `first`/`second` are the endpoints already ordered.
void hash_flow(std::uint16_t seed, std::size_t addr_len, const std::uint8_t* first_addr,
               const std::uint8_t* second_addr, std::uint8_t proto, bool ports,
               std::uint16_t first_port, std::uint16_t second_port, char out[kCommunityIdLen + 1]) {
    std::uint8_t in[2 + 16 + 16 + 2 + 4];
    std::size_t n = 0;
    in[n++] = static_cast<std::uint8_t>(seed >> 8);
    in[n++] = static_cast<std::uint8_t>(seed);
    std::memcpy(in + n, first_addr, addr_len);
    n += addr_len;
    std::memcpy(in + n, second_addr, addr_len);
    n += addr_len;
    in[n++] = proto;
    in[n++] = 0;
    if (ports) {
        in[n++] = static_cast<std::uint8_t>(first_port >> 8);
        in[n++] = static_cast<std::uint8_t>(first_port);
        in[n++] = static_cast<std::uint8_t>(second_port >> 8);
        in[n++] = static_cast<std::uint8_t>(second_port);
    }
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA_CTX ctx;
    SHA1_Init(&ctx);
    SHA1_Update(&ctx, in, n);
    SHA1_Final(digest, &ctx);
    out[0] = '1';
    out[1] = ':';
    // 20 bytes: 28 characters (one '=' of padding) and a NUL.
    static_assert(4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 2 == kCommunityIdLen);
    EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out + 2), digest, SHA_DIGEST_LENGTH);
}

}  // namespace

void community_id(std::uint16_t seed, int ip_version, const std::uint8_t* src,
                  const std::uint8_t* dst, std::uint8_t proto, std::uint16_t sport,
                  std::uint16_t dport, char out[kCommunityIdLen + 1]) {
    const std::size_t len = ip_version == 6 ? 16 : 4;
    const bool ports = has_ports(proto);
    bool one_way = false;
    if (proto == ipproto::kIcmp || proto == ipproto::kIcmpv6) {
        const int other =
            icmp_counterpart(proto == ipproto::kIcmpv6, static_cast<std::uint8_t>(sport));
        if (other < 0) {
            one_way = true;  // the type and the code, the sender first
        } else {
            dport = static_cast<std::uint16_t>(other);
        }
    }
    if (!ports) sport = dport = 0;
    const int order = std::memcmp(src, dst, len);
    const bool src_first = one_way || order < 0 || (order == 0 && sport <= dport);
    if (src_first) {
        hash_flow(seed, len, src, dst, proto, ports, sport, dport, out);
    } else {
        hash_flow(seed, len, dst, src, proto, ports, dport, sport, out);
    }
}

void community_id(const FlowKey& key, std::uint16_t seed, char out[kCommunityIdLen + 1]) {
    hash_flow(seed, key.ip_version == 6 ? 16 : 4, key.lo_addr, key.hi_addr, key.proto,
              has_ports(key.proto), key.lo_port, key.hi_port, out);
}

}  // namespace wl
