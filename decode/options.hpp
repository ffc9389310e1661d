// The option list of IPv4 (RFC 791, 3.1) and TCP (RFC 9293, 3.1) headers, one
// layout for both: End of list (0) and No-operation (1) are a single byte,
// every other option is kind, length (of the whole option) and data. One
// iterator walks it for every caller: parse(), the packet report, the tests.
#pragma once

#include "decode/bytes.hpp"

namespace wl {

namespace optkind {
inline constexpr std::uint8_t kEnd = 0;
inline constexpr std::uint8_t kNop = 1;
}  // namespace optkind

struct HeaderOption {
    std::uint8_t kind;
    std::uint8_t len;          // whole option, kind and length bytes included (1 for End/NOP)
    const std::uint8_t* data;  // len - 2 bytes of option data
    std::uint8_t data_len() const { return len >= 2 ? static_cast<std::uint8_t>(len - 2) : 0; }
};

// Yields each option up to and including End, and stops early at an option
// that does not fit the list (a kind without its length byte, a length below
// 2 or past the end): malformed() tells that stop from the list's end.
class OptionIterator {
  public:
    explicit OptionIterator(Bytes options) : opts_(options) {}

    bool next(HeaderOption& out) {
        const std::size_t n = opts_.size();
        if (at_ >= n) return false;
        const std::uint8_t* p = opts_.data() + at_;
        if (p[0] == optkind::kEnd || p[0] == optkind::kNop) {
            out = HeaderOption{p[0], 1, p};
            at_ = p[0] == optkind::kEnd ? n : at_ + 1;
            return true;
        }
        if (at_ + 1 >= n || p[1] < 2 || at_ + p[1] > n) {
            at_ = n;
            malformed_ = true;
            return false;
        }
        out = HeaderOption{p[0], p[1], p + 2};
        at_ += p[1];
        return true;
    }
    bool malformed() const { return malformed_; }

  private:
    Bytes opts_;
    std::size_t at_ = 0;
    bool malformed_ = false;
};

}  // namespace wl
