"""`ircli policy`: the least-privilege IAM policies, generated from the steps' declarations."""

from __future__ import annotations

import json
import os

import click

from ircli.cli.options import GlobalOptions, global_options
from ircli.core.permission import AUDIENCES


@click.command("policy")
@click.option("--for", "audience", type=click.Choice(list(AUDIENCES)), default="contain",
              show_default=True,
              help="Whose policy: contain (the responder), analyst (the analyst "
                   "workstation), evidence-admin (set-up of the bucket and SSM documents).")
@global_options
@click.pass_obj
def policy_cmd(opts: GlobalOptions, audience: str) -> int:
    """Print the IAM policy ircli needs (JSON, ready for `aws iam create-policy`).

    S3 statements name the evidence bucket (--evidence-bucket, IRCLI_EVIDENCE_BUCKET or the
    config file); --region picks the partition (aws, aws-cn, aws-us-gov).
    """
    from ircli.catalog.policy import least_privilege_policy, partition_of
    from ircli.core.config import evidence_bucket

    bucket = evidence_bucket(opts.evidence_bucket)
    if not bucket:
        click.echo("No evidence bucket is configured: the S3 statements name "
                   "EVIDENCE_BUCKET_NOT_CONFIGURED and grant nothing. Pass --evidence-bucket "
                   "NAME to name yours.", err=True)
    region = opts.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    partition, dns_suffix = partition_of(region)
    policy = least_privilege_policy(audience, bucket=bucket, partition=partition,
                                    dns_suffix=dns_suffix)
    if opts.json:  # -o json|yaml|table or --query: the document like every command's result
        from ircli.cli.output import emit_json

        emit_json(policy)
    else:
        click.echo(json.dumps(policy, indent=2))
    return 0
