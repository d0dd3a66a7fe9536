"""`ircli lab up|status|env|down|demo`: a local AWS account on the emulator."""

from __future__ import annotations

import click

from ircli.cli.options import GlobalOptions, global_options
from ircli.cli.render import emit_json


@click.group("lab")
@global_options
def lab_group() -> None:
    """A realistic AWS account on this machine (the moto emulator), for rehearsal."""


@lab_group.command("up")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Loopback port for the emulator [default: 4510].")
@click.option("--scenario", default="web-compromise", show_default=True,
              help="What to seed: web-compromise, leaked-key, ssh-brute-force.")
@global_options
@click.pass_obj
def up_cmd(opts: GlobalOptions, port: int | None, scenario: str) -> int:
    """Start the emulator in the background (or reuse the running one) and seed a scenario."""
    from ircli.core.clock import SystemClock
    from ircli.lab.control import DEFAULT_PORT, up

    state, reused = up(port or DEFAULT_PORT, scenario, SystemClock())
    if port and reused and port != state.port:
        click.echo(f"Note: the lab already runs on port {state.port}; reusing it.", err=True)
    if opts.json:
        emit_json({**state.to_dict(), "reused": reused})
        return 0
    click.echo(f"{'Reusing' if reused else 'Started'} the ircli lab at {state.endpoint} "
               f"(pid {state.pid}).")
    for seeded in state.scenarios:
        click.echo(f"  scenario {seeded['scenario']}: alert in "
                   f"{', '.join(seeded['finding_files'])}")
    click.echo('Point ircli and the AWS CLI at it:  eval "$(ircli lab env)"')
    click.echo("Stop it with:                      ircli lab down")
    return 0


@lab_group.command("env")
@global_options
def env_cmd() -> int:
    """Print the shell exports that point AWS tools at the running lab."""
    from ircli.core.errors import UserError
    from ircli.lab.control import env_lines, running

    state = running()
    if state is None:
        raise UserError("No ircli lab is running.", "Start one with: ircli lab up")
    click.echo("\n".join(env_lines(state)))
    return 0


@lab_group.command("status")
@global_options
@click.pass_obj
def status_cmd(opts: GlobalOptions) -> int:
    """Is a lab running, where, and what it holds."""
    from ircli.lab.control import running

    state = running()
    if opts.json:
        emit_json({"running": state is not None, **(state.to_dict() if state else {})})
        return 0
    if state is None:
        click.echo("No ircli lab is running.")
        return 0
    click.echo(f"ircli lab running at {state.endpoint} (pid {state.pid}) since "
               f"{state.started_at}")
    for seeded in state.scenarios:
        click.echo(f"  {seeded['scenario']}: {seeded['resources']}")
    return 0


@lab_group.command("down")
@global_options
def down_cmd() -> int:
    """Stop the lab; no process is left behind."""
    from ircli.lab.control import down

    click.echo("Stopped the ircli lab." if down() else "No ircli lab was running.")
    return 0
