"""How runbooks, step schemas and validation results look, as text or one JSON document."""

from __future__ import annotations

import sys

from rich.console import Console

from ircli.cli.options import GlobalOptions
from ircli.cli.render import emit_json
from ircli.runbook.kinds import KINDS
from ircli.runbook.model import Runbook
from ircli.runbook.schema import step_schema
from ircli.steps.base import STEPS, Step


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True, file=sys.stdout)


def render_list(opts: GlobalOptions, runbooks: list[Runbook]) -> None:
    if opts.json:
        emit_json({"runbooks": [r.to_dict() for r in runbooks]})
        return
    console = _console()
    for r in runbooks:
        source = r.source + (f", replaces {r.overrides}" if r.overrides else "")
        state = "" if r.valid else f" [red]invalid: {len(r.errors)} problem(s)[/]"
        console.print(f"[bold]{r.name}[/] ({r.target or '?'}, {source}){state}")
        types = ", ".join(_pattern(p.pattern, p.resource_role) for p in r.finding_types)
        console.print(f"    answers: {types or '-'}")
        console.print(f"    steps:   {', '.join([*_preamble(r), *(s.name for s in r.steps)])}")


def _pattern(pattern: str, role: str | None) -> str:
    return f"{pattern} (resource {role})" if role else pattern


def render_show(opts: GlobalOptions, runbook: Runbook) -> None:
    if opts.json:
        emit_json({**runbook.to_dict(), "preamble": list(_preamble(runbook))})
        return
    console = _console()
    console.rule(f"runbook {runbook.name}")
    console.print(runbook.description)
    kind = KINDS.get(runbook.target)
    console.print(f"File:    {runbook.path} ({runbook.source})")
    console.print(f"Target:  {kind.label if kind else runbook.target}")
    for p in runbook.finding_types:
        console.print(f"Answers: {_pattern(p.pattern, p.resource_role)}")
    number = 0
    for name in _preamble(runbook):
        number += 1
        console.print(f"{number:>3}. {name:<22} [dim](always first: {STEPS[name].title})[/]")
    for spec in runbook.steps:
        number += 1
        args = ", ".join(f"{k}={v!r}" for k, v in spec.args.items())
        title = STEPS[spec.name].title if spec.name in STEPS else "not registered"
        console.print(f"{number:>3}. {spec.name:<22} {title}{f' ({args})' if args else ''}")
    for error in runbook.errors:
        console.print(f"[red]Invalid:[/] {error}")


def _preamble(runbook: Runbook) -> tuple[str, ...]:
    kind = KINDS.get(runbook.target)
    return kind.preamble if kind else ()


def render_steps(opts: GlobalOptions, steps: list[type[Step]]) -> None:
    schemas = [step_schema(cls) for cls in steps]
    if opts.json:
        emit_json({"steps": [{**s.to_dict(), "targets": _kinds(s.name)} for s in schemas]})
        return
    console = _console()
    for schema in schemas:
        console.print(f"[bold]{schema.name}[/] — {schema.title} "
                      f"[dim]({', '.join(_kinds(schema.name)) or 'not for runbooks'})[/]")
        console.print(f"    {schema.description}")
        for name, arg in schema.args.items():
            default = "required" if arg.required else f"default {arg.default!r}"
            doc = f" — {arg.description}" if arg.description else ""
            console.print(f"    {name}: {arg.describe()} ({default}){doc}")


def _kinds(step: str) -> list[str]:
    return [k.name for k in KINDS.values() if step in k.steps]


def render_validation(opts: GlobalOptions, runbooks: list[Runbook]) -> None:
    if opts.json:
        emit_json({"valid": all(r.valid for r in runbooks),
                   "runbooks": [{"name": r.name, "file": str(r.path), "valid": r.valid,
                                 "errors": [e.to_dict() for e in r.errors]} for r in runbooks]})
        return
    console = _console()
    for r in runbooks:
        if r.valid:
            console.print(f"[green]ok[/]      {r.path}")
            continue
        console.print(f"[red]invalid[/] {r.path}")
        for error in r.errors:
            console.print(f"  {error.path}:{error.line}: {error.message}")
            if error.fix:
                console.print(f"    → {error.fix}")

