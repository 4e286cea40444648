"""Where the shipped template definitions live."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def templates_dir() -> Path:
    """The folder of template definitions (TOML) and Jinja templates.

    Order: $ATT_REPORT_TEMPLATES, the source checkout's top-level `templates/`,
    then the copy a non-editable install puts under <prefix>/share.
    """
    override = os.environ.get("ATT_REPORT_TEMPLATES")
    if override:
        return Path(override)
    checkout = Path(__file__).resolve().parent.parent / "templates"
    if checkout.is_dir():
        return checkout
    return Path(sys.prefix) / "share" / "att-report" / "templates"
