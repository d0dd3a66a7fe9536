"""Bad input gets a better answer: what it is, what was meant, how to go on."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from ircli.lab.web_compromise import seed_web_compromise
from tests.helpers import aws_state, ircli


@pytest.fixture
def lab(clients: Any) -> Any:
    return seed_web_compromise(clients, "us-east-1")


class _Terminal:
    """stdin as a terminal, and the answers typed at ircli's questions."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *answers: bool) -> None:
        self.asked: list[str] = []
        self.answers = list(answers)
        monkeypatch.setattr("ircli.cli.confirm.sys.stdin", self)
        monkeypatch.setattr("ircli.cli.confirm.click.confirm", self.confirm)

    def isatty(self) -> bool:
        return True

    def confirm(self, question: str, **_: Any) -> bool:
        self.asked.append(question)
        return self.answers.pop(0)


def test_an_instance_arn_is_taken_for_its_id(capsys: pytest.CaptureFixture[str],
                                             lab: Any) -> None:
    arn = f"arn:aws:ec2:us-east-1:123456789012:instance/{lab.suspect}"
    plan = ircli(capsys, "contain", arn, "--dry-run")
    assert plan.code == 0 and plan.data["instance_id"] == lab.suspect, plan.err
    elsewhere = ircli(capsys, "contain", arn.replace("us-east-1", "eu-west-1"), "--dry-run")
    assert elsewhere.code == 2
    assert elsewhere.data["error"]["message"] == (
        f"'{arn.replace('us-east-1', 'eu-west-1')}' is an instance in eu-west-1, but ircli "
        "works in us-east-1.")
    assert "--region eu-west-1" in elsewhere.data["error"]["remediation"]


def test_an_eni_id_is_named_with_its_instance(capsys: pytest.CaptureFixture[str], lab: Any,
                                              clients: Any) -> None:
    state = aws_state(clients)
    eni = lab.suspect_enis[0]
    result = ircli(capsys, "contain", eni, "--yes")
    assert result.code == 2 and "Traceback" not in result.err
    assert result.data["error"]["message"] == (
        f"'{eni}' is not an EC2 instance id: it is a network interface id; it is attached to "
        f"{lab.suspect} (web-1), running.")
    assert result.data["error"]["remediation"] == f"Run the command with {lab.suspect}."
    assert aws_state(clients) == state  # nothing was contained on a guess


def test_a_name_tag_offers_the_instance_it_names(capsys: pytest.CaptureFixture[str], lab: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    refused = ircli(capsys, "collect", "web-1", "--dry-run")  # no terminal: explained
    assert refused.code == 2
    assert refused.data["error"]["message"] == (
        f"'web-1' is not an EC2 instance id; it is the Name tag of {lab.suspect} (web-1), "
        "running.")
    terminal = _Terminal(monkeypatch, True)  # on a terminal: offered, and taken when confirmed
    plan = ircli(capsys, "contain", "web-1", "--dry-run")
    assert plan.code == 0 and plan.data["instance_id"] == lab.suspect, plan.err
    assert terminal.asked == [f"'web-1' is not an EC2 instance id; it is the Name tag of "
                              f"{lab.suspect} (web-1), running. Use {lab.suspect} (web-1), "
                              "running?"]


def test_a_name_tag_the_attacker_copied_is_never_picked(capsys: pytest.CaptureFixture[str],
                                                       lab: Any, clients: Any,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    clients("ec2").create_tags(Resources=[lab.neighbour], Tags=[{"Key": "Name",
                                                                 "Value": "web-1"}])
    terminal = _Terminal(monkeypatch)  # no question may be asked
    state = aws_state(clients)
    result = ircli(capsys, "contain", "web-1", "--yes")
    assert result.code == 2 and terminal.asked == []
    message = result.data["error"]["message"]
    assert "the Name tag of 2 instances" in message
    assert lab.suspect in message and lab.neighbour in message
    assert aws_state(clients) == state


def test_a_mistyped_case_id_is_refused_not_a_new_case(capsys: pytest.CaptureFixture[str],
                                                      lab: Any,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    assert ircli(capsys, "contain", lab.suspect, "--yes", "--case-id",
                 "ir-20261201-031500-a1b2").code == 0
    typo = ircli(capsys, "contain", lab.neighbour, "--yes", "--case-id",
                 "ir-20261201-031500-a1b3")
    assert typo.code == 2
    assert typo.data["error"]["message"] == ("There is no case ir-20261201-031500-a1b3 on this "
                                             "machine; did you mean ir-20261201-031500-a1b2?")
    assert "--new-case" in typo.data["error"]["remediation"]
    listed = ircli(capsys, "case", "list").data["cases"]
    assert [c["case_id"] for c in listed] == ["ir-20261201-031500-a1b2"]

    terminal = _Terminal(monkeypatch, False)  # a terminal asks; "no" changes nothing
    asked = ircli(capsys, "disable-keys", "--user", "nobody", "--case-id",
                  "ir-20261201-031500-a1b3")
    assert asked.code == 2 and "did you mean ir-20261201-031500-a1b2" in terminal.asked[0]

    new = ircli(capsys, "contain", lab.neighbour, "--yes", "--case-id",
                "ir-20261201-031500-a1b3", "--new-case")
    assert new.code == 0 and new.data["case_id"] == "ir-20261201-031500-a1b3", new.err


def test_with_the_lab_down_contain_fails_at_once_and_names_lab_up(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    slept: list[float] = []
    monkeypatch.setattr("time.sleep", slept.append)  # botocore's retry back-off would sleep
    result = ircli(capsys, "contain", "i-0123456789abcdef0", "--yes")
    assert result.code == 2
    assert result.data["error"]["message"].startswith(f"Nothing answers at http://127.0.0.1:"
                                                      f"{port} (AWS_ENDPOINT_URL)")
    assert "ircli lab up" in result.data["error"]["remediation"]
    assert slept == []  # failed before any AWS call, so nothing was retried
