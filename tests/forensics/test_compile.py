"""The forensics copy in a compiled runbook: nothing without [forensics], as on the CLI; with
one, compiling refuses by name rather than deploy a machine that keeps the evidence behind."""

from __future__ import annotations

import pytest

from ircli.automation.compiler import compile_runbook
from ircli.core.step import NotCompilable
from ircli.runbook.library import get_runbook

ARGS = {"bucket": "evidence", "topic_arn": "arn:aws:sns:us-east-1:111111111111:ircli"}


def test_without_a_forensics_account_the_copy_compiles_to_nothing() -> None:
    compiled = compile_runbook(get_runbook("ec2-compromise"), **ARGS)
    assert not any("CopySnapshot" in str(state) or "copySnapshot" in str(state)
                   for state in compiled.definition["States"].values())


def test_with_a_forensics_account_compiling_names_the_step(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ircli.steps.forensic_copy.load_forensics",
                        lambda strict=False: object())
    with pytest.raises(NotCompilable) as raised:
        compile_runbook(get_runbook("ec2-compromise"), **ARGS)
    assert raised.value.step == "share-forensic-copies"
