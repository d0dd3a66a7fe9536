"""`ircli policy`: the least-privilege IAM policy, generated from the steps' declarations."""

from __future__ import annotations

import json

import click

from ircli.cli.options import GlobalOptions, global_options


@click.command("policy")
@global_options
@click.pass_obj
def policy_cmd(opts: GlobalOptions) -> int:
    """Print the IAM policy ircli needs (JSON, ready for `aws iam create-policy`)."""
    from ircli.core.policy import least_privilege_policy

    policy = least_privilege_policy()
    if opts.json:  # -o json|yaml|table or --query: the document like every command's result
        from ircli.cli.output import emit_json

        emit_json(policy)
    else:
        click.echo(json.dumps(policy, indent=2))
    return 0
