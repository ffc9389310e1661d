// The SYN-flood detector's top-sources table (synflood_detail::TopSources)
// against the plain space-saving it replaced: counters in an array, a source
// looked for in all of them, a new one taking the first counter with the
// smallest count, and std::partial_sort ordering the array in place when the
// top is read. Same streams, same counters in the same order, at every read.
#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "analyzers/syn_flood.hpp"

namespace {

using wl::synflood_detail::TopSources;

struct Model {
    struct Counter {
        std::uint64_t count;
        std::uint8_t ver;
        std::uint8_t addr[16];
    };
    std::vector<Counter> c;
    std::uint32_t slots;

    explicit Model(std::uint32_t n) : slots(n) {}

    void add(int ver, const std::uint8_t* addr) {
        Counter k{0, static_cast<std::uint8_t>(ver), {}};
        std::memcpy(k.addr, addr, ver == 6 ? 16 : 4);
        Counter* min = nullptr;
        for (Counter& x : c) {
            if (x.ver == k.ver && std::memcmp(x.addr, k.addr, 16) == 0) {
                ++x.count;
                return;
            }
            if (min == nullptr || x.count < min->count) min = &x;
        }
        if (c.size() < slots) {
            k.count = 1;
            c.push_back(k);
        } else {
            k.count = min->count + 1;
            *min = k;
        }
    }

    std::uint32_t top(std::uint32_t k, wl::SynFloodAlert::Source* out) {
        const auto n = static_cast<std::uint32_t>(std::min<std::size_t>(c.size(), k));
        std::partial_sort(c.begin(), c.begin() + n, c.end(),
                          [](const Counter& x, const Counter& y) { return x.count > y.count; });
        for (std::uint32_t i = 0; i < n; ++i) {
            out[i].ip_version = c[i].ver;
            std::memcpy(out[i].addr, c[i].addr, 16);
            out[i].syns = c[i].count;
        }
        return n;
    }
};

struct Source {
    int ver;
    std::array<std::uint8_t, 16> addr;
    std::uint8_t tag;
};

// A universe of sources: IPv4 ones, and IPv6 ones of which some have the same
// first bytes as an IPv4 one (and zeros after), so the version must tell them
// apart. Tags take few values, so most lookups meet tags of other sources.
std::vector<Source> universe(std::mt19937_64& rng, std::size_t n, int tag_values) {
    std::vector<Source> u;
    for (std::size_t i = 0; i < n; ++i) {
        Source s{};
        const std::uint64_t r = rng();
        if (i % 5 == 4 && !u.empty() && u.back().ver == 4) {
            s = u.back();
            s.ver = 6;
        } else if (r % 4 == 0) {
            s.ver = 6;
            for (auto& b : s.addr)
                b = static_cast<std::uint8_t>(rng());
        } else {
            s.ver = 4;
            std::memcpy(s.addr.data(), &r, 4);
        }
        s.tag = static_cast<std::uint8_t>(rng() % static_cast<std::uint64_t>(tag_values));
        u.push_back(s);
    }
    return u;
}

void same_top(TopSources& t, std::vector<std::uint64_t>& block, Model& m, std::uint32_t k) {
    wl::SynFloodAlert::Source got[TopSources::kMaxSlots] = {}, want[TopSources::kMaxSlots] = {};
    const std::uint32_t n = t.top(block.data(), m.slots, k, got);
    REQUIRE(n == m.top(k, want));
    for (std::uint32_t i = 0; i < n; ++i) {
        INFO("counter " << i << " of " << n);
        REQUIRE(got[i].ip_version == want[i].ip_version);
        REQUIRE(std::memcmp(got[i].addr, want[i].addr, 16) == 0);
        REQUIRE(got[i].syns == want[i].syns);
    }
}

}  // namespace

TEST_CASE("top sources count as the linear space-saving did, ties and order included",
          "[synflood]") {
    std::mt19937_64 rng(20261128);
    for (int round = 0; round < 400; ++round) {
        const auto slots = static_cast<std::uint32_t>(2 + rng() % (TopSources::kMaxSlots - 1));
        // From fewer sources than counters (no evictions) to many more (ties
        // among the smallest counts everywhere).
        const std::size_t sources = 1 + rng() % (round % 4 == 0 ? slots : 8 * slots);
        const int tag_values = round % 3 == 0 ? 1 : (round % 3 == 1 ? 3 : 256);
        const std::vector<Source> u = universe(rng, sources, tag_values);
        const bool skewed = round % 2 == 0;
        std::geometric_distribution<std::size_t> geo(0.2);

        std::vector<std::uint64_t> block(TopSources::words_for(slots), 0xa5a5a5a5a5a5a5a5ull);
        TopSources t;
        t.clear();
        Model m(slots);
        const int adds = 1 + static_cast<int>(rng() % 3000);
        INFO("round " << round << ", " << slots << " counters, " << sources << " sources");
        for (int i = 0; i < adds; ++i) {
            const std::size_t j = skewed ? std::min(geo(rng), sources - 1) : rng() % sources;
            const Source& s = u[j];
            t.add(block.data(), slots, s.ver, s.addr.data(), s.tag);
            m.add(s.ver, s.addr.data());
            REQUIRE(t.used() == m.c.size());
            // Reading the top reorders the counters, as summarize does at an
            // alert's start and end; now and then all of them.
            if (rng() % 200 == 0) {
                same_top(t, block, m, rng() % 4 == 0 ? slots : 1 + rng() % 10);
            }
        }
        same_top(t, block, m, slots);
    }
}

TEST_CASE("the top sources' counts add up and bound the true counts", "[synflood]") {
    // Space-saving's guarantees, on a stream whose truth is known: the counts
    // sum to the SYNs, and a counter overestimates its source by at most the
    // smallest count.
    std::mt19937_64 rng(7);
    constexpr std::uint32_t slots = 20;
    std::vector<std::uint64_t> block(TopSources::words_for(slots));
    TopSources t;
    t.clear();
    std::vector<std::uint64_t> truth(500);
    const std::vector<Source> u = universe(rng, truth.size(), 256);
    std::geometric_distribution<std::size_t> geo(0.05);
    constexpr int n = 100000;
    for (int i = 0; i < n; ++i) {
        const std::size_t j = std::min(geo(rng), truth.size() - 1);
        ++truth[j];
        t.add(block.data(), slots, u[j].ver, u[j].addr.data(), u[j].tag);
    }
    wl::SynFloodAlert::Source top[slots];
    REQUIRE(t.top(block.data(), slots, slots, top) == slots);
    std::uint64_t sum = 0;
    for (const auto& s : top)
        sum += s.syns;
    CHECK(sum == n);
    const std::uint64_t min = top[slots - 1].syns;
    for (const auto& s : top) {
        const auto it = std::find_if(u.begin(), u.end(), [&](const Source& x) {
            return x.ver == s.ip_version && std::memcmp(x.addr.data(), s.addr, 16) == 0;
        });
        REQUIRE(it != u.end());
        const std::uint64_t real = truth[static_cast<std::size_t>(it - u.begin())];
        CHECK(s.syns >= real);
        CHECK(s.syns <= real + min);
    }
    // The heaviest source is first.
    CHECK(std::memcmp(top[0].addr, u[0].addr.data(), 16) == 0);
}
