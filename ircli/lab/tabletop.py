"""Tabletop exercises: start a scenario, let the team respond with ordinary ircli commands,
then score what the lab's AWS state and the case records show.

Scoring reads only AWS (the emulator) and the case directory, never how the team got there,
so any correct response counts, whether typed by hand, run from a runbook, or a script.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ircli.aws import iam_managed
from ircli.aws.iam_policies import contained_ids
from ircli.core.case import list_cases
from ircli.core.clock import Clock, iso
from ircli.core.errors import UserError
from ircli.lab import findings
from ircli.lab.control import DEFAULT_PORT, lab_dir, require_running, running, up, write_state
from ircli.lab.scenarios import LabAws


def _exercise_file() -> Path:
    return lab_dir() / "tabletop.json"


@dataclass
class Exercise:
    scenario: str
    started_at: str
    resources: dict[str, Any]
    alert: dict[str, Any]
    evidence_bucket: str | None
    injects: list[dict[str, Any]] = field(default_factory=list)

    def save(self) -> None:
        _exercise_file().write_text(json.dumps(self.__dict__, indent=2, default=str))

    @classmethod
    def load(cls) -> Exercise:
        try:
            return cls(**json.loads(_exercise_file().read_text()))
        except (OSError, ValueError) as err:
            raise UserError("No tabletop exercise is running.",
                            "Start one with: ircli tabletop start web-compromise") from err


def start(scenario: str, clock: Clock, port: int = DEFAULT_PORT) -> Exercise:
    """A fresh lab seeded with ``scenario``; the exercise clock starts now."""
    state = running()
    if state is not None:  # start from a clean account, keep the running emulator
        urllib.request.urlopen(urllib.request.Request(f"{state.endpoint}/moto-api/reset",
                                                      method="POST"), timeout=10).read()
        state.scenarios.clear()
        write_state(state)
    state, _ = up(port, scenario, clock)
    seeded = next(s for s in state.scenarios if s["scenario"] == scenario)
    exercise = Exercise(scenario, iso(clock.now()), seeded["resources"], seeded["findings"][0],
                        seeded.get("evidence_bucket"))
    exercise.save()
    return exercise


# -- injects -----------------------------------------------------------------------------
def inject(event: str, clock: Clock) -> dict[str, Any]:
    """Add a complication mid-exercise; returns the new alert the team receives."""
    exercise = Exercise.load()
    aws = _lab_aws()
    if event == "beaconing" and exercise.scenario == "web-compromise":
        neighbour = exercise.resources["neighbour"]
        instance = aws("ec2").describe_instances(InstanceIds=[neighbour])["Reservations"][0][
            "Instances"][0]
        alert = findings.c2_activity(instance, aws.region, clock.now())
        record = {"event": event, "at": iso(clock.now()), "target": neighbour, "alert": alert}
    elif event == "new-access-key" and exercise.scenario == "leaked-key":
        user = exercise.resources["user"]
        key = aws("iam").create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
        alert = findings.leaked_key(user, key, "185.220.101.45", aws.region, clock.now())
        record = {"event": event, "at": iso(clock.now()), "target": key, "alert": alert}
    else:
        raise UserError(f"No inject '{event}' for scenario {exercise.scenario}.",
                        f"Injects: {', '.join(f'{e} ({s})' for e, s in INJECTS.items())}.")
    path = lab_dir() / "findings" / f"inject-{len(exercise.injects) + 1}-{event}.json"
    path.write_text(json.dumps(alert, indent=2))
    record["finding_file"] = str(path)
    exercise.injects.append(record)
    exercise.save()
    return record


INJECTS = {"beaconing": "web-compromise", "new-access-key": "leaked-key"}


# -- scoring -----------------------------------------------------------------------------
@dataclass
class Objective:
    name: str
    description: str
    met: bool
    detail: str = ""
    at: str | None = None
    after_seconds: float | None = None


def _lab_aws() -> LabAws:
    state = require_running("Start an exercise with: ircli tabletop start SCENARIO")
    return LabAws(state.endpoint, state.region)


def _events(target: str) -> tuple[str | None, list[dict[str, Any]]]:
    """The newest local case for ``target`` and its audit lines."""
    for case in list_cases():
        if target in case.get("targets", {}):
            from ircli.core.case import cases_root

            path = cases_root() / str(case["case_id"]) / "audit.jsonl"
            lines = [json.loads(line) for line in path.read_text().splitlines()] \
                if path.exists() else []
            return str(case["case_id"]), lines
    return None, []


def _step_done_at(lines: list[dict[str, Any]], step: str) -> str | None:
    for line in lines:
        if line.get("event") == "step-end" and line.get("step") == step and \
                line.get("status") in ("done", "already-done"):
            return str(line["time"])
    return None


class Scorer:
    """Reads the lab and the cases, and judges each objective of the exercise."""

    def __init__(self, exercise: Exercise, aws: LabAws) -> None:
        self.ex = exercise
        self.aws = aws
        self.started = datetime.fromisoformat(exercise.started_at.replace("Z", "+00:00"))

    def objective(self, name: str, description: str, met: bool, detail: str = "",
                  at: str | None = None) -> Objective:
        after = None
        if met and at:
            when = datetime.fromisoformat(at.replace("Z", "+00:00"))
            after = round((when - self.started).total_seconds(), 1)
        return Objective(name, description, met, detail, at if met else None, after)

    # EC2 ------------------------------------------------------------------------------
    def _instance(self, iid: str) -> dict[str, Any]:
        return dict(self.aws("ec2").describe_instances(InstanceIds=[iid])["Reservations"][0][
            "Instances"][0])

    def _eni_groups(self, instance: dict[str, Any]) -> dict[str, list[str]]:
        ids = [n["NetworkInterfaceId"] for n in instance["NetworkInterfaces"]]
        found = self.aws("ec2").describe_network_interfaces(NetworkInterfaceIds=ids)[
            "NetworkInterfaces"]
        return {n["NetworkInterfaceId"]: [g["GroupName"] for g in n["Groups"]] for n in found}

    def instance_objectives(self, iid: str, label: str) -> list[Objective]:
        instance = self._instance(iid)
        groups = self._eni_groups(instance)
        isolated = {eni: all(g.startswith("ircli-isolation") for g in names) and bool(names)
                    for eni, names in groups.items()}
        case_id, lines = _events(iid)
        out = [
            self.objective(f"{label}-isolated", f"{label}: primary ENI isolated",
                           isolated.get(instance["NetworkInterfaces"][0]["NetworkInterfaceId"],
                                        False) if instance["NetworkInterfaces"] else False,
                           f"case {case_id}" if case_id else "no case",
                           _step_done_at(lines, "isolate")),
            self.objective(f"{label}-every-eni", f"{label}: every ENI isolated "
                           f"({sum(isolated.values())}/{len(isolated)})", all(isolated.values()),
                           "", _step_done_at(lines, "isolate")),
        ]
        out.append(self._credentials_cut(instance, label, lines))
        out.append(self._snapshots(instance, label, lines))
        out.append(self._evidence(iid, label, case_id, lines))
        return out

    def _credentials_cut(self, instance: dict[str, Any], label: str,
                         lines: list[dict[str, Any]]) -> Objective:
        arn = f"instance/{instance['InstanceId']}"
        profile = self.ex.resources.get("profile_arn")
        role = self.ex.resources.get("role")
        iam = self.aws("iam")
        denied = False
        if role:
            for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
                doc = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
                denied = denied or arn in json.dumps(doc)
            for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
                if f"policy{iam_managed.IRCLI_PATH}" in attached["PolicyArn"]:
                    denied = denied or instance["InstanceId"] in contained_ids(
                        iam_managed.read(iam, attached["PolicyArn"]))
        detached = profile is not None and "IamInstanceProfile" not in instance
        return self.objective(f"{label}-credentials-cut", f"{label}: instance credentials cut",
                              denied or detached,
                              "targeted deny on the role" if denied else
                              "profile detached" if detached else "role still usable",
                              _step_done_at(lines, "cut-credentials"))

    def _snapshots(self, instance: dict[str, Any], label: str,
                   lines: list[dict[str, Any]]) -> Objective:
        volumes = [b["Ebs"]["VolumeId"] for b in instance.get("BlockDeviceMappings", [])
                   if "Ebs" in b]
        snaps = self.aws("ec2").describe_snapshots(
            Filters=[{"Name": "volume-id", "Values": volumes}])["Snapshots"] if volumes else []
        covered = {s["VolumeId"] for s in snaps}
        return self.objective(f"{label}-snapshots", f"{label}: every volume snapshotted "
                              f"({len(covered & set(volumes))}/{len(volumes)})",
                              bool(volumes) and set(volumes) <= covered, "",
                              _step_done_at(lines, "snapshot"))

    def _evidence(self, iid: str, label: str, case_id: str | None,
                  lines: list[dict[str, Any]]) -> Objective:
        bucket = self.ex.evidence_bucket
        if not bucket or not case_id:
            return self.objective(f"{label}-evidence", f"{label}: live evidence collected and "
                                  "verified", False, "no case" if bucket else "no bucket")
        from ircli.evidence.verify import verify_case

        s3 = self.aws("s3")
        listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"cases/{case_id}/collect/")
        archives = [o["Key"] for o in listing.get("Contents", []) if iid in o["Key"]]
        try:
            verified = verify_case(s3, bucket, case_id, datetime.now(self.started.tzinfo)).ok
        except UserError:
            verified = False
        return self.objective(f"{label}-evidence", f"{label}: live evidence collected and "
                              "verified", bool(archives) and verified,
                              f"{len(archives)} archive(s); manifest "
                              f"{'verifies' if verified else 'does not verify'}",
                              _step_done_at(lines, "collect"))

    def archive_objectives(self, iid: str, label: str) -> list[Objective]:
        """What the team's collected archive shows about the compromise: the beaconing
        process, its persistence, the key the attacker added (read from the archive itself)."""
        from ircli.lab.evidence import what_it_shows
        from ircli.lab.scenarios import HOSTS

        case_id, lines = _events(iid)
        wanted = {"process": "the beaconing process and its connection",
                  "persistence": "the implant's persistence (cron or systemd)",
                  "key": "the SSH key the attacker added"}
        shown: dict[str, list[str]] = {}
        archive = self._archive(iid, case_id)
        if archive is not None:
            for item in what_it_shows(archive, HOSTS.get(self.ex.scenario)):
                shown.setdefault(item.kind, []).append(item.text)
        at = _step_done_at(lines, "collect")
        return [self.objective(f"{label}-found-{kind}", f"{label}: evidence holds {words}",
                               bool(shown.get(kind)),
                               "; ".join(shown.get(kind, [])) or (
                                   "not in the collected archive" if archive is not None
                                   else "no archive collected"), at)
                for kind, words in wanted.items()]

    def _archive(self, iid: str, case_id: str | None) -> bytes | None:
        bucket = self.ex.evidence_bucket
        if not bucket or not case_id:
            return None
        s3 = self.aws("s3")
        listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"cases/{case_id}/collect/")
        keys = sorted(o["Key"] for o in listing.get("Contents", [])
                      if iid in o["Key"] and o["Key"].endswith(".tar.gz"))
        if not keys:
            return None
        return bytes(s3.get_object(Bucket=bucket, Key=keys[-1])["Body"].read())

    def bystander(self, iid: str) -> Objective:
        instance = self._instance(iid)
        groups = self._eni_groups(instance)
        touched = [eni for eni, names in groups.items()
                   if any(n.startswith("ircli-") for n in names)]
        tags = {t["Key"] for t in instance.get("Tags", [])}
        ok = not touched and "ircli:case-id" not in tags
        name = next((t["Value"] for t in instance.get("Tags", []) if t["Key"] == "Name"), None)
        who = f"{iid} ({name})" if name else iid
        return self.objective("bystanders-untouched", f"bystander {who} untouched", ok,
                              "no ircli change" if ok else "contained or regrouped by mistake")

    # IAM ------------------------------------------------------------------------------
    def key_objectives(self, user: str, keys: list[str], spare: str | None) -> list[Objective]:
        iam = self.aws("iam")
        status = {k["AccessKeyId"]: k["Status"]
                  for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]}
        case_id, lines = _events(user)
        out = [self.objective(f"key-{key[-4:]}-disabled", f"access key …{key[-4:]} deactivated",
                              status.get(key) == "Inactive", status.get(key, "gone"),
                              _step_done_at(lines, "disable-keys")) for key in keys]
        policies = [iam.get_user_policy(UserName=user, PolicyName=name)["PolicyDocument"]
                    for name in iam.list_user_policies(UserName=user)["PolicyNames"]]
        revoked = any("aws:TokenIssueTime" in json.dumps(doc) for doc in policies)
        out.append(self.objective("sessions-revoked", f"{user}: older sessions denied",
                                  revoked, f"case {case_id}" if case_id else "no case",
                                  _step_done_at(lines, "deny-user")))
        if spare:
            out.append(self.objective("bystanders-untouched", f"unrelated key …{spare[-4:]}",
                                      True, "kept as evidence either way"))
        return out

    # Network ----------------------------------------------------------------------------
    def blocked(self, nacl: str, ip: str) -> Objective:
        acl = self.aws("ec2").describe_network_acls(NetworkAclIds=[nacl])["NetworkAcls"][0]
        denies = [e for e in acl["Entries"] if e["RuleAction"] == "deny" and
                  e.get("CidrBlock") == f"{ip}/32"]
        both = {e["Egress"] for e in denies} == {True, False}
        return self.objective("attacker-blocked", f"{ip} denied in the subnet's network ACL "
                              "(in and out)", both, f"{len(denies)} deny entr(ies)")


SCORERS: dict[str, Callable[[Scorer], list[Objective]]] = {}


def _score_web(s: Scorer) -> list[Objective]:
    r = s.ex.resources
    out = s.instance_objectives(r["suspect"], "suspect")
    out += s.archive_objectives(r["suspect"], "suspect")
    asg = s.aws("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[r["asg"]])
    in_asg = r["suspect"] in {i["InstanceId"] for g in asg["AutoScalingGroups"]
                              for i in g["Instances"]}
    targets = {d["Target"]["Id"] for d in s.aws("elbv2").describe_target_health(
        TargetGroupArn=r["target_group_arn"])["TargetHealthDescriptions"]}
    out.append(s.objective("suspect-out-of-service", "suspect: out of the ASG and target group",
                           not in_asg and r["suspect"] not in targets,
                           f"in ASG: {in_asg}, in target group: {r['suspect'] in targets}"))
    injected = {i["target"] for i in s.ex.injects}
    if r["neighbour"] in injected:
        out += s.instance_objectives(r["neighbour"], "second-instance")[:2]
    else:
        out.append(s.bystander(r["neighbour"]))
    return out


def _score_key(s: Scorer) -> list[Objective]:
    r = s.ex.resources
    keys = [r["leaked_key"], *(i["target"] for i in s.ex.injects)]
    return s.key_objectives(r["user"], keys, r.get("other_key"))


def _score_ssh(s: Scorer) -> list[Objective]:
    r = s.ex.resources
    return [s.blocked(r["network_acl"], r["attacker_ip"]), s.bystander(r["bastion"])]


SCORERS.update({"web-compromise": _score_web, "leaked-key": _score_key,
                "ssh-brute-force": _score_ssh})


def score(clock: Clock) -> dict[str, Any]:
    """The scorecard: every objective met or missed, with times from the alert."""
    exercise = Exercise.load()
    scorer = Scorer(exercise, _lab_aws())
    objectives = SCORERS[exercise.scenario](scorer)
    met = sum(o.met for o in objectives)
    isolated = next((o for o in objectives if o.name == "suspect-isolated" and o.met), None)
    return {
        "scenario": exercise.scenario,
        "started_at": exercise.started_at,
        "scored_at": iso(clock.now()),
        "met": met,
        "total": len(objectives),
        "seconds_to_isolation": isolated.after_seconds if isolated else None,
        "injects": [{"event": i["event"], "at": i["at"]} for i in exercise.injects],
        "objectives": [o.__dict__ for o in objectives],
    }
