#include "util/process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include "util/error.h"

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
    ProgramResult r = run_program({"/bin/sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x"}, 10000, 100);
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

}  // namespace
}  // namespace acme
