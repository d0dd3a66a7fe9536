"""compile_runbook: every shipped runbook compiles, or is refused naming the step and why."""

from __future__ import annotations

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
