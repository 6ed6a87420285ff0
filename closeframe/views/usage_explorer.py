"""The usage explorer: pickers over calls and meetings wired to :mod:`closeframe.usage.selection`, one view at a time.

``cf.explore(outcomes, calls, meetings)`` builds a :class:`UsageExplorer`. Its pickers make a
:class:`~closeframe.usage.selection.Selection`; every view (usage, top outcomes per organization, organizations side by
side, trend, users, unused and deleted outcomes, the catalogue) is a pure function of the prepared frames and that
selection, the same functions the dashboard and the report call. Only the visible view is computed and drawn, so
a change redraws in well under 100 ms on a million activities (``bench/explorer.py --usage``).
"""

from __future__ import annotations

import datetime as dt
import html
import io
from typing import Any, Callable, Iterable

import ipywidgets as w
import numpy as np
import pandas as pd

from closeframe.errors import ConfigurationError
from closeframe.usage.definition import SHARE_COLUMNS
from closeframe.usage.selection import (
    KINDS,
    NO_OUTCOME,
    Selection,
    by_user_table,
    catalogue_table,
    compare_table,
    describe,
    options,
    prepare,
    selected_events,
    selection_mask,
    top_outcomes,
    trend_table,
    unused_and_deleted,
    usage_table,
)

from closeframe.views.style import OKABE_ITO, natural_key
from closeframe.views.svgcharts import barh_svg, heatmap_svg, small_multiples_svg
# The plots' labels and notes, one rule.
from closeframe.views.usage_plots import _has_outcome, _no_outcome_note, _organization, _top_title, _user_label
from closeframe.views.usage_plots import _outcome_label as _outcome

__all__ = ["NARROW_CHART_WIDTH", "SHARE_OF", "USAGE_VIEWS", "UsageExplorer", "multi_picker"]

#: The views, in the order of the view buttons.
USAGE_VIEWS = ("Usage", "Top per organization", "Organizations side by side", "Trend", "Users",
               "Unused & deleted", "Catalogue")
#: ``denominator`` choices of the "Share of" menu.
SHARE_OF = (("all activities", "all"), ("activities with an outcome", "with_outcome"),
            ("connected calls and held meetings", "connected"))
MAX_TABLE_ROWS = 60
#: Width in px of the narrow chart a phone shows: a 420 px screen leaves the explorer about 390 px.
NARROW_CHART_WIDTH = 360
_TABLE_STYLE = ("<style>.closeframe-table td { text-align: right; padding: 1px 10px; font-variant-numeric: "
                "tabular-nums; white-space: nowrap; } .closeframe-table td.text { white-space: normal; } "
                ".closeframe-table td.text, .closeframe-table th { text-align: left; padding: 1px 10px; } "
                ".closeframe-picked { color: #444; font-size: 90%; max-width: 22em; white-space: normal; } "
                ".closeframe-explorer .closeframe-chart-narrow { display: none; }</style>")


def multi_picker(select: w.SelectMultiple, title: str, noun: str) -> w.VBox:
    """``select`` with a heading that says nothing picked means all, All/Clear buttons and what is picked.

    The summary under the list keeps the choice visible when it is scrolled out of a long list (30+
    organizations).
    """
    summary = w.HTML(layout=w.Layout(max_width="24em"))
    everything = w.Button(description="All", layout=w.Layout(width="4.5em"), tooltip=f"pick every {noun}")
    clear = w.Button(description="Clear", layout=w.Layout(width="4.5em"), tooltip=f"no {noun} picked: all")

    def show(_=None) -> None:
        picked = list(select.label) if select.value else []
        total = len(select.options)
        if not picked:
            text = f"all {total:,} (none picked)"
        else:
            text = f"{len(picked):,} of {total:,}: " + ", ".join(picked[:8]) + (" …" if len(picked) > 8 else "")
        summary.value = f'<div class="closeframe-picked">{html.escape(text)}</div>'

    everything.on_click(lambda _: setattr(select, "value", tuple(value for _, value in _pairs(select.options))))
    clear.on_click(lambda _: setattr(select, "value", ()))
    select.observe(show, names="value")
    show()
    heading = w.HTML(f"<b>{html.escape(title)}</b> <span style='color:#666'>(none picked = all)</span>")
    return w.VBox([heading, select, w.HBox([everything, clear]), summary], layout=w.Layout(margin="0 12px 6px 0"))


def _pairs(options: Iterable) -> list[tuple[str, Any]]:
    return [o if isinstance(o, tuple) else (str(o), o) for o in options]


def _select(options: Iterable, most_rows: int, width: str = "16em") -> w.SelectMultiple:
    options = list(options)
    return w.SelectMultiple(options=options, rows=min(max(len(options), 2), most_rows),
                            layout=w.Layout(width=width))


def _percent(value: float) -> str:
    return "" if pd.isna(value) else f"{value:.1%}"


def _count(value: Any) -> str:
    return "" if pd.isna(value) else f"{int(value):,}"


def _day(value: Any) -> str:
    return "" if pd.isna(value) else f"{pd.Timestamp(value):%Y-%m-%d}"


def _html_table(frame: pd.DataFrame, formats: dict[str, Callable], *, note: str = "",
                empty: str = "No activity matches the pickers.") -> str:
    """A small HTML table: numbers right-aligned and formatted, text left-aligned, at most MAX_TABLE_ROWS rows."""
    shown = frame.head(MAX_TABLE_ROWS)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
    body = []
    for row in shown.itertuples(index=False):
        cells = []
        for column, value in zip(shown.columns, row):
            formatter = formats.get(column)
            if formatter is None:
                text = "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
                cells.append(f'<td class="text">{html.escape(text)}</td>')
            else:
                cells.append(f"<td>{html.escape(formatter(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = f"<p>The first {MAX_TABLE_ROWS} of {len(frame):,} rows.</p>" if len(frame) > MAX_TABLE_ROWS else ""
    empty = f"<p>{html.escape(empty)}</p>" if frame.empty else ""
    return (_TABLE_STYLE + (f"<p>{html.escape(note)}</p>" if note else "") + empty
            + f'<table class="closeframe-table"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
            + more)


class UsageExplorer(w.VBox):
    """Pickers, a status line, one view's table and chart; see :func:`closeframe.explore`.

    Attributes
    ----------
    organizations, outcomes, kinds, users, statuses : ipywidgets.SelectMultiple
        Nothing picked means all. ``outcomes`` values are normalized names (one entry per name across
        organizations).
    start, end : ipywidgets.DatePicker
        First and last day (UTC), both included.
    view : ipywidgets.ToggleButtons
        One of :data:`USAGE_VIEWS`.
    share_of : ipywidgets.Dropdown
        The denominator of shares (:data:`SHARE_OF`).
    freq : ipywidgets.Dropdown
        The trend's period.
    status, table : ipywidgets.HTML
    chart : ipywidgets.Image
        The view's chart: SVG with its text as text (``chart_format="svg"``, the default) or PNG.
    chart_narrow : ipywidgets.Image
        The same chart laid out :data:`NARROW_CHART_WIDTH` px wide (legend below, one column of panels), which
        the dashboard shows instead of ``chart`` on a narrow screen; empty with ``chart_format="png"``.
    data : closeframe.usage.selection.UsageData
    """

    def __init__(self, outcomes: pd.DataFrame, calls: pd.DataFrame | None = None,
                 meetings: pd.DataFrame | None = None, *, events: pd.DataFrame | None = None,
                 chart_format: str = "svg", chart_dpi: int = 72, now: Any = None) -> None:
        from matplotlib.figure import Figure

        super().__init__()
        if chart_format not in ("svg", "png"):
            raise ConfigurationError(f"chart_format={chart_format!r} is not one of 'svg', 'png'.")
        self.data = prepare(outcomes, calls, meetings, events=events)
        self.chart_format = chart_format
        self.chart_dpi = chart_dpi
        self.now = now
        self.updates = 0
        self._hold = False
        self._cache: dict[str, Any] = {}
        choices = options(self.data)
        self.span = (choices.first, choices.last)
        self.organizations = _select(choices.organizations, 8, "20em")
        self.outcomes = _select(choices.outcomes, 8, "18em")
        self.kinds = _select(KINDS, 2, "9em")  # both always: picking calls where none were loaded shows zeros
        self.users = _select(choices.users, 8, "14em")
        self.statuses = _select(choices.statuses, 6, "10em")
        style = {"description_width": "initial"}
        self.start = w.DatePicker(description="From", style=style, layout=w.Layout(width="auto"))
        self.end = w.DatePicker(description="To", style=style, layout=w.Layout(width="auto"))
        self.view = w.ToggleButtons(options=USAGE_VIEWS, value=USAGE_VIEWS[0], style={"button_width": "auto"})
        self.share_of = w.Dropdown(options=SHARE_OF, value="with_outcome", description="Share of", style=style)
        long_span = choices.first is not None and (choices.last - choices.first).days > 183
        self.freq = w.Dropdown(options=(("week", "W"), ("month", "M"), ("quarter", "Q")),
                               value="M" if long_span else "W", description="Trend per", style=style)
        self.status = w.HTML()
        self.table = w.HTML(layout=w.Layout(min_width="24em", margin="0 16px 0 0"))
        self.chart = w.Image(format="svg+xml" if chart_format == "svg" else "png",
                             layout=w.Layout(max_width="100%", height="auto"))
        self.chart.add_class("closeframe-chart-wide")
        self.chart_narrow = w.Image(format="svg+xml", layout=w.Layout(max_width="100%", height="auto"))
        self.chart_narrow.add_class("closeframe-chart-narrow")
        # Margins are set from the label lengths (_fit) instead of constrained layout, which doubles a redraw.
        self._figure = Figure()
        span = (f"<span style='color:#666'>activities from {choices.first} to {choices.last}</span>"
                if choices.first else "")
        dates = w.VBox([w.HTML(f"<b>Dates</b> (UTC, both days included) {span}"), self.start, self.end,
                        self.share_of, self.freq])
        pickers = w.HBox([
            multi_picker(self.organizations, "Organizations", "organization"),
            multi_picker(self.outcomes, "Outcomes", "outcome"),
            w.VBox([multi_picker(self.kinds, "Calls / meetings", "kind"),
                    multi_picker(self.statuses, "Status", "status")]),
            multi_picker(self.users, "Users", "user"), dates], layout=w.Layout(flex_flow="row wrap"))
        self.children = [pickers, self.view, self.status,
                         w.HBox([self.table, self.chart, self.chart_narrow], layout=w.Layout(flex_flow="row wrap",
                                                                          align_items="flex-start"))]
        self.add_class("closeframe-explorer")
        for widget in (self.organizations, self.outcomes, self.kinds, self.users, self.statuses, self.start,
                       self.end, self.view, self.share_of, self.freq):
            widget.observe(self._on_change, names="value")
        self.update()

    # -- the model ------------------------------------------------------------------------------------------

    @property
    def selection(self) -> Selection:
        """The pickers' choice (``To`` is a whole day: ``until`` is the day after it)."""
        end = self.end.value
        return Selection(organizations=self.organizations.value, outcomes=self.outcomes.value,
                         kinds=self.kinds.value, users=self.users.value, statuses=self.statuses.value,
                         since=self.start.value,
                         until=end + dt.timedelta(days=1) if end is not None else None)

    @property
    def share_label(self) -> str:
        """What ``share`` is a fraction of, in words: the "Share of" menu's choice."""
        return "share of " + dict((v, k) for k, v in SHARE_OF)[self.share_of.value]

    @property
    def share_column(self) -> str:
        """The column of :attr:`usage` that the "Share of" menu's choice shows (``share``, ``share_of_outcomes``
        or ``share_of_connected``: one name per denominator in every face)."""
        return SHARE_COLUMNS[self.share_of.value]

    @property
    def usage(self) -> pd.DataFrame:
        """:func:`closeframe.outcome_usage`'s table for the current picks (empty counts for an empty range).

        The views show its :attr:`share_column`, the "Share of" menu's choice (by default ``share_of_outcomes``,
        of the activities *with an outcome*); :attr:`share_label` says it in words, as the status line and the
        tables' headers do. ``cf.outcome_usage`` has the same columns with the same meaning.
        """
        if "usage" not in self._cache:
            self._cache["usage"] = usage_table(self.data, self.selection, denominator=self.share_of.value)
        return self._cache["usage"]

    @property
    def filtered(self) -> pd.DataFrame:
        """The :func:`closeframe.usage_events` rows of the selected activities."""
        if "filtered" not in self._cache:
            self._cache["filtered"] = selected_events(self.data, self.selection)
        return self._cache["filtered"]

    def select(self, *, organizations: Any = None, outcomes: Any = None, kinds: Any = None, users: Any = None,
               statuses: Any = None, since: Any = None, until: Any = None, view: str | None = None) -> "UsageExplorer":
        """Set the pickers from code (one redraw); arguments left out are cleared (all).

        Parameters
        ----------
        organizations, users : str or iterable of str
            Names or ids.
        outcomes : str or iterable of str
            Outcome names, matched after :func:`closeframe.normalize_outcome_name`.
        kinds : "calls", "meetings" or both
        statuses : str or iterable of str
        since, until : date-like
            ``date_created`` in ``[since, until)``, as for :func:`closeframe.load_calls`; the pickers show whole
            days.
        view : str, optional
            One of :data:`USAGE_VIEWS`.

        Raises
        ------
        ConfigurationError
            A value the data does not have (the message lists the valid ones) or a bad date.
        """
        wanted = Selection(organizations=organizations, outcomes=outcomes, kinds=kinds, users=users,
                           statuses=statuses, since=since, until=until)
        selection_mask(self.data, wanted, strict=True)  # names the first unknown value
        if view is not None and view not in USAGE_VIEWS:
            raise ConfigurationError(f"view={view!r} is not one of {', '.join(map(repr, USAGE_VIEWS))}.")
        orgs = self.data.organizations
        labels = [label for label, ident, name in zip(orgs["label"], orgs["organization_id"],
                                                      orgs["organization_name"].astype(object))
                  if label in wanted.organizations or ident in wanted.organizations
                  or (name is not None and not pd.isna(name) and name in wanted.organizations)]
        users = self.data.users
        user_labels = [label for label, ident, name in zip(users["label"], users["user_id"], users["user_name"])
                       if label in wanted.users or ident in wanted.users or name in wanted.users]
        self._hold = True
        try:
            self.organizations.value = tuple(labels)
            self.outcomes.value = tuple(wanted.outcomes)
            self.kinds.value = tuple(wanted.kinds)
            self.users.value = tuple(user_labels)
            self.statuses.value = tuple(wanted.statuses)
            self.start.value = wanted.since.date() if wanted.since is not None else None
            self.end.value = ((wanted.until - pd.Timedelta(microseconds=1)).date()
                              if wanted.until is not None else None)
            if view is not None:
                self.view.value = view
        finally:
            self._hold = False
        self.update()
        return self

    # -- drawing ---------------------------------------------------------------------------------------------

    def _on_change(self, change: dict) -> None:
        if not self._hold:
            self.update()

    def update(self) -> None:
        """Recompute the visible view for the current picks and redraw its table and chart."""
        self._cache = {}
        selection = self.selection
        self.updates += 1
        if selection.empty_range:
            self.status.value = (f"<b>From</b> {self.start.value} is after <b>To</b> {self.end.value}: nothing is "
                                 "selected. Choose an earlier From or a later To.")
        else:
            picked = int(selection_mask(self.data, selection).sum())
            self.status.value = html.escape(
                f"{picked:,} of {len(self.data.events):,} activities: {describe(selection, self.data)}. "
                f"Shares are of {dict((v, k) for k, v in SHARE_OF)[self.share_of.value]}."
                + (" No call has a status or disposition (were they loaded?), so no call counts as connected."
                   if self.share_of.value == "connected" and not self.data.calls_tell_connected else ""))
        table, draw = getattr(self, "_view_" + self.view.value.split()[0].lower().strip("&"))(selection)
        self.table.value = table
        self.chart.value = self._render(draw)
        self.chart.layout.display = None if draw is not None else "none"
        narrow = draw is not None and self.chart_format == "svg"
        self.chart_narrow.value = self._render(draw, narrow=True) if narrow else b""
        self.chart_narrow.layout.display = None if narrow else "none"

    def _render(self, draw: Callable | None, *, narrow: bool = False) -> bytes:
        import matplotlib

        figure = self._figure
        figure.clear()
        if draw is None:
            return b""
        size = draw(figure, narrow)
        if isinstance(size, bytes):  # drawn as SVG directly (closeframe.views.svgcharts)
            return size
        figure.set_size_inches(*size)
        buffer = io.BytesIO()
        if self.chart_format == "svg":
            # Text stays text: the browser draws it (sharp at any zoom, the reader's fonts), and skipping glyph
            # rasterization is what keeps a redraw fast.
            with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "closeframe"}):
                figure.savefig(buffer, format="svg")
        else:
            figure.savefig(buffer, format="png", dpi=self.chart_dpi)
        return buffer.getvalue()

    def _view_usage(self, selection: Selection):
        from closeframe.views.usage_plots import plot_top_outcomes

        usage = self.usage
        shown = usage[(usage["total"] > 0) | usage["outcome_id"].notna()]
        table = pd.DataFrame({
            "organization": _organization(shown), "outcome": _outcome(shown), "calls": shown["calls"],
            "meetings": shown["meetings"], "total": shown["total"], self.share_label: shown[self.share_column],
            "users": shown["users"], "last used": shown["last_used"]})
        html_table = _html_table(table, {"calls": _count, "meetings": _count, "total": _count,
                                         self.share_label: _percent, "users": _count, "last used": _day},
                                 note="" if _has_outcome(usage) or not usage["total"].sum() else
                                 _no_outcome_note(usage) + ": every activity is in the (no outcome) rows.")

        return html_table, self._one_axes_chart(lambda narrow: _top_outcomes_svg(usage, 15, narrow),
                                                lambda ax: plot_top_outcomes(usage, n=15, ax=ax),
                                                rows=min(int((usage["total"] > 0).sum()), 15))

    def _view_top(self, selection: Selection):
        from closeframe.views.usage_plots import plot_outcome_mix

        top = top_outcomes(self.data, selection, n=5, denominator=self.share_of.value)
        table = pd.DataFrame({"organization": top["organization"], "rank": top["rank"],
                              "outcome": _outcome(top), "total": top["total"], self.share_label: top[self.share_column]})
        usage = self.usage
        html_table = _html_table(table, {"rank": _count, "total": _count, self.share_label: _percent},
                                 empty=_no_outcome_note(usage) + "." if usage["total"].sum() else
                                 "No activity matches the pickers.")

        # The mix leaves activities without an outcome out unless shares are of all activities.
        what = {"all": "share of all activities",
                "connected": "share of connected calls and held meetings with an outcome"}.get(
            self.share_of.value, "share of activities with an outcome")

        def plot(ax):
            plot_outcome_mix(usage, ax=ax, include_no_outcome=self.share_of.value == "all")
            ax.set_xlabel(what)

        return html_table, self._one_axes_chart(
            lambda narrow: _mix_svg(usage, self.share_of.value == "all", what, narrow), plot,
            rows=usage["organization_id"].nunique(), legend=True)

    def _view_organizations(self, selection: Selection):
        from closeframe.views.usage_plots import plot_outcome_comparison

        compare = compare_table(self.data, selection, value=self.share_column,
                                denominator=self.share_of.value)
        table = compare.reset_index(drop=True).rename(columns={"outcome_name": "outcome"})
        formats = {c: _percent for c in table.columns[2:]}
        formats["organizations"] = _count
        html_table = _html_table(table, formats, note=f"Each organization's {self.share_label} per outcome name.")

        def draw(figure, narrow=False):
            if self.chart_format == "svg":
                top = compare.head(15)
                orgs = [c for c in compare.columns if c not in ("outcome_name", "organizations")]
                values = top[orgs].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
                return heatmap_svg(list(top["outcome_name"].astype(str)), orgs, values, percent=True,
                                   title="The same outcome across organizations (share; blank: no such outcome)",
                                   empty="No outcome name to compare",
                                   **({"width": NARROW_CHART_WIDTH, "max_label": 20} if narrow else {}))
            ax = figure.subplots()
            plot_outcome_comparison(compare, ax=ax, n=15)
            _fit(figure, rows=min(len(compare), 15), wide=True)
            return figure.get_size_inches()

        return html_table, draw

    def _view_trend(self, selection: Selection):
        from closeframe.views.usage_plots import plot_usage_trend

        trend = trend_table(self.data, selection, freq=self.freq.value, now=self.now)
        if self.share_of.value != "all":  # the activities without an outcome only with "Share of: all"
            trend = trend[trend["outcome"] != NO_OUTCOME]
        pivot = trend.groupby(["period", "outcome"], sort=False)["total"].sum().unstack(fill_value=0)
        order = [c for c in trend.attrs.get("outcomes", []) if c in pivot.columns] or list(pivot.columns)
        pivot = pivot.reindex(columns=order).sort_index(ascending=False)
        partial = trend.groupby("period")["partial"].any()
        pivot.index = [f"{p:%Y-%m-%d}" + (" (partial)" if partial.get(p, False) else "") for p in pivot.index]
        word = trend.attrs.get("freq_word", "period")
        table = pivot.reset_index(names=f"{word} from")
        html_table = _html_table(table, {c: _count for c in table.columns[1:]},
                                 note=f"Activities per {word}, all selected organizations.")
        prepared: dict[str, tuple] = {}

        def draw(figure, narrow=False):
            if self.chart_format == "svg":
                if "trend" not in prepared:  # once for both charts, the wide and the narrow
                    prepared["trend"] = _trend_panels(trend)
                return _trend_svg(prepared["trend"], narrow=narrow)
            plot_usage_trend(trend, figure=figure, include_no_outcome=self.share_of.value == "all")
            return figure.get_size_inches()

        return html_table, draw

    def _view_users(self, selection: Selection):
        from closeframe.views.usage_plots import plot_users

        users = by_user_table(self.data, selection, n=10)
        table = users.drop(columns=["user_id"]).rename(columns={"with_outcome": "with outcome",
                                                                "share_with_outcome": "share with outcome",
                                                                "top_outcome": "most used outcome"})
        html_table = _html_table(table, {"calls": _count, "meetings": _count, "total": _count,
                                         "with outcome": _count, "share with outcome": _percent})

        return html_table, self._one_axes_chart(lambda narrow: _users_svg(users, narrow),
                                                lambda ax: plot_users(users, ax=ax), rows=len(users), legend=True)

    def _view_unused(self, selection: Selection):
        table = unused_and_deleted(self.data, selection)
        shown = pd.DataFrame({"organization": table["organization"], "state": table["state"],
                              "outcome": table["outcome_name"].astype(object).where(
                                  table["outcome_name"].notna(), table["outcome_id"].astype(object)),
                              "type": table["outcome_type"], "activities": table["total"],
                              "last used": table["last_used"]})
        note = ("Unused: outcomes no selected activity carries. Deleted: outcome ids no outcome resolves, still "
                "on activities.")
        return _html_table(shown, {"activities": _count, "last used": _day}, note=note), None

    def _view_catalogue(self, selection: Selection):
        from closeframe.views.catalogue_plots import plot_outcomes_per_organization
        from closeframe.views.catalogue_explorer import summary_table

        catalogue = catalogue_table(self.data, selection)
        summary = summary_table(catalogue).reset_index() if len(catalogue) else pd.DataFrame()
        html_table = _html_table(summary, {c: _count for c in summary.columns[1:]},
                                 note="Outcomes per organization (only the organization and outcome pickers apply).")

        return html_table, self._one_axes_chart(lambda narrow: _catalogue_svg(catalogue, narrow),
                                                lambda ax: plot_outcomes_per_organization(catalogue, ax=ax),
                                                rows=len(summary), legend=True)

    def _one_axes_chart(self, svg, plot, *, rows: int, legend: bool = False):
        """A view's ``draw(figure, narrow=False)``: ``svg(narrow)`` in SVG mode, else ``plot(ax)`` on one Axes.

        The matplotlib figure is sized by :func:`_fit` for ``rows`` bars (wider with a legend).
        """
        def draw(figure, narrow=False):
            if self.chart_format == "svg":
                return svg(narrow)
            plot(figure.subplots())
            _fit(figure, rows=rows, legend=legend)
            return figure.get_size_inches()

        return draw

    def __repr__(self) -> str:
        return f"<UsageExplorer: {describe(self.selection, self.data)}; view {self.view.value!r}>"


def _layout(narrow: bool) -> dict:
    """barh_svg's keywords for the narrow chart (legend below the bars) or the wide one (its defaults)."""
    return {"width": NARROW_CHART_WIDTH, "legend_below": True} if narrow else {}


def _top_outcomes_svg(usage: pd.DataFrame, n: int, narrow: bool = False) -> bytes:
    """The Usage view's chart: the ``n`` most used outcomes, coloured by organization (as plot_top_outcomes)."""
    used = usage[usage["outcome_id"].notna() & (usage["total"] > 0)].copy()
    used["_org"], used["_label"] = _organization(used), _outcome(used)
    top = used.sort_values(["total", "_label"], ascending=[False, True], kind="stable").head(n)
    organizations = sorted(dict.fromkeys(top["_org"]), key=natural_key)
    several = used["_org"].nunique() > 1
    # Narrow: the colour (legend below) names the organization, leaving the label its room for the outcome.
    labels = [f"{name} · {org}" if several and not narrow else name for name, org in zip(top["_label"], top["_org"])]
    totals = top["total"].to_numpy(dtype=float)
    series = [(org, np.where(top["_org"].to_numpy() == org, totals, 0.0)) for org in organizations]
    return barh_svg(labels, series, title=_top_title(len(top)), xlabel="activities (calls + meetings)",
                    legend_title="organization" if several else None,
                    empty=_no_outcome_note(usage), **_layout(narrow))


def _mix_svg(usage: pd.DataFrame, include_no_outcome: bool, what: str, narrow: bool = False) -> bytes:
    """The Top per organization view's chart: each organization's outcome mix (as plot_outcome_mix)."""
    from closeframe.views.usage_plots import NO_OUTCOME as NONE, OTHER, _mix_table

    table = _mix_table(usage, _organization(usage), 8, include_no_outcome, "natural")
    table = table[table.sum(axis=1) > 0] if _has_outcome(usage) else table.iloc[:0]
    colours = [{NONE: "#DDDDDD", OTHER: "#555555"}.get(c, OKABE_ITO[i % len(OKABE_ITO)])
               for i, c in enumerate(table.columns)]
    return barh_svg(list(table.index), [(c, table[c].to_numpy()) for c in table.columns], title="Outcome mix by "
                    "organization", xlabel=what, percent=True, legend_title="outcome", colours=colours,
                    empty=_no_outcome_note(usage), **_layout(narrow))


def _users_svg(users: pd.DataFrame, narrow: bool = False) -> bytes:
    """The Users view's chart: activities with and without an outcome per user (as plot_users)."""
    several = users["organization"].nunique() > 1
    labels = [_user_label(u, o) if several else str(u) for u, o in zip(users["user"], users["organization"])]
    with_outcome = users["with_outcome"].to_numpy(dtype=float)
    return barh_svg(labels, [("with an outcome", with_outcome), ("without", users["total"].to_numpy() - with_outcome)],
                    title="Activities per user", xlabel="activities (calls + meetings)", legend_title="activities",
                    colours=[OKABE_ITO[4], "#B8D8EE"], empty="No activity to draw", **_layout(narrow))


def _catalogue_svg(catalogue: pd.DataFrame, narrow: bool = False) -> bytes:
    """The Catalogue view's chart: outcomes per organization by type (as plot_outcomes_per_organization)."""
    from closeframe.views.catalogue_plots import organization_labels

    unique = catalogue.drop_duplicates("id") if "applies_to" in catalogue.columns else catalogue
    counts = unique.groupby([organization_labels(unique), "type"], observed=True).size().unstack(fill_value=0)
    counts = counts.loc[sorted(counts.index, key=natural_key)] if len(counts) else counts
    return barh_svg([str(i) for i in counts.index], [(str(c), counts[c].to_numpy()) for c in counts.columns],
                    title=f"Outcomes per organization ({len(unique):,} outcomes)", xlabel="outcomes",
                    legend_title="type", empty="No outcome to draw", **_layout(narrow))


def _trend_svg(trend: pd.DataFrame | tuple, max_panels: int = 12, *, narrow: bool = False) -> bytes:
    """The Trend view's chart: one panel per organization (the most active 12), a line per outcome.

    ``trend`` may be what :func:`_trend_panels` made of it, so the wide and the narrow chart share that work.
    """
    panels, title, colours = trend if isinstance(trend, tuple) else _trend_panels(trend, max_panels)
    narrow_layout = {"width": NARROW_CHART_WIDTH, "columns": 1, "legend_below": True} if narrow else {}
    return small_multiples_svg(panels, title=title, colours=colours, empty="No activity to draw", **narrow_layout)


def _trend_panels(trend: pd.DataFrame, max_panels: int = 12) -> tuple[list, str, dict]:
    """The trend's panels (small_multiples_svg's), the chart's title and the outcomes' colours."""
    from closeframe.views.usage_plots import OTHER, _colours

    word = trend.attrs.get("freq_word", "period")
    totals = trend.groupby("organization", sort=False)["total"].sum()
    shown = sorted(totals[totals > 0].sort_values(ascending=False, kind="stable").index[:max_panels], key=natural_key)
    outcomes = [o for o in dict.fromkeys(trend.attrs.get("outcomes") or trend["outcome"]) if o in set(trend["outcome"])]
    colours = dict(zip(outcomes, _colours(len(outcomes))))
    colours.update({k: v for k, v in ((OTHER, "#555555"), (NO_OUTCOME, "#AAAAAA")) if k in colours})
    panels = []
    fmt = "%b %Y" if word in ("month", "quarter", "year") else "%d %b %y"
    for organization in shown:
        mine = trend[trend["organization"] == organization]
        periods = sorted(mine["period"].unique())
        series = {}
        for outcome in outcomes:
            line = mine[mine["outcome"] == outcome].set_index("period").reindex(periods)
            if line["total"].fillna(0).sum() > 0:
                series[outcome] = (line["total"].fillna(0).to_numpy(), line["partial"].fillna(False).to_numpy())
        panels.append((organization, [pd.Timestamp(p).strftime(fmt) for p in periods], series))
    left_out = len(totals[totals > 0]) - len(shown)
    title = f"Activities per {word} and outcome" + (f" ({left_out} less active organizations not shown)"
                                                    if left_out > 0 else "")
    return panels, title, colours


def _text_width(text: str) -> float:
    """Width of ``text`` in ems, roughly: wide (CJK) characters count as one, others as about 0.6."""
    import unicodedata

    return sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.6 for ch in text)


def _fit(figure, *, rows: int, wide: bool = False, legend: bool = False) -> None:
    """Size a one-Axes figure for ``rows`` bars and set margins from its tick labels, legend and colour bar.

    Estimated from the label lengths rather than measured (constrained layout would double a redraw's time).
    """
    ax = figure.axes[0]
    em = 10 / 72  # inches per em at the 10 pt tick labels
    width = 9.5 if (wide or legend) else 8.0
    height = min(max(2.6, 0.3 * max(rows, 1) + 1.7), 14.0)
    figure.set_size_inches(width, height)
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    left = max((_text_width(t) for t in ticks), default=4) * em + 0.55
    right = 0.25
    box = ax.get_legend()
    if box is not None:
        texts = [t.get_text() for t in box.get_texts()] + [box.get_title().get_text()]
        columns = getattr(box, "_ncols", 1)
        right += (max(_text_width(t) for t in texts) * 0.85 + 2.4) * em * columns + 0.15
    if len(figure.axes) > 1:  # a colour bar
        right += 1.1
    xticks = [t.get_text() for t in ax.get_xticklabels()]
    bottom = 0.65 + (max((_text_width(t) for t in xticks), default=0) * em * 0.5
                     if any(t.get_rotation() for t in ax.get_xticklabels()) else 0)
    left, right = min(left, width * 0.45), min(right, width * 0.4)
    figure.subplots_adjust(left=left / width, right=1 - right / width, top=1 - 0.45 / height,
                           bottom=min(bottom / height, 0.45))
    if len(figure.axes) > 1:
        bar = figure.axes[1]
        main = ax.get_position()
        bar.set_position([main.x1 + 0.2 / width, main.y0, 0.18 / width, main.height])
