"""matplotlib helper over :func:`closeframe.outcome_changes`: catalogue changes over time, one Axes, no ``show``."""

from __future__ import annotations

import matplotlib.dates as mdates
import pandas as pd
from matplotlib.ticker import MaxNLocator

from closeframe.errors import ConfigurationError
from closeframe.load.history import CHANGE_KINDS
from closeframe.views.style import OKABE_ITO, font_families, new_axes, no_data, require_columns, set_texts
from closeframe.views.usage_plots import colour_option

__all__ = ["CHANGE_FREQUENCIES", "plot_outcome_changes"]

CHANGES_FRAME = "a changes frame from cf.outcome_changes()"
#: ``freq=`` of :func:`plot_outcome_changes`: pandas period aliases and what they are called on the axis.
CHANGE_FREQUENCIES = {"D": "day", "W": "week", "M": "month", "Q": "quarter"}
#: One colour per kind of change; deletions whose date is only an upper bound are drawn hatched.
_COLOURS = dict(zip(CHANGE_KINDS, (OKABE_ITO[2], OKABE_ITO[1], OKABE_ITO[4], OKABE_ITO[6], "#999999",
                                   OKABE_ITO[5])))
UNDATED_DELETION = "deleted (noticed; date unknown)"


def _kinds(changes: pd.DataFrame) -> pd.DataFrame:
    """One row per (change row, kind): an edit of several fields counts once for each."""
    kinds = changes["change"].astype(str).str.split(", ")
    long = changes.assign(kind=kinds).explode("kind")
    exact = long["exact"].astype(bool) if "exact" in long.columns else True
    long["kind"] = long["kind"].where(~((long["kind"] == "deleted") & ~exact), UNDATED_DELETION)
    return long


def plot_outcome_changes(changes: pd.DataFrame, *, freq: str = "M", ax=None, **kwargs):
    """Stacked bars: outcomes created, renamed, retyped, re-scoped (applies_to) and deleted per period.

    Parameters
    ----------
    changes : pandas.DataFrame
        From :func:`closeframe.outcome_changes` (filter it first for one organization if you like).
    freq : {"D", "W", "M", "Q"}, default "M"
        Count per day, week (from Monday), month or quarter, in UTC.
    ax : matplotlib.axes.Axes, optional
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.bar` (e.g. ``alpha=0.8``); ``color=`` (one colour, or one per kind
        in the legend's order) replaces the palette.

    Returns
    -------
    matplotlib.axes.Axes
        One bar per period from the first change to the last (empty periods are gaps), a segment per kind of
        change; a deletion seen only between two catalogue snapshots is hatched at the later snapshot's period.
    """
    if freq not in CHANGE_FREQUENCIES:
        raise ConfigurationError(f"freq={freq!r} is not one of {', '.join(map(repr, CHANGE_FREQUENCIES))}.")
    frame = require_columns(changes, ["date", "change"], CHANGES_FRAME)
    frame = frame[frame["date"].notna()]
    long = _kinds(frame)
    periods = pd.to_datetime(long["date"], utc=True).dt.tz_localize(None).dt.to_period(freq)
    table = pd.crosstab(periods, long["kind"]) if len(long) else pd.DataFrame()
    order = [k for k in (*CHANGE_KINDS, UNDATED_DELETION) if k in table.columns]
    ax = new_axes(ax, rows=8, wide=True)  # rows: a height that shows the stacked segments
    period = CHANGE_FREQUENCIES[freq]
    title = f"Outcome catalogue changes per {period}"
    if not len(table):
        return no_data(ax, "no catalogue changes", title)
    given = colour_option(kwargs, len(order)) if "color" in kwargs else None
    span = pd.period_range(table.index.min(), table.index.max(), freq=table.index.freq)
    table = table.reindex(span, fill_value=0)
    starts = span.to_timestamp()
    width = (span.to_timestamp(how="end") - starts).total_seconds().to_numpy() / 86_400 * 0.8
    bottom = pd.Series(0, index=span)
    for i, kind in enumerate(order):
        hatch = "//" if kind == UNDATED_DELETION else None
        colour = given[i] if given else _COLOURS.get(kind, _COLOURS["deleted"])
        ax.bar(starts, table[kind].to_numpy(), width=width, bottom=bottom.to_numpy(), align="edge",
               label=kind, color=colour, hatch=hatch, edgecolor="white" if hatch is None else "#333333",
               **kwargs)
        bottom = bottom + table[kind]
    locator = mdates.AutoDateLocator(maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small",
              prop={"family": font_families(), "size": "small"})
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0)
    set_texts(ax, title, f"{period} (UTC)", "changes")
    return ax
