// Which side of a connection is the server when its first packet does not say.
#pragma once

#include <cstdint>

namespace wl {

// Whether `port` is in Zeek's likely_server_ports for `proto` (TCP or UDP;
// false for anything else): a 65536-bit bitmap per protocol, one load.
bool likely_server_port(std::uint16_t port, std::uint8_t proto);

}  // namespace wl
