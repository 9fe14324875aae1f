#!/usr/bin/env python3
"""Run a command under a child subreaper, for CPU accounting of everything it starts.

    reaper.py COMMAND [ARGS...]

Every descendant of COMMAND that is orphaned (a detached job shell, slurmstepd) is re-parented
to this process instead of init, and reaped here, so its user and system time add up in this
process's cutime/cstime (/proc/<pid>/stat): the CPU of a whole process tree, also of processes
too short-lived to be sampled. SIGTERM and SIGINT are passed on to COMMAND; this process exits
with COMMAND's status once no descendant is left.
"""
import ctypes
import os
import signal
import sys

PR_SET_CHILD_SUBREAPER = 36

if len(sys.argv) < 2:
    sys.exit("usage: reaper.py COMMAND [ARGS...]")
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
    sys.exit(f"reaper: prctl(PR_SET_CHILD_SUBREAPER) failed: {os.strerror(ctypes.get_errno())}")

main = os.fork()
if main == 0:
    try:
        os.execvp(sys.argv[1], sys.argv[1:])
    except OSError as err:
        sys.stderr.write(f"reaper: cannot run {sys.argv[1]}: {err}\n")
        os._exit(127)


def forward(signum, _frame):
    try:
        os.kill(main, signum)
    except ProcessLookupError:
        pass


signal.signal(signal.SIGTERM, forward)
signal.signal(signal.SIGINT, forward)
code = 0
while True:
    try:
        pid, status = os.waitpid(-1, 0)
    except ChildProcessError:
        break
    except InterruptedError:
        continue
    if pid == main:
        code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
