// The receiver's file system side: everything happens relative to one
// directory descriptor, never through a path that could lead elsewhere.
//
// * Directories below the receiving directory are opened one component at a
//   time with O_NOFOLLOW, so a symbolic link (planted before or during a
//   transfer) can never lead outside it; missing ones are created.
// * A file being received is never visible under its final name. The seed's
//   protocol (no resume) writes to an O_TMPFILE file that has no name at
//   all until it is linked in; the native protocol writes to ".NAME" +
//   kPartSuffix, locked with flock() while a connection writes it, and kept
//   after an interruption so that a later transfer can resume it.
// * Publishing is fsync (on the worker), then an atomic link/rename that
//   refuses to replace an existing file unless overwriting was asked for
//   (renameat2 RENAME_NOREPLACE, linkat), then fsync of the directory.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "system/unique_fd.h"

namespace tether::cli {

using detail::UniqueFd;

// A file being received.
struct IncomingFile {
  UniqueFd dir;           // the directory it goes to
  UniqueFd file;          // open for writing
  std::string name;       // final name in `dir`
  std::string partName;   // native: the partial file's name; empty for O_TMPFILE
  std::uint64_t existing = 0;  // native: bytes the partial file already holds
};

class ReceiveDirectory {
 public:
  // Opens (creating it if missing) the directory files are received into.
  bool open(const std::string& path, std::string* why);
  const std::string& path() const { return path_; }
  int descriptor() const { return dir_.get(); }

  // The directory that holds `components` (all but the last are
  // directories, created when missing, never followed through a link).
  UniqueFd openParent(const std::vector<std::string>& components, std::string* why) const;

  // Whether `name` exists in `dir` (as anything, a dangling link included).
  static bool exists(int dir, const std::string& name);
  // Bytes available to an unprivileged writer on the directory's file system.
  static std::uint64_t freeSpace(int dir);

  // An unnamed file in `dir` (O_TMPFILE; a hidden, randomly named file if
  // the file system has no O_TMPFILE, unlinked again on failure).
  static bool createTemporary(IncomingFile& file, std::string* why);
  // Opens or creates ".NAME.tether-part" and locks it; `existing` is its
  // size. False with *busy set when another writer holds the lock.
  static bool openPartial(IncomingFile& file, bool* busy, std::string* why);
  // Reserves `bytes` from `offset` (fallocate, keeping the file size) so
  // that the disk cannot fill up under the transfer. False only for a real
  // shortage (ENOSPC); file systems without fallocate are fine.
  static bool reserve(int fd, std::uint64_t offset, std::uint64_t bytes, std::string* why);
  // Sets the permission bits, gives the file its final name and makes the
  // name durable (fsync of the directory when `sync`). With overwrite false
  // an existing file is never replaced (*exists is set).
  static bool publish(IncomingFile& file, std::uint32_t mode, bool overwrite, bool sync, bool* exists,
                      std::string* why);
  // Removes what a failed transfer left: the partial file (native) or the
  // hidden temporary name (seed without O_TMPFILE).
  static void discard(IncomingFile& file);

 private:
  std::string path_;
  UniqueFd dir_;
};

// A file the sender reads: a regular file with its relative name.
struct OutgoingFile {
  std::string path;      // where it is on this machine
  std::string relative;  // the name the receiver gets ('/'-separated)
};

// The files named on the command line: a regular file travels under its
// own name, a directory as every regular file below it under
// "DIRNAME/sub/file" (in name order; links and special files are skipped and
// reported in *skipped). False with *why for a path that cannot be read.
bool collectFiles(const std::vector<std::string>& paths, bool allowDirectories, std::vector<OutgoingFile>& files,
                  std::vector<std::string>& skipped, std::string* why);

}  // namespace tether::cli
