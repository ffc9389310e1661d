#include "flow/ip_fragments.hpp"

#include <algorithm>
#include <cstring>
#include <random>

#include "decode/checksum.hpp"

namespace wl {

namespace {

std::uint64_t mix(std::uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

void store_be16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}

std::uint32_t pow2_at_least(std::uint64_t n) {
    std::uint32_t p = 1;
    while (p < n && p < (1u << 30))
        p <<= 1;
    return p;
}

// The smallest upper-layer header a first fragment must hold (RFC 8200 4.5:
// the whole header chain, up to and including the upper-layer header).
std::uint32_t upper_header_min(std::uint8_t proto) {
    switch (proto) {
        case ipproto::kTcp:
            return 20;
        case ipproto::kUdp:
            return 8;
        case ipproto::kIcmp:
        case ipproto::kIcmpv6:
            return 4;
        default:
            return 0;
    }
}

// A fragment as the reassembler needs it, taken from either IP version.
struct Fragment {
    Bytes header;            // IPv4 header, IPv6 unfragmentable part
    Bytes data;              // the fragment's payload, as captured
    std::uint32_t wire = 0;  // ... and on the wire
    std::uint32_t begin = 0;
    bool more = false;
    std::uint32_t id = 0;
    std::uint8_t proto = 0;            // IPv4: the protocol; IPv6: what follows the fragment header
    std::uint16_t next_header_at = 0;  // IPv6: the byte of `header` naming the fragment header
};

bool fragment_of(const Packet& pkt, Fragment& f) {
    if (pkt.ip_version == 4) {
        const Ipv4View& ip = pkt.ip4;
        f.header = ip.header();
        f.data = ip.payload();
        f.wire = ip.payload_wire_len;
        f.begin = std::uint32_t{ip.fragment_offset()} * 8u;
        f.more = ip.more_fragments();
        f.id = ip.id();
        f.proto = ip.protocol();
        return true;
    }
    // IPv6: find the fragment header again (the chain records only its fields).
    const Ipv6View& ip = pkt.ip6;
    const Bytes p = ip.payload();
    std::uint8_t nh = ip.next_header();
    std::size_t off = 0;
    std::size_t prev_at = field::ipv6::kNextHeader;
    for (unsigned n = 0; nh != ipproto::kFragment; ++n) {
        if (!Ipv6Chain::is_extension(nh) || n == Ipv6Chain::kMaxHeaders || off + 2 > p.size()) {
            return false;
        }
        const std::uint8_t* h = p.data() + off;
        const std::size_t units = h[field::ipv6_ext::kLength];
        const std::size_t len = nh == ipproto::kAh ? (units + 2) * 4 : (units + 1) * 8;
        prev_at = Ipv6View::kHeaderLen + off;
        nh = h[field::ipv6_ext::kNextHeader];
        off += len;
    }
    const std::size_t end = off + field::ipv6_ext::kFragmentLen;
    if (end > p.size() || end > ip.payload_wire_len) return false;
    const std::uint8_t* h = p.data() + off;
    const std::uint16_t fo = load_be16(h + field::ipv6_ext::kFragmentOffset);
    f.header = ip.bytes.first(Ipv6View::kHeaderLen + off);
    f.data = p.subspan(end);
    f.wire = ip.payload_wire_len - static_cast<std::uint32_t>(end);
    f.begin = std::uint32_t{static_cast<std::uint16_t>(fo >> 3)} * 8u;
    f.more = (fo & 1) != 0;
    f.id = load_be32(h + field::ipv6_ext::kFragmentId);
    f.proto = h[field::ipv6_ext::kNextHeader];
    f.next_header_at = static_cast<std::uint16_t>(prev_at);
    return true;
}

// IPv6 first fragment: the extension headers after the fragment header and
// the upper-layer header are all inside it.
bool holds_header_chain(std::uint8_t nh, Bytes data) {
    std::size_t off = 0;
    for (unsigned n = 0; Ipv6Chain::is_extension(nh); ++n) {
        if (n == Ipv6Chain::kMaxHeaders || off + 2 > data.size()) return false;
        const std::uint8_t* h = data.data() + off;
        const std::size_t units = h[field::ipv6_ext::kLength];
        const std::size_t len = nh == ipproto::kFragment ? field::ipv6_ext::kFragmentLen
                                : nh == ipproto::kAh     ? (units + 2) * 4
                                                         : (units + 1) * 8;
        if (off + len > data.size()) return false;
        nh = h[field::ipv6_ext::kNextHeader];
        off += len;
    }
    return data.size() - off >= upper_header_min(nh);
}

}  // namespace

std::uint64_t IpReassembler::memory_bound(const FragmentOptions& opts) {
    const std::uint64_t slots = std::max<std::uint32_t>(opts.max_datagrams, 1);
    const std::uint64_t chunks =
        std::max<std::uint64_t>(opts.max_bytes / kChunk, kChunksPerDatagram);
    return sizeof(IpReassembler) + slots * (sizeof(Datagram) + sizeof(std::uint32_t)) +
           pow2_at_least(slots * 2) * sizeof(std::uint32_t) +
           chunks * (kChunk + sizeof(std::uint32_t)) + kMaxHeader + kMaxPayload;
}

IpReassembler::IpReassembler(const FragmentOptions& opts) : opts_(opts) {
    opts_.max_datagrams = std::max<std::uint32_t>(opts_.max_datagrams, 1);
    seed_ = (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
    slots_.resize(opts_.max_datagrams);
    for (Datagram& d : slots_)
        d.used = false;
    const std::uint32_t nbuckets = pow2_at_least(std::uint64_t{opts_.max_datagrams} * 2);
    buckets_.assign(nbuckets, kNone);
    bucket_mask_ = nbuckets - 1;
    free_slots_.reserve(opts_.max_datagrams);
    for (std::uint32_t i = opts_.max_datagrams; i-- > 0;)
        free_slots_.push_back(i);
    chunks_total_ = static_cast<std::uint32_t>(
        std::max<std::uint64_t>(opts_.max_bytes / kChunk, kChunksPerDatagram));
    arena_.assign(std::uint64_t{chunks_total_} * kChunk, 0);
    free_chunks_.reserve(chunks_total_);
    for (std::uint32_t i = chunks_total_; i-- > 0;)
        free_chunks_.push_back(i);
    out_.assign(kMaxHeader + kMaxPayload, 0);
}

std::uint64_t IpReassembler::allocated_bytes() const {
    return slots_.capacity() * sizeof(Datagram) + buckets_.capacity() * sizeof(std::uint32_t) +
           free_slots_.capacity() * sizeof(std::uint32_t) + arena_.capacity() +
           free_chunks_.capacity() * sizeof(std::uint32_t) + out_.capacity();
}

std::uint32_t IpReassembler::find(const Datagram& k, std::uint64_t hash) const {
    for (std::uint32_t i = buckets_[hash & bucket_mask_]; i != kNone; i = slots_[i].hash_next) {
        const Datagram& d = slots_[i];
        if (d.hash == hash && d.id == k.id && d.version == k.version && d.proto == k.proto &&
            d.context == k.context && std::memcmp(d.src, k.src, 16) == 0 &&
            std::memcmp(d.dst, k.dst, 16) == 0) {
            return i;
        }
    }
    return kNone;
}

std::uint32_t IpReassembler::create(const Datagram& k, std::uint64_t hash, std::uint64_t now_ns) {
    if (free_slots_.empty()) {
        ++counters_.evicted;
        release(oldest_);
    }
    const std::uint32_t idx = free_slots_.back();
    free_slots_.pop_back();
    Datagram& d = slots_[idx];
    std::memcpy(d.src, k.src, 16);
    std::memcpy(d.dst, k.dst, 16);
    d.id = k.id;
    d.version = k.version;
    d.proto = k.proto;
    d.context = k.context;
    d.used = true;
    d.have_first = d.have_last = false;
    d.next_header = 0;
    d.header_len = d.next_header_at = 0;
    d.total = 0;
    d.created_ns = now_ns;
    d.hash = hash;
    d.nranges = d.nfragments = 0;
    std::fill(std::begin(d.chunks), std::end(d.chunks), kNone);
    std::uint32_t& head = buckets_[hash & bucket_mask_];
    d.hash_next = head;
    head = idx;
    d.older = newest_;
    d.newer = kNone;
    if (newest_ != kNone) slots_[newest_].newer = idx;
    newest_ = idx;
    if (oldest_ == kNone) oldest_ = idx;
    ++in_progress_;
    counters_.in_progress_peak = std::max<std::uint64_t>(counters_.in_progress_peak, in_progress_);
    return idx;
}

void IpReassembler::release(std::uint32_t idx) {
    Datagram& d = slots_[idx];
    for (std::uint32_t& c : d.chunks) {
        if (c != kNone) free_chunks_.push_back(c);
        c = kNone;
    }
    std::uint32_t* link = &buckets_[d.hash & bucket_mask_];
    while (*link != idx)
        link = &slots_[*link].hash_next;
    *link = d.hash_next;
    if (d.older != kNone) {
        slots_[d.older].newer = d.newer;
    } else {
        oldest_ = d.newer;
    }
    if (d.newer != kNone) {
        slots_[d.newer].older = d.older;
    } else {
        newest_ = d.older;
    }
    d.used = false;
    free_slots_.push_back(idx);
    --in_progress_;
}

bool IpReassembler::write(Datagram& d, std::uint32_t idx, std::uint32_t at, const std::uint8_t* p,
                          std::uint32_t n) {
    while (n > 0) {
        const std::uint32_t c = at / kChunk, in = at % kChunk;
        const std::uint32_t k = std::min(n, kChunk - in);
        if (d.chunks[c] == kNone) {
            // The arena is full: the oldest other datagrams make room.
            while (free_chunks_.empty()) {
                const std::uint32_t victim = oldest_ != idx ? oldest_ : d.newer;
                if (victim == kNone) return false;
                ++counters_.evicted;
                release(victim);
            }
            d.chunks[c] = free_chunks_.back();
            free_chunks_.pop_back();
        }
        std::memcpy(arena_.data() + std::uint64_t{d.chunks[c]} * kChunk + in, p, k);
        at += k;
        p += k;
        n -= k;
    }
    counters_.bytes_peak = std::max(counters_.bytes_peak, arena_bytes_used());
    return true;
}

bool IpReassembler::same(const Datagram& d, std::uint32_t at, const std::uint8_t* p,
                         std::uint32_t n) const {
    while (n > 0) {
        const std::uint32_t c = at / kChunk, in = at % kChunk;
        const std::uint32_t k = std::min(n, kChunk - in);
        if (std::memcmp(arena_.data() + std::uint64_t{d.chunks[c]} * kChunk + in, p, k) != 0) {
            return false;
        }
        at += k;
        p += k;
        n -= k;
    }
    return true;
}

Bytes IpReassembler::add(const Packet& pkt, std::uint8_t context) {
    ++counters_.received;
    const std::uint64_t now = pkt.ts_ns;
    expire(now);
    Fragment f;
    // The fragment header not captured whole counts as a cut fragment.
    if (pkt.ip_version == 0 || !fragment_of(pkt, f) || f.data.size() < f.wire) {
        ++counters_.snapped;
        return {};
    }
    const std::uint32_t n = f.wire;
    const std::uint32_t begin = f.begin, end = f.begin + n;
    if (f.more && (n == 0 || n % 8 != 0)) {
        ++counters_.bad_length;
        return {};
    }
    if (f.proto == ipproto::kTcp &&
        ((begin == 0 && f.more && n < upper_header_min(ipproto::kTcp)) || begin == 8)) {
        ++counters_.tiny;  // counted; reassembled all the same, first bytes winning
    }

    Datagram key;
    key.version = pkt.ip_version;
    std::memset(key.src, 0, 16);
    std::memset(key.dst, 0, 16);
    const std::size_t alen = pkt.ip_version == 6 ? 16 : 4;
    std::memcpy(key.src, pkt.ip_src(), alen);
    std::memcpy(key.dst, pkt.ip_dst(), alen);
    key.id = f.id;
    key.proto = pkt.ip_version == 4 ? f.proto : 0;  // RFC 8200 keys by addresses and id only
    key.context = context;
    std::uint64_t w[4];
    std::memcpy(w, key.src, 16);
    std::memcpy(w + 2, key.dst, 16);
    const std::uint64_t hash =
        mix(seed_ ^ mix(w[0] ^ mix(w[1] ^ mix(w[2] ^ mix(w[3]))) ^
                        (std::uint64_t{key.id} << 24 | std::uint64_t{key.proto} << 16 |
                         std::uint64_t{key.context} << 8 | key.version)));
    std::uint32_t idx = find(key, hash);

    // The unfragmentable part and the payload fit 65535 bytes (IPv6: a payload of 65535).
    const std::uint32_t unfrag = static_cast<std::uint32_t>(f.header.size());
    const std::uint32_t room =
        pkt.ip_version == 4 ? kMaxPayload - unfrag : kMaxPayload - (unfrag - Ipv6View::kHeaderLen);
    if (end > room) {
        ++counters_.too_big;
        if (idx != kNone) release(idx);
        return {};
    }
    if (begin == 0 && pkt.ip_version == 6 && !holds_header_chain(f.proto, f.data)) {
        ++counters_.incomplete_first;
        return {};
    }
    if (begin == 0 && unfrag > kMaxHeader) {
        ++counters_.incomplete_first;
        return {};
    }
    if (idx == kNone) idx = create(key, hash, now);
    Datagram& d = slots_[idx];

    // The last fragment fixes the end; a fragment that disagrees with it is a conflict.
    if (!f.more) {
        const std::uint32_t held_end = d.nranges ? d.ranges[d.nranges - 1].end : 0;
        if ((d.have_last && end != d.total) || (!d.have_last && held_end > end)) {
            ++counters_.conflicting;
            return {};
        }
    } else if (d.have_last && end > d.total) {
        ++counters_.conflicting;
        return {};
    }
    if (++d.nfragments > kMaxFragments) {
        ++counters_.too_many;
        release(idx);
        return {};
    }
    if (!f.more) {
        d.have_last = true;
        d.total = end;
    }
    if (begin == 0 && !d.have_first) {
        d.have_first = true;
        std::memcpy(d.header, f.header.data(), unfrag);
        d.header_len = static_cast<std::uint16_t>(unfrag);
        d.next_header_at = f.next_header_at;
        d.next_header = f.proto;
    }

    // New bytes fill the holes; bytes already held are kept and compared.
    bool overlap = false, differ = false, added = false;
    std::uint32_t pos = begin;
    const std::uint8_t* data = f.data.data();
    for (std::uint16_t i = 0; i < d.nranges && pos < end; ++i) {
        const Range r = d.ranges[i];
        if (r.end <= pos) continue;
        if (r.begin >= end) break;
        if (pos < r.begin) {
            if (!write(d, idx, pos, data + (pos - begin), r.begin - pos)) {
                ++counters_.evicted;
                release(idx);
                return {};
            }
            added = true;
        }
        const std::uint32_t ob = std::max(pos, r.begin), oe = std::min(end, r.end);
        overlap = true;
        if (!same(d, ob, data + (ob - begin), oe - ob)) differ = true;
        pos = oe;
    }
    if (pos < end) {
        if (!write(d, idx, pos, data + (pos - begin), end - pos)) {
            ++counters_.evicted;
            release(idx);
            return {};
        }
        added = true;
    }
    if (differ) {
        ++counters_.conflicting;
    } else if (overlap) {
        ++(added ? counters_.overlapping : counters_.duplicates);
    }
    // Held ranges: [begin, end) merged in.
    Range merged[kMaxFragments + 1];
    std::uint16_t m = 0;
    Range nr{begin, end};
    bool placed = false;
    for (std::uint16_t i = 0; i < d.nranges; ++i) {
        const Range r = d.ranges[i];
        if (r.end < nr.begin) {
            merged[m++] = r;
        } else if (r.begin > nr.end) {
            if (!placed) merged[m++] = nr;
            placed = true;
            merged[m++] = r;
        } else {
            nr.begin = std::min(nr.begin, r.begin);
            nr.end = std::max(nr.end, r.end);
        }
    }
    if (!placed) merged[m++] = nr;
    std::copy(merged, merged + m, d.ranges);
    d.nranges = m;

    if (d.have_first && d.have_last && d.nranges == 1 && d.ranges[0].begin == 0 &&
        d.ranges[0].end == d.total) {
        return assemble(idx);
    }
    return {};
}

Bytes IpReassembler::assemble(std::uint32_t idx) {
    Datagram& d = slots_[idx];
    const std::uint32_t hl = d.header_len;
    if (d.version == 4 ? hl + d.total > kMaxPayload
                       : hl - Ipv6View::kHeaderLen + d.total > kMaxPayload) {
        ++counters_.too_big;
        release(idx);
        return {};
    }
    std::uint8_t* o = out_.data();
    std::memcpy(o, d.header, hl);
    for (std::uint32_t at = 0; at < d.total; at += kChunk) {
        const std::uint32_t k = std::min(kChunk, d.total - at);
        std::memcpy(o + hl + at, arena_.data() + std::uint64_t{d.chunks[at / kChunk]} * kChunk, k);
    }
    if (d.version == 4) {
        // Unfragmented now: the length is the whole, MF and the offset are clear (DF kept).
        store_be16(o + field::ipv4::kTotalLen, static_cast<std::uint16_t>(hl + d.total));
        o[field::ipv4::kFragment] &= field::ipv4::kFlagReserved | field::ipv4::kFlagDf;
        o[field::ipv4::kFragment + 1] = 0;
        store_be16(o + field::ipv4::kChecksum, 0);
        store_be16(o + field::ipv4::kChecksum,
                   static_cast<std::uint16_t>(~checksum_fold(checksum_add(Bytes{o, hl}))));
    } else {
        // The fragment header is gone: what named it names what followed it.
        o[d.next_header_at] = d.next_header;
        store_be16(o + field::ipv6::kPayloadLen,
                   static_cast<std::uint16_t>(hl - Ipv6View::kHeaderLen + d.total));
    }
    const std::uint32_t len = hl + d.total;
    ++counters_.reassembled;
    release(idx);
    return Bytes{o, len};
}

void IpReassembler::expire(std::uint64_t now_ns) {
    while (oldest_ != kNone && now_ns >= slots_[oldest_].created_ns &&
           now_ns - slots_[oldest_].created_ns >= opts_.timeout_ns) {
        ++counters_.timed_out;
        release(oldest_);
    }
}

}  // namespace wl
