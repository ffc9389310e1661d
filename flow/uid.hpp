// Connection uids: "C" and 17 base-62 characters, in the shape Zeek writes
// them, but named by the connection itself rather than drawn at random or
// counted: the same connection gets the same uid in every run, filtered or
// not, in any number of threads (README "Connections").
#pragma once

#include <cstdint>

#include "flow/connection.hpp"
#include "flow/flow_key.hpp"

namespace wl {

// The uid of the connection between endpoints `a` and `b` (in either order:
// the same uid both ways) over `proto` and IP `ip_version`, whose first packet
// has timestamp `first_ns`. `tie` is 0, or how many earlier connections with
// the same protocol and endpoints started in the same nanosecond (FlowTracker
// numbers those, so that they still differ). No allocation; a few dozen
// multiplications.
void make_uid(std::uint8_t proto, std::uint8_t ip_version, const Endpoint& a, const Endpoint& b,
              std::uint64_t first_ns, std::uint64_t tie, char out[19]);

// The uid of a connection the flow stage follows.
inline void conn_uid(const Connection& c, char out[19]) {
    make_uid(c.proto, c.key.ip_version, c.orig, c.resp, c.start_ns, c.uid_tie, out);
}

}  // namespace wl
