#include "decode/oui.hpp"

#include <algorithm>
#include <fstream>

namespace wl {

// Generated at build time by tools/oui_gen from Debian's ieee-data.
extern const OuiEntry kOui24[];
extern const std::size_t kOui24Count;
extern const OuiEntry kOui28[];
extern const std::size_t kOui28Count;
extern const OuiEntry kOui36[];
extern const std::size_t kOui36Count;
extern const char kOuiNames[];

const OuiRegistry& OuiRegistry::builtin() {
    static const OuiRegistry reg = [] {
        OuiRegistry r;
        r.t24_ = kOui24;
        r.n24_ = kOui24Count;
        r.t28_ = kOui28;
        r.n28_ = kOui28Count;
        r.t36_ = kOui36;
        r.n36_ = kOui36Count;
        r.pool_ = kOuiNames;
        return r;
    }();
    return reg;
}

bool OuiRegistry::load_csv(const std::string& path, std::string& error) {
    std::ifstream in(path);
    if (!in) {
        error = "cannot open OUI registry " + path;
        return false;
    }
    OuiTableBuilder b;
    parse_ieee_csv(in, [&](const OuiRecord& r) { b.add(r); });
    b.finish();
    if (b.t24.empty() && b.t28.empty() && b.t36.empty()) {
        error = path + " holds no IEEE registry rows (Registry,Assignment,Organization Name,...)";
        return false;
    }
    own24_ = std::move(b.t24);
    own28_ = std::move(b.t28);
    own36_ = std::move(b.t36);
    own_pool_ = std::move(b.pool);
    t24_ = own24_.data();
    n24_ = own24_.size();
    t28_ = own28_.data();
    n28_ = own28_.size();
    t36_ = own36_.data();
    n36_ = own36_.size();
    pool_ = own_pool_.data();
    return true;
}

std::string_view OuiRegistry::find(const Entry* table, std::size_t n, std::uint64_t key,
                                   const char* pool) {
    const Entry* end = table + n;
    const Entry* it = std::lower_bound(table, end, key,
                                       [](const Entry& e, std::uint64_t k) { return e.key < k; });
    if (it == end || it->key != key) return {};
    return std::string_view(pool + it->name_at);
}

std::string_view OuiRegistry::lookup(const std::uint8_t* mac) const {
    std::uint64_t v = 0;
    for (int i = 0; i < 6; ++i)
        v = (v << 8) | mac[i];
    // 00:00:00 is Xerox's block, but the all-zero address is what loopback and
    // null devices carry, not a Xerox card: no vendor for it.
    if (v == 0) return {};
    if (auto s = find(t36_, n36_, v >> 12, pool_); !s.empty()) return s;
    if (auto s = find(t28_, n28_, v >> 20, pool_); !s.empty()) return s;
    return find(t24_, n24_, v >> 24, pool_);
}

}  // namespace wl
