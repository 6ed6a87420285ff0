"""matplotlib helpers over the usage frames of :mod:`closeframe.usage.tables`: one Axes per call, never ``plt.show()``.

Each ``plot_<what>(data, *, ..., ax=None, **kwargs)`` draws on ``ax`` (else the current Axes, else a new figure
sized for the data), sets a title and axis labels, passes ``**kwargs`` to the matplotlib call that draws the data,
and returns the Axes. Colours are Okabe–Ito (cycled past eight); names are shortened with ``…`` and drawn with a
font that has their glyphs (:mod:`closeframe.views.style`), so 1 or 40 organizations with long non-Latin names stay
readable.
"""

from __future__ import annotations

from itertools import cycle, islice

import numpy as np
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
from closeframe.usage.tables import DELETED_OUTCOME_LABEL, period_span, period_start

__all__ = ["MIX_BY", "colour_option", "plot_outcome_comparison", "plot_outcome_mix", "plot_top_outcomes",
           "plot_usage_over_time", "plot_usage_trend", "plot_users"]

USAGE_FRAME = "a usage frame from cf.outcome_usage()"
EVENTS_FRAME = "an events frame from cf.usage_events()"
BY_USER_FRAME = "a by-user frame from cf.usage_by_user()"
#: ``by=`` of :func:`plot_outcome_mix`.
MIX_BY = ("organization", "user")
#: ``order=`` of the plots with one bar per organization or user.
ORDERS = ("natural", "value")
#: Period aliases in words, for titles and axis labels ("per week", not "per W").
PERIOD_WORDS = {"D": "day", "W": "week", "M": "month", "MS": "month", "ME": "month", "Q": "quarter",
                "QS": "quarter", "QE": "quarter", "Y": "year", "YS": "year", "YE": "year"}
NO_OUTCOME = "(no outcome)"
DELETED = DELETED_OUTCOME_LABEL
#: The label of activities without a Close user (e.g. an inbound voicemail nobody took).
NO_USER = "(no user)"
OTHER = "(other outcomes)"
#: Colours of the two non-outcome segments: grey and black stay apart from the Okabe–Ito hues.
_NO_OUTCOME_COLOUR, _OTHER_COLOUR = "#DDDDDD", "#555555"


def _colours(count: int) -> list[str]:
    return list(islice(cycle(OKABE_ITO), count))


def _organization(frame: pd.DataFrame) -> pd.Series:
    """Each row's organization label: its name where known, else its id."""
    ids, names = frame["organization_id"], frame.get("organization_name")
    if len(frame) > 64 and isinstance(ids.dtype, pd.CategoricalDtype) and names is not None and isinstance(
            names.dtype, pd.CategoricalDtype):  # a usage table: label each (id, name) pair once, not each row
        pairs = (ids.cat.codes.to_numpy().astype(np.int64) * (len(names.cat.categories) + 1)
                 + names.cat.codes.to_numpy() + 1)
        _, first, inverse = np.unique(pairs, return_index=True, return_inverse=True)
        labels = _organization_of_rows(pd.DataFrame({"organization_id": ids.iloc[first],
                                                     "organization_name": names.iloc[first]})).to_numpy(dtype=object)
        return pd.Series(labels[inverse.ravel()], index=frame.index, name=names.name)
    return _organization_of_rows(frame)


def _organization_of_rows(frame: pd.DataFrame) -> pd.Series:
    ids = frame["organization_id"].astype(object).map(str)
    if "organization_name" not in frame.columns:
        return ids
    return frame["organization_name"].astype(object).where(frame["organization_name"].notna(), ids).map(str)


def _top_title(count: int) -> str:
    """The top outcomes chart's title, singular for one outcome."""
    return "Top outcome by use" if count == 1 else f"Top {count} outcomes by use"


def _user_label(user: object, organization: object) -> str:
    """A user with their organization, written as the pickers write a name two users share: ``Name (Org)``."""
    user, organization = str(user), str(organization)
    return user if user.endswith(f"({organization})") else f"{user} ({organization})"


def _outcome_label(frame: pd.DataFrame) -> pd.Series:
    """The outcome's name, else ``(deleted outcome)`` for an unresolved id, else ``(no outcome)``."""
    names = frame["outcome_name"].astype(object)
    deleted = frame["deleted"].astype(bool) if "deleted" in frame.columns else frame["outcome_id"].notna()
    label = np.where(names.notna(), names, np.where(deleted, DELETED, NO_OUTCOME))
    return pd.Series(label, index=frame.index, dtype=object).map(str)


def _legend(ax, title: str, count: int, x: float = 1.01) -> None:
    """A legend right of the axes, outside them: it never covers bars, lines or tick labels (``x`` leaves room
    for an x tick label at the right end, such as "100%")."""
    if count:
        ax.legend(title=title, loc="upper left", bbox_to_anchor=(x, 1.0),
                  prop={"family": font_families(), "size": "small"}, ncols=1 if count <= 20 else 2)


def period_word(freq: str) -> str:
    """``"W"`` → ``"week"``; an alias with a count (``"2W"``) keeps it (``"2 weeks"``)."""
    text = str(freq)
    digits = "".join(ch for ch in text if ch.isdigit())
    word = PERIOD_WORDS.get(text[len(digits):].upper(), text[len(digits):])
    return f"{digits} {word}s" if digits and digits != "1" else word


def colour_option(kwargs: dict, count: int) -> list:
    """The colours for ``count`` series: ``color=`` from the caller (one colour or a list) or Okabe–Ito."""
    colour = kwargs.pop("color", None)
    if colour is None:
        return _colours(count)
    if isinstance(colour, (list, tuple)) and colour and not isinstance(colour[0], (int, float)):
        return list(islice(cycle(colour), count))
    return [colour] * count


def _no_outcome_note(usage: pd.DataFrame) -> str:
    """What an outcome chart says instead of empty bars when no activity of ``usage`` has an outcome."""
    total = int(usage["total"].sum()) if len(usage) else 0
    if total == 0:
        return "No activity is selected"
    return f"No activity has an outcome yet ({total:,} {'activity' if total == 1 else 'activities'} selected)"


def _has_outcome(usage: pd.DataFrame) -> bool:
    return bool((usage["outcome_id"].notna() & (usage["total"] > 0)).any())


def _check_order(order: str) -> str:
    if order not in ORDERS:
        raise ConfigurationError(f"order={order!r} is not one of {', '.join(map(repr, ORDERS))}.")
    return order


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
    used = usage[usage["outcome_id"].notna() & (usage["total"] > 0)].copy()
    ax = new_axes(ax, rows=min(len(used), n))
    if used.empty:
        return no_data(ax, _no_outcome_note(usage), "Top outcomes by use")
    used["_org"], used["_label"] = _organization(used), _outcome_label(used)
    top = used.sort_values(["total", "_label"], ascending=[False, True], kind="stable").head(int(n))
    organizations = sorted(dict.fromkeys(top["_org"]), key=natural_key)
    several = used["_org"].nunique() > 1
    labels = fit_labels((f"{name} · {org}" if several else name for name, org in zip(top["_label"], top["_org"])),
                        max_label)
    colour_of = dict(zip(organizations, colour_option(kwargs, len(organizations))))
    positions = np.arange(len(top))[::-1]  # the most used on top
    for org in organizations:
        mine = (top["_org"] == org).to_numpy()
        ax.barh(positions[mine], top["total"].to_numpy()[mine], color=colour_of[org], label=safe_label(org, 30),
                **kwargs)
    ax.set_yticks(positions, labels)
    ax.set_ylim(-0.6, len(top) - 0.4)
    if several:
        _legend(ax, "organization", len(organizations))
    set_texts(ax, _top_title(len(top)), "activities (calls + meetings)", "outcome")
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


def _mix_table(frame: pd.DataFrame, group: pd.Series, n: int, include_no_outcome: bool, order: str) -> pd.DataFrame:
    """Each group's share of activities per outcome label (see :func:`_top_labels`); groups in ``order``."""
    labels, columns = _top_labels(_outcome_label(frame), frame["total"], n)
    if not include_no_outcome:
        keep = (labels != NO_OUTCOME).to_numpy()
        frame, group, labels = frame[keep], group[keep], labels[keep]
        columns = [c for c in columns if c != NO_OUTCOME]
    table = frame["total"].groupby([group, labels]).sum().unstack(fill_value=0).reindex(columns=columns,
                                                                                      fill_value=0)
    rows = table.sum(axis=1)
    if order == "value":
        table = table.loc[rows.sort_values(ascending=False, kind="stable").index]
    else:
        table = table.loc[sorted(table.index, key=natural_key)]
    rows = table.sum(axis=1)
    table = table.loc[:, (table.sum(axis=0) > 0).to_numpy()]  # no legend entry for an outcome nobody used
    return table.div(rows.where(rows > 0, 1), axis=0)


def plot_outcome_mix(usage: pd.DataFrame, *, by: str = "organization", n: int = 8, max_label: int = 30,
                     include_no_outcome: bool = False, order: str = "natural", ax=None, **kwargs):
    """Each organization's (or user's) activities split by outcome, as 100 % stacked horizontal bars.

    Parameters
    ----------
    usage : pandas.DataFrame
        ``by="organization"``: from :func:`closeframe.outcome_usage`. ``by="user"``: from
        :func:`closeframe.usage_by_user` (its ``user_name`` labels the bars).
    by : {"organization", "user"}, default "organization"
    n : int, default 8
        Outcomes shown by name (the most used overall); the rest are ``(other outcomes)``. Activities without an
        outcome are left out (the shares are of activities *with* an outcome) unless ``include_no_outcome``.
    max_label : int, default 30
    include_no_outcome : bool, default False
        Add activities without an outcome as a light grey ``(no outcome)`` segment: shares of all activities.
    order : {"natural", "value"}, default "natural"
        Bars by name, numbers by value ("Org 7" before "Org 10"), or by activities, most first.
    ax : matplotlib.axes.Axes, optional
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.barh` (``color=`` a list colours the outcomes in order).

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
            group = pd.Series([_user_label(u, o) for u, o in zip(group, _organization(usage))], index=group.index)
    else:
        require_columns(usage, columns, USAGE_FRAME)
        group = _organization(usage)
    table = _mix_table(usage, group, _check_count(n), include_no_outcome, _check_order(order))
    table = table[table.sum(axis=1) > 0]
    ax = new_axes(ax, rows=len(table), wide=True)
    if table.empty or not _has_outcome(usage):
        # Without any outcome, "(no outcome)" bars of 100 % and a legend of unused outcomes read as data.
        return no_data(ax, _no_outcome_note(usage), f"Outcome mix by {by}")
    positions = np.arange(len(table))[::-1]
    left = np.zeros(len(table))
    given = "color" in kwargs
    colours = colour_option(kwargs, len(table.columns))
    for i, label in enumerate(table.columns):
        colour = colours[i] if given else {NO_OUTCOME: _NO_OUTCOME_COLOUR, OTHER: _OTHER_COLOUR}.get(label,
                                                                                                  colours[i])
        values = table[label].to_numpy()
        ax.barh(positions, values, left=left, color=colour, label=safe_label(label, max_label), **kwargs)
        left += values
    ax.set_yticks(positions, fit_labels(table.index, max_label))
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(lambda x, _: f"{x:.0%}")
    _legend(ax, "outcome", len(table.columns), x=1.05)
    what = "share of all activities" if include_no_outcome else "share of activities with an outcome"
    set_texts(ax, f"Outcome mix by {by}", what, by)
    return ax


def plot_usage_over_time(events: pd.DataFrame, *, freq: str = "W", n: int = 5, max_label: int = 30, ax=None,
                         now=None, **kwargs):
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
    now : date-like, optional
        "Today" (default: the current time). As in the explorer's trend view, the period holding it is still
        under way: its point is drawn dotted with an open marker (its count is not comparable with whole periods
        yet), and periods starting after it (upcoming meetings) are left out.
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.plot`.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from closeframe.shape.dates import parse_bound  # the loaders' reading of a date, as the trend view's

    require_columns(events, ["activity", "date_created", "outcome_id", "outcome_name"], EVENTS_FRAME)
    now_stamp = parse_bound(now, "now") if now is not None else pd.Timestamp.now(tz="UTC")
    events = events[(events["date_created"] <= now_stamp).to_numpy(dtype=bool, na_value=False)]
    periods = period_start(events["date_created"], freq)
    labels, order = _top_labels(_outcome_label(events), pd.Series(1, index=events.index), _check_count(n))
    table = pd.crosstab(periods, labels).reindex(columns=order, fill_value=0)
    if len(table):  # periods without activity are zeros, not gaps the lines jump over
        table = table.reindex(period_span(events["date_created"], freq), fill_value=0)
    ax = new_axes(ax, wide=True)
    word = period_word(freq)
    if table.empty:
        return no_data(ax, "No activity to draw", f"Usage over time (per {word})")
    colours = _colours(len(order))
    current = period_start(pd.Series([now_stamp]), freq).iloc[0]
    partial = (table.index == current)
    for i, label in enumerate(order):
        style = {NO_OUTCOME: dict(color=_OTHER_COLOUR, linestyle="--"), OTHER: dict(color=_OTHER_COLOUR)}.get(
            label, dict(color=colours[i]))
        style.update(kwargs)
        values = table[label].to_numpy()
        ax.plot(table.index[~partial], values[~partial], label=safe_label(label, max_label), **style)
        if partial.any():
            # Dotted from the last whole period to the one under way, with an open marker, as in the trend view.
            tail = np.flatnonzero(partial)
            joined = tail[0] > 0
            tail = np.concatenate([tail[:1] - 1, tail]) if joined else tail
            ax.plot(table.index[tail], values[tail], **{**style, "linestyle": ":", "marker": "o",
                                                        "markevery": slice(1 if joined else 0, None),
                                                        "markerfacecolor": "white", "label": "_partial"})
    ax.set_ylim(bottom=0)
    _dates_axis(ax)
    _legend(ax, "outcome", len(order))
    title = f"Usage over time (per {word})" + (f"; dotted: {word} in progress" if partial.any() else "")
    set_texts(ax, title, f"{word} starting (UTC)", f"activities per {word}")
    return ax


def _dates_axis(ax) -> None:
    """Concise dates ("2025", "Aug", "Sep"…) that fit without rotated, overlapping labels."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=3, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def plot_outcome_comparison(compare: pd.DataFrame, *, n: int = 15, max_label: int = 30, ax=None, **kwargs):
    """Heat map: the same outcome name (rows) in each organization (columns), from :func:`closeframe.compare_outcomes`.

    Parameters
    ----------
    compare : pandas.DataFrame
        From :func:`closeframe.compare_outcomes` (any ``value=``); shares are written as percentages.
    n : int, default 15
        The first ``n`` names (the frame's order: found in most organizations, then most used).
    max_label : int, default 30
    ax : matplotlib.axes.Axes, optional
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.imshow` (default ``cmap="cividis"``). Blank cells: the
        organization has no outcome of that name.

    Returns
    -------
    matplotlib.axes.Axes
    """
    require_columns(compare, ["outcome_name", "organizations"], "a comparison frame from cf.compare_outcomes()")
    top = compare.head(_check_count(n))
    organizations = [c for c in compare.columns if c not in ("outcome_name", "organizations")]
    ax = new_axes(ax, rows=len(top), wide=True)
    if top.empty or not organizations:
        return no_data(ax, "No outcome name to compare", "The same outcome across organizations")
    values = top[organizations].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    shares = bool(np.nanmax(np.where(np.isnan(values), 0, values)) <= 1.0) and any(
        str(top[c].dtype).startswith("Float") for c in organizations)
    kwargs.setdefault("cmap", "cividis")
    kwargs.setdefault("aspect", "auto")
    kwargs.setdefault("vmin", 0)
    image = ax.imshow(np.ma.masked_invalid(values), **kwargs)
    ax.set_yticks(np.arange(len(top)), fit_labels(top["outcome_name"], max_label))
    ax.set_xticks(np.arange(len(organizations)), fit_labels(organizations, 18), rotation=30, ha="right")
    if values.size <= 300:
        finite = values[~np.isnan(values)]
        middle = (finite.max() + kwargs["vmin"]) / 2 if finite.size else 0
        for (row, col), value in np.ndenumerate(values):
            if not np.isnan(value):
                text = (f"{value:.1%}" if value < 0.1 else f"{value:.0%}") if shares else f"{value:,.0f}"
                ax.text(col, row, text, ha="center", va="center",
                        fontsize="small", color="black" if value >= middle else "white")
    bar = ax.figure.colorbar(image, ax=ax, label="share of activities" if shares else "activities")
    if shares:
        bar.formatter = lambda x, _: f"{x:.0%}"
        bar.update_ticks()
    set_texts(ax, "The same outcome across organizations", "organization", "outcome")
    return ax


def plot_usage_trend(trend: pd.DataFrame, *, figure=None, max_panels: int = 12, include_no_outcome: bool = False,
                     **kwargs):
    """Small multiples: one panel per organization, a line per outcome, from :func:`closeframe.usage.selection.trend_table`.

    Partial periods (the current one, or one cut by the date range) are drawn dashed with hollow markers so a
    half-finished week does not read as a drop.

    Parameters
    ----------
    trend : pandas.DataFrame
        ``organization``, ``period``, ``outcome``, ``total``, ``partial``.
    figure : matplotlib.figure.Figure, optional
        Drawn on (cleared first); else a new pyplot figure.
    max_panels : int, default 12
        Organizations drawn (the most active); the title says how many were left out.
    include_no_outcome : bool, default False
        Also draw activities without an outcome (a dashed grey line); by default only activities with one.
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.plot`.

    Returns
    -------
    list of matplotlib.axes.Axes
    """
    require_columns(trend, ["organization", "period", "outcome", "total", "partial"],
                    "a trend frame from cf.usage.selection.trend_table()")
    word = trend.attrs.get("freq_word", "period")
    if not include_no_outcome:
        trend = trend[trend["outcome"] != NO_OUTCOME]
    if figure is None:
        import matplotlib.pyplot as plt

        figure = plt.figure(layout="constrained")
    figure.clear()
    figure.set_size_inches(7.5, 2.6)
    if trend.empty:
        figure.set_size_inches(7.5, 2.6)
        return [no_data(figure.subplots(), "No activity to draw", f"Activities per {word}")]
    totals = trend.groupby("organization", sort=False)["total"].sum()
    shown = sorted(totals.sort_values(ascending=False, kind="stable").index[:max_panels], key=natural_key)
    outcomes = [o for o in trend.attrs.get("outcomes") or dict.fromkeys(trend["outcome"])
                if include_no_outcome or o != NO_OUTCOME]
    colours = dict(zip(outcomes, _colours(len(outcomes))))
    colours.update({OTHER: _OTHER_COLOUR, NO_OUTCOME: "#AAAAAA"})
    columns = min(3, len(shown))
    rows = -(-len(shown) // columns)
    figure.set_size_inches(3.6 * columns + 2.4, 2.3 * rows + 0.9)
    axes = np.atleast_1d(figure.subplots(rows, columns, sharex=True, squeeze=False)).ravel()
    for ax, organization in zip(axes, shown):
        mine = trend[trend["organization"] == organization]
        for outcome in outcomes:
            line = mine[mine["outcome"] == outcome].sort_values("period")
            if line["total"].sum() == 0:
                continue
            style = dict(color=colours[outcome], linestyle="--" if outcome == NO_OUTCOME else "-")
            style.update(kwargs)
            complete = line[~line["partial"].to_numpy()]
            ax.plot(complete["period"], complete["total"].to_numpy(), label=safe_label(outcome, 30), **style)
            partial = line[line["partial"].to_numpy()]
            if len(partial):
                ax.plot(partial["period"], partial["total"].to_numpy(), linestyle=":", marker="o",
                        markerfacecolor="white", color=style["color"])
        ax.set_title(safe_label(organization, 32), fontsize="medium", fontfamily=font_families())
        ax.set_ylim(bottom=0)
        ax.tick_params(labelsize=9)
        _dates_axis(ax)
    for ax in axes[len(shown):]:
        ax.set_axis_off()
    handles = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    left_out = len(totals) - len(shown)
    title = f"Activities per {word} and outcome" + (f" ({left_out} less active organizations not shown)"
                                                    if left_out > 0 else "")
    figure.suptitle(title + "; dotted: partial " + word, fontfamily=font_families())
    legend = dict(prop={"family": font_families(), "size": "small"}, title="outcome")
    if figure.get_layout_engine() is not None:
        if handles:
            figure.legend(list(handles.values()), list(handles), loc="outside right upper", **legend)
        return list(axes[:len(shown)])
    # No layout engine (a figure redrawn often, where constrained layout would double the time): margins from
    # the legend's longest label, the legend right of the panels.
    width, height = figure.get_size_inches()
    longest = max((len(label) for label in handles), default=0)
    right = (min(longest, 30) * 0.075 + 0.6 if handles else 0.2) / width
    figure.subplots_adjust(left=0.45 / width, right=1 - right - 0.02, bottom=0.5 / height, top=1 - 0.75 / height,
                           wspace=0.25, hspace=0.55)
    if handles:
        figure.legend(list(handles.values()), list(handles), loc="upper left",
                      bbox_to_anchor=(1 - right, 1 - 0.6 / height), **legend)
    return list(axes[:len(shown)])


def plot_users(by_user: pd.DataFrame, *, max_label: int = 30, order: str = "value", ax=None, **kwargs):
    """Horizontal bars per user: activities with an outcome (dark) and without (light), from
    :func:`closeframe.usage.selection.by_user_table`.

    Parameters
    ----------
    by_user : pandas.DataFrame
        ``organization``, ``user``, ``total``, ``with_outcome``.
    max_label : int, default 30
    order : {"value", "natural"}, default "value"
        Most active first within each organization, or by name.
    ax : matplotlib.axes.Axes, optional
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.barh` (``color=`` one colour or two: with / without).

    Returns
    -------
    matplotlib.axes.Axes
    """
    require_columns(by_user, ["organization", "user", "total", "with_outcome"],
                    "a users frame from cf.usage.selection.by_user_table()")
    ax = new_axes(ax, rows=len(by_user))
    if by_user.empty or by_user["total"].sum() == 0:
        return no_data(ax, "No activity to draw", "Activities per user")
    table = by_user
    if _check_order(order) == "natural":
        table = table.iloc[sorted(range(len(table)), key=lambda i: (natural_key(table["organization"].iat[i]),
                                                                    natural_key(table["user"].iat[i])))]
    several = table["organization"].nunique() > 1
    labels = [_user_label(u, o) if several else u for u, o in zip(table["user"], table["organization"])]
    colours = colour_option(kwargs, 2) if "color" in kwargs else [OKABE_ITO[4], "#B8D8EE"]
    positions = np.arange(len(table))[::-1]
    with_outcome = table["with_outcome"].to_numpy()
    without = table["total"].to_numpy() - with_outcome
    ax.barh(positions, with_outcome, color=colours[0], label="with an outcome", **kwargs)
    ax.barh(positions, without, left=with_outcome, color=colours[1 % len(colours)], label="without", **kwargs)
    ax.set_yticks(positions, fit_labels(labels, max_label))
    ax.set_ylim(-0.6, len(table) - 0.4)
    _legend(ax, "activities", 2)
    set_texts(ax, "Activities per user", "activities (calls + meetings)", "user")
    return ax
