"""The lab's process identity and probe, in-process: what decides that a pid is the lab."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ircli.lab import control


def test_a_process_start_time_is_stable_and_gone_with_the_process() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = control.process_start(child.pid)
        assert started and started == control.process_start(child.pid)
    finally:
        child.kill()
        child.wait()
    assert control.process_start(child.pid) is None


def _state(home: Path, pid: int, start: str) -> control.LabState:
    state = control.LabState(pid=pid, port=1, started_at="2026-01-01T00:00:00Z",
                             process_start=start)
    control.write_state(state)
    return state


def test_only_the_lab_server_with_its_start_time_is_the_lab(aws_env: Path) -> None:
    me = os.getpid()
    mine = control.process_start(me) or ""
    # this process is alive with the right start time, but it is not the lab's emulator
    assert not control.is_lab_process(_state(aws_env, me, mine))
    server = subprocess.Popen([sys.executable, "-c", "print('up', flush=True); "
                               "import time; time.sleep(60)", "ircli.lab.server", "--port", "1"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline() == "up\n"  # exec'd
        start = control.process_start(server.pid) or ""
        assert control.is_lab_process(_state(aws_env, server.pid, start))
        assert not control.is_lab_process(_state(aws_env, server.pid, start + "0"))  # recycled
    finally:
        server.kill()
        server.communicate()


def test_probe_deletes_nothing(aws_env: Path) -> None:
    assert control.probe().state is None and not control.probe().running
    dead = subprocess.Popen(["true"])
    dead.wait()
    _state(aws_env, dead.pid, "1")
    found = control.probe()
    assert (found.process_alive, found.running) == (False, False)
    assert json.loads((aws_env / "lab" / "lab.json").read_text())["pid"] == dead.pid
    assert "No ircli lab is running" in found.error().message
