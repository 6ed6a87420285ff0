"""Frames of two organizations built from recorded Close pages (tests/fixtures/usage), and the raw records."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from closeframe.shape.frames import calls_frame, concat_frames, meetings_frame, outcomes_frame

USAGE_FIXTURES = Path(__file__).parent / "fixtures" / "usage"
ORGANIZATIONS = ("alpha", "beta")
ORGANIZATION_NAMES = {
    "orga_AlphaAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA": "Alpha GmbH",
    "orga_BetaBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB": "ベータ株式会社",
}


def records(kind: str) -> list[dict]:
    """Every recorded record of ``kind`` ("outcomes", "calls", "meetings") over both organizations."""
    out = []
    for org in ORGANIZATIONS:
        out += json.loads((USAGE_FIXTURES / f"{kind}_{org}.json").read_text(encoding="utf-8"))["data"]
    return out


def frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(outcomes, calls, meetings) as the loaders would build them, one organization at a time, concatenated."""
    built = {}
    for kind, shaper in (("outcomes", outcomes_frame), ("calls", calls_frame), ("meetings", meetings_frame)):
        parts = []
        for org in ORGANIZATIONS:
            page = json.loads((USAGE_FIXTURES / f"{kind}_{org}.json").read_text(encoding="utf-8"))["data"]
            parts.append(shaper(page, organization_names=ORGANIZATION_NAMES))
        built[kind] = concat_frames(parts)
    return built["outcomes"], built["calls"], built["meetings"]


def set_by_close(record: dict) -> bool:
    """Whether a raw call or meeting record's outcome was set by Close, read straight from Close's fields: a reason
    of Close's (autofilled, voicemail-dropped), or else (no reason, or one Close does not document) a non-blank
    reasoning text or a confidence; "user-selected" is a person's pick whatever text is left over."""
    reason = record.get("outcome_reason")
    if not record.get("outcome_id"):
        return False
    if reason in ("autofilled", "voicemail-dropped"):
        return True
    return reason != "user-selected" and bool(
        str(record.get("outcome_autofill_reasoning") or "").strip(" ") or record.get("outcome_autofill_confidence")
        is not None)
