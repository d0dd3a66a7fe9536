"""Runbook files: every shipped one validates; broken ones fail naming the file, line and fix."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest

from ircli.core.engine import RunContext
from ircli.core.step import STEPS, Step, StepPlan
from ircli.runbook.library import all_runbooks, get_runbook
from ircli.runbook.loader import load_runbook
from ircli.runbook.model import RunbookInvalid
from ircli.runbook.schema import step_schema
from ircli.steps.isolate import Isolate
from ircli.steps.nacl import BlockIp
from tests.helpers import ircli
from tests.runbooks.conftest import SHIPPED, write

SHIPPED_NAMES = ["assumed-role-compromise", "cloudtrail-tampering", "crypto-mining",
                 "ec2-compromise", "iam-key-compromise", "instance-credential-exfiltration",
                 "kubernetes-workload", "lambda-compromise", "rds-compromise", "s3-exfiltration",
                 "s3-exposure", "ssh-brute-force"]


@pytest.mark.parametrize("name", SHIPPED_NAMES)
def test_every_shipped_runbook_validates_against_the_real_registry(name: str) -> None:
    runbook = load_runbook(SHIPPED / f"{name}.yaml", "shipped")
    assert runbook.errors == []


def test_shipped_runbooks_validate_with_collect() -> None:
    runbooks = all_runbooks()
    assert [r.name for r in runbooks] == SHIPPED_NAMES
    assert {r.name: [str(e) for e in r.errors] for r in runbooks} == \
        {name: [] for name in SHIPPED_NAMES}
    by_name = {r.name: r for r in runbooks}
    assert "collect" in [s.name for s in by_name["ec2-compromise"].steps]
    assert [s.name for s in by_name["crypto-mining"].steps][-3:] == ["collect", "snapshot",
                                                                     "notify"]


def test_validate_command_over_the_shipped_runbooks(capsys) -> None:
    result = ircli(capsys, "runbook", "validate")
    assert result.code == 0, result.out
    assert result.data["valid"] is True
    assert len(result.data["runbooks"]) == len(SHIPPED_NAMES)


def test_unknown_step_names_file_line_and_the_fix(tmp_path: Path) -> None:
    path = write(tmp_path, "typo", """\
name: typo
description: A runbook with a typo.
target: instance
steps:
  - protect
  - step: isolat
""")
    runbook = load_runbook(path)
    [error] = runbook.errors
    assert (error.path, error.line) == (path, 6)
    assert error.message == "unknown step 'isolat'."
    assert "did you mean 'isolate'?" in error.fix
    with pytest.raises(RunbookInvalid) as raised:
        runbook.require_valid()
    assert raised.value.message.startswith(f"{path}:6: unknown step 'isolat'")


def test_unknown_keys_at_the_top_in_a_step_and_in_arguments(tmp_path: Path) -> None:
    path = write(tmp_path, "keys", """\
name: keys
description: Unknown keys everywhere.
target: instance
finding_type: ["Backdoor:EC2/*"]
steps:
  - step: snapshot
    with: {wait: true}
  - step: isolate
    args:
      ssm_egres: any
""")
    errors = {e.line: e for e in load_runbook(path).errors}
    assert set(errors) == {4, 7, 10}
    assert errors[4].message == "unknown key 'finding_type' in the runbook."
    assert "did you mean 'finding_types'?" in errors[4].fix
    assert errors[7].message == "unknown key 'with' in a step."
    assert errors[10].message == "unknown argument 'ssm_egres' in the arguments of isolate."
    assert "ssm_egress ('endpoints' | 'any' | 'none')" in errors[10].fix


def test_wrong_types_name_the_value_line(tmp_path: Path) -> None:
    path = write(tmp_path, "types", """\
name: types
description: Wrong types.
target: instance
steps:
  - step: isolate
    args:
      ssm_egress: everywhere
  - step: snapshot
    args:
      enabled: "yes"
      wait: 1
""")
    errors = {e.line: e.message for e in load_runbook(path).errors}
    assert errors == {
        7: "isolate: ssm_egress must be one of 'endpoints', 'any', 'none'.",
        10: "snapshot: enabled must be a boolean, not the string 'yes'.",
        11: "snapshot: wait must be a boolean, not the number 1.",
    }


def test_step_refusing_its_arguments_is_a_load_error(tmp_path: Path) -> None:
    path = write(tmp_path, "hours", """\
name: hours
description: Blocks forever.
target: ip
steps:
  - step: block-ip
    args: {hours: 0}
""")
    [error] = load_runbook(path).errors
    assert error.line == 5 and "hours must be between 1 and 8760" in error.message


@dataclasses.dataclass
class _Registered:
    name: str


@pytest.fixture
def step_with_required_arg() -> Iterator[str]:
    """A registered step whose argument has no default, usable in instance runbooks."""

    class NeedsArg(Step):
        """Test step with a required argument."""

        name = "needs-arg"
        title = "Needs an argument"
        permissions = ()
        runbook_targets = ("instance",)

        def __init__(self, minutes: int, mode: Literal["a", "b"] = "a") -> None:
            self.minutes, self.mode = minutes, mode

        def plan(self, ctx: RunContext) -> StepPlan:
            return StepPlan()

    STEPS[NeedsArg.name] = NeedsArg
    try:
        yield NeedsArg.name
    finally:
        STEPS.pop(NeedsArg.name)


def test_missing_argument_names_the_step_line(tmp_path: Path, step_with_required_arg: str
                                              ) -> None:
    path = write(tmp_path, "missing", """\
name: missing
description: Forgets an argument.
target: instance
steps:
  - protect
  - step: needs-arg
    args:
      mode: b
  - needs-arg
""")
    errors = [(e.line, e.message, e.fix) for e in load_runbook(path).errors]
    assert errors[0] == (6, "step 'needs-arg' needs the argument 'minutes' (integer).",
                         "Add `args: {minutes: ...}` to the step.")
    assert [(line, message.split(" (")[0]) for line, message, _fix in errors[1:]] == [
        (9, "step 'needs-arg' needs the argument 'minutes'"),
        (9, "step 'needs-arg' appears twice")]
    ok = write(tmp_path, "ok", "name: ok\ndescription: d\ntarget: instance\nsteps:\n"
                               "  - step: needs-arg\n    args: {minutes: 5}\n")
    assert load_runbook(ok).errors == []


def test_missing_top_level_keys_and_step_key(tmp_path: Path) -> None:
    path = write(tmp_path, "bare", """\
name: bare
steps:
  - args: {wait: true}
""")
    errors = [(e.line, e.message) for e in load_runbook(path).errors]
    assert (1, "the runbook has no 'description'.") in errors
    assert (1, "the runbook has no 'target'.") in errors
    assert (3, "a step has no 'step' key.") in errors


def test_kind_rules_preamble_and_wrong_kind(tmp_path: Path) -> None:
    path = write(tmp_path, "kinds", """\
name: kinds
description: Steps that do not belong.
target: ip
steps:
  - resolve-network
  - isolate
  - block-ip
""")
    errors = {e.line: e for e in load_runbook(path).errors}
    assert set(errors) == {5, 6}
    assert "always runs first" in errors[5].message and errors[5].fix == "Remove this step."
    assert errors[6].message == ("step 'isolate' does not fit a ip runbook: it acts on EC2 "
                                 "instance targets.")


def test_yaml_syntax_error_and_name_mismatch(tmp_path: Path) -> None:
    broken = write(tmp_path, "broken", "name: broken\nsteps:\n  - isolate\n  - {step: tag\n")
    [error] = load_runbook(broken).errors
    assert error.line == 5 and error.message.startswith("not valid YAML")
    tagged = write(tmp_path, "tagged", "name: tagged\ndescription: d\ntarget: ip\n"
                                       "steps:\n  - !!python/name:os.system\n")
    [error] = load_runbook(tagged).errors
    assert error.line == 5 and error.message.startswith("not a plain YAML value")
    other = write(tmp_path, "file-name", "name: other-name\ndescription: d\ntarget: ip\n"
                                         "steps: [block-ip]\n")
    [error] = load_runbook(other).errors
    assert error.line == 1 and "does not match the file name" in error.message


def test_finding_type_entries(tmp_path: Path) -> None:
    path = write(tmp_path, "patterns", """\
name: patterns
description: Finding types.
target: ip
finding_types:
  - "UnauthorizedAccess:EC2/SSHBruteForce"
  - type: "UnauthorizedAccess:EC2/RDPBruteForce"
    resource_role: VICTIM
  - not a type
steps: [block-ip]
""")
    runbook = load_runbook(path)
    assert [(e.line, e.message.split(" ")[0]) for e in runbook.errors] == [
        (7, "resource_role"), (8, "'not")]
    assert [p.pattern for p in runbook.finding_types] == [
        "UnauthorizedAccess:EC2/SSHBruteForce", "UnauthorizedAccess:EC2/RDPBruteForce"]


def test_validate_cli_names_file_and_line(capsys, tmp_path: Path) -> None:
    path = write(tmp_path, "bad", "name: bad\ndescription: d\ntarget: instance\n"
                                  "steps:\n  - isolate\n  - snapshots\n")
    result = ircli(capsys, "runbook", "validate", str(path), json_output=False)
    assert result.code == 2
    assert f"{path}:6: unknown step 'snapshots'." in result.out
    assert "did you mean 'snapshot'?" in result.out
    good = write(tmp_path, "good", "name: good\ndescription: d\ntarget: instance\n"
                                   "steps:\n  - isolate\n")
    assert ircli(capsys, "runbook", "validate", str(good)).code == 0


def test_schema_comes_from_the_declaration() -> None:
    isolate = step_schema(Isolate)
    assert isolate.description.startswith("Move every ENI behind the isolation group")
    assert isolate.args["ssm_egress"].choices == ("endpoints", "any", "none")
    assert isolate.args["analyst_sg"].nullable and not isolate.args["analyst_sg"].required
    block = step_schema(BlockIp)
    assert (block.args["hours"].type, block.args["hours"].default) == ("integer", 24)
    assert block.args["hours"].description.startswith("how long the block lasts")
    assert step_schema(STEPS["disable-keys"]).args["key_ids"].type == "list[string]"


def test_user_directory_adds_and_replaces(tmp_path: Path, monkeypatch, capsys) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    write(mine, "ssh-brute-force", "name: ssh-brute-force\ndescription: Block for a week.\n"
                                   "target: ip\nsteps:\n  - step: block-ip\n"
                                   "    args: {hours: 168}\n")
    write(mine, "extra", "name: extra\ndescription: Mine.\ntarget: instance\nsteps: [tag]\n")
    monkeypatch.setenv("IRCLI_RUNBOOKS_DIR", str(mine))
    replaced = get_runbook("ssh-brute-force")
    assert replaced.source == "user" and replaced.steps[0].args == {"hours": 168}
    assert replaced.overrides == SHIPPED / "ssh-brute-force.yaml"
    listed = ircli(capsys, "runbook", "list").data["runbooks"]
    assert {r["name"]: r["source"] for r in listed}["extra"] == "user"
    shown = ircli(capsys, "runbook", "show", "extra", "--runbooks-dir", str(mine)).data
    assert shown["preamble"] == ["resolve", "record"]
    missing = ircli(capsys, "runbook", "list", "--runbooks-dir", str(tmp_path / "nope"))
    assert missing.code == 2 and "does not exist" in missing.err
