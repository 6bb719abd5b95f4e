#include "transfer_files.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "transfer_protocol.h"

namespace tether::cli {

namespace {

bool fail(std::string* why, const std::string& what, int err = errno) {
  if (why) *why = what + ": " + std::strerror(err);
  return false;
}

std::string randomSuffix() {
  static thread_local std::mt19937_64 random(std::random_device{}());
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s;
  for (int i = 0; i < 8; ++i) s.push_back(kChars[random() % (sizeof kChars - 1)]);
  return s;
}

// Links an O_TMPFILE file into `dir` as `name`; EEXIST when taken.
int linkUnnamed(int fd, int dir, const std::string& name) {
  const std::string self = "/proc/self/fd/" + std::to_string(fd);
  return ::linkat(AT_FDCWD, self.c_str(), dir, name.c_str(), AT_SYMLINK_FOLLOW) == 0 ? 0 : errno;
}

// rename(2) that never replaces: renameat2(RENAME_NOREPLACE), or a link and
// an unlink where the file system cannot do that.
int renameNoReplace(int dir, const std::string& from, const std::string& to) {
  if (::renameat2(dir, from.c_str(), dir, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return errno;
  if (::linkat(dir, from.c_str(), dir, to.c_str(), 0) != 0) return errno;
  ::unlinkat(dir, from.c_str(), 0);
  return 0;
}

}  // namespace

bool ReceiveDirectory::open(const std::string& path, std::string* why) {
  path_ = path;
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  dir_.reset(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_) return fail(why, "cannot open directory " + path);
  return true;
}

UniqueFd ReceiveDirectory::openParent(const std::vector<std::string>& components, std::string* why) const {
  UniqueFd current(::fcntl(dir_.get(), F_DUPFD_CLOEXEC, 0));
  for (std::size_t i = 0; i + 1 < components.size(); ++i) {
    const std::string& name = components[i];
    UniqueFd next(::openat(current.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next && errno == ENOENT) {
      if (::mkdirat(current.get(), name.c_str(), 0755) != 0 && errno != EEXIST) {
        fail(why, "cannot create directory " + name);
        return {};
      }
      next.reset(::openat(current.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    }
    if (!next) {
      // ELOOP/ENOTDIR: a link or a file where a directory should be.
      fail(why, errno == ELOOP || errno == ENOTDIR ? name + " is not a directory" : "cannot open directory " + name);
      return {};
    }
    current = std::move(next);
  }
  return current;
}

bool ReceiveDirectory::exists(int dir, const std::string& name) {
  struct stat st {};
  return ::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

std::uint64_t ReceiveDirectory::freeSpace(int dir) {
  struct statvfs vfs {};
  if (::fstatvfs(dir, &vfs) != 0) return 0;
  return static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
}

bool ReceiveDirectory::createTemporary(IncomingFile& f, std::string* why) {
  f.file.reset(::openat(f.dir.get(), ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600));
  if (f.file) return true;
  if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) return fail(why, "cannot create a temporary file");
  // No O_TMPFILE here: a hidden name that no sender can ask for.
  for (int attempt = 0; attempt < 16; ++attempt) {
    std::string candidate(".");
    candidate.append(f.name, 0, 200).append(".part-").append(randomSuffix());
    f.file.reset(::openat(f.dir.get(), candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (f.file) {
      f.partName = candidate;
      return true;
    }
    if (errno != EEXIST) break;
  }
  return fail(why, "cannot create a temporary file");
}

bool ReceiveDirectory::openPartial(IncomingFile& f, bool* busy, std::string* why) {
  *busy = false;
  f.partName = "." + f.name + std::string(proto::kPartSuffix);
  if (f.partName.size() > proto::kMaxComponentBytes) {
    // Too long to prefix: a name derived from the final name's hash would
    // do, but a plain refusal is clearer.
    if (why) *why = "name too long for a partial file";
    return false;
  }
  f.file.reset(::openat(f.dir.get(), f.partName.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!f.file) return fail(why, "cannot open partial file " + f.partName);
  if (::flock(f.file.get(), LOCK_EX | LOCK_NB) != 0) {
    *busy = errno == EWOULDBLOCK;
    f.file.reset();
    return fail(why, "partial file " + f.partName + " is in use");
  }
  struct stat st {};
  if (::fstat(f.file.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    f.file.reset();
    if (why) *why = "partial file " + f.partName + " is not a regular file";
    return false;
  }
  f.existing = static_cast<std::uint64_t>(st.st_size);
  return true;
}

bool ReceiveDirectory::reserve(int fd, std::uint64_t offset, std::uint64_t bytes, std::string* why) {
  if (bytes == 0) return true;
  if (::fallocate(fd, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset), static_cast<off_t>(bytes)) == 0) return true;
  if (errno == ENOSPC || errno == EFBIG) return fail(why, "cannot reserve space");
  return true;  // no fallocate on this file system: the free-space check stands
}

bool ReceiveDirectory::publish(IncomingFile& f, std::uint32_t mode, bool overwrite, bool sync, bool* exists,
                               std::string* why) {
  *exists = false;
  if (::fchmod(f.file.get(), mode & 0777) != 0) return fail(why, "cannot set permissions");
  int err = 0;
  if (f.partName.empty()) {
    // O_TMPFILE: link it in. Overwriting links under a hidden name first and
    // renames that over the old file, so the switch is atomic.
    if (!overwrite) {
      err = linkUnnamed(f.file.get(), f.dir.get(), f.name);
    } else {
      std::string hidden(".");
      hidden.append(f.name, 0, 200).append(".part-").append(randomSuffix());
      err = linkUnnamed(f.file.get(), f.dir.get(), hidden);
      if (err == 0 && ::renameat(f.dir.get(), hidden.c_str(), f.dir.get(), f.name.c_str()) != 0) {
        err = errno;
        ::unlinkat(f.dir.get(), hidden.c_str(), 0);
      }
    }
  } else if (overwrite) {
    err = ::renameat(f.dir.get(), f.partName.c_str(), f.dir.get(), f.name.c_str()) == 0 ? 0 : errno;
  } else {
    err = renameNoReplace(f.dir.get(), f.partName, f.name);
  }
  if (err == EEXIST) {
    *exists = true;
    if (why) *why = "file exists";
    return false;
  }
  if (err != 0) return fail(why, "cannot create " + f.name, err);
  f.partName.clear();
  if (sync) ::fsync(f.dir.get());
  return true;
}

void ReceiveDirectory::discard(IncomingFile& f) {
  if (!f.partName.empty() && f.dir) ::unlinkat(f.dir.get(), f.partName.c_str(), 0);
  f.partName.clear();
  f.file.reset();
}

// ------------------------------------------------------------ sender side

bool collectFiles(const std::vector<std::string>& paths, bool allowDirectories, std::vector<OutgoingFile>& files,
                  std::vector<std::string>& skipped, std::string* why) {
  namespace fs = std::filesystem;
  for (const std::string& path : paths) {
    std::error_code ec;
    const fs::file_status status = fs::status(path, ec);  // follows a link named on the command line
    if (ec) {
      if (why) *why = "cannot read " + path + ": " + ec.message();
      return false;
    }
    // The name the receiver gets: the last component ("dir/" counts as "dir").
    std::string trimmed = path;
    while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
    std::string base = fs::path(trimmed).filename().string();
    if (base.empty() || base == "." || base == "..") base = fs::absolute(trimmed, ec).lexically_normal().filename().string();
    if (fs::is_regular_file(status)) {
      files.push_back({path, base});
      continue;
    }
    if (!fs::is_directory(status)) {
      if (why) *why = path + " is not a regular file or directory";
      return false;
    }
    if (!allowDirectories) {
      if (why) *why = path + " is a directory";
      return false;
    }
    std::vector<OutgoingFile> found;
    fs::recursive_directory_iterator it(trimmed, fs::directory_options::none, ec);
    if (ec) {
      if (why) *why = "cannot read " + path + ": " + ec.message();
      return false;
    }
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) {
        if (why) *why = "cannot read " + it->path().string() + ": " + ec.message();
        return false;
      }
      const fs::file_status s = it->symlink_status(ec);
      if (fs::is_directory(s)) continue;
      const std::string relative = base + "/" + fs::relative(it->path(), trimmed, ec).generic_string();
      if (!fs::is_regular_file(s)) {
        skipped.push_back(it->path().string());
        continue;
      }
      found.push_back({it->path().string(), relative});
    }
    std::sort(found.begin(), found.end(),
              [](const OutgoingFile& a, const OutgoingFile& b) { return a.relative < b.relative; });
    files.insert(files.end(), found.begin(), found.end());
  }
  return true;
}

}  // namespace tether::cli
