// The decode-event table: names unique and documented, and what a packet
// records when a header raises an event that does not stop decoding.
#include <catch2/catch.hpp>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "decode/events.hpp"

using namespace wl;

namespace {

// README.md's "Malformed reasons" section: the layers and events a user can meet.
std::string readme_malformed_section() {
    std::ifstream in(std::string(WIRELENS_SOURCE_DIR) + "/README.md");
    REQUIRE(in);
    std::stringstream all;
    all << in.rdbuf();
    const std::string text = all.str();
    const std::size_t from = text.find("### Malformed reasons");
    REQUIRE(from != std::string::npos);
    const std::size_t to = text.find("\n## ", from);
    return text.substr(from, to == std::string::npos ? std::string::npos : to - from);
}

}  // namespace

TEST_CASE("decode events: every layer and event name is in the README", "[decode][events]") {
    const std::string doc = readme_malformed_section();
    for (std::size_t l = 1; l < static_cast<std::size_t>(Layer::Count); ++l) {
        const std::string name(layer_name(static_cast<Layer>(l)));
        INFO("layer " << name);
        CHECK(doc.find("`" + name + "`") != std::string::npos);
    }
    for (std::size_t e = 1; e < static_cast<std::size_t>(DecodeEvent::Count); ++e) {
        const std::string name(error_name(static_cast<DecodeEvent>(e)));
        INFO("event " << name);
        CHECK(doc.find("| `" + name + "` |") != std::string::npos);
    }
}

TEST_CASE("decode events: names are unique, None has no name to report", "[decode][events]") {
    std::set<std::string_view> layers, events;
    for (std::size_t l = 0; l < static_cast<std::size_t>(Layer::Count); ++l)
        CHECK(layers.insert(layer_name(static_cast<Layer>(l))).second);
    for (std::size_t e = 0; e < static_cast<std::size_t>(DecodeEvent::Count); ++e)
        CHECK(events.insert(error_name(static_cast<DecodeEvent>(e))).second);
    CHECK(layer_name(Layer::Count) == "?");
    CHECK(error_name(DecodeEvent::Count) == "?");
    CHECK(error_name(DecodeEvent::None) == "none");
    CHECK_FALSE(stops_decoding(DecodeEvent::None));
    CHECK(stops_decoding(DecodeEvent::Truncated));
    CHECK_FALSE(stops_decoding(DecodeEvent::BadOptionLength));
}

TEST_CASE("decode events: a packet keeps its events in order, without allocating",
          "[decode][events]") {
    DecodeEvents ev;
    CHECK(ev.empty());
    ev.add(Layer::Tcp, DecodeEvent::BadOptionLength);
    ev.add(Layer::Tcp, DecodeEvent::BadChecksum);
    REQUIRE(ev.count == 2);
    CHECK(ev.list[0].event == DecodeEvent::BadOptionLength);
    CHECK(ev.contains(Layer::Tcp, DecodeEvent::BadChecksum));
    CHECK_FALSE(ev.contains(Layer::Udp, DecodeEvent::BadChecksum));
    for (std::size_t i = 0; i < 2 * DecodeEvents::kMax; ++i)
        ev.add(Layer::Ipv4, DecodeEvent::Truncated);
    CHECK(ev.count == DecodeEvents::kMax);  // full: later events are not kept
    ev.clear();
    CHECK(ev.empty());
}
