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
//  - All methods are thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace acme {

enum class Sensitivity { public_data, secret };

class StoreLock {
public:
    virtual ~StoreLock() = default;
};

class Store {
public:
    virtual ~Store() = default;

    virtual std::optional<std::string> load(const std::string& key) = 0;
    virtual void save(const std::string& key, std::string_view data, Sensitivity s) = 0;
    virtual void remove(const std::string& key) = 0;  // missing is fine
    virtual std::vector<std::string> list(const std::string& prefix) = 0;
    virtual std::unique_ptr<StoreLock> try_lock(const std::string& lock_name) = 0;

    virtual uint64_t generation() const noexcept = 0;
    virtual void bump_generation() = 0;

    // A filesystem path for `key` when the backend has one (the servers' startup loaders read
    // certificate files by path); "" otherwise.
    virtual std::string path_of(const std::string& key) const = 0;
};

// The filesystem store rooted at `dir`. The constructor creates the directory tree when missing
// (0700) and maps the generation counter; it throws Error(io) naming the path when it cannot.
// prepare_ownership() hands the tree to an unprivileged user (called by the privileged parent
// process before it forks workers; uid/gid < 0 leave ownership alone).
class FsStore : public Store {
public:
    explicit FsStore(std::string dir);
    ~FsStore() override;

    std::optional<std::string> load(const std::string& key) override;
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
    std::string root_;
    volatile uint64_t* generation_ = nullptr;  // mmap'd <root>/generation
    int generation_fd_ = -1;
};

}  // namespace acme
