"""A self-contained HTML report of an outcomes frame: plots as PNG data URIs, summary tables, provenance.

Nothing in the file is fetched from the network (no scripts, fonts, styles or images by URL), so it opens the same
offline, attached to an e-mail or archived. It says when and from what it was generated, never with a key.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from pathlib import Path
from typing import Callable

import pandas as pd

from closeframe import __version__
from closeframe.plots import (
    organization_labels,
    plot_applies_to_coverage,
    plot_catalogue_over_time,
    plot_outcomes_per_organization,
)
from closeframe.widgets import summary_table

__all__ = ["render_report", "write_report"]

#: Rows of the outcome list shown in full; a larger catalogue is cut with a note (the export has everything).
MAX_LISTED_OUTCOMES = 500

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 72rem;
       color: #222; padding: 0 1rem; }
h1 { margin-bottom: .2rem; } .meta { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: .5rem 0 1.5rem; font-size: .9rem; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid #ddd; text-align: left; }
figure { margin: 1rem 0 2rem; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: .9rem; }
"""


def _png_data_uri(plot: Callable, df: pd.DataFrame, rows: int, **options) -> str:
    """Draw ``plot`` on a figure of its own (no pyplot state) and return it as a PNG data URI."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, min(max(2.8, 0.32 * rows + 1.8), 16)), layout="constrained")
    plot(df, ax=figure.subplots(), **options)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _table(frame: pd.DataFrame, *, index: bool = True) -> str:
    """An HTML table with escaped cells and right-aligned numbers."""
    return frame.to_html(index=index, border=0, escape=True, na_rep="", classes="summary", justify="left")


def render_report(df: pd.DataFrame, *, source: str, generated_at: dt.datetime | None = None,
                  title: str = "Close outcomes report", changes: pd.DataFrame | None = None) -> str:
    """Return the report as one HTML document.

    Parameters
    ----------
    df : pandas.DataFrame
        From :func:`closeframe.load_outcomes`.
    source : str
        Where the data came from, shown as is (escaped); must not hold a key.
    generated_at : datetime, optional
        Defaults to now (UTC).
    title : str, default "Close outcomes report"
    changes : pandas.DataFrame, optional
        From :func:`closeframe.outcome_changes`: adds a "Catalogue changes" section.

    Returns
    -------
    str
        HTML with every image embedded as a ``data:`` URI and no reference to the network.
    """
    generated_at = generated_at or dt.datetime.now(dt.timezone.utc)
    organizations = organization_labels(df).nunique() if len(df) else 0
    figures = []
    if len(df):
        figures = [
            ("Outcomes per organization, stacked by type", plot_outcomes_per_organization, organizations, {}),
            ("applies_to coverage", plot_applies_to_coverage, organizations, {}),
            ("Outcome catalogue over time", plot_catalogue_over_time, 6, {"freq": "M"}),
        ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="meta">Generated {html.escape(generated_at.strftime("%Y-%m-%d %H:%M UTC"))} by closeframe '
        f"{html.escape(__version__)} from {html.escape(source)}: {len(df):,} outcomes of {organizations} "
        "organizations.</p>",
        "<h2>Summary per organization</h2>",
        _table(summary_table(df)) if len(df) else "<p>No outcomes.</p>",
    ]
    for caption, plot, rows, options in figures:
        uri = _png_data_uri(plot, df, rows, **options)
        parts.append(f'<figure><img src="{uri}" alt="{html.escape(caption)}">'
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    if len(df):
        parts.append("<h2>Outcomes</h2>")
        listed = df.assign(organization=organization_labels(df))
        applies = [c for c in df.columns if c.startswith("applies_to_")]
        if applies:
            listed = listed.assign(applies_to=listed[applies].apply(
                lambda row: ", ".join(c.removeprefix("applies_to_") for c in applies if row[c]), axis=1))
        columns = [c for c in ("organization", "name", "type", "applies_to", "date_created", "date_updated")
                   if c in listed.columns]
        listed = listed.sort_values(["organization", "name"])[columns]
        for column in ("date_created", "date_updated"):
            if column in listed.columns:  # minutes are enough to read; the exports keep the full precision
                listed[column] = listed[column].dt.strftime("%Y-%m-%d %H:%M UTC")
        if len(listed) > MAX_LISTED_OUTCOMES:
            parts.append(f"<p>The first {MAX_LISTED_OUTCOMES:,} of {len(listed):,}; export the frame for all.</p>")
        parts.append(_table(listed.head(MAX_LISTED_OUTCOMES), index=False))
    if changes is not None:
        from closeframe.history_report import changes_section

        parts.append(changes_section(changes))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(df: pd.DataFrame, path: str | Path, *, source: str, **options) -> Path:
    """Write :func:`render_report` to ``path`` (UTF-8) and return the path.

    Parameters
    ----------
    df : pandas.DataFrame
    path : str or Path
        The HTML file; its folder is created.
    source : str
        Where the data came from (no key).
    **options
        Passed to :func:`render_report`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(df, source=source, **options), encoding="utf-8")
    return path
