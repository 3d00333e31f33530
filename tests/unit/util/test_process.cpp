#include "util/process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "util/error.h"
#include "util/fd.h"

namespace acme {
namespace {

TEST(RunProgram, CapturesOutputAndExitCode) {
    ProgramResult r = run_program({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, 10000);
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_FALSE(r.timed_out);
    EXPECT_NE(r.output.find("out"), std::string::npos);
    EXPECT_NE(r.output.find("err"), std::string::npos);
}

TEST(RunProgram, PassesArgumentsWithoutShell) {
    ProgramResult r = run_program({"/bin/echo", "a b", "$HOME;"}, 10000);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.output, "a b $HOME;\n");
}

TEST(RunProgram, KillsOnTimeout) {
    ProgramResult r = run_program({"/bin/sleep", "30"}, 200);
    EXPECT_TRUE(r.timed_out);
    EXPECT_EQ(r.signal, SIGKILL);
}

TEST(RunProgram, TruncatesOutput) {
    ProgramResult r =
        run_program({"/bin/sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x"}, 10000, 100);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.output.size(), 100u);
}

TEST(RunProgram, MissingProgramThrows) {
    EXPECT_THROW(run_program({"/nonexistent/hook"}, 1000), Error);
}

TEST(RunProgram, SurvivesAReapingSigchldHandler) {
    // nginx workers reap every child with waitpid(-1) from their SIGCHLD handler.
    struct sigaction sa = {}, old = {};
    sa.sa_handler = [](int) {
        while (waitpid(-1, nullptr, WNOHANG) > 0) {
        }
    };
    sigaction(SIGCHLD, &sa, &old);
    ProgramResult r = run_program({"/bin/sh", "-c", "exit 7"}, 10000);
    sigaction(SIGCHLD, &old, nullptr);
    EXPECT_EQ(r.exit_code, 7);
}

TEST(RunProgram, DoesNotLeakDescriptors) {
    // fd 3 and above are closed in the child; /proc/self/fd lists 0, 1, 2 and the one ls opens.
    ProgramResult r = run_program({"/bin/ls", "/proc/self/fd"}, 10000);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.output, "0\n1\n2\n3\n");
}

// ---- descriptors, cancellation, the server's death ---------------------------------------------

class TempDir {
public:
    TempDir() {
        char tmpl[] = "/tmp/acme-process-test-XXXXXX";
        const char* p = ::mkdtemp(tmpl);
        if (!p) throw std::runtime_error("mkdtemp");
        path_ = p;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    std::string operator/(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

std::string slurp(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// Waits (bounded: a guard against a hang, not a timing assertion) until `path` holds a complete
// line written by a hook; returns it without the newline, "" if it never came.
std::string wait_for_line(const std::string& path) {
    for (int i = 0; i < 3000; ++i) {
        std::string s = slurp(path);
        if (!s.empty() && s.back() == '\n') return s.substr(0, s.size() - 1);
        ::usleep(10000);
    }
    return "";
}

// The processes whose parent is `pid` (from /proc/<pid>/stat).
std::vector<pid_t> children_of(pid_t pid) {
    std::vector<pid_t> out;
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
        const std::string name = e.path().filename();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::string stat = slurp("/proc/" + name + "/stat");
        size_t close = stat.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream rest(stat.substr(close + 2));
        char state;
        pid_t ppid = 0;
        rest >> state >> ppid;
        if (ppid == pid) out.push_back(static_cast<pid_t>(std::stoi(name)));
    }
    return out;
}

// "fd -> target" for the descriptors of `pid` among 0-1023 and `extra`, found by readlink alone
// (a test below denies getdents64).
std::map<int, std::string> descriptors_of(pid_t pid, const std::vector<int>& extra) {
    std::map<int, std::string> out;
    std::vector<int> fds = extra;
    for (int fd = 0; fd < 1024; ++fd) fds.push_back(fd);
    for (int fd : fds) {
        const std::string link = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
        char buf[256];
        ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
        if (n >= 0) out[fd] = std::string(buf, static_cast<size_t>(n));
    }
    return out;
}

bool gone(pid_t pid) {
    return ::kill(pid, 0) != 0 && errno == ESRCH;
}

// Waits (bounded) until `pid` no longer runs: gone or a zombie.
bool dies(pid_t pid) {
    for (int i = 0; i < 3000; ++i) {
        const std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
        if (stat.empty() || stat.find(") Z ") != std::string::npos) return true;
        ::usleep(10000);
    }
    return false;
}

int fd_limit() {
    struct rlimit rl;
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur > (rlim_t{1} << 20)) return 1 << 20;
    return static_cast<int>(rl.rlim_cur);
}

// Runs a hook that sleeps while this process holds an flock'ed store lock on fds 200, 300
// (close-on-exec) and the highest one RLIMIT_NOFILE allows; checks what the intermediate
// process holds, that the hook sees none of them, and that the lock is free for another open
// file description once this process closes its descriptors (nothing else holds it). Returns ""
// or what went wrong.
std::string check_descriptors_closed() {
    TempDir tmp;
    const std::string lock = tmp / "driver.lock";
    int fd = ::open(lock.c_str(), O_RDWR | O_CREAT, 0600);
    if (fd < 0 || ::flock(fd, LOCK_EX) != 0) return "cannot lock " + lock;
    const int high = fd_limit() - 1;
    if (::dup2(fd, 200) != 200 || ::fcntl(fd, F_DUPFD_CLOEXEC, 300) != 300 ||
        ::dup2(fd, high) != high)
        return "cannot place the lock descriptors";
    ::close(fd);
    const std::string started = tmp / "started";
    const std::string script =
        "for fd in 200 300 " + std::to_string(high) +
        "; do [ -e /proc/self/fd/$fd ] && echo leaked $fd; done; echo $$ $PPID > " + started +
        "; exec sleep 60";
    std::atomic<bool> cancel{false};
    ProgramResult r;
    std::string thrown;
    std::thread t([&] {
        try {
            r = run_program({"/bin/sh", "-c", script}, 120000, 4096, &cancel);
        } catch (const std::exception& e) {
            thrown = e.what();
        }
    });
    std::string problem;
    const std::string line = wait_for_line(started);  // "<hook pid> <intermediate pid>"
    const size_t space = line.find(' ');
    if (space == std::string::npos) problem = "the hook did not start";
    if (problem.empty()) {
        // /dev/null on 0-2 and the report pipe, nothing else, once it has closed the output pipe
        // and the exec-error pipe (it may not have run yet since it started the hook).
        const pid_t mid = std::stoi(line.substr(space + 1));
        for (int i = 0; i < 1000; ++i) {
            std::map<int, std::string> fds = descriptors_of(mid, {200, 300, high});
            std::string listing;
            int nulls = 0, pipes = 0;
            for (const auto& [n, target] : fds) {
                listing += " " + std::to_string(n) + "->" + target;
                if (target == "/dev/null" && n < 3) ++nulls;
                if (target.rfind("pipe:", 0) == 0 && n >= 3) ++pipes;
            }
            problem = fds.size() == 4 && nulls == 3 && pipes == 1
                          ? ""
                          : "the intermediate holds:" + listing;
            if (problem.empty()) break;
            ::usleep(10000);
        }
    }
    ::close(200);
    ::close(300);
    ::close(high);
    if (problem.empty()) {
        UniqueFd again(::open(lock.c_str(), O_RDWR));
        if (::flock(again.get(), LOCK_EX | LOCK_NB) != 0) {
            problem = "the lock is still held while the hook runs";
        }
    }
    cancel.store(true);
    t.join();
    if (!problem.empty()) return problem;
    if (!thrown.empty()) return "run_program threw: " + thrown;
    if (!r.cancelled) return "not cancelled";
    if (!r.output.empty()) return "the hook saw: " + r.output;
    return "";
}

// Makes the listed system calls fail with the paired errno in this process and its descendants.
bool deny_syscalls(const std::vector<std::pair<long, int>>& calls) {
    std::vector<struct sock_filter> f;
    f.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
    for (const auto& [nr, err] : calls) {
        f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 1));
        f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | static_cast<uint32_t>(err)));
    }
    f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    struct sock_fprog prog = {static_cast<unsigned short>(f.size()), f.data()};
    return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
           ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

// Runs check_descriptors_closed() in a child process under a seccomp filter denying `calls`.
std::string check_descriptors_closed_with(const std::vector<std::pair<long, int>>& calls) {
    int p[2];
    if (::pipe(p) != 0) return "pipe";
    pid_t child = ::fork();
    if (child == 0) {
        ::close(p[0]);
        std::string problem =
            deny_syscalls(calls) ? check_descriptors_closed() : "cannot install the filter";
        // Under the filter close_range() itself must fail, or the test proves nothing.
        if (problem.empty() && ::syscall(SYS_close_range, 1000, 1000, 0) == 0) {
            problem = "close_range was not denied";
        }
        (void)!::write(p[1], problem.data(), problem.size());
        _exit(0);
    }
    ::close(p[1]);
    std::string problem;
    char buf[512];
    ssize_t n;
    while ((n = ::read(p[0], buf, sizeof buf)) > 0) problem.append(buf, static_cast<size_t>(n));
    ::close(p[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "the test child failed";
    return problem;
}

TEST(RunProgram, IntermediateAndProgramHoldNoDescriptorOfTheCaller) {
    EXPECT_EQ(check_descriptors_closed(), "");
}

TEST(RunProgram, ClosesDescriptorsWithoutCloseRange) {
    // Kernels before 5.9, or a seccomp filter: the /proc/self/fd walk.
    EXPECT_EQ(check_descriptors_closed_with({{SYS_close_range, ENOSYS}}), "");
}

TEST(RunProgram, ClosesDescriptorsWithoutCloseRangeOrProc) {
    // Neither close_range nor getdents64: the loop up to the RLIMIT_NOFILE soft limit.
    EXPECT_EQ(check_descriptors_closed_with({{SYS_close_range, EPERM}, {SYS_getdents64, ENOSYS}}),
              "");
}

TEST(RunProgram, CancelKillsTheProgramAndItsGroup) {
    TempDir tmp;
    std::atomic<bool> cancel{false};
    ProgramResult r;
    std::thread t([&] {
        r = run_program({"/bin/sh", "-c",
                         "echo started; sleep 60 & echo $! > " + (tmp / "bg") + "; echo $$ > " +
                             (tmp / "pid") + "; wait"},
                        120000, 4096, &cancel);
    });
    const std::string sh = wait_for_line(tmp / "pid");
    const std::string bg = wait_for_line(tmp / "bg");
    cancel.store(true);
    t.join();
    ASSERT_FALSE(sh.empty());
    ASSERT_FALSE(bg.empty());
    EXPECT_TRUE(r.cancelled);
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.signal, SIGKILL);
    EXPECT_EQ(r.output, "started\n");
    EXPECT_TRUE(gone(std::stoi(sh)));  // reaped by the intermediate before it reported
    // The background sleep of the group was killed too (the kill is asynchronous: wait for it to
    // end; reparented to init, it may stay a zombie for a while).
    EXPECT_TRUE(dies(std::stoi(bg))) << slurp("/proc/" + bg + "/stat");
}

TEST(RunProgram, AlreadyCancelledStartsNothing) {
    TempDir tmp;
    std::atomic<bool> cancel{true};
    ProgramResult r =
        run_program({"/bin/sh", "-c", "echo ran > " + (tmp / "ran")}, 10000, 4096, &cancel);
    EXPECT_TRUE(r.cancelled);
    EXPECT_EQ(r.exit_code, -1);
    EXPECT_EQ(slurp(tmp / "ran"), "");
}

TEST(RunProgram, TheProgramDiesWithTheCaller) {
    // A (a subreaper, so that every orphan comes back to it) forks B, which runs a hook that
    // leaves a background sleep in its process group; A kills B with SIGKILL and then reaps
    // until no descendant is left. Without the parent-death handling the intermediate and both
    // sleeps would live on and A would give up after 30 s.
    TempDir tmp;
    const std::string pidfile = tmp / "pid", bgfile = tmp / "bg";
    pid_t a = ::fork();
    if (a == 0) {
        ::prctl(PR_SET_CHILD_SUBREAPER, 1);
        pid_t b = ::fork();
        if (b == 0) {
            try {
                run_program(
                    {"/bin/sh", "-c",
                     "sleep 60 & echo $! > " + bgfile + "; echo $$ > " + pidfile + "; wait"},
                    120000);
            } catch (...) {
            }
            _exit(0);
        }
        const std::string sh = wait_for_line(pidfile);
        const std::string bg = wait_for_line(bgfile);
        ::kill(b, SIGKILL);
        if (sh.empty() || bg.empty()) _exit(3);
        for (int i = 0; i < 3000; ++i) {
            while (::waitpid(-1, nullptr, __WALL | WNOHANG) > 0) {
            }
            if (children_of(::getpid()).empty()) {
                _exit(gone(std::stoi(sh)) && gone(std::stoi(bg)) ? 0 : 4);
            }
            ::usleep(10000);
        }
        // Survivors: clean up before failing.
        ::kill(-std::stoi(sh), SIGKILL);
        for (pid_t c : children_of(::getpid())) ::kill(c, SIGKILL);
        while (::waitpid(-1, nullptr, __WALL) > 0) {
        }
        _exit(5);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(a, &status, 0), a);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "3: the hook did not start, 4: a pid survived, "
                                         "5: processes outlived the caller";
}

}  // namespace
}  // namespace acme
