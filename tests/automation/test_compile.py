"""compile_runbook: every shipped runbook compiles, or is refused naming the step and why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ircli.automation.compiler import CompiledRunbook, NotCompilable, compile_runbook
from ircli.core.errors import ExitCode
from ircli.runbook.kinds import KINDS
from ircli.runbook.library import all_runbooks, get_runbook

TOPIC = "arn:aws:sns:us-east-1:123456789012:ircli-automation"
SHIPPED = [r.name for r in all_runbooks()]


def compiled(name: str) -> CompiledRunbook:
    return compile_runbook(get_runbook(name), bucket="evidence", topic_arn=TOPIC)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_runbook_compiles_or_names_the_step(name: str) -> None:
    runbook = get_runbook(name)
    try:
        result = compile_runbook(runbook, bucket="evidence", topic_arn=TOPIC)
    except NotCompilable as err:
        preamble = KINDS[runbook.target].preamble if runbook.target in KINDS else ()
        assert err.step in [*preamble, *(s.name for s in runbook.steps)], err.message
        assert f"'{err.step}'" in err.message and err.exit_code == ExitCode.USER
        return
    assert result.name == name and result.definition["StartAt"] in result.definition["States"]
    assert result.finding_types == [p.pattern for p in runbook.finding_types]
    assert set(result.parameters) == {"EvidenceBucket", "TopicArn"}
    assert_wired(result.definition)


def assert_wired(definition: dict) -> None:
    """Every Next/Default/Catch names a state; no compiler marker is left."""
    states = definition["States"]
    targets = []
    for state in states.values():
        targets += [state[k] for k in ("Next", "Default") if k in state]
        targets += [c["Next"] for c in state.get("Choices", []) + state.get("Catch", [])]
    missing = {t for t in targets if t not in states}
    assert not missing, missing
    assert "@" not in str([t for t in targets])


def test_a_step_without_a_step_functions_form_is_refused_by_name() -> None:
    with pytest.raises(NotCompilable) as err:
        compiled("crypto-mining")  # its `notify` step has no compiled form
    assert err.value.step == "notify" and "notify" in err.value.message


def test_a_runbook_on_a_target_no_finding_names_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NotCompilable) as err:
        compiled("iam-key-compromise")
    assert "access-key" in err.value.message


def compilable() -> list[str]:
    names = []
    for name in SHIPPED:
        try:
            compiled(name)
        except NotCompilable:
            continue
        names.append(name)
    return names


def test_the_playbooks_of_issue_14_compile() -> None:
    assert {"ec2-compromise", "ssh-brute-force"} <= set(compilable())


@pytest.mark.parametrize("name", compilable())
def test_every_compiled_definition_passes_statelint(name: str) -> None:
    """Offline check against the States Language spec (the emulator checks nothing)."""
    from statelint.linter import Linter

    assert Linter.validate(compiled(name).definition) == []


def test_statelint_is_not_a_rubber_stamp() -> None:
    broken = compiled("ssh-brute-force").definition
    broken["States"]["Init"]["Next"] = "No.Such.State"
    assert lint_problems(broken)


def lint_problems(definition: dict) -> list[str]:
    from statelint.linter import Linter

    return list(Linter.validate(definition))


def test_the_execution_role_gets_the_steps_actions_and_the_case_writes() -> None:
    actions = {a for p in compiled("ec2-compromise").actions
               for a in (p.action_list if not isinstance(p, str) else (p,))}
    assert {"ec2:ModifyNetworkInterfaceAttribute", "ec2:CreateSnapshots", "s3:PutObject",
            "sns:Publish", "iam:AttachRolePolicy"} <= actions


def test_tasks_and_arns_follow_the_partition() -> None:
    definition = compile_runbook(get_runbook("ec2-compromise"), partition="aws-cn",
                                 bucket="evidence",
                                 topic_arn="arn:aws-cn:sns:cn-north-1:123456789012:t").definition
    text = json.dumps(definition)
    assert "arn:aws:" not in text and "arn:aws-cn:states:::aws-sdk:ec2:" in text
    assert "arn:aws-cn:iam::" in text  # the role's deny policy
