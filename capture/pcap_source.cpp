#include "capture/pcap_source.hpp"

#include <pcap/pcap.h>
#include <stdio_ext.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace wl {

PcapSource::~PcapSource() {
    if (handle_ != nullptr) pcap_close(handle_);
}

std::unique_ptr<PcapSource> PcapSource::open_file(const std::string& path, std::string& error) {
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    std::uint64_t size = 0;
    if (path != "-") {
        struct stat st {};
        if (stat(path.c_str(), &st) != 0) {
            error = "cannot open " + path + ": " + std::strerror(errno);
            return nullptr;
        }
        if (S_ISDIR(st.st_mode)) {
            error = "cannot read " + path + ": is a directory";
            return nullptr;
        }
        size = static_cast<std::uint64_t>(st.st_size);
        if (S_ISREG(st.st_mode) && size == 0) {
            error = "cannot read " + path + ": the file is empty";
            return nullptr;
        }
    }
    // Nanosecond precision keeps pcapng and nanosecond pcap timestamps whole;
    // microsecond files are scaled by libpcap.
    // Our own FILE with a 64 KiB buffer: libpcap reads each record with two
    // freads, and with stdio's default 4 KiB buffer the read system calls are
    // a visible cost. Not larger: every refill streams through the cache the
    // connection table needs, so a megabyte costs more in misses than it saves
    // in calls. pcap_close() closes the FILE.
    std::FILE* fp = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
    if (fp == nullptr) {
        error = "cannot read " + path + ": " + std::strerror(errno);
        return nullptr;
    }
    // (glibc ignores the size unless given the buffer: it lives in the source.)
    // Standard input keeps its own (stdin outlives the source).
    std::unique_ptr<char[]> buffer;
    if (fp != stdin) {
        buffer.reset(new char[kReadBuffer]);
        std::setvbuf(fp, buffer.get(), _IOFBF, kReadBuffer);
        // Only this source's thread reads the FILE: stdio's lock (two freads a
        // packet) is not needed once a program has started other threads.
        __fsetlocking(fp, FSETLOCKING_BYCALLER);
    }
    pcap* h = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (h == nullptr) {
        if (fp != stdin) std::fclose(fp);
        error =
            "cannot read " + (path == "-" ? std::string("standard input") : path) + ": " + errbuf;
        return nullptr;
    }
    std::unique_ptr<PcapSource> src(new PcapSource(h));
    src->read_buffer_ = std::move(buffer);
    src->file_size_ = size;
    src->bytes_read_ = 24;
    return src;
}

bool install_filter(pcap* handle, const std::string& expr, std::uint32_t netmask,
                    std::string& error) {
    bpf_program prog{};
    if (pcap_compile(handle, &prog, expr.c_str(), 1, netmask) != 0) {
        error = "bad filter '" + expr + "': " + pcap_geterr(handle);
        return false;
    }
    const int rc = pcap_setfilter(handle, &prog);
    pcap_freecode(&prog);
    if (rc != 0) {
        error = "cannot install filter '" + expr + "': " + pcap_geterr(handle);
        return false;
    }
    return true;
}

bool PcapSource::set_filter(const std::string& expr, std::string& error) {
    return install_filter(handle_, expr, PCAP_NETMASK_UNKNOWN, error);
}

PcapSource::Status PcapSource::next(RawFrame& frame) {
    pcap_pkthdr* hdr = nullptr;
    const u_char* data = nullptr;
    for (;;) {
        const int rc = pcap_next_ex(handle_, &hdr, &data);
        if (rc == 1) break;
        if (rc == PCAP_ERROR_BREAK) return Status::End;  // end of file
        if (rc == 0) continue;                           // live timeout: nothing yet
        return Status::Error;
    }
    frame.data = data;
    frame.caplen = hdr->caplen;
    frame.len = hdr->len;
    // A pcap record's seconds and fraction are unsigned 32-bit fields, but libpcap
    // 1.10 hands them over through signed 32-bit ones: from 2038-01-19 on (and for
    // a fraction field of 2^31 or more) they come out negative, and widened as they
    // are they would wrap to dates past the year 2500. Read them as the 32 bits they
    // were. (pcapng timestamps arrive whole, never negative.)
    const auto unsigned_field = [](auto v) {
        return v < 0 ? std::uint64_t{static_cast<std::uint32_t>(v)} : static_cast<std::uint64_t>(v);
    };
    frame.ts_ns = unsigned_field(hdr->ts.tv_sec) * 1000000000ull + unsigned_field(hdr->ts.tv_usec);
    bytes_read_ += record_header_len_ + hdr->caplen;
    return Status::Frame;
}

std::string PcapSource::error() const {
    return pcap_geterr(handle_);
}

int PcapSource::linktype() const {
    return pcap_datalink(handle_);
}

std::string PcapSource::linktype_name() const {
    return linktype_description(pcap_datalink(handle_));
}

std::string linktype_description(int dlt) {
    const char* name = pcap_datalink_val_to_name(dlt);
    const char* desc = pcap_datalink_val_to_description(dlt);
    std::string s = name != nullptr ? name : "DLT " + std::to_string(dlt);
    if (desc != nullptr) s += std::string(" (") + desc + ")";
    return s;
}

std::uint32_t PcapSource::snaplen() const {
    return static_cast<std::uint32_t>(pcap_snapshot(handle_));
}

}  // namespace wl
