// Helpers for the local-socket tests: a private temporary directory that
// stands in for $TMPDIR, unique server names, and raw Unix-domain sockets
// made with system calls (peers that are not tether's own).
#pragma once

#include <sys/stat.h>

#include <string>

#include "system/unique_fd.h"

namespace tether::test {

// A fresh directory (mode 0755) named by $TMPDIR for the life of the object;
// removed with everything in it afterwards, and $TMPDIR restored.
class ScopedTmpdir {
 public:
  ScopedTmpdir();
  ~ScopedTmpdir();
  ScopedTmpdir(const ScopedTmpdir&) = delete;
  ScopedTmpdir& operator=(const ScopedTmpdir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
  std::string saved_;
  bool hadSaved_ = false;
};

// Sets or unsets $TMPDIR for a scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value);  // value nullptr: unset
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::string saved_;
  bool hadSaved_ = false;
};

// "tether-<tag>-<pid>-<n>": unique in this process and among processes.
std::string uniqueName(const char* tag);

// A Unix-domain stream socket bound to path (or an abstract name) and, with
// backlog >= 0, listening. Invalid on failure.
detail::UniqueFd rawUnixListener(const std::string& name, int backlog, bool abstractNamespace = false);
// A blocking client connected to path; invalid on failure.
detail::UniqueFd rawUnixClient(const std::string& path);
// A socket file with nothing listening on it, as a crashed server leaves.
bool makeStaleSocketFile(const std::string& path);

// lstat() of path: whether it is a socket, its permission bits (-1 if it
// does not exist), whether it exists.
bool isSocketFile(const std::string& path);
int fileMode(const std::string& path);
bool fileExists(const std::string& path);

// Removes a directory tree (for test clean-up).
void removeTree(const std::string& path);

}  // namespace tether::test
