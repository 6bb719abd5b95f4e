#include "support/local_support.h"

#include <dirent.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace tether::test {

namespace {

socklen_t fill(sockaddr_un* address, const std::string& name, bool abstractNamespace) {
  *address = {};
  address->sun_family = AF_UNIX;
  if (name.size() + 1 > sizeof address->sun_path) return 0;
  if (abstractNamespace) {
    std::memcpy(address->sun_path + 1, name.data(), name.size());
    return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  }
  std::memcpy(address->sun_path, name.data(), name.size());
  return static_cast<socklen_t>(sizeof *address);
}

}  // namespace

ScopedTmpdir::ScopedTmpdir() {
  std::string pattern = "/tmp/tether-local-test-XXXXXX";
  if (::mkdtemp(pattern.data()) != nullptr) {
    ::chmod(pattern.c_str(), 0755);
    path_ = pattern;
  }
  if (const char* old = std::getenv("TMPDIR")) {
    saved_ = old;
    hadSaved_ = true;
  }
  ::setenv("TMPDIR", path_.c_str(), 1);
}

ScopedTmpdir::~ScopedTmpdir() {
  if (hadSaved_) ::setenv("TMPDIR", saved_.c_str(), 1);
  else ::unsetenv("TMPDIR");
  if (!path_.empty()) removeTree(path_);
}

ScopedEnv::ScopedEnv(const char* name, const char* value) : name_(name) {
  if (const char* old = std::getenv(name)) {
    saved_ = old;
    hadSaved_ = true;
  }
  if (value != nullptr) ::setenv(name, value, 1);
  else ::unsetenv(name);
}

ScopedEnv::~ScopedEnv() {
  if (hadSaved_) ::setenv(name_.c_str(), saved_.c_str(), 1);
  else ::unsetenv(name_.c_str());
}

std::string uniqueName(const char* tag) {
  static std::atomic<int> counter{0};
  return std::string("tether-") + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

detail::UniqueFd rawUnixListener(const std::string& name, int backlog, bool abstractNamespace) {
  sockaddr_un address{};
  const socklen_t length = fill(&address, name, abstractNamespace);
  detail::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd || length == 0 || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), length) != 0) return {};
  if (backlog >= 0 && ::listen(fd.get(), backlog) != 0) return {};
  return fd;
}

detail::UniqueFd rawUnixClient(const std::string& path) {
  sockaddr_un address{};
  const socklen_t length = fill(&address, path, false);
  detail::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd || length == 0 || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), length) != 0) return {};
  return fd;
}

bool makeStaleSocketFile(const std::string& path) { return rawUnixListener(path, -1).valid(); }

bool isSocketFile(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

int fileMode(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

bool fileExists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

void removeTree(const std::string& path) {
  if (DIR* dir = ::opendir(path.c_str())) {
    while (dirent* entry = ::readdir(dir)) {
      const std::string name = entry->d_name;
      if (name == "." || name == "..") continue;
      const std::string child = path + "/" + name;
      struct stat st {};
      if (::lstat(child.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) removeTree(child);
      else ::unlink(child.c_str());
    }
    ::closedir(dir);
  }
  ::rmdir(path.c_str());
}

}  // namespace tether::test
