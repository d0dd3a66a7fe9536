"""The data ircli ships: its runbooks and its live-response SSM documents.

In the repository they stay at the top (``runbooks/``, ``ssm_documents/``); the build maps them
into this package (setup.cfg ``package_dir``: ``ircli.data.runbooks = runbooks``), so a wheel,
a ``pip install --target DIR`` (a Lambda deployment package) and an editable install all
carry them, and they are found with :mod:`importlib.resources` wherever ircli is imported from.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SHIPPED = ("runbooks", "ssm_documents")


def shipped_dir(name: str) -> Path | None:
    """The directory of shipped ``name`` (runbooks, ssm_documents), or None if absent.

    Installed, it is the subpackage ``ircli.data.<name>``; run from a source checkout
    (``PYTHONPATH=.``), the repository's top-level directory of that name.
    """
    if name not in SHIPPED:
        raise ValueError(f"ircli ships no {name!r}")
    installed = resources.files(__name__).joinpath(name)
    if isinstance(installed, Path) and installed.is_dir():
        return installed
    checkout = Path(__file__).resolve().parents[2] / name
    return checkout if checkout.is_dir() else None
