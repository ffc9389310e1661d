// One decoded frame: the caller owns a Packet and reuses it for every frame
// (gopacket's DecodingLayerParser shape), so decoding never allocates.
#pragma once

#include "decode/arp.hpp"
#include "decode/ethernet.hpp"
#include "decode/icmp.hpp"
#include "decode/ipv4.hpp"
#include "decode/ipv6.hpp"
#include "decode/link.hpp"
#include "decode/llc.hpp"
#include "decode/ppp.hpp"
#include "decode/shims.hpp"
#include "decode/tcp.hpp"
#include "decode/tunnels.hpp"
#include "decode/udp.hpp"
#include "decode/wlan.hpp"

namespace wl {

enum class L4Checksum : std::uint8_t { Unchecked, Good, Bad };

struct Packet {
    static constexpr std::size_t kMaxVlanTags = 8;

    // Capture facts, set by the caller before decode().
    std::uint64_t ts_ns = 0;
    std::uint32_t caplen = 0;
    std::uint32_t wire_len = 0;
    int linktype = 0;

    // Which layers decoded cleanly (bit per Layer).
    std::uint32_t layers = 0;
    bool has(Layer l) const { return (layers & (1u << static_cast<unsigned>(l))) != 0; }

    EthernetView eth{};
    LinuxSllView sll{};
    NullLinkView null_link{};
    // Layer::Link of DLT 226, 242, and 258/149 (PKTAP: Layer::Link may also be the inner one's).
    IpnetView ipnet{};
    IpoibView ipoib{};
    PktapView pktap{};
    // 802.11: the radio header (Layer::Radiotap; radiotap fields only for DLT 127),
    // the MAC header and its kind (Layer::Wlan), and the LLC/SNAP header (Layer::Llc,
    // also after an 802.3 length field and on ATM).
    RadiotapView radiotap{};
    RadioHeaderView radio{};
    WlanView wlan{};
    WlanKind wlan_kind = WlanKind::Data;
    LlcView llc{};
    std::uint8_t vlan_count = 0;
    VlanTag vlans[kMaxVlanTags] = {};
    std::uint16_t ethertype = 0;  // the network protocol after link header and tags; 0 if none

    // Link layers and shims other than Ethernet, SLL and null (each valid when has() its Layer).
    PppView ppp{};
    PppoeView pppoe{};
    ChdlcView chdlc{};
    FrameRelayView frelay{};
    SlipView slip{};
    NflogView nflog{};
    MplsStackView mpls{};  // labels of every stack met, in order (a pseudowire may hold another)
    PbbView pbb{};
    VnTagView vntag{};
    FabricPathView fabricpath{};
    EthernetView inner_eth{};  // the customer frame of PBB, FabricPath or an MPLS pseudowire
    bool has_inner_eth = false;

    ArpView arp{};
    std::uint8_t ip_version = 0;  // 4 or 6 once an IP header decoded
    Ipv4View ip4{};
    Ipv6View ip6{};
    Ipv6Chain ip6_chain{};
    std::uint8_t ip_proto = 0;       // upper-layer protocol, after IPv6 extension headers
    bool ip_fragment = false;        // part of a fragmented datagram
    bool ip_later_fragment = false;  // not the first fragment: no upper-layer header here

    TcpView tcp{};
    UdpView udp{};
    IcmpView icmp{};
    // An ICMP error's quoted datagram (set whenever Icmp/Icmpv6 decoded;
    // `bytes` empty when the message is no error or its quote did not decode).
    IcmpQuoteView icmp_quote{};

    // Upper-layer payload: captured bytes and how long it was on the wire.
    Bytes payload{};
    std::uint32_t payload_wire_len = 0;

    // A packet carried inside this one (decode/tunnels.hpp): its bytes, for
    // the caller to decode as a packet of its own.
    using Encap = wl::Encap;
    Encap encap = Encap::None;
    Bytes encap_bytes{};
    std::uint32_t encap_wire_len = 0;
    TunnelKind encap_kind = TunnelKind::None;
    const char* encap_name = nullptr;  // tunnel_name(encap_kind): "ipip", "gre", "vxlan", ...

    // What was wrong, in decoding order; empty for a clean packet.
    DecodeEvents events{};
    // The first event: what packet lines and malformed_by report. None for a clean packet.
    Layer error_layer = Layer::None;
    DecodeError error = DecodeError::None;
    bool malformed() const { return !events.empty(); }
    bool unsupported_link = false;
    // --verify-checksums: the TCP or UDP checksum, when it could be checked
    // (whole segment captured, not a fragment, UDP's not 0 over IPv4).
    L4Checksum l4_checksum = L4Checksum::Unchecked;
    // Set by the pipeline, not by decode(): the bad TCP/UDP checksum is taken
    // for checksum offload on its sender, and the packet analysed anyway.
    bool checksum_offload = false;

    // Source and destination as raw address bytes (4 or 16), valid when ip_version != 0.
    const std::uint8_t* ip_src() const { return ip_version == 4 ? ip4.src() : ip6.src(); }
    const std::uint8_t* ip_dst() const { return ip_version == 4 ? ip4.dst() : ip6.dst(); }
    std::uint8_t ip_ttl() const { return ip_version == 4 ? ip4.ttl() : ip6.hop_limit(); }
};

struct DecodeOptions {
    bool verify_checksums = false;
};

// Decodes `frame` (the captured bytes, caplen = frame.size()) into `pkt`.
// Never reads outside `frame`; on a malformed header it records the layer and
// event and keeps the layers decoded before it (and the header itself when the
// event does not stop decoding).
void decode(Bytes frame, Packet& pkt, const DecodeOptions& opts = {});

}  // namespace wl
