"""Entry point: the command group, lazy subcommands, and the one error boundary.

Exit codes (README, "Exit codes"): 0 done, 2 user input or situation, 3 partial, 4 not
contained, 5 not collected (live response gave no verified evidence), 1 an unexpected error
(a bug in ircli).
"""

from __future__ import annotations

import copy
import importlib
import sys
import traceback
from typing import Any

import click

from ircli import __version__
from ircli.cli.options import GlobalOptions, global_options
from ircli.core.errors import ExitCode, Interrupted, IrcliError
from ircli.core.heap import collect_less_often

# name: (module, attribute, short help). The short help lives here so that `ircli --help` and
# shell completion list the commands without importing them (a test keeps it equal to each
# command's own); a command module is imported only when that command is used.
_COMMANDS: dict[str, tuple[str, ...]] = {
    "contain": ("ircli.cli.cmd_contain", "contain_cmd",
                "Isolate a compromised EC2 instance and keep it as evidence."),
    "release": ("ircli.cli.cmd_release", "release_cmd",
                "Undo containment exactly as the case recorded it (snapshots stay)."),
    "case": ("ircli.cli.cmd_case", "case_group",
             "Read the cases recorded on this machine (under IRCLI_HOME)."),
    "policy": ("ircli.cli.cmd_policy", "policy_cmd",
               "Print the IAM policy ircli needs (JSON, ready for `aws iam create-policy`)."),
    "disable-keys": ("ircli.cli.cmd_identity", "disable_keys_cmd",
                     "Shut out a leaked access key: deactivate, deny all, drop the login, keep "
                     "the evidence."),
    "revoke-sessions": ("ircli.cli.cmd_identity", "revoke_sessions_cmd",
                        "Deny every session of a role issued before now (affects every holder of "
                        "the role)."),
    "evidence": ("ircli.cli.cmd_evidence", "evidence_group",
                 "The evidence bucket (Object Lock, locked-down policy) and case custody in it."),
    "lab": ("ircli.cli.cmd_lab", "lab_group",
            "A realistic AWS account on this machine (the moto emulator), for rehearsal."),
    "tabletop": ("ircli.cli.cmd_tabletop", "tabletop_group",
                 "Run a tabletop exercise on the local lab: an alert, your response, a scorecard."),
    "collect": ("ircli.cli.cmd_collect", "collect_cmd",
                "Run the live-response collector on an instance and keep its verified archive."),
    "ssm-docs": ("ircli.cli.cmd_ssm_docs", "ssm_docs_group",
                 "The live-response SSM documents: check them offline, deploy them, compare them."),
    "analyst": ("ircli.cli.cmd_analyst", "analyst_group",
                "The analyst workstation: reads the case's evidence, mounts copies of its disks."),
    "runbook": ("ircli.cli.cmd_runbook", "runbook_group",
                "Runbooks as code: playbooks of registered steps, started by name or from a "
                "finding."),
    "triage": ("ircli.cli.cmd_triage", "triage_cmd",
               "Read GuardDuty findings: what happened, on what, where, and the runbook's plan."),
    "block-ip": ("ircli.cli.cmd_block", "block_ip_cmd",
                 "Deny an address in and out in network ACLs for a while (24 h by default)."),
    "unblock-ip": ("ircli.cli.cmd_block", "unblock_ip_cmd",
                   "Lift ircli's blocks of an address now (entries that are not ircli's stay)."),
    "accounts": ("ircli.cli.cmd_accounts", "accounts_group",
                 "The account inventory (from AWS Organizations) and the role ircli assumes in "
                 "each."),
    "forensics": ("ircli.cli.cmd_forensics", "forensics_group",
                  "The forensics account: where every member account's snapshots, cases and "
                  "analysts go."),
    "locate": ("ircli.cli.cmd_locate", "locate_cmd",
               "Find TARGET across accounts × regions: exit 0 found, 2 nowhere, 3 found with "
               "failures."),
    "automation": ("ircli.cli.cmd_automation", "automation_group",
                   "Runbooks on AWS's own engine: Step Functions, started by GuardDuty via "
                   "EventBridge."),
}


class LazyGroup(click.Group):
    """Imports a subcommand only when it runs, so `ircli --help` stays fast."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _COMMANDS:
            return None
        module, attr = _COMMANDS[cmd_name][:2]
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command

    def registry_help(self, ctx: click.Context, name: str) -> str:
        """From the registry; an entry without one (a test flags it) imports its command."""
        entry = _COMMANDS[name]
        if len(entry) > 2:
            return entry[2]
        command = self.get_command(ctx, name)
        return command.get_short_help_str(limit=300) if command else ""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of `ircli --help`, from the registry (nothing imported)."""
        rows = [(name, self.registry_help(ctx, name)) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def shell_complete(self, ctx: click.Context,
                       incomplete: str) -> list[click.shell_completion.CompletionItem]:
        """Command names with their short help, from the registry; then the options."""
        from click.shell_completion import CompletionItem

        names = [CompletionItem(name, help=self.registry_help(ctx, name))
                 for name in self.list_commands(ctx) if name.startswith(incomplete)]
        if incomplete.startswith("-"):
            names = []
        return names + click.Command.shell_complete(self, ctx, incomplete)

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
@click.pass_obj
def cli(opts: GlobalOptions) -> None:
    """ircli: incident response for AWS — contain, collect, disable credentials."""
    from ircli.cli.output import resolve_default_output

    opts.default_output = resolve_default_output()


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and turn every outcome into a documented exit code."""
    collect_less_often()
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
    except Interrupted as err:  # Ctrl-C inside a run: it says what state it leaves
        _fail(ctx_obj, err, err.exit_code)
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
    from ircli.cli.plain import escape_controls  # messages may quote AWS data

    label = "" if isinstance(err, Interrupted) else "error: "
    click.echo(f"ircli: {label}{escape_controls(err.message)}", err=True)
    if err.remediation:
        click.echo(f"  → {escape_controls(err.remediation)}", err=True)
    sys.exit(code)


def _bug(opts: GlobalOptions, err: BaseException) -> None:
    if opts.json:
        import json

        click.echo(json.dumps({"error": {"type": "bug", "message": repr(err),
                                         "exit_code": int(ExitCode.BUG)}}))
    click.echo("ircli: unexpected error — this is a bug in ircli, please report it with the "
               "traceback below.", err=True)
    from ircli.cli.plaintext import escape_controls

    for line in "".join(traceback.format_exception(err)).splitlines():
        click.echo(escape_controls(line), err=True)
    sys.exit(ExitCode.BUG)


def aws_session(opts: GlobalOptions, case_id: str | None = None,
                target: str | None = None) -> Any:
    """The session factory, configured from the global options and the environment.

    With ``target`` and no --account/--region/--role-arn, a local case that recorded where the
    target lives (account, region, role) decides, so a case contained in a member account is
    collected or released there without repeating the flags.
    """
    from ircli.core.accounts import access_for, check_account_id, recorded_location
    from ircli.core.session import AwsSession, AwsSettings

    if target and not (opts.account or opts.region or opts.role_arn):
        where = recorded_location(target, case_id)
        if where:
            opts = copy.copy(opts)
            opts.region, opts.role_arn = where["region"], where["role_arn"]
            # the account matters only when a role was assumed to reach it
            opts.account = where["account"] if where["role_arn"] else None

    access = access_for(check_account_id(opts.account), opts.role_name) if opts.account \
        else None
    settings = AwsSettings(profile=opts.profile, region=opts.region, role_arn=opts.role_arn,
                           endpoint_url=opts.endpoint_url,
                           account=access.account if access else None,
                           role_name=access.role_name if access else None,
                           external_id=access.external_id if access else None,
                           duration_seconds=access.duration_seconds if access else None,
                           session_label=f"ircli-{case_id}" if case_id else "ircli")
    from ircli.cli.endpoint_probe import check_local_endpoint

    check_local_endpoint(settings.endpoint_url)  # a lab that is down: say so in a moment
    aws = AwsSession(settings)
    if opts.verbose >= 2:
        aws.observers.append(_log_call)
    return aws


def _log_call(call: Any) -> None:
    """-vv: one stderr line per AWS call (parameters already scrubbed of secrets)."""
    outcome = call.error_code or "ok"
    click.echo(f"  aws {call.service}:{call.operation} {outcome} {call.duration * 1000:.0f} ms",
               err=True)
