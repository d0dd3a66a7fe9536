"""The states around the steps: open (or re-open) the case, record, audit, fail, finish.

The case lives in the evidence bucket, in the shape the CLI writes locally:
``cases/<case-id>/case.json`` (``targets.<target>.steps.<record key>`` with ``before`` and
``status``, plus ``opened_by: automation:<state machine>``), created with ``If-None-Match: *``;
an existing one (a re-delivered finding) is read and the machine converges on it, keeping the
first ``before`` of every step. ``automation.state`` in the same file keeps the machine's own
copy of the step records, so a later execution can read them back with JSONPath. In the
central ``[forensics]`` bucket every key has the member account in front,
``cases/<account>/<case-id>/…``, as the CLI ships a member's case there; elsewhere the
single-account layout is unchanged.

Audit entries are one object each, ``cases/<case-id>/audit/<seq, 8 digits>.json``, each created
with ``If-None-Match: *``: ``{"seq", "time", "actor", "action", "detail", "prev"}`` where
``prev`` is the SHA-256 of the previous entry's exact bytes (64 zeros for the first). A seq
already taken (another writer, an earlier delivery) is read, chained to, and the next one used.
The eight digits are two table look-ups (00-99 each) behind ``0000``: up to 9,999 entries per
case, far beyond what a run writes.

Step Functions' intrinsic strings cannot hold braces unescaped, and a JSON object's keys in
``Parameters`` are fixed: the one key that varies (the target id under ``targets``) is built
with ``States.Format`` from brace strings kept in ``$.c``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ircli.core.asl import pass_state, task
from ircli.core.step import RECORD, Fragment
from ircli.forensics.settings import load_forensics

__all__ = ["RECORD"]

INIT = "Init"
RUN_END = "Run.End"
RUN_FAILURE = "Run.Failure"
GENESIS = "0" * 64
PERMISSIONS: tuple[str, ...] = ()

FINAL_STATUS = {"instance": "contained", "ip": "lifted"}


@dataclass(frozen=True)
class CaseContext:
    runbook: str
    bucket: str
    topic_arn: str
    kind: str
    target_path: str
    # The central forensics bucket: the case goes under cases/<account>/<case-id>/ there.
    central: bool = False
    # Target-record fields a step keeps beside ``steps`` (name -> value until it fills it).
    fields: dict[str, Any] = field(default_factory=dict)


def central_bucket(bucket: str) -> bool:
    """Is ``bucket`` the ``[forensics]`` bucket? A member account's case goes under its own
    account's prefix there, as the CLI writes it (``ircli.evidence.ship.case_prefix``)."""
    settings = load_forensics(strict=False)
    return settings is not None and bool(settings.bucket) and settings.bucket == bucket


def case_key(cx: CaseContext, rest: str, *args: str) -> str:
    """The intrinsic naming ``cases/[<account>/]<case-id>/<rest>`` (``rest`` may hold more
    ``{}`` filled from ``args``)."""
    if cx.central:
        return (f"States.Format('cases/{{}}/{{}}/{rest}', $.ircli.account, $.ircli.case_id"
                + "".join(f", {a}" for a in args) + ")")
    return f"States.Format('cases/{{}}/{rest}', $.ircli.case_id" + \
        "".join(f", {a}" for a in args) + ")"


def _put(cx: CaseContext, key: str, body: str, next_state: str, catch: str | None,
         *, create: bool = False, drop_scratch: bool = False) -> dict[str, Any]:
    params: dict[str, Any] = {"Bucket": cx.bucket, "Key.$": key, "Body.$": body,
                              "ContentType": "application/json"}
    if create:
        params["IfNoneMatch"] = "*"
    if not drop_scratch:
        return task("s3", "putObject", params, next_state=next_state, catch=catch)
    # The put's small answer replaces the scratch (the record and document just written, tens
    # of KB): AWS caps a state's input at 256 KiB, and every later state would carry it.
    return task("s3", "putObject", params, next_state=next_state, catch=catch,
                result_selector={"etag.$": "$.ETag"}, result_path="$.tmp")


def save_states(cx: CaseContext, name: str, recorded: list[tuple[str, str]], next_state: str,
                catch: str | None) -> dict[str, dict[str, Any]]:
    """Write case.json with the records of the steps begun so far, over those an earlier
    delivery recorded (``$.oldsteps``): no version of the case drops a step's record (four
    states)."""
    steps = {f"{key}.$": f"$.record.{prefix}" for key, prefix in recorded}
    target: dict[str, Any] = {
        "kind": cx.kind, "account.$": "$.ircli.account", "region.$": "$.ircli.region",
        "status.$": "$.run.status", "opened_by.$": "$.ircli.actor",
        "finding": {"id.$": "$.ircli.finding_id", "type.$": "$.ircli.finding_type"},
        "steps.$": "States.JsonMerge($.oldsteps, $.tmp.steps, false)",
        "history.$": "$.history", **{f"{name}.$": f"$.fields.{name}" for name in cx.fields}}
    doc = {"case_id.$": "$.ircli.case_id", "created_at.$": "$.ircli.created",
           "opened_by.$": "$.ircli.actor",
           "automation": {"execution.$": "$.ircli.execution", "state.$": "$.record"},
           "targets.$": "States.StringToJson(States.Format('{}\"{}\":{}{}', $.c.lb, "
                        "$.ircli.key, States.JsonToString($.tmp.rec), $.c.rb))"}
    return {
        name: pass_state(steps, "$.tmp.steps", f"{name}.Rec"),
        f"{name}.Rec": pass_state(target, "$.tmp.rec", f"{name}.Doc"),
        f"{name}.Doc": pass_state(doc, "$.tmp.doc", f"{name}.Put"),
        f"{name}.Put": _put(cx, case_key(cx, "case.json"), "States.JsonToString($.tmp.doc)",
                            next_state, catch, drop_scratch=True),
    }


def audit_request(action: str, detail: dict[str, Any], ret: str, next_state: str = "Audit.Entry"
                  ) -> dict[str, Any]:
    return pass_state({"action": action, "detail": detail, "ret": ret}, "$.audit.req",
                      next_state)


def run_states(cx: CaseContext, *, first: str, recorded: list[tuple[str, str]]
               ) -> dict[str, dict[str, Any]]:
    """Init, case open/re-open, the run's end and the critical-failure path."""
    init = {
        "event.$": "$",
        "ircli": {
            "case_id.$": "States.Format('ir-gd-{}', States.Hash($.detail.id, 'MD5'))",
            "target.$": cx.target_path, "account.$": "$.account", "region.$": "$.region",
            # Where the case keeps the target: its id, or ip/<address> as the CLI does.
            "key.$": cx.target_path if cx.kind != "ip" else
            f"States.Format('ip/{{}}', {cx.target_path})",
            "finding_id.$": "$.detail.id", "finding_type.$": "$.detail.type",
            "actor.$": "States.Format('automation:{}', $$.StateMachine.Name)",
            "created.$": "$$.Execution.StartTime", "execution.$": "$$.Execution.Id",
            "runbook": cx.runbook,
        },
        "c": {"lb": "{", "rb": "}", "managed": {"Key": "ircli:managed", "Value": "true"}},
        "pad": [f"{n:02d}" for n in range(100)],
        "audit": {"seq": 0, "hi": 0, "lo": 0, "prev": GENESIS, "redo": False},
        **({"fields": dict(cx.fields)} if cx.fields else {}),
        "record": {}, "status": {}, "prior": {}, "oldsteps": {}, "steps": {}, "tmp": {},
        "history": [],
        "run": {"status": "containing" if cx.kind == "instance" else "blocking",
                "partial": False, "failed_step": None},
    }
    states: dict[str, dict[str, Any]] = {
        INIT: {"Type": "Pass", "Parameters": init, "Next": "Case.Open",
               "Comment": "The finding event: target, account, region; the case id from the "
                          "finding id, so a re-delivered event finds the same case"},
    }
    states.update(save_states(cx, "Case.Open", [], "Case.Opened", "Case.Read"))
    states["Case.Open.Put"]["Parameters"]["IfNoneMatch"] = "*"
    states["Case.Opened"] = audit_request(
        "run-start", {"runbook": cx.runbook, "finding.$": "$.ircli.finding_id",
                      "target.$": "$.ircli.target", "execution.$": "$.ircli.execution"}, first)
    states["Case.Read"] = task("s3", "getObject", {"Bucket": cx.bucket,
                                                   "Key.$": case_key(cx, "case.json")},
                               result_selector={"body.$": "$.Body"}, result_path="$.tmp.read",
                               next_state="Case.Parse", catch=RUN_FAILURE,
                               comment="The case exists (a re-delivered finding): converge")
    states["Case.Parse"] = pass_state({"doc.$": "States.StringToJson($.tmp.read.body)"},
                                      "$.tmp.existing", "Case.HasState")
    states["Case.HasState"] = {"Type": "Choice", "Choices": [
        {"And": [{"Variable": "$.tmp.existing.doc.automation.state", "IsPresent": True},
                 {"Variable": "$.tmp.existing.doc.created_at", "IsPresent": True}],
         "Next": "Case.Target"}], "Default": "Case.Opened"}
    # A case whose target a responder released: the finding came back (GuardDuty updates a
    # finding under its id while the activity goes on). Contain afresh as `ircli contain`
    # does, the released record kept in the target's history, never overwritten.
    states["Case.Target"] = pass_state({"all.$": "$.tmp.existing.doc.targets.*"}, "$.tmp.old",
                                       "Case.TargetCount")
    states["Case.TargetCount"] = pass_state(
        {"all.$": "$.tmp.old.all", "n.$": "States.ArrayLength($.tmp.old.all)"}, "$.tmp.old",
        "Case.HasTarget")
    states["Case.HasTarget"] = {"Type": "Choice", "Choices": [
        {"Variable": "$.tmp.old.n", "NumericGreaterThan": 0, "Next": "Case.TargetOne"}],
        "Default": "Case.Prior"}
    states["Case.TargetOne"] = pass_state(
        {"first.$": "States.ArrayGetItem($.tmp.old.all, 0)"}, "$.tmp.one", "Case.Released")
    states["Case.Released"] = {"Type": "Choice", "Choices": [
        {"And": [{"Variable": "$.tmp.one.first.status", "IsPresent": True},
                 {"Variable": "$.tmp.one.first.status", "StringEquals": "released"}],
         "Next": "Case.Recontain"}], "Default": "Case.KeepHistory"}
    kept = [f"Case.Field.{name}" for name in cx.fields] + ["Case.Prior"]
    states["Case.KeepHistory"] = {"Type": "Choice", "Choices": [
        {"Variable": "$.tmp.one.first.history", "IsPresent": True, "Next": "Case.OldHistory"}],
        "Default": kept[0]}
    states["Case.OldHistory"] = {"Type": "Pass", "InputPath": "$.tmp.one.first.history",
                                 "ResultPath": "$.history", "Next": kept[0]}
    for index, name in enumerate(cx.fields):  # what a step recorded beside its record stays
        states[kept[index]] = {"Type": "Choice", "Choices": [
            {"Variable": f"$.tmp.one.first.{name}", "IsPresent": True,
             "Next": f"{kept[index]}.Keep"}], "Default": kept[index + 1]}
        states[f"{kept[index]}.Keep"] = {"Type": "Pass", "InputPath": f"$.tmp.one.first.{name}",
                                         "ResultPath": f"$.fields.{name}",
                                         "Next": kept[index + 1]}
    states["Case.Recontain"] = pass_state({"list.$": "States.Array($.tmp.one.first)"},
                                          "$.tmp.hist", "Case.History")
    states["Case.History"] = {"Type": "Pass", "InputPath": "$.tmp.hist.list",
                              "ResultPath": "$.history", "Next": "Case.Created"}
    states["Case.Prior"] = {"Type": "Pass", "InputPath": "$.tmp.existing.doc.automation.state",
                            "ResultPath": "$.prior", "Next": "Case.PriorRecord"}
    # Every step's earlier record stays in each version this delivery writes, begun or not.
    states["Case.PriorRecord"] = {"Type": "Pass", "InputPath": "$.prior", "ResultPath": "$.record",
                                  "Next": "Case.PriorSteps"}
    states["Case.PriorSteps"] = {"Type": "Choice", "Choices": [
        {"Variable": "$.tmp.one.first.steps", "IsPresent": True, "Next": "Case.OldSteps"}],
        "Default": "Case.Created"}
    states["Case.OldSteps"] = {"Type": "Pass", "InputPath": "$.tmp.one.first.steps",
                               "ResultPath": "$.oldsteps", "Next": "Case.Created"}
    states["Case.Created"] = {"Type": "Pass", "InputPath": "$.tmp.existing.doc.created_at",
                              "ResultPath": "$.ircli.created", "Next": "Case.ReadDone"}
    states["Case.ReadDone"] = {"Type": "Pass", "Result": {}, "ResultPath": "$.tmp",
                               "Next": "Case.Opened",
                               "Comment": "Drop the case read (kept: prior, history, created)"}
    # The end of a run that got through every critical step.
    states[RUN_END] = {"Type": "Choice", "Choices": [
        {"Variable": "$.run.partial", "BooleanEquals": True, "Next": "Run.Partial"}],
        "Default": "Run.Complete"}
    states["Run.Partial"] = {"Type": "Pass", "Result": "partial", "ResultPath": "$.run.status",
                             "Next": "Run.Save"}
    states["Run.Complete"] = {"Type": "Pass", "Result": FINAL_STATUS.get(cx.kind, "done"),
                              "ResultPath": "$.run.status", "Next": "Run.Save"}
    states.update(save_states(cx, "Run.Save", recorded, "Run.Audit", "Run.Audit"))
    states["Run.Audit"] = audit_request("run-end", {"status.$": "$.run.status"}, "Run.Succeed")
    states["Run.Succeed"] = {"Type": "Succeed"}
    # A critical step failed: failure record, SNS, then Fail.
    failure = {"case_id.$": "$.ircli.case_id", "target.$": "$.ircli.target",
               "step.$": "$.run.failed_step", "error.$": "$.error",
               "execution.$": "$.ircli.execution", "finding.$": "$.ircli.finding_id",
               "time.$": "$$.State.EnteredTime"}
    states[RUN_FAILURE] = pass_state(failure, "$.tmp.failure", "Run.FailureRecord")
    states["Run.FailureRecord"] = _put(
        cx, case_key(cx, "failure.json"),
        "States.JsonToString($.tmp.failure)", "Run.Notify", "Run.Notify")
    states["Run.Notify"] = task("sns", "publish", {
        "TopicArn": cx.topic_arn,
        "Subject.$": "States.Format('ircli: {} NOT contained (case {})', $.ircli.target, "
                     "$.ircli.case_id)",
        "Message.$": "States.JsonToString($.tmp.failure)"},
        next_state="Run.FailAudit", catch="Run.FailAudit")
    states["Run.FailAudit"] = audit_request("run-failed", {"step.$": "$.run.failed_step"},
                                            "Run.Fail")
    states["Run.Fail"] = {"Type": "Fail", "Error": "ircli.CriticalStepFailed",
                          "Cause": "A critical step failed: see cases/<case-id>/failure.json"}
    return states


def step_states(cx: CaseContext, key: str, prefix: str, fragment: Fragment, *, critical: bool,
                after: str, recorded: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """Begin (resume the prior record or start one), record-before-change, end, failure."""
    rec = f"$.record.{prefix}"
    states: dict[str, dict[str, Any]] = {
        f"{prefix}._Begin": {"Type": "Choice", "Choices": [
            {"Variable": f"$.prior.{prefix}", "IsPresent": True, "Next": f"{prefix}._Resume"}],
            "Default": f"{prefix}._Fresh"},
        f"{prefix}._Resume": {"Type": "Pass", "InputPath": f"$.prior.{prefix}",
                             "ResultPath": rec, "Next": fragment.start},
        f"{prefix}._Fresh": {"Type": "Pass", "Result": {"status": "running"}, "ResultPath": rec,
                            "Next": fragment.start},
        f"{prefix}._End": {"Type": "Choice", "Choices": [
            {"Variable": f"$.status.{prefix}", "IsPresent": True, "Next": f"{prefix}._Done"}],
            "Default": f"{prefix}._Same"},
        f"{prefix}._Done": {"Type": "Pass", "Result": "done", "ResultPath": f"{rec}.status",
                           "Next": f"{prefix}._Save"},
        f"{prefix}._Same": {"Type": "Pass", "Result": "already-done",
                           "ResultPath": f"{rec}.status", "Next": f"{prefix}._Save"},
        f"{prefix}._Audit": audit_request("step-end", {"step": key, "status.$": f"{rec}.status"},
                                         after),
        f"{prefix}._Failed": {"Type": "Pass", "Result": "failed", "ResultPath": f"{rec}.status",
                             "Next": f"{prefix}._FailedError"},
        f"{prefix}._FailedError": {"Type": "Pass", "InputPath": "$.error",
                                  "ResultPath": f"{rec}.error",
                                  "Next": f"{prefix}._FailedRun" if critical
                                  else f"{prefix}._Partial"},
    }
    states.update(save_states(cx, f"{prefix}._Save", recorded, f"{prefix}._Audit",
                              f"{prefix}._Audit"))
    if fragment.record_at is not None:
        states.update({
            RECORD_STATE(prefix): {"Type": "Choice", "Choices": [
                {"Variable": f"{rec}.before", "IsPresent": True,
                 "Next": f"{prefix}._Applying"}],
                "Default": f"{prefix}._Before" if fragment.before else f"{prefix}._Applying"},
            f"{prefix}._Applying": {"Type": "Pass", "Result": "applying",
                                   "ResultPath": f"{rec}.status", "Next": f"{prefix}._Changing"},
            f"{prefix}._Changing": {"Type": "Pass", "Result": True,
                                   "ResultPath": f"$.status.{prefix}",
                                   "Next": f"{prefix}._SaveBefore"},
        })
        if fragment.before:
            states[f"{prefix}._Before"] = {"Type": "Pass", "InputPath": fragment.before,
                                          "ResultPath": f"{rec}.before",
                                          "Next": f"{prefix}._Applying"}
        # Record before change: when the case cannot be written, nothing is changed.
        states.update(save_states(cx, f"{prefix}._SaveBefore", recorded, fragment.record_at,
                                  f"{prefix}._Failed"))
    if critical:
        states[f"{prefix}._FailedRun"] = {"Type": "Pass", "Result": "failed",
                                         "ResultPath": "$.run.status",
                                         "Next": f"{prefix}._FailedStep"}
        states[f"{prefix}._FailedStep"] = {"Type": "Pass", "Result": key,
                                          "ResultPath": "$.run.failed_step",
                                          "Next": f"{prefix}._FailSave"}
        states.update(save_states(cx, f"{prefix}._FailSave", recorded, RUN_FAILURE,
                                  RUN_FAILURE))
    else:
        states[f"{prefix}._Partial"] = {"Type": "Pass", "Result": True,
                                       "ResultPath": "$.run.partial", "Next": f"{prefix}._Save"}
    return states


def RECORD_STATE(prefix: str) -> str:
    return f"{prefix}._Record"


def audit_states(cx: CaseContext, states: dict[str, dict[str, Any]]
                 ) -> dict[str, dict[str, Any]]:
    """The audit writer every audit point (a state setting ``$.audit.req``) jumps to; it goes
    back through ``Audit.Return`` to the state the request names."""
    pad = "States.ArrayGetItem($.pad, $.audit.{})"
    returns = list(dict.fromkeys(
        s["Parameters"]["ret"] for s in states.values()
        if s.get("ResultPath") == "$.audit.req" and "ret" in s.get("Parameters", {})))
    entry = {"seq.$": "$.audit.seq", "time.$": "$$.State.EnteredTime",
             "actor.$": "$.ircli.actor", "action.$": "$.audit.req.action",
             "detail.$": "$.audit.req.detail", "prev.$": "$.audit.prev"}
    return {
        "Audit.Entry": pass_state(entry, "$.audit.entry", "Audit.Body"),
        "Audit.Body": pass_state({
            "key.$": case_key(cx, "audit/0000{}{}.json", pad.format("hi"), pad.format("lo")),
            "body.$": "States.JsonToString($.audit.entry)"}, "$.audit.out", "Audit.Put"),
        "Audit.Put": _put(cx, "$.audit.out.key", "$.audit.out.body", "Audit.Chain",
                          "Audit.Taken", create=True),
        "Audit.Chain": pass_state({"prev.$": "States.Hash($.audit.out.body, 'SHA-256')",
                                   "redo": False}, "$.audit.h", "Audit.Next"),
        "Audit.Taken": task("s3", "getObject", {"Bucket": cx.bucket, "Key.$": "$.audit.out.key"},
                            result_selector={"body.$": "$.Body"}, result_path="$.audit.theirs",
                            next_state="Audit.TakenHash", catch="Audit.Return",
                            comment="That seq is taken: chain to it and take the next one"),
        "Audit.TakenHash": pass_state({"prev.$": "States.Hash($.audit.theirs.body, 'SHA-256')",
                                       "redo": True}, "$.audit.h", "Audit.Next"),
        "Audit.Next": pass_state({"seq.$": "States.MathAdd($.audit.seq, 1)",
                                  "hi.$": "$.audit.hi", "lo.$": "States.MathAdd($.audit.lo, 1)",
                                  "prev.$": "$.audit.h.prev", "redo.$": "$.audit.h.redo",
                                  "req.$": "$.audit.req"}, "$.audit", "Audit.Carry"),
        "Audit.Carry": {"Type": "Choice", "Choices": [
            {"Variable": "$.audit.lo", "NumericEquals": 100, "Next": "Audit.CarryUp"}],
            "Default": "Audit.After"},
        "Audit.CarryUp": pass_state({"seq.$": "$.audit.seq",
                                     "hi.$": "States.MathAdd($.audit.hi, 1)", "lo": 0,
                                     "prev.$": "$.audit.prev", "redo.$": "$.audit.redo",
                                     "req.$": "$.audit.req"}, "$.audit", "Audit.After"),
        "Audit.After": {"Type": "Choice", "Choices": [
            {"Variable": "$.audit.redo", "BooleanEquals": True, "Next": "Audit.Entry"}],
            "Default": "Audit.Return"},
        "Audit.Return": {"Type": "Choice", "Choices": [
            {"Variable": "$.audit.req.ret", "StringEquals": ret, "Next": ret}
            for ret in returns], "Default": "Run.Fail"},
    }
