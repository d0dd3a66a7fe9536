"""Regenerate the deployable SSM documents from the templates and the collector scripts.

Run from the repository root: ``python ssm_documents/build.py``. The tests fail when a shipped
document differs from what this produces, so edit the scripts, then rebuild.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from ircli.liveresponse.documents import (  # noqa: E402
    DOCUMENT_NAMES,
    build_document,
    parse_document,
    validate_document,
)

SCRIPTS = {"linux": "linux.sh", "windows": "windows.ps1"}


def render(platform: str) -> str:
    """The document text for one platform, built from its template and script."""
    col = ROOT / "collectors"
    return build_document(
        (col / f"{platform}.template.yaml").read_text(encoding="utf-8"),
        (col / "params.template.yaml").read_text(encoding="utf-8"),
        (col / SCRIPTS[platform]).read_text(encoding="utf-8"),
    )


def main() -> int:
    status = 0
    for platform, name in DOCUMENT_NAMES.items():
        text = render(platform)
        problems = validate_document(parse_document(text))
        for p in problems:
            print(f"{name}: {p}", file=sys.stderr)
        status |= bool(problems)
        (ROOT / f"{name}.yaml").write_text(text, encoding="utf-8")
        print(f"wrote {name}.yaml ({len(text.encode())} bytes)")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
