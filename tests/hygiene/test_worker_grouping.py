"""The suite's xdist settings keep a test file on one worker, in order (module-scoped labs,
demos and emulators rely on it; pytest 9 made xdist 3.8's --dist loadgroup ignore groups)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_a_files_tests_run_on_one_worker_in_order(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / f"test_{name}.py").write_text(textwrap.dedent(f'''
            import os, pytest

            @pytest.mark.parametrize("i", range(6))
            def test_{name}(i):
                with open({str(tmp_path / "ran.txt")!r}, "a") as f:
                    f.write(f"{name} {{i}} {{os.environ['PYTEST_XDIST_WORKER']}}\\n")
        '''))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get(
        "PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"),
                           "--rootdir", str(tmp_path), "-p", "no:cacheprovider", "-n", "2",
                           str(tmp_path)], capture_output=True, text=True, cwd=tmp_path,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ran = [line.split() for line in (tmp_path / "ran.txt").read_text().splitlines()]
    for name in ("a", "b"):
        mine = [(int(i), worker) for n, i, worker in ran if n == name]
        assert [i for i, _ in mine] == list(range(6)), f"test_{name} out of order: {ran}"
        assert len({worker for _, worker in mine}) == 1, f"test_{name} split: {ran}"
