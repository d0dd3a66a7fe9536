"""`ircli tabletop start|inject|score`: rehearse a breach on the lab, then see how it went."""

from __future__ import annotations

import json

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
    click.echo(f"Exercise {scenario} started at {exercise.started_at}. Your alert:\n")
    click.echo(json.dumps(exercise.alert, indent=2))
    click.echo('\nRespond with ircli commands (first: eval "$(ircli lab env)"); '
               "finish with: ircli tabletop score", err=True)
    return 0


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
    click.echo(f"New alert ({event}) at {record['at']}: {record['finding_file']}\n")
    click.echo(json.dumps(record["alert"], indent=2))
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
