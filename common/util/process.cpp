#include "util/process.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
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
    int kind;   // 1: started (value = pid), 2: exec failed (value = errno), 3: done (value = status)
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

[[noreturn]] void intermediate(char* const* argv, int out_fd, int null_fd, int report_fd) {
    reset_signals();
    int exec_err[2];
    if (::pipe2(exec_err, O_CLOEXEC) != 0) {
        write_report(report_fd, 2, errno);
        _exit(127);
    }
    pid_t pid = raw_fork(SIGCHLD);
    if (pid == 0) {
        ::setpgid(0, 0);
        ::close(exec_err[0]);
        if (::dup2(null_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(out_fd, 2) < 0) {
            int e = errno;
            (void)!::write(exec_err[1], &e, sizeof e);
            _exit(127);
        }
        int keep = exec_err[1];
        if (keep > 3) ::syscall(SYS_close_range, 3, keep - 1, 0);
        ::syscall(SYS_close_range, keep + 1, ~0U, 0);
        ::execve(argv[0], argv, environ);
        int e = errno;
        (void)!::write(keep, &e, sizeof e);
        _exit(127);
    }
    ::close(exec_err[1]);
    ::close(out_fd);
    if (pid < 0) {
        write_report(report_fd, 2, errno);
        _exit(127);
    }
    int e = 0;
    if (::read(exec_err[0], &e, sizeof e) == sizeof e) {
        ::waitpid(pid, nullptr, 0);
        write_report(report_fd, 2, e);
        _exit(127);
    }
    write_report(report_fd, 1, pid);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
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

}  // namespace

ProgramResult run_program(const std::vector<std::string>& args, int64_t timeout_ms,
                          size_t max_output) {
    if (args.empty()) fail_invalid("run_program: no program");
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

    // Exit signal 0: a "clone child" that waitpid(-1) without __WCLONE never reaps.
    pid_t mid = raw_fork(0);
    if (mid == 0) intermediate(argv.data(), out_w.get(), devnull.get(), report_w.get());
    if (mid < 0) fail_io("start " + args[0], errno);
    out_w.reset();
    report_w.reset();

    Report r{};
    if (!read_report(report_r.get(), r) || r.kind != 1) {
        ::waitpid(mid, nullptr, __WCLONE);
        if (r.kind == 2) fail_io("run " + args[0], r.value);
        fail(Status::io, "run " + args[0] + ": the helper process failed");
    }
    const pid_t program = r.value;

    ProgramResult result;
    const int64_t deadline = now_ms() + timeout_ms;
    char buf[1024];
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            result.timed_out = true;
            ::kill(-program, SIGKILL);  // its whole process group
            break;
        }
        struct pollfd pfd = {out_r.get(), POLLIN, 0};
        int n = ::poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left, 1000)));
        if (n < 0 && errno != EINTR) break;
        if (n <= 0) continue;
        ssize_t got = ::read(out_r.get(), buf, sizeof buf);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        size_t room = max_output > result.output.size() ? max_output - result.output.size() : 0;
        result.output.append(buf, std::min(room, static_cast<size_t>(got)));
    }
    // Output closed (or time is up): wait for the final status, still bounded by the deadline
    // (a program may close its output and keep running).
    for (;;) {
        struct pollfd pfd = {report_r.get(), POLLIN, 0};
        int64_t left = std::max<int64_t>(deadline - now_ms(), 0);
        int n = ::poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left, 1000)));
        if (n > 0) break;
        if (n < 0 && errno != EINTR) break;
        if (deadline - now_ms() <= 0 && !result.timed_out) {
            result.timed_out = true;
            ::kill(-program, SIGKILL);
        }
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
