// Filesystem primitives for the store. Only the store and the layout code call these.
//
// Contract:
//  - write_file_atomic() / write_file_atomic_at(): readers see either the old content or the new
//    one, never a mix, also across a crash (kill -9, power loss): data is written to an unnamed
//    O_TMPFILE (or, where the filesystem has none, a ".<name>.tmp-<pid>.<n>" sibling), fsync'd,
//    linked/renamed over the target, and the directory is fsync'd. A kill leaves at most a
//    ".<name>.tmp-<pid>.<n>" file of a dead process, which remove_stale_temp_files() deletes.
//    Concurrent writers of one path (threads or processes) never share a temporary file; the last
//    rename wins. The rename replaces the directory entry itself: when the target is a symbolic
//    link, the link is replaced, never the file it points to.
//  - Modes (and, when asked for, owners) are applied before the file becomes visible (no window
//    where a key is readable by others).
//  - Reads open with O_NONBLOCK and refuse anything but a regular file (Error(io) "... is not a
//    regular file"), so a FIFO or a device never blocks the caller.
//  - Every failure throws Error(io) naming the path and the errno text; a missing file in
//    read_file() throws Error(not_found).
//
// Descriptor-relative primitives (the *_at / *_beneath functions) are for a directory that a less
// privileged user may write to (the store belongs to the worker user, yet the privileged parent
// reads and writes it). Their `rel` arguments are relative paths of plain components ("a/b/c":
// no leading '/', no empty, "." or ".." component; "" or "." alone name the directory itself);
// anything else fails with EINVAL / Error(invalid). They never leave the tree below the
// descriptor and never follow a symbolic link, in any component, the last one included (a link is
// refused with ELOOP / Error(io) "... is a symbolic link"). They are thread-safe.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/fd.h"

namespace acme::fs {

constexpr size_t kMaxFileBytes = 4 * 1024 * 1024;

// ---- Path-based (the path itself is trusted; its last component may be anything) -------------

std::string read_file(const std::string& path, size_t max_bytes = kMaxFileBytes);
std::optional<std::string> read_file_if_exists(const std::string& path,
                                               size_t max_bytes = kMaxFileBytes);
void write_file_atomic(const std::string& path, std::string_view data, mode_t mode);
// mkdir -p with `mode` for each directory created; existing directories are left as they are.
void make_dirs(const std::string& path, mode_t mode);
bool exists(const std::string& path) noexcept;
// Removes a file; a missing file is not an error.
void remove_file(const std::string& path);
// Names (not paths) of the entries of a directory, without "." and ".."; empty if it is missing.
std::vector<std::string> list_dir(const std::string& path);
// Deletes ".<name>.tmp-<pid>[.<n>]" files in `dir` whose process no longer exists. Returns how
// many. Not recursive.
size_t remove_stale_temp_files(const std::string& dir);
// Renames; throws Error(io) on failure.
void rename_file(const std::string& from, const std::string& to);
std::string dirname(const std::string& path);
std::string join(const std::string& a, const std::string& b);

// A secret (an EAB HMAC key, a cluster key) from a file the operator names: a regular file or a
// pipe, at most 4 KiB, not readable by other users (the check names the chmod that fixes it);
// surrounding white space is removed. Throws Error(invalid) with a message that starts with
// `what` and the path.
std::string read_secret_file(const std::string& path, const std::string& what);

// ---- Descriptor-relative (see the contract above) ----------------------------------------------

// Opens `rel` below the directory `dirfd` with openat2(2) and RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS or, where the kernel has no openat2 or a seccomp
// filter refuses it (ENOSYS, EPERM), an openat(O_NOFOLLOW) walk, one component at a time.
// O_NOFOLLOW and O_CLOEXEC are always added. Returns the new descriptor, or -1 with errno set
// (ELOOP for a symbolic link, EINVAL for a malformed `rel`). With O_PATH, a symbolic link as the
// last component is opened itself (as open(2) does with O_PATH | O_NOFOLLOW): check with fstat.
// Never blocks on a FIFO when `flags` has O_NONBLOCK or O_PATH.
int open_beneath(int dirfd, const std::string& rel, int flags, mode_t mode = 0) noexcept;

// fstat of `fd` into *st; throws Error(io) naming `path` unless it is a regular file.
void require_regular(int fd, const std::string& path, struct stat* st);
// The whole content of the file open as `fd` (read from its current offset), at most max_bytes
// (more throws Error(io) naming `path`).
std::string read_fd(int fd, const std::string& path, size_t max_bytes = kMaxFileBytes);

// Opens (creating what is missing, each new directory with exactly `mode` and, unless they are
// -1, owner `uid` / group `gid`) every component of `rel` below `dirfd` as a directory and returns
// a descriptor of the last one (O_RDONLY | O_DIRECTORY). `display` is the path of `dirfd` for
// messages. A symbolic link or a non-directory in the way throws Error(io) naming it.
UniqueFd make_dirs_beneath(int dirfd, const std::string& rel, mode_t mode,
                           const std::string& display, uid_t uid = static_cast<uid_t>(-1),
                           gid_t gid = static_cast<gid_t>(-1));

// The atomic write of `name` (one component) in the directory `dirfd` (a descriptor opened
// O_RDONLY | O_DIRECTORY, or O_PATH). `path` names the target in messages. Unless they are -1,
// the new file gets owner `uid` / group `gid` before it is linked into the directory.
void write_file_atomic_at(int dirfd, const std::string& name, std::string_view data, mode_t mode,
                          const std::string& path, uid_t uid = static_cast<uid_t>(-1),
                          gid_t gid = static_cast<gid_t>(-1));

// Names of the entries of the directory open as `dirfd` (which stays usable), without "." and
// "..". `path` names it in messages.
std::vector<std::string> list_dir_fd(int dirfd, const std::string& path);
// remove_stale_temp_files() for the directory open as `dirfd`.
size_t remove_stale_temp_files_at(int dirfd, const std::string& path);

// Tests only: true makes open_beneath() use the openat() walk as if openat2 were unavailable.
void set_openat2_disabled_for_testing(bool disabled) noexcept;

}  // namespace acme::fs
