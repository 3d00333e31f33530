// The filesystem Store (see store.h for the contract).
//
// Implementation notes:
//  - Atomic saves come from fs::write_file_atomic (temp file, fsync, rename, directory fsync).
//  - Locks are flock(2) locks on <root>/locks/<name>.lock. flock locks belong to an open file
//    description, so two try_lock() calls in one process (two threads) exclude each other, and the
//    kernel drops the lock when the holder's descriptor is closed or its process dies. A child
//    forked while a lock is held shares that descriptor until it execs (O_CLOEXEC) or exits.
//  - The generation counter is a uint64 at offset 0 of <root>/generation, mmap'd MAP_SHARED and
//    only ever updated in place (never replaced by rename: other processes' mappings would keep
//    the old inode). Reads are one atomic load; bumps an atomic add, visible to every process that
//    maps the file.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "store/store.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/fs.h"
#include "util/log.h"

namespace acme {
namespace {

constexpr const char* kSubdirs[] = {
    "accounts", "certs", "orders", "challenges", "challenges/http-01", "challenges/tls-alpn-01",
    "fallback", "locks"};
constexpr size_t kMaxLockName = 240;  // "cert-" + a 230-character name fits
constexpr int kMaxDepth = 32;


class FsStoreLock : public StoreLock {
  public:
    explicit FsStoreLock(int fd) : fd_(fd) {}
    ~FsStoreLock() override { ::close(fd_); }  // closing the last descriptor releases the flock
    FsStoreLock(const FsStoreLock&) = delete;
    FsStoreLock& operator=(const FsStoreLock&) = delete;

  private:
    int fd_;
};

// Lock names follow the layout's name rules: [a-z0-9._-], not starting with '.'.
void check_lock_name(const std::string& name) {
    bool ok = !name.empty() && name.size() <= kMaxLockName && name.front() != '.';
    for (char c : name) {
        ok = ok &&
             ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-');
    }
    if (!ok) fail_invalid("store: invalid lock name '" + name.substr(0, 80) + "'");
}

// Names of a directory opened as `dirfd` (the descriptor stays usable).
std::vector<std::string> names_in(int dirfd, const std::string& path) {
    int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) fail_io("store: open directory " + path, errno);
    std::unique_ptr<DIR, int (*)(DIR*)> d(::fdopendir(fd), &::closedir);
    if (!d) {
        int e = errno;
        ::close(fd);
        fail_io("store: open directory " + path, e);
    }
    std::vector<std::string> out;
    for (;;) {
        errno = 0;
        struct dirent* e = ::readdir(d.get());
        if (!e) {
            if (errno != 0) fail_io("store: read directory " + path, errno);
            break;
        }
        if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
        out.emplace_back(e->d_name);
    }
    return out;
}

// Hands the directory `dirfd` (at `path`) and everything below it to uid/gid without following
// symlinks; directories become 0700. (uid_t)-1 / (gid_t)-1 leave that id alone.
void prepare_dir(int dirfd, const std::string& path, uid_t uid, gid_t gid, int depth) {
    if (depth > kMaxDepth) fail(Status::io, "store: " + path + " is nested too deeply");
    const bool chown_wanted = uid != static_cast<uid_t>(-1) || gid != static_cast<gid_t>(-1);
    if (chown_wanted && ::fchown(dirfd, uid, gid) != 0) fail_io("store: chown " + path, errno);
    if (::fchmod(dirfd, 0700) != 0) fail_io("store: chmod " + path, errno);
    for (const std::string& name : names_in(dirfd, path)) {
        const std::string child = fs::join(path, name);
        struct stat st;
        if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT) continue;  // removed meanwhile
            fail_io("store: stat " + child, errno);
        }
        if (S_ISDIR(st.st_mode)) {
            UniqueFd sub(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (sub.get() < 0) fail_io("store: open directory " + child, errno);
            prepare_dir(sub.get(), child, uid, gid, depth + 1);
        } else if (!chown_wanted) {
            continue;
        } else if (S_ISREG(st.st_mode)) {
            // Through a descriptor, and only for files with a single link: a hard link planted in
            // the store must not hand some other file of the system to the unprivileged user.
            UniqueFd f(::openat(dirfd, name.c_str(),
                          O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
            if (f.get() < 0) {
                if (errno == ENOENT) continue;
                fail_io("store: open " + child, errno);
            }
            if (::fstat(f.get(), &st) != 0) fail_io("store: stat " + child, errno);
            if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
                ACME_LOG_WARN("acme: store: %s has %lu links; leaving its ownership alone",
                              child.c_str(), static_cast<unsigned long>(st.st_nlink));
                continue;
            }
            if (::fchown(f.get(), uid, gid) != 0) fail_io("store: chown " + child, errno);
        } else if (S_ISLNK(st.st_mode)) {
            if (::fchownat(dirfd, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0 &&
                errno != ENOENT)
                fail_io("store: chown " + child, errno);
        }
    }
}

size_t remove_stale_below(const std::string& dir, int depth) {
    if (depth > kMaxDepth) return 0;
    size_t removed = fs::remove_stale_temp_files(dir);
    for (const std::string& name : fs::list_dir(dir)) {
        const std::string child = fs::join(dir, name);
        struct stat st;
        if (::lstat(child.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
            removed += remove_stale_below(child, depth + 1);
    }
    return removed;
}

}  // namespace

FsStore::FsStore(std::string dir) : root_(std::move(dir)) {
    if (root_.empty()) fail_invalid("store: empty store directory");
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
    fs::make_dirs(root_, 0700);
    for (const char* sub : kSubdirs) fs::make_dirs(fs::join(root_, sub), 0700);

    const std::string path = fs::join(root_, "generation");
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    bool writable = fd >= 0;
    if (!writable) {
        // A read-only store (filesystem or permissions): read the counter, never bump it.
        int e = errno;
        if (e == EACCES || e == EPERM || e == EROFS) {
            fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0) e = errno;
        }
        if (fd < 0) fail_io("store: open " + path, e);
    }
    UniqueFd owner(fd);
    struct stat st;
    if (::fstat(fd, &st) != 0) fail_io("store: stat " + path, errno);
    if (!S_ISREG(st.st_mode)) fail(Status::io, "store: " + path + " is not a regular file");
    if (st.st_size < static_cast<off_t>(sizeof(uint64_t))) {
        if (!writable) fail(Status::io, "store: " + path + " is empty and not writable");
        // Only ever grows (ftruncate to a size it already has is a no-op), so two processes
        // creating the store at once cannot wipe each other's counter.
        long page = ::sysconf(_SC_PAGESIZE);
        if (::ftruncate(fd, page > 0 ? page : 4096) != 0) fail_io("store: resize " + path, errno);
    }
    void* p = ::mmap(nullptr, sizeof(uint64_t), writable ? PROT_READ | PROT_WRITE : PROT_READ,
                     MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) fail_io("store: mmap " + path, errno);
    generation_ = static_cast<volatile uint64_t*>(p);
    generation_fd_ = owner.release();
}

FsStore::~FsStore() {
    if (generation_) ::munmap(const_cast<uint64_t*>(generation_), sizeof(uint64_t));
    if (generation_fd_ >= 0) ::close(generation_fd_);
}

std::string FsStore::full_path(const std::string& key) const {
    bool ok = !key.empty() && key.front() != '/' && key.find('\0') == std::string::npos;
    size_t pos = 0;
    while (ok && pos <= key.size()) {
        size_t next = key.find('/', pos);
        if (next == std::string::npos) next = key.size();
        std::string_view seg(key.data() + pos, next - pos);
        // Empty, ".", ".." and dot-names (temporary files are dot-names) are refused.
        ok = !seg.empty() && seg.front() != '.';
        pos = next + 1;
    }
    if (!ok) fail_invalid("store: invalid key '" + key.substr(0, 200) + "'");
    return root_ + "/" + key;
}

std::optional<std::string> FsStore::load(const std::string& key) {
    return fs::read_file_if_exists(full_path(key));
}

void FsStore::save(const std::string& key, std::string_view data, Sensitivity s) {
    const std::string path = full_path(key);
    fs::make_dirs(fs::dirname(path), 0700);
    fs::write_file_atomic(path, data, s == Sensitivity::secret ? 0600 : 0644);
}

void FsStore::remove(const std::string& key) {
    fs::remove_file(full_path(key));
}

std::vector<std::string> FsStore::list(const std::string& prefix) {
    // "" is the root; one trailing '/' is allowed ("certs/").
    std::string p = prefix;
    if (!p.empty() && p.back() == '/') {
        p.pop_back();
        if (p.empty()) fail_invalid("store: invalid key prefix '/'");
    }
    std::vector<std::string> names = fs::list_dir(p.empty() ? root_ : full_path(p));
    names.erase(std::remove_if(names.begin(), names.end(),
                               [](const std::string& n) { return n.empty() || n[0] == '.'; }),
                names.end());
    std::sort(names.begin(), names.end());
    return names;
}

std::unique_ptr<StoreLock> FsStore::try_lock(const std::string& lock_name) {
    check_lock_name(lock_name);
    const std::string dir = fs::join(root_, "locks");
    const std::string path = fs::join(dir, lock_name + ".lock");
    int raw = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (raw < 0 && errno == ENOENT) {  // the locks directory was removed under us
        fs::make_dirs(dir, 0700);
        raw = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    }
    if (raw < 0) fail_io("store: open lock " + path, errno);
    UniqueFd fd(raw);
    for (;;) {
        if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) break;
        if (errno == EINTR) continue;
        if (errno == EWOULDBLOCK) return nullptr;
        fail_io("store: lock " + path, errno);
    }
    return std::make_unique<FsStoreLock>(fd.release());
}

uint64_t FsStore::generation() const noexcept {
    return generation_ ? __atomic_load_n(generation_, __ATOMIC_ACQUIRE) : 0;
}

void FsStore::bump_generation() {
    int flags = ::fcntl(generation_fd_, F_GETFL);
    if (flags < 0 || (flags & O_ACCMODE) == O_RDONLY)
        fail(Status::io, "store: " + fs::join(root_, "generation") +
                             " is read-only here; cannot bump the generation");
    __atomic_add_fetch(generation_, 1, __ATOMIC_ACQ_REL);
}

std::string FsStore::path_of(const std::string& key) const {
    return full_path(key);
}

void FsStore::prepare_ownership(long uid, long gid) {
    UniqueFd root(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (root.get() < 0) fail_io("store: open directory " + root_, errno);
    prepare_dir(root.get(), root_, uid >= 0 ? static_cast<uid_t>(uid) : static_cast<uid_t>(-1),
                gid >= 0 ? static_cast<gid_t>(gid) : static_cast<gid_t>(-1), 0);
}

size_t FsStore::remove_stale_temp_files() {
    return remove_stale_below(root_, 0);
}

}  // namespace acme
