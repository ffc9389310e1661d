// Reading frames through libpcap: capture files (pcap and pcapng, or "-" for
// standard input) with an optional BPF filter. Frames are handed out as views
// into libpcap's own buffer: nothing is copied. A gzip, zstd or xz compressed
// file (or standard input), recognised by its magic bytes, is decompressed by
// a thread beside the analysis (capture/decompress.hpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "capture/decompress.hpp"

struct pcap;

namespace wl {

struct RawFrame {
    const std::uint8_t* data;
    std::uint32_t caplen;
    std::uint32_t len;  // on the wire
    std::uint64_t ts_ns;
};

class PcapSource {
  public:
    enum class Status { Frame, End, Error };

    ~PcapSource();
    PcapSource(const PcapSource&) = delete;
    PcapSource& operator=(const PcapSource&) = delete;

    // Opens a capture file ("-" reads standard input). On failure returns null
    // and sets `error` to one line.
    static std::unique_ptr<PcapSource> open_file(const std::string& path, std::string& error);

    // Compiles and installs a BPF filter (tcpdump syntax).
    bool set_filter(const std::string& expr, std::string& error);

    // The next frame; on Error, error() says why (e.g. a file cut short).
    Status next(RawFrame& frame);
    std::string error() const;

    int linktype() const;
    std::string linktype_name() const;  // "EN10MB (Ethernet)"
    std::uint32_t snaplen() const;
    // The file's compression (None for a plain pcap or pcapng).
    Compression compression() const { return decomp_ ? decomp_->compression() : Compression::None; }
    // Bytes consumed so far from the file (record headers included), and the
    // file's size when known (0 for a pipe or a compressed file).
    std::uint64_t bytes_read() const { return bytes_read_; }
    std::uint64_t file_size() const { return file_size_; }

  private:
    explicit PcapSource(pcap* handle) : handle_(handle) {}
    static constexpr std::size_t kReadBuffer = 1 << 16;
    pcap* handle_;
    std::unique_ptr<char[]> read_buffer_;  // the FILE's buffer; outlives it (pcap_close first)
    std::uint64_t bytes_read_ = 0;
    std::uint64_t file_size_ = 0;
    std::uint32_t record_header_len_ = 16;
    // Declared last: destroyed (joined) after pcap_close() has closed the read end.
    std::unique_ptr<Decompressor> decomp_;
    std::string decomp_error_;  // the compressed stream ended early
};

// Compiles a BPF filter (tcpdump syntax) for `handle` and installs it; false
// and one line in `error` if it does not compile or install. `netmask`: the
// capture's netmask, or PCAP_NETMASK_UNKNOWN (0xffffffff).
bool install_filter(pcap* handle, const std::string& expr, std::uint32_t netmask,
                    std::string& error);

// libpcap's name and description of a link type: "EN10MB (Ethernet)".
std::string linktype_description(int dlt);

}  // namespace wl
