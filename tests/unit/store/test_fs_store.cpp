// FsStore: keys, modes, atomicity under SIGKILL, locks across threads and processes, the shared
// generation counter, ownership hand-over and stale temp file cleanup.
#include <signal.h>
#include <sys/stat.h>
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
    // bumping throws.
    ASSERT_EQ(::chown((root + "/generation").c_str(), 0, 0), 0);
    ASSERT_EQ(::chmod((root + "/generation").c_str(), 0644), 0);
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

}  // namespace
}  // namespace acme
