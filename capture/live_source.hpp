// Capturing frames from a network interface through libpcap. Frames are handed
// to a callback as views into libpcap's ring: nothing is copied, and a frame
// is only valid during the call.
//
// The handle is non-blocking and dispatch() waits in its own poll(2): with
// libpcap 1.10 on Linux a blocking read waits for traffic however long it
// takes (the packet timeout only bounds how long a packet may sit in a
// block), so without this an idle interface would never give control back.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "capture/pcap_source.hpp"  // RawFrame

struct pcap;

namespace wl {

struct LiveOptions {
    std::string iface;      // "any" captures on every interface (Linux cooked capture)
    int snaplen = 262144;   // -s; 0 or less: libpcap's largest (262144)
    bool promisc = true;    // ignored on "any", where Linux has no promiscuous mode
    bool immediate = true;  // deliver packets as they arrive, not a buffer at a time
    int buffer_kib = 0;     // -B, KiB as tcpdump; 0: libpcap's default (2 MiB)
    int timeout_ms = 100;   // dispatch() waits at most this long; 0 or less: not at all
};

class LiveSource {
  public:
    ~LiveSource();
    LiveSource(const LiveSource&) = delete;
    LiveSource& operator=(const LiveSource&) = delete;

    // Opens and activates the interface, with nanosecond timestamps where the
    // system has them (microsecond otherwise). On failure returns null and sets
    // `error` to one line saying what to do; activation warnings go to *warning.
    static std::unique_ptr<LiveSource> open(const LiveOptions& opt, std::string& error,
                                            std::string* warning = nullptr);

    // Compiles and installs a BPF filter (tcpdump syntax).
    bool set_filter(const std::string& expr, std::string& error);

    using Handler = void (*)(void* user, const RawFrame& frame);
    // Hands what is ready to `h`, at most `max` frames (0 or less: everything in
    // one buffer), waiting up to timeout_ms for the first. Returns the number of
    // frames handled (0: none came), -2 if breakloop() was called (frames already
    // handed before it are not counted), -1 on error: error() says why (the
    // interface went down or disappeared).
    int dispatch(int max, Handler h, void* user);
    // Makes the running or the next dispatch() return -2. Safe from a signal
    // handler, another thread, or the handler itself.
    void breakloop();

    struct Stats {
        std::uint64_t received = 0;        // seen by the filter (Linux: drops included)
        std::uint64_t dropped_kernel = 0;  // no room in the buffer (-B)
        std::uint64_t dropped_iface = 0;   // dropped by the interface or its driver
    };
    // libpcap's counters are 32 bits: they are widened here, so calls must come
    // at least every 2^31 packets (a few seconds at line rate on 100 GbE, far
    // more on anything slower). Not thread-safe: call it where dispatch() runs.
    bool stats(Stats& s) const;

    std::string error() const { return error_; }
    int linktype() const;
    std::string linktype_name() const;  // "EN10MB (Ethernet)"
    std::uint32_t snaplen() const;
    bool nanosecond() const { return nano_; }

  private:
    LiveSource(pcap* handle, const LiveOptions& opt);
    int read_ready(int max, void* ctx);
    bool interface_down();

    pcap* handle_;
    std::string iface_;
    int timeout_ms_;
    int fd_ = -1;       // libpcap's socket, polled
    int wake_fd_ = -1;  // eventfd written by breakloop()
    bool nano_ = false;
    bool netdev_ = false;  // a network device (not "any", nflog, ...): its IFF_UP is watched
    std::atomic<bool> break_{false};
    static_assert(std::atomic<bool>::is_always_lock_free, "breakloop() runs in signal handlers");
    std::string error_;
    struct Counters {
        std::uint32_t recv = 0, drop = 0, ifdrop = 0;
    };
    mutable Counters last_;
    mutable Stats total_;
};

// For -D: every device libpcap can capture on, numbered as tcpdump -D numbers
// them ("1.eth0 [Up, Running, Connected]"), each followed by its IPv4 and IPv6
// addresses, indented. False and `error` if the devices cannot be listed.
bool list_interfaces(std::FILE* out, std::string& error);

}  // namespace wl
