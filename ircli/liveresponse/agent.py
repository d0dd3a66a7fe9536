"""A stand-in for the SSM agent when the AWS emulator (moto) plays the control plane.

moto records SendCommand but runs nothing. This substitute polls ListCommands, fetches each
command's document, renders it like the agent, runs the script in a sandbox (own cwd, TMPDIR
and HOME, timeout, process-group kill) and reports the outcome back into moto's SSM backend so
GetCommandInvocation/ListCommands show InProgress, then Success/Failed/TimedOut with the real
output. It only works when moto runs in this Python process (``mock_aws`` or an in-process
``ThreadedMotoServer``); the collector's upload must reach the emulator over HTTP, so uploads
need the server mode.

By default a Linux script runs on this machine. ``host_for`` lets the caller say, per
instance, where it runs instead: the lab gives each instance a :class:`Host` (its sandboxed
scenario host, see ``ircli.lab.sandbox``), so the collector sees that host and not the
responder's machine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from ircli.liveresponse.documents import RenderedStep, parse_document, render_step
from ircli.liveresponse.emulator import register_instance, unregister_instance
from ircli.liveresponse.errors import AgentError, EmulatorInternalsError, LiveResponseError

STDOUT_LIMIT = 24_000  # GetCommandInvocation returns at most this much stdout...
STDERR_LIMIT = 8_000  # ...and this much stderr.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
REBOOT_CODES = {194: "Linux", 3010: "Windows"}
DEFAULT_ACCOUNT = "123456789012"
# Like the real agent's on-disk orchestration state: a command runs once per instance even if
# several substitutes poll the same emulator. Command ids are UUIDs, so one set is enough.
_HANDLED: set[tuple[str, str]] = set()
_HANDLED_LOCK = threading.Lock()


@dataclass(frozen=True)
class InvocationResult:
    """What the substitute ran for one (command, instance) pair and what it reported."""

    command_id: str
    instance_id: str
    document_name: str
    status: str
    response_code: int
    stdout: str
    stderr: str
    duration_s: float
    leftovers: tuple[str, ...]
    host: str = "this machine"


class Host(Protocol):
    """Where an instance's Linux commands run, when not on this machine."""

    @property
    def label(self) -> str: ...

    def adjust(self, parameters: Mapping[str, Any]) -> dict[str, Any]:
        """The command's parameters as this host runs them (a bounded fallback narrows them)."""
        ...

    def execute(self, script: str, env: Mapping[str, str], stage: Path, timeout: int
                ) -> tuple[str, int, list[str]]:
        """Run ``script``; write ``stage/stdout`` and ``stage/stderr``; (status, code, notes)."""
        ...


HostFor = Callable[[str], "Host | None"]


def report_to_moto(
    account_id: str, region: str, command_id: str, instance_id: str, fields: Mapping[str, Any]
) -> None:
    """Write an invocation outcome into moto's in-memory SSM backend.

    The gap: a real agent reports through ec2messages/SendReply, which moto does not model, and
    moto's HTTP API has no call to change a command's status. So, when moto runs in this
    process, update its ``Command`` object directly: the per-instance invocation dict that
    GetCommandInvocation returns, and the command's own Status/counts that ListCommands returns.
    With ``hold_new_commands_pending`` and :mod:`ircli.liveresponse.emulator` it is one of the
    few places that touch moto internals; it raises if their shape changed.
    """
    try:
        from moto.ssm.models import ssm_backends

        backend = ssm_backends[account_id][region]
        command = backend.get_command_by_id(command_id)
        invocations: list[dict[str, Any]] = command.invocations
        inv = next(i for i in invocations if i["InstanceId"] == instance_id)
        missing = [k for k in ("Status", "ResponseCode", "StandardOutputContent") if k not in inv]
        if missing or not hasattr(command, "status"):
            raise KeyError(", ".join(missing) or "status")
    except (ImportError, KeyError, AttributeError, StopIteration, TypeError) as exc:
        raise EmulatorInternalsError(
            f"moto's SSM internals are not as expected ({type(exc).__name__}: {exc}), so the "
            "agent substitute cannot report command results.",
            "Pin moto to a tested version (5.2.x) or update report_to_moto for the new layout.",
        ) from exc
    except Exception as exc:  # moto raises its own RESTError for unknown commands
        raise EmulatorInternalsError(
            f"moto has no command {command_id} in account {account_id} region {region}: {exc}.",
            "Point the substitute at the account and region the command was sent in.",
        ) from exc
    inv.update(fields)
    statuses = [i.get("Status") for i in invocations]
    if any(s in ("Pending", "InProgress") for s in statuses):
        command.status = "InProgress"
    elif all(s == "Success" for s in statuses):
        command.status = "Success"
    elif any(s == "TimedOut" for s in statuses):
        command.status = "TimedOut"
    else:
        command.status = "Failed"
    command.status_details = command.status
    done = [s for s in statuses if s not in ("Pending", "InProgress")]
    command.completed_count = len(done)
    command.error_count = len([s for s in done if s != "Success"])


def hold_new_commands_pending() -> Callable[[], None]:
    """Make commands sent to in-process moto start as Pending instead of an instant Success.

    The gap: moto marks every SendCommand Success at once, so a caller polling
    GetCommandInvocation would believe the collector finished before the substitute even ran
    it. This wraps moto's ``Command.__init__`` (moto internals, like ``report_to_moto``) so new
    invocations read Pending until a substitute reports; without a substitute they stay Pending
    (real SSM would eventually say DeliveryTimedOut). Returns a function that undoes the patch.
    """
    try:
        from moto.ssm.models import Command
    except ImportError as exc:
        raise EmulatorInternalsError(
            "moto.ssm.models.Command is not importable, so commands cannot be held Pending.",
            "Install moto[server] 5.2.x or skip hold_new_commands_pending().",
        ) from exc
    original = Command.__init__

    def patched(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.status = "Pending"
        self.status_details = "Pending"
        self.completed_count = 0
        for inv in self.invocations:
            inv.update({"Status": "Pending", "StatusDetails": "Pending", "ResponseCode": -1,
                        "ExecutionStartDateTime": "", "ExecutionEndDateTime": "",
                        "ExecutionElapsedTime": "PT0S"})

    Command.__init__ = patched  # type: ignore[method-assign]

    def undo() -> None:
        Command.__init__ = original  # type: ignore[method-assign]

    return undo


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat()


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


class AgentSubstitute:
    """Runs SSM commands sent to the emulator on this machine, like the agent would.

    ``instance_ids`` limits which targets it "manages" (None = every target). ``extra_env`` is
    added to the script's environment (e.g. collector test hooks). Sandboxes are removed after
    each run unless ``keep_sandboxes``.
    """

    def __init__(
        self,
        ssm_client: Any,
        *,
        instance_ids: Iterable[str] | None = None,
        account_id: str = DEFAULT_ACCOUNT,
        region: str | None = None,
        extra_env: Mapping[str, str] | None = None,
        sandbox_root: str | None = None,
        keep_sandboxes: bool = False,
        host_for: HostFor | None = None,
    ) -> None:
        self._ssm = ssm_client
        self._managed = None if instance_ids is None else set(instance_ids)
        self._account = account_id
        self._region = region or str(ssm_client.meta.region_name)
        self._extra_env = dict(extra_env or {})
        self._sandbox_root = sandbox_root
        self._keep = keep_sandboxes
        self._host_for = host_for

    def pending(self) -> list[tuple[dict[str, Any], str]]:
        """(command, instance id) pairs not yet handled by this substitute."""
        out: list[tuple[dict[str, Any], str]] = []
        for page in self._ssm.get_paginator("list_commands").paginate():
            for cmd in page.get("Commands", []):
                for iid in cmd.get("InstanceIds", []):
                    managed = self._managed is None or iid in self._managed
                    if managed and (cmd["CommandId"], iid) not in _HANDLED:
                        out.append((cmd, iid))
        return out

    def register(self, *, ping_status: str = "Online", platform: str = "Linux") -> None:
        """Show the managed instances in DescribeInstanceInformation, as a real agent's
        registration does (see :mod:`ircli.liveresponse.emulator`); needs ``instance_ids``."""
        if self._managed is None:
            raise AgentError("An agent substitute for every instance cannot register them.",
                             "Pass instance_ids= to register those instances.")
        for iid in sorted(self._managed):
            register_instance(self._account, self._region, iid, platform=platform,
                              ping_status=ping_status)

    def unregister(self) -> None:
        for iid in sorted(self._managed or ()):
            unregister_instance(self._account, self._region, iid)

    def run_once(self) -> list[InvocationResult]:
        """Run every pending command once; returns what was run, in order."""
        results = []
        for cmd, iid in self.pending():
            with _HANDLED_LOCK:
                if (cmd["CommandId"], iid) in _HANDLED:
                    continue
                _HANDLED.add((cmd["CommandId"], iid))
            if self._cancelled(str(cmd["CommandId"]), iid):
                continue  # cancelled before the agent picked it up: it never runs
            results.append(self._run(cmd, iid))
        return results

    def _cancelled(self, command_id: str, iid: str) -> bool:
        """Per instance: moto's command-level status also counts other instances' invocations."""
        try:
            status = self._ssm.get_command_invocation(CommandId=command_id, InstanceId=iid)
        except Exception:  # an emulator without the invocation: run it, as before
            return False
        return status.get("Status") in ("Cancelled", "Cancelling")

    def run_forever(self, stop_event: threading.Event, poll_interval: float = 1.0) -> None:
        """Poll until ``stop_event`` is set (meant for a background thread in a lab)."""
        while not stop_event.is_set():
            self.run_once()
            stop_event.wait(poll_interval)

    def _report(self, cmd_id: str, iid: str, fields: Mapping[str, Any]) -> None:
        report_to_moto(self._account, self._region, cmd_id, iid, fields)

    def _run(self, cmd: Mapping[str, Any], iid: str) -> InvocationResult:
        cmd_id, doc_name = str(cmd["CommandId"]), str(cmd.get("DocumentName", ""))
        start = time.time()
        self._report(cmd_id, iid, {
            "Status": "InProgress", "StatusDetails": "InProgress", "ResponseCode": -1,
            "ExecutionStartDateTime": _iso(start), "ExecutionEndDateTime": "",
            "StandardOutputContent": "", "StandardErrorContent": "",
        })
        label = "this machine"
        try:
            content = self._ssm.get_document(Name=doc_name, DocumentFormat="JSON")["Content"]
            doc = parse_document(content)
            params = cmd.get("Parameters") or {}
            host = self._host_for(iid) if self._host_for is not None else None
            if host is not None and render_step(doc, params).platform == "Linux":
                label = host.label
                step = render_step(doc, host.adjust(params))
                status, code, out, err, leftovers = self._on_host(host, step, cmd, iid)
            else:
                step = render_step(doc, params)
                status, code, out, err, leftovers = self._execute(step, cmd, iid)
            plugin = step.name
        except LiveResponseError as exc:
            status, code, out, err, leftovers, plugin = "Failed", 1, "", str(exc), (), ""
        except Exception as exc:  # a boto error fetching the document, etc.
            status, code, out, err, leftovers, plugin = "Failed", 1, "", repr(exc), (), ""
        end = time.time()
        fields: dict[str, Any] = {
            "Status": status, "StatusDetails": status, "ResponseCode": code,
            "StandardOutputContent": out[:STDOUT_LIMIT], "StandardErrorContent": err[:STDERR_LIMIT],
            "ExecutionEndDateTime": _iso(end), "ExecutionElapsedTime": f"PT{end - start:.3f}S",
        }
        if plugin:
            fields["PluginName"] = plugin  # real SSM names the plugin after the 2.2 step name
        self._report(cmd_id, iid, fields)
        return InvocationResult(cmd_id, iid, doc_name, status, code, out, err, end - start,
                                leftovers, label)

    def _on_host(self, host: Host, step: RenderedStep, cmd: Mapping[str, Any], iid: str
                 ) -> tuple[str, int, str, str, tuple[str, ...]]:
        """Run a Linux step on the instance's host; the host's notes lead the stderr."""
        stage = Path(tempfile.mkdtemp(prefix="ircli-host-", dir=self._sandbox_root))
        try:
            env = {"PATH": SYSTEM_PATH, "LANG": "C.UTF-8", "HOME": "/root",
                   "AWS_SSM_INSTANCE_ID": iid, "AWS_SSM_REGION_NAME": self._region,
                   **step.env, **self._extra_env}
            timeout = min(step.timeout_seconds, int(cmd.get("TimeoutSeconds") or 172800))
            status, code, notes = host.execute(step.commands, env, stage, timeout)
            out = _read(stage / "stdout")
            err = "".join(f"lab host: {n}\n" for n in [host.label, *notes]) + _read(
                stage / "stderr")
            leftovers = tuple(n for n in notes if n.startswith("left in the host"))
            return status, code, out, err, leftovers
        finally:
            if not self._keep:
                shutil.rmtree(stage, ignore_errors=True)

    def _interpreter(self, step: RenderedStep) -> list[str]:
        if step.platform == "Linux":
            return ["/bin/sh"]
        pwsh = shutil.which("pwsh")
        if step.platform == "Windows" and pwsh:
            return [pwsh, "-NonInteractive", "-NoProfile", "-ExecutionPolicy", "Bypass", "-File"]
        raise AgentError(
            "The Windows collector cannot run on this machine: PowerShell (pwsh) is not on PATH, "
            "so the agent substitute reports it as Failed.",
            "Run the Windows document on a real Windows instance, or install pwsh here.",
        )

    def _execute(
        self, step: RenderedStep, cmd: Mapping[str, Any], iid: str
    ) -> tuple[str, int, str, str, tuple[str, ...]]:
        argv = self._interpreter(step)
        sandbox = Path(tempfile.mkdtemp(prefix="ircli-agent-", dir=self._sandbox_root))
        try:
            work = sandbox / "orchestration" / str(cmd["CommandId"]) / step.name
            tmp, home = sandbox / "tmp", sandbox / "home"
            for d in (work, tmp, home):
                d.mkdir(parents=True)
            script = work / ("_script.ps1" if step.platform == "Windows" else "_script.sh")
            script.write_text(step.commands, encoding="utf-8")
            env = {"PATH": SYSTEM_PATH, "LANG": "C.UTF-8", "TMPDIR": str(tmp), "HOME": str(home),
                   "AWS_SSM_INSTANCE_ID": iid, "AWS_SSM_REGION_NAME": self._region,
                   **step.env, **self._extra_env}
            # Real SSM: command TimeoutSeconds is a delivery timeout; executionTimeout is the
            # step's. The substitute honours the smaller so a test can force a short one.
            timeout = min(step.timeout_seconds, int(cmd.get("TimeoutSeconds") or 172800))
            status, code = self._spawn([*argv, str(script)], work, env, timeout)
            out = (work / "stdout").read_text(encoding="utf-8", errors="replace")
            err = (work / "stderr").read_text(encoding="utf-8", errors="replace")
            if code in REBOOT_CODES:
                status = "Failed"
                err = (f"script exited {code}: the real SSM agent would REBOOT the instance "
                       f"({REBOOT_CODES[code]}); the substitute did not.\n") + err
            leftovers = tuple(f"tmp/{p}" for p in _tree(tmp)) + tuple(
                f"home/{p}" for p in _tree(home))
            return status, code, out, err, leftovers
        finally:
            if not self._keep:
                shutil.rmtree(sandbox, ignore_errors=True)

    @staticmethod
    def _spawn(argv: list[str], cwd: Path, env: Mapping[str, str], timeout: int) -> tuple[str, int]:
        return spawn(argv, cwd, env, timeout)


def spawn(argv: list[str], cwd: Path, env: Mapping[str, str], timeout: int) -> tuple[str, int]:
    """Run in a new session with cwd/stdout and cwd/stderr; on timeout SIGKILL the whole
    process group like the agent. Returns (SSM status, exit code)."""
    with open(cwd / "stdout", "wb") as out, open(cwd / "stderr", "wb") as err:
        proc = subprocess.Popen(argv, cwd=cwd, env=dict(env), stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return "TimedOut", -1
    return ("Success" if code == 0 else "Failed"), code
