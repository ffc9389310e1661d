// Live capture on the loopback interface, the interface list, and -Z. Tests
// that capture need root and skip without it; the only traffic they make is
// UDP to 127.0.0.1. Unprivileged behaviour is checked in forked children that
// give root up first.
#include <arpa/inet.h>
#include <grp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "capture/live_source.hpp"
#include "capture/privileges.hpp"

using namespace wl;

namespace {

bool is_root() {
    return geteuid() == 0;
}

// Matches nothing anything else on the host sends (an IEEE local experimental
// EtherType), so that waits are not cut short by others' loopback traffic.
const char* kQuietFilter = "ether proto 0x88b5";

std::unique_ptr<LiveSource> open_lo(int timeout_ms, const char* filter) {
    LiveOptions lo;
    lo.iface = "lo";
    lo.timeout_ms = timeout_ms;
    std::string err, warning;
    auto src = LiveSource::open(lo, err, &warning);
    INFO(err);
    REQUIRE(src);
    CHECK(warning.empty());
    if (filter != nullptr) REQUIRE(src->set_filter(filter, err));
    return src;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::uint64_t wall_ns() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull +
           static_cast<std::uint64_t>(ts.tv_nsec);
}

// A UDP socket on 127.0.0.1 that sends datagrams to itself.
struct LoopbackUdp {
    int fd = -1;
    sockaddr_in addr{};
    LoopbackUdp() {
        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd >= 0);
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        socklen_t len = sizeof addr;
        REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    }
    ~LoopbackUdp() { close(fd); }
    int port() const { return ntohs(addr.sin_port); }
    std::string filter() const {
        return "udp and src host 127.0.0.1 and dst port " + std::to_string(port()) +
               " and src port " + std::to_string(port());
    }
    void send(const std::string& payload) {
        REQUIRE(sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&addr),
                       sizeof addr) == static_cast<ssize_t>(payload.size()));
    }
};

struct Captured {
    std::vector<std::string> frames;
    std::vector<std::uint64_t> ts;
    std::vector<std::uint32_t> len;
    LiveSource* src = nullptr;
    bool break_after_first = false;
};

void collect(void* user, const RawFrame& f) {
    auto& c = *static_cast<Captured*>(user);
    c.frames.emplace_back(reinterpret_cast<const char*>(f.data), f.caplen);
    c.ts.push_back(f.ts_ns);
    c.len.push_back(f.len);
    if (c.break_after_first && c.frames.size() == 1) c.src->breakloop();
}

void ignore(void*, const RawFrame&) {}

// Runs `body` in a child process and returns its exit status (255: it died).
template <typename F>
int in_child(F body) {
    std::fflush(nullptr);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) _exit(body());
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

// As the unprivileged user "nobody" would run it (65534 on Debian).
bool become_nobody() {
    const gid_t g = 65534;
    return setgroups(1, &g) == 0 && setresgid(65534, 65534, 65534) == 0 &&
           setresuid(65534, 65534, 65534) == 0;
}

}  // namespace

TEST_CASE("live: -D lists the loopback interface with its address", "[live]") {
    char* text = nullptr;
    std::size_t size = 0;
    std::FILE* out = open_memstream(&text, &size);
    REQUIRE(out != nullptr);
    std::string err;
    const bool ok = list_interfaces(out, err);
    std::fclose(out);
    const std::string listing(text, size);
    std::free(text);
    INFO(err);
    INFO(listing);
    REQUIRE(ok);
    // "N.lo [Up, Running, Loopback]" on a line of its own, numbered from 1.
    const auto at = listing.find(".lo [");
    REQUIRE(at != std::string::npos);
    const auto line_start =
        listing.rfind('\n', at) == std::string::npos ? 0 : listing.rfind('\n', at) + 1;
    const std::string number = listing.substr(line_start, at - line_start);
    REQUIRE(!number.empty());
    CHECK(number.find_first_not_of("0123456789") == std::string::npos);
    CHECK(listing.compare(0, 2, "1.") == 0);
    CHECK(listing.find(".lo [Up, Running, Loopback]\n") != std::string::npos);
    CHECK(listing.find("\n    inet 127.0.0.1 netmask 255.0.0.0\n") != std::string::npos);
}

TEST_CASE("live: an unknown interface is named as such, root or not", "[live]") {
    const std::string expected = "wl-nosuch0: no such interface (wirelens -D lists them)";
    LiveOptions lo;
    lo.iface = "wl-nosuch0";
    std::string err;
    CHECK_FALSE(LiveSource::open(lo, err));
    CHECK(err == expected);
    if (!is_root()) return;
    // Unprivileged, libpcap cannot tell (it fails on the socket first).
    const int rc = in_child([&] {
        if (!become_nobody()) return 2;
        std::string e;
        return !LiveSource::open(lo, e) && e == expected ? 0 : 1;
    });
    CHECK(rc == 0);
}

TEST_CASE("live: without privileges the error says what to grant", "[live]") {
    if (!is_root()) {
        LiveOptions lo;
        lo.iface = "lo";
        std::string err;
        if (LiveSource::open(lo, err)) {
            WARN("capture allowed without root (capabilities granted): case skipped");
            return;
        }
        CHECK(err ==
              "lo: no permission to capture: run as root or grant CAP_NET_RAW and CAP_NET_ADMIN "
              "(setcap cap_net_raw,cap_net_admin=eip wirelens)");
        return;
    }
    for (const char* iface : {"lo", "any"}) {
        const int rc = in_child([&] {
            if (!become_nobody()) return 2;
            LiveOptions lo;
            lo.iface = iface;
            std::string e;
            if (LiveSource::open(lo, e)) return 3;
            const std::string expected =
                std::string(iface) +
                ": no permission to capture: run as root or grant CAP_NET_RAW and CAP_NET_ADMIN "
                "(setcap cap_net_raw,cap_net_admin=eip wirelens)";
            if (e == expected) return 0;
            std::fprintf(stderr, "%s\n", e.c_str());
            return 1;
        });
        INFO(iface);
        CHECK(rc == 0);
    }
}

TEST_CASE("live: options checked before libpcap sees them", "[live]") {
    std::string err;
    LiveOptions lo;
    CHECK_FALSE(LiveSource::open(lo, err));
    CHECK(err == "no interface to capture on (-i)");
    lo.iface = "lo";
    lo.buffer_kib = -1;
    CHECK_FALSE(LiveSource::open(lo, err));
    CHECK(err == "lo: bad buffer size -1 KiB (-B takes 1 to 2097151)");
}

TEST_CASE("live: a bad filter is a one-line error", "[live]") {
    if (!is_root()) {
        WARN("not root: live capture cases skipped");
        return;
    }
    auto src = open_lo(100, nullptr);
    std::string err;
    CHECK_FALSE(src->set_filter("tcp port nope", err));
    CHECK(err.rfind("bad filter 'tcp port nope': ", 0) == 0);
    CHECK(err.find('\n') == std::string::npos);
    // The interface's netmask is known: "ip broadcast" compiles, as in tcpdump.
    CHECK(src->set_filter("ip broadcast", err));
}

TEST_CASE("live: dispatch returns 0 after the timeout when nothing comes", "[live]") {
    if (!is_root()) {
        WARN("not root: live capture cases skipped");
        return;
    }
    auto src = open_lo(150, kQuietFilter);
    CHECK(src->linktype() == 1);
    CHECK(src->linktype_name() == "EN10MB (Ethernet)");
    CHECK(src->snaplen() == 262144);
    CHECK(src->nanosecond());
    for (int i = 0; i < 2; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        CHECK(src->dispatch(-1, ignore, nullptr) == 0);
        const double took = seconds_since(t0);
        CHECK(took >= 0.12);
        CHECK(took < 2.0);
    }
}

TEST_CASE("live: breakloop from another thread ends a waiting dispatch", "[live]") {
    if (!is_root()) {
        WARN("not root: live capture cases skipped");
        return;
    }
    auto src = open_lo(10000, kQuietFilter);
    const auto t0 = std::chrono::steady_clock::now();
    std::thread stopper([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        src->breakloop();
    });
    const int rc = src->dispatch(-1, ignore, nullptr);
    stopper.join();
    CHECK(rc == -2);
    CHECK(seconds_since(t0) < 5.0);

    // A break asked for before dispatch is reported once, then capture goes on.
    src->breakloop();
    CHECK(src->dispatch(-1, ignore, nullptr) == -2);
    src.reset();
    auto quick = open_lo(50, kQuietFilter);
    quick->breakloop();
    CHECK(quick->dispatch(-1, ignore, nullptr) == -2);
    CHECK(quick->dispatch(-1, ignore, nullptr) == 0);
}

TEST_CASE("live: loopback frames arrive whole, with nanosecond timestamps", "[live]") {
    if (!is_root()) {
        WARN("not root: live capture cases skipped");
        return;
    }
    LoopbackUdp udp;
    auto src = open_lo(100, udp.filter().c_str());
    const std::uint64_t before = wall_ns();
    for (int i = 0; i < 3; ++i)
        udp.send("wirelens-live-test-" + std::to_string(i));
    Captured c;
    const auto t0 = std::chrono::steady_clock::now();
    while (c.frames.size() < 3 && seconds_since(t0) < 5.0) {
        REQUIRE(src->dispatch(-1, collect, &c) >= 0);
    }
    const std::uint64_t after = wall_ns();
    REQUIRE(c.frames.size() == 3);
    for (int i = 0; i < 3; ++i) {
        const std::string payload = "wirelens-live-test-" + std::to_string(i);
        INFO(i);
        // Ethernet (14) + IPv4 (20) + UDP (8) + payload, none of it cut.
        CHECK(c.frames[i].size() == 42 + payload.size());
        CHECK(c.len[i] == c.frames[i].size());
        CHECK(c.frames[i].substr(42) == payload);
        CHECK(c.ts[i] >= before - 1000000);  // the clocks may differ by a little
        CHECK(c.ts[i] <= after + 1000000);
    }
    LiveSource::Stats s;
    REQUIRE(src->stats(s));
    CHECK(s.received >= 3);
    CHECK(s.dropped_kernel == 0);
}

TEST_CASE("live: dispatch keeps to max, and a break from the handler ends it", "[live]") {
    if (!is_root()) {
        WARN("not root: live capture cases skipped");
        return;
    }
    LoopbackUdp udp;
    auto src = open_lo(100, udp.filter().c_str());
    for (int i = 0; i < 5; ++i)
        udp.send("frame-" + std::to_string(i));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    Captured c;
    c.src = src.get();
    CHECK(src->dispatch(2, collect, &c) == 2);
    CHECK(c.frames.size() == 2);

    c.break_after_first = true;
    c.frames.clear();
    CHECK(src->dispatch(-1, collect, &c) == -2);
    CHECK(c.frames.size() == 1);
    // The rest is still there, and no stale break is left behind.
    c.break_after_first = false;
    const auto t0 = std::chrono::steady_clock::now();
    while (c.frames.size() < 3 && seconds_since(t0) < 5.0) {
        REQUIRE(src->dispatch(-1, collect, &c) >= 0);
    }
    CHECK(c.frames.size() == 3);
    CHECK(c.frames.back().substr(42) == "frame-4");
}

TEST_CASE("live: a break reported before any read does not swallow later frames", "[live]") {
    if (!is_root()) {
        WARN("not root: live capture cases skipped");
        return;
    }
    // libpcap's own break flag survives a read that found nothing; it must
    // not end the first dispatch that finds frames.
    LoopbackUdp udp;
    auto src = open_lo(100, udp.filter().c_str());
    src->breakloop();
    CHECK(src->dispatch(-1, ignore, nullptr) == -2);
    udp.send("after-break");
    Captured c;
    const auto t0 = std::chrono::steady_clock::now();
    int rc = 0;
    while (c.frames.empty() && seconds_since(t0) < 5.0) {
        rc = src->dispatch(-1, collect, &c);
        REQUIRE(rc >= 0);
    }
    CHECK(rc == 1);
    REQUIRE(c.frames.size() == 1);
    CHECK(c.frames[0].substr(42) == "after-break");
}

TEST_CASE("live: -Z with an unknown user", "[live][privileges]") {
    std::string err;
    CHECK_FALSE(drop_privileges("wl-no-such-user", err));
    CHECK(err == "-Z wl-no-such-user: no such user");
}

TEST_CASE("live: -Z gives root up for good", "[live][privileges]") {
    if (!is_root()) {
        std::string err;
        CHECK_FALSE(drop_privileges("root", err));
        CHECK(err == "-Z root: only root can change to another user");
        return;
    }
    const int rc = in_child([] {
        std::string e;
        if (!drop_privileges("nobody", e)) {
            std::fprintf(stderr, "%s\n", e.c_str());
            return 1;
        }
        uid_t r, ef, s;
        getresuid(&r, &ef, &s);
        if (r != 65534 || ef != 65534 || s != 65534) return 2;
        if (setuid(0) == 0 || seteuid(0) == 0) return 3;
        // No more capturing: the capabilities went with root.
        LiveOptions lo;
        lo.iface = "lo";
        if (LiveSource::open(lo, e)) return 4;
        // As "nobody", changing to another user is refused.
        if (drop_privileges("root", e) || e != "-Z root: only root can change to another user") {
            return 5;
        }
        // ... and -Z to oneself is accepted.
        return drop_privileges("nobody", e) ? 0 : 6;
    });
    CHECK(rc == 0);
}
