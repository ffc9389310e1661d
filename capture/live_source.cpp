#include "capture/live_source.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

namespace wl {

namespace {

struct DispatchContext {
    LiveSource::Handler handler;
    void* user;
    bool nano;
    int count;
};

void on_packet(u_char* user, const pcap_pkthdr* h, const u_char* bytes) {
    auto& ctx = *reinterpret_cast<DispatchContext*>(user);
    const auto sub = static_cast<std::uint64_t>(h->ts.tv_usec);
    RawFrame f;
    f.data = bytes;
    f.caplen = h->caplen;
    f.len = h->len;
    f.ts_ns =
        static_cast<std::uint64_t>(h->ts.tv_sec) * 1000000000ull + (ctx.nano ? sub : sub * 1000u);
    ++ctx.count;
    ctx.handler(ctx.user, f);
}

bool mentions_permission(const char* text) {
    return std::strstr(text, "Operation not permitted") != nullptr ||
           std::strstr(text, "Permission denied") != nullptr;
}

std::string permission_message(const std::string& iface) {
    return iface +
           ": no permission to capture: run as root or grant CAP_NET_RAW and CAP_NET_ADMIN "
           "(setcap cap_net_raw,cap_net_admin=eip wirelens)";
}

std::string no_such_interface(const std::string& iface) {
    return iface + ": no such interface (wirelens -D lists them)";
}

// Widens a 32-bit counter that only grows (and wraps). A step back is taken
// for a reset of the counter, not as four billion packets.
void widen(std::uint32_t now, std::uint32_t& last, std::uint64_t& total) {
    const std::uint32_t delta = now - last;
    if (delta < 0x80000000u) total += delta;
    last = now;
}

}  // namespace

LiveSource::LiveSource(pcap* handle, const LiveOptions& opt)
    : handle_(handle), iface_(opt.iface), timeout_ms_(opt.timeout_ms > 0 ? opt.timeout_ms : 0) {}

LiveSource::~LiveSource() {
    if (handle_ != nullptr) pcap_close(handle_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
}

std::unique_ptr<LiveSource> LiveSource::open(const LiveOptions& opt, std::string& error,
                                             std::string* warning) {
    const std::string& iface = opt.iface;
    if (iface.empty()) {
        error = "no interface to capture on (-i)";
        return nullptr;
    }
    if (opt.buffer_kib < 0 || opt.buffer_kib > INT_MAX / 1024) {
        error = iface + ": bad buffer size " + std::to_string(opt.buffer_kib) +
                " KiB (-B takes 1 to " + std::to_string(INT_MAX / 1024) + ")";
        return nullptr;
    }
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    pcap* h = pcap_create(iface.c_str(), errbuf);
    if (h == nullptr) {
        error = iface + ": " + errbuf;
        return nullptr;
    }
    std::unique_ptr<LiveSource> src(new LiveSource(h, opt));
    const bool any = iface == "any";
    pcap_set_snaplen(h, opt.snaplen > 0 ? opt.snaplen : 0);  // 0: libpcap's largest
    // libpcap 1.10 refuses promiscuous mode on "any" with a warning it then
    // loses; asking for it there only fills the error buffer.
    pcap_set_promisc(h, opt.promisc && !any ? 1 : 0);
    pcap_set_immediate_mode(h, opt.immediate ? 1 : 0);
    pcap_set_timeout(h, opt.timeout_ms > 0 ? opt.timeout_ms : 1);
    if (opt.buffer_kib > 0) pcap_set_buffer_size(h, opt.buffer_kib * 1024);
    const bool nano_asked =
        pcap_set_tstamp_precision(h, PCAP_TSTAMP_PRECISION_NANO) == 0;  // else micro, the default

    const int rc = pcap_activate(h);
    if (rc < 0) {
        const char* text = pcap_geterr(h);
        switch (rc) {
            case PCAP_ERROR_NO_SUCH_DEVICE:
                error = no_such_interface(iface);
                break;
            case PCAP_ERROR_PERM_DENIED:
                // Without privileges libpcap cannot even open the socket that
                // would tell it the interface does not exist.
                error = !any && if_nametoindex(iface.c_str()) == 0 ? no_such_interface(iface)
                                                                   : permission_message(iface);
                break;
            case PCAP_ERROR_IFACE_NOT_UP:
                error = iface + ": interface is down";
                break;
            case PCAP_ERROR_PROMISC_PERM_DENIED:
                error = iface +
                        ": no permission to capture in promiscuous mode: run as root, or "
                        "capture without it (--no-promisc)";
                break;
            default:
                if (rc == PCAP_ERROR && mentions_permission(text)) {
                    error = permission_message(iface);
                } else {
                    error = iface + ": " + (*text != '\0' ? text : pcap_statustostr(rc));
                }
                break;
        }
        return nullptr;
    }
    if (rc > 0 && warning != nullptr) {
        const char* text = pcap_geterr(h);
        *warning = iface + ": " + (*text != '\0' ? text : pcap_statustostr(rc));
    }

    if (pcap_setnonblock(h, 1, errbuf) != 0) {
        error = iface + ": " + errbuf;
        return nullptr;
    }
    src->fd_ = pcap_get_selectable_fd(h);
    if (src->fd_ < 0) {
        error = iface + ": the capture cannot be polled";
        return nullptr;
    }
    src->wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (src->wake_fd_ < 0) {
        error = iface + ": eventfd: " + std::strerror(errno);
        return nullptr;
    }
    src->nano_ = nano_asked && pcap_get_tstamp_precision(h) == PCAP_TSTAMP_PRECISION_NANO;
    src->netdev_ = !any && if_nametoindex(iface.c_str()) != 0;
    return src;
}

bool LiveSource::set_filter(const std::string& expr, std::string& error) {
    // The interface's netmask makes "ip broadcast" work, as in tcpdump.
    bpf_u_int32 net = 0;
    bpf_u_int32 mask = PCAP_NETMASK_UNKNOWN;
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    if (pcap_lookupnet(iface_.c_str(), &net, &mask, errbuf) != 0) mask = PCAP_NETMASK_UNKNOWN;
    return install_filter(handle_, expr, mask, error);
}

// One non-blocking read of what is ready. libpcap's own break flag outlives a
// read that found nothing and then ends the first read that finds something
// (1.10, non-blocking): such a stale break is read past, and only a breakloop()
// this object has not yet reported ends the dispatch.
int LiveSource::read_ready(int max, void* ctx_ptr) {
    auto& ctx = *static_cast<DispatchContext*>(ctx_ptr);
    for (int attempt = 0; attempt < 2; ++attempt) {
        const int rc = pcap_dispatch(handle_, max > 0 ? max - ctx.count : -1, on_packet,
                                     reinterpret_cast<u_char*>(&ctx));
        if (rc == PCAP_ERROR_BREAK) {
            if (break_.exchange(false)) return -2;
            if (ctx.count > 0) return ctx.count;
            continue;
        }
        if (rc < 0) {
            if (netdev_ && if_nametoindex(iface_.c_str()) == 0) {
                error_ = iface_ + ": interface disappeared";
            } else {
                error_ = iface_ + ": " + pcap_geterr(handle_);
            }
            return -1;
        }
        return ctx.count;
    }
    return ctx.count;
}

// libpcap 1.10 keeps waiting when the interface is taken down (it may come
// back); a capture that silently sees nothing is worse than an error here.
bool LiveSource::interface_down() {
    if (!netdev_) return false;
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, iface_.c_str(), IFNAMSIZ - 1);
    if (ioctl(fd_, SIOCGIFFLAGS, &ifr) != 0) return false;  // gone: libpcap reports that
    return (ifr.ifr_flags & IFF_UP) == 0;
}

int LiveSource::dispatch(int max, Handler h, void* user) {
    if (break_.exchange(false)) return -2;
    DispatchContext ctx{h, user, nano_, 0};
    int n = read_ready(max, &ctx);
    if (n != 0) return n;

    pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    const int pr = poll(fds, 2, timeout_ms_);
    if (pr < 0 && errno != EINTR) {
        error_ = iface_ + ": poll: " + std::strerror(errno);
        return -1;
    }
    if (pr > 0 && (fds[1].revents & POLLIN) != 0) {
        std::uint64_t wakes = 0;
        const ssize_t r = ::read(wake_fd_, &wakes, sizeof wakes);
        (void)r;
    }
    if (break_.exchange(false)) return -2;
    n = read_ready(max, &ctx);
    if (n != 0) return n;
    if (interface_down()) {
        error_ = iface_ + ": interface went down";
        return -1;
    }
    return 0;
}

void LiveSource::breakloop() {
    const int saved = errno;  // a signal handler must leave errno as it found it
    break_.store(true);
    pcap_breakloop(handle_);  // ends a read under way between two packets
    const std::uint64_t one = 1;
    const ssize_t r = ::write(wake_fd_, &one, sizeof one);  // ends the wait in poll()
    (void)r;
    errno = saved;
}

bool LiveSource::stats(Stats& s) const {
    pcap_stat ps{};
    if (pcap_stats(handle_, &ps) != 0) return false;
    widen(ps.ps_recv, last_.recv, total_.received);
    widen(ps.ps_drop, last_.drop, total_.dropped_kernel);
    widen(ps.ps_ifdrop, last_.ifdrop, total_.dropped_iface);
    s = total_;
    return true;
}

int LiveSource::linktype() const {
    return pcap_datalink(handle_);
}

std::string LiveSource::linktype_name() const {
    return linktype_description(pcap_datalink(handle_));
}

std::uint32_t LiveSource::snaplen() const {
    return static_cast<std::uint32_t>(pcap_snapshot(handle_));
}

namespace {

void print_flags(std::FILE* out, bpf_u_int32 flags) {
    // tcpdump -D: the flags that are set (or "none"), then the connection status.
    static const struct {
        bpf_u_int32 bit;
        const char* name;
    } kNames[] = {{PCAP_IF_UP, "Up"},
                  {PCAP_IF_RUNNING, "Running"},
                  {PCAP_IF_LOOPBACK, "Loopback"},
                  {PCAP_IF_WIRELESS, "Wireless"}};
    const char* sep = "";
    std::fputs(" [", out);
    for (const auto& n : kNames) {
        if ((flags & n.bit) == 0) continue;
        std::fprintf(out, "%s%s", sep, n.name);
        sep = ", ";
    }
    if (*sep == '\0') std::fputs("none", out);
    const bool wireless = (flags & PCAP_IF_WIRELESS) != 0;
    switch (flags & PCAP_IF_CONNECTION_STATUS) {
        case PCAP_IF_CONNECTION_STATUS_UNKNOWN:
            std::fputs(wireless ? ", Association status unknown" : ", Connection status unknown",
                       out);
            break;
        case PCAP_IF_CONNECTION_STATUS_CONNECTED:
            std::fputs(wireless ? ", Associated" : ", Connected", out);
            break;
        case PCAP_IF_CONNECTION_STATUS_DISCONNECTED:
            std::fputs(wireless ? ", Not associated" : ", Disconnected", out);
            break;
        default:  // not applicable
            break;
    }
    std::fputc(']', out);
}

int prefix_length(const sockaddr* mask) {
    if (mask == nullptr || mask->sa_family != AF_INET6) return -1;
    const auto* m = reinterpret_cast<const sockaddr_in6*>(mask);
    int bits = 0;
    for (const std::uint8_t byte : m->sin6_addr.s6_addr)
        bits += __builtin_popcount(byte);
    return bits;
}

std::string ipv4(const sockaddr* sa) {
    char buf[INET_ADDRSTRLEN] = {};
    if (sa == nullptr || sa->sa_family != AF_INET) return {};
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
    return buf;
}

void print_addresses(std::FILE* out, const pcap_addr* a) {
    for (; a != nullptr; a = a->next) {
        if (a->addr == nullptr) continue;
        if (a->addr->sa_family == AF_INET) {
            std::fprintf(out, "    inet %s", ipv4(a->addr).c_str());
            const std::string mask = ipv4(a->netmask);
            if (!mask.empty()) std::fprintf(out, " netmask %s", mask.c_str());
            const std::string bcast = ipv4(a->broadaddr);
            if (!bcast.empty()) std::fprintf(out, " broadcast %s", bcast.c_str());
            std::fputc('\n', out);
        } else if (a->addr->sa_family == AF_INET6) {
            char buf[INET6_ADDRSTRLEN] = {};
            const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(a->addr);
            inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof buf);
            std::fprintf(out, "    inet6 %s", buf);
            const int len = prefix_length(a->netmask);
            if (len >= 0) std::fprintf(out, " prefixlen %d", len);
            if (sin6->sin6_scope_id != 0) std::fprintf(out, " scopeid %u", sin6->sin6_scope_id);
            std::fputc('\n', out);
        }
    }
}

}  // namespace

bool list_interfaces(std::FILE* out, std::string& error) {
    pcap_if_t* devs = nullptr;
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    if (pcap_findalldevs(&devs, errbuf) != 0) {
        error = std::string("cannot list the interfaces: ") + errbuf;
        return false;
    }
    int i = 0;
    for (const pcap_if_t* d = devs; d != nullptr; d = d->next) {
        std::fprintf(out, "%d.%s", ++i, d->name);
        if (d->description != nullptr) std::fprintf(out, " (%s)", d->description);
        if (d->flags != 0) print_flags(out, d->flags);
        std::fputc('\n', out);
        print_addresses(out, d->addresses);
    }
    pcap_freealldevs(devs);
    if (std::fflush(out) != 0 || std::ferror(out) != 0) {
        error = std::string("cannot write the interface list: ") + std::strerror(errno);
        return false;
    }
    return true;
}

}  // namespace wl
