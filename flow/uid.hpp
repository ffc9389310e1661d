// Connection uids as Zeek writes them.
#pragma once

#include <cstdint>

namespace wl {

// Zeek-style unique id: "C" and 17 base62 characters, derived from `seq`.
void make_uid(std::uint64_t seq, char out[19]);

}  // namespace wl
