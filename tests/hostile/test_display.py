"""Issue 11 item 1, as the attacker: tags and finding fields full of markup and escapes.

The attacker can tag the instance it controls and shape what GuardDuty reports. Each command
is run through the real CLI, in text mode (the mode a responder reads), and the test asserts
on the AWS end state (the ENIs behind the isolation group), the case on disk, and that no raw
control character reached stdout or stderr while its escaped form is shown.

Emulator shim: moto writes a tag holding ESC (U+001B) raw into its XML answer, which then is
not XML at all (XML 1.0 cannot carry C0 controls), and boto3 fails to parse DescribeInstances.
EC2's own query API cannot return such a tag either, so the EC2 tags here carry what XML does
allow — markup, a C1 CSI (U+009B) and a right-to-left override — and ESC sequences come in
through the finding (JSON) instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ircli.cli.flow import never_fatal, show
from ircli.cli.options import GlobalOptions
from ircli.cli.plaintext import escape_controls, plain, styled
from ircli.cli.render import render_run
from ircli.core.errors import ExitCode
from ircli.core.session import AwsSession, AwsSettings
from ircli.lab.web_compromise import WebCompromise, seed_web_compromise
from ircli.liveresponse.agent import DEFAULT_ACCOUNT, report_to_moto
from ircli.ops.contain import ContainOptions, contain
from tests.collect.conftest import FAST, Lab
from tests.evidence.conftest import RunCli
from tests.fakes import FakeClock
from tests.helpers import eni_groups, ircli
from tests.runbooks.conftest import FINDINGS

REGION = "us-east-1"
TITLE = "\x1b]0;pwned\x07"  # OSC: retitle the responder's terminal
CLEAR = "\x1b[2J"  # CSI: clear the screen
C1_CSI = "\x9b2J"  # the one-byte form of ESC [ (C1), legal in XML
RLO = "\u202e"  # right-to-left override: "exe.gnp" shows as "png.exe"
NAME = f"web-1 [/] {C1_CSI}{RLO}"
OTHER = f"build [/tmp] [bold red]x {C1_CSI}"
SHOWN = ("web-1 [/] \\x9b2J\\u202e",)  # what the responder must see instead


def plant(ec2: Any, instance_id: str) -> None:
    """What the instance's own role may do: rewrite its tags."""
    ec2.create_tags(Resources=[instance_id], Tags=[
        {"Key": "Name", "Value": NAME}, {"Key": "Owner", "Value": OTHER},
        {"Key": f"team [/] {C1_CSI}", "Value": "[link=http://x]y"}])


def assert_plain(out: str, err: str) -> None:
    both = out + err
    assert not any(c in both for c in ("\x1b", "\x07", "\x9b", RLO))
    for shown in SHOWN:
        assert shown in both, both[-3000:]


def group_id(ec2: Any, vpc: str, name: str) -> str:
    found = ec2.describe_security_groups(Filters=[
        {"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": [name]}])
    return str(found["SecurityGroups"][0]["GroupId"])


def assert_isolated(ec2: Any, scenario: WebCompromise) -> None:
    iso = group_id(ec2, scenario.vpc_id, "ircli-isolation-endpoints")
    assert eni_groups(ec2, scenario.suspect_enis) == {e: [iso] for e in scenario.suspect_enis}


def case_ids(home: Path) -> list[str]:
    return sorted(p.parent.name for p in (home / "cases").glob("*/case.json"))


@pytest.fixture
def web(clients: Any) -> WebCompromise:
    scenario = seed_web_compromise(clients, REGION)
    plant(clients("ec2"), scenario.suspect)
    return scenario


def test_escape_controls_writes_every_control_out() -> None:
    assert escape_controls(TITLE + CLEAR) == "\\x1b]0;pwned\\x07\\x1b[2J"
    assert escape_controls("a\nb\tc\r\x7f\x9b\u202e") == "a\\nb\\tc\\r\\x7f\\x9b\\u202e"
    assert escape_controls("web-1 [/] ünïcode ✓") == "web-1 [/] ünïcode ✓"
    assert plain("[bold]x[/]", styled("ok", "green")).plain == "[bold]x[/]ok"


def test_contain_isolates_an_instance_named_like_markup(capsys: Any, clients: Any,
                                                        web: WebCompromise,
                                                        aws_env: Path) -> None:
    result = ircli(capsys, "contain", web.suspect, "--yes", json_output=False)
    assert result.code == 0, result.err
    assert_isolated(clients("ec2"), web)
    [case_id] = case_ids(aws_env)
    assert f"Case:       {case_id}" in result.out
    assert_plain(result.out, result.err)

    shown = ircli(capsys, "case", "show", case_id, json_output=False)
    assert shown.code == 0, shown.err
    assert_plain(shown.out, shown.err)
    listed = ircli(capsys, "case", "list", json_output=False)
    assert listed.code == 0 and "contained" in listed.out


def test_dry_run_plan_with_hostile_tags_renders(capsys: Any, web: WebCompromise,
                                                aws_env: Path) -> None:
    result = ircli(capsys, "contain", web.suspect, "--dry-run", json_output=False)
    assert result.code == 0, result.err
    assert "PLAN" in result.out
    assert_plain(result.out, result.err)
    assert not (aws_env / "cases").exists()


def test_json_output_stays_one_valid_document(capsys: Any, web: WebCompromise) -> None:
    result = ircli(capsys, "contain", web.suspect, "--yes")
    assert result.code == 0, result.err
    assert result.data["instance_name"] == NAME  # the record keeps the exact value
    assert "\x1b" not in result.out  # json.dumps wrote \u001b


def test_runbook_run_isolates(capsys: Any, clients: Any, web: WebCompromise, aws_env: Path,
                              collect_stand_in: Any) -> None:
    result = ircli(capsys, "runbook", "run", "ec2-compromise", "--target", web.suspect, "--yes",
                   json_output=False)
    assert result.code == 0, result.err
    assert_isolated(clients("ec2"), web)
    assert len(case_ids(aws_env)) == 1
    assert_plain(result.out, result.err)


def hostile_finding(tmp_path: Path, instance_id: str) -> Path:
    """The ec2-compromise sample, with attacker-shaped fields (names it registered, tags)."""
    finding = json.loads((FINDINGS / "ec2-compromise.json").read_text())
    details = finding["resource"]["instanceDetails"]
    details["instanceId"] = instance_id
    details["tags"] = [{"key": "Name", "value": NAME}]
    remote = finding["service"]["action"]["networkConnectionAction"]["remoteIpDetails"]
    remote["organization"]["asnOrg"] = f"Bulletproof [/] {TITLE}"
    remote["city"]["cityName"] = f"[bold red]x {CLEAR}"
    finding["title"] = finding["description"] = f"web-1 [/] {TITLE}"
    path = tmp_path / "hostile-finding.json"
    path.write_text(json.dumps(finding))
    return path


def test_triage_execute_isolates(capsys: Any, clients: Any, web: WebCompromise, aws_env: Path,
                                 tmp_path: Path, collect_stand_in: Any,
                                 cli_clock: Any) -> None:
    path = hostile_finding(tmp_path, web.suspect)
    result = ircli(capsys, "triage", str(path), "--execute", "--yes", json_output=False)
    assert result.code == 0, result.err
    assert_isolated(clients("ec2"), web)
    assert len(case_ids(aws_env)) == 1
    assert_plain(result.out, result.err)
    assert "Bulletproof [/] \\x1b]0;pwned\\x07" in result.out
    assert "[bold red]x \\x1b[2J" in result.out


def test_collect_from_a_hostile_instance(cli: RunCli, lab: Lab) -> None:
    plant(lab.clients("ec2"), lab.suspect)
    lab.agent()
    code, out, err = cli("collect", lab.suspect, "--yes", "--case-id", "ir-h1", *FAST)
    assert code == 0, err
    assert (lab.case("ir-h1") / "case.json").exists()
    assert_plain(out, err)


def test_a_hostile_host_reply_is_shown_as_text(cli: RunCli, lab: Lab) -> None:
    """Root on the host answers the collection itself, its result line full of escapes (SSM
    carries JSON, so ESC arrives intact): the run ends as documented, the text stays text."""
    plant(lab.clients("ec2"), lab.suspect)
    lab.agent(run=False)  # registered with SSM; what answers is the attacker
    ssm = lab.clients("ssm")

    def answer() -> None:
        for command in ssm.list_commands()["Commands"]:
            line = json.dumps({"status": "partial", "files": CLEAR, "host": f"[/] {TITLE}",
                               "steps_ok": "[bold red]x", "upload_http": "200",
                               "upload_error": TITLE})
            report_to_moto(DEFAULT_ACCOUNT, REGION, command["CommandId"], lab.suspect, {
                "Status": "Success", "StatusDetails": "Success", "ResponseCode": 2,
                "StandardOutputContent": line, "StandardErrorContent": f"{TITLE}{CLEAR}"})

    lab.clock.after_agent.append(answer)
    code, out, err = cli("collect", lab.suspect, "--yes", "--case-id", "ir-h3", *FAST)
    assert code == 5, err  # not collected: nothing verified came back (not a crash, not 1)
    assert (lab.case("ir-h3") / "case.json").exists()
    both = out + err
    assert "\x1b" not in both and "\x07" not in both
    assert "Collector:  partial, \\x1b[2J files; sections ok [bold red]x" in out


def test_contain_collect_from_a_hostile_instance(cli: RunCli,
                                                 contain_lab: Lab) -> None:
    assert contain_lab.scenario is not None
    plant(contain_lab.clients("ec2"), contain_lab.suspect)
    contain_lab.agent()
    code, out, err = cli("contain", contain_lab.suspect, "--yes", "--no-snapshot",
                         "--case-id", "ir-h2")
    assert code == 0, err
    assert_isolated(contain_lab.clients("ec2"), contain_lab.scenario)
    assert_plain(out, err)


# -- a display that fails never ends the run -----------------------------------------------
def test_a_raising_progress_callback_does_not_stop_the_engine(clients: Any,
                                                              web: WebCompromise) -> None:
    def broken(kind: str, data: dict[str, Any]) -> None:
        raise RuntimeError("renderer bug")

    result = contain(AwsSession(AwsSettings()), FakeClock(), ContainOptions(web.suspect),
                     emit=broken)
    assert result.exit_code == ExitCode.OK and result.data["status"] == "contained"
    assert_isolated(clients("ec2"), web)
    assert any("progress display failed" in w for w in result.data["warnings"])


def test_the_cli_logs_a_failing_display_and_goes_on(capsys: Any, clients: Any,
                                                    web: WebCompromise,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: Any, kind: str, data: dict[str, Any]) -> None:
        raise RuntimeError(f"renderer bug {TITLE}")

    def broken_line(data: dict[str, Any]) -> str:
        raise RuntimeError("summary bug")

    monkeypatch.setattr("ircli.cli.render.Progress.__call__", broken)
    monkeypatch.setattr("ircli.cli.render._target_line", broken_line)
    result = ircli(capsys, "contain", web.suspect, "--yes", json_output=False)
    assert result.code == 0, result.err
    assert_isolated(clients("ec2"), web)
    assert result.err.count("could not show progress") == 2  # once per distinct failure
    assert "\x1b" not in result.err
    assert "could not render the result" in result.err
    fallback = result.out[result.out.index("{"):]
    assert json.loads(fallback)["status"] == "contained"  # the result, as JSON


def test_never_fatal_and_show_swallow_only_display_errors(capsys: Any) -> None:
    calls: list[str] = []

    def emit(kind: str, data: dict[str, Any]) -> None:
        calls.append(kind)
        raise ValueError("x")

    never_fatal(emit)("step-end", {})
    assert calls == ["step-end"]
    show(render_run, GlobalOptions(), {"command": "contain", "status": "contained",
                                       "steps": [], "instance_id": "i-1", "region": REGION,
                                       "instance_name": NAME})
    out = capsys.readouterr().out
    assert "\x9b" not in out and SHOWN[0] in out
