"""matplotlib helpers over the usage frames of :mod:`closeframe.usage`: one Axes per call, never ``plt.show()``.

Each ``plot_<what>(data, *, ..., ax=None, **kwargs)`` draws on ``ax`` (else the current Axes, else a new figure
sized for the data), sets a title and axis labels, passes ``**kwargs`` to the matplotlib call that draws the data,
and returns the Axes. Colours are Okabe–Ito (cycled past eight); names are shortened with ``…`` and drawn with a
font that has their glyphs (:mod:`closeframe.plotstyle`), so 1 or 40 organizations with long non-Latin names stay
readable.
"""

from __future__ import annotations

from itertools import cycle, islice

import numpy as np
import pandas as pd

from closeframe.errors import ConfigurationError
from closeframe.plotstyle import OKABE_ITO, fit_labels, font_families, new_axes, require_columns, safe_label, set_texts
from closeframe.usage import period_span, period_start

__all__ = ["MIX_BY", "plot_outcome_mix", "plot_top_outcomes", "plot_usage_over_time"]

USAGE_FRAME = "a usage frame from cf.outcome_usage()"
EVENTS_FRAME = "an events frame from cf.usage_events()"
BY_USER_FRAME = "a by-user frame from cf.usage_by_user()"
#: ``by=`` of :func:`plot_outcome_mix`.
MIX_BY = ("organization", "user")
NO_OUTCOME = "(no outcome)"
DELETED = "(deleted outcome)"
#: The label of activities without a Close user (e.g. an inbound voicemail nobody took).
NO_USER = "(no user)"
OTHER = "(other outcomes)"
#: Colours of the two non-outcome segments: grey and black stay apart from the Okabe–Ito hues.
_NO_OUTCOME_COLOUR, _OTHER_COLOUR = "#DDDDDD", "#555555"


def _colours(count: int) -> list[str]:
    return list(islice(cycle(OKABE_ITO), count))


def _organization(frame: pd.DataFrame) -> pd.Series:
    """Each row's organization label: its name where known, else its id."""
    ids = frame["organization_id"].astype(object).map(str)
    if "organization_name" not in frame.columns:
        return ids
    return frame["organization_name"].astype(object).where(frame["organization_name"].notna(), ids).map(str)


def _outcome_label(frame: pd.DataFrame) -> pd.Series:
    """The outcome's name, else ``(deleted outcome)`` for an unresolved id, else ``(no outcome)``."""
    names = frame["outcome_name"].astype(object)
    deleted = frame["deleted"].astype(bool) if "deleted" in frame.columns else frame["outcome_id"].notna()
    label = np.where(names.notna(), names, np.where(deleted, DELETED, NO_OUTCOME))
    return pd.Series(label, index=frame.index, dtype=object).map(str)


def _legend(ax, title: str, count: int) -> None:
    if count:
        ax.legend(title=title, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small",
                  prop={"family": font_families(), "size": "small"}, ncols=1 if count <= 20 else 2)


def plot_top_outcomes(usage: pd.DataFrame, *, n: int = 15, max_label: int = 40, ax=None, **kwargs):
    """The ``n`` most used outcomes as horizontal bars, coloured by organization.

    Parameters
    ----------
    usage : pandas.DataFrame
        From :func:`closeframe.outcome_usage` (or :func:`closeframe.filter_usage`). The no-outcome rows are left
        out; deleted outcomes are shown as ``(deleted outcome)``.
    n : int, default 15
        How many bars.
    max_label : int, default 40
        Longest label in characters (longer names end in ``…``).
    ax : matplotlib.axes.Axes, optional
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.barh`.

    Returns
    -------
    matplotlib.axes.Axes
    """
    require_columns(usage, ["organization_id", "outcome_id", "outcome_name", "total"], USAGE_FRAME)
    n = _check_count(n)
    used = usage[usage["outcome_id"].notna()].copy()
    used["_org"], used["_label"] = _organization(used), _outcome_label(used)
    top = used.sort_values(["total", "_label"], ascending=[False, True], kind="stable").head(int(n))
    organizations = list(dict.fromkeys(top["_org"]))
    several = used["_org"].nunique() > 1
    labels = fit_labels((f"{name} · {org}" if several else name for name, org in zip(top["_label"], top["_org"])),
                        max_label)
    ax = new_axes(ax, rows=len(top))
    colour_of = dict(zip(organizations, _colours(len(organizations))))
    positions = np.arange(len(top))[::-1]  # the most used on top
    for org in organizations:
        mine = (top["_org"] == org).to_numpy()
        ax.barh(positions[mine], top["total"].to_numpy()[mine], color=colour_of[org], label=safe_label(org, 30),
                **kwargs)
    ax.set_yticks(positions, labels)
    if several:
        _legend(ax, "organization", len(organizations))
    set_texts(ax, f"Top {len(top)} outcomes by use", "activities (calls + meetings)", "outcome")
    return ax


def _check_count(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigurationError(f"n={n!r} must be a positive whole number.")
    return int(n)


def _top_labels(labels: pd.Series, weights: pd.Series, n: int) -> tuple[pd.Series, list[str]]:
    """Keep the ``n`` heaviest outcome labels (ties by name), fold the rest into ``(other outcomes)``; return
    the folded labels and their drawing order (``(no outcome)`` last)."""
    totals = weights.groupby(labels).sum().drop(NO_OUTCOME, errors="ignore")
    keep = list(totals.sort_index().sort_values(ascending=False, kind="stable").index[:n])
    folded = labels.where(labels.isin(keep + [NO_OUTCOME]), OTHER)
    return folded, keep + [label for label in (OTHER, NO_OUTCOME) if (folded == label).any()]


def _mix_table(frame: pd.DataFrame, group: pd.Series, n: int) -> pd.DataFrame:
    """Each group's share of activities per outcome label (see :func:`_top_labels`)."""
    labels, order = _top_labels(_outcome_label(frame), frame["total"], n)
    table = frame["total"].groupby([group, labels]).sum().unstack(fill_value=0).reindex(columns=order, fill_value=0)
    rows = table.sum(axis=1)
    return table.div(rows.where(rows > 0, 1), axis=0)


def plot_outcome_mix(usage: pd.DataFrame, *, by: str = "organization", n: int = 8, max_label: int = 30, ax=None,
                     **kwargs):
    """Each organization's (or user's) activities split by outcome, as 100 % stacked horizontal bars.

    Parameters
    ----------
    usage : pandas.DataFrame
        ``by="organization"``: from :func:`closeframe.outcome_usage`. ``by="user"``: from
        :func:`closeframe.usage_by_user` (its ``user_name`` labels the bars).
    by : {"organization", "user"}, default "organization"
    n : int, default 8
        Outcomes shown by name (the most used overall); the rest are ``(other outcomes)``. Activities without an
        outcome are the light grey ``(no outcome)`` segment.
    max_label : int, default 30
    ax : matplotlib.axes.Axes, optional
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.barh`.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if by not in MIX_BY:
        raise ConfigurationError(f"by={by!r} is not one of {', '.join(map(repr, MIX_BY))}.")
    columns = ["organization_id", "outcome_id", "outcome_name", "total"]
    if by == "user":
        require_columns(usage, columns + ["user_id", "user_name"], BY_USER_FRAME)
        names = usage["user_name"].astype(object)
        named = names.where(names.notna(), usage["user_id"].astype(object))
        # Close leaves inbound voicemails nobody took without a user: say so rather than print "<NA>".
        group = named.where(named.notna(), NO_USER).map(str)
        if _organization(usage).nunique() > 1:
            group = group + " · " + _organization(usage)
    else:
        require_columns(usage, columns, USAGE_FRAME)
        group = _organization(usage)
    table = _mix_table(usage, group, _check_count(n))
    ax = new_axes(ax, rows=len(table), wide=True)
    positions = np.arange(len(table))[::-1]
    left = np.zeros(len(table))
    colours = _colours(len(table.columns))
    for i, label in enumerate(table.columns):
        colour = {NO_OUTCOME: _NO_OUTCOME_COLOUR, OTHER: _OTHER_COLOUR}.get(label, colours[i])
        values = table[label].to_numpy()
        ax.barh(positions, values, left=left, color=colour, label=safe_label(label, max_label), **kwargs)
        left += values
    ax.set_yticks(positions, fit_labels(table.index, max_label))
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(lambda x, _: f"{x:.0%}")
    _legend(ax, "outcome", len(table.columns))
    set_texts(ax, f"Outcome mix by {by}", "share of activities", by)
    return ax


def plot_usage_over_time(events: pd.DataFrame, *, freq: str = "W", n: int = 5, max_label: int = 30, ax=None,
                         **kwargs):
    """Activities per period for the ``n`` most used outcomes (by name, over all organizations), and the rest.

    Parameters
    ----------
    events : pandas.DataFrame
        From :func:`closeframe.usage_events` (filter it first for one organization or activity kind).
    freq : str, default "W"
        A pandas period alias: ``"D"``, ``"W"`` (weeks from Monday), ``"M"``, ``"Q"``, ``"Y"``.
    n : int, default 5
        Outcomes drawn as their own line; the others add up to ``(other outcomes)``, and activities without an
        outcome to a dashed ``(no outcome)`` line.
    max_label : int, default 30
    ax : matplotlib.axes.Axes, optional
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.plot`.

    Returns
    -------
    matplotlib.axes.Axes
    """
    require_columns(events, ["activity", "date_created", "outcome_id", "outcome_name"], EVENTS_FRAME)
    periods = period_start(events["date_created"], freq)
    labels, order = _top_labels(_outcome_label(events), pd.Series(1, index=events.index), _check_count(n))
    table = pd.crosstab(periods, labels).reindex(columns=order, fill_value=0)
    if len(table):  # periods without activity are zeros, not gaps the lines jump over
        table = table.reindex(period_span(events["date_created"], freq), fill_value=0)
    ax = new_axes(ax, wide=True)
    colours = _colours(len(order))
    for i, label in enumerate(order):
        style = {NO_OUTCOME: dict(color=_OTHER_COLOUR, linestyle="--"), OTHER: dict(color=_OTHER_COLOUR)}.get(
            label, dict(color=colours[i]))
        ax.plot(table.index, table[label].to_numpy(), label=safe_label(label, max_label), **{**style, **kwargs})
    ax.set_ylim(bottom=0)
    _legend(ax, "outcome", len(order))
    set_texts(ax, f"Usage over time (per {freq})", "period start (UTC)", "activities")
    return ax
