"""`ircli case list` and `ircli case show CASE_ID`: the cases on this machine, or in the
evidence bucket (``--bucket``), their shared home."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ircli.cli.complete import complete_case_id
from ircli.cli.options import GlobalOptions, global_options
from ircli.cli.output import emit_json
from ircli.cli.plain import escape_controls

_BUCKET_HELP = ("Read the evidence bucket (NAME, or the configured one when no NAME is given) "
                "instead of this machine.")


def _bucket(opts: GlobalOptions, bucket: str | None) -> str | None:
    """``--bucket NAME``; ``--bucket`` alone: the configured evidence bucket."""
    if bucket is None:
        return None
    from ircli.core.config import require_evidence_bucket

    return bucket or require_evidence_bucket(opts.evidence_bucket)


@click.group("case")
@global_options
def case_group() -> None:
    """Read the cases recorded on this machine (under IRCLI_HOME)."""


@case_group.command("list")
@click.option("--bucket", is_flag=False, flag_value="", default=None, metavar="[NAME]",
              help=_BUCKET_HELP)
@global_options
@click.pass_obj
def case_list(opts: GlobalOptions, bucket: str | None) -> int:
    """Every case, newest first."""
    from ircli.core.case import cases_root, list_cases

    name = _bucket(opts, bucket)
    if name is not None:
        return _list_bucket(opts, name)
    cases = list_cases()
    if opts.json:
        emit_json({"cases": [_summary(c) for c in cases], "root": str(cases_root())})
        return 0
    if not cases:
        click.echo(escape_controls(f"No cases under {cases_root()}."))
        return 0
    from rich.table import Table

    from ircli.cli.plaintext import console, plain

    rows = [_row(c) for c in map(_summary, cases)]
    # A case id is never cut: a pipe gets the width the table needs; on a terminal the id and
    # date columns keep their width and the others wrap.
    need = sum(max(len(r[i]) for r in [*rows, _HEADER]) + 2 for i in range(4))
    out = console()
    if need > out.width and not out.is_terminal:
        out.width = need
    table = Table(box=None, header_style="bold")
    for i, column in enumerate(_HEADER):
        table.add_column(column, no_wrap=i < 2,
                         min_width=max(len(r[i]) for r in rows) if i < 2 else None)
    for row in rows:
        table.add_row(*(plain(cell) for cell in row))
    out.print(table)
    return 0


_HEADER = ("Case", "Created", "Targets", "Status")


def _row(case: dict[str, Any]) -> tuple[str, str, str, str]:
    """Plain-text cells: target names come from tags, which anyone with ec2:CreateTags writes."""
    stamp = case["created_at"] if case["created_at"] not in ("", "None") else ""
    created = stamp[:19].replace("T", " ") + "Z" if stamp else ""
    targets = ", ".join(case["names"])  # "i-0abc… (web-1)": the Name tag beside the id
    return (case["case_id"], created, targets, ", ".join(sorted(set(case["statuses"]))))


def _list_bucket(opts: GlobalOptions, bucket: str) -> int:
    """The cases in the bucket, at both depths (own bucket and central forensics bucket)."""
    from ircli.cli.main import aws_session
    from ircli.evidence.bucket_cases import list_remote
    from ircli.evidence.shipper import evidence_session

    found = list_remote(evidence_session(aws_session(opts)).client("s3"), bucket)
    rows = [_remote_summary(prefix, data) for prefix, data in found]
    if opts.json:
        emit_json({"cases": rows, "bucket": bucket})
        return 0
    if not rows:
        click.echo(escape_controls(f"No cases in s3://{bucket}/cases/."))
        return 0
    from rich.table import Table

    from ircli.cli.plaintext import console, plain

    header = ("Case", "Created", "Status", "Targets", "Account", "Opened by")
    cells = [(r["case_id"], _stamp(r["created_at"]), ", ".join(sorted(set(r["statuses"]))),
              ", ".join(r["names"]), ", ".join(r["accounts"]), r["opened_by"]) for r in rows]
    out = console()
    need = sum(max(len(c[i]) for c in [*cells, header]) + 2 for i in range(len(header)))
    if need > out.width and not out.is_terminal:
        out.width = need
    table = Table(box=None, header_style="bold")
    for i, column in enumerate(header):
        table.add_column(column, no_wrap=i < 2,
                         min_width=max(len(c[i]) for c in cells) if i < 2 else None)
    for row in cells:  # every cell may be attacker-written (the bucket, tags): plain text
        table.add_row(*(plain(cell) for cell in row))
    out.print(table)
    return 0


def _stamp(stamp: str) -> str:
    return stamp[:19].replace("T", " ") + "Z" if stamp not in ("", "None") else ""


def _remote_summary(prefix: str, data: dict[str, Any]) -> dict[str, Any]:
    summary = _summary(data)
    parts = prefix.strip("/").split("/")
    targets = _table(data.get("targets"))
    accounts = {str(t.get("account")) for t in targets.values()
                if isinstance(t, dict) and t.get("account")}
    if len(parts) == 3:  # cases/<account>/<case-id>/ in the central bucket
        accounts.add(parts[1])
    return {**summary, "prefix": prefix, "accounts": sorted(accounts),
            "opened_by": str(data.get("opened_by") or "")}


@case_group.command("show")
@click.argument("case_id", shell_complete=complete_case_id)
@click.option("--bucket", is_flag=False, flag_value="", default=None, metavar="[NAME]",
              help=_BUCKET_HELP)
@global_options
@click.pass_obj
def case_show(opts: GlobalOptions, case_id: str, bucket: str | None) -> int:
    """The whole case record (from the evidence bucket when it is not on this machine)."""
    from ircli.core.case import check_case_id, open_case
    from ircli.core.clock import SystemClock

    check_case_id(case_id)
    name = _bucket(opts, bucket)
    if name is not None:
        return _show_bucket(opts, case_id, name)
    from ircli.ops.case_fetch import is_local

    if not is_local(case_id):
        from ircli.core.config import evidence_bucket

        configured = evidence_bucket(opts.evidence_bucket, strict=False)
        if configured:
            from ircli.cli.main import aws_session
            from ircli.ops.case_fetch import fetch_here

            found = fetch_here(aws_session(opts), configured, case_id)
            click.echo(escape_controls(f"case {case_id} fetched from {found.where}"), err=True)
    case = open_case(case_id, SystemClock().now(), create=False)
    _render(opts, case.case_id, case.data, f"Directory: {case.path}",
            _read_lines(case.path / "audit.jsonl"))
    return 0


def _show_bucket(opts: GlobalOptions, case_id: str, bucket: str) -> int:
    from ircli.cli.main import aws_session
    from ircli.evidence.bucket_cases import entries_as_lines
    from ircli.evidence.shipper import evidence_session
    from ircli.ops.case_fetch import read_from_bucket

    aws = aws_session(opts)
    found = read_from_bucket(aws, bucket, case_id)
    lines = entries_as_lines(evidence_session(aws).client("s3"), bucket, found.prefix)
    _render(opts, case_id, found.data, f"Bucket: {found.where}", lines)
    return 0


def _read_lines(audit: Path) -> list[dict[str, Any]]:
    found = []
    for raw in audit.read_text().splitlines() if audit.exists() else []:
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        if isinstance(entry, dict):
            found.append(entry)
    return found


def _render(opts: GlobalOptions, case_id: str, data: dict[str, Any], where: str,
            lines: list[dict[str, Any]]) -> None:
    if opts.json:
        emit_json(data)
        return
    from ircli.cli.plaintext import console, plain, styled

    out = console()  # every value here may come from AWS or a host: plain text only
    out.print(plain(styled(f"Case {case_id}", "bold"), f" created {data.get('created_at')}"))
    if data.get("opened_by"):
        out.print(plain(f"Opened by: {data['opened_by']}"))
    out.print(plain(where))
    history = _step_history(lines)
    targets = _table(data.get("targets"))
    for target_id, target in targets.items():  # a bucket's record may be anyone's JSON
        if not isinstance(target, dict):
            continue
        out.print()
        out.print(plain(styled(target.get("name") or target_id, "bold"),
                        f" — {target.get('status')} ({target.get('region')})"))
        if target.get("reason"):
            out.print(plain(f"  Reason: {target['reason']}"))
        steps = _table(target.get("steps"))
        for name, step, effect in _in_run_order(steps,
                                                history.get(target_id, {})):
            out.print(plain(f"  {name:<22} {step.get('status')!s:<13} {effect}"))
        for snap in _dicts(target.get("snapshots")):
            out.print(plain(f"  snapshot {snap.get('snapshot_id')} of {snap.get('volume_id')} "
                            f"({snap.get('device')})"))
    for run in _dicts(data.get("runs")):
        out.print(plain(f"run: {run.get('command')} {run.get('target')} → {run.get('status')} "
                        f"({run.get('started_at')} – {run.get('ended_at')})"))


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _step_history(lines: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per target and step, from the audit log: when it first started (run order) and when it
    first took effect (its first ``done``)."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for entry in lines:
        if entry.get("event") not in ("step-start", "step-end") or not entry.get("step"):
            continue
        seen = found.setdefault(str(entry.get("target")), {}).setdefault(
            str(entry["step"]), {"order": int(entry.get("seq") or 0)})
        if entry["event"] == "step-end" and entry.get("status") == "done":
            seen.setdefault("took_effect", entry.get("time"))
    return found


def _in_run_order(steps: dict[str, Any], history: dict[str, dict[str, Any]]
                  ) -> list[tuple[str, dict[str, Any], str]]:
    """Steps as they ran (the record keeps them by name), each with when it first took effect."""
    def order(item: tuple[str, Any]) -> tuple[int, str]:
        name, step = item
        return (history.get(name, {}).get("order", 1 << 30), str(step.get("at", "")))

    out = []
    for name, step in sorted(steps.items(), key=order):
        seen = history.get(name, {})
        effect = seen.get("took_effect")
        out.append((name, step, f"took effect {effect}" if effect else
                    "nothing to change (already so)" if step.get("status") == "already-done"
                    else str(step.get("at", ""))))
    return out


def _summary(case: dict[str, Any]) -> dict[str, Any]:
    targets = {t: r for t, r in _table(case.get("targets")).items() if isinstance(r, dict)}
    return {"case_id": str(case.get("case_id")), "created_at": str(case.get("created_at")),
            "targets": list(targets),
            "names": [str(r.get("name") or t) for t, r in targets.items()],
            "statuses": [str(t.get("status")) for t in targets.values()]}
