// Which side of a connection is the server when its first packet does not say.
#pragma once

#include <cstdint>

namespace wl {

// Ports Zeek's likely_server_ports would list (the well-known service ports).
bool likely_server_port(std::uint16_t port, std::uint8_t proto);

}  // namespace wl
