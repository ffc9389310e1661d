// One side of a connection as a packet sees it: the connection and the
// direction the packet travels, with what happens to that side (Zeek's
// TCP_Endpoint: its state, history letters, DidRxmit, ZeroWindow, a gap).
// A handle of two words, made per packet; `dir` is 0 for the originator.
#pragma once

#include <cstdint>
#include <utility>

#include "decode/seq_number.hpp"
#include "flow/connection.hpp"

namespace wl {

// History letters recorded at most once per side (Zeek's HIST_*): one bit each
// in Connection::hist_seen, the responder's 16 bits above the originator's.
enum HistBit : std::uint32_t {
    kHistSyn = 1u << 0,
    kHistFin = 1u << 1,
    kHistRst = 1u << 2,
    kHistFinRst = 1u << 3,
    kHistData = 1u << 4,
    kHistAck = 1u << 5,
    kHistMulti = 1u << 6,
};

// Position of `seq` relative to `start`, unwrapped around `ref_rel` (a
// position already known): sequence numbers wrap past 2^32, positions do not.
inline std::int64_t unwrap(std::uint64_t ref_rel, SeqNumber start, SeqNumber seq) {
    const SeqNumber ref = start + static_cast<std::uint32_t>(ref_rel);
    return static_cast<std::int64_t>(ref_rel) + (seq - ref);
}

inline void set_state(TcpSide& s, TcpState st) {
    if (st == s.state) return;
    s.prev_state = s.state;
    s.state = st;
}

class TcpEndpoint {
  public:
    TcpEndpoint(Connection& c, int dir) : c_(&c), dir_(dir) {}

    Connection& conn() const { return *c_; }
    int dir() const { return dir_; }
    bool is_orig() const { return dir_ == 0; }
    TcpSide& tcp() const { return c_->side[dir_].tcp; }
    TcpSide& peer_tcp() const { return c_->side[1 - dir_].tcp; }
    TcpEndpoint peer() const { return TcpEndpoint(*c_, 1 - dir_); }
    TcpState state() const { return tcp().state; }
    void set_state(TcpState st) const { wl::set_state(tcp(), st); }

    // This side's history letter: upper case for the originator.
    char letter(char upper) const {
        return dir_ == 0 ? upper : static_cast<char>(upper - 'A' + 'a');
    }
    void add_history(char upper) const { c_->add_history(letter(upper)); }
    // Adds the letter the first time this side shows `bit`; true if it had before.
    bool check_history(HistBit bit, char upper) const {
        return c_->check_history(dir_ == 0 ? bit : bit << 16, letter(upper));
    }

    // Zeek's scaled letters c, g, t and w: counted, and recorded on the 1st,
    // 10th, 100th, ... occurrence.
    void checksum_error() const { scaled(tcp().checksum_errors, 'C'); }
    void content_gap() const { scaled(tcp().gaps, 'G'); }
    void did_rxmit() const { scaled(tcp().data_not_advancing, 'T'); }
    void zero_window() const { scaled(tcp().zero_windows, 'W'); }

    // Zeek's FlipRoles: the side taken for the originator was the responder
    // (a SYN-ACK seen before its SYN). The two sides and their addresses swap;
    // this handle follows its side, whose direction is now the other.
    void flip_roles() {
        std::swap(c_->side[0], c_->side[1]);
        std::swap(c_->orig, c_->resp);
        c_->flipped = !c_->flipped;
        c_->add_history('^');
        dir_ = 1 - dir_;
    }

  private:
    void scaled(std::uint32_t& counter, char upper) const {
        if (counter != 0xffffffffu) ++counter;
        std::uint32_t n = counter;
        while (n % 10 == 0)
            n /= 10;
        if (n == 1) add_history(upper);
    }

    Connection* c_;
    int dir_;
};

}  // namespace wl
