"""How a triage reads: the finding in plain words, then the runbook and its plan."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console

from ircli.cli.options import GlobalOptions
from ircli.cli.render import emit_json


def render_triage(opts: GlobalOptions, report: dict[str, Any], *, planned: bool) -> None:
    """Text: always, before the plan. JSON: only when no plan follows (the plan carries it)."""
    if opts.json:
        if not planned:
            emit_json({"command": "triage", "status": "no-runbook", "triage": report})
        return
    console = Console(highlight=False, soft_wrap=True, file=sys.stdout)
    finding, severity = report["finding"], report["severity"]
    console.rule(f"GuardDuty {finding['type']}")
    console.print(f"Severity:   {severity['score']:g} ({severity['label']})")
    console.print(f"What:       {report['what_happened']}")
    resource = report["resource"]
    account = resource.get("account") or "?"
    if resource.get("account_alias"):
        account += f" ({resource['account_alias']})"
    details = [resource["description"]]
    details += [f"role {resource['iam_role']}"] if resource.get("iam_role") else []
    details += [f"in {resource['vpc_id']}"] if resource.get("vpc_id") else []
    console.print(f"Resource:   {', '.join(details)}; account {account}, "
                  f"{finding.get('region')}")
    remote = report.get("remote") or {}
    if remote.get("ip"):
        where = ", ".join(str(remote[k]) for k in ("city", "country", "organization")
                          if remote.get(k))
        port = f" port {remote['port']}" if remote.get("port") else ""
        console.print(f"Remote:     {remote['ip']}{port}{f' — {where}' if where else ''}")
    if remote.get("domain"):
        console.print(f"Domain:     {remote['domain']}")
    for name in report.get("names_unavailable", []):
        console.print(f"[dim]Name not looked up: {name}[/]")
    match = report.get("runbook")
    if match:
        role = match["pattern"].get("resource_role")
        console.print(f"Runbook:    {match['runbook']} (answers {match['pattern']['type']}"
                      f"{f' as {role}' if role else ''}; {match['source']})")
        if match["also_matching"]:
            console.print(f"            also matching: {', '.join(match['also_matching'])}")
        return
    console.print(f"Runbook:    [yellow]none answers {finding['type']}[/]")
    for near in report.get("closest", []):
        console.print(f"  closest:  {near['runbook']} ({near['pattern']}, similarity "
                      f"{near['similarity']})")
    console.print("Run one with `ircli runbook run NAME --target ID`, or add a runbook for this "
                  "finding type (`ircli runbook show NAME` for a model).")
