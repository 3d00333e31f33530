#include "util/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "util/error.h"
#include "util/fd.h"

extern char** environ;

namespace acme {
namespace {

// Messages from the intermediate process on the report pipe.
struct Report {
    int kind;  // 1: started (value = pid), 2: exec failed (value = errno), 3: done (value = status)
    int value;
};

void write_report(int fd, int kind, int value) {
    Report r{kind, value};
    (void)!::write(fd, &r, sizeof r);
}

// Raw clone without CLONE_VM: a fork that runs no atfork handlers (we are a multi-threaded
// process; only async-signal-safe calls follow until exec or _exit).
pid_t raw_fork(int exit_signal) {
    return static_cast<pid_t>(::syscall(SYS_clone, exit_signal, nullptr, nullptr, nullptr, 0));
}

// What the intermediate needs, prepared by the caller before the clone.
struct ChildSetup {
    char* const* argv;
    int out_fd;     // write end of the output pipe
    int null_fd;    // /dev/null, read-only
    int report_fd;  // write end of the report pipe
    pid_t parent;   // the calling process (its pid as the intermediate's getppid() sees it)
    int max_fd;     // bound of the last-resort close loop (RLIMIT_NOFILE soft limit, capped)
};

bool kept(int fd, const int* keep, int nkeep) {
    for (int i = 0; i < nkeep; ++i) {
        if (keep[i] == fd) return true;
    }
    return false;
}

// Closes the descriptors listed in /proc/self/fd (>= 3, not kept). Opened here, in the process
// whose table it lists: a descriptor opened before the clone would name the caller's table.
bool close_listed_fds(const int* keep, int nkeep) {
    int dir = ::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return false;
    alignas(struct dirent64) char buf[4096];
    for (;;) {
        long n = ::syscall(SYS_getdents64, dir, buf, sizeof buf);
        if (n == 0) break;
        if (n < 0) {
            ::close(dir);
            return false;
        }
        for (long off = 0; off < n;) {
            const auto* d = reinterpret_cast<const struct dirent64*>(buf + off);
            off += d->d_reclen;
            int fd = 0;
            const char* p = d->d_name;
            if (*p < '0' || *p > '9') continue;  // "." and ".."
            for (; *p >= '0' && *p <= '9'; ++p) fd = fd * 10 + (*p - '0');
            if (fd >= 3 && fd != dir && !kept(fd, keep, nkeep)) ::close(fd);
        }
    }
    ::close(dir);
    return true;
}

// Closes every descriptor >= 3 except keep[0..nkeep) (sorted in place). Async-signal-safe.
void close_fds_except(int* keep, int nkeep, int max_fd) {
    std::sort(keep, keep + nkeep);
    bool ok = true;
    unsigned from = 3;
    for (int i = 0; i < nkeep && ok; ++i) {
        if (keep[i] < 3) continue;
        unsigned k = static_cast<unsigned>(keep[i]);
        if (k > from) ok = ::syscall(SYS_close_range, from, k - 1, 0) == 0;
        from = k + 1;
    }
    if (ok && ::syscall(SYS_close_range, from, ~0U, 0) == 0) return;
    // ENOSYS (before Linux 5.9) or a seccomp filter's ENOSYS/EPERM.
    if (close_listed_fds(keep, nkeep)) return;
    for (int fd = 3; fd < max_fd; ++fd) {
        if (!kept(fd, keep, nkeep)) ::close(fd);
    }
}

void reset_signals() {
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        struct sigaction sa;
        std::memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        ::sigaction(sig, &sa, nullptr);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

// Set in the intermediate (its own copy of this variable) by a stop signal.
volatile sig_atomic_t g_stop = 0;

void on_stop(int) {
    g_stop = 1;
}
void on_child(int) {}

// The signals that make the intermediate kill the program and exit; SIGTERM is also its
// parent-death signal.
constexpr int kStopSignals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};

void set_handler(int sig, void (*handler)(int), int flags) {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = flags;
    ::sigaction(sig, &sa, nullptr);
}

[[noreturn]] void run_child(char* const* argv, int out_fd, int exec_err_fd, pid_t parent,
                            int max_fd) {
    ::setpgid(0, 0);
    // Die with the intermediate (checking for the race with its death before the prctl).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) _exit(127);
    reset_signals();  // handlers and SIG_IGN of the intermediate, and its blocked mask
    if (::dup2(out_fd, 1) < 0 || ::dup2(out_fd, 2) < 0) {
        int e = errno;
        (void)!::write(exec_err_fd, &e, sizeof e);
        _exit(127);
    }
    int keep[] = {exec_err_fd};
    close_fds_except(keep, 1, max_fd);
    ::execve(argv[0], argv, environ);
    int e = errno;
    (void)!::write(exec_err_fd, &e, sizeof e);
    _exit(127);
}

[[noreturn]] void intermediate(const ChildSetup& s) {
    reset_signals();
    g_stop = 0;
    sigset_t block, none;
    sigemptyset(&block);
    sigemptyset(&none);
    for (int sig : kStopSignals) sigaddset(&block, sig);
    sigaddset(&block, SIGCHLD);
    ::sigprocmask(SIG_SETMASK, &block, nullptr);
    for (int sig : kStopSignals) set_handler(sig, on_stop, 0);
    set_handler(SIGCHLD, on_child, SA_NOCLDSTOP);
    set_handler(SIGPIPE, SIG_IGN, 0);  // a report to a dead reader is EPIPE, not death
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != s.parent) _exit(127);  // the caller died before the prctl

    // Descriptors: /dev/null on 0-2, the two pipes above; nothing else of the server process.
    int out_fd = s.out_fd, report_fd = s.report_fd;
    if (out_fd < 3) out_fd = ::fcntl(out_fd, F_DUPFD_CLOEXEC, 3);
    if (report_fd < 3) report_fd = ::fcntl(report_fd, F_DUPFD_CLOEXEC, 3);
    if (out_fd < 0 || report_fd < 0) _exit(127);
    if (::dup2(s.null_fd, 0) < 0 || ::dup2(s.null_fd, 1) < 0 || ::dup2(s.null_fd, 2) < 0) {
        write_report(report_fd, 2, errno);
        _exit(127);
    }
    int keep[] = {out_fd, report_fd};
    close_fds_except(keep, 2, s.max_fd);

    int exec_err[2];
    if (::pipe2(exec_err, O_CLOEXEC) != 0) {
        write_report(report_fd, 2, errno);
        _exit(127);
    }
    const pid_t self = ::getpid();
    pid_t pid = raw_fork(SIGCHLD);
    if (pid == 0) {
        ::close(exec_err[0]);
        ::close(report_fd);
        run_child(s.argv, out_fd, exec_err[1], self, s.max_fd);
    }
    ::close(exec_err[1]);
    ::close(out_fd);
    if (pid < 0) {
        write_report(report_fd, 2, errno);
        _exit(127);
    }
    int e = 0;
    ssize_t n;
    while ((n = ::read(exec_err[0], &e, sizeof e)) < 0 && errno == EINTR) {
    }
    ::close(exec_err[0]);
    int status = 0;
    if (n == sizeof e) {
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        write_report(report_fd, 2, e);
        _exit(127);
    }
    write_report(report_fd, 1, pid);

    // Wait for the program; a stop signal (the caller's death among them) or the caller closing
    // its end of the report pipe ends it and its process group. Signals are blocked except inside
    // ppoll, so none is lost between waitpid and ppoll.
    for (;;) {
        pid_t w = ::waitpid(pid, &status, WNOHANG);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) _exit(127);
        bool stop = g_stop != 0;
        if (!stop) {
            struct pollfd pfd = {report_fd, 0, 0};  // POLLERR once the reader is gone
            int r = ::ppoll(&pfd, 1, nullptr, &none);
            stop = r > 0 && (pfd.revents & (POLLERR | POLLHUP)) != 0;
        }
        if (stop) {
            ::kill(-pid, SIGKILL);
            while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            break;
        }
    }
    write_report(report_fd, 3, status);
    _exit(0);
}

int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

bool read_report(int fd, Report& r) {
    for (;;) {
        ssize_t n = ::read(fd, &r, sizeof r);
        if (n == sizeof r) return true;
        if (n < 0 && errno == EINTR) continue;
        return false;
    }
}

int close_loop_bound() {
    constexpr rlim_t kCap = rlim_t{1} << 20;
    struct rlimit rl;
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > kCap)
        return static_cast<int>(kCap);
    return static_cast<int>(rl.rlim_cur);
}

}  // namespace

ProgramResult run_program(const std::vector<std::string>& args, int64_t timeout_ms,
                          size_t max_output, const std::atomic<bool>* cancel) {
    if (args.empty()) fail_invalid("run_program: no program");
    ProgramResult result;
    if (cancel && cancel->load()) {
        result.cancelled = true;
        return result;
    }
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);

    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) fail_io("pipe", errno);
    UniqueFd out_r(p[0]), out_w(p[1]);
    if (::pipe2(p, O_CLOEXEC) != 0) fail_io("pipe", errno);
    UniqueFd report_r(p[0]), report_w(p[1]);
    UniqueFd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (devnull.get() < 0) fail_io("open /dev/null", errno);
    const ChildSetup setup{argv.data(),    out_w.get(), devnull.get(),
                           report_w.get(), ::getpid(),  close_loop_bound()};

    // Exit signal 0: a "clone child" that waitpid(-1) without __WCLONE never reaps.
    pid_t mid = raw_fork(0);
    if (mid == 0) intermediate(setup);
    if (mid < 0) fail_io("start " + args[0], errno);
    out_w.reset();
    report_w.reset();
    devnull.reset();

    Report r{};
    if (!read_report(report_r.get(), r) || r.kind != 1) {
        while (::waitpid(mid, nullptr, __WCLONE) < 0 && errno == EINTR) {
        }
        if (r.kind == 2) fail_io("run " + args[0], r.value);
        fail(Status::io, "run " + args[0] + ": the helper process failed");
    }
    const pid_t program = r.value;

    // Read the output until it closes, then wait for the final status (a program may close its
    // output and keep running); both bounded by the deadline and the cancel flag. Once the
    // program is killed only the status is awaited (a descendant that left the process group may
    // keep the output open).
    const int64_t deadline = now_ms() + timeout_ms;
    const int64_t slice = cancel ? 100 : 1000;
    bool reading = true, killed = false;
    char buf[1024];
    auto append = [&](ssize_t got) {
        size_t room = max_output > result.output.size() ? max_output - result.output.size() : 0;
        result.output.append(buf, std::min(room, static_cast<size_t>(got)));
    };
    for (;;) {
        if (!killed) {
            if (cancel && cancel->load()) {
                result.cancelled = true;
            } else if (now_ms() >= deadline) {
                result.timed_out = true;
            }
            if (result.cancelled || result.timed_out) {
                ::kill(-program, SIGKILL);  // its whole process group
                killed = true;
                // Keep what it wrote before (bounded: a descendant outside the group may write on).
                for (int i = 0; reading && i < 64; ++i) {
                    struct pollfd pfd = {out_r.get(), POLLIN, 0};
                    ssize_t got = ::poll(&pfd, 1, 0) > 0 ? ::read(out_r.get(), buf, sizeof buf) : 0;
                    if (got <= 0) break;
                    append(got);
                }
                reading = false;
            }
        }
        int64_t wait = killed ? 1000 : std::min(std::max<int64_t>(deadline - now_ms(), 0), slice);
        struct pollfd pfd = {reading ? out_r.get() : report_r.get(), POLLIN, 0};
        int n = ::poll(&pfd, 1, static_cast<int>(wait));
        if (n < 0 && errno != EINTR) {
            if (!killed) ::kill(-program, SIGKILL);  // then the status comes without delay
            break;
        }
        if (n <= 0) continue;
        if (!reading) break;  // the status (or the intermediate's end) is there
        ssize_t got = ::read(out_r.get(), buf, sizeof buf);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            reading = false;
            continue;
        }
        append(got);
    }
    if (read_report(report_r.get(), r) && r.kind == 3) {
        if (WIFEXITED(r.value)) {
            result.exit_code = WEXITSTATUS(r.value);
        } else if (WIFSIGNALED(r.value)) {
            result.signal = WTERMSIG(r.value);
        }
    }
    while (::waitpid(mid, nullptr, __WCLONE) < 0 && errno == EINTR) {
    }
    return result;
}

}  // namespace acme
