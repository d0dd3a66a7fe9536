"""``ircli lab up|status|env|down``: one emulator in the background, found again by its state file.

The state file (``<IRCLI_HOME>/lab/lab.json``) names the process, port and what was seeded;
``up`` reuses a lab that still answers, ``down`` stops the whole process group and checks the
port is free again, so nothing is left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from ircli.core.case import ircli_home
from ircli.core.clock import Clock, iso
from ircli.core.errors import UserError
from ircli.lab.scenarios import EVIDENCE_BUCKET, LabAws, seed
from ircli.lab.server import LAB_KEYS, REGION, port_in_use, responds

DEFAULT_PORT = 4510
START_TIMEOUT = 60


def lab_dir() -> Path:
    return ircli_home() / "lab"


@dataclass
class LabState:
    pid: int
    port: int
    started_at: str
    region: str = REGION
    scenarios: list[dict[str, Any]] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "endpoint": self.endpoint, "state_file": str(_state_file())}


def _state_file() -> Path:
    return lab_dir() / "lab.json"


def read_state() -> LabState | None:
    try:
        data = json.loads(_state_file().read_text())
    except (OSError, ValueError):
        return None
    data.pop("endpoint", None)
    data.pop("state_file", None)
    return LabState(**data)


def write_state(state: LabState) -> None:
    lab_dir().mkdir(parents=True, exist_ok=True)
    tmp = _state_file().with_suffix(".tmp")
    tmp.write_text(json.dumps(state.to_dict(), indent=2))
    tmp.replace(_state_file())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running() -> LabState | None:
    """The lab recorded in the state file, if its process is alive and answering."""
    state = read_state()
    if state and _alive(state.pid) and responds(state.endpoint):
        return state
    return None


def up(port: int, scenario: str | None, clock: Clock) -> tuple[LabState, bool]:
    """Start (or reuse) the lab and seed ``scenario``; returns (state, reused)."""
    state = running()
    reused = state is not None
    if state is None:
        if read_state() is not None:
            _state_file().unlink(missing_ok=True)  # a stale record of a lab that died
        state = _start(port, clock)
    if scenario and scenario not in {s["scenario"] for s in state.scenarios}:
        seeded = seed(scenario, LabAws(state.endpoint, state.region), clock)
        findings_dir = lab_dir() / "findings"
        findings_dir.mkdir(parents=True, exist_ok=True)
        files = []
        for number, finding in enumerate(seeded.findings, start=1):
            path = findings_dir / f"{scenario}-{number}.json"
            path.write_text(json.dumps(finding, indent=2))
            files.append(str(path))
        state.scenarios.append({**seeded.to_dict(), "finding_files": files})
        write_state(state)
    return state, reused


def _start(port: int, clock: Clock) -> LabState:
    if port_in_use(port):
        raise UserError(f"Port {port} on 127.0.0.1 is already in use by another program.",
                        "Stop it, or start the lab on another port: ircli lab up --port N.")
    lab_dir().mkdir(parents=True, exist_ok=True)
    log = open(lab_dir() / "server.log", "ab")  # noqa: SIM115 - handed to the child process
    proc = subprocess.Popen([sys.executable, "-m", "ircli.lab.server", "--port", str(port)],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, env={**os.environ, **_lab_env(port)})
    log.close()
    state = LabState(pid=proc.pid, port=port, started_at=iso(clock.now()))
    write_state(state)
    with contextlib.suppress(RetryError):
        Retrying(retry=retry_if_result(lambda ok: not ok), wait=wait_fixed(0.2),
                 stop=stop_after_delay(START_TIMEOUT))(
            lambda: proc.poll() is None and responds(state.endpoint))
    if proc.poll() is not None or not responds(state.endpoint):
        down()
        tail = (lab_dir() / "server.log").read_text(errors="replace")[-800:]
        raise UserError(f"The lab emulator did not start on port {port}.",
                        f"See {lab_dir() / 'server.log'}; its end reads: {tail.strip()}")
    return state


def down() -> bool:
    """Stop the lab's process group; True when a lab was running."""
    state = read_state()
    if state is None:
        return False
    stopped = False
    if _alive(state.pid):
        stopped = True
        _signal_group(state.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _alive(state.pid) and time.monotonic() < deadline:
            _reap(state.pid)
            time.sleep(0.1)
        if _alive(state.pid):
            _signal_group(state.pid, signal.SIGKILL)
            _reap(state.pid)
    _state_file().unlink(missing_ok=True)
    return stopped


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _lab_env(port: int) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": LAB_KEYS[0],
        "AWS_SECRET_ACCESS_KEY": LAB_KEYS[1],
        "IRCLI_EVIDENCE_BUCKET": EVIDENCE_BUCKET,
    }


def env_lines(state: LabState) -> list[str]:
    """Shell lines for `eval "$(ircli lab env)"`; AWS_SESSION_TOKEN/PROFILE are cleared."""
    lines = [f"export {k}={v}" for k, v in _lab_env(state.port).items()]
    return [*lines, "unset AWS_SESSION_TOKEN AWS_PROFILE"]
