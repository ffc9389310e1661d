// fuzz_pcap: the whole of wirelens on an arbitrary capture file. The input is the
// file: it is written to a memfd and opened by path (/proc/self/fd/N) through
// PcapSource, so libpcap's pcap and pcapng readers run as they do for `wirelens -r`;
// every frame then goes through the command's Pipeline (decode, connections,
// reassembly, framed uploads carved into a scratch folder, SYN floods) and every
// report is written to /dev/null.
//
// The file's size picks the report modes, so that an input reproduces by itself:
// bit 0 JSON, bit 1 a record per packet, bit 2 checksums verified, bit 3 stream mode.
// Limits are small (16 connections, 4 upload decoders, 64 KiB of reassembly, floods
// at 20 SYNs per second) so that inputs of a few KiB reach them.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "capture/pcap_source.hpp"
#include "decode/oui.hpp"
#include "fuzz/fuzz_input.hpp"
#include "fuzz/scratch_dir.hpp"
#include "pipeline/pipeline.hpp"
#include "report/out_buffer.hpp"
#include "report/packet_report.hpp"
#include "report/summary_report.hpp"

namespace {

// The input as a file with a path.
class MemFile {
  public:
    MemFile() : fd_(memfd_create("fuzz_pcap", MFD_CLOEXEC)) {
        wl::fuzz::check(fd_ >= 0, "memfd_create");
        path_ = "/proc/self/fd/" + std::to_string(fd_);
    }
    const std::string& path() const { return path_; }
    void fill(const std::uint8_t* data, std::size_t size) const {
        wl::fuzz::check(ftruncate(fd_, 0) == 0, "ftruncate of the memfd");
        for (std::size_t done = 0; done < size;) {
            const ssize_t n = pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
            wl::fuzz::check(n > 0, "pwrite to the memfd");
            done += static_cast<std::size_t>(n);
        }
    }

  private:
    int fd_;
    std::string path_;
};

wl::PipelineOptions options(std::size_t size, const std::string& extract_dir) {
    wl::PipelineOptions o;
    o.json = size & 1;
    o.packets = size & 2;
    o.verify_checksums = size & 4;
    o.stream = size & 8;
    o.max_flows = 16;
    o.ladder = true;
    o.ladder_max = 4;
    o.max_reassembly = 65536;
    o.max_header = 4096;
    o.sha256 = true;
    o.extract_dir = extract_dir;
    o.extract_partial = true;
    o.extract_max = 65536;
    o.max_uploads = 4;
    o.flood.min_syn_rate = 20;
    o.flood.min_half_open = 10;
    o.flood.quiet_seconds = 1;
    o.flood.victims = 16;
    o.flood.detailed = 4;
    o.flood.top_k = 4;
    return o;
}

void run(const std::string& path, std::size_t size) {
    static std::FILE* devnull = std::fopen("/dev/null", "w");
    std::string err;
    auto src = wl::PcapSource::open_file(path, err);
    if (!src) return;  // not a capture: the command stops here too

    wl::OutBuffer out(devnull);
    wl::Pipeline pipeline(options(size, wl::fuzz::ScratchDir::instance().path()), out,
                          wl::OuiRegistry::builtin());
    wl::fuzz::check(pipeline.open(err), "the pipeline opens with the scratch folder");
    pipeline.set_linktype(src->linktype());

    wl::InputSummary summary;
    summary.source = path;
    summary.linktype = src->linktype_name();
    wl::RawFrame frame{};
    for (;;) {
        const auto st = src->next(frame);
        if (st == wl::PcapSource::Status::End) break;
        if (st == wl::PcapSource::Status::Error) {
            summary.cut_short = true;
            summary.cut_reason = src->error();
            break;
        }
        pipeline.frame(frame);
    }
    pipeline.finish(summary);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const MemFile file;
    file.fill(data, size);
    run(file.path(), size);
    wl::fuzz::ScratchDir::instance().clear();  // the bodies the run carved
    return 0;
}
