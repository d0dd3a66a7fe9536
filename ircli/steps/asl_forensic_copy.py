"""The Step Functions form of ``share-forensic-copies`` (``ShareForensicCopies.compile``).

What the CLI step does, in states: the case's snapshots of this instance (found by the snapshot
step's tags, and only those of the instance's own volumes) are waited for until completed,
each is copied with ``Encrypted`` under the forensics key and tagged at creation, the copies
are waited for, then shared with the forensics account only (``createVolumePermission`` for
its id, never the ``all`` group), and the case records each copy under
``targets.<instance>.forensic_copies`` (keyed by source snapshot, as the CLI writes it), so
``ircli forensics share``, ``analyst`` and ``release`` read the machine's case as their own.

Every wait is a bounded poll (:mod:`ircli.steps.asl_snapshot_wait`): ``Wait`` 30 s,
``DescribeSnapshots``, ``Choice``, with a count of polls from the snapshot's size (the CLI's
ceiling: 60 s per GiB, at least 300 s); past it the step fails by name and the isolation stays
as it is (the step is not critical). The sharing is :mod:`ircli.steps.asl_forensic_share`.

Idempotent on redelivery: a copy is adopted (never made again) when the case recorded its id
(in this containment's record, or in a released one kept in the target's history),
or when it carries this case's tags and its description names the run this step recorded,
before its first copy, that it would copy (an earlier run stopped between the copy and the
record; the run's name is drawn by Step Functions). A snapshot that merely carries the tags
is never adopted nor shared. An adopted copy whose permission someone widened is made private
again and shared with the forensics account only.

Step Functions' aws-sdk tasks call the machine's own region, and CopySnapshot must be called
in the destination region: the machine compiles the copy only to run in the forensics region,
and a run elsewhere fails the step by name, saying what to do.
"""

from __future__ import annotations

from typing import Any

from ircli.core.asl import choice, end_pass, fail_with, map_state, pass_state, task
from ircli.core.step import FAIL, NEXT, RECORD, Fragment
from ircli.steps.asl_forensic_share import (
    only_the_forensics_account,
    read_permission,
    share_only_with,
)
from ircli.steps.asl_paths import CASE, EBS, IID
from ircli.steps.asl_paths import step_path as _s
from ircli.steps.asl_snapshot_wait import poll_states
from ircli.steps.names import TAG_CASE, TAG_DEVICE, TAG_INSTANCE

FIELD = "forensic_copies"  # the target record's key, as the CLI step writes it
COPIES = f"$.fields.{FIELD}"  # the machine's copy of that record while it runs

ERROR_REGION = "ircli.ForensicsRegion"
ERROR_WAIT = "ircli.SnapshotWaitExceeded"
ERROR_COPY_WAIT = "ircli.ForensicCopyWaitExceeded"
ERROR_FAILED = "ircli.SnapshotFailed"
ERROR_COPY_FAILED = "ircli.ForensicCopyFailed"


class CaseFragment(Fragment):
    """A fragment that also keeps a field of the target's record (``$.fields.<name>``, the
    given initial value until the step fills it; an existing case's value is kept)."""

    case_fields: dict[str, Any]


def fail_state(error: str, cause: str) -> dict[str, Any]:
    return {"Type": "Fail", "Error": error, "Cause": f"share-forensic-copies: {cause}"}


def description(account: str, run: str) -> str:
    """The copy's description: what it is, and the run that recorded it would copy (the
    intrinsic; ``$.case``, ``$.iid`` and the source at ``$.s.SnapshotId`` or ``$.e.source``)."""
    src = "$.s.SnapshotId" if run == "$.run" else "$.e.source.snapshot_id"
    return (f"States.Format('ircli case {{}}: {{}} of {{}} for forensics account {account}, "
            f"run {{}}', $.case, {src}, $.iid, {run})")


def _sources(p: str, account: str) -> dict[str, dict[str, Any]]:
    """One Map iteration per snapshot found: is it of the instance's own volumes, wait for
    it, is there a copy of it to adopt, is that copy shared right."""
    source = {"snapshot_id.$": "$.s.SnapshotId", "volume_id.$": "$.s.VolumeId",
              "device.$": "$.device.name", "size_gib.$": "$.s.VolumeSize"}
    devices = {
        f"{p}.S.D.Mine": choice([{"Variable": "$.b.VolumeId", "StringEqualsPath": "$.vol",
                                  "Next": f"{p}.S.D.Yes"}], f"{p}.S.D.No"),
        f"{p}.S.D.Yes": end_pass({"d.$": "States.Array($.b.DeviceName)"}),
        f"{p}.S.D.No": end_pass({"d": []}),
    }
    # A tagged copy is ours when the case recorded its id; failing that, when its description
    # names the run this step recorded before copying (a run stopped in between): a name
    # drawn by Step Functions, unknown to anyone before the case records it.
    adopt = {
        f"{p}.S.A.Known": pass_state({
            "yes.$": "States.ArrayContains($.known, $.c.SnapshotId)",
            "released.$": "States.ArrayContains($.released, $.c.SnapshotId)"},
            "$.is", f"{p}.S.A.Ours"),
        f"{p}.S.A.Ours": choice([
            {"Variable": "$.is.yes", "BooleanEquals": True, "Next": f"{p}.S.A.Recorded"},
            {"Variable": "$.is.released", "BooleanEquals": True, "Next": f"{p}.S.A.Recorded"},
            {"And": [{"Variable": "$.run", "IsNull": False},
                     {"Variable": "$.c.Description", "IsPresent": True},
                     {"Variable": "$.c.Description", "StringEqualsPath": "$.expect"}],
             "Next": f"{p}.S.A.Recent"}], f"{p}.S.A.No"),
        f"{p}.S.A.Recorded": end_pass({"known.$": "States.Array($.c.SnapshotId)", "recent": []}),
        f"{p}.S.A.Recent": end_pass({"known": [], "recent.$": "States.Array($.c.SnapshotId)"}),
        f"{p}.S.A.No": end_pass({"known": [], "recent": []}),
    }
    states: dict[str, dict[str, Any]] = {
        f"{p}.S.Devices": map_state(EBS, {"b.$": "$$.Map.Item.Value",
                                          "vol.$": "$.s.VolumeId"},
                                    devices, f"{p}.S.D.Mine", result_path="$.devs",
                                    next_state=f"{p}.S.Dev", catch=None, concurrency=0),
        f"{p}.S.Dev": pass_state({"list.$": "$.devs[*].d[*]",
                                  "n.$": "States.ArrayLength($.devs[*].d[*])"}, "$.dev",
                                 f"{p}.S.Own"),
        # A snapshot tagged with the case and instance but of no volume of the instance is
        # not evidence ircli took: it is never copied.
        f"{p}.S.Own": choice([{"Variable": "$.dev.n", "NumericEquals": 0,
                               "Next": f"{p}.S.Foreign"}], f"{p}.S.Device"),
        f"{p}.S.Foreign": end_pass({"skip": True, "todo": "no", "copy": None,
                                    "source": {"snapshot_id.$": "$.s.SnapshotId"}}),
        f"{p}.S.Device": pass_state({"name.$": "States.ArrayGetItem($.dev.list, 0)"},
                                    "$.device", f"{p}.S.Ready"),
        f"{p}.S.Ready": choice([{"Variable": "$.s.State", "StringEquals": "completed",
                                 "Next": f"{p}.S.Expect"}], f"{p}.Src.Limit"),
        **poll_states(p, "Src", "$.s.SnapshotId", "$.s.VolumeSize", f"{p}.S.Now",
                      f"{p}.S.Failed", f"{p}.S.Late"),
        f"{p}.S.Now": {"Type": "Pass", "InputPath": "$.now.s", "ResultPath": "$.s",
                       "Next": f"{p}.S.Expect"},
        f"{p}.S.Expect": choice([{"Variable": "$.run", "IsNull": True, "Next": f"{p}.S.NoRun"}],
                                f"{p}.S.Named"),
        f"{p}.S.NoRun": {"Type": "Pass", "Result": "", "ResultPath": "$.expect",
                         "Next": f"{p}.S.Tagged"},
        f"{p}.S.Named": pass_state({"d.$": description(account, "$.run")}, "$.named",
                                   f"{p}.S.NamedD"),
        f"{p}.S.NamedD": {"Type": "Pass", "InputPath": "$.named.d", "ResultPath": "$.expect",
                          "Next": f"{p}.S.Tagged"},
        f"{p}.S.Failed": fail_state(ERROR_FAILED, "a snapshot of the case failed in AWS; take "
                                    "another (`ircli contain` again) and run `ircli forensics "
                                    "share CASE`"),
        f"{p}.S.Late": fail_state(ERROR_WAIT, "a snapshot of the case was not completed within its "
                                  "size-aware deadline (60 s per GiB, at least 300 s); it keeps "
                                  "going in AWS: run `ircli forensics share CASE` once it is"),
        f"{p}.S.Tagged": task("ec2", "describeSnapshots", {"OwnerIds": ["self"], "Filters": [
            {"Name": f"tag:{TAG_CASE}", "Values.$": "States.Array($.case)"},
            {"Name": "tag:ircli:purpose", "Values": ["forensic-copy"]},
            {"Name": "tag:ircli:source-snapshot", "Values.$": "States.Array($.s.SnapshotId)"}]},
            result_selector={"c.$": "$.Snapshots"}, result_path="$.tagged",
            next_state=f"{p}.S.Adopt", catch=None),
        f"{p}.S.Adopt": map_state("$.tagged.c", {"c.$": "$$.Map.Item.Value", "known.$": "$.known",
                                                 "released.$": "$.released",
                                                 "run.$": "$.run", "expect.$": "$.expect"},
                                  adopt, f"{p}.S.A.Known",
                                  result_path="$.adopt", next_state=f"{p}.S.Adopted",
                                  catch=None, concurrency=0),
        f"{p}.S.Adopted": pass_state({
            "known.$": "$.adopt[*].known[*]", "recent.$": "$.adopt[*].recent[*]",
            "n_known.$": "States.ArrayLength($.adopt[*].known[*])",
            "n_recent.$": "States.ArrayLength($.adopt[*].recent[*])"}, "$.mine", f"{p}.S.Has"),
        f"{p}.S.Has": choice([
            {"Variable": "$.mine.n_known", "NumericGreaterThan": 0, "Next": f"{p}.S.Old"},
            {"Variable": "$.mine.n_recent", "NumericGreaterThan": 0, "Next": f"{p}.S.Resumed"}],
            f"{p}.S.New"),
        f"{p}.S.New": end_pass({"skip": False, "todo": "yes", "copy": None, "source": source}),
        f"{p}.S.Old": pass_state({"id.$": "States.ArrayGetItem($.mine.known, 0)"}, "$.copy",
                                 f"{p}.S.Perms"),
        f"{p}.S.Resumed": pass_state({"id.$": "States.ArrayGetItem($.mine.recent, 0)"}, "$.copy",
                                   f"{p}.S.Perms"),
        f"{p}.S.Perms": read_permission(f"{p}.S.Exact"),
        **only_the_forensics_account(f"{p}.S.Exact", f"{p}.S.Shared", f"{p}.S.Done",
                                     f"{p}.S.Reshare"),
        f"{p}.S.Done": end_pass({"skip": False, "todo": "no", "copy.$": "$.copy.id",
                                 "source": source}),
        f"{p}.S.Reshare": end_pass({"skip": False, "todo": "yes", "copy.$": "$.copy.id",
                                    "source": source}),
    }
    return states


def _copies(p: str, account: str, region: str, key: str) -> dict[str, dict[str, Any]]:
    """One Map iteration per source: copy (or take the adopted copy), wait for it, share it
    with the forensics account only, and say what AWS now holds."""
    src = "$.e.source"
    tags = [{"Key": TAG_CASE, "Value.$": "$.case"},
            {"Key": "ircli:purpose", "Value": "forensic-copy"},
            {"Key": "ircli:source-snapshot", "Value.$": f"{src}.snapshot_id"},
            {"Key": "ircli:source-volume", "Value.$": f"{src}.volume_id"},
            {"Key": TAG_DEVICE, "Value.$": f"{src}.device"},
            {"Key": "ircli:source-instance", "Value.$": "$.iid"},
            {"Key": "ircli:source-account", "Value.$": "$.account"},
            {"Key": "Name", "Value.$": f"States.Format('ircli {{}} copy of {{}}', $.case, "
                                       f"{src}.snapshot_id)"}]
    entry = {"source_snapshot_id.$": f"{src}.snapshot_id", "copy_snapshot_id.$": "$.copy.id",
             "status.$": "$.status", "region": region, "forensics_account": account,
             "volume_id.$": f"{src}.volume_id", "device.$": f"{src}.device",
             "size_gib.$": f"{src}.size_gib", "state.$": "$.final.s.State",
             "encrypted.$": "$.final.s.Encrypted", "kms_key.$": "$.final.s.KmsKeyId",
             "shared_with.$": "$.perms.p", "checked_at.$": "$$.State.EnteredTime"}
    return {
        f"{p}.C.Kind": choice([
            {"Variable": "$.e.skip", "BooleanEquals": True, "Next": f"{p}.C.None"},
            {"Variable": "$.e.copy", "IsNull": True, "Next": f"{p}.C.Make"}], f"{p}.C.Have"),
        f"{p}.C.None": end_pass({"entry": []}),
        f"{p}.C.Make": task("ec2", "copySnapshot", {
            "SourceSnapshotId.$": f"{src}.snapshot_id", "SourceRegion.$": "$.region",
            "Encrypted": True, "KmsKeyId": key,
            "Description.$": description(account, "$.recorded_run"),
            "TagSpecifications": [{"ResourceType": "snapshot", "Tags": tags}]},
            result_selector={"id.$": "$.SnapshotId"}, result_path="$.copy",
            next_state=f"{p}.Copy.Limit", catch=None,
            comment="re-encrypted under the forensics key: a copy of an aws/ebs snapshot "
                    "can be shared, the original never"),
        f"{p}.C.Have": pass_state({"id.$": "$.e.copy"}, "$.copy", f"{p}.C.Todo"),
        f"{p}.C.Todo": choice([{"Variable": "$.e.todo", "StringEquals": "yes",
                                "Next": f"{p}.Copy.Limit"}], f"{p}.C.Look"),
        **poll_states(p, "Copy", "$.copy.id", f"{src}.size_gib", f"{p}.C.Was", f"{p}.C.Failed",
                      f"{p}.C.Late"),
        f"{p}.C.Failed": fail_state(ERROR_COPY_FAILED, "a forensic copy failed in AWS: the "
                                    "forensics key's policy must let this account's role use it "
                                    "through EBS (`ircli forensics check`)"),
        f"{p}.C.Late": fail_state(ERROR_COPY_WAIT, "a forensic copy was not completed within its "
                                  "size-aware deadline (60 s per GiB, at least 300 s); it keeps "
                                  "going in AWS: run `ircli forensics share CASE` to share it"),
        **share_only_with(f"{p}.C", account, f"{p}.C.Look"),
        f"{p}.C.Look": read_permission(f"{p}.C.Final"),
        f"{p}.C.Final": task("ec2", "describeSnapshots", {"SnapshotIds.$": "States.Array("
                                                                          "$.copy.id)"},
                             result_selector={"s.$": "States.ArrayGetItem($.Snapshots, 0)"},
                             result_path="$.final", next_state=f"{p}.C.Exact", catch=None),
        **only_the_forensics_account(f"{p}.C.Exact", f"{p}.C.Judge", f"{p}.C.Shared",
                                     f"{p}.C.NotShared"),
        f"{p}.C.Shared": {"Type": "Pass", "Result": "shared", "ResultPath": "$.status",
                          "Next": f"{p}.C.Rec"},
        f"{p}.C.NotShared": {"Type": "Pass", "Result": "not-shared", "ResultPath": "$.status",
                             "Next": f"{p}.C.Rec"},
        f"{p}.C.Rec": pass_state(entry, "$.rec", f"{p}.C.Out"),
        f"{p}.C.Out": end_pass({"entry.$": "States.Array($.rec)"}),
    }


def share_forensic_copies(p: str, *, account: str, region: str, key: str,
                          permissions: tuple[Any, ...]) -> CaseFragment:
    """The states of the step (``p`` is its prefix); ``account``/``region``/``key``: the
    forensics account, its region and the key ARN the copies are encrypted under."""
    want = {"UserId": account}
    lb, rb = "$.c.lb", "$.c.rb"
    acc = _s(p, "acc")
    states: dict[str, dict[str, Any]] = {
        f"{p}.Where": choice([{"Variable": "$.ircli.region", "StringEquals": region,
                               "Next": f"{p}.Self"}], f"{p}.Elsewhere"),
        f"{p}.Elsewhere": fail_with(ERROR_REGION, (
            f"This state machine runs outside the forensics region {region}, and Step "
            "Functions calls CopySnapshot in its own region while the copy must be made in "
            f"the destination region: deploy the machine in {region}, or run `ircli "
            "forensics share CASE` for this case."), FAIL),
        f"{p}.Self": choice([{"Variable": "$.ircli.account", "StringEquals": account,
                              "Next": NEXT}], f"{p}.Known"),
        f"{p}.Known": choice([{"Variable": "$.record." + p + ".copy_ids", "IsPresent": True,
                               "Next": f"{p}.Run"}], f"{p}.NoneKnown"),
        f"{p}.NoneKnown": {"Type": "Pass", "Result": [], "ResultPath": f"$.record.{p}.copy_ids",
                           "Next": f"{p}.Run"},
        f"{p}.Run": choice([{"Variable": f"$.record.{p}.before.run", "IsPresent": True,
                             "Next": f"{p}.RunThen"}], f"{p}.RunNever"),
        f"{p}.RunThen": {"Type": "Pass", "InputPath": f"$.record.{p}.before.run",
                         "ResultPath": _s(p, "run"), "Next": f"{p}.Find"},
        f"{p}.RunNever": {"Type": "Pass", "Result": None, "ResultPath": _s(p, "run"),
                          "Next": f"{p}.Find"},
        f"{p}.Find": task("ec2", "describeSnapshots", {"OwnerIds": ["self"], "Filters": [
            {"Name": f"tag:{TAG_CASE}", "Values.$": f"States.Array({CASE})"},
            {"Name": f"tag:{TAG_INSTANCE}", "Values.$": f"States.Array({IID})"}]},
            result_selector={"s.$": "$.Snapshots", "n.$": "States.ArrayLength($.Snapshots)"},
            result_path=_s(p, "found"), next_state=f"{p}.Any",
            comment="the case's snapshots of this instance, as the snapshot step tagged them"),
        f"{p}.Any": choice([{"Variable": _s(p, "found.n"), "NumericEquals": 0, "Next": NEXT}],
                           f"{p}.Sources"),
        f"{p}.Sources": map_state(_s(p, "found.s"), {
            "s.$": "$$.Map.Item.Value", "ebs.$": EBS, "known.$": f"$.record.{p}.copy_ids",
            # a containment after a release: the copies the released record kept
            "released.$": "$.history[*].forensic_copies.*.copy_snapshot_id",
            "run.$": _s(p, "run"), "case.$": CASE, "iid.$": IID, "want": want},
            _sources(p, account), f"{p}.S.Devices", result_path=_s(p, "sources"),
            next_state=f"{p}.Plan", concurrency=0),
        f"{p}.Plan": pass_state({"todo.$": f"States.ArrayContains({_s(p, 'sources')}[*].todo, "
                                           "'yes')"}, _s(p, "plan"), f"{p}.Changes"),
        # Nothing to change: the record is still rebuilt from what AWS says (a containment
        # after a release starts a fresh record, its copies taken from the released one).
        f"{p}.Changes": choice([{"Variable": _s(p, "plan.todo"), "BooleanEquals": True,
                                 "Next": f"{p}.Before"}], f"{p}.Copy"),
        f"{p}.Before": pass_state({"at.$": "$$.State.EnteredTime", "run.$": "$$.Execution.Name",
                                   "forensics_account": account,
                                   "region": region, "kms_key": key,
                                   "sources.$": f"{_s(p, 'sources')}[*].source"},
                                  _s(p, "before"), RECORD),
        f"{p}.RunNow": {"Type": "Pass", "InputPath": f"$.record.{p}.before.run",
                        "ResultPath": _s(p, "run"), "Next": f"{p}.Copy",
                        "Comment": "the run the record names: the copies' descriptions carry it"},
        f"{p}.Copy": map_state(_s(p, "sources"), {
            "e.$": "$$.Map.Item.Value", "case.$": CASE, "iid.$": IID,
            "account.$": "$.ircli.account", "region.$": "$.ircli.region", "want": want,
            "recorded_run.$": _s(p, "run")},
            _copies(p, account, region, key), f"{p}.C.Kind", result_path=_s(p, "copies"),
            next_state=f"{p}.Collect", concurrency=5),
        f"{p}.Collect": pass_state({
            "list.$": f"{_s(p, 'copies')}[*].entry[*]",
            "ids.$": f"{_s(p, 'copies')}[*].entry[*].copy_snapshot_id",
            "n.$": f"States.ArrayLength({_s(p, 'copies')}[*].entry[*])"}, _s(p, "out"),
            f"{p}.Ids"),
        f"{p}.Ids": {"Type": "Pass", "InputPath": _s(p, "out.ids"),
                     "ResultPath": f"$.record.{p}.copy_ids", "Next": f"{p}.AccStart"},
        # The record keyed by source snapshot id, as the CLI writes it: one JsonMerge each.
        f"{p}.AccStart": pass_state({"i": 0, "n.$": _s(p, "out.n"), "acc.$": COPIES}, acc,
                                    f"{p}.AccMore"),
        f"{p}.AccMore": choice([{"Variable": f"{acc}.i", "NumericLessThanPath": f"{acc}.n",
                                 "Next": f"{p}.AccOne"}], f"{p}.AccDone"),
        f"{p}.AccOne": pass_state({"e.$": f"States.ArrayGetItem({_s(p, 'out.list')}, "
                                          f"{acc}.i)"}, _s(p, "cur"), f"{p}.AccAdd"),
        f"{p}.AccAdd": pass_state({
            "i.$": f"States.MathAdd({acc}.i, 1)", "n.$": f"{acc}.n",
            "acc.$": f"States.JsonMerge({acc}.acc, States.StringToJson(States.Format("
                     f"'{{}}\"{{}}\":{{}}{{}}', {lb}, {_s(p, 'cur.e.source_snapshot_id')}, "
                     f"States.JsonToString({_s(p, 'cur.e')}), {rb})), false)"}, acc,
            f"{p}.AccMore"),
        f"{p}.AccDone": {"Type": "Pass", "InputPath": f"{acc}.acc", "ResultPath": COPIES,
                         "Next": f"{p}.Recorded"},
        f"{p}.Recorded": {"Type": "Pass", "InputPath": COPIES,
                          "ResultPath": f"$.record.{p}.{FIELD}", "Next": NEXT},
    }
    fragment = CaseFragment(states, start=f"{p}.Where", permissions=permissions,
                            record_at=f"{p}.RunNow", before=_s(p, "before"))
    fragment.case_fields = {FIELD: {}}
    return fragment
