#include "decode/checksum.hpp"

namespace wl {

std::uint32_t checksum_add(Bytes data, std::uint32_t initial) {
    std::uint64_t sum = initial;
    const std::uint8_t* p = data.data();
    std::size_t n = data.size();
    while (n >= 4) {
        sum += load_be32(p);
        p += 4;
        n -= 4;
    }
    if (n >= 2) {
        sum += load_be16(p);
        p += 2;
        n -= 2;
    }
    if (n == 1) sum += std::uint32_t{p[0]} << 8;
    while (sum >> 32)
        sum = (sum & 0xffffffffu) + (sum >> 32);
    // Fold to 16 bits here so the sum can be carried into another call.
    std::uint32_t s =
        static_cast<std::uint32_t>(sum & 0xffffu) + static_cast<std::uint32_t>(sum >> 16);
    s = (s & 0xffffu) + (s >> 16);
    return (s & 0xffffu) + (s >> 16);
}

std::uint16_t checksum_fold(std::uint32_t sum) {
    while (sum >> 16)
        sum = (sum & 0xffffu) + (sum >> 16);
    return static_cast<std::uint16_t>(sum);
}

bool ipv4_header_checksum_ok(Bytes header) {
    return checksum_fold(checksum_add(header)) == 0xffff;
}

bool l4_checksum_ok_v4(const std::uint8_t* src, const std::uint8_t* dst, std::uint8_t proto,
                       Bytes segment) {
    std::uint32_t sum = checksum_add(Bytes{src, 4});
    sum = checksum_add(Bytes{dst, 4}, sum);
    sum += proto;
    sum += static_cast<std::uint32_t>(segment.size());
    return checksum_fold(checksum_add(segment, sum)) == 0xffff;
}

bool l4_checksum_ok_v6(const std::uint8_t* src, const std::uint8_t* dst, std::uint8_t proto,
                       Bytes segment) {
    std::uint32_t sum = checksum_add(Bytes{src, 16});
    sum = checksum_add(Bytes{dst, 16}, sum);
    const std::uint32_t len = static_cast<std::uint32_t>(segment.size());
    sum += (len >> 16) + (len & 0xffffu);
    sum += proto;
    return checksum_fold(checksum_add(segment, sum)) == 0xffff;
}

}  // namespace wl
