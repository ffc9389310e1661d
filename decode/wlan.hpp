// IEEE 802.11 (Wi-Fi) MAC headers and the radio headers monitor-mode
// captures put in front of them: radiotap (little-endian, self-describing),
// Prism (fixed 144 bytes) and AVS (a declared length, big-endian).
#pragma once

#include "decode/bytes.hpp"
#include "decode/events.hpp"

namespace wl {

// Radiotap (radiotap.org): version, pad, length (le16), present bitmaps
// (le32, bit 31: another bitmap follows), then the fields of the first bitmap
// in bit order, each aligned to its own size.
namespace field::radiotap {
inline constexpr std::size_t kVersion = 0;
inline constexpr std::size_t kLen = 2;      // 2 bytes, little-endian: the whole header
inline constexpr std::size_t kPresent = 4;  // 4 bytes, little-endian, repeated while bit 31 is set
inline constexpr std::size_t kFixed = 8;
inline constexpr std::uint32_t kPresentExt = 0x80000000u;
inline constexpr std::uint32_t kTsft = 1u << 0;       // 8 bytes, aligned 8
inline constexpr std::uint32_t kFlags = 1u << 1;      // 1 byte
inline constexpr std::uint32_t kRate = 1u << 2;       // 1 byte
inline constexpr std::uint32_t kChannel = 1u << 3;    // frequency (le16) + flags (le16), aligned 2
inline constexpr std::uint32_t kFhss = 1u << 4;       // 2 bytes
inline constexpr std::uint32_t kDbmSignal = 1u << 5;  // 1 byte, signed dBm
inline constexpr std::uint8_t kFlagFcs = 0x10;        // the frame ends with its 4-byte FCS
inline constexpr std::uint8_t kFlagDataPad = 0x20;    // 802.11 header padded to 4 bytes
}  // namespace field::radiotap

struct RadiotapView {
    Bytes bytes;
    std::uint16_t len;   // header length, it_len
    std::uint8_t flags;  // 0 when the flags field is absent
    std::uint16_t freq;  // channel frequency in MHz, 0 when absent
    std::int8_t signal;  // dBm, valid when has_signal
    bool has_signal;

    static DecodeError parse(Bytes buf, RadiotapView& out) {
        using namespace field::radiotap;
        if (buf.size() < kFixed) return DecodeError::Truncated;
        if (buf[kVersion] != 0) return DecodeError::BadVersion;
        const std::size_t len = load_le16(buf.data() + kLen);
        if (len < kFixed) return DecodeError::BadHeaderLength;
        if (len > buf.size()) return DecodeError::Truncated;
        const std::uint32_t present = load_le32(buf.data() + kPresent);
        std::size_t at = kPresent;
        for (std::uint32_t p = present; p & kPresentExt; p = load_le32(buf.data() + at)) {
            at += 4;
            if (at + 4 > len) return DecodeError::BadHeaderLength;
        }
        at += 4;  // the fields of the first bitmap start here
        out.flags = 0;
        out.freq = 0;
        out.signal = 0;
        out.has_signal = false;
        // Each field in bit order; a field that does not fit in the header is bad.
        auto take = [&](std::uint32_t bit, std::size_t align, std::size_t size) {
            if (!(present & bit)) return std::size_t{0};
            at = (at + align - 1) & ~(align - 1);
            if (at + size > len) return std::size_t{SIZE_MAX};
            const std::size_t where = at;
            at += size;
            return where;
        };
        const std::size_t tsft = take(kTsft, 8, 8);
        const std::size_t flags = take(kFlags, 1, 1);
        const std::size_t rate = take(kRate, 1, 1);
        const std::size_t channel = take(kChannel, 2, 4);
        const std::size_t fhss = take(kFhss, 2, 2);
        const std::size_t signal = take(kDbmSignal, 1, 1);
        for (std::size_t w : {tsft, flags, rate, channel, fhss, signal}) {
            if (w == SIZE_MAX) return DecodeError::BadHeaderLength;
        }
        if (flags) out.flags = buf[flags];
        if (channel) out.freq = load_le16(buf.data() + channel);
        if (signal) {
            out.signal = static_cast<std::int8_t>(buf[signal]);
            out.has_signal = true;
        }
        out.bytes = buf;
        out.len = static_cast<std::uint16_t>(len);
        return DecodeError::None;
    }
    bool has_fcs() const { return (flags & field::radiotap::kFlagFcs) != 0; }
    bool data_pad() const { return (flags & field::radiotap::kFlagDataPad) != 0; }
    std::size_t header_len() const { return len; }
};

// Prism (wlan-ng, DLT_PRISM_HEADER): message code, length, device name, then
// ten 12-byte items; libpcap and Wireshark take 144 bytes. A DLT 119 capture
// may hold AVS headers instead: they start with the AVS magic.
namespace field::prism {
inline constexpr std::size_t kMsgCode = 0;  // 4 bytes
inline constexpr std::size_t kHeaderLen = 144;
}  // namespace field::prism

// AVS (DLT_IEEE802_11_RADIO_AVS): big-endian version (magic 0x8021100x) and
// header length, then radio fields; the 802.11 frame follows the header.
namespace field::avs {
inline constexpr std::size_t kVersion = 0;  // 4 bytes
inline constexpr std::size_t kLen = 4;      // 4 bytes: the whole header
inline constexpr std::size_t kFixed = 8;
inline constexpr std::uint32_t kMagicMask = 0xfffffff0u;
inline constexpr std::uint32_t kMagic = 0x80211000u;
inline bool is_avs(Bytes buf) {
    return buf.size() >= 4 && (load_be32(buf.data() + kVersion) & kMagicMask) == kMagic;
}
}  // namespace field::avs

// The Prism or AVS header: only its length matters for decoding.
struct RadioHeaderView {
    Bytes bytes;
    std::uint32_t len;

    static DecodeError parse_prism(Bytes buf, RadioHeaderView& out) {
        if (buf.size() < field::prism::kHeaderLen) return DecodeError::Truncated;
        out.bytes = buf;
        out.len = field::prism::kHeaderLen;
        return DecodeError::None;
    }
    static DecodeError parse_avs(Bytes buf, RadioHeaderView& out) {
        using namespace field::avs;
        if (buf.size() < kFixed) return DecodeError::Truncated;
        if (!is_avs(buf)) return DecodeError::BadVersion;
        const std::uint32_t len = load_be32(buf.data() + kLen);
        if (len < kFixed) return DecodeError::BadHeaderLength;
        if (len > buf.size()) return DecodeError::Truncated;
        out.bytes = buf;
        out.len = len;
        return DecodeError::None;
    }
    std::size_t header_len() const { return len; }
};

// The 802.11 MAC header. Frame control: byte 0 version (2 bits), type (2),
// subtype (4); byte 1 flags.
namespace field::wlan {
inline constexpr std::size_t kFrameControl = 0;  // 2 bytes
inline constexpr std::size_t kFlags = 1;
inline constexpr std::size_t kDuration = 2;  // 2 bytes, little-endian
inline constexpr std::size_t kAddr1 = 4;
inline constexpr std::size_t kAddr2 = 10;
inline constexpr std::size_t kAddr3 = 16;
inline constexpr std::size_t kSeqCtl = 22;    // 2 bytes, little-endian: fragment (4 bits), sequence
inline constexpr std::size_t kAddr4 = 24;     // data frames with To DS and From DS
inline constexpr std::size_t kShortCtl = 10;  // control frames with one address (CTS, ACK)
inline constexpr std::size_t kLongCtl = 16;   // control frames with two (RTS, block ack...)
inline constexpr std::size_t kMgmtHeader = 24;
inline constexpr std::size_t kDataHeader = 24;
inline constexpr std::size_t kAddrLen = 6;
inline constexpr std::size_t kQosLen = 2;  // QoS control, little-endian
inline constexpr std::size_t kHtcLen = 4;  // HT control, when Order is set on a QoS data frame
inline constexpr std::uint8_t kToDs = 0x01;
inline constexpr std::uint8_t kFromDs = 0x02;
inline constexpr std::uint8_t kProtected = 0x40;
inline constexpr std::uint8_t kOrder = 0x80;
inline constexpr std::uint8_t kTypeManagement = 0;
inline constexpr std::uint8_t kTypeControl = 1;
inline constexpr std::uint8_t kTypeData = 2;
inline constexpr std::uint8_t kTypeExtension = 3;
inline constexpr std::uint8_t kSubtypeQos = 0x08;     // data subtypes 8-15
inline constexpr std::uint8_t kSubtypeNoData = 0x04;  // null, CF-Ack/Poll without data
inline constexpr std::uint8_t kSubtypeCts = 0x0c;
inline constexpr std::uint8_t kSubtypeAck = 0x0d;
inline constexpr std::uint16_t kQosAmsdu = 0x0080;        // A-MSDU present
inline constexpr std::uint16_t kQosMeshControl = 0x0100;  // mesh control field follows
// A-MSDU subframe header: DA, SA, length (big-endian), then LLC.
inline constexpr std::size_t kAmsduDa = 0;
inline constexpr std::size_t kAmsduSa = 6;
inline constexpr std::size_t kAmsduLen = 12;
inline constexpr std::size_t kAmsduHeader = 14;
// 802.11s mesh control: flags (address extension mode in bits 0-1), TTL,
// sequence number (4), then 0, 1 or 2 extra addresses.
inline constexpr std::size_t kMeshFixed = 6;
}  // namespace field::wlan

// What kind of 802.11 frame: the counters' categories.
enum class WlanKind : std::uint8_t {
    Data,        // data frame carrying a payload
    QosData,     // QoS data frame carrying a payload
    NoData,      // null function and other data subtypes without a body
    Protected,   // data frame with the Protected bit: encrypted, not decoded
    Management,  // beacons, probes, (de)authentication...
    Control,     // RTS, CTS, ACK, block ack...
    Extension,   // type 3 (DMG beacon, S1G)
    Count
};

struct WlanView {
    Bytes bytes;
    std::uint8_t header_len_;  // MAC header, before any radiotap data padding

    static DecodeError parse(Bytes buf, WlanView& out) {
        using namespace field::wlan;
        if (buf.size() < kShortCtl) return DecodeError::Truncated;
        const std::uint8_t fc = buf[kFrameControl];
        const std::uint8_t flags = buf[kFlags];
        const std::uint8_t type = (fc >> 2) & 3;
        const std::uint8_t subtype = fc >> 4;
        std::size_t len = kShortCtl;
        if (type == kTypeData) {
            len = kDataHeader;
            if ((flags & (kToDs | kFromDs)) == (kToDs | kFromDs)) len += kAddrLen;
            if (subtype & kSubtypeQos) {
                len += kQosLen;
                if (flags & kOrder) len += kHtcLen;
            }
        } else if (type == kTypeManagement) {
            len = kMgmtHeader + ((flags & kOrder) ? kHtcLen : 0);
        } else if (type == kTypeControl) {
            len = subtype == kSubtypeCts || subtype == kSubtypeAck ? kShortCtl : kLongCtl;
        }
        if (buf.size() < len) return DecodeError::Truncated;
        out.bytes = buf;
        out.header_len_ = static_cast<std::uint8_t>(len);
        return DecodeError::None;
    }

    std::uint8_t frame_control() const { return *view_at(bytes, field::wlan::kFrameControl); }
    std::uint8_t flags() const { return *view_at(bytes, field::wlan::kFlags); }
    std::uint8_t type() const { return (frame_control() >> 2) & 3; }
    std::uint8_t subtype() const { return frame_control() >> 4; }
    std::uint16_t duration() const { return load_le16(view_at(bytes, field::wlan::kDuration)); }
    bool to_ds() const { return (flags() & field::wlan::kToDs) != 0; }
    bool from_ds() const { return (flags() & field::wlan::kFromDs) != 0; }
    bool is_protected() const { return (flags() & field::wlan::kProtected) != 0; }
    bool is_data() const { return type() == field::wlan::kTypeData; }
    bool is_qos() const { return is_data() && (subtype() & field::wlan::kSubtypeQos) != 0; }
    bool has_body() const { return is_data() && (subtype() & field::wlan::kSubtypeNoData) == 0; }
    bool four_addr() const { return is_data() && to_ds() && from_ds(); }
    bool has_htc() const { return is_qos() && (flags() & field::wlan::kOrder) != 0; }
    std::size_t header_len() const { return header_len_; }
    WlanKind kind() const {
        switch (type()) {
            case field::wlan::kTypeManagement:
                return WlanKind::Management;
            case field::wlan::kTypeControl:
                return WlanKind::Control;
            case field::wlan::kTypeExtension:
                return WlanKind::Extension;
            default:
                if (!has_body()) return WlanKind::NoData;
                if (is_protected()) return WlanKind::Protected;
                return is_qos() ? WlanKind::QosData : WlanKind::Data;
        }
    }

    // Addresses: addr1 is always there; addr2 except in CTS/ACK; addr3 and the
    // sequence control in management and data frames; addr4 in 4-address data.
    const std::uint8_t* addr1() const { return view_at(bytes, field::wlan::kAddr1); }
    bool has_addr2() const { return header_len_ >= field::wlan::kLongCtl; }
    const std::uint8_t* addr2() const { return view_at(bytes, field::wlan::kAddr2); }
    bool has_addr3() const { return header_len_ >= field::wlan::kMgmtHeader; }
    const std::uint8_t* addr3() const { return view_at(bytes, field::wlan::kAddr3); }
    const std::uint8_t* addr4() const { return view_at(bytes, field::wlan::kAddr4); }
    std::uint16_t seq_ctl() const { return load_le16(view_at(bytes, field::wlan::kSeqCtl)); }
    std::uint16_t sequence() const { return seq_ctl() >> 4; }
    std::uint16_t qos_control() const {  // QoS data only
        return load_le16(view_at(bytes, field::wlan::kDataHeader + (four_addr() ? 6 : 0)));
    }
    bool amsdu() const { return is_qos() && (qos_control() & field::wlan::kQosAmsdu) != 0; }

    // Receiver and transmitter (tshark's wlan.ra, wlan.ta) and, for management
    // and data frames, BSSID, source and destination by To DS / From DS. A
    // 4-address frame (WDS, mesh) has no BSSID; its SA is addr4.
    const std::uint8_t* ra() const { return addr1(); }
    const std::uint8_t* ta() const { return has_addr2() ? addr2() : nullptr; }
    const std::uint8_t* bssid() const {
        if (!has_addr3() || four_addr()) return nullptr;
        if (!is_data() || (!to_ds() && !from_ds())) return addr3();
        return to_ds() ? addr1() : addr2();
    }
    const std::uint8_t* sa() const {
        if (!has_addr3()) return nullptr;
        if (!is_data()) return addr2();
        if (four_addr()) return addr4();
        return from_ds() ? addr3() : addr2();
    }
    const std::uint8_t* da() const {
        if (!has_addr3()) return nullptr;
        if (!is_data()) return addr1();
        return to_ds() ? addr3() : addr1();
    }
};

}  // namespace wl
