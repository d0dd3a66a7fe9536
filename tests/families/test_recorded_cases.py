"""A case recorded before the family steps shared ``ResourceChange`` still releases.

Each case here is written by hand, in the record layout cases on responders' machines
already hold (``before`` keys ``bucket``/``configuration``, ``function``/``reserved``,
``trail``/``selectors``); the emulator is put in the contained state, and release must
bring back exactly what the record says, judged on the AWS end state.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest

from ircli.core.case import open_case
from tests.fakes import FakeClock
from tests.helpers import ircli

ALL_BLOCKED = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
               "RestrictPublicBuckets": True}


def _write_case(target: str, steps: dict[str, Any]) -> None:
    case = open_case("case-old", FakeClock().now())
    case.data["targets"][target] = {
        "status": "contained", "pre_state": {}, "recorded_at": "2026-11-30T03:00:00Z",
        "steps": {name: {"before": before, "status": "done", "at": "2026-11-30T03:00:01Z"}
                  for name, before in steps.items()}}
    case.save()


def _released(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    released = ircli(capsys, "release", *args, "--yes")
    assert released.code == 0, released.err
    assert released.data["status"] == "released", released.data["steps"]
    return dict(released.data)


@pytest.mark.parametrize("recorded", [None, {"BlockPublicAcls": True, "IgnorePublicAcls": False,
                                             "BlockPublicPolicy": False,
                                             "RestrictPublicBuckets": False}])
def test_a_recorded_public_access_block_comes_back(capsys, clients, cli_clock, aws_env,
                                                   recorded) -> None:
    s3 = clients("s3")
    s3.create_bucket(Bucket="old-case-bucket")
    s3.put_public_access_block(Bucket="old-case-bucket",
                               PublicAccessBlockConfiguration=ALL_BLOCKED)  # as contained
    _write_case("bucket/old-case-bucket", {"bucket-public-access-block": {
        "bucket": "old-case-bucket", "configuration": recorded}})
    _released(capsys, "--bucket", "old-case-bucket")
    if recorded is None:
        with pytest.raises(s3.exceptions.ClientError, match="NoSuchPublicAccessBlock"):
            s3.get_public_access_block(Bucket="old-case-bucket")
    else:
        assert s3.get_public_access_block(Bucket="old-case-bucket")[
            "PublicAccessBlockConfiguration"] == recorded


def _function(clients: Any) -> Any:
    role = clients("iam").create_role(RoleName="old-case-exec", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 1\n")
    fn = clients("lambda")
    fn.create_function(FunctionName="old-case-fn", Runtime="python3.12", Role=role,
                       Handler="app.handler", Code={"ZipFile": code.getvalue()})
    fn.put_function_concurrency(FunctionName="old-case-fn",
                                ReservedConcurrentExecutions=0)  # as contained
    return fn


@pytest.mark.parametrize("recorded", [None, 7])
def test_a_recorded_concurrency_comes_back(capsys, clients, cli_clock, aws_env,
                                           recorded) -> None:
    fn = _function(clients)
    _write_case("function/old-case-fn", {"function-concurrency-zero": {
        "function": "old-case-fn", "reserved": recorded}})
    _released(capsys, "--function", "old-case-fn")
    assert fn.get_function_concurrency(FunctionName="old-case-fn").get(
        "ReservedConcurrentExecutions") == recorded


def test_recorded_trail_selectors_come_back(capsys, clients, cli_clock, aws_env) -> None:
    clients("s3").create_bucket(Bucket="old-case-trail-logs")
    trail = clients("cloudtrail")
    trail.create_trail(Name="old-case-trail", S3BucketName="old-case-trail-logs")
    narrowed = [{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True,
                 "DataResources": [], "ExcludeManagementEventSources": []}]
    _write_case("trail/old-case-trail", {"restore-trail-selectors": {
        "trail": "old-case-trail", "selectors": {"EventSelectors": narrowed}}})
    data = _released(capsys, "--trail", "old-case-trail")
    selectors = trail.get_event_selectors(TrailName="old-case-trail")["EventSelectors"]
    assert [(s["ReadWriteType"], s["IncludeManagementEvents"]) for s in selectors] == [
        ("ReadOnly", True)]
    assert any("management writes stop being logged" in w for w in data["warnings"])


def test_release_of_a_bucket_no_case_records_is_refused(capsys, clients, cli_clock,
                                                        aws_env) -> None:
    clients("s3").create_bucket(Bucket="never-contained")
    refused = ircli(capsys, "release", "--bucket", "never-contained", "--yes")
    assert refused.code == 2
    assert "bucket/never-contained was never contained by ircli" in refused.err
    assert "Traceback" not in refused.err
    typo = ircli(capsys, "release", "--bucket", "never-contained", "--yes",
                 "--case-id", "no-such-case")
    assert typo.code == 2 and "There is no case 'no-such-case'" in typo.err
    assert not (aws_env / "cases" / "no-such-case").exists()  # refused, not opened empty
    _write_case("bucket/other-bucket", {"bucket-public-access-block": {
        "bucket": "other-bucket", "configuration": None}})
    wrong = ircli(capsys, "release", "--bucket", "never-contained", "--yes",
                  "--case-id", "case-old")
    assert wrong.code == 2
    assert "Case case-old has no containment record for bucket/never-contained" in wrong.err
