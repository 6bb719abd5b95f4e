// Child processes of the suite driver. Every live child is registered so
// that a signal to the driver (or any exit path) takes them down with it,
// and each child dies with the driver (PR_SET_PDEATHSIG) whatever happens.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace suite {

// Installs handlers that kill every child on SIGINT, SIGTERM and SIGHUP.
void install_child_reaper();
void kill_all_children();

// A child process with its stdout on a pipe. The destructor kills and reaps
// it if it is still running.
class Child {
 public:
  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() { terminate_now(); }

  // `env`: "NAME=VALUE" entries added to the environment.
  bool start(const std::vector<std::string>& argv, const std::vector<std::string>& env,
             std::string& error);

  pid_t pid() const { return pid_; }

  // Reads one stdout line, waiting until `deadline` (monotonic seconds).
  // std::nullopt on EOF or timeout (see eof()).
  std::optional<std::string> read_line(double deadline);
  bool eof() const { return eof_; }

  // Takes whatever stdout output is available without blocking, so that a
  // chatty child never stalls on a full pipe.
  void drain();

  void signal(int sig);

  // Waits for the child to exit until `deadline`; fills status and rusage.
  // Returns false on timeout (the child is still running).
  bool wait_until(double deadline, int& status, rusage& ru);

  void terminate_now();

 private:
  void reaped();

  pid_t pid_ = -1;
  int out_fd_ = -1;
  bool eof_ = false;
  std::string buffer_;
};

std::string describe_status(int status);

}  // namespace suite
