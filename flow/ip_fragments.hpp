// IPv4 (RFC 791) and IPv6 (RFC 8200) fragment reassembly, before the
// transport layer. Datagrams in progress sit in a preallocated table of fixed
// size; their bytes in a fixed arena of 1 KiB chunks. Nothing is allocated
// after construction: when the table or the arena is full, the oldest datagram
// is evicted. Overlaps keep the bytes that came first (as Zeek, BSD and Linux
// before 2018 do; Suricata's "bsd" and "linux" policies differ only at edges
// this does not model); every drop, overlap and conflict is counted.
#pragma once

#include <cstdint>
#include <vector>

#include "decode/packet.hpp"

namespace wl {

struct FragmentOptions {
    std::uint32_t max_datagrams = 1024;            // --frag-datagrams: in progress at once
    std::uint64_t max_bytes = 4ull << 20;          // --frag-memory: the arena of fragment bytes
    std::uint64_t timeout_ns = 30'000'000'000ull;  // --frag-timeout: from the first fragment
};

// All 64-bit counts (the sharded pipeline adds them word by word).
struct FragmentCounters {
    std::uint64_t received = 0;     // fragments given to the reassembler
    std::uint64_t reassembled = 0;  // datagrams completed
    std::uint64_t timed_out = 0;    // datagrams dropped incomplete after the timeout
    std::uint64_t evicted = 0;      // datagrams dropped incomplete to make room
    std::uint64_t duplicates = 0;   // fragments whose every byte was already held, the same
    std::uint64_t overlapping = 0;  // fragments overlapping held bytes (the same) and adding some
    std::uint64_t conflicting = 0;  // fragments whose bytes differ from held ones, or whose end
                                    // differs from the last fragment's: first wins
    std::uint64_t too_big = 0;      // datagrams that would pass 65535 bytes: dropped
    std::uint64_t too_many = 0;     // datagrams of more than kMaxFragments fragments: dropped
    std::uint64_t tiny = 0;         // RFC 1858 tiny TCP fragments (first < 20 bytes, or offset 8)
    std::uint64_t bad_length = 0;   // a fragment with more to come not a multiple of 8: ignored
    std::uint64_t incomplete_first = 0;  // IPv6 first fragment without the whole header chain
                                         // (RFC 8200 4.5), or headers over kMaxHeader: ignored
    std::uint64_t snapped =
        0;  // fragments (or their fragment header) cut by the snap length: ignored
    std::uint64_t in_progress_peak = 0;  // most datagrams in progress at once
    std::uint64_t bytes_peak = 0;        // most arena bytes in use at once
    std::uint64_t malformed = 0;         // reassembled datagrams that decoded malformed
    std::uint64_t tunneled = 0;          // packets found in tunnels inside reassembled datagrams
};

class IpReassembler {
  public:
    static constexpr std::uint32_t kChunk = 1024;
    static constexpr std::uint32_t kMaxPayload = 65535;  // bytes after the unfragmentable part
    static constexpr std::uint32_t kChunksPerDatagram = (kMaxPayload + kChunk) / kChunk;
    static constexpr std::uint32_t kMaxFragments = 64;  // per datagram
    static constexpr std::uint32_t kMaxHeader = 256;    // IPv4 header / IPv6 unfragmentable part

    // The most memory a reassembler with these limits holds, in bytes.
    static std::uint64_t memory_bound(const FragmentOptions& opts);

    explicit IpReassembler(const FragmentOptions& opts);

    // A packet with ip_fragment set; `context` tells apart equal keys that
    // arrived differently (the tunnel depth). Returns the whole datagram (its
    // IP header rewritten as unfragmented) when this fragment completed it,
    // else an empty view. The bytes stay valid until the next call.
    Bytes add(const Packet& pkt, std::uint8_t context);
    // Drops the datagrams whose first fragment is older than the timeout.
    void expire(std::uint64_t now_ns);

    const FragmentCounters& counters() const { return counters_; }
    FragmentCounters& counters() { return counters_; }
    std::uint32_t in_progress() const { return in_progress_; }
    std::uint64_t arena_bytes_used() const {
        return std::uint64_t{chunks_total_ - free_chunks_.size()} * kChunk;
    }
    // What the reassembler holds from the heap (fixed at construction).
    std::uint64_t allocated_bytes() const;

  private:
    static constexpr std::uint32_t kNone = ~0u;
    struct Range {
        std::uint32_t begin, end;
    };
    struct Datagram {
        std::uint8_t src[16], dst[16];
        std::uint32_t id;
        std::uint8_t version, proto, context;
        bool used, have_first, have_last;
        std::uint8_t next_header;      // IPv6: what the fragment header said follows it
        std::uint16_t header_len;      // of header[]
        std::uint16_t next_header_at;  // IPv6: the byte of header[] naming the fragment header
        std::uint32_t total;           // payload length, once the last fragment came
        std::uint64_t created_ns;
        std::uint64_t hash;
        std::uint32_t hash_next, older, newer;
        std::uint16_t nranges, nfragments;
        Range ranges[kMaxFragments];  // bytes held: sorted, merged
        std::uint32_t chunks[kChunksPerDatagram];
        std::uint8_t header[kMaxHeader];
    };

    std::uint32_t find(const Datagram& key, std::uint64_t hash) const;
    std::uint32_t create(const Datagram& key, std::uint64_t hash, std::uint64_t now_ns);
    void release(std::uint32_t idx);
    bool write(Datagram& d, std::uint32_t idx, std::uint32_t at, const std::uint8_t* p,
               std::uint32_t n);
    bool same(const Datagram& d, std::uint32_t at, const std::uint8_t* p, std::uint32_t n) const;
    Bytes assemble(std::uint32_t idx);

    FragmentOptions opts_;
    FragmentCounters counters_;
    std::uint64_t seed_;
    std::vector<Datagram> slots_;
    std::vector<std::uint32_t> buckets_;
    std::uint32_t bucket_mask_;
    std::vector<std::uint32_t> free_slots_;
    std::uint32_t oldest_ = kNone, newest_ = kNone;
    std::uint32_t in_progress_ = 0;
    std::vector<std::uint8_t> arena_;
    std::uint32_t chunks_total_;
    std::vector<std::uint32_t> free_chunks_;
    std::vector<std::uint8_t> out_;  // the datagram handed back
};

}  // namespace wl
