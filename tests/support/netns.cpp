#include "support/netns.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>

namespace tether::test {

namespace {

constexpr const char* kPrefix = "tether-";
constexpr const char* kNamespaceDirectory = "/run/netns";
constexpr int kStopGraceMs = 2000;

std::string errnoText(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

std::string join(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words) {
    if (!text.empty()) text += ' ';
    text += word;
  }
  return text;
}

detail::UniqueFd memoryFile(const char* name) {
  return detail::UniqueFd(static_cast<int>(::syscall(SYS_memfd_create, name, MFD_CLOEXEC)));
}

std::string readAll(int fd) {
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0 || st.st_size <= 0) return {};
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  const ssize_t n = ::pread(fd, text.data(), text.size(), 0);
  text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return text;
}

// A started child: its pid, a pidfd (if the kernel has them) and the memfd
// collecting its output.
struct Started {
  pid_t pid = -1;
  detail::UniqueFd pidfd;
  detail::UniqueFd output;
  std::string error;
};

// fork + exec of argv[0] (a full path), stdin from `input`, stdout and
// stderr into a memfd. The child dies with the thread that started it.
Started start(const std::vector<std::string>& argv, std::string_view input) {
  Started started;
  if (argv.empty()) {
    started.error = "empty command";
    return started;
  }
  std::vector<std::string> args = argv;
  std::vector<char*> cargs;
  for (std::string& arg : args) cargs.push_back(arg.data());
  cargs.push_back(nullptr);

  started.output = memoryFile("netns-output");
  detail::UniqueFd in = memoryFile("netns-input");
  if (!started.output || !in) {
    started.error = errnoText("memfd_create");
    return started;
  }
  if (!input.empty() &&
      ::pwrite(in.get(), input.data(), input.size(), 0) != static_cast<ssize_t>(input.size())) {
    started.error = errnoText("writing the command's input");
    return started;
  }

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    started.error = errnoText("fork");
    return started;
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(in.get(), STDIN_FILENO);
    ::dup2(started.output.get(), STDOUT_FILENO);
    ::dup2(started.output.get(), STDERR_FILENO);
    ::execv(cargs[0], cargs.data());
    ::_exit(127);
  }
  started.pid = pid;
  started.pidfd.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  return started;
}

// Waits up to timeoutMs (forever if negative) for `pid` to exit and reaps
// it. Returns its raw wait status, or nothing if it is still running.
std::optional<int> waitFor(pid_t pid, const detail::UniqueFd& pidfd, int timeoutMs) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  for (;;) {
    int status = 0;
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return status;
    if (done < 0 && errno != EINTR) return -1;  // not our child any more
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (timeoutMs >= 0 && left <= 0) return std::nullopt;
    const int slice = timeoutMs < 0 ? 1000 : static_cast<int>(std::min<long>(left, 1000));
    if (pidfd) {
      pollfd p{pidfd.get(), POLLIN, 0};
      ::poll(&p, 1, slice);
    } else {
      ::usleep(static_cast<useconds_t>(std::min(slice, 5)) * 1000);
    }
  }
}

int exitCodeOf(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

testing::AssertionResult asAssertion(const std::vector<std::string>& argv,
                                     const CommandResult& result) {
  if (result.ok()) return testing::AssertionSuccess();
  testing::AssertionResult failure = testing::AssertionFailure();
  failure << '`' << join(argv) << "` ";
  if (result.timedOut)
    failure << "timed out";
  else
    failure << "failed with exit code " << result.exitCode;
  failure << ": " << result.output;
  return failure;
}

std::vector<std::string> ipCommand(std::initializer_list<std::string_view> head,
                                   const std::vector<std::string>& tail = {}) {
  std::vector<std::string> argv = {ipTool()};
  for (std::string_view word : head) argv.emplace_back(word);
  argv.insert(argv.end(), tail.begin(), tail.end());
  return argv;
}

// Deletes namespaces that test processes which no longer exist left behind
// (a crash or a SIGKILL skips destructors). Once per process.
void removeStaleNamespaces() {
  static std::once_flag once;
  std::call_once(once, [] {
    DIR* dir = ::opendir(kNamespaceDirectory);
    if (dir == nullptr) return;
    std::vector<std::string> stale;
    while (const dirent* entry = ::readdir(dir)) {
      const std::string name = entry->d_name;
      if (name.rfind(kPrefix, 0) != 0) continue;
      const long pid = std::strtol(name.c_str() + std::strlen(kPrefix), nullptr, 10);
      if (pid <= 0 || pid == ::getpid()) continue;
      if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) stale.push_back(name);
    }
    ::closedir(dir);
    for (const std::string& name : stale) runCommand(ipCommand({"netns", "delete", name}));
  });
}

}  // namespace

CommandResult runCommand(const std::vector<std::string>& argv, std::string_view input,
                         int timeoutMs) {
  CommandResult result;
  Started started = start(argv, input);
  if (started.pid <= 0) {
    result.output = started.error;
    return result;
  }
  std::optional<int> status = waitFor(started.pid, started.pidfd, timeoutMs);
  if (!status) {
    result.timedOut = true;
    ::kill(started.pid, SIGKILL);
    waitFor(started.pid, started.pidfd, -1);
  } else {
    result.exitCode = exitCodeOf(*status);
  }
  result.output = readAll(started.output.get());
  if (result.exitCode == 127 && result.output.empty()) result.output = "cannot run " + argv[0];
  return result;
}

const std::string& ipTool() {
  static const std::string path = [] {
    for (const char* candidate : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"})
      if (::access(candidate, X_OK) == 0) return std::string(candidate);
    return std::string();
  }();
  return path;
}

bool namespacesAvailable(std::string* why) {
  std::string reason;
  if (::geteuid() != 0)
    reason = "network namespaces need root";
  else if (ipTool().empty())
    reason = "iproute2's ip is not installed";
  if (why != nullptr) *why = reason;
  return reason.empty();
}

std::vector<std::string> listNamespaces() {
  std::vector<std::string> names;
  const CommandResult listed = runCommand(ipCommand({"netns", "list"}));
  std::istringstream lines(listed.output);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string name;
    if (words >> name) names.push_back(name);
  }
  return names;
}

// --- ChildProcess ------------------------------------------------------------

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::move(other.pidfd_)),
      output_(std::move(other.output_)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    stop();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::move(other.pidfd_);
    output_ = std::move(other.output_);
  }
  return *this;
}

ChildProcess::~ChildProcess() { stop(); }

std::optional<int> ChildProcess::wait(int timeoutMs) {
  if (pid_ <= 0) return std::nullopt;
  const std::optional<int> status = waitFor(pid_, pidfd_, timeoutMs);
  if (!status) return std::nullopt;
  pid_ = -1;
  pidfd_.reset();
  return exitCodeOf(*status);
}

std::optional<int> ChildProcess::stop() {
  if (pid_ <= 0) return std::nullopt;
  ::kill(pid_, SIGTERM);
  if (const std::optional<int> code = wait(kStopGraceMs)) return code;
  ::kill(pid_, SIGKILL);
  return wait(-1);
}

std::string ChildProcess::output() const { return readAll(output_.get()); }

// --- Namespace ---------------------------------------------------------------

Namespace::Namespace(std::string_view label) {
  static std::atomic<int> counter{0};
  name_ = std::string(kPrefix) + std::to_string(::getpid()) + '-' + std::to_string(++counter);
  if (!label.empty()) name_ += '-' + std::string(label);
  if (std::string why; !namespacesAvailable(&why)) {
    error_ = why;
    return;
  }
  removeStaleNamespaces();
  const CommandResult added = runCommand(ipCommand({"netns", "add", name_}));
  valid_ = added.ok();
  if (!valid_) error_ = "ip netns add " + name_ + ": " + added.output;
}

Namespace::~Namespace() { remove(); }

Namespace::Namespace(Namespace&& other) noexcept
    : name_(std::move(other.name_)),
      error_(std::move(other.error_)),
      valid_(std::exchange(other.valid_, false)) {}

Namespace& Namespace::operator=(Namespace&& other) noexcept {
  if (this != &other) {
    remove();
    name_ = std::move(other.name_);
    error_ = std::move(other.error_);
    valid_ = std::exchange(other.valid_, false);
  }
  return *this;
}

void Namespace::remove() {
  if (!valid_) return;
  valid_ = false;
  const CommandResult deleted = runCommand(ipCommand({"netns", "delete", name_}));
  const std::string path = std::string(kNamespaceDirectory) + '/' + name_;
  if (!deleted.ok() || ::access(path.c_str(), F_OK) == 0)
    ADD_FAILURE() << "network namespace " << name_ << " was not removed: " << deleted.output;
}

testing::AssertionResult Namespace::created() const {
  if (valid_) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "no network namespace " << name_ << ": " << error_;
}

CommandResult Namespace::ipOutput(const std::vector<std::string>& args) const {
  return runCommand(ipCommand({"-n", name_}, args));
}

testing::AssertionResult Namespace::ip(const std::vector<std::string>& args) const {
  if (!valid_) return created();
  const std::vector<std::string> argv = ipCommand({"-n", name_}, args);
  return asAssertion(argv, runCommand(argv));
}

testing::AssertionResult Namespace::ipBatch(const std::vector<std::string>& commands) const {
  if (!valid_) return created();
  std::string input;
  for (const std::string& command : commands) input += command + '\n';
  const std::vector<std::string> argv = ipCommand({"-n", name_, "-batch", "-"});
  return asAssertion(argv, runCommand(argv, input));
}

testing::AssertionResult Namespace::addAddress(std::string_view interfaceName,
                                               std::string_view cidr,
                                               const std::vector<std::string>& extra) const {
  std::vector<std::string> args = {"addr", "add", std::string(cidr), "dev",
                                   std::string(interfaceName)};
  if (cidr.find(':') != std::string_view::npos) args.emplace_back("nodad");
  args.insert(args.end(), extra.begin(), extra.end());
  return ip(args);
}

testing::AssertionResult Namespace::up(std::string_view interfaceName) const {
  return ip({"link", "set", "dev", std::string(interfaceName), "up"});
}

testing::AssertionResult Namespace::down(std::string_view interfaceName) const {
  return ip({"link", "set", "dev", std::string(interfaceName), "down"});
}

testing::AssertionResult Namespace::setMtu(std::string_view interfaceName, int mtu) const {
  return ip({"link", "set", "dev", std::string(interfaceName), "mtu", std::to_string(mtu)});
}

testing::AssertionResult Namespace::setHardwareAddress(std::string_view interfaceName,
                                                       std::string_view mac) const {
  return ip({"link", "set", "dev", std::string(interfaceName), "address", std::string(mac)});
}

testing::AssertionResult Namespace::waitForOperationalState(std::string_view interfaceName,
                                                            std::string_view state,
                                                            int timeoutMs) const {
  if (!valid_) return created();
  const std::string wanted = " state " + std::string(state) + ' ';
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  CommandResult shown;
  for (;;) {
    shown = ipOutput({"-o", "link", "show", "dev", std::string(interfaceName)});
    if (shown.ok() && shown.output.find(wanted) != std::string::npos)
      return testing::AssertionSuccess();
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return testing::AssertionFailure() << interfaceName << " in " << name_ << " did not reach state "
                                     << state << " within " << timeoutMs << " ms: " << shown.output;
}

Namespace::Guard::Guard(detail::UniqueFd previous, std::string error)
    : previous_(std::move(previous)), error_(std::move(error)) {}

Namespace::Guard::Guard(Guard&& other) noexcept
    : previous_(std::move(other.previous_)), error_(std::move(other.error_)) {}

Namespace::Guard::~Guard() {
  if (!previous_ || !error_.empty()) return;
  if (::setns(previous_.get(), CLONE_NEWNET) != 0) {
    // Carrying on inside a test namespace would make every later check
    // wrong; there is no sensible way to continue.
    std::fprintf(stderr, "cannot return to the original network namespace: %s\n",
                 std::strerror(errno));
    std::abort();
  }
}

testing::AssertionResult Namespace::Guard::entered() const {
  if (error_.empty()) return testing::AssertionSuccess();
  return testing::AssertionFailure() << error_;
}

Namespace::Guard Namespace::enter() const {
  if (!valid_) return Guard(detail::UniqueFd(), "no network namespace " + name_ + ": " + error_);
  detail::UniqueFd previous(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!previous)
    return Guard(detail::UniqueFd(), errnoText("opening this thread's network namespace"));
  const std::string path = std::string(kNamespaceDirectory) + '/' + name_;
  const detail::UniqueFd target(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!target) return Guard(detail::UniqueFd(), errnoText(("opening " + path).c_str()));
  if (::setns(target.get(), CLONE_NEWNET) != 0)
    return Guard(detail::UniqueFd(), errnoText(("joining " + name_).c_str()));
  return Guard(std::move(previous), std::string());
}

testing::AssertionResult Namespace::runIn(const std::function<void()>& fn) const {
  testing::AssertionResult joined = testing::AssertionSuccess();
  std::exception_ptr thrown;
  std::thread worker([&] {
    const Guard guard = enter();
    joined = guard.entered();
    if (!joined) return;
    try {
      fn();
    } catch (...) {
      thrown = std::current_exception();
    }
  });
  worker.join();
  if (thrown) std::rethrow_exception(thrown);
  return joined;
}

CommandResult Namespace::exec(const std::vector<std::string>& argv, int timeoutMs) const {
  if (!valid_) {
    CommandResult result;
    result.output = "no network namespace " + name_ + ": " + error_;
    return result;
  }
  return runCommand(ipCommand({"netns", "exec", name_}, argv), {}, timeoutMs);
}

ChildProcess Namespace::spawn(const std::vector<std::string>& argv) const {
  ChildProcess child;
  if (!valid_) return child;
  Started started = start(ipCommand({"netns", "exec", name_}, argv), {});
  child.pid_ = started.pid;
  child.pidfd_ = std::move(started.pidfd);
  child.output_ = std::move(started.output);
  return child;
}

testing::AssertionResult addVeth(const Namespace& a, std::string_view ifA, const Namespace& b,
                                 std::string_view ifB) {
  if (!b.isValid()) return b.created();
  // Run inside `a`, so that the pair is born there and never exists, even
  // for a moment, in the namespace of this process.
  return a.ip({"link", "add", std::string(ifA), "type", "veth", "peer", "name", std::string(ifB),
               "netns", b.name()});
}

}  // namespace tether::test
