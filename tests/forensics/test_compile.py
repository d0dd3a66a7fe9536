"""The forensics copy in a compiled runbook: nothing without [forensics], as on the CLI; with
one, the copy's states (for a machine in the forensics region), and a refusal by name when the
configuration is incomplete or the machine is known to run in another region."""

from __future__ import annotations

import json

import pytest

from ircli.automation.compiler import compile_runbook
from ircli.core.step import NotCompilable
from ircli.forensics.settings import ForensicsSettings
from ircli.runbook.library import get_runbook

ARGS = {"bucket": "evidence", "topic_arn": "arn:aws:sns:us-east-1:111111111111:ircli"}
KEY = "arn:aws:kms:us-east-1:999999999999:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SETTINGS = ForensicsSettings("999999999999", "us-east-1", "ircli-forensics", KEY,
                             "acme-forensics-evidence")


def configured(monkeypatch: pytest.MonkeyPatch, settings: ForensicsSettings) -> None:
    for module in ("ircli.steps.forensic_copy", "ircli.automation.states_case"):
        monkeypatch.setattr(f"{module}.load_forensics", lambda strict=False: settings)


def copy_tasks(definition: dict) -> list[dict]:
    found: list[dict] = []

    def walk(states: dict) -> None:
        for state in states.values():
            if state.get("Resource", "").endswith(":ec2:copySnapshot"):
                found.append(state)
            if "ItemProcessor" in state:
                walk(state["ItemProcessor"]["States"])

    walk(definition["States"])
    return found


def test_without_a_forensics_account_the_copy_compiles_to_nothing() -> None:
    compiled = compile_runbook(get_runbook("ec2-compromise"), **ARGS)
    assert copy_tasks(compiled.definition) == []
    assert "share_forensic_copies" not in json.dumps(compiled.definition)


def test_with_a_forensics_account_the_copy_is_compiled_under_its_key(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from statelint.linter import Linter

    configured(monkeypatch, SETTINGS)
    compiled = compile_runbook(get_runbook("ec2-compromise"), **ARGS, region="us-east-1")
    (copy,) = copy_tasks(compiled.definition)
    assert copy["Parameters"]["Encrypted"] is True and copy["Parameters"]["KmsKeyId"] == KEY
    assert Linter.validate(compiled.definition) == []
    text = json.dumps(compiled.definition)
    assert ":lambda:" not in text and '"GroupNames": ["all"]' in text  # only ever removed
    shares = [s for s in text.split('"OperationType": "add"')[1:]]
    assert shares and all('"UserIds": ["999999999999"]' in s[:200] for s in shares)
    # a machine whose region is not known (a template) carries the region check itself
    where = compiled.definition["States"]["share_forensic_copies.Where"]
    assert where["Choices"][0]["StringEquals"] == "us-east-1"


def test_an_incomplete_forensics_configuration_is_refused_by_name(
        monkeypatch: pytest.MonkeyPatch) -> None:
    configured(monkeypatch, ForensicsSettings("999999999999", "us-east-1"))
    with pytest.raises(NotCompilable) as raised:
        compile_runbook(get_runbook("ec2-compromise"), **ARGS)
    assert raised.value.step == "share-forensic-copies"
    assert "kms_key is not set" in raised.value.why


def test_a_machine_known_to_run_elsewhere_is_refused_by_name(
        monkeypatch: pytest.MonkeyPatch) -> None:
    configured(monkeypatch, SETTINGS)
    with pytest.raises(NotCompilable) as raised:
        compile_runbook(get_runbook("ec2-compromise"), **ARGS, region="eu-west-1")
    assert raised.value.step == "share-forensic-copies"
    assert "deploy the machine in us-east-1" in raised.value.why


def test_the_case_keys_have_the_account_in_front_only_in_the_forensics_bucket(
        monkeypatch: pytest.MonkeyPatch) -> None:
    configured(monkeypatch, SETTINGS)
    own = json.dumps(compile_runbook(get_runbook("ec2-compromise"), **ARGS).definition)
    central = json.dumps(compile_runbook(get_runbook("ec2-compromise"), **{
        **ARGS, "bucket": SETTINGS.bucket}).definition)
    assert "'cases/{}/{}/" not in own and "'cases/{}/case.json', $.ircli.case_id" in own
    assert "'cases/{}/" not in central.replace("'cases/{}/{}/", "")
    assert "'cases/{}/{}/case.json', $.ircli.account, $.ircli.case_id" in central
    assert "'cases/{}/{}/audit/0000{}{}.json', $.ircli.account, $.ircli.case_id" in central
    assert "'cases/{}/{}/failure.json', $.ircli.account" in central


def test_deploying_outside_the_forensics_region_is_refused_before_anything_is_made(
        monkeypatch: pytest.MonkeyPatch, moto_aws: None) -> None:
    from ircli.core.session import AwsSession, AwsSettings
    from ircli.ops.automation import deploy_spec

    configured(monkeypatch, SETTINGS)
    with pytest.raises(NotCompilable) as raised:
        deploy_spec(AwsSession(AwsSettings(region="eu-west-1")), get_runbook("ec2-compromise"),
                    7, "evidence")
    assert raised.value.step == "share-forensic-copies"
    here = deploy_spec(AwsSession(AwsSettings(region="us-east-1")),
                       get_runbook("ec2-compromise"), 7, "evidence")
    assert "share_forensic_copies.Copy" in here.definition["States"]
