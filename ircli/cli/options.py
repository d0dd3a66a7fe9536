"""Options every command accepts, before or after the command name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


OUTPUT_FORMATS = ("text", "json", "yaml", "table")
DOCUMENT_FORMATS = ("json", "yaml", "table")  # the result document, not the summary for people


@dataclass
class GlobalOptions:
    profile: str | None = None
    region: str | None = None
    role_arn: str | None = None
    account: str | None = None
    role_name: str | None = None
    locate: bool = False  # --locate: find the target's account and region first
    output: str | None = None  # --output; None: IRCLI_OUTPUT, then the config, then text
    verbose: int = 0
    evidence_bucket: str | None = None
    query: str | None = None  # --query: a JMESPath expression applied to the result document
    endpoint_url: str | None = None
    default_output: str = "text"  # IRCLI_OUTPUT or the config file, set before a command runs

    @property
    def format(self) -> str:
        """The output format in effect; --query alone asks for the document (json)."""
        chosen = self.output or self.default_output
        if self.query is not None and chosen not in DOCUMENT_FORMATS:
            return "json"
        return chosen

    @property
    def json(self) -> bool:
        """True when stdout carries the result document (json, yaml or table), not a summary."""
        return self.format in DOCUMENT_FORMATS


def _store(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        opts = ctx.find_object(GlobalOptions) or ctx.ensure_object(GlobalOptions)
        if name == "verbose":
            opts.verbose += int(value or 0)
        elif value is not None:
            setattr(opts, name, value)
        return value

    return callback


def _store_query(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Check the expression when it is parsed, so a typo fails before anything runs."""
    if value is not None:
        from ircli.cli.output import compile_query

        try:
            compile_query(value)
        except ValueError as err:
            raise click.BadParameter(str(err), ctx=ctx, param=param) from err
    return _store("query")(ctx, param, value)  # type: ignore[no-any-return]


def global_options(f: F) -> F:
    """Attach --profile, --region, --role-arn, --account, --role-name, --output, --query,
    --endpoint-url, --evidence-bucket and -v.

    Values land in GlobalOptions.
    """
    decorators = [
        click.option("--profile", expose_value=False, callback=_store("profile"),
                     help="AWS profile to use (default: AWS_PROFILE / the credential chain)."),
        click.option("--region", expose_value=False, callback=_store("region"),
                     help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION / profile)."),
        click.option("--role-arn", expose_value=False, callback=_store("role_arn"),
                     help="Assume this role in the target account; the session name carries "
                          "the case id."),
        click.option("--account", expose_value=False, callback=_store("account"),
                     help="The account the target lives in (default: the credentials' own); "
                          "ircli assumes --role-name there."),
        click.option("--role-name", expose_value=False, callback=_store("role_name"),
                     help="Role assumed in --account, as arn:PARTITION:iam::ACCOUNT:role/NAME "
                          "(default: IRCLI_ROLE_NAME, then [accounts] role_name in the config)."),
        click.option("--output", "-o", type=click.Choice(OUTPUT_FORMATS), default=None,
                     expose_value=False, callback=_store("output"),
                     help="text for people; json (one document on stdout), yaml or table of "
                          "the result (default: IRCLI_OUTPUT, then [output] format in the "
                          "config, then text)."),
        click.option("--query", metavar="JMESPATH", expose_value=False,
                     callback=_store_query,
                     help="Keep only this JMESPath selection of the result document, as the "
                          "AWS CLI does (implies json unless -o yaml/table)."),
        click.option("--endpoint-url", metavar="URL", expose_value=False,
                     callback=_store("endpoint_url"),
                     help="Send every AWS call to this endpoint (default: AWS_ENDPOINT_URL)."),
        click.option("--evidence-bucket", expose_value=False, callback=_store("evidence_bucket"),
                     help="S3 bucket for evidence (default: IRCLI_EVIDENCE_BUCKET, then the "
                          "ircli config file)."),
        click.option("-v", "--verbose", count=True, expose_value=False,
                     callback=_store("verbose"), help="More detail on stderr (-vv: AWS calls)."),
    ]
    for decorator in reversed(decorators):
        f = decorator(f)
    return f


def case_options(whose: str) -> Callable[[F], F]:
    """--case-id and --new-case for a command that records under a case; ``whose`` names the
    target in the help ("the instance's")."""
    from ircli.cli.complete import complete_case_id

    def attach(f: F) -> F:
        f = click.option("--new-case", is_flag=True,
                         help="--case-id names a new case (otherwise a near miss of a local "
                              "case is refused, and a terminal is asked).")(f)
        return click.option("--case-id", shell_complete=complete_case_id,
                            help=f"Case to record under (default: {whose} open case, "
                                 "or new).")(f)

    return attach
