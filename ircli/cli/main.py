"""Entry point: the command group, lazy subcommands, and the one error boundary.

Exit codes (README, "Exit codes"): 0 done, 2 user input or situation, 3 partial, 4 not
contained, 5 not collected (live response gave no verified evidence), 1 an unexpected error
(a bug in ircli).
"""

from __future__ import annotations

import importlib
import sys
import traceback
from typing import Any

import click

from ircli import __version__
from ircli.cli.options import GlobalOptions, global_options
from ircli.core.errors import ExitCode, IrcliError

_COMMANDS = {
    "contain": ("ircli.cli.cmd_contain", "contain_cmd"),
    "release": ("ircli.cli.cmd_release", "release_cmd"),
    "case": ("ircli.cli.cmd_case", "case_group"),
    "policy": ("ircli.cli.cmd_policy", "policy_cmd"),
    "disable-keys": ("ircli.cli.cmd_identity", "disable_keys_cmd"),
    "revoke-sessions": ("ircli.cli.cmd_identity", "revoke_sessions_cmd"),
    "evidence": ("ircli.cli.cmd_evidence", "evidence_group"),
    "lab": ("ircli.cli.cmd_lab", "lab_group"),
    "tabletop": ("ircli.cli.cmd_tabletop", "tabletop_group"),
    "collect": ("ircli.cli.cmd_collect", "collect_cmd"),
    "ssm-docs": ("ircli.cli.cmd_ssm_docs", "ssm_docs_group"),
    "analyst": ("ircli.cli.cmd_analyst", "analyst_group"),
    "runbook": ("ircli.cli.cmd_runbook", "runbook_group"),
    "triage": ("ircli.cli.cmd_triage", "triage_cmd"),
    "block-ip": ("ircli.cli.cmd_block", "block_ip_cmd"),
    "unblock-ip": ("ircli.cli.cmd_block", "unblock_ip_cmd"),
}


class LazyGroup(click.Group):
    """Imports a subcommand only when it runs, so `ircli --help` stays fast."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _COMMANDS:
            return None
        module, attr = _COMMANDS[cmd_name]
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        stdout_before = _stdout_identity()
        try:
            return super().invoke(ctx)
        except BrokenPipeError as err:  # click would turn it into a silent exit 1
            raise _OutputClosed from err
        except SystemExit as err:
            # rich answers a broken pipe by pointing stdout at /dev/null and exiting 1
            now = _stdout_identity()
            if err.code == 1 and now != stdout_before and now == _devnull_identity():
                raise _OutputClosed from err
            raise


def _stdout_identity() -> tuple[int, int] | None:
    """Which file descriptor 1 is (device, inode)."""
    import os

    try:
        found = os.fstat(1)
    except OSError:
        return None
    return found.st_dev, found.st_ino


def _devnull_identity() -> tuple[int, int]:
    import os

    found = os.stat(os.devnull)
    return found.st_dev, found.st_ino


class _OutputClosed(Exception):
    """The reader of stdout went away (``ircli … | head``)."""


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="ircli")
@global_options
def cli() -> None:
    """ircli: incident response for AWS — contain, collect, disable credentials."""


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and turn every outcome into a documented exit code."""
    args = sys.argv[1:] if argv is None else argv
    ctx_obj = GlobalOptions()
    try:
        result = cli.main(args=args, prog_name="ircli", standalone_mode=False, obj=ctx_obj)
    except _OutputClosed:
        _output_closed()
    except click.exceptions.Abort:
        _fail(ctx_obj, IrcliError("Aborted; nothing more was changed."), ExitCode.USER)
    except click.ClickException as err:
        err.show()
        sys.exit(ExitCode.USER if err.exit_code == 2 else err.exit_code)
    except KeyboardInterrupt:
        _fail(ctx_obj, IrcliError(
            "Interrupted.", "Run the same command again: the case keeps what was done and the "
            "run picks up where it stopped."), 130)
    except Exception as err:
        from ircli.core.awserrors import translate

        known = translate(err)
        if known is None:
            _bug(ctx_obj, err)
        else:
            _fail(ctx_obj, known, known.exit_code)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _output_closed()
    sys.exit(int(result) if isinstance(result, int) else 0)


def _output_closed() -> None:
    """Like a tool killed by SIGPIPE: no traceback, no message (the reader chose to stop),
    exit 141 (128 + SIGPIPE) so a pipeline with `set -o pipefail` still sees it."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # the interpreter's last flush must not fail again
    sys.exit(141)


def _fail(opts: GlobalOptions, err: IrcliError, code: int) -> None:
    if opts.json:
        import json

        click.echo(json.dumps({"error": err.to_dict() | {"exit_code": int(code)}}, indent=2))
    click.echo(f"ircli: error: {err.message}", err=True)
    if err.remediation:
        click.echo(f"  → {err.remediation}", err=True)
    sys.exit(code)


def _bug(opts: GlobalOptions, err: BaseException) -> None:
    if opts.json:
        import json

        click.echo(json.dumps({"error": {"type": "bug", "message": repr(err),
                                         "exit_code": int(ExitCode.BUG)}}))
    click.echo("ircli: unexpected error — this is a bug in ircli, please report it with the "
               "traceback below.", err=True)
    click.echo("".join(traceback.format_exception(err)), err=True)
    sys.exit(ExitCode.BUG)


def aws_session(opts: GlobalOptions, case_id: str | None = None) -> Any:
    """The session factory, configured from the global options and the environment."""
    from ircli.core.session import AwsSession, AwsSettings

    settings = AwsSettings(profile=opts.profile, region=opts.region, role_arn=opts.role_arn,
                           session_label=f"ircli-{case_id}" if case_id else "ircli")
    aws = AwsSession(settings)
    if opts.verbose >= 2:
        aws.observers.append(_log_call)
    return aws


def _log_call(call: Any) -> None:
    """-vv: one stderr line per AWS call (parameters already scrubbed of secrets)."""
    outcome = call.error_code or "ok"
    click.echo(f"  aws {call.service}:{call.operation} {outcome} {call.duration * 1000:.0f} ms",
               err=True)
