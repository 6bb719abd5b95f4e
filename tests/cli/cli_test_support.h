// Helpers of the tests in tests/cli: the binaries under test, the first line
// of a server ("port N" / "name NAME"), unique local socket names, programs
// run inside a network namespace. Child processes are tests/tool's Process
// (output read line by line against a deadline, killed when the test ends).
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/netns.h"
#include "tool_test_support.h"

namespace tether::clitest {

namespace tooltest = tether::tooltest;
using tooltest::Process;
using tooltest::RunResult;

inline std::string tetherBinary() { return TETHER_CLI; }
inline std::string qtFortunePeer() { return TETHER_QT_FORTUNE_PEER; }

// argv of `tether ARGS...`
inline std::vector<std::string> tetherCmd(std::vector<std::string> args) {
  args.insert(args.begin(), tetherBinary());
  return args;
}

// argv run inside namespace `ns` (ip netns exec, which execs it in place:
// signals sent to the process reach the program).
inline std::vector<std::string> inNamespace(const test::Namespace& ns, std::vector<std::string> argv) {
  argv.insert(argv.begin(), {test::ipTool(), "netns", "exec", ns.name()});
  return argv;
}

// The port a server printed on its first line ("port N", or the "port" of a
// JSON line); 0 when the line did not come in time or is something else.
inline std::uint16_t readPort(Process& process, int timeoutMs = 10000) {
  const std::optional<std::string> line = process.readLine(timeoutMs);
  if (!line) return 0;
  if (line->rfind("port ", 0) == 0) return static_cast<std::uint16_t>(std::stoul(line->substr(5)));
  const nlohmann::json event = nlohmann::json::parse(*line, nullptr, false);
  if (event.is_object() && event.contains("port")) return event["port"].get<std::uint16_t>();
  return 0;
}

// A local socket name no other test (or test process) uses.
inline std::string uniqueLocalName(const std::string& label) {
  static std::atomic<int> counter{0};
  return "tether-cli-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" + label;
}

// The JSON lines of `text` (other lines skipped).
inline std::vector<nlohmann::json> jsonLines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    nlohmann::json j = nlohmann::json::parse(text.substr(start, end - start), nullptr, false);
    if (j.is_object()) out.push_back(std::move(j));
    start = end + 1;
  }
  return out;
}

}  // namespace tether::clitest
