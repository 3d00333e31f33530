// Filesystem primitives: atomic writes, modes, directories, listing, stale temp file cleanup;
// reads that refuse FIFOs and devices; descriptor-relative primitives that never follow a link.
#include "util/fs.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "util/error.h"

namespace acme {
namespace {

class TempDir {
public:
    TempDir() {
        char tmpl[] = "/tmp/acme-fs-test-XXXXXX";
        const char* p = ::mkdtemp(tmpl);
        if (!p) throw std::runtime_error("mkdtemp");
        path_ = p;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::string& path() const { return path_; }
    std::string operator/(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

mode_t mode_of(const std::string& path) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return static_cast<mode_t>(-1);
    return st.st_mode & 07777;
}

Status status_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.status();
    }
    return Status::ok;
}

class ScopedUmask {
public:
    explicit ScopedUmask(mode_t m) : old_(::umask(m)) {}
    ~ScopedUmask() { ::umask(old_); }

private:
    mode_t old_;
};

pid_t dead_pid() {
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(0);
    ::waitpid(pid, nullptr, 0);
    return pid;
}

std::set<std::string> names_in(const std::string& dir) {
    auto v = fs::list_dir(dir);
    return std::set<std::string>(v.begin(), v.end());
}

TEST(Fs, DirnameAndJoin) {
    EXPECT_EQ(fs::dirname("/a/b/c"), "/a/b");
    EXPECT_EQ(fs::dirname("/a"), "/");
    EXPECT_EQ(fs::dirname("a"), ".");
    EXPECT_EQ(fs::dirname("a/b"), "a");
    EXPECT_EQ(fs::join("a", "b"), "a/b");
    EXPECT_EQ(fs::join("a/", "b"), "a/b");
    EXPECT_EQ(fs::join("", "b"), "b");
    EXPECT_EQ(fs::join("/", "b"), "/b");
}

TEST(Fs, WriteAndReadBack) {
    TempDir d;
    const std::string p = d / "f.pem";
    fs::write_file_atomic(p, "hello", 0600);
    EXPECT_EQ(fs::read_file(p), "hello");
    EXPECT_EQ(fs::read_file_if_exists(p), "hello");
    fs::write_file_atomic(p, "", 0600);
    EXPECT_EQ(fs::read_file(p), "");
    std::string big(3 * 1024 * 1024 + 17, '\0');
    for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31);
    fs::write_file_atomic(p, big, 0600);
    EXPECT_EQ(fs::read_file(p), big);
}

TEST(Fs, ReadErrors) {
    TempDir d;
    EXPECT_EQ(fs::read_file_if_exists(d / "missing"), std::nullopt);
    EXPECT_EQ(status_of([&] { fs::read_file(d / "missing"); }), Status::not_found);
    fs::write_file_atomic(d / "f", std::string(100, 'x'), 0600);
    EXPECT_EQ(status_of([&] { fs::read_file(d / "f", 99); }), Status::io);
    EXPECT_EQ(fs::read_file(d / "f", 100), std::string(100, 'x'));
    EXPECT_EQ(status_of([&] { fs::read_file(d.path()); }), Status::io);       // a directory
    EXPECT_EQ(status_of([&] { fs::read_file(d / "f/below"); }), Status::io);  // ENOTDIR
}

TEST(Fs, ModesAreExactWhateverTheUmask) {
    for (mode_t mask : {mode_t{0}, mode_t{022}, mode_t{077}, mode_t{0277}}) {
        TempDir d;
        ScopedUmask u(mask);
        fs::write_file_atomic(d / "secret", "k", 0600);
        fs::write_file_atomic(d / "public", "c", 0644);
        EXPECT_EQ(mode_of(d / "secret"), 0600u) << "umask " << mask;
        EXPECT_EQ(mode_of(d / "public"), 0644u) << "umask " << mask;
        // Replacing a file gives the new file the new mode.
        fs::write_file_atomic(d / "public", "k", 0600);
        EXPECT_EQ(mode_of(d / "public"), 0600u) << "umask " << mask;
        fs::make_dirs(d / "x/y/z", 0700);
        EXPECT_EQ(mode_of(d / "x"), 0700u) << "umask " << mask;
        EXPECT_EQ(mode_of(d / "x/y/z"), 0700u) << "umask " << mask;
        fs::make_dirs(d / "p/q", 0755);
        EXPECT_EQ(mode_of(d / "p/q"), 0755u) << "umask " << mask;
    }
}

TEST(Fs, WriteLeavesNoTemporaryFiles) {
    TempDir d;
    for (int i = 0; i < 20; ++i) fs::write_file_atomic(d / "f", std::to_string(i), 0600);
    EXPECT_EQ(names_in(d.path()), std::set<std::string>{"f"});
    EXPECT_EQ(fs::read_file(d / "f"), "19");
}

TEST(Fs, WriteErrorsNameThePath) {
    TempDir d;
    try {
        fs::write_file_atomic(d / "missing-dir/f", "x", 0600);
        FAIL() << "expected Error(io)";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::io);
        EXPECT_NE(std::string(e.what()).find(d / "missing-dir"), std::string::npos) << e.what();
    }
    // Target is a directory: rename fails, the temporary file is cleaned up.
    fs::make_dirs(d / "dir", 0700);
    EXPECT_EQ(status_of([&] { fs::write_file_atomic(d / "dir", "x", 0600); }), Status::io);
    EXPECT_EQ(names_in(d.path()), std::set<std::string>{"dir"});
}

TEST(Fs, ConcurrentWritersOfOnePathNeverCollide) {
    TempDir d;
    const std::string p = d / "bundle.pem";
    constexpr int kThreads = 4, kWrites = 50;
    std::vector<std::string> values;
    for (int t = 0; t < kThreads; ++t) values.push_back(std::string(64 * 1024, char('a' + t)));
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kWrites; ++i) {
                try {
                    fs::write_file_atomic(p, values[t], 0600);
                } catch (const Error&) {
                    ++failures;
                }
            }
        });
    }
    // Meanwhile, every read sees one whole value.
    for (int i = 0; i < 200; ++i) {
        auto got = fs::read_file_if_exists(p);
        if (got) {
            ASSERT_NE(std::find(values.begin(), values.end(), *got), values.end())
                << "torn read of " << got->size() << " bytes";
        }
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(failures.load(), 0);
    std::string final_value = fs::read_file(p);
    EXPECT_NE(std::find(values.begin(), values.end(), final_value), values.end());
    EXPECT_EQ(names_in(d.path()), std::set<std::string>{"bundle.pem"});
}

TEST(Fs, MakeDirs) {
    TempDir d;
    fs::make_dirs(d / "a/b/c", 0700);
    EXPECT_TRUE(std::filesystem::is_directory(d / "a/b/c"));
    fs::make_dirs(d / "a/b/c", 0700);  // existing is fine
    fs::make_dirs(d / "a/b/c/", 0700);
    fs::make_dirs(d / "a//b//d", 0700);
    EXPECT_TRUE(std::filesystem::is_directory(d / "a/b/d"));
    // Existing directories keep their mode.
    ASSERT_EQ(::chmod((d / "a").c_str(), 0750), 0);
    fs::make_dirs(d / "a/e", 0700);
    EXPECT_EQ(mode_of(d / "a"), 0750u);
    // A file in the way.
    fs::write_file_atomic(d / "file", "x", 0600);
    EXPECT_EQ(status_of([&] { fs::make_dirs(d / "file", 0700); }), Status::io);
    EXPECT_EQ(status_of([&] { fs::make_dirs(d / "file/sub", 0700); }), Status::io);
    EXPECT_EQ(status_of([&] { fs::make_dirs("", 0700); }), Status::invalid);
}

TEST(Fs, ExistsRemoveRename) {
    TempDir d;
    EXPECT_FALSE(fs::exists(d / "f"));
    fs::write_file_atomic(d / "f", "x", 0600);
    EXPECT_TRUE(fs::exists(d / "f"));
    fs::rename_file(d / "f", d / "g");
    EXPECT_FALSE(fs::exists(d / "f"));
    EXPECT_EQ(fs::read_file(d / "g"), "x");
    EXPECT_EQ(status_of([&] { fs::rename_file(d / "f", d / "h"); }), Status::io);
    fs::remove_file(d / "g");
    EXPECT_FALSE(fs::exists(d / "g"));
    fs::remove_file(d / "g");  // missing is fine
    fs::make_dirs(d / "dir", 0700);
    EXPECT_EQ(status_of([&] { fs::remove_file(d / "dir"); }), Status::io);
}

TEST(Fs, ListDir) {
    TempDir d;
    EXPECT_TRUE(fs::list_dir(d / "missing").empty());
    fs::write_file_atomic(d / "a", "x", 0600);
    fs::write_file_atomic(d / ".hidden", "x", 0600);
    fs::make_dirs(d / "sub", 0700);
    EXPECT_EQ(names_in(d.path()), (std::set<std::string>{"a", ".hidden", "sub"}));
    EXPECT_EQ(status_of([&] { fs::list_dir(d / "a"); }), Status::io);
}

TEST(Fs, RemoveStaleTempFiles) {
    TempDir d;
    const std::string dead = std::to_string(dead_pid());
    const std::string live = std::to_string(::getpid());
    const std::vector<std::string> stale = {
        ".f.pem.tmp-" + dead + ".0",
        ".f.pem.tmp-" + dead + ".123",
        ".f.pem.tmp-" + dead,  // the older form without a counter
        ".a.tmp-b.tmp-" + dead + ".1",
    };
    const std::vector<std::string> kept = {
        ".f.pem.tmp-" + live + ".0",  // our own: alive
        ".f.pem.tmp-1.0",             // init: alive (or EPERM)
        "f.pem.tmp-" + dead,          // not a dot-file
        ".f.pem.tmp-",                // no pid
        ".f.pem.tmp-0",               // pid 0 would mean our process group
        ".f.pem.tmp--1",              // negative
        ".f.pem.tmp-" + dead + ".",   // empty counter
        ".f.pem.tmp-" + dead + ".x",  // counter not numeric
        ".f.pem.tmp-" + dead + "x",
        ".f.pem.tmp-99999999999999",  // out of range
        ".tmp-" + dead,               // no name
        "f.pem",
    };
    for (const auto& n : stale) fs::write_file_atomic(d / n, "p", 0600);
    for (const auto& n : kept) fs::write_file_atomic(d / n, "p", 0600);
    fs::make_dirs(d / "sub", 0700);
    fs::write_file_atomic(d / ("sub/.x.tmp-" + dead + ".0"), "p", 0600);  // not recursive

    EXPECT_EQ(fs::remove_stale_temp_files(d.path()), stale.size());
    std::set<std::string> left = names_in(d.path());
    for (const auto& n : stale) EXPECT_EQ(left.count(n), 0u) << n;
    for (const auto& n : kept) EXPECT_EQ(left.count(n), 1u) << n;
    EXPECT_TRUE(fs::exists(d / ("sub/.x.tmp-" + dead + ".0")));
    EXPECT_EQ(fs::remove_stale_temp_files(d / "missing"), 0u);
}

TEST(Fs, AtomicUnderSigkill) {
    // A writer killed at a random point leaves the old or the new content, never a mix, and at
    // most a temporary file that the cleanup removes.
    const std::string a(1 << 20, 'A'), b(1 << 20, 'B');
    for (int round = 0; round < 3; ++round) {
        TempDir d;
        const std::string p = d / "v";
        fs::write_file_atomic(p, a, 0600);
        int progress[2];
        ASSERT_EQ(::pipe(progress), 0);
        pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            ::close(progress[0]);
            for (unsigned i = 0;; ++i) {
                try {
                    fs::write_file_atomic(p, (i % 2) ? a : b, 0600);
                } catch (...) {
                    ::_exit(2);
                }
                char c = 'x';
                if (::write(progress[1], &c, 1) != 1) ::_exit(3);
            }
        }
        ::close(progress[1]);
        for (int i = 0; i < 1 + round; ++i) {
            char c;
            ASSERT_EQ(::read(progress[0], &c, 1), 1);
        }
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        ::close(progress[0]);
        std::string got = fs::read_file(p);
        EXPECT_TRUE(got == a || got == b) << "torn: " << got.size() << " bytes";
        fs::remove_stale_temp_files(d.path());
        EXPECT_EQ(names_in(d.path()), std::set<std::string>{"v"});
    }
}

// ---- Reads never block, descriptor-relative primitives never follow links ----------------------

// Runs `body` in a forked child that SIGALRM kills after 10 seconds (an open() blocked on a FIFO);
// returns the child's exit code, or 128 + the signal.
int in_child_with_deadline(const std::function<int()>& body) {
    pid_t pid = ::fork();
    if (pid == 0) {
        ::alarm(10);
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

std::string error_text(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return std::string(status_name(e.status())) + ": " + e.what();
    }
    return "no error";
}

TEST(Fs, ReadOfAFifoOrADeviceIsRefusedWithoutBlocking) {
    TempDir d;
    ASSERT_EQ(::mkfifo((d / "fifo").c_str(), 0600), 0);
    EXPECT_EQ(
        in_child_with_deadline([&] {
            std::string e = error_text([&] { fs::read_file(d / "fifo"); });
            return e.find("io: ") == 0 && e.find("not a regular file") != std::string::npos ? 0 : 1;
        }),
        0)
        << "(128 + 14: blocked on the FIFO until SIGALRM)";
    std::string e = error_text([&] { fs::read_file_if_exists("/dev/zero"); });
    EXPECT_NE(e.find("not a regular file (it is a character device)"), std::string::npos) << e;
    e = error_text([&] { fs::read_file(d.path()); });
    EXPECT_NE(e.find("not a regular file (it is a directory)"), std::string::npos) << e;
}

// A seccomp filter that refuses openat2 (as some container runtimes' default profiles do) with
// `errnum`: open_beneath() must notice and fall back to the walk, with the same refusals.
int install_openat2_filter(int errnum) {
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (static_cast<unsigned>(errnum) & 0xffff)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {static_cast<unsigned short>(sizeof filter / sizeof filter[0]),
                              filter};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
    return ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

TEST(Fs, OpenBeneathFallsBackWhenSeccompRefusesOpenat2) {
    TempDir d;
    fs::make_dirs(d / "top/a", 0700);
    fs::write_file_atomic(d / "top/a/f", "inside", 0600);
    fs::write_file_atomic(d / "outside", "outside", 0600);
    ASSERT_EQ(::symlink((d / "outside").c_str(), (d / "top/a/link").c_str()), 0);
    for (int errnum : {EPERM, ENOSYS}) {
        EXPECT_EQ(
            in_child_with_deadline([&] {
                if (install_openat2_filter(errnum) != 0) return 10;
                UniqueFd top(::open((d / "top").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
                // The filter works: openat2 itself fails.
                struct open_how how {};
                how.flags = O_RDONLY;
                if (::syscall(SYS_openat2, top.get(), "a/f", &how, sizeof how) != -1 ||
                    errno != errnum)
                    return 11;
                for (int round = 0; round < 2; ++round) {  // before and after it is noted
                    UniqueFd f(fs::open_beneath(top.get(), "a/f", O_RDONLY));
                    if (f.get() < 0 || fs::read_fd(f.get(), "a/f") != "inside") return 12;
                    if (fs::open_beneath(top.get(), "a/link", O_RDONLY) != -1 || errno != ELOOP)
                        return 13;
                    if (fs::open_beneath(top.get(), "a/missing", O_RDONLY) != -1 || errno != ENOENT)
                        return 14;
                }
                return 0;
            }),
            0)
            << "errno " << errnum;
    }
}

class FsBeneath : public ::testing::TestWithParam<bool> {
protected:
    void SetUp() override {
        fs::set_openat2_disabled_for_testing(GetParam());
        fs::make_dirs(d / "top/a/b", 0700);
        fs::write_file_atomic(d / "top/a/b/f", "inside", 0600);
        fs::write_file_atomic(d / "outside", "outside", 0600);
        fs::make_dirs(d / "outside-dir", 0700);
        ASSERT_EQ(::symlink((d / "top/a").c_str(), (d / "top/dirlink").c_str()), 0);
        ASSERT_EQ(::symlink("a", (d / "top/rellink").c_str()), 0);
        ASSERT_EQ(::symlink((d / "outside").c_str(), (d / "top/a/b/flink").c_str()), 0);
        ASSERT_EQ(::symlink((d / "outside-dir").c_str(), (d / "top/a/outlink").c_str()), 0);
        top.reset(::open((d / "top").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        ASSERT_GE(top.get(), 0);
    }
    void TearDown() override { fs::set_openat2_disabled_for_testing(false); }

    // errno of a failed open_beneath(), 0 when it succeeded.
    int open_errno(const std::string& rel, int flags = O_RDONLY) {
        int fd = fs::open_beneath(top.get(), rel, flags);
        if (fd >= 0) {
            ::close(fd);
            return 0;
        }
        return errno;
    }

    TempDir d;
    UniqueFd top;
};

INSTANTIATE_TEST_SUITE_P(Resolution, FsBeneath, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) {
                             return std::string(i.param ? "OpenatWalk" : "Openat2");
                         });

TEST_P(FsBeneath, OpenNeverFollowsALinkNorLeavesTheDirectory) {
    UniqueFd f(fs::open_beneath(top.get(), "a/b/f", O_RDONLY));
    ASSERT_GE(f.get(), 0);
    EXPECT_EQ(fs::read_fd(f.get(), "f"), "inside");
    EXPECT_EQ(open_errno("a/b", O_RDONLY | O_DIRECTORY), 0);
    EXPECT_EQ(open_errno("", O_RDONLY | O_DIRECTORY), 0);
    EXPECT_EQ(open_errno(".", O_PATH), 0);
    // Links are refused wherever they are, even those that point inside.
    EXPECT_EQ(open_errno("dirlink/b/f"), ELOOP);
    EXPECT_EQ(open_errno("rellink/b/f"), ELOOP);
    EXPECT_EQ(open_errno("rellink", O_RDONLY | O_DIRECTORY), ELOOP);
    EXPECT_EQ(open_errno("a/b/flink"), ELOOP);
    EXPECT_EQ(open_errno("a/b/flink", O_RDWR | O_CREAT), ELOOP);
    EXPECT_EQ(open_errno("a/outlink/x", O_RDWR | O_CREAT), ELOOP);
    EXPECT_FALSE(fs::exists(d / "outside-dir/x"));
    // With O_PATH a final link is opened itself, never its target.
    UniqueFd l(fs::open_beneath(top.get(), "a/b/flink", O_PATH));
    ASSERT_GE(l.get(), 0);
    struct stat st;
    ASSERT_EQ(::fstat(l.get(), &st), 0);
    EXPECT_TRUE(S_ISLNK(st.st_mode));
    // Malformed paths never reach the kernel.
    for (const char* bad :
         {"/etc/passwd", "../outside", "a/../../outside", "a/./b", "a//b", "a/b/", ".."})
        EXPECT_EQ(open_errno(bad), EINVAL) << bad;
    EXPECT_EQ(open_errno(std::string("a\0b", 3)), EINVAL);
    EXPECT_EQ(open_errno("a/missing"), ENOENT);
    EXPECT_EQ(fs::read_file(d / "outside"), "outside");
}

TEST_P(FsBeneath, MakeDirsRefusesLinksAndCreatesWithModeAndOwner) {
    ScopedUmask u(077);
    UniqueFd made = fs::make_dirs_beneath(top.get(), "a/new/deeper", 0750, d / "top");
    ASSERT_GE(made.get(), 0);
    EXPECT_EQ(mode_of(d / "top/a/new"), 0750u);
    EXPECT_EQ(mode_of(d / "top/a/new/deeper"), 0750u);
    EXPECT_EQ(mode_of(d / "top/a"), 0700u);  // existing ones are left alone
    fs::write_file_atomic_at(made.get(), "g", "via fd", 0600, d / "top/a/new/deeper/g");
    EXPECT_EQ(fs::read_file(d / "top/a/new/deeper/g"), "via fd");

    std::string e =
        error_text([&] { fs::make_dirs_beneath(top.get(), "a/outlink/x", 0700, d / "top"); });
    EXPECT_NE(e.find("io: " + (d / "top/a/outlink") + " is a symbolic link"), std::string::npos)
        << e;
    e = error_text([&] { fs::make_dirs_beneath(top.get(), "dirlink", 0700, d / "top"); });
    EXPECT_NE(e.find("symbolic link"), std::string::npos) << e;
    e = error_text([&] { fs::make_dirs_beneath(top.get(), "a/b/f/x", 0700, d / "top"); });
    EXPECT_NE(e.find("is not a directory"), std::string::npos) << e;
    e = error_text([&] { fs::make_dirs_beneath(top.get(), "../x", 0700, d / "top"); });
    EXPECT_EQ(e.find("invalid: "), 0u) << e;
    EXPECT_TRUE(fs::list_dir(d / "outside-dir").empty());

    if (::geteuid() == 0) {
        UniqueFd owned = fs::make_dirs_beneath(top.get(), "o/p", 0700, d / "top", 65534, 65534);
        fs::write_file_atomic_at(owned.get(), "q", "x", 0600, d / "top/o/p/q", 65534, 65534);
        for (const char* p : {"top/o", "top/o/p", "top/o/p/q"}) {
            struct stat st;
            ASSERT_EQ(::lstat((d / p).c_str(), &st), 0);
            EXPECT_EQ(st.st_uid, 65534u) << p;
            EXPECT_EQ(st.st_gid, 65534u) << p;
        }
        EXPECT_EQ(mode_of(d / "top/o/p/q"), 0600u);
    }
}

TEST_P(FsBeneath, AtomicWriteReplacesALinkNeverItsTarget) {
    UniqueFd b = fs::make_dirs_beneath(top.get(), "a/b", 0700, d / "top");
    fs::write_file_atomic_at(b.get(), "flink", "new", 0644, d / "top/a/b/flink");
    struct stat st;
    ASSERT_EQ(::lstat((d / "top/a/b/flink").c_str(), &st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode));
    EXPECT_EQ(fs::read_file(d / "top/a/b/flink"), "new");
    EXPECT_EQ(fs::read_file(d / "outside"), "outside");
    EXPECT_EQ(mode_of(d / "outside"), 0600u);
    std::vector<std::string> names = fs::list_dir_fd(b.get(), d / "top/a/b");
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"f", "flink"}));  // no temporary file left
    // Stale temporary files of dead processes, relative to a descriptor.
    const std::string dead = ".f.tmp-" + std::to_string(dead_pid()) + ".0";
    fs::write_file_atomic_at(b.get(), dead, "p", 0600, d / ("top/a/b/" + dead));
    EXPECT_EQ(fs::remove_stale_temp_files_at(b.get(), d / "top/a/b"), 1u);
    EXPECT_FALSE(fs::exists(d / ("top/a/b/" + dead)));
}

}  // namespace
}  // namespace acme
