"""The launcher stops its services however it is left: a reader of its output that went away does
not stop it mid-way (it must still stop the services on Ctrl-C), and a service it started is
stopped by the kernel when the launcher itself is killed outright."""

import os
import signal
import subprocess
import sys
import textwrap
import time

from services import launcher


def test_saying_something_to_a_reader_that_went_away_raises_nothing_and_later_lines_are_dropped(monkeypatch):
    read, write = os.pipe()
    os.close(read)  # the reader is gone: a write now fails with EPIPE
    previous = signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as Python runs: EPIPE, not death
    try:
        gone = open(write, "w")  # noqa: SIM115
        monkeypatch.setattr(sys, "stdout", gone)
        launcher.say("stopping...")
        launcher.say("stopped")
        assert sys.stdout is not gone and sys.stdout.name == os.devnull
    finally:
        signal.signal(signal.SIGPIPE, previous)
        try:
            gone.close()
        except OSError:
            pass


def test_a_closed_output_raises_nothing_either(monkeypatch):
    closed = open(os.devnull, "w")  # noqa: SIM115
    closed.close()
    monkeypatch.setattr(sys, "stdout", closed)
    launcher.say("stopped")
    assert not sys.stdout.closed


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_child_started_the_launchers_way_stops_when_its_parent_is_killed_outright():
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import subprocess, sys, time
                from services.launcher import die_with_parent
                child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                                         preexec_fn=die_with_parent())
                print(child.pid, flush=True)
                time.sleep(120)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    child = int(parent.stdout.readline())
    assert alive(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child), "the child outlived its parent"
