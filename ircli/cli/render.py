"""How results look: a live step list on stderr, a summary on stdout, or one JSON document.

Every value in a result may come from AWS, a finding or a host, so lines are built with
:mod:`ircli.cli.plaintext`: data is never markup and its control characters are escaped.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ircli.cli.options import GlobalOptions
from ircli.cli.plaintext import console, lines, plain, styled

_MARK = {"done": ("✓", "green"), "already-done": ("=", "green"), "planned": ("•", "cyan"),
         "skipped": ("-", "dim"), "failed": ("✗", "red"), "not-run": ("·", "dim")}


def mark(status: str) -> Text:
    symbol, style = _MARK.get(status, ("?", ""))
    return styled(symbol, style)


class Progress:
    """Prints each step as it starts and ends, on stderr, so stdout stays clean for results."""

    def __init__(self, opts: GlobalOptions) -> None:
        from ircli.cli.waits import WaitView

        self.console = console(stderr=True)
        self.opts = opts
        self.waits = WaitView(self.console)  # live clock on a terminal, lines elsewhere

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        if kind in ("step-end", "interrupted"):
            self.waits.stop()
        if kind == "step-start":
            self.waits.step(str(data["title"]))
        if kind == "step-start" and self.opts.verbose:
            self.console.print(plain("  … ", data["title"]))
        elif kind == "step-end":
            r = data["result"]
            detail = plain(" ", styled(r.detail, "dim")) if r.detail else ""
            self.console.print(plain(mark(r.status), f" {r.title:<34} {r.seconds:6.2f}s ",
                                     r.status, detail))
        elif kind == "progress":
            self.waits.update(data)


def emit_json(data: dict[str, Any]) -> None:
    """The result document: --query, then json, yaml or table (ircli/cli/output.py)."""
    from ircli.cli.output import emit_json as emit

    emit(data)


def render_run(opts: GlobalOptions, data: dict[str, Any]) -> None:
    """The result of contain/release: JSON, or a summary a responder can paste into a ticket."""
    if opts.json:
        emit_json(data)
        return
    out = console()
    title = {"planned": "PLAN (dry-run: nothing was changed)"}.get(data["status"],
                                                                     str(data["status"]).upper())
    out.rule(plain(f"ircli {data['command']} — {title}"))
    if data["status"] == "planned":
        _render_plan(out, data)
    summary: list[str | Text] = [
        f"Case:       {data.get('case_id')}",
        _target_line(data),
        f"Status:     {data['status']}",
    ]
    if data.get("runbook"):
        summary.insert(0, f"Runbook:    {data['runbook']} ({data.get('runbook_file')})")
    blocked = "Would block:" if data["status"] == "planned" else "Blocked:   "
    summary += [f"{blocked} {b['address']} in {b['network_acl_id']} (rule {b['rule_number']}, "
                f"in and out) until {b['expires_at']}" for b in data.get("blocks", [])]
    summary += [f"Lifted:     {b['address']} from {b['network_acl_id']} (rule "
                f"{b['rule_number']}, expiry {b['expires_at']})" for b in data.get("lifted", [])]
    if data.get("isolation_group_id"):
        name = f" ({data['isolation_group_name']})" if data.get("isolation_group_name") else ""
        isolated = any(s["name"] == "isolate" and s["status"] in ("done", "already-done")
                       for s in data["steps"])
        group = f"{data['isolation_group_id']}{name}"
        summary.append(f"Would isolate behind: {group}" if data["status"] == "planned" else
                       f"Isolated behind: {group}" if isolated else
                       f"Isolation group: {group} — the instance is NOT isolated")
    iso = data.get("metrics", {}).get("isolated_after")
    paths = data.get("isolation") or {}
    if paths.get("cut_paths") and data["metrics"].get("paths_cut_after"):
        iso = data["metrics"]["paths_cut_after"]  # isolated once the NAT paths were cut too
    if iso and data["command"] == "contain" and data["status"] != "planned":
        if paths.get("open_paths"):
            summary.append(f"Time to isolation: INCOMPLETE, still open: "
                           f"{'; '.join(paths['open_paths'])} (security groups swapped after "
                           f"{iso['seconds']:.2f} s)")
        else:
            summary.append(f"Time to isolation: {iso['seconds']:.2f} s ({iso['api_calls']} "
                           "API calls)")
    for snap in data.get("snapshots", []):
        summary.append(f"Snapshot:   {snap['snapshot_id']} of {snap['volume_id']} "
                       f"({snap.get('device')})")
    summary += _collection_lines(data)
    for line in summary:
        out.print(plain(line))
    for step in (s for s in data["steps"] if s["status"] == "failed"):
        out.print(plain(styled("Failed:", "red"), f" {step['title']}: {step['detail']}"))
    collection = data if data["command"] == "collect" else data.get("collection") or {}
    if collection.get("remediation"):
        out.print(plain(f"  → {collection['remediation']}"))
    for warning in data.get("warnings", []):
        out.print(plain(styled("Warning:", "yellow"), " ", warning))
    for todo in data.get("manual_follow_up", []):
        out.print(plain(styled("Left to you:", "bold"), " ", todo))
    if data.get("case_dir"):
        from pathlib import Path

        written = (Path(data["case_dir"]) / "case.json").exists()
        out.print(plain(f"Case record: {data['case_dir']}" if written else
                        f"Case record: none yet (the run writes {data['case_dir']})"))
    evidence = data.get("evidence")
    if evidence and evidence.get("shipped"):
        out.print(plain(f"Evidence:   s3://{evidence['bucket']}/{evidence['prefix']} "
                        f"({evidence['objects']} objects)"))
    elif evidence:
        out.print(plain("Evidence:   ", styled("pending", "yellow"),
                        f" — {evidence['reason']}. {evidence.get('remediation', '')}"))


def _collection_lines(data: dict[str, Any]) -> list[str | Text]:
    """Where the live-response archive is (or why it is not), for collect and contain."""
    c = data if data["command"] == "collect" else data.get("collection")
    if not c or not c.get("key"):
        return []
    where = f"s3://{c['bucket']}/{c['key']}"
    found: list[str | Text]
    if c.get("version_id"):
        found = [f"Archive:    {where}", f"            version {c['version_id']}, "
                 f"{c['size']} bytes, sha256 {c['sha256']} (verified)"]
    elif c.get("reason"):
        found = [plain("Archive:    ", styled("not collected", "red"), f" ({c['reason']})")]
    else:
        found = [f"Archive:    {where} ({'to be sent' if not c.get('command_id') else 'sent'})"]
    if c.get("command_id"):
        found.append(f"SSM command: {c['command_id']} ({c.get('document')} "
                     f"v{c.get('document_version')})")
    col = c.get("collector") or {}
    if col.get("status") in ("complete", "partial"):
        found.append(f"Collector:  {col['status']}, {col.get('files')} files; sections ok "
                     f"{col.get('steps_ok')}, failed {col.get('steps_failed')}, timed out "
                     f"{col.get('steps_timed_out')}, skipped {col.get('steps_skipped')}")
    if c.get("command_id") and not c.get("completed_at") and not c.get("reason"):
        found.append(f"Follow it:  aws ssm get-command-invocation --command-id "
                     f"{c['command_id']} --instance-id {data.get('instance_id')}")
        if data.get("case_id"):
            found.append(f"Adopt it:   ircli collect --resume {data['case_id']} (waits, "
                         "verifies the archive, records it)")
    return found


def _target_line(data: dict[str, Any]) -> str:
    if "instance_id" in data:
        name = f" ({data['instance_name']})" if data.get("instance_name") else ""
        return f"Instance:   {data['instance_id']}{name} in {data['region']}"
    if "address" in data:
        scope = data.get("vpc_id") or ", ".join(data.get("subnet_ids") or []) or "all VPCs"
        return f"Address:    {data['address'] or 'every ircli block'} in {scope}, {data['region']}"
    return f"Identity:   {data.get('user_arn') or data.get('role_arn') or data.get('target')}"


def _render_plan(out: Console, data: dict[str, Any]) -> None:
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("#", justify="right")
    table.add_column("Step")
    table.add_column("Would do")
    for number, step in enumerate(data["steps"], start=1):
        changes: Text = lines(step["changes"]) if step["changes"] \
            else plain(step["detail"] or "nothing to change")
        if step["status"] == "skipped":
            changes = plain(f"skip: {step['detail']}")
        table.add_row(str(number), plain(step["title"]), changes)
    out.print(table)
