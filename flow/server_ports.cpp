#include "flow/server_ports.hpp"

#include <algorithm>
#include <iterator>

#include "decode/packet.hpp"

namespace wl {

bool likely_server_port(std::uint16_t port, std::uint8_t proto) {
    // The ports Zeek's base protocol scripts add to likely_server_ports (its
    // analyzers' well-known ports), as far as they are known here.
    static constexpr std::uint16_t kTcp[] = {
        21,   22,   23,   25,   53,   79,   80,   81,   88,   110,  111,  135,  139,
        143,  389,  443,  445,  465,  502,  563,  585,  587,  614,  631,  636,  989,
        990,  992,  993,  995,  1080, 1883, 2049, 2811, 3128, 3268, 3306, 3389, 5222,
        5223, 5269, 5432, 6379, 6666, 6667, 6668, 6669, 8000, 8080, 8888, 20000};
    static constexpr std::uint16_t kUdp[] = {53,  67,  68,  88,   111,  123,  137,  161,  162,
                                             389, 443, 514, 1812, 2049, 5060, 5353, 5355, 20000};
    if (proto == ipproto::kTcp) {
        return std::binary_search(std::begin(kTcp), std::end(kTcp), port);
    }
    return std::binary_search(std::begin(kUdp), std::end(kUdp), port);
}

}  // namespace wl
