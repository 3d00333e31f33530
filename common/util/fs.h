// Filesystem primitives for the store. Only the store and the layout code call these.
//
// Contract:
//  - write_file_atomic(): readers see either the old content or the new one, never a mix, also
//    across a crash (kill -9, power loss): data is written to an unnamed O_TMPFILE (or, where the
//    filesystem has none, a ".<name>.tmp-<pid>.<n>" sibling), fsync'd, linked/renamed over the
//    target, and the directory is fsync'd. A kill leaves at most a ".<name>.tmp-<pid>.<n>" file of
//    a dead process, which remove_stale_temp_files() deletes. Concurrent writers of one path
//    (threads or processes) never share a temporary file; the last rename wins.
//  - Modes are applied at creation (no window where a key is readable by others).
//  - Every failure throws Error(io) naming the path and the errno text; a missing file in
//    read_file() throws Error(not_found).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace acme::fs {

constexpr size_t kMaxFileBytes = 4 * 1024 * 1024;

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

}  // namespace acme::fs
