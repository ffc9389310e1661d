#include "flow/server_ports.hpp"

#include <array>
#include <cstddef>

#include "decode/packet.hpp"

namespace wl {

namespace {

// Zeek's likely_server_ports: every port set its base scripts add to it
// (`redef likely_server_ports += { ... }` in zeek/zeek
// scripts/base/protocols/*/main.zeek and the tunnel packet analyzers'
// scripts under scripts/base/packet-protocols/), by script:
//   dce-rpc 135/tcp; dhcp 67/udp; dnp3 20000/tcp+udp; dns 53/tcp+udp,
//   137/udp, 5353/udp, 5355/udp; finger 79/tcp; ftp 21/tcp, 2811/tcp;
//   http 80, 81, 631, 1080, 3128, 8000, 8080, 8888/tcp; imap 143/tcp;
//   irc 6666-6669/tcp; krb 88/tcp+udp; ldap 389/tcp+udp, 3268/tcp;
//   modbus 502/tcp; mqtt 1883/tcp; ntp 123/udp; radius 1812/udp;
//   rdp 3389/tcp+udp; redis 6379/tcp; sip 5060/udp; smb 139, 445/tcp;
//   smtp 25, 587/tcp; snmp 161, 162/udp; socks 1080/tcp; ssh 22/tcp;
//   ssl 443, 563, 585, 614, 636, 989, 990, 992, 993, 995, 5223/tcp and
//   dtls 443/udp; syslog 514/udp; xmpp 5222, 5269/tcp; ayiya 5072/udp;
//   geneve 6081/udp; gtpv1 2123, 2152/udp; teredo 3544/udp; vxlan 4789/udp.
// Ports an analyzer is only registered for (Analyzer::register_for_ports)
// without being added here are not server ports to Zeek and are not listed:
// dhcp 68/udp and 4011/udp, mysql 1434 and 3306/tcp, postgresql 5432/tcp,
// quic 784 and 853/udp.
constexpr std::uint16_t kTcpPorts[] = {
    21,   22,   25,   53,   79,   80,   81,   88,   135,  139,  143,  389,  443,  445,  502,
    563,  585,  587,  614,  631,  636,  989,  990,  992,  993,  995,  1080, 1883, 2811, 3128,
    3268, 3389, 5222, 5223, 5269, 6379, 6666, 6667, 6668, 6669, 8000, 8080, 8888, 20000};
constexpr std::uint16_t kUdpPorts[] = {53,   67,   88,   123,  137,  161,  162,  389,
                                       443,  514,  1812, 2123, 2152, 3389, 3544, 4789,
                                       5060, 5072, 5353, 5355, 6081, 20000};

using Bitmap = std::array<std::uint64_t, 65536 / 64>;

template <std::size_t N>
constexpr Bitmap make_bitmap(const std::uint16_t (&ports)[N]) {
    Bitmap b{};
    for (const std::uint16_t p : ports)
        b[p >> 6] |= std::uint64_t{1} << (p & 63);
    return b;
}

constexpr Bitmap kTcp = make_bitmap(kTcpPorts);
constexpr Bitmap kUdp = make_bitmap(kUdpPorts);

}  // namespace

bool likely_server_port(std::uint16_t port, std::uint8_t proto) {
    const Bitmap* b = proto == ipproto::kTcp ? &kTcp : proto == ipproto::kUdp ? &kUdp : nullptr;
    return b != nullptr && (((*b)[port >> 6] >> (port & 63)) & 1) != 0;
}

}  // namespace wl
