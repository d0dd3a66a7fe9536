"""The Step Functions form of the steps on the instance itself: protect (termination and
shutdown behaviour, the volumes kept), tag (the containment tags) and snapshot (see
:mod:`ircli.steps.asl_paths` for what every compiled step shares).
"""

from __future__ import annotations

from typing import Any

from ircli.core.asl import choice, end_pass, map_state, pass_state, task
from ircli.core.step import NEXT, RECORD, Fragment
from ircli.steps.asl_paths import CASE, EBS, IID
from ircli.steps.asl_paths import step_path as _s
from ircli.steps.names import (
    TAG_CASE,
    TAG_CONTAINED_AT,
    TAG_CONTAINED_BY,
    TAG_DEVICE,
    TAG_INSTANCE,
    TAG_STATUS,
)


# -- Protection -----------------------------------------------------------------------------
def protect(p: str, permissions: tuple[Any, ...]) -> Fragment:
    iid = {"InstanceId.$": IID}

    def attribute(name: str, key: str, next_state: str) -> dict[str, Any]:
        return task("ec2", "describeInstanceAttribute", {**iid, "Attribute": name},
                    result_selector={"v.$": f"$.{key}.Value"}, result_path=_s(p, name),
                    next_state=next_state)

    dev, flag = f"{EBS}[*].DeviceName", f"{EBS}[*].DeleteOnTermination"
    loop = _s(p, "dot")
    states = {
        f"{p}.Term": attribute("disableApiTermination", "DisableApiTermination",
                               f"{p}.Shut"),
        f"{p}.Shut": attribute("instanceInitiatedShutdownBehavior",
                               "InstanceInitiatedShutdownBehavior", f"{p}.Devices"),
        f"{p}.Devices": pass_state({"dev.$": dev, "flag.$": flag,
                                    "keep.$": f"States.ArrayContains({flag}, true)",
                                    "n.$": f"States.ArrayLength({dev})"}, _s(p, "devs"),
                                   f"{p}.DotStart"),
        # {"/dev/xvda": true, ...}: keys that vary are built as text, one device at a time.
        f"{p}.DotStart": pass_state({"acc.$": "$.c.lb", "sep": "", "i": 0}, loop,
                                    f"{p}.DotMore"),
        f"{p}.DotMore": choice([{"Variable": f"{loop}.i", "NumericLessThanPath": _s(p, "devs.n"),
                                 "Next": f"{p}.DotOne"}], f"{p}.Before"),
        f"{p}.DotOne": pass_state({
            "acc.$": f"States.Format('{{}}{{}}\"{{}}\":{{}}', {loop}.acc, {loop}.sep, "
                     f"States.ArrayGetItem({_s(p, 'devs.dev')}, {loop}.i), States.JsonToString("
                     f"States.ArrayGetItem({_s(p, 'devs.flag')}, {loop}.i)))",
            "sep": ",", "i.$": f"States.MathAdd({loop}.i, 1)"}, loop, f"{p}.DotMore"),
        f"{p}.Before": pass_state({
            "disable_api_termination.$": _s(p, "disableApiTermination.v"),
            "shutdown_behavior.$": _s(p, "instanceInitiatedShutdownBehavior.v"),
            "delete_on_termination.$": f"States.StringToJson(States.Format('{{}}{{}}', "
                                       f"{loop}.acc, $.c.rb))"}, _s(p, "before"), f"{p}.Need"),
        f"{p}.Need": choice([
            {"Variable": _s(p, "disableApiTermination.v"), "BooleanEquals": False,
             "Next": RECORD},
            {"Not": {"Variable": _s(p, "instanceInitiatedShutdownBehavior.v"),
                     "StringEquals": "stop"}, "Next": RECORD},
            {"Variable": _s(p, "devs.keep"), "BooleanEquals": True, "Next": RECORD}], NEXT),
        f"{p}.SetTerm": choice([
            {"And": [{"Variable": "$.instance.InstanceLifecycle", "IsPresent": True},
                     {"Variable": "$.instance.InstanceLifecycle", "StringEquals": "spot"}],
             "Next": f"{p}.SetShut"},
            {"Variable": _s(p, "disableApiTermination.v"), "BooleanEquals": False,
             "Next": f"{p}.Protect"}], f"{p}.SetShut"),
        f"{p}.Protect": task("ec2", "modifyInstanceAttribute", {
            **iid, "DisableApiTermination": {"Value": True}}, next_state=f"{p}.SetShut"),
        f"{p}.SetShut": choice([{"Not": {"Variable": _s(p, "instanceInitiatedShutdownBehavior.v"),
                                         "StringEquals": "stop"}, "Next": f"{p}.Stop"}],
                               f"{p}.SetKeep"),
        # The Attribute/Value form, as the CLI step uses (AWS accepts both).
        f"{p}.Stop": task("ec2", "modifyInstanceAttribute", {
            **iid, "Attribute": "instanceInitiatedShutdownBehavior", "Value": "stop"},
            next_state=f"{p}.SetKeep"),
        f"{p}.SetKeep": choice([{"Variable": _s(p, "devs.keep"), "BooleanEquals": True,
                                 "Next": f"{p}.Mappings"}], NEXT),
        f"{p}.Mappings": map_state(_s(p, "devs.dev"), {"d.$": "$$.Map.Item.Value"}, {
            f"{p}.K.One": end_pass({"DeviceName.$": "$.d", "Ebs": {
                "DeleteOnTermination": False}})}, f"{p}.K.One", result_path=_s(p, "bdm"),
            next_state=f"{p}.Keep", concurrency=0),
        f"{p}.Keep": task("ec2", "modifyInstanceAttribute", {
            **iid, "BlockDeviceMappings.$": _s(p, "bdm")}, next_state=NEXT),
    }
    return Fragment(states, start=f"{p}.Term", permissions=permissions,
                    record_at=f"{p}.SetTerm", before=_s(p, "before"))


# -- Tags and snapshots ---------------------------------------------------------------------
def tag(p: str, permissions: tuple[Any, ...]) -> Fragment:
    t = _s(p, "t")
    states = {
        f"{p}.Want": pass_state({
            "case": {"Key": TAG_CASE, "Value.$": CASE},
            "status": {"Key": TAG_STATUS, "Value": "contained"},
            "at": {"Key": TAG_CONTAINED_AT, "Value.$": "$$.State.EnteredTime"},
            "by": {"Key": TAG_CONTAINED_BY, "Value.$": "$$.Execution.RoleArn"}}, t, f"{p}.Tagged"),
        f"{p}.Tagged": choice([{"Variable": "$.instance.Tags", "IsPresent": True,
                                "Next": f"{p}.Check"}], RECORD),
        f"{p}.Check": pass_state({
            "case.$": f"States.ArrayContains($.instance.Tags, {t}.case)",
            "status.$": f"States.ArrayContains($.instance.Tags, {t}.status)"},
            _s(p, "has"), f"{p}.Already"),
        f"{p}.Already": choice([{"And": [
            {"Variable": _s(p, "has.case"), "BooleanEquals": True},
            {"Variable": _s(p, "has.status"), "BooleanEquals": True}], "Next": NEXT}], RECORD),
        f"{p}.Instance": task("ec2", "createTags", {
            "Resources.$": f"States.Array({IID})",
            "Tags.$": f"States.Array({t}.case, {t}.status, {t}.at, {t}.by)"},
            next_state=f"{p}.Volumes"),
        f"{p}.Volumes": map_state(EBS, {"v.$": "$$.Map.Item.Value", "t.$": t}, {
            f"{p}.V.Dev": pass_state({"Key": TAG_DEVICE, "Value.$": "$.v.DeviceName"}, "$.dev",
                                     f"{p}.V.One"),
            f"{p}.V.One": {**task("ec2", "createTags", {
                "Resources.$": "States.Array($.v.VolumeId)",
                "Tags.$": "States.Array($.t.case, $.t.status, $.t.at, $.t.by, $.dev)"},
                catch=None), "End": True}}, f"{p}.V.Dev", result_path=None, next_state=NEXT),
    }
    states[f"{p}.Volumes"]["ItemProcessor"]["States"][f"{p}.V.One"].pop("Next")
    return Fragment(states, start=f"{p}.Want", permissions=permissions,
                    record_at=f"{p}.Instance")


def snapshot(p: str, permissions: tuple[Any, ...]) -> Fragment:
    """CreateSnapshots of every volume, tagged at creation; a case that has its snapshots of
    this instance already (found by tags) takes none again."""
    states = {
        f"{p}.Find": task("ec2", "describeSnapshots", {"OwnerIds": ["self"], "Filters": [
            {"Name": f"tag:{TAG_CASE}", "Values.$": f"States.Array({CASE})"},
            {"Name": f"tag:{TAG_INSTANCE}", "Values.$": f"States.Array({IID})"}]},
            result_selector={"n.$": "States.ArrayLength($.Snapshots)"},
            result_path=_s(p, "found"), next_state=f"{p}.Any"),
        f"{p}.Any": choice([{"Variable": _s(p, "found.n"), "NumericGreaterThan": 0,
                             "Next": NEXT}], RECORD),
        f"{p}.Create": task("ec2", "createSnapshots", {
            "InstanceSpecification": {"InstanceId.$": IID, "ExcludeBootVolume": False},
            "Description.$": f"States.Format('ircli case {{}}: {{}}', {CASE}, {IID})",
            "CopyTagsFromSource": "volume",
            "TagSpecifications": [{"ResourceType": "snapshot", "Tags": [
                {"Key": TAG_CASE, "Value.$": CASE}, {"Key": TAG_INSTANCE, "Value.$": IID},
                {"Key": "Name", "Value.$": f"States.Format('ircli {{}} {{}}', {CASE}, {IID})"}]}]},
            result_selector={"s.$": "$.Snapshots"}, result_path=_s(p, "made"),
            next_state=f"{p}.Devices"),
        # The device tag, where CopyTagsFromSource did not bring it (as the CLI step does).
        f"{p}.Devices": map_state(_s(p, "made.s"), {"s.$": "$$.Map.Item.Value",
                                                    "bdm.$": EBS}, {
            f"{p}.D.Each": map_state("$.bdm", {"b.$": "$$.Map.Item.Value", "s.$": "$.s"}, {
                f"{p}.D.Mine": choice([{"Variable": "$.b.VolumeId",
                                        "StringEqualsPath": "$.s.VolumeId",
                                        "Next": f"{p}.D.Tag"}], f"{p}.D.Skip"),
                f"{p}.D.Tag": {**task("ec2", "createTags", {
                    "Resources.$": "States.Array($.s.SnapshotId)",
                    "Tags": [{"Key": TAG_DEVICE, "Value.$": "$.b.DeviceName"}]}, catch=None),
                    "End": True},
                f"{p}.D.Skip": end_pass()}, f"{p}.D.Mine", result_path=None, next_state="",
                catch=None, concurrency=0)}, f"{p}.D.Each", result_path=None, next_state=NEXT,
            concurrency=0),
    }
    each = states[f"{p}.Devices"]["ItemProcessor"]["States"][f"{p}.D.Each"]
    each.pop("Next")
    each["End"] = True
    each["ItemProcessor"]["States"][f"{p}.D.Tag"].pop("Next")
    return Fragment(states, start=f"{p}.Find", permissions=permissions,
                    record_at=f"{p}.Create")
