"""Two writers of one case in the bucket (the CLI on two machines, or the CLI and the
automation) through the real S3 API of the emulator: no audit entry lost, the chain holds,
every step record kept; what cannot be merged is refused in one sentence."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from moto.s3.responses import S3Response

from ircli.core.case import render_case
from ircli.evidence import casestore as cs
from ircli.evidence import verify_shared
from ircli.evidence.merge import MISSING, merge
from ircli.evidence.verify import list_versions

PREFIX = "cases/ir-race-1/"


def no_sleep(_seconds: float) -> None:
    """Injected into the retries: a test never waits."""


@pytest.fixture
def atomic_conditional_puts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Shim (moto 5.2.5): its PutObject checks If-None-Match / If-Match and then writes, with
    nothing between the two held, so two threads of the in-process emulator can both pass
    the check; S3 decides a conditional write atomically (one of two racing writers gets
    412). The shim holds one lock over moto's whole PutObject handler, as S3 behaves."""
    lock = threading.Lock()
    original = S3Response.put_object

    def put_object(self: S3Response) -> Any:
        with lock:
            return original(self)

    monkeypatch.setattr(S3Response, "put_object", put_object)
    yield


def _record(case_id: str) -> dict[str, Any]:
    return {"case_id": case_id, "created_at": "2026-12-01T03:00:00Z",
            "targets": {"i-0123456789abcdef0": {"steps": {}, "status": "containing"}}}


class Writer:
    """One writer's view: its local record and what it last wrote (the merge base)."""

    def __init__(self, s3: Any, bucket: str, name: str) -> None:
        self.store = cs.CaseStore(s3, bucket, PREFIX, sleep=no_sleep, attempts=500)
        self.name = name
        self.local = _record("ir-race-1")
        self.base: dict[str, Any] | None = None
        self.tail: tuple[int, str] | None = None
        self.etag: str | None = None

    def step(self, number: int) -> None:
        self.tail = self.store.append({"time": f"t{number}", "actor": self.name,
                                       "action": "step-end",
                                       "detail": {"writer": self.name, "n": number}}, self.tail)
        steps = self.local["targets"]["i-0123456789abcdef0"]["steps"]
        steps[f"{self.name}-{number:02d}"] = {"status": "done", "at": f"t{number}"}
        written, _version, self.etag = self.store.write_case(self.local, self.base,
                                                             render_case, self.etag)
        self.local = json.loads(json.dumps(written))
        self.base = written


def _chain(s3: Any, bucket: str) -> tuple[list[str], int]:
    listing = list_versions(s3, bucket, PREFIX)

    def read(key: str, version: str) -> bytes:
        return bytes(s3.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read())

    return verify_shared.entry_problems(read, PREFIX, listing.versions, listing.markers, None)


def test_two_writers_racing_lose_nothing(clients: Any, evidence_bucket: str,
                                         atomic_conditional_puts: None) -> None:
    s3 = clients("s3")
    writers = [Writer(s3, evidence_bucket, "cli:a@laptop"),
               Writer(s3, evidence_bucket, "automation:ec2-compromise")]
    start = threading.Barrier(len(writers))
    errors: list[BaseException] = []

    def run(writer: Writer) -> None:
        try:
            start.wait()
            for number in range(50):
                writer.step(number)
        except BaseException as err:  # reported by the main thread
            errors.append(err)

    threads = [threading.Thread(target=run, args=(w,)) for w in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors

    problems, count = _chain(s3, evidence_bucket)
    assert problems == [] and count == 100  # no gap, no overwrite, every prev right
    entries = cs.CaseStore(s3, evidence_bucket, PREFIX).read_entries()
    seen = {(json.loads(raw)["detail"]["writer"], json.loads(raw)["detail"]["n"])
            for _seq, raw in entries}
    assert seen == {(w.name, n) for w in writers for n in range(50)}  # no line lost
    record = json.loads(s3.get_object(Bucket=evidence_bucket, Key=PREFIX + "case.json")[
        "Body"].read())
    steps = record["targets"]["i-0123456789abcdef0"]["steps"]
    assert set(steps) == {f"{w.name}-{n:02d}" for w in writers for n in range(50)}


def test_a_stale_writer_merges_instead_of_overwriting(clients: Any, evidence_bucket: str
                                                       ) -> None:
    """The losing write of a race, made deterministic: B read before A wrote."""
    s3 = clients("s3")
    a, b = Writer(s3, evidence_bucket, "a"), Writer(s3, evidence_bucket, "b")
    a.step(0)
    b.base, b.local, b.tail, b.etag = a.base, json.loads(json.dumps(a.local)), a.tail, a.etag
    a.step(1)  # b's base and tail are now stale
    b.step(2)  # 412 on both the entry (seq 1 taken) and case.json (ETag changed): merged
    steps = json.loads(s3.get_object(Bucket=evidence_bucket, Key=PREFIX + "case.json")[
        "Body"].read())["targets"]["i-0123456789abcdef0"]["steps"]
    assert set(steps) == {"a-00", "a-01", "b-02"}
    assert set(b.local["targets"]["i-0123456789abcdef0"]["steps"]) == set(steps)
    problems, count = _chain(s3, evidence_bucket)
    assert problems == [] and count == 3


def test_a_change_both_writers_made_differently_is_refused(clients: Any,
                                                           evidence_bucket: str) -> None:
    s3 = clients("s3")
    a, b = Writer(s3, evidence_bucket, "a"), Writer(s3, evidence_bucket, "b")
    a.step(0)
    b.base, b.local, b.etag = a.base, json.loads(json.dumps(a.local)), a.etag
    a.local["targets"]["i-0123456789abcdef0"]["status"] = "contained"
    a.step(1)
    b.local["targets"]["i-0123456789abcdef0"]["status"] = "released"
    with pytest.raises(cs.CaseConflict) as err:
        b.step(2)
    assert "targets.i-0123456789abcdef0.status" in err.value.message
    assert err.value.exit_code == 2 and err.value.remediation
    record = json.loads(s3.get_object(Bucket=evidence_bucket, Key=PREFIX + "case.json")[
        "Body"].read())
    assert record["targets"]["i-0123456789abcdef0"]["status"] == "contained"  # a's stays


def test_merge_without_a_base_keeps_both_sides() -> None:
    """A case shipped before this layout (no base recorded): nothing is dropped."""
    local = {"targets": {"i-1": {"steps": {"isolate": {"status": "done"}}}}, "runs": [1]}
    remote = {"targets": {"i-1": {"steps": {"tag": {"status": "done"}}}, "i-2": {}},
              "runs": [2]}
    merged = merge(MISSING, local, remote)
    assert merged == {"targets": {"i-1": {"steps": {"tag": {"status": "done"},
                                                    "isolate": {"status": "done"}}},
                                  "i-2": {}}, "runs": [2, 1]}
