// `tether lookup NAME`: the addresses of a host (HostInfo, as QHostInfo
// looks them up: the hosts file, then DNS), or DNS records of one type
// (DnsLookup, as QDnsLookup asks), optionally from a given DNS server.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "command_support.h"
#include "commands.h"
#include "tether/dns_lookup.h"
#include "tether/event_loop.h"
#include "tether/host_info.h"
#include "tether/timer.h"

namespace tether::cli {

namespace {

struct LookupOptions {
  std::string name;
  std::string type;  // empty: a host lookup
  std::string server;
  int timeoutMs = 10000;
  bool json = false;
};

const std::vector<std::pair<std::string, DnsLookup::Type>> kTypes{
    {"A", DnsLookup::A},   {"AAAA", DnsLookup::AAAA}, {"ANY", DnsLookup::ANY}, {"CNAME", DnsLookup::CNAME},
    {"MX", DnsLookup::MX}, {"NS", DnsLookup::NS},     {"PTR", DnsLookup::PTR}, {"SRV", DnsLookup::SRV},
    {"TXT", DnsLookup::TXT}};

// The reverse-lookup name of an address: "4.3.2.1.in-addr.arpa" for
// 1.2.3.4, the nibbles of an IPv6 address under ip6.arpa.
std::string reverseName(const HostAddress& address) {
  std::string name;
  if (address.protocol() == NetworkLayerProtocol::IPv4Protocol) {
    const std::uint32_t ip = address.toIPv4Address();
    for (int shift = 0; shift < 32; shift += 8) name += fmt::format("{}.", (ip >> shift) & 0xff);
    return name + "in-addr.arpa";
  }
  const IPv6Address bytes = address.toIPv6Address();
  for (int i = 15; i >= 0; --i) name += fmt::format("{:x}.{:x}.", bytes[i] & 0xf, bytes[i] >> 4);
  return name + "ip6.arpa";
}

// "text" as a TXT string in zone-file form.
std::string quoted(const std::string& bytes) {
  std::string out = "\"";
  for (char c : printableText(bytes)) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

class Lookup {
 public:
  Lookup(const LookupOptions& options, const Reporter& out) : options_(options), out_(out) {}

  int run() {
    std::optional<std::pair<HostAddress, std::uint16_t>> server;
    if (!options_.server.empty()) {
      server = parseAddressAndPort(options_.server);
      if (!server) {
        out_.error("not a DNS server address: " + options_.server + " (expected ADDRESS, ADDRESS:PORT or [IPv6]:PORT)");
        return kExitUsage;
      }
    }
    // Give up at the deadline; the resolver asks twice within it.
    HostInfo::setResolverTimeout(std::max(options_.timeoutMs / 3, 1), 2);
    if (options_.type.empty()) return lookupHost(server);
    return lookupRecords(server);
  }

 private:
  int lookupHost(const std::optional<std::pair<HostAddress, std::uint16_t>>& server) {
    if (server) HostInfo::setNameServers({*server});
    int status = kExitFailed;
    const int id = HostInfo::lookupHost(options_.name, [&](const HostInfo& info) {
      status = reportHost(info);
      loop_.quit();
    });
    Timer::singleShot(options_.timeoutMs, &loop_, [&] {
      HostInfo::abortHostLookup(id);
      out_.error(fmt::format("no answer for {} within {} ms", options_.name, options_.timeoutMs));
      status = kExitNetwork;
      loop_.quit();
    });
    loop_.exec();
    return status;
  }

  int reportHost(const HostInfo& info) {
    if (info.error() != HostInfo::NoError) {
      out_.error(fmt::format("cannot resolve {}: {}", options_.name, info.errorString()));
      return kExitNetwork;
    }
    std::vector<std::string> addresses;
    for (const HostAddress& a : info.addresses()) addresses.push_back(a.toString());
    if (out_.json()) {
      out_.print({{"event", "addresses"}, {"name", options_.name}, {"addresses", addresses}}, "");
    } else {
      for (const std::string& a : addresses) out_.print({}, a);
    }
    return kExitOk;
  }

  int lookupRecords(const std::optional<std::pair<HostAddress, std::uint16_t>>& server) {
    DnsLookup::Type type = DnsLookup::A;
    for (const auto& [typeName, value] : kTypes)
      if (typeName == options_.type) type = value;
    std::string name = options_.name;
    // An address given for a PTR lookup means its reverse name.
    if (const HostAddress address(name); type == DnsLookup::PTR && !address.isNull()) name = reverseName(address);
    DnsLookup dns(type, name);
    if (server) dns.setNameserver(server->first, server->second);
    dns.setLookupTimeout(options_.timeoutMs);
    dns.finished.connect([&] { loop_.quit(); });
    dns.lookup();
    loop_.exec();
    if (dns.error() != DnsLookup::NoError) {
      out_.error(fmt::format("cannot look up {} records of {}: {}", options_.type, name, dns.errorString()));
      return kExitNetwork;
    }
    reportRecords(dns, name);
    return kExitOk;
  }

  void reportRecords(const DnsLookup& dns, const std::string& name) {
    nlohmann::json records = nlohmann::json::array();
    std::vector<std::string> lines;
    auto add = [&](const std::string& owner, std::uint32_t ttl, const char* type, nlohmann::json fields,
                   const std::string& value) {
      fields["type"] = type;
      fields["name"] = owner;
      fields["ttl"] = ttl;
      records.push_back(std::move(fields));
      lines.push_back(fmt::format("{}\t{}\tIN\t{}\t{}", owner, ttl, type, value));
    };
    for (const auto& r : dns.canonicalNameRecords()) add(r.name(), r.timeToLive(), "CNAME", {{"value", r.value()}}, r.value());
    for (const auto& r : dns.hostAddressRecords()) {
      const std::string value = r.value().toString();
      const bool v4 = r.value().protocol() == NetworkLayerProtocol::IPv4Protocol;
      add(r.name(), r.timeToLive(), v4 ? "A" : "AAAA", {{"value", value}}, value);
    }
    for (const auto& r : dns.mailExchangeRecords())
      add(r.name(), r.timeToLive(), "MX", {{"preference", r.preference()}, {"exchange", r.exchange()}},
          fmt::format("{} {}", r.preference(), r.exchange()));
    for (const auto& r : dns.nameServerRecords()) add(r.name(), r.timeToLive(), "NS", {{"value", r.value()}}, r.value());
    for (const auto& r : dns.pointerRecords()) add(r.name(), r.timeToLive(), "PTR", {{"value", r.value()}}, r.value());
    for (const auto& r : dns.serviceRecords())
      add(r.name(), r.timeToLive(), "SRV",
          {{"priority", r.priority()}, {"weight", r.weight()}, {"port", r.port()}, {"target", r.target()}},
          fmt::format("{} {} {} {}", r.priority(), r.weight(), r.port(), r.target()));
    for (const auto& r : dns.textRecords()) {
      std::vector<std::string> values;
      for (const std::string& v : r.values()) values.push_back(quoted(v));
      add(r.name(), r.timeToLive(), "TXT", {{"values", r.values()}}, fmt::format("{}", fmt::join(values, " ")));
    }
    if (out_.json()) {
      out_.print({{"event", "records"}, {"name", name}, {"type", options_.type}, {"records", records}}, "");
      return;
    }
    if (lines.empty()) {
      std::fprintf(stderr, "tether lookup: %s has no %s records\n", name.c_str(), options_.type.c_str());
      return;
    }
    for (const std::string& line : lines) out_.print({}, line);
  }

  const LookupOptions& options_;
  const Reporter& out_;
  EventLoop loop_;
};

}  // namespace

void addLookupCommand(CLI::App& app) {
  auto options = std::make_shared<LookupOptions>();
  CLI::App* cmd = app.add_subcommand(
      "lookup",
      "Look up a host's addresses (as QHostInfo: the hosts file, then DNS), or with --type its DNS records (as "
      "QDnsLookup). Exit status 3 when the name cannot be resolved.");
  cmd->add_option("name", options->name, "The host or domain name (for PTR also an IP address)")->required();
  std::vector<std::string> typeNames;
  for (const auto& [name, value] : kTypes) typeNames.push_back(name);
  cmd->add_option("-t,--type", options->type, "DNS record type to ask for; without it: the host's addresses")
      ->transform([](std::string text) {
        for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        return text;
      })
      ->check(CLI::IsMember(typeNames));
  cmd->add_option("-s,--server", options->server,
                  "DNS server to ask, as ADDRESS, ADDRESS:PORT or [IPv6]:PORT (default: the system's)");
  cmd->add_option("--timeout", options->timeoutMs, "Milliseconds to wait for the answer")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--json", options->json, "Print the result (or the error) as a JSON line");
  cmd->callback([options] {
    const Reporter out("lookup", options->json);
    const int status = Lookup(*options, out).run();
    if (status != kExitOk) exitWith(status);
  });
}

}  // namespace tether::cli
