// What the two DataStream interop peers (qt_datastream_peer.cpp, built with
// Qt, and tether_datastream_peer.cpp, built with tether) must agree on: the
// formats of the corpus, the file names and the text of a dump. Standard C++
// only, so that the Qt peer can use it without tether.
#pragma once

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace datastream_peer {

// The newest format both sides write: Qt_6_10.
constexpr int kNewestFormat = 23;
// The format malformed inputs are read at: Qt_6_0 (Qt 5 does not name it).
constexpr int kMalformedFormat = 20;

inline std::string hexOf(const char* data, std::size_t size) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < size; ++i) {
    out += digits[static_cast<unsigned char>(data[i]) >> 4];
    out += digits[static_cast<unsigned char>(data[i]) & 0xf];
  }
  return out;
}

inline std::string fmt(const char* format, unsigned long long value) {
  char text[64];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

// Hash-ordered containers are dumped sorted: the iteration orders of QHash
// and std::unordered_map have nothing in common.
inline std::string sortedItems(std::vector<std::string> items, const char* open, const char* close) {
  std::sort(items.begin(), items.end());
  std::string out = open;
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + items[i];
  return out + close;
}

// One corpus file per format version and byte order: "v07-le".
struct Combo {
  int version;
  bool littleEndian;
  std::string name() const {
    char text[16];
    std::snprintf(text, sizeof text, "v%02d-%s", version, littleEndian ? "le" : "be");
    return text;
  }
};

inline std::vector<Combo> combos() {
  std::vector<Combo> all;
  for (int v = 1; v <= kNewestFormat; ++v) {
    all.push_back({v, false});
    all.push_back({v, true});
  }
  return all;
}

// A line of a corpus dump, and the last line.
inline std::string recordLine(const char* name, const std::string& value, int status) {
  return std::string(name) + ": " + value + " | status=" + std::to_string(status) + "\n";
}
inline std::string endLine(bool atEnd) { return std::string("atEnd=") + (atEnd ? "true" : "false") + "\n"; }

// The dump of one malformed input.
inline std::string malformedLine(const std::string& value, int status, bool atEnd) {
  return value + " | status=" + std::to_string(status) + " atEnd=" + (atEnd ? "true" : "false") + "\n";
}

}  // namespace datastream_peer
