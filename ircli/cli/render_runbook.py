"""How runbooks, step schemas and validation results look, as text or one JSON document."""

from __future__ import annotations

from ircli.cli.options import GlobalOptions
from ircli.cli.plaintext import PlainConsole, console, plain, styled
from ircli.cli.render import emit_json
from ircli.core.step import STEPS, Step
from ircli.runbook.kinds import KINDS
from ircli.runbook.model import Runbook
from ircli.runbook.schema import step_schema


def _console() -> PlainConsole:
    return console()


def render_list(opts: GlobalOptions, runbooks: list[Runbook]) -> None:
    if opts.json:
        emit_json({"runbooks": [r.to_dict() for r in runbooks]})
        return
    out = _console()
    for r in runbooks:
        source = r.source + (f", replaces {r.overrides}" if r.overrides else "")
        state = "" if r.valid else plain(" ", styled(f"invalid: {len(r.errors)} problem(s)",
                                                      "red"))
        out.print(plain(styled(r.name, "bold"), f" ({r.target or '?'}, {source})", state))
        types = ", ".join(_pattern(p.pattern, p.resource_role) for p in r.finding_types)
        out.print(f"    answers: {types or '-'}")
        out.print(f"    steps:   {', '.join([*_preamble(r), *(s.name for s in r.steps)])}")


def _pattern(pattern: str, role: str | None) -> str:
    return f"{pattern} (resource {role})" if role else pattern


def render_show(opts: GlobalOptions, runbook: Runbook) -> None:
    if opts.json:
        emit_json({**runbook.to_dict(), "preamble": list(_preamble(runbook))})
        return
    out = _console()
    out.rule(plain(f"runbook {runbook.name}"))
    out.print(runbook.description)
    kind = KINDS.get(runbook.target)
    out.print(f"File:    {runbook.path} ({runbook.source})")
    out.print(f"Target:  {kind.label if kind else runbook.target}")
    for p in runbook.finding_types:
        out.print(f"Answers: {_pattern(p.pattern, p.resource_role)}")
    number = 0
    for name in _preamble(runbook):
        number += 1
        out.print(plain(f"{number:>3}. {name:<22} ",
                        styled(f"(always first: {STEPS[name].title})", "dim")))
    for spec in runbook.steps:
        number += 1
        args = ", ".join(f"{k}={v!r}" for k, v in spec.args.items())
        title = STEPS[spec.name].title if spec.name in STEPS else "not registered"
        out.print(f"{number:>3}. {spec.name:<22} {title}{f' ({args})' if args else ''}")
    for error in runbook.errors:
        out.print(plain(styled("Invalid:", "red"), f" {error}"))


def _preamble(runbook: Runbook) -> tuple[str, ...]:
    kind = KINDS.get(runbook.target)
    return kind.preamble if kind else ()


def render_steps(opts: GlobalOptions, steps: list[type[Step]]) -> None:
    schemas = [step_schema(cls) for cls in steps]
    if opts.json:
        emit_json({"steps": [{**s.to_dict(), "targets": _kinds(s.name)} for s in schemas]})
        return
    out = _console()
    for schema in schemas:
        out.print(plain(styled(schema.name, "bold"), f" — {schema.title} ", styled(
            f"({', '.join(_kinds(schema.name)) or 'not for runbooks'})", "dim")))
        out.print(f"    {schema.description}")
        for name, arg in schema.args.items():
            default = "required" if arg.required else f"default {arg.default!r}"
            doc = f" — {arg.description}" if arg.description else ""
            out.print(f"    {name}: {arg.describe()} ({default}){doc}")


def _kinds(step: str) -> list[str]:
    return [k.name for k in KINDS.values() if step in k.steps]


def render_validation(opts: GlobalOptions, runbooks: list[Runbook]) -> None:
    if opts.json:
        emit_json({"valid": all(r.valid for r in runbooks),
                   "runbooks": [{"name": r.name, "file": str(r.path), "valid": r.valid,
                                 "errors": [e.to_dict() for e in r.errors]} for r in runbooks]})
        return
    out = _console()
    for r in runbooks:
        if r.valid:
            out.print(plain(styled("ok", "green"), f"      {r.path}"))
            continue
        out.print(plain(styled("invalid", "red"), f" {r.path}"))
        for error in r.errors:
            out.print(f"  {error.path}:{error.line}: {error.message}")
            if error.fix:
                out.print(f"    → {error.fix}")

