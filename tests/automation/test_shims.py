"""The emulator's cost cuts (tests/automation/shims.py) change no result: a machine whose
states rewrite, merge and fan out their input runs to the same history with and without."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.automation.shims import installed, parse_once, plain_copies, state_documents_once

ROLE = "arn:aws:iam::123456789012:role/ircli-shim-test"

# Every way a state's input is read and written: a Result merged at a path, Parameters built
# from paths, a Map whose iterations build their own documents, a Choice reading one, and a
# Pass that doubles the document (past AWS's 256 KiB cap when the input is large enough); two
# states share a ResultPath (parsed once with the cuts).
MACHINE = {"StartAt": "Seed", "States": {
    "Seed": {"Type": "Pass", "Result": {"items": [1, 2, 3], "doc": {"a": 1}},
             "ResultPath": "$.seed", "Next": "Mark"},
    "Mark": {"Type": "Pass", "Result": {"n": 1}, "ResultPath": "$.mark", "Next": "Rewrite"},
    "Rewrite": {"Type": "Pass", "Parameters": {"items.$": "$.seed.items", "doc.$": "$.seed.doc",
                                               "added": "x"},
                "ResultPath": "$.rewritten", "Next": "Fan"},
    "Fan": {"Type": "Map", "ItemsPath": "$.seed.items", "ResultPath": "$.fanned",
            "ItemProcessor": {"StartAt": "Each", "States": {
                "Each": {"Type": "Pass", "Parameters": {"item.$": "$", "tag": "seen"},
                         "End": True}}},
            "Next": "MarkAgain"},
    "MarkAgain": {"Type": "Pass", "Result": {"n": 2}, "ResultPath": "$.mark", "Next": "Check"},
    "Check": {"Type": "Choice", "Choices": [
        {"Variable": "$.rewritten.added", "StringEquals": "x", "Next": "Double"}],
        "Default": "Wrong"},
    "Wrong": {"Type": "Fail", "Error": "Wrong"},
    "Double": {"Type": "Pass", "Parameters": {"one.$": "$.big", "two.$": "$.big",
                                              "fanned.$": "$.fanned"},
               "End": True}}}


def run(size: int, without: tuple[Any, ...]) -> dict[str, Any]:
    """Status, error and every state's input and output of one execution."""
    with pytest.MonkeyPatch.context() as mp, \
            mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        installed(mp, without=without)
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        machine = sfn.create_state_machine(name="shim-test", roleArn=ROLE,
                                           definition=json.dumps(MACHINE))["stateMachineArn"]
        arn = sfn.start_execution(stateMachineArn=machine,
                                  input=json.dumps({"big": "b" * size}))["executionArn"]
        described = sfn.describe_execution(executionArn=arn)
        events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    details = [(e["type"], e.get("stateEnteredEventDetails", e.get("stateExitedEventDetails")))
               for e in events]
    states = [(kind, d["name"], d.get("input", d.get("output"))) for kind, d in details
              if d is not None]
    return {"status": described["status"], "output": described.get("output"),
            "error": described.get("error"),
            "states": [s for s in states if s[1] != "Each"],
            # the Map's iterations run side by side: their events interleave in any order
            "iterations": sorted(s for s in states if s[1] == "Each")}


@pytest.mark.parametrize("size", [10, 70_000, 140_000],
                         ids=["small", "spaced-JSON-checked-exactly", "past-the-cap"])
def test_state_documents_once_changes_no_history(size: int) -> None:
    cut = run(size, without=())
    plain = run(size, without=(state_documents_once, plain_copies, parse_once))
    assert cut == plain
    assert len(cut["states"]) >= 8 and len(cut["iterations"]) == 6, cut
    if size > 100_000:  # two copies of the input exceed 256 KiB
        assert (cut["status"], cut["error"]) == ("FAILED", "States.DataLimitExceeded")
    else:
        assert cut["status"] == "SUCCEEDED", cut
        assert json.loads(cut["output"])["fanned"] == [
            {"item": i, "tag": "seen"} for i in (1, 2, 3)]
