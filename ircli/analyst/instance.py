"""The analyst instance: IMDSv2 only, encrypted root, no public address, tagged with the case.

One per case: a re-run finds it by its tags and reuses it (``--new`` launches another). The
launch carries an idempotency token, so a retried ``RunInstances`` never starts two.
"""

from __future__ import annotations

from typing import Any

import botocore.exceptions
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    retry_if_result,
    wait_exponential,
)

from ircli.analyst import names as n
from ircli.analyst.record import created_ids, remember
from ircli.aws.ec2 import describe_instance, tag_value
from ircli.core.awserrors import error_code
from ircli.core.engine import RunContext, stop_after_clock
from ircli.core.errors import NotFound, StepFailed, UserError
from ircli.core.permission import PASS_ANALYST_ROLE, Permission
from ircli.core.step import Call, Ref, Step, StepPlan, register, resolve_refs
from ircli.steps.names import TAG_CASE

LIVE_STATES = ("pending", "running", "stopping", "stopped")
BOOT_SECONDS = 300
IAM_PROPAGATION_SECONDS = 60


def case_analysts(ctx: RunContext, case_id: str, warnings: list[str] | None = None
                  ) -> list[dict[str, Any]]:
    """The case's analyst instances that are not terminated, oldest first.

    Only instances whose ids the case recorded when ircli launched them, and which still carry
    the case's tags: a tag is written by anyone who may tag, so an instance that merely carries
    them (a production neighbour, tagged by the attacker) is never reused, detached from or
    terminated. Such look-alikes are named in ``warnings``.
    """
    recorded = created_ids(ctx.record, "instance")
    ec2 = ctx.aws.client("ec2")
    pages = ec2.get_paginator("describe_instances").paginate(Filters=[
        {"Name": f"tag:{TAG_CASE}", "Values": [case_id]},
        {"Name": f"tag:{n.TAG_PURPOSE}", "Values": [n.PURPOSE_WORKSTATION]},
        {"Name": "instance-state-name", "Values": list(LIVE_STATES)}])
    tagged = [i for page in pages for r in page["Reservations"] for i in r["Instances"]]
    found = [i for i in tagged if i["InstanceId"] in recorded]
    if warnings is not None:
        warnings += [f"{i['InstanceId']} carries case {case_id}'s analyst tags but the case "
                     "did not launch it: left alone." for i in tagged
                     if i["InstanceId"] not in recorded]
    return sorted(found, key=lambda i: str(i.get("LaunchTime")))


def resolve_image(ctx: RunContext, ami: str | None, instance_type: str) -> str:
    """``--ami``: an image id, or an SSM parameter (default: AWS's current Amazon Linux for
    the instance type's architecture)."""
    if ami and ami.startswith("ami-"):
        return ami
    parameter = (ami or n.AMI_PARAMETERS[_architecture(ctx, instance_type)]
                 ).removeprefix("resolve:ssm:")
    try:
        value: str = ctx.aws.client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"]
    except botocore.exceptions.ClientError as err:
        if error_code(err) == "ParameterNotFound":
            raise UserError(f"There is no SSM parameter {parameter} in {ctx.aws.region}.",
                            "Pass --ami ami-... (an image id in this region).") from err
        raise
    return value


def _architecture(ctx: RunContext, instance_type: str) -> str:
    try:
        found = ctx.aws.client("ec2").describe_instance_types(InstanceTypes=[instance_type])[
            "InstanceTypes"]
    except botocore.exceptions.ClientError as err:
        if error_code(err) != "InvalidInstanceType":
            raise
        found = []
    if not found:
        raise UserError(f"{instance_type} is not an instance type of {ctx.aws.region}.",
                        "Pass --instance-type with a type this region offers (e.g. t3.large).")
    supported = found[0].get("ProcessorInfo", {}).get("SupportedArchitectures", [])
    return "x86_64" if "x86_64" in supported or "arm64" not in supported else "arm64"


@register
class LaunchAnalyst(Step):
    """Find the case's analyst instance, or launch it in the forensic subnet."""

    name = "analyst-launch"
    audience = "analyst"
    title = "Analyst instance"
    critical = True
    validates_input = True  # an unknown --ami is refused before the launch
    permissions = ("ec2:DescribeInstances", "ec2:DescribeImages", "ec2:DescribeInstanceTypes",
                   "ec2:RunInstances",
                   "ec2:StartInstances", "ec2:CreateTags", PASS_ANALYST_ROLE,
                   Permission("ssm:GetParameter",  # AWS's public AMI parameters only
                              "arn:{partition}:ssm:*::parameter/aws/service/*"))

    def __init__(self, instance_type: str = n.DEFAULT_INSTANCE_TYPE, ami: str | None = None,
                 key_name: str | None = None, new: bool = False) -> None:
        self.instance_type = instance_type
        self.ami = ami
        self.key_name = key_name
        self.new = new

    def plan(self, ctx: RunContext) -> StepPlan:
        assert ctx.case is not None
        case_id = ctx.case.case_id
        lookalikes: list[str] = []
        existing = case_analysts(ctx, case_id, lookalikes)
        if existing and not self.new:
            plan = self._reuse(ctx, existing[-1], len(existing))
            plan.warnings += lookalikes
            return plan
        image_id = resolve_image(ctx, self.ami, self.instance_type)
        images = ctx.aws.client("ec2").describe_images(ImageIds=[image_id])["Images"]
        if not images:
            raise NotFound(f"Image {image_id} was not found in {ctx.aws.region}.",
                           "Pass --ami with an image id of this region.")
        root = _root_volume(images[0])
        name = n.analyst_instance_name(case_id)
        generation = len(created_ids(ctx.record, "instance")) + 1
        params: dict[str, Any] = {
            "ImageId": image_id, "InstanceType": self.instance_type, "MinCount": 1,
            "MaxCount": 1, "ClientToken": n.client_token(case_id, generation),
            "NetworkInterfaces": [{
                "DeviceIndex": 0, "SubnetId": ctx.facts["subnet"],
                "Groups": [ctx.facts["analyst_sg"]], "AssociatePublicIpAddress": False,
                "DeleteOnTermination": True}],
            "IamInstanceProfile": {"Name": ctx.facts["analyst_profile"]},
            "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled",
                                "HttpPutResponseHopLimit": 1},
            "BlockDeviceMappings": [root],
            "TagSpecifications": [
                {"ResourceType": kind, "Tags": n.tags(name, n.PURPOSE_WORKSTATION, case_id)}
                for kind in ("instance", "volume", "network-interface")],
        }
        if self.key_name:
            params["KeyName"] = self.key_name
        ref = Ref("analyst/instance")
        ctx.facts["analyst_id"] = ref
        why = "--new: another analyst instance" if existing else "no analyst instance yet"
        return StepPlan(notes=[why], warnings=lookalikes, calls=[Call(
            "ec2", "run_instances", params,
            f"launch {self.instance_type} from {image_id} (IMDSv2 only, encrypted root, "
            "no public IP, Session Manager)", dry_run=True,
            produces=(ref.name, "Instances.0.InstanceId"),
            on_result=lambda r: remember(ctx, "instance", r["Instances"][0]["InstanceId"],
                                         image_id=image_id))])

    def _reuse(self, ctx: RunContext, instance: dict[str, Any], count: int) -> StepPlan:
        iid = instance["InstanceId"]
        ctx.facts["analyst_id"] = iid
        plan = StepPlan(notes=[f"reusing {iid} ({instance['State']['Name']})"],
                        data={"instance_id": iid})
        if count > 1:
            plan.notes.append(f"the case has {count} analyst instances; this is the newest")
        if instance.get("SubnetId") != resolve_refs(ctx.facts["subnet"], ctx.values):
            plan.warnings.append(f"{iid} runs in {instance.get('SubnetId')}, not the subnet "
                                 "asked for; pass --new to launch one there.")
        if instance["State"]["Name"] in ("stopped", "stopping"):
            plan.calls.append(Call("ec2", "start_instances", {"InstanceIds": [iid]},
                                   f"start {iid}", dry_run=True))
        return plan

    def apply(self, ctx: RunContext, plan: StepPlan) -> None:
        def propagating(err: BaseException) -> bool:
            """A new instance profile is refused until IAM has propagated it."""
            return error_code(err) == "InvalidParameterValue" and \
                "instance profile" in str(err).lower()

        for call in plan.calls:
            Retrying(retry=retry_if_exception(propagating), wait=wait_exponential(1, max=10),
                     stop=stop_after_clock(ctx, IAM_PROPAGATION_SECONDS), sleep=ctx.clock.sleep,
                     reraise=True)(ctx.execute, call)
        iid = resolve_refs(ctx.facts["analyst_id"], ctx.values)
        ctx.facts["analyst_id"] = iid
        plan.data = {"instance_id": iid}
        wait_until_running(ctx, iid)


def _root_volume(image: dict[str, Any]) -> dict[str, Any]:
    """The image's root device, encrypted (and at the image's size, which AWS would pick)."""
    ebs: dict[str, Any] = {"Encrypted": True, "DeleteOnTermination": True, "VolumeType": "gp3"}
    for mapping in image.get("BlockDeviceMappings", []):
        if mapping.get("DeviceName") == image["RootDeviceName"] and \
                mapping.get("Ebs", {}).get("VolumeSize"):
            ebs["VolumeSize"] = mapping["Ebs"]["VolumeSize"]
    return {"DeviceName": image["RootDeviceName"], "Ebs": ebs}


def wait_until_running(ctx: RunContext, instance_id: str) -> dict[str, Any]:
    """Poll until the instance runs (volumes attach only to running or stopped instances)."""
    def poll() -> dict[str, Any]:
        try:
            return describe_instance(ctx.aws, instance_id)
        except NotFound:  # a new instance is not visible everywhere at once
            return {"InstanceId": instance_id, "State": {"Name": "pending"}}

    try:
        instance: dict[str, Any] = Retrying(
            retry=retry_if_result(lambda i: i["State"]["Name"] == "pending"),
            wait=wait_exponential(1, max=15), stop=stop_after_clock(ctx, BOOT_SECONDS),
            sleep=ctx.clock.sleep)(poll)
    except RetryError as err:
        raise StepFailed(f"{instance_id} was still pending after {BOOT_SECONDS} s.",
                         "Check it in the EC2 console, then run the command again.") from err
    if instance["State"]["Name"] != "running":
        raise StepFailed(f"{instance_id} is {instance['State']['Name']}, not running.",
                         "Check its state reason in the EC2 console.")
    return instance


def is_case_analyst(instance: dict[str, Any], case_id: str) -> bool:
    return (tag_value(instance, TAG_CASE) == case_id
            and tag_value(instance, n.TAG_PURPOSE) == n.PURPOSE_WORKSTATION)


@register
class ResolveAnalyst(Step):
    """The case's analyst instance(s) to work on; refuse instances ircli did not launch."""

    name = "analyst-resolve"
    audience = "analyst"
    title = "Find the analyst instance"
    critical = True
    validates_input = True
    permissions = ("ec2:DescribeInstances",)

    def __init__(self, instance_id: str | None = None, *, require: bool = False) -> None:
        self.instance_id = instance_id
        self.require = require

    def plan(self, ctx: RunContext) -> StepPlan:
        assert ctx.case is not None
        case_id = ctx.case.case_id
        launch = f"Run `ircli analyst launch --case-id {case_id}` first."
        warnings: list[str] = []
        if self.instance_id:
            instance = describe_instance(ctx.aws, self.instance_id)
            if not is_case_analyst(instance, case_id) or \
                    self.instance_id not in created_ids(ctx.record, "instance"):
                raise UserError(f"{self.instance_id} is not an ircli analyst instance of case "
                                f"{case_id}.", "Pass the id `ircli analyst launch` printed.")
            found = [] if instance["State"]["Name"] not in LIVE_STATES else [instance]
        else:
            found = case_analysts(ctx, case_id, warnings)
        if self.require and not found:
            raise UserError(f"Case {case_id} has no analyst instance.", launch)
        if self.require and len(found) > 1:
            raise UserError(
                f"Case {case_id} has {len(found)} analyst instances: "
                f"{', '.join(i['InstanceId'] for i in found)}.", "Pass --instance-id.")
        ctx.facts["analysts"] = found
        ids = ", ".join(i["InstanceId"] for i in found) or "none running"
        return StepPlan(notes=[f"analyst instance(s): {ids}"], local_change=True,
                        warnings=warnings,
                        data={"instance_ids": [i["InstanceId"] for i in found]})
