#include "capture/pcap_source.hpp"

#include <pcap/pcap.h>
#include <stdio_ext.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace wl {

PcapSource::~PcapSource() {
    if (handle_ != nullptr) pcap_close(handle_);  // closes the pipe's read end first
    decomp_.reset();                              // then joins the decompression thread
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
    const std::string name = path == "-" ? std::string("standard input") : path;
    // Compressed? One byte tells whether to look further (pcap and pcapng
    // never start as gzip, zstd or xz do), and one byte of push-back is all
    // stdio promises: standard input is peeked the same way as a file.
    std::unique_ptr<Decompressor> decomp;
    const int first = std::getc(fp);
    if (first != EOF && !may_be_compressed(first)) {
        std::ungetc(first, fp);
    } else if (first != EOF) {
        std::uint8_t head[6] = {static_cast<std::uint8_t>(first)};
        const std::size_t n = 1 + std::fread(head + 1, 1, sizeof head - 1, fp);
        const Compression kind = compression_of(head, n);
        if (kind == Compression::None) {
            if (fp != stdin) std::fclose(fp);
            error = "cannot read " + name + ": unknown file format";
            return nullptr;
        }
        int read_fd = -1;
        decomp = Decompressor::start(kind, fp, fp != stdin, buffer, head, n, read_fd, error);
        if (!decomp) {
            if (fp != stdin) std::fclose(fp);
            error = "cannot read " + name + ": " + error;
            return nullptr;
        }
        // From here the thread owns (and closes) the file; libpcap reads the pipe.
        fp = fdopen(read_fd, "rb");
        if (fp == nullptr) {
            error = "cannot read " + name + ": " + std::strerror(errno);
            close(read_fd);
            return nullptr;  // decomp's destructor joins the thread (EPIPE ends it)
        }
        buffer.reset(new char[kReadBuffer]);
        std::setvbuf(fp, buffer.get(), _IOFBF, kReadBuffer);
        __fsetlocking(fp, FSETLOCKING_BYCALLER);
        size = 0;  // the progress line cannot compare decompressed bytes with the file's size
    }
    pcap* h = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (h == nullptr) {
        if (fp != stdin) std::fclose(fp);
        if (decomp) {
            decomp->join();  // ends: finished, or EPIPE now that the read end is closed
            error = "cannot read " + name + ": " +
                    (decomp->failure().empty()
                         ? std::string(errbuf) + " (" + compression_name(decomp->compression()) +
                               "-compressed)"
                         : decomp->failure());
            return nullptr;
        }
        error = "cannot read " + name + ": " + errbuf;
        return nullptr;
    }
    std::unique_ptr<PcapSource> src(new PcapSource(h));
    src->read_buffer_ = std::move(buffer);
    src->file_size_ = size;
    src->decomp_ = std::move(decomp);
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
        if (rc == 0) continue;  // live timeout: nothing yet
        // The end of a compressed stream that broke off is a cut file, whether
        // libpcap saw the end inside a record or between two.
        if (decomp_ && decomp_->done() && !decomp_->failure().empty()) {
            decomp_error_ = decomp_->failure();
            return Status::Error;
        }
        if (rc == PCAP_ERROR_BREAK) return Status::End;  // end of file
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
    if (!decomp_error_.empty()) return decomp_error_;
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
