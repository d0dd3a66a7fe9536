"""Start-up: help, version and completion load the click layer only (no boto3, botocore, rich).

Each check runs in a fresh interpreter, so what earlier tests imported does not count.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from ircli.cli.main import _COMMANDS, cli

HEAVY = ("boto3", "botocore", "rich", "jmespath", "yaml")
REPO = Path(__file__).resolve().parents[2]

_WRAPPER = """
import json, sys
from ircli.cli.main import main
try:
    main(json.loads(sys.argv[1]))
except SystemExit:
    pass
sys.stderr.write(json.dumps(sorted(sys.modules)))
"""


def run_ircli(args: list[str], env: dict[str, str] | None = None) -> tuple[list[str], str]:
    """Every module `ircli ARGS` leaves in sys.modules, and what it printed."""
    environ = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    proc = subprocess.run([sys.executable, "-c", _WRAPPER, json.dumps(args)],
                          capture_output=True, text=True, env=environ, timeout=60, check=True)
    return json.loads(proc.stderr.splitlines()[-1]), proc.stdout


def loaded(args: list[str], env: dict[str, str] | None = None) -> tuple[set[str], str]:
    """The top-level packages `ircli ARGS` leaves in sys.modules, and what it printed."""
    modules, out = run_ircli(args, env)
    return {m.split(".")[0] for m in modules}, out


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["contain", "--help"],
                                  ["case", "list", "--help"], ["runbook", "run", "--help"]])
def test_help_and_version_import_no_aws_or_rendering_library(args: list[str]) -> None:
    modules, out = loaded(args)
    assert out  # it did print its help or version
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


@pytest.mark.parametrize("command", sorted(_COMMANDS))
def test_every_command_help_is_light(command: str) -> None:
    modules, out = loaded([command, "--help"])
    assert f"Usage: ircli {command}" in out
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


_EVERY_HELP = """
import contextlib, io, json, sys
import click
from ircli.cli.main import cli, main

def paths(group, prefix):
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        yield [*prefix, name]
        if isinstance(command, click.Group):
            yield from paths(command, [*prefix, name])

seen = []
for path in list(paths(cli, [])):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            main([*path, "--help"])
        except SystemExit:
            pass
    seen.append(path)
sys.stderr.write(json.dumps({"helped": seen, "modules": sorted(sys.modules)}))
"""


def test_the_help_of_every_subcommand_together_stays_light() -> None:
    """All of them in one process: if all together load no AWS or rendering library, none
    does alone."""
    environ = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", _EVERY_HELP], capture_output=True, text=True,
                          env=environ, timeout=120, check=True)
    result = json.loads(proc.stderr.splitlines()[-1])
    assert ["evidence", "verify"] in result["helped"] and ["analyst", "launch"] in result["helped"]
    assert len(result["helped"]) > 30
    modules = {m.split(".")[0] for m in result["modules"]}
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


def test_group_help_lists_every_command_with_its_own_short_help() -> None:
    modules, out = run_ircli(["--help"])
    assert not [m for m in modules if m.startswith("ircli.cli.cmd_")]  # none imported
    for name, entry in _COMMANDS.items():
        assert len(entry) == 3, f"{name}: keep its short help in the registry"
        module, attr, short = entry
        command: click.Command = getattr(importlib.import_module(module), attr)
        assert short == command.get_short_help_str(limit=300), name
        assert name in out



def complete(words: str, cword: int) -> tuple[set[str], list[str]]:
    """Bash completion of ``words`` at word ``cword``: (modules loaded, candidates)."""
    env = {"_IRCLI_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    modules, out = loaded([], env)
    return modules, [line.split(",", 1)[1] for line in out.splitlines() if "," in line]


def test_shell_completion_lists_commands_without_importing_them() -> None:
    modules, names = complete("ircli co", 1)
    assert names == ["collect", "contain"]
    assert not modules & set(HEAVY)


def test_shell_completion_of_case_ids_from_the_cases_on_this_machine(aws_env: Path) -> None:
    for case_id in ("ir-20261201-090000-beef", "ir-20261130-120000-cafe"):
        (aws_env / "cases" / case_id).mkdir(parents=True)
        (aws_env / "cases" / case_id / "case.json").write_text(json.dumps({"case_id": case_id}))
    (aws_env / "cases" / "not-a-case").mkdir()  # no case.json: not offered
    modules, names = complete("ircli case show ", 3)
    assert names == ["ir-20261201-090000-beef", "ir-20261130-120000-cafe"]
    assert not modules & set(HEAVY)
    _modules, names = complete("ircli contain i-0abc --case-id ir-202611", 4)
    assert names == ["ir-20261130-120000-cafe"]


def test_shell_completion_of_runbook_names_shipped_and_mine(tmp_path: Path) -> None:
    mine = tmp_path / "books"
    mine.mkdir()
    (mine / "whatever.yaml").write_text("name: my-playbook\ntarget: instance\n")
    modules, names = complete(f"ircli runbook run --runbooks-dir {mine} ", 5)
    assert {"ec2-compromise", "iam-key-compromise", "my-playbook"} <= set(names)
    assert not modules & set(HEAVY)
    _modules, names = complete("ircli runbook show ec2", 3)
    assert names == ["ec2-compromise"]


def test_registry_names_exactly_the_commands() -> None:
    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == sorted(_COMMANDS)
    assert cli.get_command(ctx, "no-such-command") is None
