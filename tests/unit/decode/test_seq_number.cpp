// SeqNumber: wrap-aware order and distance of TCP sequence numbers.
#include <catch2/catch.hpp>

#include "decode/seq_number.hpp"

using wl::SeqNumber;

// Checked at compile time too: the type is usable in constant expressions.
static_assert(SeqNumber(0xfffffff0u) + 0x20 == SeqNumber(0x10));
static_assert(SeqNumber(0x10) - SeqNumber(0xfffffff0u) == 0x20);
static_assert(SeqNumber(0xfffffff0u) < SeqNumber(0x10));

TEST_CASE("SeqNumber: addition and subtraction wrap past 2^32", "[seq]") {
    CHECK(SeqNumber(0xffffffffu) + 1 == SeqNumber(0));
    CHECK(SeqNumber(0) - 1 == SeqNumber(0xffffffffu));
    SeqNumber s(0xfffffffeu);
    s += 5;
    CHECK(s.value == 3);
}

TEST_CASE("SeqNumber: difference is signed, the shorter way round", "[seq]") {
    CHECK(SeqNumber(1000) - SeqNumber(900) == 100);
    CHECK(SeqNumber(900) - SeqNumber(1000) == -100);
    CHECK(SeqNumber(5) - SeqNumber(0xfffffffbu) == 10);   // across the wrap
    CHECK(SeqNumber(0xfffffffbu) - SeqNumber(5) == -10);  // back across it
    // Half the space away is as far as "after" goes.
    CHECK(SeqNumber(0x7fffffffu) - SeqNumber(0) == 0x7fffffff);
    CHECK(SeqNumber(0x80000000u) - SeqNumber(0) < 0);
}

TEST_CASE("SeqNumber: order follows the difference, not the raw value", "[seq]") {
    const SeqNumber before(0xffffff00u), after(0x100);
    CHECK(before < after);
    CHECK(after > before);
    CHECK(before <= after);
    CHECK(after >= before);
    CHECK_FALSE(after < before);
    CHECK(before <= before);
    CHECK(before >= before);
    CHECK(before != after);
    CHECK(SeqNumber(7) == SeqNumber(7));
}
