"""The usage explorer: pickers over calls and meetings wired to :mod:`closeframe.usage.selection`, one view at a time.

``cf.explore(outcomes, calls, meetings)`` builds a :class:`UsageExplorer`. Its pickers make a
:class:`~closeframe.usage.selection.Selection`; every view is a pure function of the prepared frames and that
selection, the functions the report calls too (:mod:`closeframe.usage.selection`, :mod:`closeframe.usage.questions`):

- **Usage**, **Top per organization**: counts and shares per outcome; each organization's own top N.
- **Trend**: each organization's OWN top N outcomes per week/month/quarter, small multiples on one y scale.
- **Period vs period**: the picked period (default: the last whole one) against the one before.
- **Users**: a user x outcome table per organization, heat-coloured by the share of the user's activities.
- **Organizations side by side**, **Unused & deleted**, **Catalogue**.

One top-N setting (:data:`~closeframe.usage.questions.DEFAULT_TOP_N` to start) serves every view. Every table
sorts by a click on its heading; "Download the table" writes the table(s) on screen as CSV when clicked (never on a
redraw, which stays fast); "Activities behind" lists the calls and meetings behind any
row of the table on screen, each linked to its lead in Close. Picking organizations narrows the users, outcomes and
statuses offered. Dates follow :data:`~closeframe.usage.questions.DATE_RULE` ("until" not included), and "now"
comes from the data (:func:`~closeframe.usage.questions.as_of`). Only the visible view is computed and drawn, so a
change redraws in tens of milliseconds on a million activities (``bench/explorer.py --usage``).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import ipywidgets as w
import numpy as np
import pandas as pd

from closeframe.errors import ConfigurationError
from closeframe.usage.definition import SHARE_COLUMNS
from closeframe.usage.ordering import natural_key
from closeframe.usage.questions import (
    DATE_RULE,
    DEFAULT_TOP_N,
    EMPTY,
    activities_behind,
    as_of,
    as_of_note,
    compare_periods,
    default_periods,
    format_change,
    format_count,
    format_points,
    format_share,
    organization_trends,
    period_label,
    picker_options,
    share_column,
    users_by_outcome,
    users_grid,
)
from closeframe.usage.selection import (
    KINDS,
    NO_OUTCOME,
    Selection,
    by_user_table,
    catalogue_table,
    compare_table_grid,
    describe,
    options,
    prepare,
    selected_events,
    selection_mask,
    top_outcomes,
    unused_and_deleted,
    usage_table,
)
from closeframe.views.screen_tables import csv_bytes, download_link, html_table
from closeframe.views.style import OKABE_ITO
from closeframe.views.pickers import multi_picker, option_pairs
from closeframe.views.svgcharts import barh_svg, heatmap_svg, small_multiples_svg
# The plots' labels and notes, one rule.
from closeframe.views.usage_plots import _has_outcome, _no_outcome_note, _organization, _top_title, _user_label
from closeframe.views.usage_plots import _outcome_label as _outcome

__all__ = ["NARROW_CHART_WIDTH", "QUICK_PERIODS", "SHARE_OF", "TOP_N_CHOICES", "USAGE_VIEWS", "UsageExplorer"]

#: The views, in the order of the view buttons.
USAGE_VIEWS = ("Usage", "Top per organization", "Trend", "Period vs period", "Users", "Organizations side by side",
               "Unused & deleted", "Catalogue")
#: ``denominator`` choices of the "Share of" menu.
SHARE_OF = (("all activities", "all"), ("activities with an outcome", "with_outcome"),
            ("connected calls and held meetings", "connected"))
#: The choices of the one top-N setting.
TOP_N_CHOICES = (1, 3, 5, 8, 10, 15)
#: The "Period" menu: quick date ranges, counted back from "now" (as_of).
QUICK_PERIODS = ("All dates", "Last whole month", "This month so far", "Last 3 whole months", "Last whole quarter",
                 "Last 12 whole months", "Custom")
#: Width in px of the narrow chart a phone shows: a 420 px screen leaves the explorer about 390 px.
NARROW_CHART_WIDTH = 360
#: Panels the trend draws at most (the first in natural order); the pickers choose others.
MAX_PANELS = 12
#: Organizations whose user x outcome table the Users view shows at most.
MAX_USER_TABLES = 8
#: Colours of the trend's lines by rank: Okabe–Ito without its yellow (too pale for a thin line on white).
_RANK_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#999999")
#: The explorer's own CSS (in Jupyter as in the dashboard): ipywidgets' HTML has a 28 px line height, made for one
#: line of text beside a control; notes and table rows read better at 1.4.
_EXPLORER_STYLE = ("<style>.closeframe-explorer .closeframe-chart-narrow { display: none; } "
                   ".closeframe-explorer .widget-html-content { line-height: 1.4; }</style>")


def _select(options: Iterable, most_rows: int, width: str = "16em") -> w.SelectMultiple:
    options = list(options)
    return w.SelectMultiple(options=options, rows=min(max(len(options), 2), most_rows),
                            layout=w.Layout(width=width))


def _day(value: Any) -> str:
    return EMPTY if value is None or pd.isna(value) else f"{pd.Timestamp(value):%Y-%m-%d}"


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")


@dataclass
class _View:
    """What a view shows: its tables' HTML, its chart's ``draw(figure, narrow)`` and the rows one can drill into."""

    table: str
    draw: Callable | None = None
    rows: list = field(default_factory=list)  # (label, activities_behind keywords)


class UsageExplorer(w.VBox):
    """Pickers, a status line, one view's chart and table, and the activities behind a row; see :func:`closeframe.explore`.

    Attributes
    ----------
    organizations, outcomes, kinds, users, statuses : ipywidgets.SelectMultiple
        Nothing picked means all. ``outcomes`` values are normalized names (one entry per name across
        organizations). Picking organizations narrows what ``outcomes``, ``users`` and ``statuses`` offer.
    period : ipywidgets.Dropdown
        Quick ranges (:data:`QUICK_PERIODS`) that set ``start`` and ``until``.
    start, until : ipywidgets.DatePicker
        From (included) and until (not included), UTC: :data:`~closeframe.usage.questions.DATE_RULE`.
    view : ipywidgets.ToggleButtons
        One of :data:`USAGE_VIEWS`.
    top_n : ipywidgets.Dropdown
        The one top-N setting of every view.
    share_of : ipywidgets.Dropdown
        The denominator of shares (:data:`SHARE_OF`).
    freq : ipywidgets.Dropdown
        The trend's period, and the default period of "Period vs period".
    compare_with : ipywidgets.Dropdown
        What "Period vs period" compares against: the period before, or the same period a year earlier.
    status, table : ipywidgets.HTML
    chart : ipywidgets.Image
        The view's chart: SVG with its text as text (``chart_format="svg"``, the default) or PNG.
    chart_narrow : ipywidgets.Image
        The same chart laid out :data:`NARROW_CHART_WIDTH` px wide (legend below, one column of panels), which
        the dashboard shows instead of ``chart`` on a narrow screen; empty with ``chart_format="png"``.
    drill : ipywidgets.Dropdown
        A row of the table on screen; ``behind`` then lists its activities, each linked to its lead in Close.
    behind : ipywidgets.HTML
    report_button : ipywidgets.Button
        Builds the HTML report of the current picks (``report_link`` then offers it).
    download_button : ipywidgets.Button
        Writes the CSV of the view's table(s) (:meth:`build_downloads`); ``download_links`` then offers them.
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
        self._frames = (outcomes, calls, meetings)
        self.chart_format = chart_format
        self.chart_dpi = chart_dpi
        self.now = as_of(self.data, now)  # "now" from the data, never past the machine's clock
        self.updates = 0
        self._hold = False
        self._cache: dict[str, Any] = {}
        self._rows: list = []
        self._offered: dict[tuple, Any] = {}
        choices = options(self.data)
        self.span = (choices.first, choices.last)
        self.organizations = _select(choices.organizations, 8, "20em")
        self.outcomes = _select(choices.outcomes, 8, "18em")
        self.kinds = _select(KINDS, 2, "9em")  # both always: picking calls where none were loaded shows zeros
        self.users = _select(choices.users, 8, "14em")
        self.statuses = _select(choices.statuses, 6, "10em")
        style = {"description_width": "initial"}
        self.period = w.Dropdown(options=QUICK_PERIODS, value="All dates", description="Period", style=style)
        self.start = w.DatePicker(description="From (included)", style=style, layout=w.Layout(width="auto"))
        self.until = w.DatePicker(description="Until (not included)", style=style, layout=w.Layout(width="auto"))
        self.view = w.ToggleButtons(options=USAGE_VIEWS, value=USAGE_VIEWS[0], style={"button_width": "auto"})
        self.view.add_class("closeframe-views")
        self.top_n = w.Dropdown(options=TOP_N_CHOICES, value=DEFAULT_TOP_N, description="Top", style=style,
                                layout=w.Layout(width="8em"))
        self.share_of = w.Dropdown(options=SHARE_OF, value="with_outcome", description="Share of", style=style)
        long_span = choices.first is not None and (choices.last - choices.first).days > 183
        self.freq = w.Dropdown(options=(("week", "W"), ("month", "M"), ("quarter", "Q")),
                               value="M" if long_span else "W", description="Per", style=style)
        self.compare_with = w.Dropdown(options=(("the period before", "before"),
                                                ("the same period a year earlier", "year")),
                                       value="before", description="Compare with", style=style)
        self.status = w.HTML()
        self.status.add_class("closeframe-status")
        self.table = w.HTML(layout=w.Layout(min_width="0", max_width="100%"))
        self.table.add_class("closeframe-view-table")
        self.chart = w.Image(format="svg+xml" if chart_format == "svg" else "png",
                             layout=w.Layout(max_width="100%", height="auto"))
        self.chart.add_class("closeframe-chart-wide")
        self.chart_narrow = w.Image(format="svg+xml", layout=w.Layout(max_width="100%", height="auto"))
        self.chart_narrow.add_class("closeframe-chart-narrow")
        self.drill = w.Dropdown(options=[("— pick a row of the table —", -1)], value=-1,
                                description="Activities behind", style=style, layout=w.Layout(width="auto",
                                                                                          max_width="100%"))
        self.behind = w.HTML()
        self.report_button = w.Button(description="Report of these picks", icon="file-text",
                                      tooltip="an HTML report of the organizations, dates and pickers chosen",
                                      layout=w.Layout(width="auto"))
        self.report_link = w.HTML()
        self.report_link.add_class("closeframe-report-link")
        self.report_button.on_click(lambda _: self.build_report())
        self._downloads: list[tuple[str, pd.DataFrame]] = []
        self.download_button = w.Button(description="Download the table (CSV)", icon="download",
                                        tooltip="the table on screen as CSV, every row, numbers unformatted",
                                        layout=w.Layout(width="auto"))
        self.download_button.add_class("closeframe-download-button")
        self.download_links = w.HTML()
        self.download_button.on_click(lambda _: self.build_downloads())
        # Margins are set from the label lengths (_fit) instead of constrained layout, which doubles a redraw.
        self._figure = Figure()
        span = (f"<span style='color:#666'>data from {choices.first} through "
                f"{(self.now - pd.Timedelta(microseconds=1)).date()}</span>" if choices.first else "")
        dates = w.VBox([w.HTML(f"<b>Dates</b> {span}<div class='closeframe-note' style='max-width:24em'>"
                               f"{html.escape(DATE_RULE)}</div>"), self.period, self.start, self.until])
        pickers = w.HBox([
            multi_picker(self.organizations, "Organizations", "organization"),
            multi_picker(self.outcomes, "Outcomes", "outcome"),
            w.VBox([multi_picker(self.kinds, "Calls / meetings", "kind"),
                    multi_picker(self.statuses, "Status", "status")]),
            multi_picker(self.users, "Users", "user"), dates], layout=w.Layout(flex_flow="row wrap"))
        pickers.add_class("closeframe-pickers")
        settings = w.HBox([self.top_n, self.freq, self.share_of, self.compare_with, self.report_button],
                          layout=w.Layout(flex_flow="row wrap", align_items="center"))
        settings.add_class("closeframe-settings")
        charts = w.HBox([self.chart, self.chart_narrow], layout=w.Layout(flex_flow="row wrap"))
        charts.add_class("closeframe-charts")
        drill = w.VBox([self.drill, self.behind])
        drill.add_class("closeframe-drill")
        downloads = w.HBox([self.download_button, self.download_links],
                           layout=w.Layout(flex_flow="row wrap", align_items="center"))
        downloads.add_class("closeframe-table-download")
        self.children = [pickers, self.view, settings, self.status, self.report_link, charts, downloads, self.table,
                         drill, w.HTML(_EXPLORER_STYLE)]
        self.add_class("closeframe-explorer")
        self.organizations.observe(self._on_organizations, names="value")
        for widget in (self.outcomes, self.kinds, self.users, self.statuses, self.view, self.share_of, self.freq,
                       self.top_n, self.compare_with):
            widget.observe(self._on_change, names="value")
        for widget in (self.start, self.until):
            widget.observe(self._on_date, names="value")
        self.period.observe(self._on_period, names="value")
        self.drill.observe(self._on_drill, names="value")
        self.update()

    # -- the model ------------------------------------------------------------------------------------------

    @property
    def selection(self) -> Selection:
        """The pickers' choice: ``date_created`` in [From, Until), UTC days."""
        return Selection(organizations=self.organizations.value, outcomes=self.outcomes.value,
                         kinds=self.kinds.value, users=self.users.value, statuses=self.statuses.value,
                         since=self.start.value, until=self.until.value)

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
            days (a time of day is dropped).
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
            self._narrow()
            self.outcomes.value = tuple(wanted.outcomes)
            self.kinds.value = tuple(wanted.kinds)
            self.users.value = tuple(user_labels)
            self.statuses.value = tuple(wanted.statuses)
            self.start.value = wanted.since.date() if wanted.since is not None else None
            self.until.value = wanted.until.date() if wanted.until is not None else None
            self.period.value = "All dates" if since is None and until is None else "Custom"
            if view is not None:
                self.view.value = view
        finally:
            self._hold = False
        self.update()
        return self

    def _org_position(self, labels: pd.Series) -> np.ndarray:
        """Each organization label's place in the natural order (unknown labels last)."""
        position = pd.Index(self.data.org_labels).get_indexer(labels.astype(object))
        return np.where(position < 0, len(self.data.org_labels), position)

    # -- pickers that talk to each other ----------------------------------------------------------------------

    def _narrow(self) -> None:
        """Offer only the outcomes, users and statuses of the organizations picked (what is picked stays)."""
        key = (self.organizations.value, self.outcomes.value, self.users.value, self.statuses.value)
        if key not in self._offered:  # the same organizations come back often: remember what they offer
            self._offered[key] = picker_options(self.data, Selection(
                organizations=key[0], outcomes=key[1], users=key[2], statuses=key[3]))
        offered = self._offered[key]
        for select, pairs in ((self.outcomes, offered.outcomes), (self.users, offered.users),
                              (self.statuses, offered.statuses)):
            if tuple(option_pairs(select.options)) != tuple(pairs):
                value = select.value
                select.options = pairs
                select.value = tuple(v for v in value if v in {p[1] for p in pairs})

    def _on_organizations(self, change: dict) -> None:
        if self._hold:
            return
        self._hold = True
        try:
            self._narrow()
        finally:
            self._hold = False
        self.update()

    def _quick_range(self, choice: str) -> tuple[dt.date | None, dt.date | None]:
        """The [from, until) days of a :data:`QUICK_PERIODS` choice, counted back from "now"."""
        now = self.now
        month = now.tz_localize(None).to_period("M")
        if choice == "Last whole month":
            first, end = month - 1, month
        elif choice == "This month so far":
            first, end = month, month + 1
        elif choice == "Last 3 whole months":
            first, end = month - 3, month
        elif choice == "Last 12 whole months":
            first, end = month - 12, month
        elif choice == "Last whole quarter":
            quarter = now.tz_localize(None).to_period("Q")
            return (quarter - 1).start_time.date(), quarter.start_time.date()
        else:
            return None, None
        return first.start_time.date(), end.start_time.date()

    def _on_period(self, change: dict) -> None:
        if self._hold or change["new"] == "Custom":
            return
        first, end = self._quick_range(change["new"])
        self._hold = True
        try:
            self.start.value, self.until.value = first, end
        finally:
            self._hold = False
        self.update()

    def _on_date(self, change: dict) -> None:
        if self._hold:
            return
        self._hold = True
        try:  # a date picked by hand: the quick range no longer describes it
            self.period.value = "Custom" if (self.start.value, self.until.value) != (None, None) else "All dates"
        finally:
            self._hold = False
        self.update()

    # -- drawing ---------------------------------------------------------------------------------------------

    def _on_change(self, change: dict) -> None:
        if not self._hold:
            self.update()

    def update(self) -> None:
        """Recompute the visible view for the current picks and redraw its table and chart."""
        self._cache = {}
        self._downloads = []
        selection = self.selection
        self.updates += 1
        if selection.empty_range:
            self.status.value = (f"<b>From</b> {self.start.value} is not before <b>Until</b> {self.until.value}: "
                                 "nothing is selected. Choose an earlier From or a later Until.")
        else:
            picked = int(np.count_nonzero(selection_mask(self.data, selection)))
            self.status.value = html.escape(
                f"{picked:,} of {len(self.data.events):,} activities: {describe(selection, self.data)}. "
                f"Shares are of {dict((v, k) for k, v in SHARE_OF)[self.share_of.value]}. "
                + f"Data through {(self.now - pd.Timedelta(microseconds=1)).date()} (UTC): Trend, Period vs period "
                "and Users count until then and mark a period under way as partial."
                + (" No call has a status or disposition (were they loaded?), so no call counts as connected."
                   if self.share_of.value == "connected" and not self.data.calls_tell_connected else ""))
        view = getattr(self, "_view_" + self.view.value.split()[0].lower().strip("&"))(selection)
        self.compare_with.layout.display = None if self.view.value == "Period vs period" else "none"
        self.table.value = view.table
        self.download_links.value = ""  # the files of the previous picks are gone; a click builds these
        self.download_button.disabled = not self._downloads
        self.download_button.description = "Download the tables (CSV)" if len(self._downloads) > 1 \
            else "Download the table (CSV)"
        draw = view.draw
        self.chart.value = self._render(draw)
        self.chart.layout.display = None if draw is not None else "none"
        narrow = draw is not None and self.chart_format == "svg"
        self.chart_narrow.value = self._render(draw, narrow=True) if narrow else b""
        self.chart_narrow.layout.display = None if narrow else "none"
        self._rows = view.rows
        self._hold = True
        try:
            self.drill.options = [("— pick a row of the table —", -1)] + [
                (label, i) for i, (label, _) in enumerate(view.rows)]
            self.drill.value = -1
        finally:
            self._hold = False
        self.behind.value = ""

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

    # -- the activities behind a row, and a report of the picks --------------------------------------------------

    def _on_drill(self, change: dict) -> None:
        if self._hold:
            return
        self.show_behind(change["new"])

    def show_behind(self, row: int) -> pd.DataFrame | None:
        """List the activities behind row ``row`` of :attr:`drill`'s options (-1: none); return them."""
        if row is None or row < 0 or row >= len(self._rows):
            self.behind.value = ""
            return None
        label, keywords = self._rows[row]
        found = activities_behind(self.data, self.selection, n=self.top_n.value, now=self.now, **keywords)
        shown = pd.DataFrame({
            "date (UTC)": found["date_created"].dt.strftime("%Y-%m-%d %H:%M"), "organization": found["organization"],
            "kind": found["activity"], "user": found["user"], "outcome": found["outcome"],
            "status": found["status"], "lead (opens in Close)": found["lead_id"], "_url": found["lead_url"]})
        export = found.assign(date_created=found["date_created"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        total = found.attrs.get("total", len(found))
        self.behind.value = (f"<b>{html.escape(label)}</b>: {total:,} activit{'y' if total == 1 else 'ies'}, newest "
                             "first; a lead opens in Close." + html_table(
                                 shown, download=f"activities-{_slug(label)[:60]}.csv",
                                 export=export, links={"lead (opens in Close)": "_url"},
                                 empty="No activity behind this row."))
        return found

    def _table(self, frame: pd.DataFrame | dict, formats: dict | None = None, *, download: str,
               export: pd.DataFrame | Callable[[], pd.DataFrame] | None = None, **options: Any) -> str:
        """:func:`~closeframe.views.screen_tables.html_table` of a view's table, its CSV (``export``, else
        ``frame``, saved as ``download``) offered by :attr:`download_button`: written only when clicked, not on
        every redraw (``export`` may be a function that makes the frame then). ``frame`` may be a mapping of
        headings to columns (see :func:`~closeframe.views.screen_tables.html_table`)."""
        if isinstance(frame, pd.DataFrame):
            if not frame.empty:
                self._downloads.append((download, frame if export is None else export))
        elif len(next(iter(frame.values()), ())):  # columns as arrays: the frame they make, only if downloaded
            self._downloads.append((download, (lambda: pd.DataFrame(dict(frame))) if export is None else export))
        return html_table(frame, formats, **options)

    def build_downloads(self) -> list[tuple[str, bytes]]:
        """Write the CSV of each table of the view on screen (what :attr:`download_button` does) and offer each as
        a link in :attr:`download_links`; return the (file name, CSV bytes) pairs.

        The CSV holds the table's rows and columns as shown, all of them, its numbers unformatted
        (:func:`~closeframe.views.screen_tables.csv_bytes`).
        """
        self._downloads = [(name, frame() if callable(frame) else frame) for name, frame in self._downloads]
        files = [(name, csv_bytes(frame)) for name, frame in self._downloads]
        self.download_links.value = "".join(
            download_link(frame, name, f"⬇ {name} ({len(frame):,} row{'s' if len(frame) != 1 else ''})",
                          data=data) for (name, frame), (_, data) in zip(self._downloads, files))
        return files

    def build_report(self) -> str:
        """The HTML report (:func:`closeframe.views.report.render_report`) of the current picks; also offered as
        a download link under the view's buttons."""
        from closeframe.views.report import render_report

        outcomes, calls, meetings = self._frames
        selection = self.selection
        document = render_report(outcomes, calls, meetings, source=f"the explorer's picks: "
                                 f"{describe(selection, self.data)}", selection=selection, prepared=self.data)
        payload = base64.b64encode(document.encode("utf-8")).decode("ascii")
        self.report_link.value = (f'<a download="closeframe-report.html" href="data:text/html;charset=utf-8;base64,'
                                  f'{payload}">⬇ The report of these picks (HTML, one file)</a>')
        return document

    # -- the views ---------------------------------------------------------------------------------------------

    def _view_usage(self, selection: Selection) -> _View:
        from closeframe.views.usage_plots import plot_top_outcomes

        usage = self.usage.copy(deep=False)
        usage.attrs = {}  # pandas deep-copies attrs into every frame derived from this one: none needed here
        n = self.top_n.value
        shown = usage[((usage["total"] > 0) | usage["outcome_id"].notna()).to_numpy()]
        column = share_column(self.share_of.value)
        # Arrays, not frames: this runs on every picker change (a thousand rows at 36 organizations).
        organization, outcome = _organization(shown).to_numpy(dtype=object), _outcome(shown).to_numpy(dtype=object)
        total, has_id = shown["total"].to_numpy(), shown["outcome_id"].notna().to_numpy()
        org_code, org_values = pd.factorize(organization)
        # A share of nothing (an organization with no activity in the denominator) is missing, shown "–".
        counted = np.where(has_id | (self.share_of.value == "all"), total, 0)
        denominator = np.bincount(org_code, weights=counted, minlength=len(org_values))[org_code]
        share = np.where(denominator > 0, shown[self.share_column].to_numpy(dtype=float), np.nan)
        # Organizations in the one natural order of every face (the usage table lists them by id).
        natural = np.argsort(self._org_position(pd.Series(org_values, dtype=object))[org_code], kind="stable")
        table = pd.DataFrame({
            "organization": organization[natural], "outcome": outcome[natural],
            "calls": shown["calls"].to_numpy()[natural], "meetings": shown["meetings"].to_numpy()[natural],
            "total": total[natural], column: share[natural], "users": shown["users"].to_numpy()[natural],
            "last used": shown["last_used"].array[natural]})
        note = (f"Activities per outcome; {column} = {self.share_label}. " + (
            "" if _has_outcome(usage) or not usage["total"].sum()
            else _no_outcome_note(usage) + ": every activity is in the (no outcome) rows."))
        html_out = self._table(table, {"calls": format_count, "meetings": format_count, "total": format_count,
                                      column: format_share, "users": format_count, "last used": _day},
                              note=note, download="usage.csv")
        rows = [(f"{o} · {name}", {"organization": o, "outcome": name})
                for o, name in zip(organization[natural][:60], outcome[natural][:60])]
        named = np.flatnonzero((has_id & (total > 0))[natural])
        # The n most used named outcomes, ties by name (a stable sort by total, descending, then name).
        top = table.iloc[named[np.lexsort((outcome[natural][named], -total[natural][named]))][:n]]
        several, empty = len(set(organization[natural][named])) > 1, _no_outcome_note(usage)
        return _View(html_out, self._one_axes_chart(lambda narrow: _top_outcomes_svg(top, several, empty, narrow),
                                                    lambda ax: plot_top_outcomes(usage, n=n, ax=ax),
                                                    rows=min(int((usage["total"] > 0).sum()), n)), rows)

    def _view_top(self, selection: Selection) -> _View:
        from closeframe.views.usage_plots import plot_top_outcomes

        n = self.top_n.value
        top = top_outcomes(self.data, selection, n=n, denominator=self.share_of.value)
        column = share_column(self.share_of.value)
        table = pd.DataFrame({"organization": top["organization"], "rank": top["rank"],
                              "outcome": _outcome(top), "total": top["total"], column: top[self.share_column]})
        # The usage table (a second pass over the activities) only for what an empty view says.
        note = "No activity matches the pickers."
        if table.empty and self.usage["total"].sum():
            note = _no_outcome_note(self.usage) + "."
        html_out = self._table(table, {"rank": format_count, "total": format_count, column: format_share},
                              note=f"Each organization's own {n} most used outcomes; {column} = {self.share_label}.",
                              empty=note, download="top-per-organization.csv")
        rows = [(f"{o} · {name}", {"organization": o, "outcome": name})
                for o, name in zip(table["organization"].head(60), table["outcome"].head(60))]

        def svg(narrow: bool) -> bytes:
            return _own_top_svg(table, n, narrow, note.rstrip("."))

        return _View(html_out, self._one_axes_chart(svg, lambda ax: plot_top_outcomes(self.usage, n=n, ax=ax),
                                                    rows=len(table)), rows)

    def _view_organizations(self, selection: Selection) -> _View:
        from closeframe.views.usage_plots import plot_outcome_comparison

        grid = compare_table_grid(self.data, selection, value=self.share_column, denominator=self.share_of.value)
        orgs = sorted(grid.organizations, key=natural_key)  # the one natural order
        position = {org: j for j, org in enumerate(grid.organizations)}
        # The table from the arrays: a share is missing (blank) where the organization has no such outcome.
        values = np.where(grid.present, grid.values, np.nan)[:, [position[org] for org in orgs]]

        def frame() -> pd.DataFrame:  # what compare_table returns, organizations in natural order
            return grid.frame()[["outcome_name", "organizations"] + orgs]

        table = {"outcome": grid.names, "organizations": grid.counts,
                 **{org: values[:, j] for j, org in enumerate(orgs)}}
        formats = {c: format_share for c in orgs}
        formats["organizations"] = format_count
        html_out = self._table(table, formats, note=f"Each organization's {self.share_label} per outcome name "
                              f"({EMPTY}: the organization has no such outcome).",
                              download="organizations-side-by-side.csv",
                              export=lambda: frame().reset_index(drop=True).rename(
                                  columns={"outcome_name": "outcome"}))

        def draw(figure, narrow=False):
            if self.chart_format == "svg":
                return heatmap_svg([str(x) for x in grid.names[:15]], orgs, values[:15], percent=True,
                                   title="The same outcome across organizations (share; blank: no such outcome)",
                                   empty="No outcome name to compare",
                                   **({"width": NARROW_CHART_WIDTH, "max_label": 20} if narrow else {}))
            ax = figure.subplots()
            plot_outcome_comparison(frame(), ax=ax, n=15)
            _fit(figure, rows=min(len(grid.names), 15), wide=True)
            return figure.get_size_inches()

        rows = [(name, {"outcome": name}) for name in map(str, grid.names[:60])]
        return _View(html_out, draw, rows)

    def _view_trend(self, selection: Selection) -> _View:
        from closeframe.views.usage_plots import plot_usage_trend

        n = self.top_n.value
        trend = organization_trends(self.data, selection, freq=self.freq.value, n=n, now=self.now,
                                    denominator=self.share_of.value)
        attrs, trend.attrs = trend.attrs, {}  # pandas deep-copies attrs into every frame derived from this one
        if self.share_of.value != "all":  # the activities without an outcome only with "Share of: all"
            trend = trend[(trend["outcome"] != NO_OUTCOME).to_numpy()]
        column, word = attrs["share_column"], attrs["freq_word"]
        freq = self.freq.value
        codes, periods = pd.factorize(trend["period"])  # one label per period, not per row
        period_labels = np.asarray([period_label(p, freq) for p in periods], dtype=object)[codes]
        organization = pd.factorize(trend["organization"])[0]  # codes in order of appearance: the natural order
        # Within each organization (natural order), the newest period first, its outcomes in rank order.
        order = np.lexsort((trend["rank"].to_numpy(), -trend["period"].array.asi8, organization))
        organizations = trend["organization"].to_numpy(dtype=object)[order]
        outcomes = trend["outcome"].to_numpy(dtype=object)[order]
        partial = np.where(trend["partial"].to_numpy(), "partial", "")

        def export() -> pd.DataFrame:  # the table as a frame, only if downloaded
            table = pd.DataFrame({"organization": trend["organization"], word: period_labels,
                                  "outcome": trend["outcome"], "total": trend["total"], column: trend[column],
                                  "partial": partial})
            return table.iloc[order].reset_index(drop=True)

        table = {"organization": organizations, word: period_labels[order], "outcome": outcomes,
                 "total": trend["total"].to_numpy()[order], column: trend[column].to_numpy()[order],
                 "partial": partial[order]}
        html_out = self._table(table, {"total": format_count, column: format_share}, download=f"trend-per-{word}.csv",
                              export=export,
                              note=f"Activities per {word}: each organization's own {n} most used outcomes, then "
                              f"the rest; {column} = {self.share_label} that {word} ({EMPTY}: none). "
                              f"{as_of_note(self.data, self.now).split(DATE_RULE)[0].strip()}")
        shown = codes[order[:60]]
        ends = {code: _period_end(periods[code], freq) for code in set(shown.tolist())}  # once per period
        rows = [(f"{o} · {name} · {label}", {"organization": o, "outcome": name, "since": periods[code],
                                              "until": ends[code]})
                for o, name, label, code in zip(organizations[:60], outcomes[:60], period_labels[order[:60]],
                                                shown.tolist())]
        prepared: dict[str, Any] = {}

        def draw(figure, narrow=False):
            if self.chart_format == "svg":
                if "panels" not in prepared:  # once for both charts, the wide and the narrow
                    prepared["panels"] = _trend_panels(trend, freq, n, word=word)
                return _trend_svg(prepared["panels"], narrow=narrow)
            framed = trend.copy(deep=False)
            framed.attrs = attrs
            plot_usage_trend(framed, figure=figure, include_no_outcome=self.share_of.value == "all")
            return figure.get_size_inches()

        return _View(html_out, draw, rows)

    def _view_period(self, selection: Selection) -> _View:
        freq = self.freq.value
        current, previous = default_periods(self.data, selection, freq=freq, now=self.now)
        if self.compare_with.value == "year":
            previous = (current[0] - pd.DateOffset(years=1), current[1] - pd.DateOffset(years=1))
        table = compare_periods(self.data, selection, current=current, previous=previous, freq=freq, now=self.now,
                                denominator=self.share_of.value)
        attrs, table.attrs = table.attrs, {}  # pandas deep-copies attrs into every column taken: none needed
        labels = attrs["labels"]
        if self.compare_with.value == "year":
            labels = {**labels, "previous": f"{labels['current']} a year earlier"
                      if " until " in labels["current"] else period_label(previous[0], freq)}
        column = attrs["share_column"]
        before, after = labels["previous"], labels["current"] + (" (so far)" if attrs["current_partial"] else "")
        shown = pd.DataFrame({"organization": table["organization"], "outcome": table["outcome"],
                              before: table["previous"], after: table["current"], "change": table["change"],
                              f"{column} {before}": table[f"{column}_previous"],
                              f"{column} {after}": table[f"{column}_current"],
                              f"{column} change": table[f"{column}_change"]})
        spans = (f"{after}: {current[0]:%Y-%m-%d} until {current[1]:%Y-%m-%d}; {before}: {previous[0]:%Y-%m-%d} "
                 f"until {previous[1]:%Y-%m-%d}")
        note = (f"{after} against {before} ({spans}; until not included). Pick From and Until for another period; "
                f"{column} = {self.share_label} in each period; {EMPTY}: nothing in that period. "
                + ("The current period is under way: its counts are partial. " if attrs["current_partial"]
                   else ""))
        totals = table.groupby("organization", sort=False)[["previous", "current"]].sum()

        html_out = self._table(shown, {before: format_count, after: format_count, "change": format_change,
                                      f"{column} {before}": format_share, f"{column} {after}": format_share,
                                      f"{column} change": format_points}, note=note,
                              download=f"period-{_slug(after)}-vs-{_slug(before)}.csv")
        rows = [(f"{o} · {name} · {after}", {"organization": o, "outcome": name, "since": current[0],
                                             "until": current[1]})
                for o, name in zip(shown["organization"].head(60), shown["outcome"].head(60))]
        rows += [(f"{o} · {name} · {before}", {"organization": o, "outcome": name, "since": previous[0],
                                               "until": previous[1]})
                 for o, name in zip(shown["organization"].head(60), shown["outcome"].head(60))]

        def svg(narrow: bool) -> bytes:
            return _period_svg(totals, before, after, narrow)

        return _View(html_out, self._one_axes_chart(svg, lambda ax: _period_plot(totals, before, after, ax),
                                                    rows=len(totals), legend=True), rows)

    def _view_users(self, selection: Selection) -> _View:
        from closeframe.views.usage_plots import plot_users

        n = self.top_n.value
        matrix = users_by_outcome(self.data, selection, n=n)
        org_code, organizations = pd.factorize(matrix["organization"].to_numpy(dtype=object))  # as listed
        organizations = list(organizations)
        parts, rows, bars = [], [], []
        note = (f"Who logs which outcome: each organization's own {n} most used outcomes as columns; a cell is the "
                "user's activities with that outcome and its share of the user's activities (colour: that share).")
        # Each column converted once, then arrays per organization: no frame per table (up to 8 per redraw).
        columns = {name: matrix[name].to_numpy(dtype=object if name in ("organization", "user", "outcome") else None)
                   for name in ("organization", "user", "rank", "outcome", "total", "share_of_user")}
        for code, organization in enumerate(organizations[:MAX_USER_TABLES]):
            mine = np.flatnonzero(org_code == code)
            users, outcomes, grids, totals = users_grid(columns, organization, ("total", "share_of_user"))
            counts, shares = grids["total"], grids["share_of_user"]
            position = {c: k for k, c in enumerate(outcomes)}
            outcomes = [c for c in outcomes if c != "total"]
            cells = {c: [f"{v:,} · {format_share(f)}" for v, f in zip(counts[:, position[c]].tolist(),
                                                                       shares[:, position[c]].tolist())]
                     for c in outcomes}
            shown = {"user": users, **cells, "total": totals}
            fraction = {c: shares[:, position[c]] for c in outcomes}

            def heat(index, value, column, fraction=fraction):
                return fraction[column][index] if column in fraction else None

            parts.append(f"<h4 style='margin:10px 0 2px'>{html.escape(organization)}</h4>" + self._table(
                shown, {"total": format_count}, heat=heat, download=f"users-by-outcome-{_slug(organization)}.csv",
                export=lambda mine=mine: matrix.iloc[mine].drop(columns=["rank"])))  # only if downloaded
            rows += [(f"{organization} · {user}", {"organization": organization, "user": user})
                     for user in users[:20]]
            without = counts[:, position[NO_OUTCOME]] if NO_OUTCOME in position else 0
            bars.append((np.full(min(len(users), 10), organization, dtype=object),
                         users[:10], totals[:10], (totals - without)[:10]))
        more = len(organizations) - MAX_USER_TABLES
        html_out = (f'<p class="closeframe-note">{html.escape(note)}</p>' + "".join(parts)
                    + (f"<p>{more} more organizations: pick them in Organizations.</p>" if more > 0 else "")
                    if organizations else "<p>No activity matches the pickers.</p>")
        users = pd.DataFrame({name: np.concatenate(column) for name, column in zip(
            ("organization", "user", "total", "with_outcome"), zip(*bars))}) if bars else pd.DataFrame(
            {"organization": [], "user": [], "total": [], "with_outcome": []})

        def plot(ax):
            plot_users(by_user_table(self.data, selection, n=10), ax=ax)

        return _View(html_out, self._one_axes_chart(lambda narrow: _users_svg(users, narrow), plot,
                                                    rows=len(users), legend=True), rows)

    def _view_unused(self, selection: Selection) -> _View:
        table = unused_and_deleted(self.data, selection)
        shown = pd.DataFrame({"organization": table["organization"], "state": table["state"],
                              "outcome": table["outcome_name"].astype(object).where(
                                  table["outcome_name"].notna(), table["outcome_id"].astype(object)),
                              "type": table["outcome_type"], "activities": table["total"],
                              "last used": table["last_used"]})
        note = ("Unused: outcomes no selected activity carries. Deleted: outcome ids no outcome resolves, still "
                "on activities.")
        deleted = shown[shown["state"] == "deleted"].head(60)
        rows = [(f"{o} · deleted outcome {name}", {"organization": o, "outcome": "(deleted outcome)"})
                for o, name in zip(deleted["organization"], deleted["outcome"])]
        return _View(self._table(shown, {"activities": format_count, "last used": _day}, note=note,
                                download="unused-and-deleted.csv"), None, rows)

    def _view_catalogue(self, selection: Selection) -> _View:
        from closeframe.views.catalogue_plots import plot_outcomes_per_organization
        from closeframe.views.catalogue_explorer import summary_table

        catalogue = catalogue_table(self.data, selection)
        summary = summary_table(catalogue).reset_index() if len(catalogue) else pd.DataFrame()
        html_out = self._table(summary, {c: format_count for c in summary.columns[1:]}, download="catalogue.csv",
                              note="Outcomes per organization (only the organization and outcome pickers apply).")
        return _View(html_out, self._one_axes_chart(lambda narrow: _catalogue_svg(catalogue, narrow),
                                                    lambda ax: plot_outcomes_per_organization(catalogue, ax=ax),
                                                    rows=len(summary), legend=True))

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


def _top_outcomes_svg(top: pd.DataFrame, several: bool, empty: str, narrow: bool = False) -> bytes:
    """The Usage view's chart: its ``top`` rows (``organization``, ``outcome``, ``total``), coloured by organization
    (as plot_top_outcomes); ``several``: the rows come from more than one organization."""
    organizations = sorted(dict.fromkeys(top["organization"]), key=natural_key)
    # Narrow: the colour (legend below) names the organization, leaving the label its room for the outcome.
    labels = [f"{name} · {org}" if several and not narrow else name
              for name, org in zip(top["outcome"], top["organization"])]
    totals = top["total"].to_numpy(dtype=float)
    series = [(org, np.where(top["organization"].to_numpy() == org, totals, 0.0)) for org in organizations]
    # All organizations together: the title says so (each organization's own top: Top per organization).
    title = _top_title(len(top)) + (", all organizations together" if several else "")
    return barh_svg(labels, series, title=title, xlabel="activities (calls + meetings)",
                    legend_title="organization" if several else None, empty=empty, **_layout(narrow))


def _users_svg(users: pd.DataFrame, narrow: bool = False) -> bytes:
    """The Users view's chart: activities with and without an outcome per user (as plot_users)."""
    several = users["organization"].nunique() > 1
    labels = [_user_label(u, o) if several else str(u) for u, o in zip(users["user"], users["organization"])]
    with_outcome = users["with_outcome"].to_numpy(dtype=float)
    return barh_svg(labels, [("with an outcome", with_outcome), ("without", users["total"].to_numpy() - with_outcome)],
                    title="Activities per user (each organization's 10 most active)",
                    xlabel="activities (calls + meetings)", legend_title="activities",
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


def _period_end(start: Any, freq: str) -> pd.Timestamp:
    """The first instant after the ``freq`` period starting at ``start`` (UTC)."""
    stamp = pd.Timestamp(start)
    return (stamp.tz_convert(None).to_period(freq) + 1).start_time.tz_localize("UTC")


def _own_top_svg(table: pd.DataFrame, n: int, narrow: bool, empty: str) -> bytes:
    """The Top per organization chart: each organization's own top ``n``, its bars together, coloured by it."""
    organization = table["organization"].to_numpy(dtype=object)
    organizations = list(dict.fromkeys(organization))
    several = len(organizations) > 1
    labels = [f"{name} · {org}" if several and not narrow else str(name)
              for name, org in zip(table["outcome"].to_numpy(dtype=object), organization)]
    totals = table["total"].to_numpy(dtype=float)
    series = [(org, np.where(organization == org, totals, 0.0)) for org in organizations]
    colours = [OKABE_ITO[i % len(OKABE_ITO)] for i in range(len(organizations))]
    return barh_svg(labels, series, title=f"Each organization's own top {n} outcomes",
                    xlabel="activities (calls + meetings)", legend_title="organization" if several else None,
                    colours=colours, empty=empty, **_layout(narrow))


def _period_svg(totals: pd.DataFrame, before: str, after: str, narrow: bool) -> bytes:
    """The Period vs period chart: each organization's activities in both periods, side by side."""
    labels, previous, current = [], [], []
    for organization, was, now in zip(totals.index, totals["previous"].tolist(), totals["current"].tolist()):
        for name, value in ((before, was), (after, now)):
            # Narrow: the organization once, over its pair of bars (the colours name the periods).
            labels.append(f"{organization} · {name}" if not narrow else organization if name == before else " ")
            previous.append(value if name == before else 0)
            current.append(value if name == after else 0)
    return barh_svg(labels, [(before, previous), (after, current)], title=f"Activities: {after} against {before}",
                    xlabel="activities (calls + meetings)", legend_title="period", colours=["#B8D8EE", "#0072B2"],
                    empty="No activity in either period", **_layout(narrow))


def _period_plot(totals: pd.DataFrame, before: str, after: str, ax) -> None:
    """The Period vs period chart in matplotlib (PNG explorers): paired horizontal bars per organization."""
    y = np.arange(len(totals))
    ax.barh(y - 0.2, totals["previous"], height=0.4, label=before, color="#B8D8EE")
    ax.barh(y + 0.2, totals["current"], height=0.4, label=after, color="#0072B2")
    ax.set_yticks(y, [str(i) for i in totals.index])
    ax.invert_yaxis()
    ax.set_xlabel("activities (calls + meetings)")
    ax.set_title(f"Activities: {after} against {before}")
    ax.legend(title="period")


def _trend_svg(panels: tuple, *, narrow: bool = False) -> bytes:
    """The Trend chart: one panel per organization, its own top outcomes, every panel on one y scale."""
    shown, title, y_max = panels
    layout = {"width": NARROW_CHART_WIDTH, "columns": 1} if narrow else {"width": 900, "columns": 3}
    return small_multiples_svg(shown, title=title, y_max=y_max, empty="No activity to draw", **layout)


def _trend_panels(trend: pd.DataFrame, freq: str, n: int, max_panels: int = MAX_PANELS, *,
                  word: str | None = None) -> tuple[list, str, int]:
    """The trend's panels (small_multiples_svg's), its title and the shared top of the y axis.

    Arrays, not a group-by per organization and outcome: this runs on every redraw of the Trend view. ``word``:
    the period in words (default: the trend's ``attrs["freq_word"]``).
    """
    word = word or trend.attrs.get("freq_word", "period")
    fmt = "%b %Y" if word in ("month", "quarter", "year") else "%d %b %y"
    org_code, organizations = pd.factorize(trend["organization"], sort=False)  # natural order, as the frame
    shown = min(len(organizations), max_panels)
    # The named outcomes only: the rest ("(other outcomes)", often a dozen names together) would dwarf them and
    # flatten every line on the shared scale; the table lists the rest.
    keep = (org_code < shown) & (trend["rank"].to_numpy() <= n)
    periods = pd.DatetimeIndex(trend["period"].unique()).sort_values()
    period = periods.get_indexer(trend["period"])[keep]
    slot = trend["rank"].to_numpy()[keep] - 1
    org = org_code[keep]
    totals = np.zeros((shown, n + 2, len(periods)))
    totals[org, slot, period] = trend["total"].to_numpy()[keep]
    present = np.zeros((shown, n + 2), dtype=bool)
    present[org, slot] = True
    labels = np.full((shown, n + 2), None, dtype=object)
    labels[org, slot] = trend["outcome"].to_numpy()[keep]
    partial = np.zeros(len(periods), dtype=bool)
    partial[periods.get_indexer(trend["period"][trend["partial"].to_numpy()])] = True
    x_labels = [p.strftime(fmt) for p in periods]
    panels = []
    for o in range(shown):
        lines = []
        for k in np.flatnonzero(present[o]):
            outcome = str(labels[o, k])
            lines.append((f"{k + 1}. {outcome}", _RANK_COLOURS[k % len(_RANK_COLOURS)], totals[o, k], partial))
        panels.append((str(organizations[o]), x_labels, lines))
    left_out = len(organizations) - shown
    title = (f"Activities per {word}: each organization's own top {n} outcomes (other outcomes: in the table)"
             + (f" (the first {shown} of {len(organizations)} organizations; pick others in Organizations)"
                if left_out > 0 else ""))
    return panels, title, int(totals.max()) if totals.size else 0


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
