// The connections open at once: a preallocated pool of records, an
// open-addressing hash table over their keys, and the lists that order them
// for eviction (unanswered attempts; the rest by last activity; free slots),
// with the sweep that ends those whose time is up. What a connection is, and
// what ending one means, is the tracker's (flow/flow_tracker.hpp).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "flow/connection.hpp"

namespace wl {

// Owns memory from calloc or aligned_alloc: the flow stage's large tables take
// fresh pages that are never touched until used (resident memory follows what
// is used).
struct FreeDeleter {
    void operator()(void* p) const { std::free(p); }
};

class ConnTable {
  public:
    static constexpr std::uint32_t kNone = 0xffffffffu;
    enum ListId : std::uint8_t { kAttempts = 0, kActive = 1, kFree = 2 };

    // The most memory a table of `capacity` connections holds, in bytes.
    static std::uint64_t memory_bound(std::uint32_t capacity);

    // `max_attempts` (<= capacity): how many slots unanswered attempts may hold.
    ConnTable(std::uint32_t capacity, std::uint32_t max_attempts);

    std::uint32_t capacity() const { return capacity_; }
    Connection& conn(std::uint32_t idx) { return pool_[idx]; }
    const Connection& conn(std::uint32_t idx) const { return pool_[idx]; }
    std::uint32_t index_of(const Connection& c) const {
        return static_cast<std::uint32_t>(&c - pool_.get());
    }
    // A connection's hole ranges for one side (0: originator, 1: responder).
    HoleRanges& holes(std::uint32_t idx, int side) { return holes_[2 * std::size_t{idx} + side]; }
    bool in_use(std::uint32_t idx) const { return meta_[idx].list != kFree; }
    // When the connection is over if nothing else arrives (a copy of
    // Connection::expire_ns, read by eviction and the sweep without the record).
    void set_expire(std::uint32_t idx, std::uint64_t ns) { meta_[idx].expire = ns; }
    std::uint64_t expire(std::uint32_t idx) const { return meta_[idx].expire; }

    // Starts fetching the table slot a key with this hash starts probing at.
    void prefetch_slot(std::uint64_t hash) const { __builtin_prefetch(&slots_[hash & slot_mask_]); }
    // The connection with this key, or kNone.
    std::uint32_t find(const FlowKey& key, std::uint64_t hash) const;

    // Whether a new connection must first evict one, and from which list.
    bool must_evict(ListId& from) const;
    std::uint32_t head(ListId list) const { return head_[list]; }
    // A free slot for a new connection (there must be one), off the free list.
    std::uint32_t take_free();
    // The new connection in `idx` is findable by `hash` and waits as an attempt.
    void insert(std::uint32_t idx, std::uint64_t hash);
    // The connection in `idx` is gone: its slot is free.
    void release(std::uint32_t idx);
    // The connection had a packet: it moves to the back of its list.
    void touch(std::uint32_t idx);

    void prefetch_next_victim();
    void prefetch_record(std::uint32_t idx) const;

    // Calls end(idx) for each due connection among the next `budget` slots.
    template <class End>
    void sweep(std::uint64_t now_ns, int budget, End&& end);

  private:
    void slot_insert(std::uint32_t idx, std::uint64_t hash);
    void slot_erase(std::uint32_t idx);
    void list_push_back(ListId list, std::uint32_t idx);
    void list_push_front(ListId list, std::uint32_t idx);
    void list_unlink(std::uint32_t idx);

    std::uint32_t capacity_;
    std::uint32_t max_attempts_;
    // From aligned_alloc, never cleared (a record is written whole when its
    // connection starts): pages of connections never used are never touched,
    // so the resident size follows the connections open, not --max-flows.
    std::unique_ptr<Connection[], FreeDeleter> pool_;
    std::vector<std::uint64_t>
        slots_;  // open addressing: hash low 32 bits, conn index + 1; 0 empty
    // Two per conn (holes(idx, side)); calloc'd: touched only by connections
    // that skip data, read only up to TcpSide::holes.
    std::unique_ptr<HoleRanges[], FreeDeleter> holes_;
    // What the table, the lists and the sweep keep of each connection, apart
    // from its record and together: an eviction or a sweep must read one
    // cache line of them, not one line per field.
    struct alignas(32) Meta {
        std::uint64_t hash;    // for erase
        std::uint64_t expire;  // a copy of expire_ns for the sweep
        std::uint32_t prev, next;
        std::uint8_t list;
    };
    static_assert(sizeof(Meta) == 32, "two to a cache line");
    std::vector<Meta> meta_;
    std::uint32_t head_[3] = {kNone, kNone, kNone}, tail_[3] = {kNone, kNone, kNone};
    std::uint32_t list_len_[3] = {0, 0, 0};
    std::uint64_t slot_mask_ = 0;
    std::uint32_t sweep_pos_ = 0;
    std::uint32_t sweep_ahead_ = 0;     // where the sweep prefetches due records
    std::uint32_t prefetched_ = kNone;  // the last victim prefetch_next_victim fetched
};

// ---------------------------------------------------------------- inline: every packet

// A slot holds the low 32 bits of the key's hash (its home is derived from
// them) above the connection's index + 1: probing compares hashes without
// touching the per-connection arrays, and a miss (every new SYN of a flood)
// costs one cache line of the table.
namespace conn_slot {
constexpr std::uint64_t make(std::uint64_t hash, std::uint32_t idx) {
    return (hash << 32) | (std::uint64_t{idx} + 1);
}
constexpr std::uint32_t idx(std::uint64_t s) {
    return static_cast<std::uint32_t>(s) - 1;
}
constexpr std::uint64_t hash(std::uint64_t s) {
    return s >> 32;
}
}  // namespace conn_slot

inline std::uint32_t ConnTable::find(const FlowKey& key, std::uint64_t hash) const {
    const std::uint64_t h32 = hash & 0xffffffffu;
    for (std::uint64_t i = hash & slot_mask_;; i = (i + 1) & slot_mask_) {
        const std::uint64_t s = slots_[i];
        if (s == 0) return kNone;
        if (conn_slot::hash(s) == h32 && pool_[conn_slot::idx(s)].key == key) {
            return conn_slot::idx(s);
        }
    }
}

inline void ConnTable::slot_insert(std::uint32_t idx, std::uint64_t hash) {
    meta_[idx].hash = hash;
    std::uint64_t i = hash & slot_mask_;
    while (slots_[i] != 0)
        i = (i + 1) & slot_mask_;
    slots_[i] = conn_slot::make(hash, idx);
}

inline void ConnTable::slot_erase(std::uint32_t idx) {
    std::uint64_t i = meta_[idx].hash & slot_mask_;
    while (conn_slot::idx(slots_[i]) != idx || slots_[i] == 0)
        i = (i + 1) & slot_mask_;
    // Backward-shift deletion keeps linear probing free of tombstones.
    for (std::uint64_t j = (i + 1) & slot_mask_;; j = (j + 1) & slot_mask_) {
        const std::uint64_t s = slots_[j];
        if (s == 0) break;
        const std::uint64_t home = conn_slot::hash(s) & slot_mask_;
        const bool movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            slots_[i] = s;
            i = j;
        }
    }
    slots_[i] = 0;
}

inline void ConnTable::list_push_back(ListId list, std::uint32_t idx) {
    ++list_len_[list];
    meta_[idx].list = list;
    meta_[idx].prev = tail_[list];
    meta_[idx].next = kNone;
    if (tail_[list] != kNone) {
        meta_[tail_[list]].next = idx;
    } else {
        head_[list] = idx;
    }
    tail_[list] = idx;
}

// Freed slots go to the front of the free list: the next connection reuses
// the one whose memory is warm, and resident memory follows the connections
// open at once rather than every slot the table ever used.
inline void ConnTable::list_push_front(ListId list, std::uint32_t idx) {
    ++list_len_[list];
    meta_[idx].list = list;
    meta_[idx].next = head_[list];
    meta_[idx].prev = kNone;
    if (head_[list] != kNone) {
        meta_[head_[list]].prev = idx;
    } else {
        tail_[list] = idx;
    }
    head_[list] = idx;
}

inline void ConnTable::list_unlink(std::uint32_t idx) {
    const std::uint8_t list = meta_[idx].list;
    --list_len_[list];
    if (meta_[idx].prev != kNone) {
        meta_[meta_[idx].prev].next = meta_[idx].next;
    } else {
        head_[list] = meta_[idx].next;
    }
    if (meta_[idx].next != kNone) {
        meta_[meta_[idx].next].prev = meta_[idx].prev;
    } else {
        tail_[list] = meta_[idx].prev;
    }
}

inline void ConnTable::touch(std::uint32_t idx) {
    // Connections nobody answered wait on their own list, evicted first.
    const ListId want = pool_[idx].side[1].pkts == 0 ? kAttempts : kActive;
    if (meta_[idx].list == want && tail_[want] == idx) return;
    list_unlink(idx);
    list_push_back(want, idx);
}

// Unanswered attempts hold their share of the table: the oldest attempt goes.
// The table is full otherwise: the least recently active connection goes
// (mostly closed ones waiting out their close delay), so that a flood of
// attempts cannot push out answered connections, nor can lingering
// connections leave new handshakes no room to complete.
inline bool ConnTable::must_evict(ListId& from) const {
    const bool attempts_full = list_len_[kAttempts] >= max_attempts_;
    if (head_[kFree] != kNone && !attempts_full) return false;
    from = attempts_full || head_[kActive] == kNone ? kAttempts : kActive;
    return true;
}

inline std::uint32_t ConnTable::take_free() {
    const std::uint32_t idx = head_[kFree];
    list_unlink(idx);
    return idx;
}

inline void ConnTable::insert(std::uint32_t idx, std::uint64_t hash) {
    slot_insert(idx, hash);
    list_push_back(kAttempts, idx);
}

inline void ConnTable::release(std::uint32_t idx) {
    slot_erase(idx);
    list_unlink(idx);
    list_push_front(kFree, idx);
    if (idx == prefetched_) prefetched_ = kNone;  // its next life is fetched anew
}

// A full table evicts one connection per new one: the one the next new
// connection would evict has its record, table slot and links fetched from
// memory after each packet (the lists may have changed: an answered attempt
// moves, the attempts' share frees up), instead of stalling the packet that
// evicts it. Once per victim: it stays cached until then.
inline void ConnTable::prefetch_next_victim() {
    ListId list = kAttempts;
    if (!must_evict(list)) return;
    const std::uint32_t n = head_[list];
    if (n == kNone || n == prefetched_) return;
    prefetched_ = n;
    // The table slot and links first: with more prefetches in flight than the
    // core has fill buffers, the last ones may be dropped.
    __builtin_prefetch(&slots_[meta_[n].hash & slot_mask_]);
    const std::uint32_t after = meta_[n].next;
    if (after != kNone) __builtin_prefetch(&meta_[after]);
    prefetch_record(n);
}

// Every cache line of a connection's record (whole lines, see Connection).
inline void ConnTable::prefetch_record(std::uint32_t idx) const {
    static_assert(sizeof(Connection) % 64 == 0 && alignof(Connection) == 64);
    const auto* p = reinterpret_cast<const char*>(&pool_[idx]);
    for (std::size_t line = 0; line < sizeof(Connection); line += 64)
        __builtin_prefetch(p + line);
}

template <class End>
void ConnTable::sweep(std::uint64_t now_ns, int budget, End&& end) {
    for (int i = 0; i < budget; ++i) {
        const std::uint32_t idx = sweep_pos_;
        sweep_pos_ = sweep_pos_ + 1 == capacity_ ? 0 : sweep_pos_ + 1;
        // A due connection's record is fetched some positions (a few packets)
        // before the sweep ends it, so that ending it does not wait on memory.
        // Capture time only grows: due then, due when reached.
        // (Its own counter: sweep_pos_ + 16 modulo the table is a division a step.)
        const std::uint32_t ahead = sweep_ahead_;
        sweep_ahead_ = sweep_ahead_ + 1 == capacity_ ? 0 : sweep_ahead_ + 1;
        // The Meta entries, read in order: the sweep touches a connection's
        // record only when it is due.
        if (meta_[ahead].list != kFree && meta_[ahead].expire <= now_ns) prefetch_record(ahead);
        if (meta_[idx].list == kFree || meta_[idx].expire > now_ns) continue;
        end(idx);
    }
}

}  // namespace wl
