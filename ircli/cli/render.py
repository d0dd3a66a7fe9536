"""How results look: a live step list on stderr, a summary on stdout, or one JSON document."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from ircli.cli.options import GlobalOptions

_MARK = {"done": "[green]✓[/]", "already-done": "[green]=[/]", "planned": "[cyan]•[/]",
         "skipped": "[dim]-[/]", "failed": "[red]✗[/]", "not-run": "[dim]·[/]"}


class Progress:
    """Prints each step as it starts and ends, on stderr, so stdout stays clean for results."""

    def __init__(self, opts: GlobalOptions) -> None:
        self.console = Console(stderr=True, highlight=False)
        self.opts = opts

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "step-start" and self.opts.verbose:
            self.console.print(f"  … {data['title']}")
        elif kind == "step-end":
            r = data["result"]
            detail = f" [dim]{r.detail}[/]" if r.detail else ""
            self.console.print(f"{_MARK.get(r.status, '?')} {r.title:<34} "
                               f"{r.seconds:6.2f}s {r.status}{detail}")
        elif kind == "progress":
            self.console.print(f"  … {data.get('message', '')}")


def emit_json(data: dict[str, Any]) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def render_run(opts: GlobalOptions, data: dict[str, Any]) -> None:
    """The result of contain/release: JSON, or a summary a responder can paste into a ticket."""
    if opts.json:
        emit_json(data)
        return
    console = Console(highlight=False, soft_wrap=True, file=sys.stdout)
    title = {"planned": "PLAN (dry-run: nothing was changed)"}.get(data["status"],
                                                                     data["status"].upper())
    console.rule(f"ircli {data['command']} — {title}")
    if data["status"] == "planned":
        _render_plan(console, data)
    lines = [
        f"Case:       {data.get('case_id')}",
        _target_line(data),
        f"Status:     {data['status']}",
    ]
    if data.get("runbook"):
        lines.insert(0, f"Runbook:    {data['runbook']} ({data.get('runbook_file')})")
    blocked = "Would block:" if data["status"] == "planned" else "Blocked:   "
    lines += [f"{blocked} {b['address']} in {b['network_acl_id']} (rule {b['rule_number']}, "
              f"in and out) until {b['expires_at']}" for b in data.get("blocks", [])]
    lines += [f"Lifted:     {b['address']} from {b['network_acl_id']} (rule {b['rule_number']}, "
              f"expiry {b['expires_at']})" for b in data.get("lifted", [])]
    if data.get("isolation_group_id"):
        lines.append(f"Isolated behind: {data['isolation_group_id']}")
    iso = data.get("metrics", {}).get("isolated_after")
    paths = data.get("isolation") or {}
    if paths.get("cut_paths") and data["metrics"].get("paths_cut_after"):
        iso = data["metrics"]["paths_cut_after"]  # isolated once the NAT paths were cut too
    if iso and data["command"] == "contain" and data["status"] != "planned":
        if paths.get("open_paths"):
            lines.append(f"Time to isolation: INCOMPLETE, still open: "
                         f"{'; '.join(paths['open_paths'])} (security groups swapped after "
                         f"{iso['seconds']:.2f} s)")
        else:
            lines.append(f"Time to isolation: {iso['seconds']:.2f} s ({iso['api_calls']} API "
                         "calls)")
    for snap in data.get("snapshots", []):
        lines.append(f"Snapshot:   {snap['snapshot_id']} of {snap['volume_id']} "
                     f"({snap.get('device')})")
    lines += _collection_lines(data)
    for line in lines:
        console.print(line)
    failed = [s for s in data["steps"] if s["status"] == "failed"]
    for step in failed:
        console.print(f"[red]Failed:[/] {step['title']}: {step['detail']}")
    collection = data if data["command"] == "collect" else data.get("collection") or {}
    if collection.get("remediation"):
        console.print(f"  → {collection['remediation']}")
    for warning in data.get("warnings", []):
        console.print(f"[yellow]Warning:[/] {warning}")
    for todo in data.get("manual_follow_up", []):
        console.print(f"[bold]Left to you:[/] {todo}")
    if data.get("case_dir"):
        console.print(f"Case record: {data['case_dir']}")
    evidence = data.get("evidence")
    if evidence and evidence.get("shipped"):
        console.print(f"Evidence:   s3://{evidence['bucket']}/{evidence['prefix']} "
                      f"({evidence['objects']} objects)")
    elif evidence:
        console.print(f"Evidence:   [yellow]pending[/] — {evidence['reason']}. "
                      f"{evidence.get('remediation', '')}")


def _collection_lines(data: dict[str, Any]) -> list[str]:
    """Where the live-response archive is (or why it is not), for collect and contain."""
    c = data if data["command"] == "collect" else data.get("collection")
    if not c or not c.get("key"):
        return []
    where = f"s3://{c['bucket']}/{c['key']}"
    if c.get("version_id"):
        lines = [f"Archive:    {where}", f"            version {c['version_id']}, "
                 f"{c['size']} bytes, sha256 {c['sha256']} (verified)"]
    elif c.get("reason"):
        lines = [f"Archive:    [red]not collected[/] ({c['reason']})"]
    else:
        lines = [f"Archive:    {where} ({'to be sent' if not c.get('command_id') else 'sent'})"]
    if c.get("command_id"):
        lines.append(f"SSM command: {c['command_id']} ({c.get('document')} "
                     f"v{c.get('document_version')})")
    col = c.get("collector") or {}
    if col.get("status") in ("complete", "partial"):
        lines.append(f"Collector:  {col['status']}, {col.get('files')} files; sections ok "
                     f"{col.get('steps_ok')}, failed {col.get('steps_failed')}, timed out "
                     f"{col.get('steps_timed_out')}, skipped {col.get('steps_skipped')}")
    if c.get("command_id") and not c.get("completed_at") and not c.get("reason"):
        lines.append(f"Follow it:  aws ssm get-command-invocation --command-id "
                     f"{c['command_id']} --instance-id {data.get('instance_id')}")
    return lines


def _target_line(data: dict[str, Any]) -> str:
    if "instance_id" in data:
        name = f" ({data['instance_name']})" if data.get("instance_name") else ""
        return f"Instance:   {data['instance_id']}{name} in {data['region']}"
    if "address" in data:
        scope = data.get("vpc_id") or ", ".join(data.get("subnet_ids") or []) or "all VPCs"
        return f"Address:    {data['address'] or 'every ircli block'} in {scope}, {data['region']}"
    return f"Identity:   {data.get('user_arn') or data.get('role_arn') or data.get('target')}"


def _render_plan(console: Console, data: dict[str, Any]) -> None:
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("#", justify="right")
    table.add_column("Step")
    table.add_column("Would do")
    for number, step in enumerate(data["steps"], start=1):
        changes = "\n".join(step["changes"]) or step["detail"] or "nothing to change"
        if step["status"] == "skipped":
            changes = f"skip: {step['detail']}"
        table.add_row(str(number), step["title"], changes)
    console.print(table)
