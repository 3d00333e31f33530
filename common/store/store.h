// The certificate store.
//
// Store is deliberately narrow (load / save / remove / list / lock / generation) so that a shared
// backend (Redis, for several servers behind one load balancer) can replace the filesystem one.
// Keys are relative paths such as "certs/example.org/ecdsa-p256.pem"; only store/layout.h builds
// them (one place builds every path; names are sanitised there, once).
//
// Contract for every implementation:
//  - save() is atomic: a reader (any process) sees the whole old value or the whole new one, also
//    after a crash at any point. A private key and its certificate live in ONE value (the bundle)
//    so they are never observable half-written. Secret values are created 0600; every directory
//    0700.
//  - load() returns nullopt for a missing key and throws Error(io) for anything else.
//  - list(prefix) returns the names directly below `prefix` (files and directories), sorted.
//  - try_lock() never blocks: it returns an owned lock or nullptr when another holder (thread or
//    process) has it. A lock is released when the StoreLock is destroyed or its process dies.
//  - generation() is a store-wide counter that changes after every install; reading it is a single
//    atomic load on shared memory (no syscall), so the handshake path may call it.
//  - load_with_identity() is load() plus the identity of the value it returned (taken from the
//    same open file, so content and identity always belong together); identity_of() is that
//    identity without reading the value (FsStore: one open(O_PATH) and one fstat, no read), for a
//    cheap "did it change?" check. A new save() gives a new identity. Both return nullopt for a
//    missing key and throw Error(io) exactly where load() would. Backends without files derive
//    the identity from the content (the defaults below).
//  - All methods are thread-safe.
//
// FsStore and a privileged caller: the store belongs to the owner of its root directory (the
// unprivileged worker user), yet the privileged parent (the nginx master or httpd parent as root,
// acmectl before it drops privileges) reads and writes it. So every FsStore access is resolved
// below a descriptor of the root opened once (openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
// or an O_NOFOLLOW walk where openat2 is unavailable) and:
//  - never follows a symbolic link, in any component, the last one included: load(), list(),
//    identity_of(), try_lock() and the generation file refuse one with Error(io) naming the key;
//    save() and remove() act on the directory entry itself (a rename replaces a link, never its
//    target) and refuse a linked directory above it;
//  - never opens anything but a regular file or a directory: a FIFO, socket or device is refused
//    with Error(io) "... not a regular file" without blocking;
//  - when the caller is root (geteuid() == 0), refuses files that do not belong to the owner of
//    the store root (a hard link to a root-only file would), and gives the files and directories
//    it creates to that owner. The generation file (mapped read-write) must belong to the owner of
//    the store root whoever the caller is.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/fd.h"

namespace acme {

enum class Sensitivity { public_data, secret };

// What identifies one stored version of a value (FsStore: the file's device, inode, size and
// modification time).
struct FileIdentity {
    uint64_t dev = 0, ino = 0, size = 0;
    int64_t mtime_ns = 0;

    bool operator==(const FileIdentity& o) const {
        return dev == o.dev && ino == o.ino && size == o.size && mtime_ns == o.mtime_ns;
    }
    bool operator!=(const FileIdentity& o) const { return !(*this == o); }
};

class StoreLock {
public:
    virtual ~StoreLock() = default;
};

class Store {
public:
    virtual ~Store() = default;

    virtual std::optional<std::string> load(const std::string& key) = 0;
    virtual std::optional<std::string> load_with_identity(const std::string& key,
                                                          FileIdentity* identity) {
        std::optional<std::string> value = load(key);
        if (value && identity) *identity = content_identity(*value);
        return value;
    }
    virtual std::optional<FileIdentity> identity_of(const std::string& key) {
        std::optional<std::string> value = load(key);
        if (!value) return std::nullopt;
        return content_identity(*value);
    }
    // Unix time of the last save() of `key`; nullopt when it is missing or the backend cannot
    // tell (such a backend expires leftovers, e.g. stale challenges, on its own).
    virtual std::optional<int64_t> modified_at(const std::string& key) {
        (void)key;
        return std::nullopt;
    }
    virtual void save(const std::string& key, std::string_view data, Sensitivity s) = 0;
    virtual void remove(const std::string& key) = 0;  // missing is fine
    virtual std::vector<std::string> list(const std::string& prefix) = 0;
    virtual std::unique_ptr<StoreLock> try_lock(const std::string& lock_name) = 0;

    virtual uint64_t generation() const noexcept = 0;
    virtual void bump_generation() = 0;

    // A filesystem path for `key` when the backend has one (the servers' startup loaders read
    // certificate files by path); "" otherwise. The core never opens it: opening it by path
    // follows whatever symbolic link the store's owner put there, so privileged code reads through
    // load() / load_with_identity() instead.
    virtual std::string path_of(const std::string& key) const = 0;

protected:
    // The identity of a value for backends without files: its size and a hash of its content.
    static FileIdentity content_identity(std::string_view value) {
        FileIdentity id;
        id.size = value.size();
        id.mtime_ns = static_cast<int64_t>(std::hash<std::string_view>{}(value));
        return id;
    }
};

// The filesystem store rooted at `dir`. The constructor creates the directory tree when missing
// (0700), opens `dir` once (the configured path itself may pass through symbolic links; nothing
// below it may) and maps the generation counter; it throws Error(io) naming the path when it
// cannot (a symbolic link, a non-regular file or a foreign owner included, see above).
// Access::read_only (configuration tests: nginx -t) creates and writes nothing: a missing store
// reads as empty, every write (save, remove, lock, bump, clean) throws Error(internal), and
// prepare_ownership() only checks that the hand-over could be done (no immutable or append-only
// entry to change, no read-only file system) and fails as the real one would.
// prepare_ownership() hands the tree to an unprivileged user (called by the privileged parent
// process before it forks workers; uid/gid < 0 leave ownership alone).
class FsStore : public Store {
public:
    enum class Access { read_write, read_only };
    explicit FsStore(std::string dir, Access access = Access::read_write);
    ~FsStore() override;

    std::optional<std::string> load(const std::string& key) override;
    std::optional<std::string> load_with_identity(const std::string& key,
                                                  FileIdentity* identity) override;
    std::optional<FileIdentity> identity_of(const std::string& key) override;
    std::optional<int64_t> modified_at(const std::string& key) override;
    void save(const std::string& key, std::string_view data, Sensitivity s) override;
    void remove(const std::string& key) override;
    std::vector<std::string> list(const std::string& prefix) override;
    std::unique_ptr<StoreLock> try_lock(const std::string& lock_name) override;
    uint64_t generation() const noexcept override;
    void bump_generation() override;
    std::string path_of(const std::string& key) const override;

    void prepare_ownership(long uid, long gid);
    // Removes temp files left by dead processes anywhere in the tree. Returns how many.
    size_t remove_stale_temp_files();
    const std::string& root() const { return root_; }

private:
    std::string full_path(const std::string& key) const;  // validates the key
    void open_read_only();
    void check_writable(const char* what) const;
    std::string root_;
    bool read_only_ = false;
    UniqueFd root_fd_;  // O_PATH | O_DIRECTORY, opened once: every key is resolved below it
    volatile uint64_t* generation_ = nullptr;  // mmap'd <root>/generation
    int generation_fd_ = -1;
};

}  // namespace acme
