// Running a helper program (the dns-01 hook) from inside a server process.
//
// Contract:
//  - run_program() starts argv[0] with the given arguments (no shell), stdin from /dev/null,
//    stdout+stderr captured (the first `max_output` bytes), every other descriptor closed, and
//    waits for it, killing it (SIGKILL to the child) after `timeout_ms`.
//  - It works inside nginx workers, whose SIGCHLD handler reaps any child with waitpid(-1): we
//    start an intermediate process with clone() and no exit signal (it never execs, so it stays a
//    "clone child" that such a waitpid never collects); it resets its signal handlers, runs the
//    program as its own child in a new process group, and reports the program's pid and status
//    through a pipe. We collect the intermediate with __WCLONE.
//  - Blocks the calling thread only; thread-safe. Throws Error(io) when the program cannot be
//    started; a non-zero exit is reported in the result, not thrown.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace acme {

struct ProgramResult {
    int exit_code = -1;  // exit status, or -1 when killed by a signal
    int signal = 0;      // the signal that ended it, 0 when it exited
    bool timed_out = false;
    std::string output;  // stdout and stderr, interleaved, truncated to max_output
};

ProgramResult run_program(const std::vector<std::string>& argv, int64_t timeout_ms,
                          size_t max_output = 4096);

}  // namespace acme
