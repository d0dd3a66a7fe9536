"""Ordinary situations get one sentence and their exit code, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from botocore.parsers import ResponseParserError

from ircli.core.awserrors import translate
from ircli.core.errors import ServiceUnreachable

pytestmark = pytest.mark.e2e


def _one_sentence(result: Any) -> str:
    assert "Traceback" not in result.stderr and "bug in ircli" not in result.stderr, \
        result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("ircli: error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def test_unknown_region_is_named(ircli: Any, endpoint: str) -> None:
    result = ircli("--region", "us-east-9", "contain", "i-0123456789abcdef0", "--dry-run")
    assert result.code == 2, result.stdout + result.stderr
    assert "'us-east-9' is not an AWS region" in _one_sentence(result)
    assert "<html" not in result.stdout + result.stderr


def test_a_known_region_is_not_refused(ircli: Any, endpoint: str) -> None:
    result = ircli("--region", "eu-west-1", "contain", "i-0123456789abcdef0", "--dry-run")
    assert result.code == 2
    assert "was not found in region eu-west-1" in _one_sentence(result)



def test_verify_on_a_bucket_that_does_not_exist(ircli: Any, server_clients: Any) -> None:
    result = ircli("evidence", "verify", "ir-20260101-000000-abcd", "--evidence-bucket",
                   "no-such-evidence-bucket")
    assert result.code == 2, result.stderr
    assert "evidence bucket no-such-evidence-bucket does not exist" in _one_sentence(result)


@pytest.fixture
def listing_obeys_bucket_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shim: moto 5.2.5 applies a bucket policy's Deny to object requests only (a bare 403)
    and lists a denied bucket's versions anyway; AWS refuses ListObjectVersions with
    AccessDenied. The server runs in this process, so its listing is patched here."""
    from moto.iam.access_control import PermissionResult
    from moto.s3.exceptions import AccessDeniedByLock  # moto's AccessDenied / "Access Denied"
    from moto.s3.responses import S3Response

    listing = S3Response.list_object_versions

    def list_object_versions(self: Any) -> Any:
        bucket = self.backend.get_bucket(self.bucket_name)
        if bucket.get_permission("s3:ListBucketVersions", f"arn:aws:s3:::{bucket.name}") \
                == PermissionResult.DENIED:
            raise AccessDeniedByLock()
        return listing(self)

    monkeypatch.setattr(S3Response, "list_object_versions", list_object_versions)


@pytest.mark.usefixtures("listing_obeys_bucket_policy")
def test_verify_on_a_bucket_that_answers_403(ircli: Any, server_clients: Any) -> None:
    # another team's bucket: its policy denies everyone (AWS answers AccessDenied to its
    # listing, the first thing verify asks)
    s3 = server_clients("s3")
    s3.create_bucket(Bucket="someone-elses-bucket")
    s3.put_bucket_policy(Bucket="someone-elses-bucket", Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": ["arn:aws:s3:::someone-elses-bucket",
                         "arn:aws:s3:::someone-elses-bucket/*"]}]}))
    result = ircli("evidence", "verify", "ir-20260101-000000-abcd", "--evidence-bucket",
                   "someone-elses-bucket")
    assert result.code == 2, result.stderr
    assert "may not list s3://someone-elses-bucket/cases/ir-20260101-000000-abcd/" \
        in _one_sentence(result)
    json_result = ircli("evidence", "verify", "ir-20260101-000000-abcd", "--evidence-bucket",
                        "someone-elses-bucket", "-o", "json")
    assert json_result.code == 2
    assert json.loads(json_result.stdout)["error"]["type"] == "AccessDenied"


# click.echo, rich; the bucket is named, or `policy` rightly warns on stderr that it is not
@pytest.mark.parametrize("args", [("policy", "--evidence-bucket", "ir-evidence"),
                                  ("runbook", "list")])
def test_output_into_a_closed_pipe_exits_quietly(args: tuple[str, ...]) -> None:
    """`ircli … | head`: the reader left; exit 141 (as if killed by SIGPIPE), say nothing."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before ircli writes a byte
    try:
        proc = subprocess.run([sys.executable, "-m", "ircli", *args], stdout=write_end,
                              stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                              timeout=120)
    finally:
        os.close(write_end)
    assert (proc.returncode, proc.stderr) == (141, "")


def test_an_html_page_instead_of_an_aws_answer_is_not_a_bug() -> None:
    err = translate(ResponseParserError("invalid XML received: b'<!doctype html>'"))
    assert isinstance(err, ServiceUnreachable) and "not an AWS API response" in err.message
