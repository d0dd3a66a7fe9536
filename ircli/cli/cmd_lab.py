"""`ircli lab up|status|env|down|demo`: a local AWS account on the emulator."""

from __future__ import annotations

import click

from ircli.cli.options import GlobalOptions, global_options
from ircli.cli.output import emit_json


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
@click.pass_obj
def env_cmd(opts: GlobalOptions) -> int:
    """Print the shell exports that point AWS tools at the running lab.

    Without a usable lab it exits 2 and prints `false` on stdout, so `eval "$(ircli lab env)"`
    fails too instead of leaving the shell pointed wherever it pointed before.
    """
    from ircli.lab.control import env_lines, probe

    found = probe()
    if not found.running or found.state is None:
        if not opts.json:
            click.echo("false  # ircli lab env: no usable lab, nothing exported (see stderr)")
        raise found.error()
    click.echo("\n".join(env_lines(found.state)))
    return 0


@lab_group.command("status")
@global_options
@click.pass_obj
def status_cmd(opts: GlobalOptions) -> int:
    """Is a lab running, where, and what it holds."""
    from ircli.lab.control import probe

    found = probe()
    state = found.state if found.process_alive else None
    if opts.json:
        emit_json({"running": found.running, "process_alive": found.process_alive,
                   "answering": found.answering, **(state.to_dict() if state else {})})
        return 0
    if state is None:
        click.echo("No ircli lab is running.")
        return 0
    if not found.answering:
        click.echo(f"ircli lab process {state.pid} is running but {state.endpoint} did not "
                   f"answer within {found.waited:.0f} s (busy?). Stop it with: ircli lab down")
        return 0
    click.echo(f"ircli lab running at {state.endpoint} (pid {state.pid}) since "
               f"{state.started_at}")
    for seeded in state.scenarios:
        click.echo(f"  scenario {seeded['scenario']}:")
        for key, value in seeded["resources"].items():
            shown = ", ".join(map(str, value)) if isinstance(value, list) else value
            click.echo(f"    {key.replace('_', ' '):<18} {shown}")
        for path in seeded.get("finding_files") or []:
            click.echo(f"    {'alert':<18} {path}")
    return 0


@lab_group.command("down")
@global_options
def down_cmd() -> int:
    """Stop the lab; no process is left behind."""
    from ircli.lab.control import down

    click.echo("Stopped the ircli lab." if down() else "No ircli lab was running.")
    return 0


@lab_group.command("demo")
@click.option("--sections", default="all", show_default=True,
              help="Collector sections to run (e.g. system,processes,sockets for a quick look).")
@global_options
@click.pass_obj
def demo_cmd(opts: GlobalOptions, sections: str) -> int:
    """The main job end to end: triage → contain → collect → verify, on a throw-away lab."""
    from ircli.cli.plaintext import plain, styled
    from ircli.cli.render import Progress
    from ircli.core.clock import SystemClock
    from ircli.lab.demo import run_demo

    progress = Progress(opts)

    def emit(kind: str, data: dict[str, object]) -> None:
        if kind == "stage":
            progress.console.print(plain(styled(f"▶ {data['stage']}", "bold"),
                                         f": {data['detail']}"))
        else:
            progress(kind, data)

    result = run_demo(SystemClock(), emit, sections=sections)
    if opts.json:
        emit_json({"summary": result.summary, "stages": result.stages, "run": result.run})
        return result.exit_code
    _print_summary(result.summary)
    return result.exit_code


def _print_summary(s: dict[str, object]) -> None:
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    c: dict[str, object] = s["compromised"]  # type: ignore[assignment]
    ev: dict[str, object] = s["evidence"]  # type: ignore[assignment]
    col: dict[str, object] = s["collection"]  # type: ignore[assignment]
    console.rule("ircli lab demo — what happened")
    console.print(f"[bold]Compromised:[/] {c['name']} ({c['instance_id']}), a web server in "
                  f"Auto Scaling group {c['auto_scaling_group']}")
    console.print(f"[bold]Alert:[/] {c['finding']} (severity {c['severity']}): "
                  f"{c['what_happened']}")
    console.print(f"[bold]Runbook:[/] {s['runbook']} (case {s['case_id']}) — {s['status']}")
    console.print("[bold]What ircli did:[/]")
    for line in s["did"]:  # type: ignore[attr-defined]
        console.print(f"  • {line}")
    if s.get("seconds_to_isolation") is not None:
        console.print(f"[bold]Time to isolation:[/] {s['seconds_to_isolation']:.2f} s after "
                      f"the response started ({s['api_calls_to_isolation']} API calls)")
    if col.get("key"):
        size = int(col["size"])  # type: ignore[call-overload]
        console.print(f"[bold]Live evidence:[/] {size / 1e6:.1f} MB archive, sha256 "
                      f"{col['sha256']}")
    if s.get("collected_from"):
        console.print("[bold]Collected from:[/] ", end="")
        console.print(str(s["collected_from"]), markup=False)
    if s.get("evidence_shows"):
        console.print("[bold]Evidence shows:[/]")
        for line in s["evidence_shows"]:  # type: ignore[attr-defined]
            console.print(f"  • collected: {line}", markup=False)  # host-written text: plain
    verdict = "[green]verified[/]" if ev["verified"] else "[red]MISMATCHES[/]"
    console.print(f"[bold]Evidence:[/] {ev['bucket_prefix']} — {ev['objects']} object(s), "
                  f"{verdict} (hashes, versions, retention, audit chain)")
    console.print(f"  a copy is kept at {ev['local_copy']} (the emulator's bucket is gone)")
    console.print(f"[bold]Case record:[/] {s['case_dir']}")
    console.print(f"The neighbour {s['neighbour_untouched']} kept serving; the emulator is "
                  "stopped and nothing is left running.")
    console.print("Next: `ircli lab up` to explore the account yourself, or "
                  "`ircli tabletop start web-compromise` to rehearse.")
