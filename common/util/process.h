// Running a helper program (the dns-01 hook) from inside a server process.
//
// Contract:
//  - run_program() starts argv[0] with the given arguments (no shell), stdin from /dev/null,
//    stdout+stderr captured (the first `max_output` bytes), every other descriptor closed, in a
//    new process group, and waits for it, killing its process group (SIGKILL) after `timeout_ms`.
//  - It works inside nginx workers, whose SIGCHLD handler reaps any child with waitpid(-1): we
//    start an intermediate process with clone() and no exit signal (it never execs, so it stays a
//    "clone child" that such a waitpid never collects); it resets its signal handlers, runs the
//    program as its own child in a new process group, and reports the program's pid and status
//    through a pipe. We collect the intermediate with __WCLONE.
//  - Descriptors: the intermediate (a copy of the server process that never execs) closes
//    everything but /dev/null on 0-2 and its two pipes, so it holds no store lock or socket of the
//    server; the program gets only 0-2. Closing uses close_range(); where that fails (kernel
//    before 5.9, or a seccomp filter answering ENOSYS/EPERM) it walks /proc/self/fd with
//    getdents64, and failing that closes every descriptor below the RLIMIT_NOFILE soft limit
//    (capped at 2^20). Only async-signal-safe calls run between clone and exec.
//  - Server death: when the calling process dies (crash, SIGKILL) while the program runs, the
//    intermediate gets SIGTERM (PR_SET_PDEATHSIG) and also sees its report pipe's reader vanish;
//    either way it kills the program's process group and exits. SIGTERM, SIGINT, SIGHUP and
//    SIGQUIT sent to the intermediate do the same. The program itself gets SIGKILL if the
//    intermediate dies (PR_SET_PDEATHSIG). Descendants that leave the process group (setsid)
//    are not tracked.
//  - Cancellation: when `cancel` is given, run_program() checks *cancel about every 100 ms; once
//    it is true it kills the program's process group and returns (within about 100 ms plus the
//    time the kernel takes to kill it) a result with `cancelled` set, signal SIGKILL and the
//    output written until then. If *cancel is already true on entry the program is not started
//    and the result is `cancelled` with exit_code -1 and signal 0. Cancellation is not an error:
//    it is reported in the result, never thrown (callers decide; the dns-01 solver throws
//    Error(internal, "cancelled") like its other cancellation points). A timeout likewise keeps
//    the output written before the kill.
//  - Blocks the calling thread only; thread-safe. Throws Error(io) when the program cannot be
//    started; a non-zero exit, a timeout or a cancellation is reported in the result, not thrown.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace acme {

struct ProgramResult {
    int exit_code = -1;  // exit status, or -1 when killed by a signal (or not started)
    int signal = 0;      // the signal that ended it, 0 when it exited
    bool timed_out = false;
    bool cancelled = false;  // *cancel became true; the program was killed (or never started)
    std::string output;      // stdout and stderr, interleaved, truncated to max_output
};

ProgramResult run_program(const std::vector<std::string>& argv, int64_t timeout_ms,
                          size_t max_output = 4096, const std::atomic<bool>* cancel = nullptr);

}  // namespace acme
