"""The report's "Catalogue changes" section: the changes plot and the latest changes, as one HTML fragment."""

from __future__ import annotations

import base64
import html
import io

import pandas as pd

from closeframe.views.history_plots import plot_outcome_changes
from closeframe.views.catalogue_plots import organization_labels
from closeframe.views.reporttables import table_html

__all__ = ["MAX_LISTED_CHANGES", "changes_section"]

#: Changes listed in the table, newest first (the frame has them all).
MAX_LISTED_CHANGES = 200


def _png(changes: pd.DataFrame, freq: str) -> str:
    """The changes plot on a figure of its own (no pyplot state), as a PNG data URI."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 4.2), layout="constrained")
    plot_outcome_changes(changes, freq=freq, ax=figure.subplots())
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _when(date, exact: bool) -> str:
    """``2026-10-01 12:00`` with non-breaking hyphens and space (it never wraps), ``≈`` before an upper bound."""
    text = date.strftime("%Y\u2011%m\u2011%d\u00a0%H:%M") if pd.notna(date) else ""
    return text if exact else "≈\u00a0" + text


def _what(row) -> str:
    """A sentence-like description: ``renamed "Old" → "New"``, ``type changed custom → vm-dropped``."""
    name, before = row["name"], row["previous_name"]
    parts = []
    if "renamed" in row["change"] and pd.notna(before) and pd.notna(name):
        parts.append(f"“{before}” → “{name}”")
    elif pd.notna(name):
        parts.append(f"“{name}”")
    if "type changed" in row["change"] and pd.notna(row["previous_type"]):
        parts.append(f"type {row['previous_type']} → {row['type']}")
    if "applies_to changed" in row["change"] and pd.notna(row["previous_applies_to"]):
        parts.append(f"applies to {row['previous_applies_to']} → {row['applies_to']}")
    return "; ".join(parts)


def changes_section(changes: pd.DataFrame, *, freq: str = "M") -> str:
    """HTML for the report: the changes per period, and the latest changes as a table (no heading).

    Parameters
    ----------
    changes : pandas.DataFrame
        From :func:`closeframe.outcome_changes`.
    freq : str, default "M"
        The plot's period (see :func:`closeframe.plots.plot_outcome_changes`).

    Returns
    -------
    str
        An HTML fragment (escaped; the plot is a ``data:`` URI).
    """
    parts = []
    if not len(changes):
        return "<p>No changes to the outcome catalogue are known.</p>"
    counts = changes["change"].astype(str).str.split(", ").explode().value_counts()
    summary = ", ".join(f"{count:,} {kind}" for kind, count in counts.items())
    parts.append(f"<p>{len(changes):,} changes known ({html.escape(summary)}), from Close's event log (30 days) "
                 "and the catalogue snapshots kept in the cache. A deletion marked ≈ was noticed between two "
                 "snapshots: it happened at some time before the date shown.</p>")
    caption = "Outcome catalogue changes per period"
    parts.append(f'<figure><img src="{_png(changes, freq)}" style="max-width:100%;height:auto" '
                 f'alt="{html.escape(caption)}"><figcaption>{html.escape(caption)}</figcaption></figure>')
    latest = changes.sort_values("date", ascending=False, kind="stable").head(MAX_LISTED_CHANGES)
    listed = pd.DataFrame({
        "when (UTC)": [_when(d, exact) for d, exact in zip(latest["date"], latest["exact"])],
        "organization": organization_labels(latest).to_numpy(),
        "change": latest["change"].astype(str).to_numpy(),
        "outcome": [_what(row) for _, row in latest.iterrows()],
        "by": latest["user_name"].astype(object).fillna(latest["user_id"].astype(object)).fillna("").to_numpy(),
    })
    if len(changes) > MAX_LISTED_CHANGES:
        parts.append(f"<p>The latest {MAX_LISTED_CHANGES:,} of {len(changes):,}.</p>")
    # On a phone the table scrolls sideways instead of squeezing each description into a narrow column.
    parts.append(table_html(listed, uid="catalogue-changes-table").replace("<table", '<table style="min-width:44rem"',
                                                                         1))
    return "\n".join(parts)
