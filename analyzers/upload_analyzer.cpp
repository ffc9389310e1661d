#include "analyzers/upload_analyzer.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace wl {

StreamEnd stream_end_of(ConnEnd why, bool reset) {
    if (reset) return StreamEnd::Reset;
    switch (why) {
        case ConnEnd::Closed:
            return StreamEnd::Fin;
        case ConnEnd::Timeout:
            return StreamEnd::Timeout;
        case ConnEnd::Evicted:
            return StreamEnd::Evicted;
        case ConnEnd::Reused:
            return StreamEnd::Fin;
        case ConnEnd::EndOfInput:
            return StreamEnd::EndOfInput;
    }
    return StreamEnd::EndOfInput;
}

namespace {

Md5Lanes lanes_at_most(unsigned n) {
    return n >= 16 ? Md5Lanes::Avx512 : n >= 8 ? Md5Lanes::Avx2 : Md5Lanes::None;
}

}  // namespace

std::uint64_t UploadAnalyzer::memory_bound(const UploadOptions& opts, std::uint32_t max_flows,
                                           std::uint32_t max_decoders) {
    const std::uint64_t per_decoder = sizeof(FramedStreamDecoder) + 2 * sizeof(Carving) +
                                      FramedStreamDecoder::kHeaderCopies * opts.max_header;
    // nlohmann's DOM of one header: a generous 32 bytes of nodes per byte of text.
    const std::uint64_t parse = 32ull * opts.max_header;
    return 2ull * max_flows * sizeof(std::uint32_t) + max_flows * sizeof(StickySummary) +
           max_decoders * (per_decoder + 2 * sizeof(std::uint32_t) + sizeof(void*)) + parse +
           Md5Batch::memory_bound(md5_slots(max_decoders));
}

// One slot per decoder, up to 256 (1 MiB of staging): more concurrent uploads than that
// are hashed by OpenSSL directly.
std::uint32_t UploadAnalyzer::md5_slots(std::uint32_t max_decoders) {
    return std::min<std::uint32_t>(max_decoders, 256);
}

UploadAnalyzer::UploadAnalyzer(const UploadOptions& opts, std::vector<std::uint16_t> forced_ports,
                               std::uint32_t max_flows, std::uint32_t max_decoders,
                               const FlowTracker& flows, UploadRecordSink& out,
                               FileExtractor* extractor)
    : opts_(opts),
      forced_ports_(std::move(forced_ports)),
      flows_(flows),
      out_(out),
      extractor_(extractor),
      decoder_of_(2ull * max_flows, kNone),
      sticky_(max_flows),
      md5_(md5_slots(max_decoders), lanes_at_most(opts.md5_lanes)) {
    // A decoder is made the first time its slot is used, and reused after: none
    // is allocated per packet, and since the last one freed is the next one
    // used, only as many are ever made (and resident) as streams were examined
    // at once, not --max-uploads (5.6 KB each).
    carving_.resize(max_decoders);
    carving_prev_.resize(max_decoders);
    // calloc'd and constructed in place: nothing is allocated when one is made,
    // and pages of decoders never made are never touched.
    decoder_mem_.reset(static_cast<FramedStreamDecoder*>(
        std::calloc(std::max(max_decoders, 1u), sizeof(FramedStreamDecoder))));
    if (!decoder_mem_) throw std::bad_alloc();
    static_assert(alignof(FramedStreamDecoder) <= alignof(std::max_align_t));
    decoder_made_.assign(max_decoders, 0);
    free_decoders_.reserve(max_decoders);
    for (std::uint32_t i = 0; i < max_decoders; ++i)
        free_decoders_.push_back(max_decoders - 1 - i);
}

UploadAnalyzer::~UploadAnalyzer() {
    for (std::size_t d = 0; d < decoder_made_.size(); ++d) {
        if (decoder_made_[d] != 0) decoder_mem_[d].~FramedStreamDecoder();
    }
}

bool UploadAnalyzer::forced(const Connection& c) const {
    return std::find(forced_ports_.begin(), forced_ports_.end(), c.resp.port) !=
               forced_ports_.end() ||
           std::find(forced_ports_.begin(), forced_ports_.end(), c.orig.port) !=
               forced_ports_.end();
}

void UploadAnalyzer::release(std::uint32_t conn, int dir) {
    std::uint32_t& d = slot(conn, dir);
    if (d != kNone && d != kRejected) {
        drop_carvings(d);
        decoder_mem_[d].idle();
        free_decoders_.push_back(d);
    }
    d = kRejected;
}

void UploadAnalyzer::stream_start(std::uint32_t conn) {
    slot(conn, 0) = kNone;
    slot(conn, 1) = kNone;
    sticky_[conn] = StickySummary{};
}

void UploadAnalyzer::stream_swap(std::uint32_t conn) {
    std::swap(slot(conn, 0), slot(conn, 1));
    // The per-direction bit follows its stream too.
    std::uint8_t& j = sticky_[conn].json_framed;
    j = static_cast<std::uint8_t>(((j & 1u) << 1) | ((j >> 1) & 1u));
}

void UploadAnalyzer::stream_data(std::uint32_t conn, int dir, std::uint64_t offset,
                                 const std::uint8_t* p, std::size_t n, std::uint32_t segment,
                                 std::uint64_t ts_ns, bool from_start) {
    std::uint32_t& d = slot(conn, dir);
    if (d == kRejected) return;
    if (d == kNone) {
        const Connection& c = flows_.connection(conn);
        const bool force = forced(c);
        // Only a stream seen from its first byte can be recognised by its first bytes.
        if ((!from_start || offset != 0) && !force) {
            d = kRejected;
            return;
        }
        if (free_decoders_.empty()) {
            ++counters_.decoders_busy;
            d = kRejected;
            return;
        }
        d = free_decoders_.back();
        free_decoders_.pop_back();
        if (decoder_made_[d] == 0) {
            new (&decoder_mem_[d]) FramedStreamDecoder();
            decoder_made_[d] = 1;
        }
        UploadOptions o = opts_;
        o.forced = force;
        // Header-less frames (length + raw bytes) are everywhere in binary protocols; they
        // count as uploads only as the answer to JSON-framed requests, or on --upload-port.
        o.allow_headerless = (sticky_[conn].json_framed & (1u << (1 - dir))) != 0;
        decoder_mem_[d].reset(o, &md5_);
        ++counters_.streams_examined;
    }
    cur_conn_ = conn;
    cur_dir_ = dir;
    FramedStreamDecoder& dec = decoder_mem_[d];
    dec.data(p, n, offset, segment, ts_ns, *this);
    if (dec.rejected()) release(conn, dir);
}

void UploadAnalyzer::stream_gap(std::uint32_t conn, int dir, std::uint64_t offset,
                                std::uint64_t len, GapCause) {
    const std::uint32_t d = slot(conn, dir);
    if (d == kNone || d == kRejected) {
        if (d == kNone) slot(conn, dir) = kRejected;  // a stream that starts with a hole
        return;
    }
    cur_conn_ = conn;
    cur_dir_ = dir;
    decoder_mem_[d].gap(offset, len, *this);
    if (decoder_mem_[d].rejected()) release(conn, dir);
}

void UploadAnalyzer::stream_inconsistent(std::uint32_t conn, int dir, std::uint64_t offset,
                                         std::uint64_t len) {
    out_.inconsistent(flows_.connection(conn), dir, offset, len);
}

void UploadAnalyzer::stream_end(std::uint32_t conn, int dir, ConnEnd why, bool reset) {
    const std::uint32_t d = slot(conn, dir);
    if (d != kNone && d != kRejected) {
        cur_conn_ = conn;
        cur_dir_ = dir;
        StreamEnd end = stream_end_of(why, reset);
        // Open at the end of the capture, but this direction had sent its FIN:
        // the FIN, not the capture, is what cut a frame short.
        if (end == StreamEnd::EndOfInput && flows_.connection(conn).side[dir].tcp.fin_cnt != 0)
            end = StreamEnd::Fin;
        decoder_mem_[d].end(end, *this);
    }
    release(conn, dir);
    slot(conn, dir) = kNone;
}

void UploadAnalyzer::stream_framed(ByteOrder, bool has_header) {
    ++counters_.streams_framed;
    if (has_header) sticky_[cur_conn_].json_framed |= static_cast<std::uint8_t>(1u << cur_dir_);
}

void UploadAnalyzer::frame_mark(FrameMark kind, std::uint32_t frame, std::uint64_t offset,
                                std::uint64_t len) {
    if (observer_ != nullptr) observer_->frame_mark(cur_conn_, cur_dir_, kind, frame, offset, len);
}

UploadAnalyzer::Carving* UploadAnalyzer::carving_for(const UploadFrame& f) {
    const std::uint32_t d = slot(cur_conn_, cur_dir_);
    if (d == kNone || d == kRejected) return nullptr;
    if (carving_prev_[d].active && carving_prev_[d].index == f.index) return &carving_prev_[d];
    if (carving_[d].active && carving_[d].index == f.index) return &carving_[d];
    return nullptr;
}

void UploadAnalyzer::drop_carvings(std::uint32_t decoder) {
    for (Carving* c : {&carving_prev_[decoder], &carving_[decoder]}) {
        if (c->active && c->file >= 0 && extractor_ != nullptr) {
            extractor_->finish(c->file, false, c->refusal);
        }
        *c = Carving{};
    }
}

void UploadAnalyzer::body_begin(const UploadFrame& f) {
    const std::uint32_t d = slot(cur_conn_, cur_dir_);
    if (d == kNone || d == kRejected) return;
    Carving& cur = carving_[d];
    if (cur.active) {  // the previous frame's body, not reported yet
        if (carving_prev_[d].active && carving_prev_[d].file >= 0) {
            extractor_->finish(carving_prev_[d].file, false, carving_prev_[d].refusal);
        }
        carving_prev_[d] = std::move(cur);
    }
    cur = Carving{};
    cur.active = true;
    cur.index = f.index;
    if (extractor_ != nullptr && f.has_size) {
        cur.file = extractor_->begin(f.file_name, f.declared_size, cur.refusal);
    }
}

void UploadAnalyzer::body_data(const std::uint8_t* p, std::size_t n) {
    const std::uint32_t d = slot(cur_conn_, cur_dir_);
    if (d == kNone || d == kRejected || carving_[d].file < 0) return;
    // A failed write is recorded by the extractor; finish() reports it.
    extractor_->write(carving_[d].file, p, n);
}

void UploadAnalyzer::body_gap(std::uint64_t n) {
    // Bytes never seen: a hole (zeros when read) keeps what follows at its place in a
    // .partial file. Written out as zeros, a gap the network declares costs that much
    // disk and time: up to --extract-max per upload.
    const std::uint32_t d = slot(cur_conn_, cur_dir_);
    if (d == kNone || d == kRejected || carving_[d].file < 0) return;
    extractor_->skip(carving_[d].file, n);
}

void UploadAnalyzer::frame_done(const UploadFrame& f) {
    std::string kept;
    std::string_view refusal;
    Carving* carve = carving_for(f);
    if (carve != nullptr) {
        if (carve->file >= 0) kept = extractor_->finish(carve->file, f.complete, carve->refusal);
        carve->file = -1;
        carve->active = false;
        refusal = carve->refusal;
    }
    StickySummary& s = sticky_[cur_conn_];
    ++s.frames;
    if (f.coalesced) ++s.coalesced;
    if (f.split) ++s.split;
    if (f.complete) ++s.complete;
    ++counters_.frames;
    if (f.complete) ++counters_.complete;
    if (f.digest_ok == 0) ++counters_.digest_mismatch;
    if (!kept.empty()) ++counters_.extracted;
    if (extractor_ != nullptr && f.has_size && kept.empty()) ++counters_.extract_refused;
    if (observer_ != nullptr) observer_->frame_done(cur_conn_, cur_dir_, f);
    out_.upload(UploadRecord{
        &flows_.connection(cur_conn_), cur_dir_, &f, kept,
        extractor_ != nullptr && f.has_size && kept.empty() ? refusal : std::string_view()});
}

}  // namespace wl
