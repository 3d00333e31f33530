// FsStore: keys, modes, atomicity under SIGKILL, locks across threads and processes, the shared
// generation counter, ownership hand-over and stale temp file cleanup; a store tampered with by
// its owner (symbolic links, FIFOs, devices, foreign files) used by root.
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "store/layout.h"
#include "store/store.h"
#include "util/error.h"
#include "util/fs.h"

namespace acme {
namespace {

class TempDir {
public:
    TempDir() {
        char tmpl[] = "/tmp/acme-store-test-XXXXXX";
        const char* p = ::mkdtemp(tmpl);
        if (!p) throw std::runtime_error("mkdtemp");
        path_ = p;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

mode_t mode_of(const std::string& path) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return static_cast<mode_t>(-1);
    return st.st_mode & 07777;
}

struct stat stat_of(const std::string& path) {
    struct stat st {};
    ::lstat(path.c_str(), &st);
    return st;
}

void expect_invalid(const std::function<void()>& f) {
    try {
        f();
        FAIL() << "expected Error(invalid)";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::invalid) << e.what();
    }
}

// Every file name below `dir` (recursively) that looks like a temporary file.
std::vector<std::string> temp_files_below(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
        if (e.path().filename().string().find(".tmp-") != std::string::npos)
            out.push_back(e.path().string());
    }
    return out;
}

// Runs `body` in a forked child; returns the child's exit code (or 128 + signal).
int in_child(const std::function<int()>& body) {
    pid_t pid = ::fork();
    if (pid == 0) {
        int rc = 99;
        try {
            rc = body();
        } catch (...) {
            rc = 98;
        }
        ::_exit(rc);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

pid_t dead_pid() {
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(0);
    ::waitpid(pid, nullptr, 0);
    return pid;
}

TEST(FsStore, CreatesTheTreeWith0700Directories) {
    TempDir tmp;
    const std::string root = tmp.path() + "/store/nested";
    FsStore store(root + "/");
    EXPECT_EQ(store.root(), root);
    for (const char* sub :
         {"", "/accounts", "/certs", "/orders", "/challenges", "/challenges/http-01",
          "/challenges/tls-alpn-01", "/fallback", "/locks"}) {
        EXPECT_EQ(mode_of(root + sub), 0700u) << sub;
        EXPECT_TRUE(S_ISDIR(stat_of(root + sub).st_mode)) << sub;
    }
    EXPECT_TRUE(S_ISREG(stat_of(root + "/generation").st_mode));
    EXPECT_GE(stat_of(root + "/generation").st_size, 8);
    // A second instance on an existing tree works too.
    FsStore again(root);
    EXPECT_EQ(again.generation(), store.generation());
}

TEST(FsStore, ConstructorFailsWithIoErrorNamingThePath) {
    TempDir tmp;
    fs::write_file_atomic(tmp.path() + "/file", "x", 0600);
    try {
        FsStore store(tmp.path() + "/file/store");
        FAIL() << "a store below a file must fail";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::io);
        EXPECT_NE(std::string(e.what()).find(tmp.path() + "/file"), std::string::npos) << e.what();
    }
}

TEST(FsStore, SaveLoadListRemove) {
    TempDir tmp;
    FsStore store(tmp.path());
    const std::string key = layout::cert_bundle("example.org", "ecdsa-p256");
    EXPECT_EQ(store.load(key), std::nullopt);
    store.save(key, "bundle-1", Sensitivity::secret);
    EXPECT_EQ(store.load(key), "bundle-1");
    store.save(key, "bundle-2", Sensitivity::secret);
    EXPECT_EQ(store.load(key), "bundle-2");
    store.save(layout::cert_meta("example.org"), "{}", Sensitivity::public_data);
    store.save(layout::cert_bundle("example.org", "rsa-2048"), "r", Sensitivity::secret);
    store.save(layout::cert_meta("b.example"), "{}", Sensitivity::public_data);
    std::string binary("\0\x01\xff end", 6);
    store.save("orders/bin.rsa-2048.json", binary, Sensitivity::public_data);
    EXPECT_EQ(store.load("orders/bin.rsa-2048.json"), binary);

    EXPECT_EQ(store.list("certs/example.org"),
              (std::vector<std::string>{"ecdsa-p256.pem", "meta.json", "rsa-2048.pem"}));
    EXPECT_EQ(store.list("certs/example.org/"), store.list("certs/example.org"));
    EXPECT_EQ(store.list("certs"), (std::vector<std::string>{"b.example", "example.org"}));
    EXPECT_TRUE(store.list("certs/missing").empty());
    std::vector<std::string> top = store.list("");
    for (const char* want : {"accounts", "certs", "challenges", "fallback", "locks", "orders"})
        EXPECT_NE(std::find(top.begin(), top.end(), want), top.end()) << want;

    store.remove(key);
    EXPECT_EQ(store.load(key), std::nullopt);
    store.remove(key);  // missing is fine
    store.remove("certs/never/was.pem");
    EXPECT_EQ(store.list("certs/example.org"),
              (std::vector<std::string>{"meta.json", "rsa-2048.pem"}));
    EXPECT_EQ(store.path_of(key), tmp.path() + "/" + key);
}

TEST(FsStore, ListHidesTemporaryFiles) {
    TempDir tmp;
    FsStore store(tmp.path());
    store.save("certs/a/x.pem", "x", Sensitivity::secret);
    fs::write_file_atomic(tmp.path() + "/certs/a/.x.pem.tmp-1.0", "partial", 0600);
    EXPECT_EQ(store.list("certs/a"), std::vector<std::string>{"x.pem"});
}

TEST(FsStore, LoadOfSomethingUnreadableThrowsIo) {
    TempDir tmp;
    FsStore store(tmp.path());
    store.save("certs/a/x.pem", "x", Sensitivity::secret);
    try {
        store.load("certs/a");  // a directory
        FAIL() << "expected Error(io)";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::io);
    }
}

TEST(FsStore, KeyValidation) {
    TempDir tmp;
    FsStore store(tmp.path());
    for (const std::string& bad :
         {std::string(""), std::string("/etc/passwd"), std::string("../x"), std::string(".."),
          std::string("."), std::string("certs/../../x"), std::string("certs/./x"),
          std::string("certs//x"), std::string("certs/x/"), std::string("certs/.."),
          std::string(".hidden"), std::string("certs/.x.pem.tmp-1.0"), std::string("a\0b", 3)}) {
        expect_invalid([&] { store.load(bad); });
        expect_invalid([&] { store.save(bad, "x", Sensitivity::public_data); });
        expect_invalid([&] { store.remove(bad); });
        expect_invalid([&] { store.path_of(bad); });
    }
    expect_invalid([&] { store.list("../"); });
    expect_invalid([&] { store.list("/"); });
    // Nothing escaped the store.
    EXPECT_FALSE(fs::exists(tmp.path() + "/../x"));
}

TEST(FsStore, ModesAreExactWhateverTheUmask) {
    for (mode_t mask : {mode_t{0}, mode_t{022}, mode_t{077}}) {
        TempDir tmp;
        mode_t old = ::umask(mask);
        {
            FsStore store(tmp.path() + "/s");
            store.save("certs/example.org/ecdsa-p256.pem", "key+cert", Sensitivity::secret);
            store.save("certs/example.org/meta.json", "{}", Sensitivity::public_data);
            store.save("certs/example.org/archive/1-ecdsa-p256.pem", "old", Sensitivity::secret);
            auto lock = store.try_lock("driver");
            ASSERT_NE(lock, nullptr);
        }
        ::umask(old);
        const std::string root = tmp.path() + "/s";
        EXPECT_EQ(mode_of(root), 0700u) << "umask " << mask;
        EXPECT_EQ(mode_of(root + "/certs/example.org"), 0700u) << "umask " << mask;
        EXPECT_EQ(mode_of(root + "/certs/example.org/archive"), 0700u) << "umask " << mask;
        EXPECT_EQ(mode_of(root + "/certs/example.org/ecdsa-p256.pem"), 0600u) << "umask " << mask;
        EXPECT_EQ(mode_of(root + "/certs/example.org/archive/1-ecdsa-p256.pem"), 0600u);
        EXPECT_EQ(mode_of(root + "/certs/example.org/meta.json"), 0644u) << "umask " << mask;
        EXPECT_EQ(mode_of(root + "/locks/driver.lock") & 077, 0u) << "umask " << mask;
    }
}

TEST(FsStore, SaveIsAtomicUnderSigkill) {
    const std::string a(1 << 20, 'A');
    const std::string b(1 << 20, 'B');
    const std::string key = layout::cert_bundle("example.org", "ecdsa-p256");
    for (int round = 0; round < 5; ++round) {
        TempDir tmp;
        int progress[2];
        ASSERT_EQ(::pipe(progress), 0);
        pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            ::close(progress[0]);
            try {
                FsStore store(tmp.path());
                for (unsigned i = 0;; ++i) {
                    store.save(key, (i % 2) ? b : a, Sensitivity::secret);
                    char c = 'x';
                    if (::write(progress[1], &c, 1) != 1) ::_exit(3);
                }
            } catch (...) {
                ::_exit(2);
            }
        }
        ::close(progress[1]);
        // Let the child complete a few saves (a different number each round), then kill it in the
        // middle of the next one.
        for (int done = 0; done < 2 + round; ++done) {
            char c;
            ASSERT_EQ(::read(progress[0], &c, 1), 1) << "the writer died early";
        }
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        ::close(progress[0]);
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

        FsStore store(tmp.path());
        std::optional<std::string> got = store.load(key);
        ASSERT_TRUE(got.has_value());
        EXPECT_TRUE(*got == a || *got == b)
            << "round " << round << ": torn value of " << got->size() << " bytes";
        store.remove_stale_temp_files();
        EXPECT_EQ(temp_files_below(tmp.path()), std::vector<std::string>{}) << "round " << round;
        EXPECT_EQ(mode_of(store.path_of(key)), 0600u);
    }
}

TEST(FsStore, RemoveStaleTempFilesWalksTheTree) {
    TempDir tmp;
    FsStore store(tmp.path());
    store.save("certs/a/archive/1-rsa-2048.pem", "x", Sensitivity::secret);
    const pid_t gone = dead_pid();
    const std::string dead1 =
        tmp.path() + "/certs/a/archive/.1-rsa-2048.pem.tmp-" + std::to_string(gone) + ".0";
    const std::string dead2 = tmp.path() + "/.x.tmp-" + std::to_string(gone) + ".7";
    const std::string live =
        tmp.path() + "/certs/a/.b.pem.tmp-" + std::to_string(::getpid()) + ".3";
    for (const auto& p : {dead1, dead2, live}) fs::write_file_atomic(p, "partial", 0600);
    EXPECT_EQ(store.remove_stale_temp_files(), 2u);
    EXPECT_FALSE(fs::exists(dead1));
    EXPECT_FALSE(fs::exists(dead2));
    EXPECT_TRUE(fs::exists(live));  // a live writer's file is left alone
    EXPECT_EQ(store.load("certs/a/archive/1-rsa-2048.pem"), "x");
}

TEST(FsStore, TryLockExcludesOtherThreads) {
    TempDir tmp;
    FsStore store(tmp.path());
    auto held = store.try_lock("driver");
    ASSERT_NE(held, nullptr);
    bool other_got_it = true, other_got_different = false;
    std::thread t([&] {
        other_got_it = store.try_lock("driver") != nullptr;
        other_got_different = store.try_lock("cert-example.org") != nullptr;
    });
    t.join();
    EXPECT_FALSE(other_got_it);
    EXPECT_TRUE(other_got_different);
    // A second store object on the same directory is excluded as well.
    FsStore other(tmp.path());
    EXPECT_EQ(other.try_lock("driver"), nullptr);
    held.reset();
    std::unique_ptr<StoreLock> after;
    std::thread t2([&] { after = store.try_lock("driver"); });
    t2.join();
    EXPECT_NE(after, nullptr);
    EXPECT_EQ(store.try_lock("driver"), nullptr);
}

TEST(FsStore, TryLockExcludesOtherProcessesAndIsReleasedWhenTheHolderDies) {
    TempDir tmp;
    FsStore store(tmp.path());
    {
        auto held = store.try_lock("driver");
        ASSERT_NE(held, nullptr);
        // A child (same store object, new open) cannot take it while the parent holds it.
        EXPECT_EQ(in_child([&] { return store.try_lock("driver") == nullptr ? 0 : 1; }), 0);
        EXPECT_EQ(in_child([&] {
                      FsStore mine(tmp.path());
                      return mine.try_lock("driver") == nullptr ? 0 : 1;
                  }),
                  0);
    }
    // Now a child holds it until killed.
    int ready[2], hold[2];
    ASSERT_EQ(::pipe(ready), 0);
    ASSERT_EQ(::pipe(hold), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ::close(ready[0]);
        ::close(hold[1]);
        FsStore mine(tmp.path());
        auto lock = mine.try_lock("driver");
        char c = lock ? 'y' : 'n';
        (void)!::write(ready[1], &c, 1);
        (void)!::read(hold[0], &c, 1);  // blocks until killed
        ::_exit(0);
    }
    ::close(ready[1]);
    ::close(hold[0]);
    char c = 0;
    ASSERT_EQ(::read(ready[0], &c, 1), 1);
    EXPECT_EQ(c, 'y');
    EXPECT_EQ(store.try_lock("driver"), nullptr);
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    ::close(ready[0]);
    ::close(hold[1]);
    EXPECT_NE(store.try_lock("driver"), nullptr);
}

TEST(FsStore, LockNamesAreValidated) {
    TempDir tmp;
    FsStore store(tmp.path());
    for (const char* bad : {"", "../x", "a/b", ".hidden", "Driver", "a b", "\xc3\xa4"})
        expect_invalid([&] { store.try_lock(bad); });
    expect_invalid([&] { store.try_lock(std::string(300, 'a')); });
    EXPECT_NE(store.try_lock("cert-_wildcard.example.org"), nullptr);
    // The lock names the engine builds from layout names are accepted.
    EXPECT_NE(store.try_lock("account-" + layout::ca_id("https://acme.zerossl.com/v2/DV90")),
              nullptr);
    EXPECT_NE(store.try_lock("cert-" + layout::cert_name(std::string(230, 'a'))), nullptr);
    EXPECT_TRUE(fs::exists(tmp.path() + "/locks/cert-_wildcard.example.org.lock"));
}

TEST(FsStore, GenerationIsSharedThroughTheMapping) {
    TempDir tmp;
    FsStore store(tmp.path());
    const std::string gen_path = tmp.path() + "/generation";
    const ino_t inode = stat_of(gen_path).st_ino;
    EXPECT_EQ(store.generation(), 0u);
    store.bump_generation();
    store.bump_generation();
    EXPECT_EQ(store.generation(), 2u);
    FsStore other(tmp.path());  // a separate mapping of the same file
    EXPECT_EQ(other.generation(), 2u);
    other.bump_generation();
    EXPECT_EQ(store.generation(), 3u);

    // Parent -> child and child -> parent, through the mapping inherited at fork (no re-open).
    int go[2];
    ASSERT_EQ(::pipe(go), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ::close(go[1]);
        char c;
        if (::read(go[0], &c, 1) != 1) ::_exit(2);
        if (store.generation() != 4u) ::_exit(1);  // sees the parent's bump
        store.bump_generation();
        store.bump_generation();
        ::_exit(0);
    }
    ::close(go[0]);
    store.bump_generation();  // 4
    char c = 'g';
    ASSERT_EQ(::write(go[1], &c, 1), 1);
    ::close(go[1]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "the child did not see the parent's bump";
    EXPECT_EQ(store.generation(), 6u);  // the child's bumps, seen without re-opening
    EXPECT_EQ(other.generation(), 6u);

    // Concurrent bumps from threads are not lost.
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 1000; ++i) store.bump_generation();
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(other.generation(), 4006u);

    // The file was updated in place, never replaced; the value persists for new instances.
    EXPECT_EQ(stat_of(gen_path).st_ino, inode);
    store.save("certs/a/x.pem", "x", Sensitivity::secret);
    EXPECT_EQ(stat_of(gen_path).st_ino, inode);
    EXPECT_EQ(FsStore(tmp.path()).generation(), 4006u);
}

TEST(FsStore, PrepareOwnershipHandsTheTreeOver) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown";
    TempDir tmp;
    const std::string root = tmp.path() + "/store";
    FsStore store(root);
    store.save("certs/example.org/ecdsa-p256.pem", "secret", Sensitivity::secret);
    store.save("accounts/ca/account.json", "{}", Sensitivity::public_data);
    ASSERT_EQ(::chmod((root + "/certs").c_str(), 0755), 0);
    // Things that must not be followed out of the store.
    const std::string outside = tmp.path() + "/outside";
    fs::write_file_atomic(outside, "not ours", 0644);
    ASSERT_EQ(::symlink(outside.c_str(), (root + "/certs/link").c_str()), 0);
    const std::string outside_dir = tmp.path() + "/outside-dir";
    fs::make_dirs(outside_dir, 0755);
    ASSERT_EQ(::symlink(outside_dir.c_str(), (root + "/certs/dirlink").c_str()), 0);
    ASSERT_EQ(::link(outside.c_str(), (root + "/certs/hardlink").c_str()), 0);

    store.prepare_ownership(65534, 65534);
    for (const char* p : {"", "/certs", "/certs/example.org", "/accounts/ca", "/locks",
                          "/certs/example.org/ecdsa-p256.pem", "/accounts/ca/account.json",
                          "/generation", "/certs/link", "/certs/dirlink"}) {
        struct stat st = stat_of(root + p);
        EXPECT_EQ(st.st_uid, 65534u) << p;
        EXPECT_EQ(st.st_gid, 65534u) << p;
    }
    EXPECT_EQ(mode_of(root + "/certs"), 0700u);
    EXPECT_EQ(mode_of(root + "/certs/example.org/ecdsa-p256.pem"), 0600u);  // files keep modes
    EXPECT_EQ(stat_of(outside).st_uid, 0u) << "followed a symlink or a hard link out";
    EXPECT_EQ(stat_of(outside_dir).st_uid, 0u) << "followed a directory symlink out";
    EXPECT_EQ(mode_of(outside_dir), 0755u);

    // uid/gid < 0 leave ownership alone but still close directories.
    ASSERT_EQ(::chmod((root + "/orders").c_str(), 0755), 0);
    store.prepare_ownership(-1, 0);
    EXPECT_EQ(stat_of(root + "/orders").st_uid, 65534u);
    EXPECT_EQ(stat_of(root + "/orders").st_gid, 0u);
    EXPECT_EQ(mode_of(root + "/orders"), 0700u);
}

TEST(FsStore, UnprivilegedUserCanUseAPreparedStoreAndReadOnlyGenerationCannotBump) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch users";
    TempDir tmp;
    ASSERT_EQ(::chmod(tmp.path().c_str(), 0711), 0);
    const std::string root = tmp.path() + "/store";
    {
        FsStore store(root);
        store.bump_generation();
        store.prepare_ownership(65534, 65534);
    }
    // As the worker user: the store works.
    EXPECT_EQ(in_child([&] {
                  if (::setgid(65534) != 0 || ::setuid(65534) != 0) return 10;
                  FsStore store(root);
                  store.save("certs/a/x.pem", "x", Sensitivity::secret);
                  if (store.load("certs/a/x.pem") != "x") return 11;
                  if (!store.try_lock("driver")) return 12;
                  store.bump_generation();
                  return store.generation() == 2u ? 0 : 13;
              }),
              0);
    // With a generation file the worker cannot write, the store maps it read-only: reading works,
    // bumping throws. (It still belongs to the store's owner: one that does not is refused, see
    // GenerationFileMustBelongToTheStoreOwner.)
    ASSERT_EQ(::chmod((root + "/generation").c_str(), 0444), 0);
    EXPECT_EQ(in_child([&] {
                  if (::setgid(65534) != 0 || ::setuid(65534) != 0) return 10;
                  FsStore store(root);
                  if (store.generation() != 2u) return 11;
                  try {
                      store.bump_generation();
                      return 12;
                  } catch (const Error& e) {
                      return e.status() == Status::io ? 0 : 13;
                  }
              }),
              0);
}

// ---- A store that its (unprivileged) owner may have tampered with, used by root ----------------
//
// The FsStoreSafety tests run twice: with openat2 and with the openat() walk used where openat2 is
// unavailable (old kernels, seccomp filters).

// Runs `body` in a forked child that SIGALRM kills after 10 seconds (an open() blocked on a FIFO);
// returns the child's exit code, or 128 + the signal.
int in_child_with_deadline(const std::function<int()>& body) {
    return in_child([&] {
        ::alarm(10);
        return body();
    });
}

// The message of the Error(io) that `f` throws ("" and a test failure when it throws nothing or
// something else).
std::string io_error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::io) << e.what();
        return e.what();
    } catch (const std::exception& e) {
        ADD_FAILURE() << "expected Error(io), got " << e.what();
        return "";
    }
    ADD_FAILURE() << "expected Error(io), nothing was thrown";
    return "";
}

// 0 when `f` throws Error(io) whose message has `needle`; for in_child() bodies.
int io_error_code(const std::function<void()>& f, const std::string& needle) {
    try {
        f();
        return 1;
    } catch (const Error& e) {
        if (e.status() != Status::io) return 2;
        return std::string(e.what()).find(needle) == std::string::npos ? 3 : 0;
    }
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

bool lexists(const std::string& path) {
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0;
}

// A file outside the store that must be neither read through the store nor changed by it.
struct OutsideFile {
    explicit OutsideFile(std::string p, std::string text = "root-only secret\n")
        : path(std::move(p)), content(std::move(text)) {
        fs::write_file_atomic(path, content, 0600);
        before = stat_of(path);
    }
    // Unchanged: same inode, content, mode, owner.
    void expect_untouched() const {
        struct stat now = stat_of(path);
        EXPECT_EQ(now.st_ino, before.st_ino) << path << " was replaced";
        EXPECT_EQ(now.st_mode, before.st_mode) << path;
        EXPECT_EQ(now.st_uid, before.st_uid) << path;
        EXPECT_EQ(fs::read_file(path), content) << path << " was written";
    }
    std::string path;
    std::string content;
    struct stat before {};
};

class FsStoreSafety : public ::testing::TestWithParam<bool> {
protected:
    void SetUp() override { fs::set_openat2_disabled_for_testing(GetParam()); }
    void TearDown() override { fs::set_openat2_disabled_for_testing(false); }
};

INSTANTIATE_TEST_SUITE_P(Resolution, FsStoreSafety, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) {
                             return std::string(i.param ? "OpenatWalk" : "Openat2");
                         });

TEST_P(FsStoreSafety, SymlinkedFileIsNeitherReadNorWrittenThrough) {
    TempDir tmp;
    const std::string root = tmp.path() + "/store";
    FsStore store(root);
    OutsideFile outside(tmp.path() + "/root-key.pem");
    const std::string key = layout::cert_bundle("a.example", "ecdsa-p256");
    store.save(layout::cert_meta("a.example"), "{}", Sensitivity::public_data);
    ASSERT_EQ(::symlink(outside.path.c_str(), (root + "/" + key).c_str()), 0);

    std::string msg = io_error_of([&] { store.load(key); });
    EXPECT_TRUE(contains(msg, key)) << msg;
    EXPECT_TRUE(contains(msg, "symbolic link")) << msg;
    FileIdentity id;
    io_error_of([&] { store.load_with_identity(key, &id); });
    msg = io_error_of([&] { store.identity_of(key); });
    EXPECT_TRUE(contains(msg, key)) << msg;

    // save() replaces the link itself, never its target; remove() removes a link, not its target.
    store.save(key, "new bundle", Sensitivity::secret);
    EXPECT_TRUE(S_ISREG(stat_of(root + "/" + key).st_mode));
    EXPECT_EQ(store.load(key), "new bundle");
    ASSERT_EQ(::unlink((root + "/" + key).c_str()), 0);
    ASSERT_EQ(::symlink(outside.path.c_str(), (root + "/" + key).c_str()), 0);
    store.remove(key);
    EXPECT_FALSE(lexists(root + "/" + key));
    outside.expect_untouched();
}

TEST_P(FsStoreSafety, SymlinkedDirectoryIsNotEntered) {
    TempDir tmp;
    const std::string root = tmp.path() + "/store";
    FsStore store(root);
    const std::string elsewhere = tmp.path() + "/elsewhere";
    fs::make_dirs(elsewhere, 0700);
    OutsideFile outside(elsewhere + "/ecdsa-p256.pem");
    // certs/a.example -> a directory outside the store.
    ASSERT_EQ(::symlink(elsewhere.c_str(), (root + "/certs/a.example").c_str()), 0);

    const std::string bundle = layout::cert_bundle("a.example", "ecdsa-p256");
    std::string msg = io_error_of([&] { store.load(bundle); });
    EXPECT_TRUE(contains(msg, bundle)) << msg;
    EXPECT_TRUE(contains(msg, "symbolic link")) << msg;
    io_error_of([&] { store.identity_of(bundle); });
    io_error_of([&] { store.list(layout::cert_dir("a.example")); });
    msg = io_error_of(
        [&] { store.save(layout::cert_meta("a.example"), "{}", Sensitivity::public_data); });
    EXPECT_TRUE(contains(msg, "symbolic link")) << msg;
    io_error_of([&] { store.save(bundle, "replaced", Sensitivity::secret); });
    io_error_of([&] {
        store.save(layout::cert_archive("a.example", "ecdsa-p256", 1), "old", Sensitivity::secret);
    });
    io_error_of([&] { store.remove(bundle); });
    // The same for a symlinked top-level directory.
    ASSERT_EQ(::rename((root + "/orders").c_str(), (root + "/orders.away").c_str()), 0);
    ASSERT_EQ(::symlink(elsewhere.c_str(), (root + "/orders").c_str()), 0);
    io_error_of([&] {
        store.save(layout::order_json("a.example", "rsa-2048"), "{}", Sensitivity::public_data);
    });
    io_error_of([&] { store.list("orders"); });

    outside.expect_untouched();
    std::vector<std::string> names = fs::list_dir(elsewhere);
    EXPECT_EQ(names, std::vector<std::string>{"ecdsa-p256.pem"}) << "something was written there";
}

TEST_P(FsStoreSafety, SymlinkedFallbackDirectoryIsNotEntered) {
    TempDir tmp;
    const std::string root = tmp.path() + "/store";
    const std::string elsewhere = tmp.path() + "/etc-ssl";
    fs::make_dirs(elsewhere, 0700);
    OutsideFile outside(elsewhere + "/ecdsa-p256.pem");
    const std::string key = layout::fallback_bundle("a.example", "ecdsa-p256");
    {
        FsStore store(root);
        // fallback/<name> -> a directory outside: root must not create or rename files there.
        ASSERT_EQ(::symlink(elsewhere.c_str(), (root + "/fallback/a.example").c_str()), 0);
        io_error_of([&] { store.save(key, "self-signed", Sensitivity::secret); });
        io_error_of([&] { store.load(key); });
        // fallback itself -> outside.
        ASSERT_EQ(::unlink((root + "/fallback/a.example").c_str()), 0);
        ASSERT_EQ(::rmdir((root + "/fallback").c_str()), 0);
        ASSERT_EQ(::symlink(elsewhere.c_str(), (root + "/fallback").c_str()), 0);
        io_error_of([&] { store.save(key, "self-signed", Sensitivity::secret); });
        io_error_of([&] { store.load(key); });
    }
    // A new store object (the next configuration reload) refuses the tree.
    std::string msg = io_error_of([&] { FsStore again(root); });
    EXPECT_TRUE(contains(msg, root + "/fallback")) << msg;
    outside.expect_untouched();
    EXPECT_EQ(fs::list_dir(elsewhere), std::vector<std::string>{"ecdsa-p256.pem"});
}

TEST_P(FsStoreSafety, SymlinkedLocksAreRefused) {
    TempDir tmp;
    const std::string root = tmp.path() + "/store";
    FsStore store(root);
    const std::string elsewhere = tmp.path() + "/elsewhere";
    fs::make_dirs(elsewhere, 0700);
    OutsideFile outside(tmp.path() + "/shadow");
    // The lock file itself, then its directory.
    ASSERT_EQ(::symlink(outside.path.c_str(), (root + "/locks/driver.lock").c_str()), 0);
    std::string msg = io_error_of([&] { store.try_lock("driver"); });
    EXPECT_TRUE(contains(msg, "locks/driver.lock")) << msg;
    ASSERT_EQ(::rename((root + "/locks").c_str(), (root + "/locks.away").c_str()), 0);
    ASSERT_EQ(::symlink(elsewhere.c_str(), (root + "/locks").c_str()), 0);
    io_error_of([&] { store.try_lock("cert-a.example"); });
    outside.expect_untouched();
    EXPECT_TRUE(fs::list_dir(elsewhere).empty()) << "a lock file was created outside the store";
}

TEST_P(FsStoreSafety, GenerationFileMustBeARegularFileOfTheStoreOwner) {
    TempDir tmp;
    const std::string root = tmp.path() + "/store";
    { FsStore store(root); }
    const std::string gen = root + "/generation";
    OutsideFile outside(tmp.path() + "/outside-counter", std::string(4096, 'o'));
    ASSERT_EQ(::chmod(outside.path.c_str(), 0644), 0);
    outside.before = stat_of(outside.path);

    // A symbolic link (it would be mmap'd read-write and written by bump_generation()).
    ASSERT_EQ(::unlink(gen.c_str()), 0);
    ASSERT_EQ(::symlink(outside.path.c_str(), gen.c_str()), 0);
    std::string msg = io_error_of([&] { FsStore store(root); });
    EXPECT_TRUE(contains(msg, gen)) << msg;
    // A FIFO: refused without blocking.
    ASSERT_EQ(::unlink(gen.c_str()), 0);
    ASSERT_EQ(::mkfifo(gen.c_str(), 0600), 0);
    EXPECT_EQ(in_child_with_deadline([&] {
                  return io_error_code([&] { FsStore store(root); }, "not a regular file");
              }),
              0);
    // A hard link to a file of another user (root's, while the store belongs to nobody).
    ASSERT_EQ(::unlink(gen.c_str()), 0);
    if (::geteuid() == 0) {
        FsStore(root).prepare_ownership(65534, 65534);  // (creates the generation file again)
        ASSERT_EQ(::unlink(gen.c_str()), 0);
        ASSERT_EQ(::link(outside.path.c_str(), gen.c_str()), 0);
        msg = io_error_of([&] { FsStore store(root); });
        EXPECT_TRUE(contains(msg, "belongs to uid 0")) << msg;
        // Also for the unprivileged user itself: the mapping would be inherited.
        ASSERT_EQ(::chmod(tmp.path().c_str(), 0711), 0);
        EXPECT_EQ(in_child_with_deadline([&] {
                      if (::setgid(65534) != 0 || ::setuid(65534) != 0) return 10;
                      return io_error_code([&] { FsStore store(root); }, "belongs to uid 0");
                  }),
                  0);
        ASSERT_EQ(::unlink(gen.c_str()), 0);
    }
    outside.expect_untouched();
    // A missing one is created again.
    FsStore store(root);
    store.bump_generation();
    EXPECT_EQ(store.generation(), 1u);
    EXPECT_EQ(stat_of(gen).st_uid, stat_of(root).st_uid);
}

TEST_P(FsStoreSafety, FifoIsRefusedWithoutBlocking) {
    TempDir tmp;
    const std::string root = tmp.path() + "/store";
    FsStore store(root);
    const std::string bundle = layout::cert_bundle("a.example", "ecdsa-p256");
    store.save(layout::cert_meta("a.example"), "{}", Sensitivity::public_data);
    ASSERT_EQ(::mkfifo((root + "/" + bundle).c_str(), 0600), 0);
    ASSERT_EQ(::mkfifo((root + "/locks/driver.lock").c_str(), 0600), 0);
    EXPECT_EQ(
        in_child_with_deadline([&] {
            if (int rc = io_error_code([&] { store.load(bundle); }, "not a regular file"))
                return 10 + rc;
            if (int rc = io_error_code([&] { store.identity_of(bundle); }, bundle)) return 20 + rc;
            if (int rc = io_error_code([&] { store.try_lock("driver"); }, "not a regular file"))
                return 30 + rc;
            return 0;
        }),
        0)
        << "(128 + 14: a FIFO blocked the caller until SIGALRM)";
}

TEST_P(FsStoreSafety, DevicesAreRefused) {
    TempDir tmp;
    const std::string root = tmp.path() + "/store";
    FsStore store(root);
    store.save(layout::cert_meta("a.example"), "{}", Sensitivity::public_data);
    const std::string bundle = layout::cert_bundle("a.example", "ecdsa-p256");
    // A character device (/dev/zero: reading it would never end, were it not for the size cap).
    if (::mknod((root + "/" + bundle).c_str(), S_IFCHR | 0600, makedev(1, 5)) != 0)
        GTEST_SKIP() << "mknod needs CAP_MKNOD";
    std::string msg = io_error_of([&] { store.load(bundle); });
    EXPECT_TRUE(contains(msg, "not a regular file")) << msg;
    EXPECT_TRUE(contains(msg, bundle)) << msg;
    io_error_of([&] { store.identity_of(bundle); });
}

TEST_P(FsStoreSafety, FilesOfAnotherOwnerAreRefusedWhenRoot) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    TempDir tmp;
    const std::string root = tmp.path() + "/store";
    FsStore store(root);  // belongs to root
    const std::string bundle = layout::cert_bundle("a.example", "ecdsa-p256");
    store.save(bundle, "bundle", Sensitivity::secret);
    EXPECT_EQ(store.load(bundle), "bundle");
    // A file of another user in a store of root's.
    ASSERT_EQ(::chown((root + "/" + bundle).c_str(), 65534, 65534), 0);
    std::string msg = io_error_of([&] { store.load(bundle); });
    EXPECT_TRUE(contains(msg, "belongs to uid 65534")) << msg;
    EXPECT_TRUE(contains(msg, bundle)) << msg;
    io_error_of([&] { store.identity_of(bundle); });

    // The other way round: the store belongs to nobody, and a hard link to a root-only file sits
    // where a bundle belongs.
    store.prepare_ownership(65534, 65534);
    EXPECT_EQ(store.load(bundle), "bundle");
    OutsideFile outside(tmp.path() + "/root-only.pem");
    const std::string planted = layout::cert_bundle("a.example", "rsa-2048");
    ASSERT_EQ(::link(outside.path.c_str(), (root + "/" + planted).c_str()), 0);
    msg = io_error_of([&] { store.load(planted); });
    EXPECT_TRUE(contains(msg, "belongs to uid 0")) << msg;
    EXPECT_FALSE(contains(msg, outside.content));
    io_error_of([&] { store.identity_of(planted); });
    // The same for a lock file.
    ASSERT_EQ(::link(outside.path.c_str(), (root + "/locks/driver.lock").c_str()), 0);
    io_error_of([&] { store.try_lock("driver"); });
    outside.expect_untouched();
}

TEST_P(FsStoreSafety, RootCreatesForTheStoreOwner) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    TempDir tmp;
    const std::string root = tmp.path() + "/store";
    {
        FsStore store(root);
        store.prepare_ownership(65534, 65534);
    }
    FsStore store(root);  // as the master does on every configuration reload
    const std::string fallback = layout::fallback_bundle("new.example", "ecdsa-p256");
    store.save(fallback, "self-signed", Sensitivity::secret);
    auto lock = store.try_lock("cert-new.example");
    ASSERT_NE(lock, nullptr);
    const std::vector<std::string> created = {"/fallback/new.example", "/" + fallback,
                                              "/locks/cert-new.example.lock"};
    for (const std::string& p : created) {
        EXPECT_EQ(stat_of(root + p).st_uid, 65534u) << p;
        EXPECT_EQ(stat_of(root + p).st_gid, 65534u) << p;
    }
    EXPECT_EQ(mode_of(root + "/" + fallback), 0600u);
    // ... so that root reads back what it wrote, and so does the worker user.
    EXPECT_EQ(store.load(fallback), "self-signed");
    // Directories the constructor re-creates belong to the owner as well.
    ASSERT_EQ(::rmdir((root + "/challenges/http-01").c_str()), 0);
    FsStore again(root);
    EXPECT_EQ(stat_of(root + "/challenges/http-01").st_uid, 65534u);
}

TEST_P(FsStoreSafety, IdentityFollowsSaves) {
    TempDir tmp;
    FsStore store(tmp.path() + "/store");
    const std::string key = layout::cert_bundle("a.example", "ecdsa-p256");
    EXPECT_EQ(store.identity_of(key), std::nullopt);
    FileIdentity id;
    EXPECT_EQ(store.load_with_identity(key, &id), std::nullopt);
    store.save(key, "one", Sensitivity::secret);
    std::optional<FileIdentity> first = store.identity_of(key);
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->size, 3u);
    EXPECT_EQ(store.load_with_identity(key, &id), "one");
    EXPECT_EQ(id, *first);
    EXPECT_EQ(store.identity_of(key), first);  // unchanged without a save
    store.save(key, "two", Sensitivity::secret);
    std::optional<FileIdentity> second = store.identity_of(key);
    ASSERT_TRUE(second.has_value());
    EXPECT_NE(*second, *first);  // a new inode
    EXPECT_EQ(store.load_with_identity(key, &id), "two");
    EXPECT_EQ(id, *second);
}

}  // namespace
}  // namespace acme
