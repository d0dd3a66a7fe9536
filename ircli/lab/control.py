"""``ircli lab up|status|env|down``: one emulator in the background, found again by its state file.

The state file (``<IRCLI_HOME>/lab/lab.json``) is the lab's pid file: it names the process, the
process's start time (so a recycled pid is never taken for the lab), the port and what was
seeded. Whether the lab runs is decided by that process identity plus one small request to the
port (never the emulator's state dump, which takes seconds when the machine is busy). A state
file is removed only when its process is gone: a lab that is alive but slow to answer is
reported as such, never forgotten, and ``down`` can always stop the process ``up`` started.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from ircli.core.case import ircli_home
from ircli.core.clock import Clock, iso
from ircli.core.errors import UserError
from ircli.lab.scenarios import EVIDENCE_BUCKET, LabAws, seed
from ircli.lab.server import LAB_KEYS, REGION, SERVER_ENV, port_in_use, responds

DEFAULT_PORT = 4510
START_TIMEOUT = 60
STOP_TIMEOUT = 10
# How long a live lab process may take to answer before it is called busy (seconds); a very
# busy machine may want more (IRCLI_LAB_PROBE_SECONDS=30).
PROBE_SECONDS = 10.0
_SERVER_MODULE = "ircli.lab.server"


def lab_dir() -> Path:
    return ircli_home() / "lab"


@dataclass
class LabState:
    pid: int
    port: int
    started_at: str
    region: str = REGION
    scenarios: list[dict[str, Any]] = field(default_factory=list)
    process_start: str = ""  # the pid's start time when `up` started it ("" in old state files)

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
        data.pop("endpoint", None)
        data.pop("state_file", None)
        return LabState(**data)
    except (OSError, ValueError, TypeError):
        return None


def write_state(state: LabState) -> None:
    lab_dir().mkdir(parents=True, exist_ok=True)
    tmp = _state_file().with_suffix(".tmp")
    tmp.write_text(json.dumps(state.to_dict(), indent=2))
    tmp.replace(_state_file())


# -- process identity -----------------------------------------------------------------------
def process_start(pid: int) -> str | None:
    """When process ``pid`` started (an opaque token), or None when there is no such process.

    Linux: field 22 of /proc/PID/stat (clock ticks since boot); elsewhere ``ps -o lstart``.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2:].split()[19]
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():
            return None
    except (OSError, ValueError, IndexError):
        return None
    out = subprocess.run(["ps", "-o", "lstart=", "-p", str(pid)], capture_output=True,
                         text=True, check=False).stdout.strip()
    return out or None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():
            return ""
    except OSError:
        return ""
    return subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True,
                          text=True, check=False).stdout


def is_lab_process(state: LabState) -> bool:
    """The process ``up`` started for ``state`` still exists (not merely some process with its
    pid): same start time, and it runs the lab's emulator."""
    started = process_start(state.pid)
    if started is None:
        return False
    if state.process_start and started != state.process_start:
        return False
    return _SERVER_MODULE in _cmdline(state.pid)


# -- liveness ------------------------------------------------------------------------------
def probe_seconds() -> float:
    try:
        return max(0.5, float(os.environ.get("IRCLI_LAB_PROBE_SECONDS", PROBE_SECONDS)))
    except ValueError:
        return PROBE_SECONDS


@dataclass(frozen=True)
class LabProbe:
    """What is known about the recorded lab: its state, whether its process lives, whether it
    answered within ``waited`` seconds."""

    state: LabState | None
    process_alive: bool
    answering: bool
    waited: float

    @property
    def running(self) -> bool:
        return self.process_alive and self.answering

    def error(self, start_hint: str = "Start one with: ircli lab up") -> UserError:
        """Why the lab cannot be used now, as one sentence and what to do."""
        if self.state is not None and self.process_alive:
            return UserError(
                f"The ircli lab (pid {self.state.pid}, {self.state.endpoint}) is running but "
                f"did not answer within {self.waited:.0f} s.",
                "It may be busy: try again in a moment (IRCLI_LAB_PROBE_SECONDS=30 waits "
                "longer), or stop it with: ircli lab down")
        return UserError("No ircli lab is running.", start_hint)


def _answers(endpoint: str, budget: float) -> bool:
    """One small request, repeated until ``budget`` seconds have passed."""
    deadline = time.monotonic() + budget

    def attempt() -> bool:
        return responds(endpoint, timeout=max(0.2, min(3.0, deadline - time.monotonic())))

    try:
        return bool(Retrying(retry=retry_if_result(lambda ok: not ok), wait=wait_fixed(0.25),
                             stop=stop_after_delay(budget))(attempt))
    except RetryError:
        return False


def probe(budget: float | None = None) -> LabProbe:
    """Is the recorded lab's process alive, and does it answer? Deletes nothing."""
    state = read_state()
    if state is None or not is_lab_process(state):
        return LabProbe(state, False, False, 0.0)
    waited = probe_seconds() if budget is None else budget
    return LabProbe(state, True, _answers(state.endpoint, waited), waited)


def running() -> LabState | None:
    """The lab recorded in the state file, if its process is alive and answering."""
    found = probe()
    return found.state if found.running else None


def require_running(start_hint: str = "Start one with: ircli lab up") -> LabState:
    """The running lab, or the error that says why there is none usable right now."""
    found = probe()
    if found.running and found.state is not None:
        return found.state
    raise found.error(start_hint)


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """One `lab up`/`lab down` at a time for this IRCLI_HOME."""
    lab_dir().mkdir(parents=True, exist_ok=True)
    with open(lab_dir() / "lab.lock", "w") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows runs no lab
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- up / down -----------------------------------------------------------------------------
def up(port: int, scenario: str | None, clock: Clock) -> tuple[LabState, bool]:
    """Start (or reuse) the lab and seed ``scenario``; returns (state, reused)."""
    with _locked():
        found = probe()
        if found.process_alive and not found.answering:
            raise found.error()  # alive but busy: never forget it, never start a second one
        state = found.state if found.running else None
        reused = state is not None
        if state is None:
            if found.state is not None:
                _state_file().unlink(missing_ok=True)  # its process is gone: a stale record
            state = _start(port, clock)
        if scenario and scenario not in {s["scenario"] for s in state.scenarios}:
            _seed(state, scenario, clock)
    return state, reused


def _seed(state: LabState, scenario: str, clock: Clock) -> None:
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


def _start(port: int, clock: Clock) -> LabState:
    if port_in_use(port):
        other = _unrecorded_lab(port)
        if other is not None:
            raise UserError(f"Port {port} is used by an ircli lab emulator (pid {other}) that "
                            "this IRCLI_HOME has no record of.",
                            f"Stop it with: kill {other}; or start the lab on another port: "
                            "ircli lab up --port N.")
        raise UserError(f"Port {port} on 127.0.0.1 is already in use by another program.",
                        "Stop it, or start the lab on another port: ircli lab up --port N.")
    lab_dir().mkdir(parents=True, exist_ok=True)
    log = open(lab_dir() / "server.log", "ab")  # noqa: SIM115 - handed to the child process
    proc = subprocess.Popen([sys.executable, "-m", _SERVER_MODULE, "--port", str(port)],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True,
                            env={**os.environ, **_lab_env(port), **SERVER_ENV})
    log.close()
    state = LabState(pid=proc.pid, port=port, started_at=iso(clock.now()),
                     process_start=process_start(proc.pid) or "")
    write_state(state)  # recorded before waiting: `down` can stop it whatever happens next
    with contextlib.suppress(RetryError):
        Retrying(retry=retry_if_result(lambda ok: not ok), wait=wait_fixed(0.2),
                 stop=stop_after_delay(START_TIMEOUT))(
            lambda: proc.poll() is None and responds(state.endpoint))
    if proc.poll() is not None or not responds(state.endpoint):
        _stop(state)
        _state_file().unlink(missing_ok=True)
        tail = (lab_dir() / "server.log").read_text(errors="replace")[-800:]
        raise UserError(f"The lab emulator did not start on port {port}.",
                        f"See {lab_dir() / 'server.log'}; its end reads: {tail.strip()}")
    return state


def _unrecorded_lab(port: int) -> int | None:
    """The pid of a lab emulator serving ``port`` that no state file here names (Linux)."""
    wanted = f"{_SERVER_MODULE} --port {port} "
    with contextlib.suppress(OSError):
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and wanted in _cmdline(int(entry.name)) + " ":
                return int(entry.name)
    return None


def down() -> bool:
    """Stop the process ``up`` started (its whole process group); True when it was running.

    The state file goes only once that process is gone; a pid now used by another program is
    never signalled.
    """
    with _locked():
        state = read_state()
        if state is None:
            return False
        stopped = False
        if is_lab_process(state):
            _stop(state)
            stopped = True
        _state_file().unlink(missing_ok=True)
        return stopped


def _stop(state: LabState) -> None:
    """SIGTERM the lab's process group (SIGCONT too, should it be stopped), then SIGKILL."""
    _signal_group(state.pid, signal.SIGTERM)
    _signal_group(state.pid, signal.SIGCONT)
    deadline = time.monotonic() + STOP_TIMEOUT
    while _exists(state) and time.monotonic() < deadline:
        _reap(state.pid)
        time.sleep(0.1)
    if _exists(state):
        _signal_group(state.pid, signal.SIGKILL)
        deadline = time.monotonic() + STOP_TIMEOUT
        while _exists(state) and time.monotonic() < deadline:
            _reap(state.pid)
            time.sleep(0.05)
    _reap(state.pid)
    if _exists(state):
        raise UserError(f"The ircli lab (pid {state.pid}) did not stop.",
                        f"Stop it by hand: kill -9 {state.pid}; then run: ircli lab down")


def _exists(state: LabState) -> bool:
    """The lab's process still exists and is not a zombie waiting to be reaped."""
    started = process_start(state.pid)
    if started is None or (state.process_start and started != state.process_start):
        return False
    try:
        fields = Path(f"/proc/{state.pid}/stat").read_text()
        return fields[fields.rindex(")") + 2] != "Z"
    except (OSError, ValueError, IndexError):
        return True


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
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


LAB_BUCKET_NOTE = (
    "The lab runs its evidence bucket without the bucket policy: the emulator ignores policy "
    "conditions, so the TLS-only deny would refuse every request (AWS evaluates them). On AWS "
    "these policy checks fail; `ircli evidence init` puts the policy in place.")


def lab_bucket_note(s3_endpoint: str | None, bucket: str) -> str | None:
    """Why ``bucket`` has no policy, when it is the lab's evidence bucket at its endpoint."""
    state = read_state()
    if state is None or not s3_endpoint:
        return None
    lab = {state.endpoint, f"http://localhost:{state.port}"}
    buckets = {s.get("evidence_bucket") for s in state.scenarios}
    return LAB_BUCKET_NOTE if s3_endpoint.rstrip("/") in lab and bucket in buckets else None


def env_lines(state: LabState) -> list[str]:
    """Shell lines for `eval "$(ircli lab env)"`; AWS_SESSION_TOKEN/PROFILE are cleared."""
    lines = [f"export {k}={v}" for k, v in _lab_env(state.port).items()]
    return [*lines, "unset AWS_SESSION_TOKEN AWS_PROFILE"]
