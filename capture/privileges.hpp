// Giving up root once the capture is open (-Z, as tcpdump -Z).
#pragma once

#include <string>

namespace wl {

// Switches the whole process to `user`: its supplementary groups, group and
// user, real, effective and saved alike, and checks that root cannot be taken
// back and that no capability is left. Run without root, only `user` being
// the current user is accepted (capabilities granted to the binary are then
// dropped). On failure returns false and sets `error` to one line; the process
// may be left partly changed, so the caller must stop.
bool drop_privileges(const std::string& user, std::string& error);

}  // namespace wl
