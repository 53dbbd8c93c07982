"""The engine subprocess's first step, run by file path in a fresh interpreter:

    python -I -S agents/engine_child.py AGENT_PID CPUS -- ENGINE COMMAND...

It asks the kernel to SIGKILL it when the agent dies (PR_SET_PDEATHSIG, kept
across exec), pins itself to CPUS (comma-separated; empty: no pinning), then
execs the engine. This used to run in Popen's preexec_fn, where loading libc
with ctypes in a child forked while the heartbeat thread held a lock could
deadlock; here the process has one thread. Only the standard library is
imported, so a commit's worktree (cwd, PYTHONPATH) cannot shadow it."""
import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> int:
    agent_pid, cpus, sep, *command = argv
    if sep != "--" or not command:
        sys.stderr.write("usage: engine_child.py AGENT_PID CPUS -- COMMAND...\n")
        return 2
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the engine then outlives a killed agent until its own end
    if os.getppid() != int(agent_pid):
        return 1  # the agent died before the death signal was armed: nobody waits for this run
    if cpus:
        os.sched_setaffinity(0, [int(c) for c in cpus.split(",")])
    try:
        os.execvp(command[0], command)
    except OSError as e:
        sys.stderr.write(f"cannot start the engine {command[0]!r}: {e.strerror or e}\n")
        return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
