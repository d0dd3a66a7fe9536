"""The Step Functions form of cut-credentials: the instance added to its role's ircli deny
policy, as the CLI step writes it (see :mod:`ircli.steps.asl_paths` for what every compiled
step shares).
"""

from __future__ import annotations

import json
from typing import Any

from ircli.core.asl import choice, end_pass, fail_with, map_state, pass_state, task
from ircli.core.step import NEXT, RECORD, Fragment
from ircli.steps.asl_paths import IID
from ircli.steps.asl_paths import step_path as _s


def _deny_template(ids_path: str) -> dict[str, Any]:
    """The role's deny policy exactly as the CLI writes it, naming the instances at
    ``ids_path`` (built from the CLI's own builder, so the two never drift apart)."""
    from ircli.aws.iam_policies import contain_deny

    # A copy: the statements of contain_deny share their condition dicts.
    document: dict[str, Any] = json.loads(json.dumps(contain_deny(["i-0"])))
    for statement in document["Statement"]:
        like = statement["Condition"]["StringLike"]
        like.pop("ec2:SourceInstanceARN")
        like["ec2:SourceInstanceARN.$"] = ids_path
    return document


def _kept_ids(p: str, names: tuple[str, str], items: str, item: str, *, test: str,
              rule: dict[str, Any], keep: bool, key: str, value: str, nested: bool,
              results: str, flat: tuple[str, str], next_state: str) -> dict[str, dict[str, Any]]:
    """Two states that filter a list into ids: a Map over ``items`` (each at ``$.<item>``)
    whose iteration, ``test`` (``"<letter>.<name>"``), gives ``{key: value}`` where ``rule``
    holds (``keep``; where it does not, with ``keep=False``) and ``{key: []}`` otherwise,
    results at ``$.steps.p.<results>``; then a Pass, ``names[1]``, that puts every id in one
    list at ``{flat[0]: [...]}`` at ``$.steps.p.<flat[1]>`` (``nested``: ``value`` is a list
    already). Never fails by itself."""
    choose, yes, no = f"{p}.{test}", f"{p}.{test[0]}.Yes", f"{p}.{test[0]}.No"
    ids = _s(p, f"{results}[*].{key}[*]{'[*]' if nested else ''}")
    return {
        f"{p}.{names[0]}": map_state(items, {f"{item}.$": "$$.Map.Item.Value"}, {
            choose: choice([{**rule, "Next": yes if keep else no}], no if keep else yes),
            yes: end_pass({f"{key}.$": value}),
            no: end_pass({key: []})}, choose, result_path=_s(p, results),
            next_state=f"{p}.{names[1]}", concurrency=0),
        f"{p}.{names[1]}": pass_state({f"{flat[0]}.$": ids}, _s(p, flat[1]), next_state),
    }


def cut_credentials(p: str, partition: str, permissions: tuple[Any, ...]) -> Fragment:
    """Add the instance to its role's ircli deny policy (``ec2:SourceInstanceARN``), creating
    and attaching the policy where there is none; the other instances it names stay."""
    from ircli.aws.contain_deny import deny_policy_name
    from ircli.aws.iam_managed import IRCLI_PATH, MAX_VERSIONS, TAGS
    from ircli.aws.iam_policies import SID_CONTAIN, instance_pattern

    prefix = deny_policy_name("")
    me = _s(p, "me.pattern")
    states = {
        f"{p}.Has": choice([{"Variable": "$.instance.IamInstanceProfile", "IsPresent": True,
                             "Next": f"{p}.Split"}], NEXT),
        f"{p}.Split": pass_state({"parts.$": "States.StringSplit("
                                  "$.instance.IamInstanceProfile.Arn, '/')"},
                                 _s(p, "arn"), f"{p}.Name"),
        f"{p}.Name": pass_state({"name.$": f"States.ArrayGetItem({_s(p, 'arn.parts')}, "
                                 f"States.MathAdd(States.ArrayLength({_s(p, 'arn.parts')}), -1))",
                                 "pattern.$": f"States.Format('{instance_pattern('{}')}', {IID})"},
                                _s(p, "me"), f"{p}.Profile"),
        f"{p}.Profile": task("iam", "getInstanceProfile",
                             {"InstanceProfileName.$": _s(p, "me.name")},
                             result_selector={"roles.$": "$.InstanceProfile.Roles",
                                              "n.$": "States.ArrayLength("
                                                     "$.InstanceProfile.Roles)"},
                             result_path=_s(p, "profile"), next_state=f"{p}.AnyRole"),
        f"{p}.AnyRole": choice([{"Variable": _s(p, "profile.n"), "NumericEquals": 0,
                                 "Next": NEXT}], f"{p}.Role"),
        f"{p}.Role": pass_state({"r.$": f"States.ArrayGetItem({_s(p, 'profile.roles')}, 0)"},
                                _s(p, "role"), f"{p}.Policy"),
        f"{p}.Policy": pass_state({
            "role.$": _s(p, "role.r.RoleName"),
            "name.$": f"States.Format('{prefix}{{}}', {_s(p, 'role.r.RoleName')})",
            "arn.$": f"States.Format('arn:{partition}:iam::{{}}:policy{IRCLI_PATH}{prefix}{{}}', "
                     f"$.ircli.account, {_s(p, 'role.r.RoleName')})"}, _s(p, "pol"),
            f"{p}.Get"),
        f"{p}.Get": task("iam", "getPolicy", {"PolicyArn.$": _s(p, "pol.arn")},
                         result_selector={"v.$": "$.Policy.DefaultVersionId"},
                         result_path=_s(p, "got"), next_state=f"{p}.Version"),
        f"{p}.Version": task("iam", "getPolicyVersion", {
            "PolicyArn.$": _s(p, "pol.arn"), "VersionId.$": _s(p, "got.v")},
            result_selector={"d.$": "$.PolicyVersion.Document"}, result_path=_s(p, "ver"),
            next_state=f"{p}.Form"),
        # IAM documents the policy text as URL-encoded; only plain JSON can be read here.
        f"{p}.Form": choice([
            {"And": [{"Variable": _s(p, "ver.d"), "IsString": True},
                     {"Variable": _s(p, "ver.d"), "StringMatches": "%*"}],
             "Next": f"{p}.Encoded"},
            {"Variable": _s(p, "ver.d"), "IsString": True, "Next": f"{p}.Parse"}],
            f"{p}.Object"),
        f"{p}.Parse": pass_state({"d.$": f"States.StringToJson({_s(p, 'ver.d')})"},
                                 _s(p, "ver"), f"{p}.Object"),
        f"{p}.Encoded": fail_with(
            "ircli.DenyPolicyUnreadable", "The role's ircli deny policy came back URL-encoded, "
            "which Step Functions cannot decode: this instance was NOT added to it. Run "
            "`ircli contain` on the instance."),
        # ircli's statement has one StringLike key, ec2:SourceInstanceARN: its values (a list).
        **_kept_ids(p, ("Object", "Listed0"), _s(p, "ver.d.Statement"), "st", test="S.Ours",
                    rule={"And": [{"Variable": "$.st.Sid", "IsPresent": True},
                                  {"Variable": "$.st.Sid", "StringEquals": SID_CONTAIN}]},
                    keep=True, key="ids", value="$.st.Condition.StringLike.*", nested=True,
                    results="stmts", flat=("ids", "old"), next_state=f"{p}.Attached"),
        f"{p}.Attached": task("iam", "listAttachedRolePolicies", {
            "RoleName.$": _s(p, "pol.role"), "PathPrefix": IRCLI_PATH},
            result_selector={"arns.$": "$.AttachedPolicies[*].PolicyArn"},
            result_path=_s(p, "att"), next_state=f"{p}.Listed"),
        f"{p}.Listed": pass_state({
            "listed.$": f"States.ArrayContains({_s(p, 'old.ids')}, {me})",
            "attached.$": f"States.ArrayContains({_s(p, 'att.arns')}, {_s(p, 'pol.arn')})",
            "exists": True}, _s(p, "is"), f"{p}.Done"),
        f"{p}.Done": choice([{"And": [{"Variable": _s(p, "is.listed"), "BooleanEquals": True},
                                      {"Variable": _s(p, "is.attached"), "BooleanEquals": True}],
                              "Next": NEXT}], f"{p}.Merge"),
        f"{p}.Merge": pass_state({"all": {"old.$": _s(p, "old.ids"),
                                          "me.$": f"States.Array({me})"}}, _s(p, "new"),
                                 f"{p}.Ids"),
        f"{p}.Ids": pass_state({"ids.$": _s(p, "new.all.*[*]")}, _s(p, "flat"),
                               f"{p}.Unique"),
        f"{p}.Unique": pass_state({"ids.$": f"States.ArrayUnique({_s(p, 'flat.ids')})"},
                                  _s(p, "new"), f"{p}.Document"),
        f"{p}.Absent": pass_state({"listed": False, "attached": False, "exists": False},
                                  _s(p, "is"), f"{p}.Fresh"),
        f"{p}.Fresh": pass_state({"ids.$": f"States.Array({me})"}, _s(p, "new"),
                                 f"{p}.Document"),
        f"{p}.Document": pass_state(_deny_template(_s(p, "new.ids")), _s(p, "doc"),
                                    f"{p}.Before"),
        f"{p}.Before": pass_state({
            "profile_arn.$": "$.instance.IamInstanceProfile.Arn", "role.$": _s(p, "pol.role"),
            "policy_arn.$": _s(p, "pol.arn"), "instance_listed.$": _s(p, "is.listed"),
            "association_id": None}, _s(p, "before"), RECORD),
        f"{p}.Write": choice([{"Variable": _s(p, "is.exists"), "BooleanEquals": True,
                               "Next": f"{p}.Versions"}], f"{p}.Create"),
        f"{p}.Create": task("iam", "createPolicy", {
            "PolicyName.$": _s(p, "pol.name"), "Path": IRCLI_PATH,
            "PolicyDocument.$": f"States.JsonToString({_s(p, 'doc')})",
            "Description.$": f"States.Format('ircli: deny the credentials of contained "
                             f"instances of {{}}', {_s(p, 'pol.role')})", "Tags": TAGS},
            next_state=f"{p}.Attach"),
        # IAM keeps five versions: the oldest non-default one makes room for ours.
        f"{p}.Versions": task("iam", "listPolicyVersions", {"PolicyArn.$": _s(p, "pol.arn")},
                              result_selector={"n.$": "States.ArrayLength($.Versions)",
                                               "all.$": "$.Versions"},
                              result_path=_s(p, "vers"), next_state=f"{p}.Old"),
        **_kept_ids(p, ("Old", "OldIds"), _s(p, "vers.all"), "v", test="O.Default",
                    rule={"Variable": "$.v.IsDefaultVersion", "BooleanEquals": True},
                    keep=False, key="id", value="States.Array($.v.VersionId)", nested=False,
                    results="olds", flat=("old", "oldv"), next_state=f"{p}.Full"),
        f"{p}.Full": choice([{"Variable": _s(p, "vers.n"),
                              "NumericGreaterThanEquals": MAX_VERSIONS,
                              "Next": f"{p}.Prune"}], f"{p}.NewVersion"),
        f"{p}.Prune": task("iam", "deletePolicyVersion", {
            "PolicyArn.$": _s(p, "pol.arn"),
            "VersionId.$": f"States.ArrayGetItem({_s(p, 'oldv.old')}, "
                           f"States.MathAdd(States.ArrayLength({_s(p, 'oldv.old')}), -1))"},
            next_state=f"{p}.NewVersion"),
        f"{p}.NewVersion": task("iam", "createPolicyVersion", {
            "PolicyArn.$": _s(p, "pol.arn"),
            "PolicyDocument.$": f"States.JsonToString({_s(p, 'doc')})", "SetAsDefault": True},
            next_state=f"{p}.MustAttach"),
        f"{p}.MustAttach": choice([{"Variable": _s(p, "is.attached"), "BooleanEquals": True,
                                    "Next": NEXT}], f"{p}.Attach"),
        f"{p}.Attach": task("iam", "attachRolePolicy", {
            "RoleName.$": _s(p, "pol.role"), "PolicyArn.$": _s(p, "pol.arn")}, next_state=NEXT),
    }
    states[f"{p}.Get"]["Catch"].insert(0, {"ErrorEquals": ["Iam.NoSuchEntityException"],
                                           "ResultPath": None, "Next": f"{p}.Absent"})
    return Fragment(states, start=f"{p}.Has", permissions=permissions,
                    record_at=f"{p}.Write", before=_s(p, "before"))
