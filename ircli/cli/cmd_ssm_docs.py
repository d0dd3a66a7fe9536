"""`ircli ssm-docs validate|deploy|list`: the live-response SSM documents ircli ships."""

from __future__ import annotations

from typing import Any

import click

from ircli.cli.main import aws_session
from ircli.cli.options import GlobalOptions, global_options
from ircli.cli.output import emit_json
from ircli.core.errors import ExitCode


@click.group("ssm-docs")
@global_options
def ssm_docs_group() -> None:
    """The live-response SSM documents: check them offline, deploy them, compare them."""


@ssm_docs_group.command("validate")
@global_options
@click.pass_obj
def validate_cmd(opts: GlobalOptions) -> int:
    """Check the shipped documents offline (schema, parameters, size, reserved exit codes)."""
    from ircli.liveresponse.deploy import validate_shipped

    reports = validate_shipped()
    ok = all(r["ok"] for r in reports)
    if opts.json:
        emit_json({"ok": ok, "documents": reports})
    else:
        for report in reports:
            mark = "ok" if report["ok"] else "FAIL"
            click.echo(f"{mark}: {report['name']} ({report['json_bytes']} bytes as JSON, "
                       f"{report['path']})")
            for problem in report["problems"]:
                click.echo(f"     - {problem}")
    return int(ExitCode.OK if ok else ExitCode.USER)


@ssm_docs_group.command("deploy")
@click.option("--os", "platform", type=click.Choice(["all", "linux", "windows"]), default="all",
              show_default=True, help="Which document to deploy.")
@click.option("--dry-run", is_flag=True, help="Say what would change; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (for playbooks).")
@global_options
@click.pass_obj
def deploy_cmd(opts: GlobalOptions, platform: str, dry_run: bool, yes: bool) -> int:
    """Create the documents, or make the shipped content their default version. Idempotent.

    On a terminal it shows what would change and asks; scripts pass --yes. Nothing to change:
    nothing to ask.
    """
    from ircli.cli.confirm import confirm_or_refuse
    from ircli.liveresponse.deploy import PLATFORMS, deploy

    aws = aws_session(opts)
    platforms = PLATFORMS if platform == "all" else (platform,)
    if not dry_run and not yes:
        planned = deploy(aws.client, platforms, dry_run=True)
        if any(r["action"] != "unchanged" for r in planned):
            if not opts.json:
                for report in planned:
                    click.echo(f"{report['name']}: {_said(report)}", err=True)
            confirm_or_refuse(f"Change the SSM documents in {aws.region} now?", yes)
    reports = deploy(aws.client, platforms, dry_run=dry_run)
    if opts.json:
        emit_json({"dry_run": dry_run, "documents": reports})
    else:
        for report in reports:
            click.echo(f"{report['name']}: {_said(report)}")
    return int(ExitCode.OK)


def _said(report: dict[str, Any]) -> str:
    """One sentence on what deploy did (or, in a dry-run, would do) to one document."""
    would = report["dry_run"] and report["action"] != "unchanged"
    version, was = report["version"], report["default_version"]
    said = {
        "create": f"created (version {version})",
        "update": f"added the shipped content as version {version}, now the default "
                  f"(was {was})",
        "set-default": f"made version {version}, which holds the shipped content, the default "
                       f"(was {was})",
        "unchanged": f"unchanged: default version {was} is the shipped content",
    }[report["action"]]
    return f"would change: {'; '.join(report['changes'])}" if would else said


@ssm_docs_group.command("list")
@global_options
@click.pass_obj
def list_cmd(opts: GlobalOptions) -> int:
    """The ircli documents in this account and region, and whether they match the shipped."""
    from ircli.liveresponse.deploy import list_documents

    rows = list_documents(aws_session(opts).client("ssm"))
    if opts.json:
        emit_json({"documents": rows})
        return int(ExitCode.OK)
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("Document", "Default", "Latest", "Matches shipped", "Deploy would"):
        table.add_column(column)
    for row in rows:
        matches = {True: "yes", False: "[yellow]no[/]", None: "-"}[row["matches_shipped"]]
        table.add_row(row["name"], str(row["default_version"] or "-"),
                      str(row.get("latest_version") or "-"),
                      matches if row["deployed"] else "[yellow]not deployed[/]", row["action"])
    Console(highlight=False, soft_wrap=True).print(table)
    return int(ExitCode.OK)
