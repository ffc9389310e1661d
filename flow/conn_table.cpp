#include "flow/conn_table.hpp"

#include <algorithm>
#include <new>
#include <type_traits>

namespace wl {

static_assert(std::is_trivially_destructible_v<Connection>,
              "connections are reused in place without destruction");

namespace {
// Slots for `capacity` connections: a power of two, load factor <= 1/2.
std::uint64_t slot_count(std::uint32_t capacity) {
    std::uint64_t cap = 16;
    while (cap < 2ull * capacity)
        cap <<= 1;
    return cap;
}
}  // namespace

std::uint64_t ConnTable::memory_bound(std::uint32_t capacity) {
    const std::uint64_t n = std::max<std::uint32_t>(capacity, 1);
    // Per connection: the connection, its two sides' hole ranges, its hash,
    // expiry, list links and list id (Meta); then the open-addressing slots.
    return n * (sizeof(Connection) + 2 * sizeof(HoleRanges) + sizeof(Meta)) +
           slot_count(static_cast<std::uint32_t>(n)) * 8;
}

ConnTable::ConnTable(std::uint32_t capacity, std::uint32_t max_attempts)
    : capacity_(capacity), max_attempts_(max_attempts) {
    // Records are written whole when a connection starts, never read before:
    // the pages need no clearing (and are taken from the system as used).
    pool_.reset(static_cast<Connection*>(
        std::aligned_alloc(alignof(Connection), std::size_t{capacity_} * sizeof(Connection))));
    if (!pool_) throw std::bad_alloc();
    meta_.resize(capacity_);
    holes_.reset(
        static_cast<HoleRanges*>(std::calloc(2 * std::size_t{capacity_}, sizeof(HoleRanges))));
    if (!holes_) throw std::bad_alloc();
    const std::uint64_t cap = slot_count(capacity_);
    slots_.assign(cap, 0);
    slot_mask_ = cap - 1;
    sweep_ahead_ = 16 % capacity_;  // positions ahead of sweep_pos_
    for (std::uint32_t i = 0; i < capacity_; ++i)
        list_push_back(kFree, i);
}

}  // namespace wl
