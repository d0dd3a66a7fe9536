"""Where the evidence bucket comes from: flag, then environment, then the config file."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ircli.core.config import evidence_bucket, require_evidence_bucket
from ircli.core.errors import InvalidInput, UserError
from ircli.evidence.verify import _retention_problem


def test_flag_beats_environment_beats_config_file(aws_env: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    aws_env.mkdir(parents=True, exist_ok=True)
    (aws_env / "config.toml").write_text('[evidence]\nbucket = "from-file"  # comment\n')
    assert evidence_bucket() == "from-file"
    monkeypatch.setenv("IRCLI_EVIDENCE_BUCKET", "from-env")
    assert evidence_bucket() == "from-env"
    assert evidence_bucket("from-flag") == "from-flag"


def test_ircli_config_points_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "elsewhere.toml"
    other.write_text('[evidence]\nbucket = "elsewhere"\n')
    monkeypatch.setenv("IRCLI_CONFIG", str(other))
    assert evidence_bucket() == "elsewhere"


def test_missing_bucket_says_how_to_set_it() -> None:
    with pytest.raises(UserError) as exc:
        require_evidence_bucket()
    assert "--evidence-bucket" in str(exc.value.remediation)
    assert "config.toml" in str(exc.value.remediation)


def test_broken_config_stops_evidence_commands_but_not_containment(aws_env: Path) -> None:
    aws_env.mkdir(parents=True, exist_ok=True)
    (aws_env / "config.toml").write_text("[evidence\nbucket = \n")
    with pytest.raises(InvalidInput):
        evidence_bucket()
    assert evidence_bucket(strict=False) is None


def test_retention_must_lie_in_the_future() -> None:
    now = datetime(2026, 11, 28, tzinfo=timezone.utc)
    assert _retention_problem({"ObjectLockRetainUntilDate": now + timedelta(days=1)}, now) is None
    assert "ended" in str(_retention_problem({"ObjectLockRetainUntilDate": now}, now))
    assert "not under" in str(_retention_problem({}, now))
