"""The test suite. Importing it first (pytest does, before conftest) lets it cache bytecode."""

import os
import sys

# This machine's environment sets PYTHONDONTWRITEBYTECODE, and then every process the suite
# starts (four workers, each collecting every test module, and ~150 `ircli` and lab
# processes) compiles ircli and the tests from source again: about 2 s of CPU per worker and
# 0.1-0.2 s per process. The suite writes bytecode caches, as Python does by default
# (`__pycache__/` is ignored by git), and so do the processes it starts.
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
