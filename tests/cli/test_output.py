"""Speaks the AWS CLI's language: --query, -o json|yaml|table, IRCLI_OUTPUT and the config
file's default, --endpoint-url; attacker-written text stays plain text in every format."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from ircli.cli.output import format_document, plain
from tests.conftest import REGION
from tests.helpers import ircli

EVIL = "i-0abc\x1b]0;pwned\x07\x1b[2J\u202e"  # a target name carrying terminal escapes


def make_case(home: Path, case_id: str, created: str, target: str = "i-0123456789abcdef0",
              status: str = "contained") -> None:
    path = home / "cases" / case_id
    path.mkdir(parents=True)
    (path / "case.json").write_text(json.dumps({
        "case_id": case_id, "created_at": created,
        "targets": {target: {"status": status, "steps": {}}}}))


@pytest.fixture
def cases(aws_env: Path) -> Path:
    make_case(aws_env, "ir-1", "2026-12-01T09:00:00Z")
    make_case(aws_env, "ir-2", "2026-12-01T10:00:00Z", target=EVIL, status="released")
    return aws_env


def run(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    return ircli(capsys, *args, json_output=False)


def test_query_selects_from_the_result_document_and_implies_json(
        capsys: pytest.CaptureFixture[str], cases: Path) -> None:
    outcome = run(capsys, "case", "list", "--query", "cases[].case_id")
    assert outcome.code == 0
    assert json.loads(outcome.out) == ["ir-2", "ir-1"]
    outcome = run(capsys, "--query", "cases[?statuses[0]=='contained'].case_id", "case", "list")
    assert json.loads(outcome.out) == ["ir-1"]


def test_a_malformed_query_is_refused_before_the_command_runs(
        capsys: pytest.CaptureFixture[str], cases: Path) -> None:
    outcome = run(capsys, "case", "list", "--query", "cases[?")
    assert outcome.code == 2
    assert "--query" in outcome.err and "JMESPath" in outcome.err
    assert outcome.out == ""
    assert "Traceback" not in outcome.err


def test_yaml_is_the_same_document_as_json(capsys: pytest.CaptureFixture[str],
                                           cases: Path) -> None:
    as_json = json.loads(run(capsys, "runbook", "list", "-o", "json").out)
    outcome = run(capsys, "runbook", "list", "-o", "yaml")
    assert outcome.code == 0
    assert yaml.safe_load(outcome.out) == as_json
    assert yaml.safe_load(run(capsys, "case", "list", "-o", "yaml").out) == json.loads(
        run(capsys, "case", "list", "-o", "json").out)


def test_yaml_escapes_what_an_attacker_wrote(capsys: pytest.CaptureFixture[str],
                                             cases: Path) -> None:
    outcome = run(capsys, "case", "list", "-o", "yaml")
    assert "\x1b" not in outcome.out and "\x07" not in outcome.out
    assert "\u202e" not in outcome.out
    listed = yaml.safe_load(outcome.out)["cases"]
    assert EVIL in listed[0]["targets"]  # the value itself is kept, only shown escaped


def test_table_lists_cases_one_row_each_with_escapes_shown(
        capsys: pytest.CaptureFixture[str], cases: Path) -> None:
    outcome = run(capsys, "case", "list", "-o", "table")
    assert outcome.code == 0
    lines = outcome.out.splitlines()
    assert any("case_id" in line and "created_at" in line for line in lines)
    rows = [line for line in lines if "ir-1" in line or "ir-2" in line]
    assert len(rows) == 2 and "ir-2" in rows[0]  # newest first, as in json
    assert "\x1b" not in outcome.out and "\x07" not in outcome.out
    assert "\\x1b" in outcome.out


def test_table_of_runbooks_and_of_a_query(capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    outcome = run(capsys, "runbook", "list", "-o", "table", "--query",
                  "runbooks[].{name: name, target: target}")
    rows = [line for line in outcome.out.splitlines() if "compromise" in line]
    assert any("ec2-compromise" in r and "instance" in r for r in rows)
    assert any("iam-key-compromise" in r and "access-key" in r for r in rows), rows


def test_ircli_output_sets_the_default_and_the_flag_wins(
        capsys: pytest.CaptureFixture[str], cases: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IRCLI_OUTPUT", "yaml")
    outcome = run(capsys, "case", "list")
    assert yaml.safe_load(outcome.out)["cases"][0]["case_id"] == "ir-2"
    assert json.loads(run(capsys, "case", "list", "-o", "json").out)["cases"]
    assert "Case" in run(capsys, "case", "list", "-o", "text").out  # the summary for people


def test_config_file_sets_the_default_below_the_environment(
        capsys: pytest.CaptureFixture[str], cases: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    (cases / "config.toml").write_text('[output]\nformat = "json"\n')
    assert json.loads(run(capsys, "case", "list").out)["cases"]
    monkeypatch.setenv("IRCLI_OUTPUT", "yaml")
    assert "cases:" in run(capsys, "case", "list").out


def test_a_wrong_default_is_refused_before_anything_runs(
        capsys: pytest.CaptureFixture[str], cases: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IRCLI_OUTPUT", "xml")
    outcome = run(capsys, "case", "list")
    assert outcome.code == 2
    assert "IRCLI_OUTPUT" in outcome.err and "table" in outcome.err
    assert "Traceback" not in outcome.err


def test_a_broken_config_file_does_not_decide_the_output(
        capsys: pytest.CaptureFixture[str], cases: Path) -> None:
    (cases / "config.toml").write_text("[output\nformat = \n")
    outcome = run(capsys, "case", "list")
    assert outcome.code == 0 and "ir-1" in outcome.out


def test_endpoint_url_sends_every_call_to_that_endpoint(
        capsys: pytest.CaptureFixture[str], moto_server: str) -> None:
    """No AWS_ENDPOINT_URL (the autouse fixture clears AWS_*): only the flag leads to the
    emulator; the documents must then exist there."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset",
                                                  method="POST")).read()
    outcome = run(capsys, "ssm-docs", "deploy", "--yes", "--endpoint-url", moto_server,
                  "-o", "json")
    assert outcome.code == 0, outcome.err
    ssm = boto3.client("ssm", region_name=REGION, endpoint_url=moto_server)
    names = {d["Name"] for d in ssm.list_documents(
        Filters=[{"Key": "Owner", "Values": ["Self"]}])["DocumentIdentifiers"]}
    assert {"ircli-linux-live-response", "ircli-windows-live-response"} <= names
    # before the command name too, and with a query on the result
    outcome = run(capsys, "--endpoint-url", moto_server, "ssm-docs", "list", "--query",
                  "documents[].matches_shipped")
    assert json.loads(outcome.out) == [True, True]


def test_plain_shows_controls_escaped_and_lists_readably() -> None:
    assert plain("a\x1bb\x9bc") == "a\\x1bb\\x9bc"
    assert plain(["x", 1, None]) == "x, 1, "
    assert plain([{"type": "T", "role": None}, {"type": "U", "role": "R"}]) == "T\nU R"
    assert plain(True) == "true" and plain(None) == ""


def test_format_document_of_scalars_and_nested_objects() -> None:
    table = format_document({"a": {"b": 1}, "rows": [{"k": "v"}]}, "table")
    assert "a.b" in table and "rows" in table and "v" in table
    assert format_document(None, "json") == "null"
    assert yaml.safe_load(format_document({"k": [1, 2]}, "yaml")) == {"k": [1, 2]}


def test_policy_stays_raw_json_for_people_and_takes_a_query(
        capsys: pytest.CaptureFixture[str]) -> None:
    raw = run(capsys, "policy").out
    assert raw.startswith('{\n  "Version"')  # as `aws iam create-policy` takes it
    sids = json.loads(run(capsys, "policy", "--query", "Statement[].Sid").out)
    assert sids == [s["Sid"] for s in json.loads(raw)["Statement"]]
