// The filesystem Store (see store.h for the contract).
//
// Implementation notes:
//  - Every key is resolved below root_fd_ (the store directory, opened once with O_PATH) by
//    fs::open_beneath (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, or an O_NOFOLLOW walk), so
//    no symbolic link the store's owner plants (a bundle, a certificate's directory,
//    fallback/<name>, locks/, the generation file) is ever followed by a privileged caller. Files
//    are opened O_NONBLOCK and checked with fstat (regular file; when root, owned by the store's
//    owner) before anything is read, so a FIFO never blocks the nginx master or the httpd parent.
//  - Atomic saves come from fs::write_file_atomic_at (temp file, fsync, rename, directory fsync)
//    relative to the parent directory's descriptor; parents are created and opened one component
//    at a time by fs::make_dirs_beneath. When the caller is root, what it creates is given to the
//    owner of the store root before it becomes visible.
//  - Locks are flock(2) locks on <root>/locks/<name>.lock. flock locks belong to an open file
//    description, so two try_lock() calls in one process (two threads) exclude each other, and the
//    kernel drops the lock when the holder's descriptor is closed or its process dies. A child
//    forked while a lock is held shares that descriptor until it execs (O_CLOEXEC) or exits.
//  - The generation counter is a uint64 at offset 0 of <root>/generation, mmap'd MAP_SHARED and
//    only ever updated in place (never replaced by rename: other processes' mappings would keep
//    the old inode). Reads are one atomic load; bumps an atomic add, visible to every process that
//    maps the file. It must belong to the owner of the store root: a mapping of some other file
//    (a hard link to a root file), inherited by the workers, would let them write that file.
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
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
constexpr const char* kGeneration = "generation";
constexpr const char* kLocksDir = "locks";

class FsStoreLock : public StoreLock {
public:
    explicit FsStoreLock(int fd) : fd_(fd) {}
    ~FsStoreLock() override { ::close(fd_); }  // closing the last descriptor releases the flock
    FsStoreLock(const FsStoreLock&) = delete;
    FsStoreLock& operator=(const FsStoreLock&) = delete;

private:
    int fd_;
};

// Who owns the store (the owner of its root directory), and whether the caller is root: then
// files must belong to that owner, and what the caller creates is given to it.
struct StoreOwner {
    uid_t uid = 0;
    gid_t gid = 0;
    bool privileged = false;

    uid_t new_uid() const { return privileged ? uid : static_cast<uid_t>(-1); }
    gid_t new_gid() const { return privileged ? gid : static_cast<gid_t>(-1); }
};

StoreOwner owner_of(int root_fd, const std::string& root) {
    struct stat st;
    if (::fstat(root_fd, &st) != 0) fail_io("store: stat " + root, errno);
    StoreOwner o;
    o.uid = st.st_uid;
    o.gid = st.st_gid;
    o.privileged = ::geteuid() == 0;
    return o;
}

[[noreturn]] void fail_foreign_owner(const std::string& path, uid_t file_uid, uid_t store_uid) {
    fail(Status::io, "store: " + path + " belongs to uid " + std::to_string(file_uid) +
                         ", not to the owner of the store (uid " + std::to_string(store_uid) +
                         "); refusing it (if it is a store file, chown it to uid " +
                         std::to_string(store_uid) + ")");
}

void check_owner(const StoreOwner& o, const struct stat& st, const std::string& path) {
    if (o.privileged && st.st_uid != o.uid) fail_foreign_owner(path, st.st_uid, o.uid);
}

// A failed open below the root: a symbolic link gets a message of its own.
[[noreturn]] void fail_open(const std::string& what, const std::string& path, int e) {
    if (e == ELOOP)
        fail(Status::io, "store: " + what + " " + path +
                             ": it, or a directory above it, is a symbolic link; refusing to "
                             "follow it");
    fail_io("store: " + what + " " + path, e);
}

FileIdentity identity_from(const struct stat& st) {
    FileIdentity id;
    id.dev = st.st_dev;
    id.ino = st.st_ino;
    id.size = static_cast<uint64_t>(st.st_size);
    id.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
    return id;
}

// Opens the file `name` (below the directory `dirfd`) with `access` (O_RDWR or O_RDONLY), creating
// it with exactly `mode` when missing, given to the store's owner when the caller is root.
// Returns -1 with errno on failure. *created says whether this call created it. Never follows a
// symbolic link and never blocks on a FIFO (the caller checks the type with fstat).
int open_or_create(int dirfd, const std::string& name, int access, mode_t mode, const StoreOwner& o,
                   bool* created) {
    *created = false;
    for (int attempt = 0; attempt < 8; ++attempt) {
        int fd = fs::open_beneath(dirfd, name, access | O_NONBLOCK | O_NOCTTY);
        if (fd >= 0 || errno != ENOENT) return fd;
        fd = fs::open_beneath(dirfd, name, access | O_CREAT | O_EXCL | O_NONBLOCK | O_NOCTTY, mode);
        if (fd >= 0) {
            *created = true;
            if (::fchmod(fd, mode) != 0 ||
                (o.privileged && ::fchown(fd, o.new_uid(), o.new_gid()) != 0)) {
                int e = errno;
                ::close(fd);
                errno = e;
                return -1;
            }
            return fd;
        }
        if (errno != EEXIST) return -1;
        // Created by someone else meanwhile: open that one.
    }
    errno = EEXIST;
    return -1;
}

// Lock names follow the layout's name rules: [a-z0-9._-], not starting with '.'.
void check_lock_name(const std::string& name) {
    bool ok = !name.empty() && name.size() <= kMaxLockName && name.front() != '.';
    for (char c : name) {
        ok = ok &&
             ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-');
    }
    if (!ok) fail_invalid("store: invalid lock name '" + name.substr(0, 80) + "'");
}

// Hands the directory `dirfd` (at `path`) and everything below it to uid/gid without following
// symlinks; directories become 0700. (uid_t)-1 / (gid_t)-1 leave that id alone.
void prepare_dir(int dirfd, const std::string& path, uid_t uid, gid_t gid, int depth) {
    if (depth > kMaxDepth) fail(Status::io, "store: " + path + " is nested too deeply");
    const bool chown_wanted = uid != static_cast<uid_t>(-1) || gid != static_cast<gid_t>(-1);
    if (chown_wanted && ::fchown(dirfd, uid, gid) != 0) fail_io("store: chown " + path, errno);
    if (::fchmod(dirfd, 0700) != 0) fail_io("store: chmod " + path, errno);
    for (const std::string& name : fs::list_dir_fd(dirfd, path)) {
        const std::string child = fs::join(path, name);
        struct stat st;
        if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT) continue;  // removed meanwhile
            fail_io("store: stat " + child, errno);
        }
        if (S_ISDIR(st.st_mode)) {
            UniqueFd sub(::openat(dirfd, name.c_str(),
                                  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
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

// prepare_dir() without changing anything (a configuration test): fails where prepare_dir()
// would, for the reasons that can be seen without trying: an entry to hand over that is
// immutable or append-only, or a read-only file system.
void check_dir(int dirfd, const std::string& path, uid_t uid, gid_t gid, int depth) {
    if (depth > kMaxDepth) fail(Status::io, "store: " + path + " is nested too deeply");
    auto needs_change = [&](const struct stat& st, bool dir) {
        return (uid != static_cast<uid_t>(-1) && st.st_uid != uid) ||
               (gid != static_cast<gid_t>(-1) && st.st_gid != gid) ||
               (dir && (st.st_mode & 07777) != 0700);
    };
    auto check = [&](int fd, const std::string& what, const struct stat& st, bool dir) {
        if (!needs_change(st, dir)) return;
        struct statvfs vfs;
        if (::fstatvfs(fd, &vfs) == 0 && (vfs.f_flag & ST_RDONLY))
            fail_io("store: chown " + what, EROFS);
        int flags = 0;
        if (::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 &&
            (flags & (FS_IMMUTABLE_FL | FS_APPEND_FL)))
            fail_io("store: chown " + what, EPERM);
    };
    struct stat st;
    if (::fstat(dirfd, &st) != 0) fail_io("store: stat " + path, errno);
    check(dirfd, path, st, true);
    for (const std::string& name : fs::list_dir_fd(dirfd, path)) {
        const std::string child = fs::join(path, name);
        if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT) continue;
            fail_io("store: stat " + child, errno);
        }
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) continue;
        UniqueFd f(::openat(dirfd, name.c_str(),
                            (S_ISDIR(st.st_mode) ? O_RDONLY | O_DIRECTORY : O_RDONLY) |
                                O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
        if (f.get() < 0) {
            if (errno == ENOENT) continue;
            fail_io("store: open " + child, errno);
        }
        if (S_ISDIR(st.st_mode)) {
            check_dir(f.get(), child, uid, gid, depth + 1);
        } else if (st.st_nlink == 1) {
            check(f.get(), child, st, false);
        }
    }
}

size_t remove_stale_below(int dirfd, const std::string& path, int depth) {
    if (depth > kMaxDepth) return 0;
    size_t removed = fs::remove_stale_temp_files_at(dirfd, path);
    for (const std::string& name : fs::list_dir_fd(dirfd, path)) {
        if (name.empty() || name[0] == '.') continue;  // temporary files, never directories
        // Directories only, never through a symbolic link; anything else fails to open and is
        // skipped.
        UniqueFd sub(::openat(dirfd, name.c_str(),
                              O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
        if (sub.get() >= 0)
            removed += remove_stale_below(sub.get(), fs::join(path, name), depth + 1);
    }
    return removed;
}

// Splits a validated key into its directory ("" at the top) and its file name.
std::pair<std::string, std::string> split_key(const std::string& key) {
    size_t slash = key.rfind('/');
    if (slash == std::string::npos) return {"", key};
    return {key.substr(0, slash), key.substr(slash + 1)};
}

}  // namespace

FsStore::FsStore(std::string dir, Access access)
    : root_(std::move(dir)), read_only_(access == Access::read_only) {
    if (root_.empty()) fail_invalid("store: empty store directory");
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
    if (read_only_) {
        open_read_only();
        return;
    }
    fs::make_dirs(root_, 0700);
    root_fd_.reset(::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (root_fd_.get() < 0) fail_io("store: open directory " + root_, errno);
    const StoreOwner owner = owner_of(root_fd_.get(), root_);
    for (const char* sub : kSubdirs)
        fs::make_dirs_beneath(root_fd_.get(), sub, 0700, root_, owner.new_uid(), owner.new_gid());

    const std::string path = fs::join(root_, kGeneration);
    bool created = false;
    bool writable = true;
    int fd = open_or_create(root_fd_.get(), kGeneration, O_RDWR, 0644, owner, &created);
    if (fd < 0) {
        // A read-only store (filesystem or permissions): read the counter, never bump it.
        int e = errno;
        if (e == EACCES || e == EPERM || e == EROFS) {
            writable = false;
            fd = fs::open_beneath(root_fd_.get(), kGeneration, O_RDONLY | O_NONBLOCK | O_NOCTTY);
            if (fd < 0) e = errno;
        }
        if (fd < 0) fail_open("open", path, e);
    }
    UniqueFd owned(fd);
    struct stat st;
    fs::require_regular(fd, "store: " + path, &st);
    // Whoever the caller is: this file is mapped (read-write where possible) and the mapping is
    // inherited by the worker processes.
    if (!created && st.st_uid != owner.uid) fail_foreign_owner(path, st.st_uid, owner.uid);
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
    generation_fd_ = owned.release();
}

void FsStore::open_read_only() {
    // A configuration test: what is there is read, nothing is created (a missing store reads as
    // empty), no counter is mapped for writing.
    root_fd_.reset(::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (root_fd_.get() < 0) {
        if (errno == ENOENT) return;
        fail_io("store: open directory " + root_, errno);
    }
    const std::string path = fs::join(root_, kGeneration);
    UniqueFd fd(fs::open_beneath(root_fd_.get(), kGeneration, O_RDONLY | O_NONBLOCK | O_NOCTTY));
    if (fd.get() < 0) {
        if (errno == ENOENT) return;
        fail_open("open", path, errno);
    }
    struct stat st;
    fs::require_regular(fd.get(), "store: " + path, &st);
    if (st.st_size < static_cast<off_t>(sizeof(uint64_t))) return;
    void* p = ::mmap(nullptr, sizeof(uint64_t), PROT_READ, MAP_SHARED, fd.get(), 0);
    if (p == MAP_FAILED) fail_io("store: mmap " + path, errno);
    generation_ = static_cast<volatile uint64_t*>(p);
    generation_fd_ = fd.release();
}

void FsStore::check_writable(const char* what) const {
    if (read_only_)
        fail(Status::internal, std::string("store: ") + what + " in " + root_ +
                                   ", which was opened read-only (configuration test)");
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
    return load_with_identity(key, nullptr);
}

std::optional<std::string> FsStore::load_with_identity(const std::string& key,
                                                       FileIdentity* identity) {
    const std::string path = full_path(key);
    if (root_fd_.get() < 0) return std::nullopt;  // read-only, and no store yet
    UniqueFd fd(fs::open_beneath(root_fd_.get(), key, O_RDONLY | O_NONBLOCK | O_NOCTTY));
    if (fd.get() < 0) {
        if (errno == ENOENT) return std::nullopt;
        fail_open("open", path, errno);
    }
    struct stat st;
    fs::require_regular(fd.get(), "store: " + path, &st);
    if (::geteuid() == 0) check_owner(owner_of(root_fd_.get(), root_), st, path);
    if (static_cast<uint64_t>(st.st_size) > fs::kMaxFileBytes)
        fail(Status::io,
             "store: " + path + " is larger than " + std::to_string(fs::kMaxFileBytes) + " bytes");
    std::string data = fs::read_fd(fd.get(), "store: " + path);
    if (identity) *identity = identity_from(st);
    return data;
}

std::optional<FileIdentity> FsStore::identity_of(const std::string& key) {
    const std::string path = full_path(key);
    if (root_fd_.get() < 0) return std::nullopt;  // read-only, and no store yet
    // O_PATH: nothing is opened for reading (a FIFO does not block); a symbolic link as the last
    // component is opened itself and refused below.
    UniqueFd fd(fs::open_beneath(root_fd_.get(), key, O_PATH));
    if (fd.get() < 0) {
        if (errno == ENOENT) return std::nullopt;
        fail_open("open", path, errno);
    }
    struct stat st;
    fs::require_regular(fd.get(), "store: " + path, &st);
    if (::geteuid() == 0) check_owner(owner_of(root_fd_.get(), root_), st, path);
    return identity_from(st);
}

std::optional<int64_t> FsStore::modified_at(const std::string& key) {
    std::optional<FileIdentity> id = identity_of(key);
    if (!id) return std::nullopt;
    return id->mtime_ns / 1000000000;
}

void FsStore::save(const std::string& key, std::string_view data, Sensitivity s) {
    const std::string path = full_path(key);
    check_writable("save");
    const auto [dir, name] = split_key(key);
    const StoreOwner owner = owner_of(root_fd_.get(), root_);
    UniqueFd dirfd =
        fs::make_dirs_beneath(root_fd_.get(), dir, 0700, root_, owner.new_uid(), owner.new_gid());
    fs::write_file_atomic_at(dirfd.get(), name, data, s == Sensitivity::secret ? 0600 : 0644, path,
                             owner.new_uid(), owner.new_gid());
}

void FsStore::remove(const std::string& key) {
    const std::string path = full_path(key);
    check_writable("remove");
    const auto [dir, name] = split_key(key);
    UniqueFd dirfd(fs::open_beneath(root_fd_.get(), dir, O_PATH | O_DIRECTORY));
    if (dirfd.get() < 0) {
        if (errno == ENOENT) return;  // missing is fine
        fail_open("open directory", fs::join(root_, dir), errno);
    }
    // unlinkat removes the directory entry itself, whatever it is (a symbolic link included).
    if (::unlinkat(dirfd.get(), name.c_str(), 0) != 0 && errno != ENOENT)
        fail_io("store: remove " + path, errno);
}

std::vector<std::string> FsStore::list(const std::string& prefix) {
    if (root_fd_.get() < 0) return {};  // read-only, and no store yet
    // "" is the root; one trailing '/' is allowed ("certs/").
    std::string p = prefix;
    if (!p.empty() && p.back() == '/') {
        p.pop_back();
        if (p.empty()) fail_invalid("store: invalid key prefix '/'");
    }
    const std::string path = p.empty() ? root_ : full_path(p);
    UniqueFd dirfd(fs::open_beneath(root_fd_.get(), p, O_RDONLY | O_DIRECTORY | O_NONBLOCK));
    if (dirfd.get() < 0) {
        if (errno == ENOENT) return {};
        fail_open("open directory", path, errno);
    }
    std::vector<std::string> names = fs::list_dir_fd(dirfd.get(), path);
    names.erase(std::remove_if(names.begin(), names.end(),
                               [](const std::string& n) { return n.empty() || n[0] == '.'; }),
                names.end());
    std::sort(names.begin(), names.end());
    return names;
}

std::unique_ptr<StoreLock> FsStore::try_lock(const std::string& lock_name) {
    check_lock_name(lock_name);
    check_writable("lock");
    const std::string name = lock_name + ".lock";
    const std::string path = fs::join(fs::join(root_, kLocksDir), name);
    const StoreOwner owner = owner_of(root_fd_.get(), root_);
    // Created again when it was removed under us.
    UniqueFd dir = fs::make_dirs_beneath(root_fd_.get(), kLocksDir, 0700, root_, owner.new_uid(),
                                         owner.new_gid());
    bool created = false;
    UniqueFd fd(open_or_create(dir.get(), name, O_RDWR, 0600, owner, &created));
    if (fd.get() < 0) fail_open("open lock", path, errno);
    struct stat st;
    fs::require_regular(fd.get(), "store: " + path, &st);
    check_owner(owner, st, path);
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
    check_writable("bump the generation");
    int flags = ::fcntl(generation_fd_, F_GETFL);
    if (flags < 0 || (flags & O_ACCMODE) == O_RDONLY)
        fail(Status::io, "store: " + fs::join(root_, kGeneration) +
                             " is read-only here; cannot bump the generation");
    __atomic_add_fetch(generation_, 1, __ATOMIC_ACQ_REL);
}

std::string FsStore::path_of(const std::string& key) const {
    return full_path(key);
}

void FsStore::prepare_ownership(long uid, long gid) {
    if (read_only_ && root_fd_.get() < 0) return;  // nothing there yet: made at start
    UniqueFd root(::openat(root_fd_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (root.get() < 0) fail_io("store: open directory " + root_, errno);
    const uid_t u = uid >= 0 ? static_cast<uid_t>(uid) : static_cast<uid_t>(-1);
    const gid_t g = gid >= 0 ? static_cast<gid_t>(gid) : static_cast<gid_t>(-1);
    if (read_only_) {
        check_dir(root.get(), root_, u, g, 0);
    } else {
        prepare_dir(root.get(), root_, u, g, 0);
    }
}

size_t FsStore::remove_stale_temp_files() {
    check_writable("clean");
    return remove_stale_below(root_fd_.get(), root_, 0);
}

}  // namespace acme
