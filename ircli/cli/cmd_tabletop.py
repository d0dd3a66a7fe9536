"""`ircli tabletop start|inject|score`: rehearse a breach on the lab, then see how it went."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ircli.cli.options import GlobalOptions, global_options
from ircli.cli.output import emit_json


@click.group("tabletop")
@global_options
def tabletop_group() -> None:
    """Run a tabletop exercise on the local lab: an alert, your response, a scorecard."""


@tabletop_group.command("start")
@click.argument("scenario")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port for the lab if it is not running yet [default: 4510].")
@global_options
@click.pass_obj
def start_cmd(opts: GlobalOptions, scenario: str, port: int | None) -> int:
    """Seed SCENARIO into a clean lab, start the clock, and show the alert — nothing else."""
    from ircli.core.clock import SystemClock
    from ircli.lab.control import DEFAULT_PORT
    from ircli.lab.tabletop import start

    exercise = start(scenario, SystemClock(), port or DEFAULT_PORT)
    if opts.json:
        emit_json({"scenario": scenario, "started_at": exercise.started_at,
                   "alert": exercise.alert})
        return 0
    path = _alert_file(f"tabletop-{scenario}", exercise.alert)
    click.echo(f"Exercise {scenario} started at {exercise.started_at}. Your alert:\n")
    for line in alert_summary(exercise.alert, path):
        click.echo(line)
    click.echo('\nRespond with ircli commands (first: eval "$(ircli lab env)"); '
               "finish with: ircli tabletop score", err=True)
    return 0


def _alert_file(name: str, alert: dict[str, Any]) -> Path:
    """The whole finding, as GuardDuty exports it, in a file for `ircli triage`."""
    from ircli.lab.control import lab_dir

    path = lab_dir() / "findings" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(alert, indent=2) + "\n")
    return path


def alert_summary(alert: dict[str, Any], path: Path | str) -> list[str]:
    """A GuardDuty finding in a few lines a responder reads at a glance (plain text: the
    finding's fields are attacker-influenced)."""
    resource = alert.get("resource") or {}
    lines = [f"  {alert.get('type')} — severity {alert.get('severity')}, "
             f"{alert.get('region')}, {alert.get('createdAt')}",
             f"  {alert.get('title')}", f"  {alert.get('description')}"]
    instance = resource.get("instanceDetails")
    key = resource.get("accessKeyDetails")
    if instance:
        tags = {t.get("key"): t.get("value") for t in instance.get("tags") or []}
        name = f" ({tags['Name']})" if tags.get("Name") else ""
        lines.append(f"  Resource: instance {instance.get('instanceId')}{name}, "
                     f"{instance.get('instanceType')}, {instance.get('instanceState')}")
    elif key:
        lines.append(f"  Resource: access key {key.get('accessKeyId')} of "
                     f"{key.get('userType')} {key.get('userName')}")
    action = (alert.get("service") or {}).get("action") or {}
    detail = action.get("networkConnectionAction") or action.get("awsApiCallAction") or {}
    remote = detail.get("remoteIpDetails") or {}
    if remote:
        where = ", ".join(str(v) for v in ((remote.get("country") or {}).get("countryName"),
                                           (remote.get("organization") or {}).get("org")) if v)
        port = (detail.get("remotePortDetails") or {}).get("port")
        lines.append(f"  Remote: {remote.get('ipAddressV4')}{':' + str(port) if port else ''}"
                     f"{' (' + where + ')' if where else ''}")
    lines += [f"  Full finding: {path}", f"  Triage it:    ircli triage {path}"]
    return lines


@tabletop_group.command("inject")
@click.argument("event", type=click.Choice(["beaconing", "new-access-key"]))
@global_options
@click.pass_obj
def inject_cmd(opts: GlobalOptions, event: str) -> int:
    """Add a complication mid-exercise (a second instance beacons; a new access key appears)."""
    from ircli.core.clock import SystemClock
    from ircli.lab.tabletop import inject

    record = inject(event, SystemClock())
    if opts.json:
        emit_json(record)
        return 0
    click.echo(f"New alert ({event}) at {record['at']}:\n")
    for line in alert_summary(record["alert"], record["finding_file"]):
        click.echo(line)
    return 0


@tabletop_group.command("score")
@global_options
@click.pass_obj
def score_cmd(opts: GlobalOptions) -> int:
    """The scorecard: each objective met or missed, and the time from the alert."""
    from ircli.core.clock import SystemClock
    from ircli.lab.tabletop import score

    card = score(SystemClock())
    if opts.json:
        emit_json(card)
        return 0
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    table = Table(title=f"Tabletop {card['scenario']}: {card['met']}/{card['total']} "
                  "objectives met", header_style="bold", box=None)
    for column in ("", "Objective", "After", "Detail"):
        table.add_column(column)
    for o in card["objectives"]:
        after = f"{o['after_seconds']:.0f} s" if o["after_seconds"] is not None else ""
        table.add_row("[green]✓[/]" if o["met"] else "[red]✗[/]", o["description"], after,
                      o["detail"])
    console.print(table)
    if card["seconds_to_isolation"] is not None:
        console.print(f"Alert to isolation: {card['seconds_to_isolation']:.0f} s")
    return 0
