"""Helpers for the evidence tests: run the real CLI, make an evidence bucket the way init does.

moto ignores bucket-policy conditions, so the init policy's TLS-only and deny-others
statements (Principal "*", conditional) deny every object call in the emulator. Tests that
ship objects therefore remove the policy after ``init``; tests/evidence/test_bucket.py checks
the policy itself. Real S3 evaluates the conditions and lets the responder through.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from ircli.cli.main import main

BUCKET = "ircli-evidence-test"
ANALYST = "arn:aws:iam::123456789012:role/Analyst"

RunCli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> RunCli:
    """``cli('evidence', 'check', ...)`` -> (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exc:
            main(list(args))
        out, err = capsys.readouterr()
        return int(exc.value.code or 0), out, err

    return run


def cli_json(cli: RunCli, *args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = cli(*args, "--output", "json")
    assert out, err
    return code, json.loads(out)


@pytest.fixture
def evidence_bucket(clients: Any, cli: RunCli) -> str:
    """A bucket made by `evidence init`, minus the policy moto cannot evaluate (see above)."""
    code, _out, err = cli("evidence", "init", "-y", "--bucket", BUCKET,
                          "--analyst-role-arn", ANALYST)
    assert code == 0, err
    clients("s3").delete_bucket_policy(Bucket=BUCKET)
    return BUCKET
