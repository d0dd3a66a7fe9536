"""A hostile host (root on the instance, holding the one upload URL) misbehaves on upload.

The host substitute here is the attacker: it takes the presigned URL from the command ircli
sent, PUTs what it likes over plain HTTP to the emulator, and reports a result line whose
hash matches what it uploaded. ircli must not call any of it collected (exit 5).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from ircli.liveresponse.agent import report_to_moto
from ircli.liveresponse.result import archive_head_problems
from ircli.liveresponse.upload import ONCE_HEADER
from tests.collect.conftest import BUCKET, Lab, lab  # noqa: F401
from tests.evidence.conftest import RunCli, cli, cli_json  # noqa: F401


def _tar_gz(members: list[tuple[str, bytes]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


HONEST = _tar_gz([("manifest.jsonl", b'{"path": "system/uname.txt"}\n'),
                  ("collection.log", b'{"step": "system"}\n'),
                  ("system/uname.txt", b"Linux\n")])


def _put(url: str, body: bytes, *, once: bool = True) -> int:
    # an Object Lock bucket takes no PUT without Content-MD5 (the collector sends it too)
    headers = {"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode(),
               "Content-Type": "application/gzip"}  # urllib's default is a form
    if once:
        headers[ONCE_HEADER[0]] = ONCE_HEADER[1]
    request = urllib.request.Request(url, data=body, method="PUT", headers=headers)
    try:
        with urllib.request.urlopen(request) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def _hostile_host(lab: Lab, act: Callable[[str], bytes]) -> list[str]:  # noqa: F811
    """On ircli's next wait: run ``act(url)`` (it uploads, returns what it reports as its
    archive) and report a 'complete' result for it. Returns the URLs it was given."""
    lab.agent(run=False)
    seen: list[str] = []

    def host() -> None:
        for cmd in lab.clients("ssm").list_commands()["Commands"]:
            if cmd["CommandId"] in {c for c, _u in [s.split(" ", 1) for s in seen]}:
                continue
            url = cmd["Parameters"]["UploadUrl"][0]
            seen.append(f"{cmd['CommandId']} {url}")
            body = act(url)
            line = json.dumps({"status": "complete", "exit_code": 0, "files": 1,
                               "steps_ok": 1, "steps_failed": 0, "steps_timed_out": 0,
                               "steps_skipped": 0, "archive_size": len(body),
                               "archive_sha256": hashlib.sha256(body).hexdigest()})
            report_to_moto("123456789012", "us-east-1", cmd["CommandId"], lab.suspect, {
                "Status": "Success", "StatusDetails": "Success", "ResponseCode": 0,
                "StandardOutputContent": line + "\n", "StandardErrorContent": ""})

    lab.clock.after_agent.append(host)
    return seen


def _collect(cli: RunCli, lab: Lab, case_id: str) -> tuple[int, dict[str, Any]]:  # noqa: F811
    return cli_json(cli, "collect", lab.suspect, "--yes", "--case-id", case_id, "--timeout",
                    "60", "--sections", "system")


def _manifest_keys(lab: Lab, case_id: str) -> set[str]:  # noqa: F811
    manifest = json.loads((lab.case(case_id) / "manifest.json").read_text())
    return {o["key"] for o in manifest["objects"]}


def test_the_upload_url_writes_once(cli: RunCli, lab: Lab) -> None:  # noqa: F811
    statuses: list[int] = []

    def twice(url: str) -> bytes:
        statuses.append(_put(url, HONEST))
        statuses.append(_put(url, HONEST))  # the same URL again: the key is taken
        return HONEST

    seen = _hostile_host(lab, twice)
    code, data = _collect(cli, lab, "ir-once")
    assert len(seen) == 1 and statuses == [200, 412]  # S3 conditional write, signed into the URL
    query = parse_qs(urlparse(seen[0].split(" ", 1)[1]).query)
    assert "if-none-match" in query["X-Amz-SignedHeaders"][0].split(";")
    assert code == 0 and data["status"] == "collected", data  # one write: verified
    assert data["key"] in _manifest_keys(lab, "ir-once")


def test_a_second_upload_without_the_header_is_not_verified(cli: RunCli, lab: Lab) -> None:  # noqa: F811
    """On AWS the second PUT fails its signature (if-none-match is a signed header); moto
    does not check presigned signatures, so it lands, and the version listing catches it."""
    forged = _tar_gz([("manifest.jsonl", b"{}\n"), ("collection.log", b"{}\n")])

    def overwrite(url: str) -> bytes:
        assert _put(url, HONEST) == 200
        assert _put(url, forged, once=False) == 200  # the emulator's gap, not AWS's
        return forged

    _hostile_host(lab, overwrite)
    code, data = _collect(cli, lab, "ir-twice")
    assert code == 5 and data["reason"] == "uploaded-twice", data
    assert "holds 2 versions" in data["message"] and "untrusted" in data["remediation"]
    assert data["key"] not in _manifest_keys(lab, "ir-twice")
    versions = lab.clients("s3").list_object_versions(Bucket=BUCKET, Prefix=data["key"])
    assert len(versions["Versions"]) == 2  # both kept for the investigation


@pytest.mark.parametrize(("body", "said"), [
    (b"#!/bin/sh\necho pwned\n", "it is not gzip data"),
    (gzip.compress(b"not a tar archive at all" * 40, mtime=0),
     "it is not a tar archive inside the gzip"),
    (_tar_gz([("etc/shadow", b"root:x:0\n"), ("manifest.jsonl", b"{}\n"),
              ("collection.log", b"{}\n")]),
     "its first members are ['etc/shadow', 'manifest.jsonl'], not ['manifest.jsonl', "
     "'collection.log']"),
], ids=["script", "gzip-not-tar", "shadow-first"])  # ids fixed for every xdist worker
def test_an_upload_that_is_not_a_collector_archive_is_not_verified(
        cli: RunCli, lab: Lab, body: bytes, said: str) -> None:  # noqa: F811
    def upload(url: str) -> bytes:
        assert _put(url, body) == 200
        return body

    _hostile_host(lab, upload)
    code, data = _collect(cli, lab, "ir-junk")
    assert code == 5 and data["reason"] == "not-an-archive", data
    assert data["message"].endswith(f"is not a collector archive: {said}."), data["message"]
    assert data["key"] not in _manifest_keys(lab, "ir-junk")
    record = json.loads((lab.case("ir-junk") / "case.json").read_text())
    [collection] = record["targets"][lab.suspect]["collections"]
    assert collection["status"] == "failed" and collection["reason"] == "not-an-archive"


def test_the_head_read_is_bounded() -> None:
    """A huge (or gzip-bomb) first member is refused after the limit, not read to its end."""
    bomb = _tar_gz([("manifest.jsonl", b"\0" * (4 * 1024 * 1024)),
                    ("collection.log", b"{}\n")])
    assert len(bomb) < 64 * 1024  # zeros compress: 4 MiB in a few KiB
    problems = archive_head_problems([bomb], decompressed_limit=1024 * 1024)
    assert problems == ["its first members are not within the first 1 MiB uncompressed"]
    chunks = [bomb[i:i + 1024] for i in range(0, len(bomb), 1024)]
    assert archive_head_problems(chunks, compressed_limit=2048) == [
        "its first members are not within the first 0 MiB"]
    assert archive_head_problems(iter(chunks)) == []
    assert archive_head_problems([HONEST]) == []
    assert archive_head_problems([]) == ["it is not gzip data"]
