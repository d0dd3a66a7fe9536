"""How ircli's processes set Python's cyclic garbage collector."""

from __future__ import annotations

import gc

THRESHOLDS = (50_000, 20, 100)  # Python's defaults: (700, 10, 10)


def collect_less_often() -> None:
    """ircli's processes hold a large heap that is made once and kept: botocore's parsed service
    models (several MB for EC2), in the lab's emulator moto's backends too. At the default
    thresholds the collector walks it again and again while it is built, about a tenth of a
    short command's CPU; collecting less often costs a few MB."""
    gc.set_threshold(*THRESHOLDS)


def freeze_what_is_loaded() -> None:
    """For a long-lived process (the lab's emulator, a test process) once its imports and
    models are in: keep the collector off them for good, then collect less often."""
    gc.collect()
    gc.freeze()
    collect_less_often()
