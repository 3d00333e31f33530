#include "util/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "util/error.h"

namespace acme::fs {
namespace {

// openat2(2) is used unless the kernel lacks it (ENOSYS) or a seccomp filter refuses it (EPERM
// where the walk then succeeds); either is remembered for the life of the process.
std::atomic<bool> g_openat2_unavailable{false};
std::atomic<bool> g_openat2_disabled_for_testing{false};

void write_all(int fd, std::string_view data, const std::string& path) {
    const char* p = data.data();
    size_t left = data.size();
    while (left > 0) {
        ssize_t n = ::write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail_io("write " + path, errno);
        }
        p += n;
        left -= static_cast<size_t>(n);
    }
}

// fsync of the directory open as `dirfd`; an O_PATH descriptor cannot be fsync'd, so that one is
// reopened for reading first.
void fsync_dirfd(int dirfd, const std::string& dir) {
    if (::fsync(dirfd) == 0 || errno == EINVAL) return;
    if (errno != EBADF) fail_io("fsync directory " + dir, errno);
    UniqueFd d(::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (d.get() < 0) fail_io("open directory " + dir, errno);
    if (::fsync(d.get()) != 0 && errno != EINVAL) fail_io("fsync directory " + dir, errno);
}

std::string basename_of(const std::string& path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// ".<name>.tmp-<pid>.<n>": unique per process (pid) and per call within it (n), so concurrent
// writers of one path (threads of one process included) never share a temporary file. Long names
// are shortened so that the temporary name stays within NAME_MAX.
std::string temp_name_for(const std::string& name) {
    static std::atomic<unsigned long> counter{0};
    std::string base = name;
    if (base.size() > 200) base.resize(200);
    return "." + base + ".tmp-" + std::to_string(::getpid()) + "." +
           std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
}

// The pid of a temporary file name ".<name>.tmp-<pid>[.<n>]", or 0 when `name` is not one.
pid_t temp_file_pid(const std::string& name) {
    if (name.size() < 2 || name[0] != '.') return 0;
    size_t at = name.rfind(".tmp-");
    if (at == std::string::npos || at == 0) return 0;
    size_t p = at + 5;
    size_t digits_start = p;
    while (p < name.size() && name[p] >= '0' && name[p] <= '9') ++p;
    size_t pid_len = p - digits_start;
    if (pid_len == 0 || pid_len > 9) return 0;
    if (p < name.size()) {
        // Optional ".<n>" suffix, digits only.
        if (name[p] != '.' || p + 1 == name.size()) return 0;
        for (size_t i = p + 1; i < name.size(); ++i)
            if (name[i] < '0' || name[i] > '9') return 0;
    }
    long pid = std::strtol(name.c_str() + digits_start, nullptr, 10);
    return pid > 0 ? static_cast<pid_t>(pid) : 0;
}

// The components of a relative path of plain components; "" and "." give none. False when `rel`
// is malformed (see the contract in fs.h).
bool split_rel(const std::string& rel, std::vector<std::string>* parts) {
    parts->clear();
    if (rel.empty() || rel == ".") return true;
    if (rel.find('\0') != std::string::npos) return false;
    size_t pos = 0;
    while (pos <= rel.size()) {
        size_t next = rel.find('/', pos);
        if (next == std::string::npos) next = rel.size();
        std::string part = rel.substr(pos, next - pos);
        if (part.empty() || part == "." || part == "..") return false;
        parts->push_back(std::move(part));
        pos = next + 1;
    }
    return true;
}

bool is_symlink_at(int dirfd, const char* name) {
    struct stat st;
    return ::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

int openat2_beneath(int dirfd, const char* rel, int flags, mode_t mode) {
    struct open_how how;
    std::memset(&how, 0, sizeof how);
    how.flags = static_cast<uint64_t>(static_cast<unsigned>(flags));
    if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) how.mode = mode;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    for (int attempt = 0;; ++attempt) {
        long fd = ::syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
        if (fd >= 0) return static_cast<int>(fd);
        // EAGAIN: the kernel could not rule out a race with a rename; it asks for a retry.
        if ((errno == EAGAIN || errno == EINTR) && attempt < 16) continue;
        return -1;
    }
}

// The fallback: every directory component opened with O_NOFOLLOW (a plain name, so nothing can
// leave the tree), the last one with the caller's flags.
int open_walk(int dirfd, const std::vector<std::string>& parts, int flags, mode_t mode) {
    if (parts.empty()) return ::openat(dirfd, ".", flags, mode);
    UniqueFd cur;
    int at = dirfd;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
        int fd = ::openat(at, parts[i].c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            if (e == ENOTDIR && is_symlink_at(at, parts[i].c_str())) e = ELOOP;
            errno = e;
            return -1;
        }
        cur.reset(fd);
        at = fd;
    }
    int fd;
    do {
        fd = ::openat(at, parts.back().c_str(), flags, mode);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        int e = errno;
        if (e == ENOTDIR && (flags & O_DIRECTORY) && is_symlink_at(at, parts.back().c_str()))
            e = ELOOP;
        cur.reset();
        errno = e;
    }
    return fd;
}

[[noreturn]] void fail_open_dir(int parent, const std::string& name, const std::string& path,
                                int e) {
    if (e == ELOOP || (e == ENOTDIR && is_symlink_at(parent, name.c_str())))
        fail(Status::io, path + " is a symbolic link; refusing to follow it");
    if (e == ENOTDIR) fail(Status::io, path + " exists and is not a directory");
    fail_io("open directory " + path, e);
}

const char* kind_of(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISSOCK(mode)) return "a socket";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISLNK(mode)) return "a symbolic link";
    return "of an unknown type";
}

}  // namespace

std::string dirname(const std::string& path) {
    size_t slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

std::string join(const std::string& a, const std::string& b) {
    if (a.empty()) return b;
    if (a.back() == '/') return a + b;
    return a + "/" + b;
}

// ---- Descriptor-relative -----------------------------------------------------------------------

void set_openat2_disabled_for_testing(bool disabled) noexcept {
    g_openat2_disabled_for_testing.store(disabled);
}

int open_beneath(int dirfd, const std::string& rel, int flags, mode_t mode) noexcept {
    std::vector<std::string> parts;
    try {
        if (!split_rel(rel, &parts)) {
            errno = EINVAL;
            return -1;
        }
    } catch (const std::bad_alloc&) {
        errno = ENOMEM;
        return -1;
    }
    flags |= O_NOFOLLOW | O_CLOEXEC;
    const char* target = parts.empty() ? "." : rel.c_str();
    const bool try_openat2 = !g_openat2_unavailable.load(std::memory_order_relaxed) &&
                             !g_openat2_disabled_for_testing.load(std::memory_order_relaxed);
    int openat2_errno = 0;
    if (try_openat2) {
        int fd = openat2_beneath(dirfd, target, flags, mode);
        if (fd < 0 && errno == ENOTDIR && (flags & O_DIRECTORY) && is_symlink_at(dirfd, target))
            errno = ELOOP;  // as the walk reports it (only the error code depends on this lstat)
        if (fd >= 0 || (errno != ENOSYS && errno != EPERM)) return fd;
        openat2_errno = errno;
        if (errno == ENOSYS) g_openat2_unavailable.store(true, std::memory_order_relaxed);
    }
    int fd = open_walk(dirfd, parts, flags, mode);
    // openat2 said EPERM, the plain walk did not: a seccomp filter refuses openat2.
    if (fd >= 0 && openat2_errno == EPERM)
        g_openat2_unavailable.store(true, std::memory_order_relaxed);
    return fd;
}

void require_regular(int fd, const std::string& path, struct stat* st) {
    if (::fstat(fd, st) != 0) fail_io("stat " + path, errno);
    if (!S_ISREG(st->st_mode))
        fail(Status::io, path + ": not a regular file (it is " + kind_of(st->st_mode) + ")");
}

std::string read_fd(int fd, const std::string& path, size_t max_bytes) {
    std::string out;
    char buf[16384];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail_io("read " + path, errno);
        }
        if (n == 0) break;
        if (out.size() + static_cast<size_t>(n) > max_bytes)
            fail(Status::io,
                 "read " + path + ": file is larger than " + std::to_string(max_bytes) + " bytes");
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

UniqueFd make_dirs_beneath(int dirfd, const std::string& rel, mode_t mode,
                           const std::string& display, uid_t uid, gid_t gid) {
    std::vector<std::string> parts;
    if (!split_rel(rel, &parts))
        fail_invalid("invalid relative path '" + rel.substr(0, 200) + "' below " + display);
    UniqueFd cur(::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (cur.get() < 0) fail_io("open directory " + display, errno);
    std::string path = display;
    for (const std::string& part : parts) {
        path = join(path, part);
        const bool created = ::mkdirat(cur.get(), part.c_str(), mode) == 0;
        if (!created && errno != EEXIST) fail_io("mkdir " + path, errno);
        int fd = ::openat(cur.get(), part.c_str(),
                          O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) fail_open_dir(cur.get(), part, path, errno);
        UniqueFd next(fd);
        if (created) {
            // The umask may have narrowed the mode; apply exactly what was asked for.
            if (::fchmod(next.get(), mode) != 0) fail_io("chmod " + path, errno);
            if ((uid != static_cast<uid_t>(-1) || gid != static_cast<gid_t>(-1)) &&
                ::fchown(next.get(), uid, gid) != 0)
                fail_io("chown " + path, errno);
        }
        cur.reset(next.release());
    }
    return UniqueFd(cur.release());
}

void write_file_atomic_at(int dirfd, const std::string& name, std::string_view data, mode_t mode,
                          const std::string& path, uid_t uid, gid_t gid) {
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
        name.find('\0') != std::string::npos)
        fail_invalid("write " + path + ": invalid file name '" + name.substr(0, 200) + "'");
    const std::string dir = dirname(path);
    const std::string tmp = temp_name_for(name);
    const std::string tmp_path = join(dir, tmp);
    // Preferred: an unnamed file that vanishes if we die before linking it.
    int raw = ::openat(dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
    const bool unnamed = raw >= 0;
    if (!unnamed) {
        if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
            fail_io("create temporary file in " + dir, errno);
        ::unlinkat(dirfd, tmp.c_str(), 0);  // a leftover of a dead process that had our pid
        raw = ::openat(dirfd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                       mode);
        if (raw < 0) fail_io("create " + tmp_path, errno);
    }
    UniqueFd fd(raw);
    bool named = !unnamed;  // whether `tmp` exists and must be removed on failure
    try {
        // The umask may have narrowed the mode at creation; set exactly what was asked for.
        if (::fchmod(fd.get(), mode) != 0) fail_io("chmod " + path, errno);
        if ((uid != static_cast<uid_t>(-1) || gid != static_cast<gid_t>(-1)) &&
            ::fchown(fd.get(), uid, gid) != 0)
            fail_io("chown " + path, errno);
        write_all(fd.get(), data, path);
        if (::fsync(fd.get()) != 0) fail_io("fsync " + path, errno);
        if (unnamed) {
            char proc[64];
            snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd.get());
            ::unlinkat(dirfd, tmp.c_str(), 0);  // a leftover of a dead process that had our pid
            if (::linkat(AT_FDCWD, proc, dirfd, tmp.c_str(), AT_SYMLINK_FOLLOW) != 0) {
                // Without /proc, AT_EMPTY_PATH does the same (it needs CAP_DAC_READ_SEARCH).
                int link_errno = errno;
                if (::linkat(fd.get(), "", dirfd, tmp.c_str(), AT_EMPTY_PATH) != 0)
                    fail_io("link " + tmp_path, link_errno);
            }
            named = true;
        }
        // Replaces the directory entry `name` whatever it is (a symbolic link included: the link
        // goes, its target is not touched).
        if (::renameat(dirfd, tmp.c_str(), dirfd, name.c_str()) != 0)
            fail_io("rename " + tmp_path + " to " + path, errno);
        named = false;
    } catch (...) {
        if (named) ::unlinkat(dirfd, tmp.c_str(), 0);
        throw;
    }
    fsync_dirfd(dirfd, dir);
}

std::vector<std::string> list_dir_fd(int dirfd, const std::string& path) {
    // A descriptor of our own for the DIR stream, so that `dirfd` stays usable (and may be O_PATH).
    int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) fail_io("open directory " + path, errno);
    std::unique_ptr<DIR, int (*)(DIR*)> d(::fdopendir(fd), &::closedir);
    if (!d) {
        int e = errno;
        ::close(fd);
        fail_io("open directory " + path, e);
    }
    std::vector<std::string> out;
    for (;;) {
        errno = 0;
        struct dirent* e = ::readdir(d.get());
        if (!e) {
            if (errno != 0) fail_io("read directory " + path, errno);
            break;
        }
        if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
        out.emplace_back(e->d_name);
    }
    return out;
}

size_t remove_stale_temp_files_at(int dirfd, const std::string& path) {
    size_t removed = 0;
    for (const std::string& name : list_dir_fd(dirfd, path)) {
        pid_t pid = temp_file_pid(name);
        if (pid <= 0) continue;
        if (::kill(pid, 0) == 0 || errno == EPERM) continue;  // still alive
        if (::unlinkat(dirfd, name.c_str(), 0) == 0) ++removed;
    }
    return removed;
}

// ---- Path-based --------------------------------------------------------------------------------

std::optional<std::string> read_file_if_exists(const std::string& path, size_t max_bytes) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (fd.get() < 0) {
        if (errno == ENOENT) return std::nullopt;
        fail_io("open " + path, errno);
    }
    struct stat st;
    require_regular(fd.get(), path, &st);
    return read_fd(fd.get(), path, max_bytes);
}

std::string read_file(const std::string& path, size_t max_bytes) {
    auto content = read_file_if_exists(path, max_bytes);
    if (!content) throw Error(Status::not_found, "read " + path + ": no such file");
    return std::move(*content);
}

std::string read_secret_file(const std::string& path, const std::string& what) {
    const std::string where = what + " " + path;
    // O_NONBLOCK: a FIFO with no writer yet must not hang a configuration test.
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (fd.get() < 0) fail_invalid(where + ": " + std::strerror(errno));
    struct stat st;
    if (::fstat(fd.get(), &st) != 0 || !(S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode)))
        fail_invalid(where + ": not a regular file or a pipe");
    if (S_ISREG(st.st_mode) && (st.st_mode & S_IROTH)) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        fail_invalid(where + ": readable by every local user (mode " + mode +
                     "); make it private first (chmod o-rwx " + path + ")");
    }
    constexpr size_t kMaxSecret = 4096;
    std::string text;
    try {
        text = read_fd(fd.get(), path, kMaxSecret);
    } catch (const Error&) {
        fail_invalid(where + ": more than 4 KiB or unreadable, not a key");
    }
    const size_t b = text.find_first_not_of(" \t\r\n");
    const size_t e = text.find_last_not_of(" \t\r\n");
    std::string out = b == std::string::npos ? std::string() : text.substr(b, e - b + 1);
    std::fill(text.begin(), text.end(), '\0');
    if (out.empty()) fail_invalid(where + ": empty");
    return out;
}

void write_file_atomic(const std::string& path, std::string_view data, mode_t mode) {
    const std::string dir = dirname(path);
    UniqueFd d(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (d.get() < 0) fail_io("open directory " + dir, errno);
    write_file_atomic_at(d.get(), basename_of(path), data, mode, path);
}

void make_dirs(const std::string& path, mode_t mode) {
    if (path.empty()) fail_invalid("make_dirs: empty path");
    std::string cur;
    size_t pos = 0;
    while (pos <= path.size()) {
        size_t next = path.find('/', pos);
        if (next == std::string::npos) next = path.size();
        cur = path.substr(0, next);
        pos = next + 1;
        if (cur.empty()) continue;
        if (::mkdir(cur.c_str(), mode) == 0) {
            // The umask may have narrowed the mode; apply exactly what was asked for.
            if (::chmod(cur.c_str(), mode) != 0) fail_io("chmod " + cur, errno);
        } else if (errno != EEXIST) {
            fail_io("mkdir " + cur, errno);
        }
    }
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) fail_io("stat " + path, errno);
    if (!S_ISDIR(st.st_mode)) fail(Status::io, path + " exists and is not a directory");
}

bool exists(const std::string& path) noexcept {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
}

void remove_file(const std::string& path) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) fail_io("remove " + path, errno);
}

void rename_file(const std::string& from, const std::string& to) {
    if (::rename(from.c_str(), to.c_str()) != 0) fail_io("rename " + from + " to " + to, errno);
}

std::vector<std::string> list_dir(const std::string& path) {
    UniqueFd d(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (d.get() < 0) {
        if (errno == ENOENT) return {};
        fail_io("open directory " + path, errno);
    }
    return list_dir_fd(d.get(), path);
}

size_t remove_stale_temp_files(const std::string& dir) {
    UniqueFd d(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (d.get() < 0) {
        if (errno == ENOENT) return 0;
        fail_io("open directory " + dir, errno);
    }
    return remove_stale_temp_files_at(d.get(), dir);
}

}  // namespace acme::fs
