// Network namespaces for tests: private little networks of veth pairs with
// test-only addresses, built with iproute2's `ip` and torn down afterwards.
//
//   test::Namespace a("a"), b("b");                       // "tether-<pid>-<n>-a", ...
//   ASSERT_TRUE(test::addVeth(a, "veth0", b, "veth1"));
//   ASSERT_TRUE(a.addAddress("veth0", "10.77.0.1/24"));
//   ASSERT_TRUE(b.addAddress("veth1", "10.77.0.2/24"));
//   ASSERT_TRUE(a.up("veth0"));
//   ASSERT_TRUE(b.up("veth1"));
//   ASSERT_TRUE(a.waitUntilOperational("veth0"));
//   ASSERT_TRUE(a.runIn([] { /* this thread is inside namespace a */ }));
//
// Three ways to act inside a namespace:
//   - runIn(fn) runs fn on a new thread that has joined the namespace with
//     setns(CLONE_NEWNET) and waits for it. Anything that asks the kernel
//     through a socket (netlink, ioctls, if_nametoindex) sees that
//     namespace's interfaces; gtest assertions work there as anywhere.
//   - enter() moves the calling thread into the namespace until the returned
//     guard is destroyed. Sockets belong to the namespace they were created
//     in, for good, so a test can create a socket in each namespace from the
//     main thread and then run one event loop over all of them.
//   - exec()/spawn() run a program inside (through `ip netns exec`, which
//     also mounts the namespace's own /sys for it).
// What a thread sees under /sys and /proc/net stays the host's view whatever
// namespace it joined; query the kernel through sockets instead.
//
// Safety: every namespace gets a unique name (process id + counter) and the
// destructor deletes it, which also destroys every interface inside it. veth
// pairs are created with both ends directly inside namespaces, so the host's
// own interfaces are never created, renamed or changed. Namespaces left over
// by a test process that crashed are deleted the next time a test process
// creates one. Use only private, test-only addresses (10.x, fd00::/8).
//
// Every setup function returns a testing::AssertionResult carrying `ip`'s
// own error message, so `ASSERT_TRUE(ns.up("veth0"))` explains a failure.
// Needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) and /usr/sbin/ip or /sbin/ip;
// test::namespacesAvailable() says whether they are there.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "system/unique_fd.h"

namespace tether::test {

// What a program run to completion produced.
struct CommandResult {
  int exitCode = -1;  // the exit status, or -1 if it did not exit normally or timed out
  bool timedOut = false;
  std::string output;  // stdout and stderr, interleaved
  [[nodiscard]] bool ok() const { return exitCode == 0; }
};

// Runs argv[0] (a full path) with its arguments, `input` on its stdin, and
// waits up to timeoutMs for it; on timeout it is killed.
CommandResult runCommand(const std::vector<std::string>& argv, std::string_view input = {},
                         int timeoutMs = 10000);

// Where iproute2's `ip` is, or "" if it is not installed.
const std::string& ipTool();

// True if this process can create network namespaces (root and `ip`
// present); otherwise `*why` (if given) says what is missing.
bool namespacesAvailable(std::string* why = nullptr);

// A program started in the background (see Namespace::spawn()). The
// destructor stops it (SIGTERM, then SIGKILL after two seconds) and reaps it.
// It is also killed if the thread that started it exits, so start it from a
// thread that outlives it.
class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  [[nodiscard]] bool isRunning() const { return pid_ > 0; }
  [[nodiscard]] pid_t pid() const { return pid_; }
  // Waits up to timeoutMs for the program to exit; returns its exit status
  // (-1 if a signal ended it), or nothing if it is still running.
  std::optional<int> wait(int timeoutMs);
  // SIGTERM, up to two seconds, then SIGKILL; returns the exit status as
  // wait() does (nothing if it was not running).
  std::optional<int> stop();
  // Everything the program wrote to stdout and stderr so far.
  [[nodiscard]] std::string output() const;

 private:
  friend class Namespace;
  pid_t pid_ = -1;
  detail::UniqueFd pidfd_;
  detail::UniqueFd output_;  // a memfd
};

// One named network namespace, deleted (with everything in it) on
// destruction. Not copyable; movable.
class Namespace {
 public:
  // Creates "tether-<pid>-<counter>" plus "-<label>" if a label is given
  // (keep labels short and to [a-z0-9]). Check isValid() or created().
  explicit Namespace(std::string_view label = {});
  ~Namespace();
  Namespace(Namespace&& other) noexcept;
  Namespace& operator=(Namespace&& other) noexcept;
  Namespace(const Namespace&) = delete;
  Namespace& operator=(const Namespace&) = delete;

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] bool isValid() const { return valid_; }
  // isValid() as an assertion, with the reason it was not created.
  [[nodiscard]] testing::AssertionResult created() const;

  // `ip -n <name> <args...>`, e.g. ip({"route", "add", "default", "dev", "veth0"}).
  testing::AssertionResult ip(const std::vector<std::string>& args) const;
  // The same, returning what ip printed (for `show` commands).
  [[nodiscard]] CommandResult ipOutput(const std::vector<std::string>& args) const;
  // `ip -n <name> -batch -` with one command per element (without "ip"):
  // many changes in one process.
  testing::AssertionResult ipBatch(const std::vector<std::string>& commands) const;

  // `ip addr add <cidr> dev <interfaceName> [extra...]`. An IPv6 address gets
  // "nodad" so that it is usable at once instead of "tentative" for a second
  // or two. `extra` may hold "broadcast", "peer", "valid_lft", ... options.
  testing::AssertionResult addAddress(std::string_view interfaceName, std::string_view cidr,
                                      const std::vector<std::string>& extra = {}) const;
  testing::AssertionResult up(std::string_view interfaceName) const;
  testing::AssertionResult down(std::string_view interfaceName) const;
  testing::AssertionResult setMtu(std::string_view interfaceName, int mtu) const;
  testing::AssertionResult setHardwareAddress(std::string_view interfaceName,
                                              std::string_view mac) const;
  // Waits until the link's operational state (RFC 2863, as `ip link show`
  // prints it: UP, DOWN, LOWERLAYERDOWN, UNKNOWN, ...) is `state`. The
  // kernel updates it a little after the change that causes it: a veth end
  // becomes UP shortly after both ends are up, DOWN shortly after
  // its peer goes down.
  testing::AssertionResult waitForOperationalState(std::string_view interfaceName,
                                                   std::string_view state,
                                                   int timeoutMs = 5000) const;
  testing::AssertionResult waitUntilOperational(std::string_view interfaceName,
                                                int timeoutMs = 5000) const {
    return waitForOperationalState(interfaceName, "UP", timeoutMs);
  }

  // Runs fn on a new thread inside this namespace and waits for it.
  // Exceptions from fn are rethrown here. Fails only if the thread could not
  // join the namespace, in which case fn is not called.
  testing::AssertionResult runIn(const std::function<void()>& fn) const;

  // Moves the calling thread into this namespace until destroyed; the
  // thread then returns to the namespace it was in. Check the guard with
  // entered(). Guards must be destroyed in reverse order, on the same thread.
  class Guard {
   public:
    Guard(Guard&& other) noexcept;
    Guard& operator=(Guard&&) = delete;
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ~Guard();
    [[nodiscard]] testing::AssertionResult entered() const;

   private:
    friend class Namespace;
    Guard(detail::UniqueFd previous, std::string error);
    detail::UniqueFd previous_;
    std::string error_;
  };
  [[nodiscard]] Guard enter() const;

  // Runs a program (argv[0] found in PATH by `ip netns exec`) inside the
  // namespace to completion.
  [[nodiscard]] CommandResult exec(const std::vector<std::string>& argv,
                                   int timeoutMs = 10000) const;
  // Starts a program inside the namespace in the background.
  [[nodiscard]] ChildProcess spawn(const std::vector<std::string>& argv) const;

 private:
  void remove();

  std::string name_;
  std::string error_;
  bool valid_ = false;
};

// Creates a veth pair with one end, `ifA`, inside `a` and the other, `ifB`,
// inside `b` (which may be `a` itself). Both start down.
testing::AssertionResult addVeth(const Namespace& a, std::string_view ifA, const Namespace& b,
                                 std::string_view ifB);

// The names `ip netns list` shows.
std::vector<std::string> listNamespaces();

}  // namespace tether::test
