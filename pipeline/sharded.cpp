#include "pipeline/sharded.hpp"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <type_traits>

#include "analyzers/upload_analyzer.hpp"
#include "capture/frame_ring.hpp"
#include "flow/flow_tracker.hpp"
#include "flow/tcp_reassembler.hpp"
#include "report/packet_report.hpp"
#include "report/summary_report.hpp"

namespace wl {

namespace {

// A datagram reassembled by the reading thread, queued as a frame: the top bit
// of its wire length (real frames' lengths are capped below it).
constexpr std::uint32_t kDatagram = 0x80000000u;
// And the next bit: the frame's bad TCP/UDP checksum is taken for checksum
// offload (decided here, where every frame passes in order).
constexpr std::uint32_t kOffloadKept = 0x40000000u;

// What a worker sends back, in the `len` field of a ring record; `ts_ns`
// holds the worker's number of the frame it was processing (kEnd: finish).
constexpr std::uint32_t kBytes = 0;      // output, as written
constexpr std::uint32_t kHandshake = 1;  // a completed handshake, for the flood detector
constexpr std::uint32_t kInner = 1;      // kInner + k (k >= 1): the packet inside k tunnels is next
constexpr std::uint64_t kEnd = ~std::uint64_t{0};
constexpr std::size_t kMaxItem = 32u << 10;

struct HandshakeItem {
    std::uint64_t ts_ns;
    std::uint8_t ip_version;
    std::uint8_t victim[16];
    std::uint16_t port;
    std::uint8_t client[16];
    std::uint8_t client_ttl;
};

// Waiting for the other side: a few yields, then short sleeps (the machine
// may have fewer cores than threads: spinning would take the other's time).
class Backoff {
  public:
    void wait() {
        if (n_ < 16) {
            ++n_;
            std::this_thread::yield();
        } else {
            std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
    }
    void reset() { n_ = 0; }

  private:
    int n_ = 0;
};

// splitmix64's finaliser: every input bit reaches every output bit.
std::uint64_t splitmix_finalize(std::uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

std::uint64_t endpoint_hash(const std::uint8_t* addr, int ip_version, std::uint16_t port) {
    std::uint64_t h = 0x9e3779b97f4a7c15ull + port;
    if (ip_version == 4) {
        std::uint32_t a;
        std::memcpy(&a, addr, 4);
        return splitmix_finalize(h ^ a);
    }
    std::uint64_t a, b;
    std::memcpy(&a, addr, 8);
    std::memcpy(&b, addr + 8, 8);
    return splitmix_finalize(splitmix_finalize(h ^ a) ^ b);
}

// Adds every field of b to a: the counter structs are all 64-bit counts. Peaks
// (max_open, buffered_peak) become the sum of the workers' peaks, an upper
// bound of the peak over all of them.
template <class T>
void add_counters(T& a, const T& b) {
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) % 8 == 0);
    std::uint64_t x[sizeof(T) / 8], y[sizeof(T) / 8];
    std::memcpy(x, &a, sizeof(T));
    std::memcpy(y, &b, sizeof(T));
    for (std::size_t i = 0; i < sizeof(T) / 8; ++i)
        x[i] += y[i];
    std::memcpy(&a, x, sizeof(T));
}

}  // namespace

struct ShardedPipeline::Worker final : ShardHooks {
    explicit Worker(unsigned i) : index(i), in(kInRingBytes), outq(kOutRingBytes) {}
    ~Worker() override {
        pipe.reset();
        out.reset();  // flushes into the file
        if (file != nullptr) std::fclose(file);
    }

    // Worker side.
    void push_item(std::uint32_t kind, const void* p, std::size_t n) {
        static const std::uint8_t none = 0;
        const RawFrame item{p != nullptr ? static_cast<const std::uint8_t*>(p) : &none,
                            static_cast<std::uint32_t>(n), kind, tag};
        Backoff b;
        while (!outq.push(item)) {
            if (discard.load(std::memory_order_relaxed)) return;
            b.wait();
        }
    }
    static ssize_t write_cookie(void* cookie, const char* buf, std::size_t n) {
        auto* w = static_cast<Worker*>(cookie);
        for (std::size_t at = 0; at < n; at += kMaxItem)
            w->push_item(kBytes, buf + at, std::min(kMaxItem, n - at));
        return static_cast<ssize_t>(n);
    }
    void handshake(std::uint64_t ts_ns, int ip_version, const std::uint8_t* victim,
                   std::uint16_t port, const std::uint8_t* client,
                   std::uint8_t client_ttl) override {
        out->flush();  // what was written before it goes before it
        HandshakeItem h{};
        h.ts_ns = ts_ns;
        h.ip_version = static_cast<std::uint8_t>(ip_version);
        std::memcpy(h.victim, victim, ip_version == 4 ? 4 : 16);
        h.port = port;
        std::memcpy(h.client, client, ip_version == 4 ? 4 : 16);
        h.client_ttl = client_ttl;
        push_item(kHandshake, &h, sizeof h);
    }
    void inner_packet(int depth) override {
        out->flush();
        push_item(kInner + static_cast<std::uint32_t>(depth), nullptr, 0);
    }
    void run() {
        RawFrame f{};
        Backoff b;
        for (;;) {
            if (in.peek(f)) {
                const bool kept = (f.len & kOffloadKept) != 0;
                f.len &= ~kOffloadKept;
                if (f.len & kDatagram) {
                    f.len &= ~kDatagram;
                    pipe->frame(f, false);
                } else {
                    pipe->frame(f, true, kept);
                }
                out->flush();
                in.pop();
                ++tag;
                done.store(tag, std::memory_order_release);
                b.reset();
                continue;
            }
            if (closing.load(std::memory_order_acquire)) {
                if (in.peek(f)) continue;
                break;
            }
            b.wait();
        }
        tag = kEnd;
        pipe->raise_clock(final_ns);  // every worker ends its connections at one time
        stages = pipe->end_flows();
        out->flush();
        finished.store(true, std::memory_order_release);
    }

    unsigned index;
    FrameRing in;    // frames, from the reader
    FrameRing outq;  // records and events, to the merger
    std::FILE* file = nullptr;
    std::unique_ptr<OutBuffer> out;
    std::unique_ptr<Pipeline> pipe;
    std::thread thread;
    std::uint64_t tag = 0;       // frames this worker has finished
    std::uint64_t final_ns = 0;  // the input's last frame time, set before `closing`
    StageCounters stages;
    // Merger side.
    std::uint64_t merged = 0;     // this worker's frames merged
    std::uint64_t done_seen = 0;  // the last value of `done` read
    // Shared.
    alignas(64) std::atomic<std::uint64_t> done{0};
    std::atomic<bool> finished{false};
    alignas(64) std::atomic<bool> closing{false};
    std::atomic<bool> discard{false};  // output is no longer read: drop it
};

std::uint64_t ShardedPipeline::memory_bound(unsigned workers) {
    return std::uint64_t{workers} * (kInRingBytes + kOutRingBytes + sizeof(OutBuffer)) +
           kPendingFrames * (sizeof(Pending) + sizeof(FloodEvent));
}

unsigned ShardedPipeline::shard_of(const Packet& p, unsigned workers, bool defrag) {
    if (workers <= 1 || p.ip_version == 0 || p.encap != Packet::Encap::None) return 0;
    std::uint16_t sport = 0, dport = 0;
    if (!(defrag ? p.ip_fragment : p.ip_later_fragment)) {
        if (p.has(Layer::Tcp)) {
            sport = p.tcp.src_port();
            dport = p.tcp.dst_port();
        } else if (p.has(Layer::Udp)) {
            sport = p.udp.src_port();
            dport = p.udp.dst_port();
        } else if ((p.has(Layer::Icmp) || p.has(Layer::Icmpv6)) && p.icmp_quote.has_transport &&
                   (p.icmp_quote.proto == ipproto::kTcp || p.icmp_quote.proto == ipproto::kUdp)) {
            // An ICMP error goes where the connection it quotes is followed,
            // so that it is counted against it (icmp_errors).
            const IcmpQuoteView& q = p.icmp_quote;
            const std::uint64_t h =
                splitmix_finalize(endpoint_hash(q.src(), q.version, q.src_port()) +
                                  endpoint_hash(q.dst(), q.version, q.dst_port()));
            return static_cast<unsigned>((h >> 32) * workers >> 32);
        }
    }
    // Fragments by their addresses alone, as ICMP: a fragment after the first has
    // no ports, and every fragment of a datagram is reassembled in the same shard.
    const std::uint64_t h = splitmix_finalize(endpoint_hash(p.ip_src(), p.ip_version, sport) +
                                              endpoint_hash(p.ip_dst(), p.ip_version, dport));
    return static_cast<unsigned>((h >> 32) * workers >> 32);
}

ShardedPipeline::ShardedPipeline(const PipelineOptions& opt, unsigned workers, OutBuffer& out,
                                 const OuiRegistry& oui)
    : opt_(opt), nworkers_(workers), out_(out), oui_(oui) {}

ShardedPipeline::~ShardedPipeline() {
    stop_workers();
}

void ShardedPipeline::stop_workers() {
    for (auto& w : workers_) {
        w->discard.store(true);
        w->closing.store(true, std::memory_order_release);
    }
    for (auto& w : workers_)
        if (w->thread.joinable()) w->thread.join();
}

bool ShardedPipeline::open(std::string& error) {
    if (nworkers_ < 2 || nworkers_ > kMaxWorkers) {
        error = "--threads: between 1 and " + std::to_string(kMaxWorkers);
        return false;
    }
    dopts_.verify_checksums = opt_.verify_checksums;
    if (opt_.verify_checksums) offload_ = std::make_unique<ChecksumOffload>();
    pending_.assign(kPendingFrames, Pending{});
    floods_.assign(kPendingFrames, FloodEvent{});
    for (unsigned i = 0; i < nworkers_; ++i) {
        auto w = std::make_unique<Worker>(i);
        if (!w->in.valid() || !w->outq.valid()) {
            error = "cannot allocate the rings between the --threads workers";
            return false;
        }
        cookie_io_functions_t io{};
        io.write = &Worker::write_cookie;
        w->file = fopencookie(w.get(), "w", io);
        if (w->file == nullptr) {
            error = "cannot set up a worker's output";
            return false;
        }
        std::setvbuf(w->file, nullptr, _IONBF, 0);
        w->out = std::make_unique<OutBuffer>(w->file);
        PipelineOptions o = opt_;
        o.no_flood = true;  // here, once, for all of them
        o.defrag_upstream = !opt_.no_flows && !opt_.no_defrag;
        o.offload_upstream = true;
        w->pipe = std::make_unique<Pipeline>(o, *w->out, oui_);
        w->pipe->set_shard_hooks(w.get());
        if (!w->pipe->open(error)) return false;
        workers_.push_back(std::move(w));
    }
    if (!opt_.no_flows && !opt_.no_defrag) {
        frags_ = std::make_unique<IpReassembler>(opt_.frag);
        datagram_.assign(kDatagramBytes, 0);
        whole_.linktype = linktype_;
    }
    if (!opt_.no_flood) {
        alerts_ = std::make_unique<AlertReporter>(out_, opt_.json);
        alerts_->set_stream(opt_.stream);
        alerts_->set_clock(&clock_ns_);
        flood_ = std::make_unique<SynFloodDetector>(opt_.flood, *alerts_);
    }
    return true;
}

void ShardedPipeline::set_linktype(int linktype) {
    linktype_ = linktype;
    pkt_.linktype = linktype;
    whole_.linktype = linktype;
    for (auto& w : workers_)
        w->pipe->set_linktype(linktype);
}

void ShardedPipeline::add_flood_event(const Packet& p, int depth) {
    if (!p.has(Layer::Tcp)) return;
    FloodEvent& e = floods_[flood_head_++ & (kPendingFrames - 1)];
    e.ts_ns = p.ts_ns;
    e.ip_version = p.ip_version;
    e.depth = static_cast<std::uint8_t>(depth);
    e.flags = p.tcp.flags();
    e.sport = p.tcp.src_port();
    e.dport = p.tcp.dst_port();
    e.ttl = p.ip_ttl();
    const std::size_t alen = p.ip_version == 6 ? 16 : 4;
    if (p.ip_version == 4 || p.ip_version == 6) {
        std::memcpy(e.src, p.ip_src(), alen);
        std::memcpy(e.dst, p.ip_dst(), alen);
    }
}

void ShardedPipeline::feed_flood(std::uint64_t end, int depth) {
    while (flood_tail_ < end) {
        const FloodEvent& e = floods_[flood_tail_ & (kPendingFrames - 1)];
        if (e.depth > depth) return;
        if (e.ts_ns > clock_ns_) clock_ns_ = e.ts_ns;
        flood_->packet(e.ts_ns, e.ip_version, e.src, e.sport, e.dst, e.dport, e.flags, e.ttl);
        ++flood_tail_;
    }
}

void ShardedPipeline::frame(const RawFrame& f) {
    if (!started_) {
        started_ = true;
        for (auto& w : workers_)
            w->thread = std::thread([p = w.get()] { p->run(); });
    }
    pkt_.ts_ns = f.ts_ns;
    pkt_.caplen = f.caplen;
    pkt_.wire_len = f.len;
    decode(Bytes{f.data, f.caplen}, pkt_, dopts_);
    counters_.count(pkt_);
    const bool offload_kept = offload_ && offload_->check(pkt_, counters_);

    Backoff b;
    // Room for the frame (and a datagram it completes) and its flood events.
    while (read_ - merged_ + 1 >= kPendingFrames ||
           flood_head_ - flood_tail_ + 5 > kPendingFrames) {
        if (merge()) {
            b.reset();
        } else {
            b.wait();
        }
    }
    const unsigned wi = shard_of(pkt_, nworkers_, frags_ != nullptr);
    const std::uint64_t floods_before = flood_head_;
    if (flood_) add_flood_event(pkt_, 0);
    if (!opt_.no_flows) {
        walk_tunnels(pkt_, inner_, dopts_, teredo_, counters_, [this](const Packet& in, int depth) {
            if (flood_) add_flood_event(in, depth);
        });
    }
    // A record never exceeds half the ring; libpcap hands over 256 KiB at most.
    RawFrame g = f;
    g.caplen = std::min<std::uint32_t>(g.caplen, kInRingBytes / 2 - 64);
    // kDatagram marks reassembled datagrams, kOffloadKept the verdict above.
    g.len = std::min(g.len, kOffloadKept - 1) | (offload_kept ? kOffloadKept : 0);
    queue(g, wi, static_cast<std::uint8_t>(flood_head_ - floods_before));
    if (pkt_.ip_fragment && frags_) [[unlikely]] {
        defragment(f);
    }
    if (opt_.stream || (read_ & 255) == 0) merge();
}

void ShardedPipeline::queue(const RawFrame& g, unsigned wi, std::uint8_t floods) {
    Backoff b;
    while (read_ - merged_ >= kPendingFrames) {
        if (merge()) {
            b.reset();
        } else {
            b.wait();
        }
    }
    Pending& pe = pending_[read_ & (kPendingFrames - 1)];
    pe.worker = static_cast<std::uint8_t>(wi);
    pe.floods = floods;
    Worker& w = *workers_[wi];
    b.reset();
    while (!w.in.push(g)) {
        if (merge()) {
            b.reset();
        } else {
            b.wait();
        }
    }
    ++read_;
}

void ShardedPipeline::defragment(const RawFrame& f) {
    const Bytes d = frags_->add(pkt_, 0);
    if (d.empty()) return;
    // The link header (and tags) of the fragment that completed it, then the datagram.
    const std::uint8_t* ip = pkt_.ip_version == 4 ? pkt_.ip4.bytes.data() : pkt_.ip6.bytes.data();
    const std::size_t link = static_cast<std::size_t>(ip - f.data);
    if (link + d.size() > datagram_.size()) {
        ++frags_->counters().malformed;
        return;
    }
    std::memcpy(datagram_.data(), f.data, link);
    std::memcpy(datagram_.data() + link, d.data(), d.size());
    const auto n = static_cast<std::uint32_t>(link + d.size());
    whole_.ts_ns = f.ts_ns;
    whole_.caplen = whole_.wire_len = n;
    decode(Bytes{datagram_.data(), n}, whole_, dopts_);
    if (whole_.malformed()) ++frags_->counters().malformed;
    for_each_tunneled(
        whole_, inner_, dopts_, [](const Packet&) { return true; },
        [this](const Packet&, int, TunnelKind) { ++frags_->counters().tunneled; });
    const RawFrame g{datagram_.data(), n, n | kDatagram, f.ts_ns};
    queue(g, shard_of(whole_, nworkers_, true), 0);
}

void ShardedPipeline::handle(Worker& w, const RawFrame& item) {
    (void)w;
    if (item.len == kBytes) {
        out_.put(std::string_view(reinterpret_cast<const char*>(item.data), item.caplen));
    } else if (item.len == kHandshake) {
        HandshakeItem h;
        std::memcpy(&h, item.data, sizeof h);
        if (h.ts_ns > clock_ns_) clock_ns_ = h.ts_ns;
        if (flood_) {
            flood_->completed(h.ts_ns, h.ip_version, h.victim, h.port, h.client, h.client_ttl);
        }
    } else if (flood_ && item.ts_ns != kEnd) {
        feed_flood(frame_floods_end_, static_cast<int>(item.len - kInner));
    }
}

bool ShardedPipeline::merge() {
    bool progress = false;
    while (merged_ < read_) {
        const Pending& pe = pending_[merged_ & (kPendingFrames - 1)];
        Worker& w = *workers_[pe.worker];
        const std::uint64_t local = w.merged;
        if (!frame_open_) {
            // The frame's own packet goes to the flood detector before the flow stage sees it.
            frame_floods_end_ = flood_tail_ + pe.floods;
            if (flood_) feed_flood(frame_floods_end_, 0);
            frame_open_ = true;
        }
        bool complete = false;
        for (;;) {
            RawFrame item{};
            if (w.outq.peek(item)) {
                if (item.ts_ns == local) {  // this frame's: it can go out at once
                    handle(w, item);
                    w.outq.pop();
                    progress = true;
                    continue;
                }
                complete = true;  // a later frame's: this one is done
                break;
            }
            if (w.done_seen > local) {
                complete = true;
                break;
            }
            w.done_seen = w.done.load(std::memory_order_acquire);
            if (w.done_seen <= local) break;  // still being processed
            // Done: what it wrote is in the ring now; look once more.
        }
        if (!complete) return progress;
        if (flood_) feed_flood(frame_floods_end_, 255);
        flood_tail_ = frame_floods_end_;
        frame_open_ = false;
        ++w.merged;
        ++merged_;
        progress = true;
    }
    return progress;
}

void ShardedPipeline::finish(const InputSummary& summary) {
    for (auto& w : workers_) {
        w->final_ns = counters_.last_ts_ns;
        w->closing.store(true, std::memory_order_release);
    }
    if (!started_) {
        started_ = true;
        for (auto& w : workers_)
            w->thread = std::thread([p = w.get()] { p->run(); });
    }
    Backoff b;
    while (merged_ < read_) {
        if (merge()) {
            b.reset();
        } else {
            b.wait();
        }
    }
    if (counters_.last_ts_ns > clock_ns_) clock_ns_ = counters_.last_ts_ns;
    if (flood_) flood_->finish(counters_.last_ts_ns);  // ends alerts still open
    if (!opt_.no_flows && opt_.packets && !opt_.json) out_.put('\n');
    // What the workers write at the end, worker by worker.
    for (auto& wp : workers_) {
        Worker& w = *wp;
        b.reset();
        for (;;) {
            RawFrame item{};
            if (w.outq.peek(item)) {
                handle(w, item);
                w.outq.pop();
                b.reset();
                continue;
            }
            if (w.finished.load(std::memory_order_acquire)) {
                if (w.outq.peek(item)) continue;
                break;
            }
            b.wait();
        }
        w.thread.join();
    }

    FlowCounters flows{};
    ReassemblyCounters reassembly{};
    UploadAnalyzerCounters uploads{};
    StageCounters stages;
    for (auto& w : workers_) {
        if (w->stages.flows != nullptr) add_counters(flows, *w->stages.flows);
        if (w->stages.reassembly != nullptr) add_counters(reassembly, *w->stages.reassembly);
        if (w->stages.uploads != nullptr) add_counters(uploads, *w->stages.uploads);
    }
    const Worker& w0 = *workers_.front();
    if (w0.stages.flows != nullptr) stages.flows = &flows;
    if (w0.stages.reassembly != nullptr) stages.reassembly = &reassembly;
    if (w0.stages.uploads != nullptr) stages.uploads = &uploads;
    if (frags_) stages.fragments = &frags_->counters();
    write_closing_report(out_, opt_.json, alerts_.get(), flood_.get(), counters_, summary, stages);
}

}  // namespace wl
