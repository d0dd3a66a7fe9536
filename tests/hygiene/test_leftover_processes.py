"""The suite's own guard: a process a test leaves running fails the run and is stopped."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import SESSION_MARK, marked_processes


def test_a_process_left_running_fails_the_session(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text("from tests.conftest import no_process_survives\n")
    (tmp_path / "test_leaks.py").write_text(textwrap.dedent('''
        import subprocess, sys

        def test_leaves_a_grandchild_behind():
            # like `ircli lab up`: the child starts a detached process and exits at once
            subprocess.run([sys.executable, "-c",
                            "import subprocess; subprocess.Popen(['sleep', '300'], "
                            "start_new_session=True)"], check=True)
    '''))
    env = {k: v for k, v in os.environ.items() if k != SESSION_MARK}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parents[2]),
                                         env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "-n0", "-q", str(tmp_path / "test_leaks.py")],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode != 0, proc.stdout
    assert "still running at its end" in proc.stdout and "sleep 300" in proc.stdout, \
        proc.stdout[-3000:]
    assert "1 passed" in proc.stdout  # the test itself passed: the session check failed it


def test_only_this_sessions_processes_are_found() -> None:
    stranger = subprocess.Popen(["sleep", "300"], env={"PATH": os.environ["PATH"]})
    try:
        assert stranger.pid not in marked_processes(os.environ[SESSION_MARK])
    finally:
        stranger.kill()
        stranger.wait()
