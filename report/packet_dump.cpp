#include "report/packet_dump.hpp"

#include <algorithm>

#include "report/format.hpp"

namespace wl {

namespace {

constexpr std::size_t kLineBytes = 16;

bool printable(std::uint8_t b) {
    return b > 0x20 && b < 0x7f;  // a space shows as '.' beside the hex, as in tcpdump -X
}

// "\t0x0010: " (more digits past 0xffff).
char* put_offset(char* p, std::size_t offset) {
    *p++ = '\t';
    *p++ = '0';
    *p++ = 'x';
    int digits = 4;
    while (digits < 16 && (offset >> (4 * digits)) != 0)
        ++digits;
    for (int s = 4 * (digits - 1); s >= 0; s -= 4)
        *p++ = fmt::kHex[(offset >> s) & 15];
    *p++ = ':';
    *p++ = ' ';
    return p;
}

// Up to 16 bytes: " 4500 003c ..." (an odd last byte alone); returns the end.
char* put_hex_groups(char* p, const std::uint8_t* b, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        if ((i & 1) == 0) *p++ = ' ';
        *p++ = fmt::kHex[b[i] >> 4];
        *p++ = fmt::kHex[b[i] & 15];
    }
    return p;
}

void put_hex_lines(OutBuffer& out, Bytes bytes, bool ascii) {
    constexpr std::size_t kHexWidth = kLineBytes / 2 * 5;  // " xxxx" per two bytes
    for (std::size_t at = 0; at < bytes.size(); at += kLineBytes) {
        const std::size_t n = std::min(kLineBytes, bytes.size() - at);
        const std::uint8_t* b = bytes.data() + at;
        char* const start = out.reserve(128);
        char* p = put_offset(start, at);
        char* const hex = p;
        p = put_hex_groups(p, b, n);
        if (ascii) {
            while (p < hex + kHexWidth)
                *p++ = ' ';
            *p++ = ' ';
            *p++ = ' ';
            for (std::size_t i = 0; i < n; ++i)
                *p++ = printable(b[i]) ? static_cast<char>(b[i]) : '.';
        }
        *p++ = '\n';
        out.commit(p);
    }
}

// -A: the bytes as text; what is not printable is '.', but tabs, spaces and
// line ends stay, and a carriage return ending a line (or the bytes) is left out.
void put_ascii(OutBuffer& out, Bytes bytes) {
    constexpr std::size_t kChunk = 1024;
    for (std::size_t at = 0; at < bytes.size(); at += kChunk) {
        const std::size_t n = std::min(kChunk, bytes.size() - at);
        char* const start = out.reserve(kChunk);
        char* p = start;
        for (std::size_t i = at; i < at + n; ++i) {
            const std::uint8_t c = bytes[i];
            if (c == '\r') {
                // tcpdump -A's rule, kept for scripts that compare: a '.' only
                // with two bytes or more after it, the first no line end.
                if (i + 2 >= bytes.size() || bytes[i + 1] == '\n') continue;
                *p++ = '.';
            } else if (printable(c) || c == ' ' || c == '\t' || c == '\n') {
                *p++ = static_cast<char>(c);
            } else {
                *p++ = '.';
            }
        }
        out.commit(p);
    }
    out.put('\n');
}

}  // namespace

std::size_t link_header_len(const Packet& pkt, Bytes frame) {
    std::size_t n = 0;
    switch (pkt.linktype) {
        case linktype::kEthernet:
            n = EthernetView::kHeaderLen;
            if (frame.size() >= n) {
                // The tags right after the MAC addresses belong to the link header.
                std::uint16_t type = load_be16(frame.data() + field::ethernet::kType);
                while (ethertype::is_vlan(type) && n + field::vlan::kLen <= frame.size()) {
                    type = load_be16(frame.data() + n + field::vlan::kType);
                    n += field::vlan::kLen;
                }
                // An 802.3 length: the LLC header too (SNAP's 8 bytes; 3, or 4
                // with an I- or S-format control field), as tcpdump counts it.
                if (type < ethertype::kMinEthertype && n + 3 <= frame.size()) {
                    const std::uint8_t* llc = frame.data() + n;
                    if (llc[0] == 0xaa && llc[1] == 0xaa && llc[2] == 0x03) {
                        n += 8;
                    } else if (llc[0] != 0xff || llc[1] != 0xff) {  // not Novell's raw 802.3
                        n += (llc[2] & 3) == 3 ? 3 : 4;
                    }
                }
            }
            break;
        case linktype::kLinuxSll:
            n = 16;
            break;
        case linktype::kLinuxSll2:
            n = 20;
            break;
        case linktype::kNull:
        case linktype::kLoop:
            n = 4;
            break;
        case linktype::kRaw:
        case linktype::kRawBsd:
        case linktype::kRawLinktype:
        case linktype::kIpv4:
        case linktype::kIpv6:
            n = 0;
            break;
        default: {
            // The first network header found inside the frame, else the whole frame.
            const std::uint8_t* net = nullptr;
            if (pkt.ip_version == 4) {
                net = pkt.ip4.bytes.data();
            } else if (pkt.ip_version == 6) {
                net = pkt.ip6.bytes.data();
            } else if (pkt.has(Layer::Arp)) {
                net = pkt.arp.bytes.data();
            }
            if (net != nullptr && net >= frame.data() && net <= frame.data() + frame.size()) {
                n = static_cast<std::size_t>(net - frame.data());
            }
            break;
        }
    }
    return std::min(n, frame.size());
}

void write_packet_dump(OutBuffer& out, const Packet& pkt, Bytes frame, PacketDumpStyle style) {
    if (style.kind == PacketDump::None) return;
    const Bytes bytes = style.link ? frame : frame.subspan(link_header_len(pkt, frame));
    if (bytes.empty()) return;
    switch (style.kind) {
        case PacketDump::Hex:
            put_hex_lines(out, bytes, false);
            break;
        case PacketDump::HexAscii:
            put_hex_lines(out, bytes, true);
            break;
        case PacketDump::Ascii:
            put_ascii(out, bytes);
            break;
        case PacketDump::None:
            break;
    }
}

}  // namespace wl
