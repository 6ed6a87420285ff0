"""matplotlib helpers over the frames ``cf.load_outcomes`` returns: one Axes per call, never ``plt.show()``.

Each ``plot_<what>(data, *, ..., ax=None, **kwargs)`` draws on ``ax`` (else the current Axes, else a new figure
sized for the data), sets a title and axis labels, passes ``**kwargs`` to the matplotlib call that draws the data,
and returns the Axes. Colours are Okabe–Ito; names are shortened with ``…`` and drawn with a font that has their
glyphs (see :mod:`closeframe.views.style`), so 1 or 40 organizations with long non-Latin names stay readable.
"""

from __future__ import annotations

import matplotlib.dates as mdates
import numpy as np
from matplotlib.ticker import MaxNLocator, StrMethodFormatter
import pandas as pd

from closeframe.errors import ConfigurationError
from closeframe.views.style import (
    OKABE_ITO,
    fit_labels,
    font_families,
    natural_key,
    new_axes,
    no_data,
    require_columns,
    safe_label,
    set_texts,
)
from closeframe.views.history_plots import plot_outcome_changes
from closeframe.views.usage_plots import (
    colour_option,
    plot_outcome_comparison,
    plot_outcome_mix,
    plot_top_outcomes,
    plot_usage_over_time,
    plot_usage_trend,
    plot_users,
)

# Only the plot functions: helpers such as organization_labels stay importable but are not the module's API.
__all__ = [
    "plot_applies_to_coverage",
    "plot_catalogue_over_time",
    "plot_outcome_changes",
    "plot_outcome_comparison",
    "plot_outcome_mix",
    "plot_outcomes_per_organization",
    "plot_top_outcomes",
    "plot_usage_over_time",
    "plot_usage_trend",
    "plot_users",
]

OUTCOMES_FRAME = "an outcomes frame from cf.load_outcomes()"
#: ``freq=`` of :func:`plot_catalogue_over_time`: pandas period aliases and what they are called on the axis.
CATALOGUE_FREQUENCIES = {"W": "week", "M": "month"}


def organization_labels(df: pd.DataFrame) -> pd.Series:
    """Each row's organization: its ``organization_name`` where known, else its ``organization_id``.

    Stays categorical (cheap to group and filter on 100,000 rows) when the frame's columns are.
    """
    ids = df["organization_id"]
    names = df["organization_name"] if "organization_name" in df.columns else None
    if names is None:
        return ids.rename("organization")
    missing = names.isna()
    if not missing.any():
        return names.rename("organization")
    # Fill in object space, then make categories again: where() on a categorical refuses the ids as new
    # categories ("Cannot setitem on a Categorical with a new category").
    labels = names.astype(object).where(~missing, ids.astype(object).map(str, na_action="ignore"))
    if isinstance(names.dtype, pd.CategoricalDtype):
        return pd.Series(pd.Categorical(labels), index=df.index, name="organization")
    return labels.astype("string").rename("organization")


def _count(number: int, noun: str) -> str:
    """``"1 outcome"``, ``"2,000 outcomes"``."""
    return f"{number:,} {noun}" + ("" if number == 1 else "s")


def _style_ticks(ax, axis: str = "both") -> None:
    """Draw tick labels with the fonts that have their glyphs."""
    ax.tick_params(axis=axis, labelfontfamily=font_families())


def _applies_to_counts(df: pd.DataFrame, org: pd.Series) -> pd.DataFrame:
    """Outcomes per (organization, applies_to value), from the wide ``applies_to_*`` or the long layout."""
    if "applies_to" in df.columns:  # applies_to="long": one row per (outcome, value)
        present = df["applies_to"].notna()
        long = df[present]
        return long.groupby([org[present], "applies_to"], observed=True)["id"].nunique().unstack(fill_value=0)
    flags = [c for c in df.columns if c.startswith("applies_to_")]
    if not flags:
        raise ConfigurationError(
            f"Expected {OUTCOMES_FRAME} with applies_to_* columns (applies_to='columns') or an 'applies_to' column "
            f"(applies_to='long'); it has: {', '.join(map(repr, df.columns))}.")
    counts = df.groupby(org, observed=True)[flags].sum()
    counts.columns = [c.removeprefix("applies_to_") for c in flags]
    return counts


def plot_outcomes_per_organization(data: pd.DataFrame, *, max_label: int = 32, order: str = "natural", ax=None,
                                   **kwargs):
    """Horizontal bars: outcomes per organization, stacked by outcome type.

    Parameters
    ----------
    data : pandas.DataFrame
        From :func:`closeframe.load_outcomes` (``applies_to="long"`` counts each outcome once).
    max_label : int, default 32
        Organization names longer than this are shortened with ``…``.
    order : {"natural", "value"}, default "natural"
        Organizations top to bottom by name, numbers by value ("Org 7" before "Org 10"), or most outcomes first.
    ax : matplotlib.axes.Axes, optional
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.barh` (e.g. ``height=0.6``, ``edgecolor="white"``; ``color=`` one
        colour or one per type).

    Returns
    -------
    matplotlib.axes.Axes
        One bar container per type, labelled with the type.
    """
    df = require_columns(data, ["type", "organization_id"], OUTCOMES_FRAME)
    if order not in ("natural", "value"):
        raise ConfigurationError(f"order={order!r} is not one of 'natural', 'value'.")
    unique = df.drop_duplicates("id") if "applies_to" in df.columns else df
    counts = unique.groupby([organization_labels(unique), "type"], observed=True).size().unstack(fill_value=0)
    if order == "value":
        counts = counts.loc[counts.sum(axis=1).sort_values(ascending=False, kind="stable").index]
    else:
        counts = counts.loc[sorted(counts.index, key=natural_key)]
    counts = counts.iloc[::-1]  # barh draws bottom-up: this reads top-down
    ax = new_axes(ax, rows=len(counts))
    if counts.empty:
        return no_data(ax, "No outcome to draw", "Outcomes per organization")
    positions = np.arange(len(counts))
    left = np.zeros(len(counts))
    kwargs.setdefault("height", 0.7)
    colours = colour_option(kwargs, len(counts.columns))
    for i, kind in enumerate(counts.columns):
        values = counts[kind].to_numpy()
        ax.barh(positions, values, left=left, label=safe_label(kind), color=colours[i], **kwargs)
        left += values
    ax.set_yticks(positions, labels=fit_labels(counts.index, max_label))
    _style_ticks(ax, "y")
    ax.set_ylim(-0.6, max(len(counts) - 0.4, 0.6))
    ax.xaxis.set_major_locator(MaxNLocator(nbins="auto", integer=True))
    ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    if len(counts.columns):
        # Outside the bars, right of the axes: inside, it would hide the longest bars.
        ax.legend(title="type", loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  prop={"family": font_families(), "size": "small"})
    totals = f"{_count(len(unique), 'outcome')}, {_count(len(counts), 'organization')}"
    set_texts(ax, f"Outcomes per organization ({totals})", "outcomes", "organization")
    return ax


def plot_applies_to_coverage(data: pd.DataFrame, *, max_label: int = 32, annotate: bool | None = None, ax=None,
                             **kwargs):
    """Heat map: how many outcomes of each organization (rows) apply to each applies_to value (columns).

    Parameters
    ----------
    data : pandas.DataFrame
        From :func:`closeframe.load_outcomes`, with ``applies_to="columns"`` or ``"long"``.
    max_label : int, default 32
        Organization names longer than this are shortened with ``…``.
    annotate : bool, optional
        Write the count in each cell; by default only while there are at most 200 cells.
    ax : matplotlib.axes.Axes, optional
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.imshow` (default ``cmap="cividis"``, colour-blind safe).

    Returns
    -------
    matplotlib.axes.Axes
        Its image holds the counts (``ax.images[0].get_array()``), rows in the order of the y tick labels.
    """
    df = require_columns(data, ["organization_id"], OUTCOMES_FRAME)
    counts = _applies_to_counts(df, organization_labels(df))
    counts = counts.loc[sorted(counts.index, key=natural_key)]
    ax = new_axes(ax, rows=len(counts))
    if counts.empty or counts.shape[1] == 0:
        return no_data(ax, "No outcome to draw", "applies_to coverage")
    values = counts.to_numpy(dtype=float)
    kwargs.setdefault("cmap", "cividis")
    kwargs.setdefault("aspect", "auto")
    kwargs.setdefault("vmin", 0)
    image = ax.imshow(values if values.size else np.zeros((0, 0)), **kwargs)
    ax.set_yticks(np.arange(len(counts)), labels=fit_labels(counts.index, max_label))
    ax.set_xticks(np.arange(counts.shape[1]), labels=fit_labels(counts.columns, 20))
    _style_ticks(ax)
    if annotate is None:
        annotate = values.size <= 200
    if annotate and values.size:
        # Dark text on the light end of cividis, light text on the dark end.
        middle = (np.nanmax(values) + kwargs["vmin"]) / 2
        for (row, col), value in np.ndenumerate(values):
            ax.text(col, row, f"{value:g}", ha="center", va="center", fontsize="small",
                    color="black" if value >= middle else "white")
    ax.figure.colorbar(image, ax=ax, label="outcomes")
    set_texts(ax, "applies_to coverage: outcomes per organization and value", "applies_to", "organization")
    return ax


def plot_catalogue_over_time(data: pd.DataFrame, *, freq: str = "M", ax=None, **kwargs):
    """Lines: outcomes created, and outcomes edited, per week or month.

    An outcome counts as *updated* in the period of its ``date_updated`` when that differs from its
    ``date_created`` (creating an outcome also sets ``date_updated``; that is not an edit).

    Parameters
    ----------
    data : pandas.DataFrame
        From :func:`closeframe.load_outcomes`.
    freq : {"W", "M"}, default "M"
        Count per week (starting Monday) or per month, in UTC.
    ax : matplotlib.axes.Axes, optional
    **kwargs
        Passed to both :meth:`~matplotlib.axes.Axes.plot` calls (e.g. ``linewidth=2``).

    Returns
    -------
    matplotlib.axes.Axes
        Two lines labelled ``created`` and ``updated``; x is the start of each period, every period between the
        first and the last present (zero when nothing happened).
    """
    if freq not in CATALOGUE_FREQUENCIES:
        raise ConfigurationError(
            f"freq={freq!r} is not one of {', '.join(map(repr, CATALOGUE_FREQUENCIES))} (week, month).")
    df = require_columns(data, ["id", "date_created", "date_updated"], OUTCOMES_FRAME)
    unique = df.drop_duplicates("id")
    created = unique["date_created"]
    updated = unique["date_updated"].where(unique["date_updated"] != unique["date_created"])
    created_counts, updated_counts = (_per_period(dates, freq) for dates in (created, updated))
    periods = created_counts.index.union(updated_counts.index)
    if len(periods):
        periods = pd.period_range(periods.min(), periods.max(), freq=periods.freq)
    x = periods.to_timestamp() if len(periods) else pd.DatetimeIndex([])
    ax = new_axes(ax, wide=True)
    period = CATALOGUE_FREQUENCIES[freq]
    if not len(x):
        return no_data(ax, "No outcome to draw", f"Outcome catalogue: created and updated per {period}")
    kwargs.setdefault("marker", "o")
    colours = [kwargs.pop("color")] * 2 if "color" in kwargs else OKABE_ITO[4:6]
    for (label, counts), color in zip((("created", created_counts), ("updated", updated_counts)), colours):
        ax.plot(x, counts.reindex(periods, fill_value=0).to_numpy(), label=label, color=color, **kwargs)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0)
    # Right of the axes, outside them: inside, it would cover the first periods' points.
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize="small")
    if len(x):
        # Concise dates ("2025", "Aug", "Sep"…) fit many periods without rotated, overlapping labels.
        locator = mdates.AutoDateLocator(maxticks=10)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    set_texts(ax, f"Outcome catalogue: created and updated per {period}", f"{period} (UTC)",
               "outcomes")
    return ax


def _per_period(dates: pd.Series, freq: str) -> pd.Series:
    """Count non-missing UTC datetimes per period (timezone dropped after converting to UTC, on purpose)."""
    dates = pd.to_datetime(dates.dropna(), utc=True).dt.tz_convert("UTC").dt.tz_localize(None)
    if dates.empty:
        return pd.Series([], index=pd.PeriodIndex([], freq=freq), dtype="int64")
    return dates.dt.to_period(freq).value_counts().sort_index()
