// The analysis pipeline behind one input, offline or live: decode -> flow
// (connections, reassembly) -> analyzers (uploads, SYN floods) -> report.
// Frames go in one at a time; records come out as the stages produce them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "counters.hpp"
#include "oui.hpp"
#include "out_buffer.hpp"
#include "packet.hpp"
#include "packet_report.hpp"
#include "pcap_source.hpp"
#include "syn_flood.hpp"

namespace wl {

class AlertReporter;
class ConnReporter;
class FileExtractor;
class FlowTracker;
class TcpReassembler;
class UploadAnalyzer;
class UploadReporter;

struct PipelineOptions {
    bool packets = false;  // a line (or record) per packet
    bool json = false;
    bool stream = false;  // events as they happen (live capture, --stream)
    bool verify_checksums = false;
    bool no_flows = false;
    std::uint32_t max_flows = 65536;
    double tcp_timeout = 300, udp_timeout = 60, icmp_timeout = 60;
    bool ladder = false;
    std::string ladder_uid;
    std::uint32_t ladder_max = 20;
    bool no_reassembly = false;
    std::uint64_t max_reassembly = 32ull << 20;
    std::uint32_t max_header = 16384;
    std::string size_key;
    bool sha256 = false;
    std::vector<std::uint16_t> upload_ports;
    std::string extract_dir;
    bool extract_partial = false;
    std::uint64_t extract_max = 1ull << 30;
    std::uint32_t max_uploads = 1024;
    bool no_flood = false;
    SynFloodOptions flood;
};

struct FlowOptions;
struct ReassemblyOptions;
struct UploadOptions;
// Each stage's own options, as the pipeline derives them from its options.
FlowOptions flow_options_of(const PipelineOptions& opt);
ReassemblyOptions reassembly_options_of(const PipelineOptions& opt);
UploadOptions upload_options_of(const PipelineOptions& opt);

class Pipeline {
  public:
    Pipeline(const PipelineOptions& opt, OutBuffer& out, const OuiRegistry& oui);
    ~Pipeline();
    Pipeline(const Pipeline&) = delete;
    Pipeline& operator=(const Pipeline&) = delete;

    // Sets up the stages (the extraction folder among them); false + one line on failure.
    bool open(std::string& error);
    void set_linktype(int linktype) { pkt_.linktype = linktype; }

    // One captured frame through every stage.
    void frame(const RawFrame& f);
    // Time passes with no packet (live capture): ends what has timed out.
    void tick(std::uint64_t now_ns);
    // Ends everything still open and writes the closing report.
    void finish(const InputSummary& summary);

    const DecodeCounters& counters() const { return counters_; }
    std::size_t open_connections() const;

  private:
    class Handshakes;

    PipelineOptions opt_;
    OutBuffer& out_;
    const OuiRegistry& oui_;
    Packet pkt_;
    Packet inner_[2];  // packets carried in tunnels, decoded in turn
    DecodeCounters counters_;
    DecodeOptions dopts_;
    std::uint32_t ladder_conns_ = 0;
    std::unique_ptr<ConnReporter> conns_;
    std::unique_ptr<FlowTracker> flows_;
    std::unique_ptr<FileExtractor> extractor_;
    std::unique_ptr<UploadReporter> uploads_;
    std::unique_ptr<AlertReporter> alerts_;
    std::unique_ptr<SynFloodDetector> flood_;
    std::unique_ptr<Handshakes> handshakes_;
    std::unique_ptr<UploadAnalyzer> analyzer_;
    std::unique_ptr<TcpReassembler> reassembler_;
};

}  // namespace wl
