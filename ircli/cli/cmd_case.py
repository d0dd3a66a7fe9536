"""`ircli case list` and `ircli case show CASE_ID`: read the local case directory."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from ircli.cli.options import GlobalOptions, global_options
from ircli.cli.plaintext import console, escape_controls, plain, styled
from ircli.cli.render import emit_json


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
    table = Table(box=None, header_style="bold")
    for column in ("Case", "Created", "Targets", "Status"):
        table.add_column(column, overflow="fold")  # an id cut short is no id
    for case in map(_summary, cases):
        table.add_row(plain(case["case_id"]), plain(case["created_at"]),
                      plain(", ".join(case["targets"])),
                      plain(", ".join(sorted(set(case["statuses"])))))
    console().print(table)
    return 0


@case_group.command("show")
@click.argument("case_id")
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
    out = console()
    out.print(plain(styled(f"Case {case.case_id}", "bold"),
                    f" created {case.data.get('created_at')}"))
    out.print(f"Directory: {case.path}")
    for target_id, target in case.data.get("targets", {}).items():
        out.print()
        out.print(plain(styled(target.get("name") or target_id, "bold"),
                        f" — {target.get('status')} ({target.get('region')})"))
        if target.get("reason"):
            out.print(f"  Reason: {target['reason']}")
        for name, step in target.get("steps", {}).items():
            out.print(f"  {name:<22} {step.get('status')}  {step.get('at', '')}")
        for snap in target.get("snapshots", []):
            out.print(f"  snapshot {snap['snapshot_id']} of {snap['volume_id']} "
                      f"({snap.get('device')})")
    for run in case.data.get("runs", []):
        out.print(f"run: {run['command']} {run['target']} → {run['status']} "
                  f"({run['started_at']} – {run['ended_at']})")
    return 0


def _summary(case: dict[str, Any]) -> dict[str, Any]:
    targets: dict[str, Any] = case.get("targets", {})
    return {"case_id": str(case.get("case_id")), "created_at": str(case.get("created_at")),
            "targets": list(targets),
            "statuses": [str(t.get("status")) for t in targets.values()]}
