// File-transfer benchmark: one file (1 GiB by default, page cache warm) sent
// over loopback by
//   tether   `tether send` -> `tether receive` (native protocol: sendfile,
//            SHA-256 on both sides, temporary file + rename; --no-fsync so
//            that no contender waits for the disk)
//   tether-nv the same with --no-verify (no SHA-256 on either side)
//   qt       qt_seed_sender -> qt_seed_receiver: seed 003's Qt client and
//            server, the same programs the tool's interop tests use
//   raw      file_transfer_raw: a sendfile(2) loop into a read(2)/write(2)
//            loop, no protocol and no checks (the physical limit)
// Repetitions are interleaved, each round starting with the next contender
// (tether, tether-nv, qt, raw; tether-nv, qt, raw, tether; ...), after one
// untimed warm-up round; every received file is compared with the source.
// A run is timed from the start of the sender to the exit of both sides
// (the receiver is listening before the clock starts).
//
//   file_transfer [--size BYTES] [--reps N] [--dir DIR] [--csv FILE]
//                 [--only NAME,...] [--fsync] [--pin] [--smoke]
//
// Prints a table (median, min, max, throughput, CPU seconds per side) and
// the ratios tether/qt and tether/raw. Exit status 1 if any run failed.
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Options {
  std::uint64_t size = std::uint64_t{1} << 30;
  int reps = 5;
  int warmup = 1;
  std::string dir;  // default: file-transfer-bench next to the driver
  std::string csv;
  std::vector<std::string> only;
  bool fsync = false;
  bool pin = false;
  std::string tether, qtSender, qtReceiver, raw;
};

// A child whose stdout is a pipe (for the "listening on port N" line).
struct Child {
  pid_t pid = -1;
  int out = -1;
  rusage usage{};
  int status = -1;
};

Child spawn(const std::vector<std::string>& argv, bool capture, int cpu) {
  Child c;
  int fds[2] = {-1, -1};
  if (capture && ::pipe2(fds, O_CLOEXEC) != 0) return c;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (capture) posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  else posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // The child inherits the CPU affinity of the driver at spawn time.
  cpu_set_t previous;
  if (cpu >= 0) {
    sched_getaffinity(0, sizeof previous, &previous);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    sched_setaffinity(0, sizeof one, &one);
  }
  if (posix_spawn(&c.pid, args[0], &actions, nullptr, args.data(), environ) != 0) c.pid = -1;
  if (cpu >= 0) sched_setaffinity(0, sizeof previous, &previous);
  posix_spawn_file_actions_destroy(&actions);
  if (capture) {
    ::close(fds[1]);
    c.out = fds[0];
  }
  return c;
}

// The first line of the child's stdout.
std::string firstLine(Child& c) {
  std::string line;
  char ch;
  while (::read(c.out, &ch, 1) == 1 && ch != '\n') line.push_back(ch);
  return line;
}

void reap(Child& c) {
  if (c.pid <= 0) return;
  int raw = 0;
  ::wait4(c.pid, &raw, 0, &c.usage);
  c.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
  if (c.out >= 0) ::close(c.out);
  c.out = -1;
}

double cpuSeconds(const rusage& u) {
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// A contender: how to start its receiver and sender, and where the file lands.
struct Contender {
  std::string name;
  std::vector<std::string> (*receiver)(const Options&, const std::string& dir);
  std::vector<std::string> (*sender)(const Options&, const std::string& file, int port);
  std::string (*landed)(const std::string& dir, const std::string& file);
};

std::string sameName(const std::string& dir, const std::string& file) {
  return dir + "/" + fs::path(file).filename().string();
}

const std::vector<Contender>& contenders() {
  static const std::vector<Contender> list{
      {"tether",
       [](const Options& o, const std::string& dir) {
         std::vector<std::string> a{o.tether, "receive", "--once", "-q", "--address", "127.0.0.1", "--port", "0",
                                    "--dir", dir};
         if (!o.fsync) a.emplace_back("--no-fsync");
         return a;
       },
       [](const Options& o, const std::string& file, int port) {
         return std::vector<std::string>{o.tether, "send", "-q", file, "127.0.0.1:" + std::to_string(port)};
       },
       sameName},
      {"tether-nv",  // --no-verify: the same without SHA-256 on either side
       [](const Options& o, const std::string& dir) {
         std::vector<std::string> a{o.tether, "receive", "--once", "-q", "--address", "127.0.0.1", "--port", "0",
                                    "--dir", dir};
         if (!o.fsync) a.emplace_back("--no-fsync");
         return a;
       },
       [](const Options& o, const std::string& file, int port) {
         return std::vector<std::string>{o.tether, "send", "-q", "--no-verify", file,
                                         "127.0.0.1:" + std::to_string(port)};
       },
       sameName},
      {"qt",
       [](const Options& o, const std::string& dir) { return std::vector<std::string>{o.qtReceiver, dir}; },
       [](const Options& o, const std::string& file, int port) {
         return std::vector<std::string>{o.qtSender, "127.0.0.1", std::to_string(port), file};
       },
       sameName},
      {"raw",
       [](const Options& o, const std::string& dir) { return std::vector<std::string>{o.raw, "receive", dir}; },
       [](const Options& o, const std::string& file, int port) {
         return std::vector<std::string>{o.raw, "send", file, "127.0.0.1", std::to_string(port)};
       },
       [](const std::string& dir, const std::string&) { return dir + "/raw.bin"; }},
      {"raw-splice",  // the same sender; the receiver splices socket -> pipe -> file (no user-space copy)
       [](const Options& o, const std::string& dir) {
         return std::vector<std::string>{o.raw, "receive-splice", dir};
       },
       [](const Options& o, const std::string& file, int port) {
         return std::vector<std::string>{o.raw, "send", file, "127.0.0.1", std::to_string(port)};
       },
       [](const std::string& dir, const std::string&) { return dir + "/raw.bin"; }},
  };
  return list;
}

bool sameContent(const std::string& a, const std::string& b, std::uint64_t size) {
  if (size == 0) return fs::file_size(b) == 0;
  const int fa = ::open(a.c_str(), O_RDONLY | O_CLOEXEC);
  const int fb = ::open(b.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat sb {};
  bool same = fa >= 0 && fb >= 0 && ::fstat(fb, &sb) == 0 && static_cast<std::uint64_t>(sb.st_size) == size;
  if (same) {
    void* ma = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fa, 0);
    void* mb = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fb, 0);
    same = ma != MAP_FAILED && mb != MAP_FAILED && std::memcmp(ma, mb, size) == 0;
    if (ma != MAP_FAILED) ::munmap(ma, size);
    if (mb != MAP_FAILED) ::munmap(mb, size);
  }
  if (fa >= 0) ::close(fa);
  if (fb >= 0) ::close(fb);
  return same;
}

struct Run {
  double seconds = 0;
  double senderCpu = 0;
  double receiverCpu = 0;
  bool ok = false;
};

Run runOnce(const Options& o, const Contender& c, const std::string& file) {
  Run r;
  const std::string dir = o.dir + "/recv-" + c.name;
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir);
  ::sync();  // the previous run's pages do not get written back during this one
  Child receiver = spawn(c.receiver(o, dir), true, o.pin ? 0 : -1);
  const std::string line = firstLine(receiver);
  const auto at = line.rfind("port ");
  const int port = at == std::string::npos ? 0 : std::atoi(line.c_str() + at + 5);
  if (port <= 0) {
    std::fprintf(stderr, "%s: receiver did not start: '%s'\n", c.name.c_str(), line.c_str());
    ::kill(receiver.pid, SIGKILL);
    reap(receiver);
    return r;
  }
  const auto start = Clock::now();
  Child sender = spawn(c.sender(o, file, port), false, o.pin ? 1 : -1);
  reap(sender);
  reap(receiver);
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.senderCpu = cpuSeconds(sender.usage);
  r.receiverCpu = cpuSeconds(receiver.usage);
  r.ok = sender.status == 0 && receiver.status == 0 && sameContent(file, c.landed(dir, file), o.size);
  if (!r.ok)
    std::fprintf(stderr, "%s: run failed (sender %d, receiver %d, content %s)\n", c.name.c_str(), sender.status,
                 receiver.status, r.ok ? "ok" : "differs or missing");
  fs::remove_all(dir, ec);
  return r;
}

void makeSource(const std::string& path, std::uint64_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  std::vector<std::uint64_t> block(1 << 17);  // 1 MiB
  std::uint64_t x = 0x9E3779B97F4A7C15ULL;
  for (std::uint64_t done = 0; done < size;) {
    for (auto& v : block) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      v = x;
    }
    const auto n = static_cast<std::streamsize>(std::min<std::uint64_t>(size - done, block.size() * 8));
    out.write(reinterpret_cast<const char*>(block.data()), n);
    done += static_cast<std::uint64_t>(n);
  }
}

// Reads the file once so that every contender finds it in the page cache.
void warmPageCache(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> buffer(1 << 20);
  while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0) {
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == ',') {
      if (i > start) out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  return out;
}

int usage() {
  std::fprintf(stderr,
               "usage: file_transfer [--size BYTES] [--reps N] [--warmup N] [--dir DIR] [--csv FILE]\n"
               "                     [--only tether,tether-nv,qt,raw,raw-splice] [--fsync] [--pin] [--smoke]\n"
               "                     [--tether PATH] [--qt-sender PATH] [--qt-receiver PATH] [--raw PATH]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  const fs::path self = fs::canonical("/proc/self/exe").parent_path();
  o.tether = (self / "../tools/tether/tether").lexically_normal();
  o.qtSender = self / "bench_qt_seed_sender";
  o.qtReceiver = self / "bench_qt_seed_receiver";
  o.raw = self / "file_transfer_raw";
  o.dir = self / "file-transfer-bench";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--size") o.size = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--reps") o.reps = std::atoi(next().c_str());
    else if (a == "--warmup") o.warmup = std::atoi(next().c_str());
    else if (a == "--dir") o.dir = next();
    else if (a == "--csv") o.csv = next();
    else if (a == "--only") o.only = split(next());
    else if (a == "--fsync") o.fsync = true;
    else if (a == "--pin") o.pin = true;
    else if (a == "--smoke") { o.size = 1 << 20; o.reps = 1; o.warmup = 0; }
    else if (a == "--tether") o.tether = next();
    else if (a == "--qt-sender") o.qtSender = next();
    else if (a == "--qt-receiver") o.qtReceiver = next();
    else if (a == "--raw") o.raw = next();
    else return usage();
  }
  std::vector<const Contender*> chosen;
  for (const Contender& c : contenders()) {
    if (!o.only.empty() && std::find(o.only.begin(), o.only.end(), c.name) == o.only.end()) continue;
    const std::string& program = c.name.starts_with("tether") ? o.tether : c.name == "qt" ? o.qtSender : o.raw;
    if (::access(program.c_str(), X_OK) != 0) {
      std::fprintf(stderr, "file_transfer: %s not found (%s): left out\n", c.name.c_str(), program.c_str());
      continue;
    }
    chosen.push_back(&c);
  }
  if (chosen.empty()) return usage();

  fs::create_directories(o.dir);
  const std::string file = o.dir + "/source.bin";
  if (!fs::exists(file) || fs::file_size(file) != o.size) makeSource(file, o.size);
  ::sync();
  warmPageCache(file);
  std::printf("file transfer: %.1f MiB over loopback, %d repetitions (+%d warm-up), interleaved%s%s\n",
              static_cast<double>(o.size) / (1 << 20), o.reps, o.warmup, o.pin ? ", pinned" : "",
              o.fsync ? ", tether with fsync" : "");
  std::fflush(stdout);

  std::map<std::string, std::vector<Run>> runs;
  std::FILE* csv = o.csv.empty() ? nullptr : std::fopen(o.csv.c_str(), "w");
  if (csv) std::fprintf(csv, "contender,rep,seconds,bytes,mib_per_s,sender_cpu_s,receiver_cpu_s,ok\n");
  bool allOk = true;
  for (int rep = -o.warmup; rep < o.reps; ++rep) {
    // Each round starts with the next contender: what a run leaves behind
    // (freed pages, blocks the file system still discards) falls on every
    // contender in turn, not always on the same one.
    const std::size_t first = static_cast<std::size_t>(rep + o.warmup) % chosen.size();
    for (std::size_t k = 0; k < chosen.size(); ++k) {
      const Contender* c = chosen[(first + k) % chosen.size()];
      const Run r = runOnce(o, *c, file);
      allOk = allOk && r.ok;
      if (rep < 0) continue;
      runs[c->name].push_back(r);
      if (csv)
        std::fprintf(csv, "%s,%d,%.4f,%llu,%.1f,%.3f,%.3f,%d\n", c->name.c_str(), rep, r.seconds,
                     static_cast<unsigned long long>(o.size), static_cast<double>(o.size) / (1 << 20) / r.seconds,
                     r.senderCpu, r.receiverCpu, r.ok ? 1 : 0);
    }
  }
  if (csv) std::fclose(csv);

  std::printf("\n%-9s %9s %9s %9s %11s %11s %11s\n", "", "median s", "min s", "max s", "MiB/s", "send CPU s",
              "recv CPU s");
  std::map<std::string, double> medians;
  for (const Contender* c : chosen) {
    std::vector<double> secs, scpu, rcpu;
    for (const Run& r : runs[c->name]) {
      secs.push_back(r.seconds);
      scpu.push_back(r.senderCpu);
      rcpu.push_back(r.receiverCpu);
    }
    const double m = median(secs);
    medians[c->name] = m;
    std::printf("%-9s %9.3f %9.3f %9.3f %11.1f %11.3f %11.3f\n", c->name.c_str(), m,
                *std::min_element(secs.begin(), secs.end()), *std::max_element(secs.begin(), secs.end()),
                static_cast<double>(o.size) / (1 << 20) / m, median(scpu), median(rcpu));
  }
  std::printf("\n");
  for (const char* name : {"tether", "tether-nv"}) {
    if (!medians.count(name)) continue;
    if (medians.count("qt"))
      std::printf("%-9s vs qt:  %.2fx the Qt pair's throughput\n", name, medians["qt"] / medians[name]);
    if (medians.count("raw"))
      std::printf("%-9s vs raw: %.2f of raw sendfile's throughput\n", name, medians["raw"] / medians[name]);
    if (medians.count("raw-splice"))
      std::printf("%-9s vs raw-splice: %.2f of its throughput\n", name, medians["raw-splice"] / medians[name]);
  }
  std::error_code ec;
  fs::remove(file, ec);
  return allOk ? 0 : 1;
}
