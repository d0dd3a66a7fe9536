"""Where the compiled instance steps find things in a Step Functions execution's document.

The Step Functions forms of the instance containment steps (``Step.compile`` builds them):
:mod:`ircli.steps.asl_service` (Auto Scaling, load balancers), :mod:`ircli.steps.asl_isolation`
(security groups, Elastic IPs, tracked paths), :mod:`ircli.steps.asl_credentials` (the role's
deny policy), :mod:`ircli.steps.asl_instance` (protection, tags, snapshots) and
:mod:`ircli.steps.asl_forensic_copy` (the snapshots' copies for forensics). Each builder
returns one step's states: it reads AWS first, records (RECORD) before its first change, and
does the change the CLI step does, with the same names, tags and rules; a state already right
leaves it alone (check, then act), so a re-delivered finding changes nothing.

The execution's document holds the instance at ``$.instance`` (DescribeInstances), the target
and the case at ``$.ircli`` and each step's own data at ``$.steps.<prefix>``.
"""

from __future__ import annotations

IID = "$.ircli.target"
CASE = "$.ircli.case_id"
EBS = "$.ebs"  # the EBS volumes, as resolve lists them: DeviceName, VolumeId, DeleteOnTermination


def step_path(p: str, path: str = "") -> str:
    """``$.steps.<p>.<path>``: step ``p``'s own data (the builders import it as ``_s``)."""
    return f"$.steps.{p}{'.' + path if path else ''}"
