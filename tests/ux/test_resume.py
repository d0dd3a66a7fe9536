"""`collect --resume`: a command sent and never judged is adopted, verified and recorded.

Before this, `collect --no-wait` (or Ctrl-C while waiting) left the archive in the bucket
unrecorded: `evidence verify` failed on an object missing from the manifest while `evidence
sync` said nothing was pending.
"""

from __future__ import annotations

import json
from typing import Any

from tests.collect.conftest import Lab
from tests.evidence.conftest import RunCli, cli_json

FAST = ("--sections", "system", "--max-total-mb", "5", "--max-file-mb", "1")  # one section


def _record(lab: Lab, case_id: str) -> dict[str, Any]:
    data = json.loads((lab.case(case_id) / "case.json").read_text())
    return dict(data["targets"][lab.suspect])


def _events(lab: Lab, case_id: str) -> list[str]:
    text = (lab.case(case_id) / "audit.jsonl").read_text()
    return [json.loads(line)["event"] for line in text.splitlines()]


def test_resume_after_no_wait_records_the_archive_and_verify_passes(cli: RunCli,
                                                                    lab: Lab) -> None:
    agent = lab.agent(run=False)
    code, sent = cli_json(cli, "collect", lab.suspect, "--yes", "--case-id", "ir-res", "--no-wait",
                          "--timeout", "120", *FAST)
    assert code == 0 and sent["status"] == "sent", sent
    [entry] = _record(lab, "ir-res")["collections"]
    assert (entry["status"], entry["command_id"]) == ("sent", sent["command_id"])  # before any wait

    [ran] = agent.run_once()  # the host finishes and uploads while nobody watches
    assert ran.status == "Success"

    code, data = cli_json(cli, "collect", "--resume", "ir-res")
    assert code == 0, data
    assert data["status"] == "collected" and data["resumed"] is True
    assert data["command_id"] == sent["command_id"] and data["version_id"]
    body = lab.clients("s3").get_object(Bucket=data["bucket"], Key=data["key"])["Body"].read()
    assert len(body) == data["size"]
    [entry] = _record(lab, "ir-res")["collections"]  # one entry per command, now judged
    assert (entry["status"], entry["sha256"]) == ("collected", data["sha256"])
    assert "collect-adopted" in _events(lab, "ir-res")
    code, report = cli_json(cli, "evidence", "verify", "ir-res")
    assert code == 0 and report["ok"], report["mismatches"]

    code, again = cli_json(cli, "collect", "--resume", "ir-res")  # nothing left: says so, same
    assert code == 0 and again["status"] == "collected", again
    assert again["steps"][0]["status"] == "skipped"


def test_evidence_verify_adopts_a_finished_command_first(cli: RunCli, lab: Lab) -> None:
    agent = lab.agent(run=False)
    code, sent = cli_json(cli, "collect", lab.suspect, "--yes", "--case-id", "ir-ver", "--no-wait",
                          "--timeout", "120", *FAST)
    assert code == 0, sent
    agent.run_once()
    code, out, err = cli("evidence", "verify", "ir-ver")
    assert code == 0, out + err
    assert f"adopted SSM command {sent['command_id']} on {lab.suspect}: collected" in err
    assert "every object verified" in out
    assert _record(lab, "ir-ver")["collections"][0]["status"] == "collected"


def test_a_still_running_command_is_left_to_resume_and_the_next_collect_adopts_it(
        cli: RunCli, lab: Lab) -> None:
    agent = lab.agent(run=False)
    code, first = cli_json(cli, "collect", lab.suspect, "--yes", "--case-id", "ir-next",
                           "--no-wait", "--timeout", "120", *FAST)
    assert code == 0, first
    code, _out, err = cli("evidence", "sync", "ir-next")  # the host has not run it yet
    assert code == 0, err
    assert f"SSM command {first['command_id']}" in err and "is still Pending" in err
    assert "collect --resume ir-next" in err
    agent.run_once()
    lab.clock.agent = agent  # from now on the host runs what is sent
    code, data = cli_json(cli, "collect", lab.suspect, "--yes", "--case-id", "ir-next",
                          "--timeout", "120", *FAST)
    assert code == 0, data
    steps = {s["name"]: s["status"] for s in data["steps"]}
    assert steps["collect-adopt"] == "done" and steps["collect"] == "done"
    entries = _record(lab, "ir-next")["collections"]
    assert [(e["command_id"], e["status"]) for e in entries] == [
        (first["command_id"], "collected"), (data["command_id"], "collected")]
    # the same second (the clock is frozen): the one-write upload needs a key of its own
    assert entries[0]["key"] != entries[1]["key"] == data["key"]


def test_ctrl_c_while_waiting_names_the_command_and_resume_finishes(cli: RunCli,
                                                                    lab: Lab) -> None:
    agent = lab.agent(run=False)

    def ctrl_c() -> None:
        raise KeyboardInterrupt

    lab.clock.after_agent.append(ctrl_c)  # the first wait of the poll loop is interrupted
    code, out, err = cli("collect", lab.suspect, "--yes", "--case-id", "ir-kc", "--timeout",
                         "120", *FAST)
    lab.clock.after_agent.clear()
    assert code == 5, out + err  # sent, not collected (yet)
    [entry] = _record(lab, "ir-kc")["collections"]
    assert f"SSM command {entry['command_id']} keeps running on {lab.suspect}" in err
    assert "ircli collect --resume ir-kc" in err and "Traceback" not in err
    assert "run-interrupted" in _events(lab, "ir-kc")

    agent.run_once()
    code, data = cli_json(cli, "collect", "--resume", "ir-kc")
    assert code == 0 and data["status"] == "collected", data


def test_no_wait_text_names_the_resume_command(cli: RunCli, lab: Lab) -> None:
    lab.agent(run=False)
    code, out, err = cli("collect", lab.suspect, "--yes", "--case-id", "ir-nwt", "--no-wait",
                         *FAST)
    assert code == 0, err
    assert "Adopt it:   ircli collect --resume ir-nwt" in out


def test_an_archive_overwritten_before_the_resume_is_not_adopted(cli: RunCli, lab: Lab) -> None:
    import base64
    import hashlib
    import urllib.request

    agent = lab.agent(run=False)
    code, sent = cli_json(cli, "collect", lab.suspect, "--yes", "--case-id", "ir-tamper",
                          "--no-wait", *FAST)
    assert code == 0, sent
    agent.run_once()
    # The attacker on the host still holds the presigned URL and replaces the archive with it.
    url = lab.clients("ssm").list_commands(CommandId=sent["command_id"])["Commands"][0][
        "Parameters"]["UploadUrl"][0]
    body = b"nothing to see here"
    request = urllib.request.Request(url, data=body, method="PUT", headers={
        "Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()})
    urllib.request.urlopen(request).read()

    code, data = cli_json(cli, "collect", "--resume", "ir-tamper")
    assert code == 5 and data["status"] == "failed" and data["reason"] == "hash-mismatch", data
    [entry] = _record(lab, "ir-tamper")["collections"]
    assert entry["status"] == "failed"
    manifest = json.loads((lab.case("ir-tamper") / "manifest.json").read_text())
    assert sent["key"] not in {o["key"] for o in manifest["objects"]}  # never listed as evidence
