"""How a triage reads: the finding in plain words, then the runbook and its plan."""

from __future__ import annotations

from typing import Any

from ircli.cli.options import GlobalOptions
from ircli.cli.plaintext import console, plain, styled
from ircli.cli.render import emit_json


def render_triage(opts: GlobalOptions, report: dict[str, Any], *, planned: bool) -> None:
    """Text: always, before the plan. JSON: only when no plan follows (the plan carries it)."""
    if opts.json:
        if not planned:
            emit_json({"command": "triage", "status": "no-runbook", "triage": report})
        return
    out = console()
    finding, severity = report["finding"], report["severity"]
    out.rule(plain(f"GuardDuty {finding['type']}"))
    out.print(f"Severity:   {_score(severity['score'])} ({severity['label']})")
    out.print(f"What:       {report['what_happened']}")
    resource = report["resource"]
    account = resource.get("account") or "?"
    if resource.get("account_alias"):
        account += f" ({resource['account_alias']})"
    details = [resource["description"]]
    details += [f"role {resource['iam_role']}"] if resource.get("iam_role") else []
    details += [f"in {resource['vpc_id']}"] if resource.get("vpc_id") else []
    out.print(f"Resource:   {', '.join(details)}; account {account}, "
                  f"{finding.get('region')}")
    remote = report.get("remote") or {}
    if remote.get("ip"):
        where = ", ".join(str(remote[k]) for k in ("city", "country", "organization")
                          if remote.get(k))
        port = f" port {remote['port']}" if remote.get("port") else ""
        out.print(f"Remote:     {remote['ip']}{port}{f' — {where}' if where else ''}")
    if remote.get("domain"):
        out.print(f"Domain:     {remote['domain']}")
    for name in report.get("names_unavailable", []):
        out.print(styled(f"Name not looked up: {name}", "dim"))
    match = report.get("runbook")
    if match:
        role = match["pattern"].get("resource_role")
        out.print(f"Runbook:    {match['runbook']} (answers {match['pattern']['type']}"
                      f"{f' as {role}' if role else ''}; {match['source']})")
        if match["also_matching"]:
            out.print(f"            also matching: {', '.join(match['also_matching'])}")
        return
    out.print(plain("Runbook:    ", styled(f"none answers {finding['type']}", "yellow")))
    for near in report.get("closest", []):
        out.print(f"  closest:  {near['runbook']} ({near['pattern']}, similarity "
                      f"{near['similarity']})")
    out.print("Run one with `ircli runbook run NAME --target ID`, or add a runbook for this "
                  "finding type (`ircli runbook show NAME` for a model).")


def _score(score: Any) -> str:
    """The finding's severity as a number; anything else in that field is shown as text."""
    return f"{score:g}" if isinstance(score, (int, float)) else str(score)
