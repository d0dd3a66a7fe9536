"""Ship a case directory to ``s3://BUCKET/cases/<case-id>/`` and keep its manifest.

Each file goes up with Content-MD5 and an S3 SHA-256 checksum, so S3 rejects a body that
changed on the way (and a locked bucket accepts no PUT without one). Only files that changed
since their last upload are sent; ``manifest.json`` then records, for every key, the latest
version id S3 assigned and its sha256. With a signing key, each ship then writes an anchor
(``anchors/<seq>.json``, see :mod:`ircli.evidence.anchor`): the signed chain head. A local
copy of the manifest (and ``.evidence.json``, what was last shipped where) lives in the case
directory, so a later ``evidence sync`` knows what is still pending.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ircli.core.case import Case, render_case
from ircli.core.clock import iso
from ircli.evidence import anchor as anc
from ircli.evidence import casestore as cs

MANIFEST = "manifest.json"
AUDIT = "audit.jsonl"
STATE = ".evidence.json"
FORMAT = "ircli-evidence-manifest/1"
_IN_MEMORY_LIMIT = 64 * 1024 * 1024
_CHUNK = 1024 * 1024


def case_prefix(case_id: str, account: str | None = None) -> str:
    """``cases/<case-id>/`` in an account's own bucket; ``cases/<account>/<case-id>/`` in the
    central forensics bucket, whose policy lets each member account write only its own prefix."""
    return f"cases/{account}/{case_id}/" if account else f"cases/{case_id}/"


@dataclass(frozen=True)
class Digest:
    size: int
    sha256: str
    md5_b64: str
    sha256_b64: str


def digest_bytes(data: bytes) -> Digest:
    sha = hashlib.sha256(data).digest()
    return Digest(len(data), sha.hex(), base64.b64encode(hashlib.md5(data).digest()).decode(),
                  base64.b64encode(sha).decode())


def digest_file(path: Path) -> Digest:
    sha, md5, size = hashlib.sha256(), hashlib.md5(), 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            sha.update(chunk)
            md5.update(chunk)
            size += len(chunk)
    return Digest(size, sha.hexdigest(), base64.b64encode(md5.digest()).decode(),
                  base64.b64encode(sha.digest()).decode())


def evidence_files(case_dir: Path) -> list[str]:
    """Every file of the case to ship, relative; hidden files (lock, temp, state) stay local."""
    found = []
    for path in sorted(case_dir.rglob("*")):
        rel = path.relative_to(case_dir)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts) \
                and rel.as_posix() != MANIFEST:
            found.append(rel.as_posix())
    return found


def new_manifest(case_id: str, bucket: str, account: str | None = None) -> dict[str, Any]:
    return {"format": FORMAT, "case_id": case_id, "bucket": bucket,
            "prefix": case_prefix(case_id, account), "updated_at": None, "objects": []}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".ev.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, path)


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()


def _assign(target: dict[str, Any], source: dict[str, Any]) -> None:
    """Make ``target`` equal to ``source`` in place: a run holds references into its case's
    records (``ctx.record``), which must see what the merge brought in."""
    for key in [k for k in target if k not in source]:
        del target[key]
    for key, value in source.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _assign(target[key], value)
        else:
            target[key] = value


@dataclass
class ShipResult:
    bucket: str
    prefix: str
    uploaded: list[str] = field(default_factory=list)
    objects: int = 0
    manifest_version_id: str | None = None
    anchor: str | None = None  # the latest anchor's key; None when the case is not signed

    def to_dict(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "prefix": self.prefix, "uploaded": self.uploaded,
                "objects": self.objects, "manifest_version_id": self.manifest_version_id,
                "anchored": self.anchor is not None, "anchor": self.anchor}


class CaseUploader:
    """Uploads what changed in one case directory; the caller holds the case lock."""

    def __init__(self, s3: Any, bucket: str, case: Case, account: str | None = None, *,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.case = case
        state = _read_json(case.path / STATE)
        self.state: dict[str, Any] = state if state.get("bucket") == bucket else \
            {"bucket": bucket, "files": {}, "manifest_sha256": None}
        # A case fetched from the central bucket goes back to the prefix it came from.
        # account: a member's case in the central forensics bucket (cases/<account>/<id>/).
        self.prefix = str(self.state.get("prefix") or case_prefix(case.case_id, account))
        local = _read_json(case.path / MANIFEST)
        self.manifest = local if local.get("bucket") == bucket else \
            new_manifest(case.case_id, bucket, account)
        self.manifest["prefix"] = self.prefix
        self.store = cs.CaseStore(s3, bucket, self.prefix, sleep=sleep)

    def pending(self, signed: bool = False) -> list[str]:
        """Files (and the manifest, and its anchor) not yet in the bucket as on disk."""
        todo = [rel for rel in evidence_files(self.case.path) if self._changed(rel)]
        if todo or self.state.get("manifest_sha256") != \
                digest_bytes(manifest_bytes(self.manifest)).sha256:
            todo.append(MANIFEST)
        if signed and (MANIFEST in todo or self._unanchored()):
            todo.append(anc.ANCHORS)
        audit = self.case.path / AUDIT
        lines = len([r for r in audit.read_bytes().splitlines() if r.strip()]) \
            if audit.exists() else 0
        if lines and (self.state.get("audit_mirrored") or 0) < lines:
            todo.append(cs.AUDIT_DIR)  # lines not yet in the shared chain
        return todo

    def _unanchored(self) -> bool:
        return self.state.get("anchored_manifest_sha256") != self.state.get("manifest_sha256")

    def ship(self, produced_by: str, now: datetime, signer: anc.Signer | None = None, *,
             mirror: bool = True) -> ShipResult:
        """Upload what changed; with ``mirror``, also append the audit lines not yet in the
        shared chain (one PUT each, in order: a run does it once, at its end, so the steps
        after isolation do not wait on it)."""
        result = ShipResult(self.bucket, self.prefix)
        entries = {e["path"]: e for e in self.manifest["objects"]}
        for rel in evidence_files(self.case.path):
            if not self._changed(rel):
                continue
            path = self.case.path / rel
            key = self.prefix + rel
            data: bytes | None
            if rel == cs.CASE_JSON:  # shared with other writers: conditional, merged
                data, version = self._ship_case_json()
                digest = digest_bytes(data)
                stat = path.stat()
            else:
                stat = path.stat()
                data = path.read_bytes() if stat.st_size <= _IN_MEMORY_LIMIT else None
                digest = digest_bytes(data) if data is not None else digest_file(path)
                version = self._put(key, data if data is not None else path, digest)
            entries[rel] = {
                "key": key, "path": rel, "size": digest.size, "sha256": digest.sha256,
                "version_id": version, "produced_by": produced_by,
                "produced_at": iso(datetime.fromtimestamp(stat.st_mtime, timezone.utc)),
                "shipped_at": iso(now)}
            self.state["files"][rel] = [stat.st_size, stat.st_mtime_ns, digest.sha256]
            if rel == AUDIT:  # the head of exactly the bytes shipped, for the anchor
                self.state["audit_head"] = list(anc.audit_head(
                    data if data is not None else path.read_bytes()))
            result.uploaded.append(key)
            self.manifest["objects"] = sorted(entries.values(), key=lambda e: str(e["key"]))
            _write_json(self.case.path / MANIFEST, self.manifest)
            _write_json(self.case.path / STATE, self.state)
        if mirror:
            result.uploaded += self._mirror_audit()
        body = manifest_bytes(self.manifest)
        if result.uploaded or self.state.get("manifest_sha256") != digest_bytes(body).sha256:
            self.manifest["updated_at"] = iso(now)
            body = manifest_bytes(self.manifest)
            digest = digest_bytes(body)
            self.state["manifest_version_id"] = self._put(self.prefix + MANIFEST, body, digest)
            self.state["manifest_sha256"] = digest.sha256
            _write_json(self.case.path / MANIFEST, self.manifest)
            _write_json(self.case.path / STATE, self.state)
            result.uploaded.append(self.prefix + MANIFEST)
        if signer is not None and self.state.get("manifest_sha256") and self._unanchored():
            result.uploaded.append(self._anchor(signer, now))
        result.objects = len(self.manifest["objects"])
        result.manifest_version_id = self.state.get("manifest_version_id")
        if not self._unanchored() and self.state.get("anchor_seq"):
            result.anchor = anc.anchor_key(self.prefix, int(self.state["anchor_seq"]))
        return result

    def _ship_case_json(self) -> tuple[bytes, str]:
        """Write ``case.json`` to the bucket the way every writer of the case does (created
        once, updated from the version read, merged on a lost race), then keep the local file
        identical to what the bucket holds: the merge brings other writers' records here."""
        local = json.loads(render_case(self.case.data))
        local.setdefault("opened_by", cs.actor())
        base = self.state.get("case_base")
        written, version, etag = self.store.write_case(
            local, base if isinstance(base, dict) else None, render_case,
            self.state.get("case_etag"))
        _assign(self.case.data, written)
        self.case.save()
        self.state.update(case_base=written, case_etag=etag)
        return render_case(written), version

    def _mirror_audit(self) -> list[str]:
        """Append each ``audit.jsonl`` line not yet mirrored as one ``audit/<seq>.json``
        entry of the case's shared chain (the local log stays the CLI's own chain; the
        entries interleave with other writers'). Each entry names its line and the line's
        sha256, so a writer that lost its state finds what it mirrored instead of writing a
        line twice."""
        path = self.case.path / AUDIT
        lines = [raw for raw in path.read_bytes().splitlines() if raw.strip()] \
            if path.exists() else []
        mirrored, tail = self.state.get("audit_mirrored"), self.state.get("chain_tail")
        if mirrored is None or self.state.get("audit_pending") is not None:
            mirrored, tail = self._recover_mirror(lines)
        written = []
        known: tuple[int, str] | None = (int(tail[0]), str(tail[1])) if tail else None
        who = cs.actor()
        for number in range(int(mirrored), len(lines)):
            raw = lines[number]
            try:
                record = json.loads(raw)
            except ValueError:
                record = {"unparsed": raw.decode(errors="replace")}
            detail = {k: v for k, v in record.items() if k not in ("seq", "prev", "time", "event")}
            detail["audit_jsonl"] = {"line": number, "sha256": cs.digest(raw)}
            self.state["audit_pending"] = number  # recorded before the write (see above)
            _write_json(self.case.path / STATE, self.state)
            known = self.store.append({"time": record.get("time"), "actor": who,
                                       "action": record.get("event"), "detail": detail}, known)
            self.state.update(audit_mirrored=number + 1, chain_tail=list(known),
                              audit_pending=None)
            _write_json(self.case.path / STATE, self.state)
            written.append(cs.entry_key(self.prefix, known[0] - 1))
        return written

    def _recover_mirror(self, lines: list[bytes]) -> tuple[int, list[Any]]:
        """(lines already mirrored, the chain's tail) from the bucket's entries."""
        mirrored = 0
        entries = self.store.read_entries()
        hashes = [cs.digest(raw) for raw in lines]
        for _seq, body in entries:
            try:
                mark = json.loads(body).get("detail", {}).get("audit_jsonl") or {}
                line = int(mark["line"])
            except (ValueError, AttributeError, KeyError, TypeError):
                continue
            if line < len(hashes) and hashes[line] == mark.get("sha256"):
                mirrored = max(mirrored, line + 1)
        tail = [entries[-1][0] + 1, cs.digest(entries[-1][1])] if entries else [0, cs.GENESIS]
        return mirrored, tail

    def _anchor(self, signer: anc.Signer, now: datetime) -> str:
        """Sign the head just shipped and write it once, to a key of its own."""
        seq = int(self.state.get("anchor_seq") or 0) + 1
        lines, head = self.state.get("audit_head") or (0, anc.GENESIS)
        payload = anc.new_payload(self.case.case_id, seq,
                                  str(self.state.get("anchor_sha256") or anc.GENESIS),
                                  str(self.state["manifest_sha256"]),
                                  str(self.state.get("manifest_version_id")),
                                  (int(lines), str(head)), iso(now))
        body = anc.document_bytes(signer.sign(payload))
        digest = digest_bytes(body)
        key = anc.anchor_key(self.prefix, seq)
        self._put(key, body, digest, once=True)
        self.state.update(anchor_seq=seq, anchor_sha256=digest.sha256,
                          anchored_manifest_sha256=self.state["manifest_sha256"])
        _write_json(self.case.path / STATE, self.state)
        return key

    def add_remote(self, entry: dict[str, Any]) -> None:
        """List an object someone else uploaded into the case prefix (the collector's archive,
        read back and hashed by ircli) in the local manifest; the next ship uploads it, so
        ``evidence verify`` checks that object like every other."""
        entries = {e["path"]: e for e in self.manifest["objects"]}
        entries[entry["path"]] = entry
        self.manifest["objects"] = sorted(entries.values(), key=lambda e: str(e["key"]))
        _write_json(self.case.path / MANIFEST, self.manifest)

    def _changed(self, rel: str) -> bool:
        path = self.case.path / rel
        stat = path.stat()
        known = self.state["files"].get(rel)
        if known and known[0] == stat.st_size and known[1] == stat.st_mtime_ns:
            return False
        entry = next((e for e in self.manifest["objects"] if e["path"] == rel), None)
        return entry is None or entry["sha256"] != digest_file(path).sha256

    def _put(self, key: str, body: bytes | Path, digest: Digest, *, once: bool = False) -> str:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "ContentMD5": digest.md5_b64,
                                  "ChecksumSHA256": digest.sha256_b64}
        if once:  # S3 conditional write: refused (412) when the key already exists
            params["IfNoneMatch"] = "*"
        if isinstance(body, Path):
            with body.open("rb") as fh:
                resp = self.s3.put_object(Body=fh, **params)
        else:
            resp = self.s3.put_object(Body=body, **params)
        return str(resp.get("VersionId") or "null")
