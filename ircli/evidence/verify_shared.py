"""``evidence verify`` of the shared layout: the per-entry audit chain and ``case.json``'s history.

Every writer of a case (the CLI on any machine, the automation) appends ``audit/<seq>.json``
entries and rewrites ``case.json``; no single manifest covers them. What holds without one:
the entries are numbered without a gap from 0, each was written once (one version: Object Lock
keeps any overwrite, and the first version is the one checked), each names the SHA-256 of the
exact bytes of the entry before it; each version of ``case.json`` keeps every target and step
record of the version before, and never changes a target's recorded pre-change state or what a
step recorded before changing anything (what ``release`` restores; a re-run may only add).
Entries the CLI mirrored from its ``audit.jsonl`` must match the lines of the shipped log.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from ircli.evidence.casestore import AUDIT_DIR, CASE_JSON, ENTRY_KEY, GENESIS

Read = Callable[[str, str], bytes]  # (key, version id) -> bytes
FIELDS = ("seq", "time", "actor", "action", "detail", "prev")


def _oldest(versions: dict[str, list[dict[str, Any]]], key: str) -> str | None:
    found = versions.get(key, [])
    return str(found[0].get("VersionId")) if found else None


def entry_problems(read: Read, prefix: str, versions: dict[str, list[dict[str, Any]]],
                   markers: dict[str, list[dict[str, Any]]], audit_lines: list[bytes] | None
                   ) -> tuple[list[str], int]:
    """(problems, how many entries) of the chain under ``prefix + audit/``."""
    problems: list[str] = []
    start = prefix + AUDIT_DIR
    numbered: list[tuple[int, str]] = []
    for key in sorted(k for k in {*versions, *markers} if k.startswith(start)):
        name = key[len(prefix):]
        match = ENTRY_KEY.match(name)
        if match is None:
            problems.append(f"{name}: not an audit entry (entries are audit/<seq:08d>.json)")
            continue
        if markers.get(key):
            problems.append(f"{name}: tampering: a delete marker was put on it")
        count = len(versions.get(key, []))
        if count > 1:
            problems.append(f"{name}: written {count} times (an entry is written once; the "
                            "first version is the one checked)")
        if count:
            numbered.append((int(match.group(1)), key))
    prev, expected = GENESIS, 0
    for seq, key in numbered:
        name = key[len(prefix):]
        if seq != expected:
            problems.append(f"{name}: entries {expected}–{seq - 1} are missing (the sequence "
                            f"jumps from {expected - 1} to {seq})")
        body = read(key, str(_oldest(versions, key)))
        try:
            entry = json.loads(body)
        except ValueError:
            entry = None
        if not isinstance(entry, dict):
            problems.append(f"{name}: not a JSON audit entry")
        else:
            missing = [f for f in FIELDS if f not in entry]
            if missing:
                problems.append(f"{name}: lacks {', '.join(missing)}")
            if entry.get("seq") != seq:
                problems.append(f"{name}: says it is entry {entry.get('seq')!s:.20}")
            if entry.get("prev") != prev:
                problems.append(f"{name}: its prev is not the SHA-256 of the entry before it "
                                "(an entry was edited, replaced, removed or inserted)")
            problems += _line_problems(name, entry, audit_lines)
        prev, expected = hashlib.sha256(body).hexdigest(), seq + 1
    return problems, len(numbered)


def _line_problems(name: str, entry: dict[str, Any], lines: list[bytes] | None) -> list[str]:
    """An entry the CLI mirrored names its ``audit.jsonl`` line; the shipped log must agree."""
    detail = entry.get("detail")
    mark = detail.get("audit_jsonl") if isinstance(detail, dict) else None
    if lines is None or not isinstance(mark, dict) or not str(entry.get("actor")).startswith(
            "cli:"):
        return []
    line = mark.get("line")
    if not isinstance(line, int) or not 0 <= line < len(lines):
        return []  # a line the shipped log does not hold yet (it is shipped first, though)
    if hashlib.sha256(lines[line]).hexdigest() != mark.get("sha256"):
        return [f"{name}: does not match line {line + 1} of the shipped audit.jsonl"]
    return []


def case_record_problems(read: Read, prefix: str, case_id: str,
                         versions: dict[str, list[dict[str, Any]]],
                         markers: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Problems with ``case.json``: the current version and each version against the one
    before (records are never dropped, a recorded pre-change state or step record never
    changes)."""
    key = prefix + CASE_JSON
    problems = [f"tampering: a delete marker was put on it ({m.get('VersionId')})"
                for m in markers.get(key, [])]
    stored = versions.get(key, [])
    if not stored:
        return [*problems, "not in the bucket"]
    before: tuple[str, dict[str, Any]] | None = None
    for version in stored:
        vid = str(version.get("VersionId"))
        try:
            doc = json.loads(read(key, vid))
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            problems.append(f"version {vid} is not a JSON case record")
            continue
        if doc.get("case_id") != case_id:
            problems.append(f"version {vid} records case {doc.get('case_id')!s:.64}, not "
                            f"{case_id}")
        if not isinstance(doc.get("targets", {}), dict):
            problems.append(f"version {vid} has no targets table")
            continue
        if before is not None:
            problems += [f"version {vid} {p}" for p in _dropped(before[1], doc)]
        before = (vid, doc)
    return problems


def _dropped(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    out = []
    now = new.get("targets") or {}
    for target_id, record in (old.get("targets") or {}).items():
        if not isinstance(record, dict):
            continue
        later = now.get(target_id)
        if not isinstance(later, dict):
            out.append(f"drops target {target_id}, which the version before recorded")
            continue
        kept = {k: v for k, v in record.items() if k != "history"}
        if kept in _without_history(later.get("history")):  # re-contained: the old record
            continue  # is kept (the automation keeps it whole, its own history included)
        later_steps = later.get("steps") or {}
        for step, entry in (record.get("steps") or {}).items():
            if step not in later_steps:
                out.append(f"drops the record of step {step} of {target_id}")
            elif isinstance(entry, dict) and "before" in entry and not _extends(
                    entry["before"], (later_steps[step] or {}).get("before")):
                out.append(f"changes the recorded state of step {step} of {target_id} (what "
                           "release restores)")
        if "pre_state" in record and later.get("pre_state") != record["pre_state"]:
            out.append(f"changes the recorded pre-change state of {target_id} (what release "
                       "restores)")
    return out


def _without_history(history: Any) -> list[Any]:
    return [{k: v for k, v in h.items() if k != "history"} if isinstance(h, dict) else h
            for h in (history if isinstance(history, list) else [])]


def _extends(old: Any, new: Any) -> bool:
    """``new`` keeps everything ``old`` recorded: a step's first record wins and a re-run may
    only add to it (an ENI attached later joins the list), never change or drop a value."""
    if isinstance(old, dict):
        return isinstance(new, dict) and all(k in new and _extends(v, new[k])
                                             for k, v in old.items())
    if isinstance(old, list):
        return isinstance(new, list) and len(new) >= len(old) and all(
            _extends(a, b) for a, b in zip(old, new, strict=False))
    return bool(old == new)

