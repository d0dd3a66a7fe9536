"""`ircli case list` and `ircli case show CASE_ID`: read the local case directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ircli.cli.complete import complete_case_id
from ircli.cli.options import GlobalOptions, global_options
from ircli.cli.output import emit_json
from ircli.cli.plain import escape_controls


@click.group("case")
@global_options
def case_group() -> None:
    """Read the cases recorded on this machine (under IRCLI_HOME)."""


@case_group.command("list")
@global_options
@click.pass_obj
def case_list(opts: GlobalOptions) -> int:
    """Every case, newest first."""
    from ircli.core.case import cases_root, list_cases

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


@case_group.command("show")
@click.argument("case_id", shell_complete=complete_case_id)
@global_options
@click.pass_obj
def case_show(opts: GlobalOptions, case_id: str) -> int:
    """The whole case record."""
    from ircli.core.case import open_case
    from ircli.core.clock import SystemClock

    case = open_case(case_id, SystemClock().now(), create=False)
    if opts.json:
        emit_json(case.data)
        return 0
    from ircli.cli.plaintext import console, plain, styled

    out = console()  # every value here may come from AWS or a host: plain text only
    out.print(plain(styled(f"Case {case.case_id}", "bold"),
                    f" created {case.data.get('created_at')}"))
    out.print(plain(f"Directory: {case.path}"))
    history = _step_history(case.path / "audit.jsonl")
    for target_id, target in case.data.get("targets", {}).items():
        out.print()
        out.print(plain(styled(target.get("name") or target_id, "bold"),
                        f" — {target.get('status')} ({target.get('region')})"))
        if target.get("reason"):
            out.print(plain(f"  Reason: {target['reason']}"))
        for name, step, effect in _in_run_order(target.get("steps", {}),
                                                history.get(target_id, {})):
            out.print(plain(f"  {name:<22} {step.get('status')!s:<13} {effect}"))
        for snap in target.get("snapshots", []):
            out.print(plain(f"  snapshot {snap['snapshot_id']} of {snap['volume_id']} "
                            f"({snap.get('device')})"))
    for run in case.data.get("runs", []):
        out.print(plain(f"run: {run['command']} {run['target']} → {run['status']} "
                        f"({run['started_at']} – {run['ended_at']})"))
    return 0


def _step_history(audit: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """Per target and step, from the audit log: when it first started (run order) and when it
    first took effect (its first ``done``)."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    lines = audit.read_text().splitlines() if audit.exists() else []
    for raw in lines:
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
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
    targets: dict[str, Any] = case.get("targets", {})
    return {"case_id": str(case.get("case_id")), "created_at": str(case.get("created_at")),
            "targets": list(targets),
            "names": [str(r.get("name") or t) for t, r in targets.items()],
            "statuses": [str(t.get("status")) for t in targets.values()]}
