#include "util/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "util/error.h"
#include "util/fd.h"

namespace acme::fs {
namespace {


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

void fsync_dir(const std::string& dir) {
    UniqueFd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
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
std::string temp_name_for(const std::string& path) {
    static std::atomic<unsigned long> counter{0};
    std::string base = basename_of(path);
    if (base.size() > 200) base.resize(200);
    std::string name = "." + base + ".tmp-" + std::to_string(::getpid()) + "." +
                       std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
    return join(dirname(path), name);
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

std::optional<std::string> read_file_if_exists(const std::string& path, size_t max_bytes) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
        if (errno == ENOENT) return std::nullopt;
        fail_io("open " + path, errno);
    }
    std::string out;
    char buf[16384];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail_io("read " + path, errno);
        }
        if (n == 0) break;
        if (out.size() + static_cast<size_t>(n) > max_bytes)
            fail(Status::io, "read " + path + ": file is larger than " +
                                 std::to_string(max_bytes) + " bytes");
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

std::string read_file(const std::string& path, size_t max_bytes) {
    auto content = read_file_if_exists(path, max_bytes);
    if (!content) throw Error(Status::not_found, "read " + path + ": no such file");
    return std::move(*content);
}

void write_file_atomic(const std::string& path, std::string_view data, mode_t mode) {
    const std::string dir = dirname(path);
    const std::string tmp = temp_name_for(path);
    // Preferred: an unnamed file that vanishes if we die before linking it.
    int raw = ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
    const bool unnamed = raw >= 0;
    if (!unnamed) {
        if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
            fail_io("create temporary file in " + dir, errno);
        ::unlink(tmp.c_str());  // a leftover of a dead process that had our pid
        raw = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
        if (raw < 0) fail_io("create " + tmp, errno);
    }
    UniqueFd fd(raw);
    bool named = !unnamed;  // whether `tmp` exists and must be removed on failure
    try {
        // The umask may have narrowed the mode at creation; set exactly what was asked for.
        if (::fchmod(fd.get(), mode) != 0) fail_io("chmod " + path, errno);
        write_all(fd.get(), data, path);
        if (::fsync(fd.get()) != 0) fail_io("fsync " + path, errno);
        if (unnamed) {
            char proc[64];
            snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd.get());
            ::unlink(tmp.c_str());  // a leftover of a dead process that had our pid
            if (::linkat(AT_FDCWD, proc, AT_FDCWD, tmp.c_str(), AT_SYMLINK_FOLLOW) != 0) {
                // Without /proc, AT_EMPTY_PATH does the same (it needs CAP_DAC_READ_SEARCH).
                int link_errno = errno;
                if (::linkat(fd.get(), "", AT_FDCWD, tmp.c_str(), AT_EMPTY_PATH) != 0)
                    fail_io("link " + tmp, link_errno);
            }
            named = true;
        }
        if (::rename(tmp.c_str(), path.c_str()) != 0)
            fail_io("rename " + tmp + " to " + path, errno);
        named = false;
    } catch (...) {
        if (named) ::unlink(tmp.c_str());
        throw;
    }
    fsync_dir(dir);
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
    std::vector<std::string> out;
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(path.c_str()), &::closedir);
    if (!d) {
        if (errno == ENOENT) return out;
        fail_io("open directory " + path, errno);
    }
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

size_t remove_stale_temp_files(const std::string& dir) {
    size_t removed = 0;
    for (const std::string& name : list_dir(dir)) {
        pid_t pid = temp_file_pid(name);
        if (pid <= 0) continue;
        if (::kill(pid, 0) == 0 || errno == EPERM) continue;  // still alive
        if (::unlink(join(dir, name).c_str()) == 0) ++removed;
    }
    return removed;
}

}  // namespace acme::fs
