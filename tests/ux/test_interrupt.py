"""Ctrl-C during `ircli contain`: a real process, a real SIGINT, the AWS end state checked.

The emulator runs in this test process; its ModifyInstanceAttribute handler (the ``protect``
step, right after isolation) holds the request until the test has sent SIGINT to the ircli
process, so the signal lands after isolation without any timing guess.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ircli.lab.web_compromise import seed_web_compromise
from tests.e2e.conftest import _ircli_command
from tests.helpers import eni_groups, ircli

pytestmark = pytest.mark.e2e

# A process started in the background of a non-interactive shell (a CI job, `cmd &`) inherits
# SIGINT ignored, and Python then never turns a Ctrl-C into KeyboardInterrupt. These tests
# press Ctrl-C as a responder at a terminal does, so they set it to its default first.
_CTRL_C_AT_DEFAULT = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                      "os.execv(sys.argv[1], sys.argv[1:])")


def _as_at_a_terminal(command: list[str]) -> list[str]:
    """``command`` with SIGINT at its default whatever this process inherited."""
    return [sys.executable, "-I", "-S", "-c", _CTRL_C_AT_DEFAULT, *command]


@pytest.fixture(autouse=True)
def ctrl_c_raises() -> Iterator[None]:
    """In this process too: SIGINT raises KeyboardInterrupt, as Python sets it up at a
    terminal (the inherited disposition comes back after the test)."""
    found = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, found)


def _hold_protect(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """The first real ModifyInstanceAttribute waits for ``release``; ``reached`` says it came."""
    from moto.ec2.responses.instances import InstanceResponse

    original = InstanceResponse.modify_instance_attribute
    reached, release = threading.Event(), threading.Event()

    def held(self: Any) -> Any:
        if not reached.is_set() and not self._get_param("DryRun"):
            reached.set()
            release.wait(120)
        return original(self)

    monkeypatch.setattr(InstanceResponse, "modify_instance_attribute", held)
    return reached, release


def test_ctrl_c_after_isolation_says_what_it_leaves_and_exits_3(
        server_clients: Any, aws_env: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    lab = seed_web_compromise(server_clients, "us-east-1")
    reached, release = _hold_protect(monkeypatch)
    proc = subprocess.Popen(_as_at_a_terminal([*_ircli_command(), "contain", lab.suspect,
                                               "--yes", "--case-id", "ir-int-1"]),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert reached.wait(120), "contain never reached the protect step"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        release.set()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 3, (out, err)
    assert "Traceback" not in err
    assert (f"Interrupted during 'Protect the evidence': {lab.suspect} is isolated; 6 of 11 "
            "steps done; case ir-int-1.") in err, err
    assert "Run the same command to finish" in err

    case_dir = aws_env / "cases" / "ir-int-1"
    audit = [json.loads(line) for line in (case_dir / "audit.jsonl").read_text().splitlines()]
    [line] = [e for e in audit if e["event"] == "run-interrupted"]
    assert (line["step"], line["steps_done"], line["steps_total"], line["isolated"]) == (
        "protect", 6, 11, True)
    record = json.loads((case_dir / "case.json").read_text())
    target = record["targets"][lab.suspect]
    assert target["status"] == "partial"
    assert target["steps"]["protect"]["status"] == "interrupted"
    assert record["runs"][-1]["status"] == "interrupted"

    # AWS: every ENI of the suspect is behind the isolation group alone
    [iso] = target["steps"]["isolate"]["data"]["isolation_groups"].values()
    assert eni_groups(server_clients("ec2"), lab.suspect_enis) == {
        eni: [iso] for eni in lab.suspect_enis}

    again = ircli(capsys, "contain", lab.suspect, "--yes")  # the same command finishes the job
    assert again.code == 0 and again.data["status"] == "contained", again.err
    assert again.data["case_id"] == "ir-int-1"
    assert "isolated_after" not in again.data["metrics"]  # nothing was isolated by this run


def _interrupt(*_args: Any) -> Any:
    raise KeyboardInterrupt


@pytest.mark.parametrize(("where", "code", "isolated"), [
    ("ircli.steps.instance_state.ResolveInstance.plan", 130, "NOT isolated; 0 of 11"),
    ("ircli.steps.isolate.Isolate.apply", 4, "NOT isolated; 3 of 11"),
])
def test_ctrl_c_before_isolation_says_so(clients: Any, aws_env: Path,
                                         monkeypatch: pytest.MonkeyPatch, where: str, code: int,
                                         isolated: str) -> None:
    from ircli.core.errors import Interrupted
    from tests.helpers import run_contain

    lab = seed_web_compromise(clients, "us-east-1")
    monkeypatch.setattr(where, _interrupt)
    with pytest.raises(Interrupted) as stop:
        run_contain(lab.suspect, case_id="ir-int-2")
    assert int(stop.value.exit_code) == code
    assert f"{lab.suspect} is {isolated} steps done" in stop.value.message
    if code == 4:  # it had started changing AWS: the case and the audit log say where it stopped
        audit = (aws_env / "cases" / "ir-int-2" / "audit.jsonl").read_text()
        assert '"event": "run-interrupted"' in audit and '"isolated": false' in audit
        record = json.loads((aws_env / "cases" / "ir-int-2" / "case.json").read_text())
        assert record["targets"][lab.suspect]["steps"]["isolate"]["status"] == "interrupted"
        assert record["targets"][lab.suspect]["status"] == "interrupted"


def test_ctrl_c_while_recording_the_state_changed_nothing_in_aws(
        clients: Any, aws_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ircli.core.errors import Interrupted
    from tests.helpers import aws_state, run_contain

    lab = seed_web_compromise(clients, "us-east-1")
    state = aws_state(clients)
    # resolve and record are done, leave-asg has not detached anything yet
    monkeypatch.setattr("ircli.steps.service.LeaveAutoScaling.plan", _interrupt)
    with pytest.raises(Interrupted) as stop:
        run_contain(lab.suspect, case_id="ir-int-3")
    assert int(stop.value.exit_code) == 130  # the case was written, AWS was not touched
    assert "NOT isolated; 2 of 11 steps done; case ir-int-3" in stop.value.message
    assert aws_state(clients) == state


def test_ctrl_c_after_leaving_the_asg_but_before_isolation_is_not_contained(
        clients: Any, aws_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ASG detach is a change to AWS: a stop right after it is exit 4, not 130."""
    from ircli.core.errors import Interrupted
    from tests.helpers import run_contain

    lab = seed_web_compromise(clients, "us-east-1")
    monkeypatch.setattr("ircli.steps.isolate.Isolate.plan", _interrupt)
    with pytest.raises(Interrupted) as stop:
        run_contain(lab.suspect, case_id="ir-int-5")
    assert int(stop.value.exit_code) == 4
    assert f"{lab.suspect} is NOT isolated; 3 of 11 steps done; case ir-int-5" in \
        stop.value.message
    assert "Run the same command to finish" in (stop.value.remediation or "")
    # AWS: the suspect really left its group (and so no longer counts in it)
    group = clients("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[lab.asg])["AutoScalingGroups"][0]
    assert lab.suspect not in {i["InstanceId"] for i in group["Instances"]}


def test_ctrl_c_in_a_run_without_isolation_is_partial_once_aws_changed(moto_aws: None) -> None:
    from ircli.core.engine import RunContext, run_steps
    from ircli.core.errors import Interrupted
    from ircli.core.session import AwsSession, AwsSettings
    from ircli.core.step import Call, Step, StepPlan
    from tests.fakes import FakeClock

    class Changes(Step):
        name, title, permissions = "changes", "Change something", ()

        def plan(self, ctx: RunContext) -> StepPlan:
            return StepPlan(calls=[Call("ec2", "create_key_pair", {"KeyName": "k"}, "a change")])

    class Stopped(Step):
        name, title, permissions = "stopped", "Stopped here", ()

        def plan(self, ctx: RunContext) -> StepPlan:
            raise KeyboardInterrupt

    ctx = RunContext(AwsSession(AwsSettings()), FakeClock(), "user/alice")
    with pytest.raises(Interrupted) as stop:
        run_steps(ctx, [Changes(), Stopped()])
    assert int(stop.value.exit_code) == 3
    assert stop.value.message == "Interrupted during 'Stopped here': 1 of 2 steps done."
    assert stop.value.summary["isolated"] is None and stop.value.summary["changed"] is True
    with pytest.raises(Interrupted) as nothing:
        run_steps(RunContext(AwsSession(AwsSettings()), FakeClock(), "user/bob"), [Stopped()])
    assert int(nothing.value.exit_code) == 130
    assert nothing.value.remediation == "Nothing was changed; run the command again when ready."


def test_a_second_ctrl_c_does_not_cut_the_record_short(
        clients: Any, aws_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ircli.core.audit import AuditLog
    from ircli.core.errors import Interrupted
    from tests.helpers import run_contain

    lab = seed_web_compromise(clients, "us-east-1")
    append = AuditLog.append

    def impatient(self: AuditLog, entry: dict[str, Any]) -> None:
        if entry["event"] == "run-interrupted":
            os.kill(os.getpid(), signal.SIGINT)  # the responder presses Ctrl-C again
        append(self, entry)

    monkeypatch.setattr(AuditLog, "append", impatient)
    monkeypatch.setattr("ircli.steps.protect.Protect.apply", _interrupt)
    try:
        with pytest.raises(Interrupted) as stop:
            run_contain(lab.suspect, case_id="ir-int-4")
    except KeyboardInterrupt:
        pytest.fail("the second Ctrl-C escaped while the interruption was being recorded")
    assert int(stop.value.exit_code) == 3
    audit = (aws_env / "cases" / "ir-int-4" / "audit.jsonl").read_text()
    assert '"event": "run-interrupted"' in audit
    record = json.loads((aws_env / "cases" / "ir-int-4" / "case.json").read_text())
    assert record["runs"][-1]["status"] == "interrupted"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Ctrl-C works again
