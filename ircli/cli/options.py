"""Options every command accepts, before or after the command name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class GlobalOptions:
    profile: str | None = None
    region: str | None = None
    role_arn: str | None = None
    account: str | None = None
    role_name: str | None = None
    output: str = "text"
    verbose: int = 0
    evidence_bucket: str | None = None

    @property
    def json(self) -> bool:
        return self.output == "json"


def _store(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        opts = ctx.find_object(GlobalOptions) or ctx.ensure_object(GlobalOptions)
        if name == "verbose":
            opts.verbose += int(value or 0)
        elif value is not None:
            setattr(opts, name, value)
        return value

    return callback


def global_options(f: F) -> F:
    """Attach --profile, --region, --role-arn, --account, --role-name, --output,
    --evidence-bucket and -v.

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
        click.option("--output", "-o", type=click.Choice(["text", "json"]), default=None,
                     expose_value=False, callback=_store("output"),
                     help="text for people, json for playbooks (one JSON document on stdout)."),
        click.option("--evidence-bucket", expose_value=False, callback=_store("evidence_bucket"),
                     help="S3 bucket for evidence (default: IRCLI_EVIDENCE_BUCKET, then the "
                          "ircli config file)."),
        click.option("-v", "--verbose", count=True, expose_value=False,
                     callback=_store("verbose"), help="More detail on stderr (-vv: AWS calls)."),
    ]
    for decorator in reversed(decorators):
        f = decorator(f)
    return f
