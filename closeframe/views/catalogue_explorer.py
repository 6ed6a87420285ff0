"""Interactive explorers and ``cf.explore``: usage of outcomes when activities are given, else the catalogue.

``cf.explore(outcomes, calls, meetings)`` returns a :class:`closeframe.views.usage_explorer.UsageExplorer` (views of
outcome usage drawn from :mod:`closeframe.usage.selection`); ``cf.explore(outcomes)`` the catalogue explorer below.

The catalogue filters are plain functions of a frame and a :class:`CatalogueSelection`, tested on their own.
:class:`Explorer` only
wires pickers (organization, type, applies_to, a date range) to them and redraws a summary table (HTML) and a
chart (PNG in an ``Image`` widget, so it works the same in JupyterLab, Voilà and tests without a display). The
filtered frame stays available as ``explorer.filtered``. More views (e.g. of outcome usage) plug in with
:meth:`Explorer.add_view`.
"""

from __future__ import annotations

import datetime as dt
import html
import io
from dataclasses import dataclass, field
from typing import Callable, Iterable

import ipywidgets as w
import numpy as np
import pandas as pd

from closeframe.errors import ConfigurationError
from closeframe.views.style import require_columns

__all__ = [
    "CatalogueSelection",
    "Explorer",
    "applies_to_mask",
    "apply_selection",
    "dates_mask",
    "explore",
    "filter_applies_to",
    "filter_dates",
    "filter_organizations",
    "filter_types",
    "organizations_mask",
    "selection_mask",
    "summary_table",
    "types_mask",
]

#: Columns the explorer reads.
EXPLORER_COLUMNS = ("id", "type", "organization_id", "date_created")
DATE_COLUMNS = ("date_created", "date_updated")
_TABLE_STYLE = ("<style>.closeframe-summary td { text-align: right; padding: 1px 10px; }"
                ".closeframe-summary th { padding: 1px 10px; }"
                ".closeframe-summary tbody tr:last-child { border-top: 1px solid #999; }</style>")


@dataclass(frozen=True)
class CatalogueSelection:
    """What the catalogue explorer's pickers chose; an empty tuple or ``None`` means "no filter" for that picker.

    Attributes
    ----------
    organizations, types, applies_to : tuple of str
        Keep rows of these organizations (names, or ids where a name is unknown) / types / applies_to values
        (an outcome is kept when it applies to any of them).
    start, end : datetime.date or None
        Keep rows whose ``date_column`` falls on or after ``start`` and on or before ``end`` (UTC days).
    date_column : str
        ``"date_created"`` or ``"date_updated"``.
    """

    organizations: tuple = ()
    types: tuple = ()
    applies_to: tuple = ()
    start: dt.date | None = None
    end: dt.date | None = None
    date_column: str = "date_created"


def _organization_labels(df: pd.DataFrame) -> pd.Series:
    # Imported here: plots pulls in matplotlib, which the filters alone do not need.
    from closeframe.views.catalogue_plots import organization_labels

    return organization_labels(df)


def organizations_mask(df: pd.DataFrame, organizations: Iterable[str] | None) -> np.ndarray:
    """True for rows of the given organizations (``organization_name``, else ``organization_id``); empty: all."""
    chosen = list(organizations or ())
    if not chosen:
        return np.ones(len(df), dtype=bool)
    return _organization_labels(df).isin(chosen).to_numpy(dtype=bool)


def types_mask(df: pd.DataFrame, types: Iterable[str] | None) -> np.ndarray:
    """True for rows whose ``type`` is one of ``types``; empty or ``None``: all rows."""
    chosen = list(types or ())
    if not chosen:
        return np.ones(len(df), dtype=bool)
    return df["type"].isin(chosen).to_numpy(dtype=bool)


def _applies_to_values(df: pd.DataFrame) -> list[str]:
    if "applies_to" in df.columns:
        return sorted(map(str, df["applies_to"].dropna().unique()))
    return [c.removeprefix("applies_to_") for c in df.columns if c.startswith("applies_to_")]


def applies_to_mask(df: pd.DataFrame, values: Iterable[str] | None) -> np.ndarray:
    """True for outcomes that apply to any of ``values`` (``applies_to_<value>`` columns or the long layout).

    In the long layout (one row per outcome and value) all rows of a kept outcome are kept.

    Raises
    ------
    ConfigurationError
        For a value the wide frame has no column for, listing the ones it has.
    """
    chosen = list(values or ())
    if not chosen:
        return np.ones(len(df), dtype=bool)
    if "applies_to" in df.columns:
        ids = df.loc[df["applies_to"].isin(chosen).to_numpy(dtype=bool), "id"]
        return df["id"].isin(ids).to_numpy(dtype=bool)
    known = _applies_to_values(df)
    unknown = [v for v in chosen if v not in known]
    if unknown:
        raise ConfigurationError(
            f"applies_to value(s) {', '.join(map(repr, unknown))} not in this frame; it has "
            f"{', '.join(map(repr, known)) or 'none'}.")
    mask = np.zeros(len(df), dtype=bool)
    for value in chosen:
        mask |= df[f"applies_to_{value}"].to_numpy(dtype=bool)
    return mask


def dates_mask(df: pd.DataFrame, start: dt.date | None = None, end: dt.date | None = None,
               column: str = "date_created") -> np.ndarray:
    """True for rows whose ``column`` falls on or after ``start`` and on or before ``end`` (UTC days, inclusive).

    Raises
    ------
    ConfigurationError
        For a column that is not a date column, or ``start`` after ``end``.
    """
    if column not in DATE_COLUMNS:
        raise ConfigurationError(f"column={column!r} is not one of {', '.join(map(repr, DATE_COLUMNS))}.")
    mask = np.ones(len(df), dtype=bool)
    if start is not None and end is not None and start > end:
        raise ConfigurationError(f"The date range starts ({start}) after it ends ({end}).")
    values = df[column]
    if start is not None:
        mask &= (values >= pd.Timestamp(start, tz="UTC")).to_numpy(dtype=bool, na_value=False)
    if end is not None:
        mask &= (values < pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1)).to_numpy(dtype=bool, na_value=False)
    return mask


def selection_mask(df: pd.DataFrame, selection: CatalogueSelection) -> np.ndarray:
    """True for the rows every picker of ``selection`` keeps."""
    return (organizations_mask(df, selection.organizations) & types_mask(df, selection.types)
            & applies_to_mask(df, selection.applies_to)
            & dates_mask(df, selection.start, selection.end, selection.date_column))


def filter_organizations(df: pd.DataFrame, organizations: Iterable[str] | None) -> pd.DataFrame:
    """Rows of the given organizations; see :func:`organizations_mask`."""
    return df[organizations_mask(df, organizations)]


def filter_types(df: pd.DataFrame, types: Iterable[str] | None) -> pd.DataFrame:
    """Rows of the given types; see :func:`types_mask`."""
    return df[types_mask(df, types)]


def filter_applies_to(df: pd.DataFrame, values: Iterable[str] | None) -> pd.DataFrame:
    """Outcomes that apply to any of ``values``; see :func:`applies_to_mask`."""
    return df[applies_to_mask(df, values)]


def filter_dates(df: pd.DataFrame, start: dt.date | None = None, end: dt.date | None = None,
                 column: str = "date_created") -> pd.DataFrame:
    """Rows in a date range; see :func:`dates_mask`."""
    return df[dates_mask(df, start, end, column)]


def apply_selection(df: pd.DataFrame, selection: CatalogueSelection) -> pd.DataFrame:
    """The rows of ``df`` every picker of ``selection`` keeps (one copy, however many pickers are set)."""
    return df[selection_mask(df, selection)]


def summary_table(df: pd.DataFrame) -> pd.DataFrame:
    """Outcomes per organization: a column per type, per applies_to value, and the total; a ``total`` row.

    Parameters
    ----------
    df : pandas.DataFrame
        An outcomes frame (``applies_to="columns"`` or ``"long"``; the long one counts each outcome once).
    """
    unique = df.drop_duplicates("id") if "applies_to" in df.columns else df
    org = _organization_labels(unique)
    by_type = unique.groupby([org, unique["type"]], observed=True).size().unstack(fill_value=0)
    by_type.columns = [f"type: {c}" for c in by_type.columns]
    if "applies_to" in df.columns:
        long_org = _organization_labels(df)
        applies = df.groupby([long_org, df["applies_to"]], observed=True)["id"].nunique().unstack(fill_value=0)
        applies.columns = [f"applies to {c}" for c in applies.columns]
    else:
        flags = [c for c in unique.columns if c.startswith("applies_to_")]
        applies = unique[flags].groupby(org, observed=True).sum()
        applies.columns = [f"applies to {c.removeprefix('applies_to_')}" for c in flags]
    table = by_type.join(applies, how="outer").fillna(0).astype("int64")
    table.insert(0, "outcomes", unique.groupby(org, observed=True).size().reindex(table.index, fill_value=0))
    table.index.name = "organization"
    table = table.sort_index()
    if len(table):
        table.loc["total"] = table.sum()
    return table


@dataclass
class _View:
    name: str
    render: Callable
    output: object = field(default=None)


class Explorer(w.VBox):
    """Pickers, a summary table and a chart over an outcomes frame, in one ipywidgets container; see :func:`explore`.

    Attributes
    ----------
    organizations, types, applies_to : ipywidgets.SelectMultiple
    start, end : ipywidgets.DatePicker
    table : ipywidgets.HTML
        The summary table of the filtered rows.
    chart : ipywidgets.Image
        PNG of outcomes per organization stacked by type, for the filtered rows.
    filtered : pandas.DataFrame
        The rows the pickers keep, updated on every change.
    """

    def __init__(self, df: pd.DataFrame, *, date_column: str = "date_created", chart_dpi: int = 72) -> None:
        from matplotlib.figure import Figure

        super().__init__()
        require_columns(df, EXPLORER_COLUMNS, "an outcomes frame from cf.load_outcomes()")
        if date_column not in DATE_COLUMNS:
            raise ConfigurationError(f"date_column={date_column!r} is not one of "
                                     f"{', '.join(map(repr, DATE_COLUMNS))}.")
        self.data = df
        self.date_column = date_column
        self.chart_dpi = chart_dpi
        # The table and chart read only these columns: filtering them alone keeps an update cheap on 100k rows
        # (copying the long text columns is what costs); the full filtered frame is built when asked for.
        needed = ["type", "organization_id", "organization_name", date_column, "applies_to",
                  *[c for c in df.columns if c.startswith("applies_to_")]]
        if "applies_to" in df.columns:
            needed.append("id")
        self._narrow = df[[c for c in df.columns if c in needed]]
        self._mask = np.ones(len(df), dtype=bool)
        self._filtered: pd.DataFrame | None = df
        self.updates = 0
        self._views: list[_View] = []
        from closeframe.views.style import natural_key

        organizations = sorted(map(str, _organization_labels(df).dropna().unique()), key=natural_key)
        types = sorted(map(str, df["type"].dropna().unique()))
        layout = w.Layout(width="auto", min_width="12em")
        style = {"description_width": "initial"}  # "Organization" in full, not "Organizati…"
        applies = _applies_to_values(df)

        def picker(description, options, most_rows, width="12em"):
            return w.SelectMultiple(options=options, rows=min(max(len(options), 2), most_rows), style=style,
                                    description=description, layout=w.Layout(width="auto", min_width=width))

        self.organizations = picker("Organization", organizations, 8, width="20em")
        self.types = picker("Type", types, 4)
        self.applies_to = picker("Applies to", applies, 4)
        dates = df[date_column].dropna()
        first = dates.min().date() if len(dates) else None
        last = dates.max().date() if len(dates) else None
        self.start = w.DatePicker(description="From", style=style, value=None, layout=layout)
        self.end = w.DatePicker(description="To", style=style, value=None, layout=layout)
        self.date_span = (first, last)
        self.status = w.HTML()
        self.table = w.HTML()
        self.chart = w.Image(format="png")
        self._figure = Figure()
        from closeframe.views.usage_explorer import multi_picker

        for select in (self.organizations, self.types, self.applies_to):
            select.description = ""
        pickers = w.HBox([multi_picker(self.organizations, "Organizations", "organization"),
                          w.VBox([multi_picker(self.types, "Type", "type"),
                                  multi_picker(self.applies_to, "Applies to", "value")]),
                          w.VBox([self.start, self.end])],
                         layout=w.Layout(flex_flow="row wrap"))
        self._views_box = w.VBox()
        self.children = [pickers, self.status,
                         w.HBox([self.table, self.chart], layout=w.Layout(flex_flow="row wrap")), self._views_box]
        self.add_class("closeframe-explorer")
        for widget in (self.organizations, self.types, self.applies_to, self.start, self.end):
            widget.observe(self._on_change, names="value")
        self.update()

    @property
    def filtered(self) -> pd.DataFrame:
        """The rows (every column) that the current selection keeps."""
        if self._filtered is None:
            self._filtered = self.data[self._mask]
        return self._filtered

    @property
    def selection(self) -> CatalogueSelection:
        """The pickers' current choice."""
        return CatalogueSelection(organizations=tuple(self.organizations.value), types=tuple(self.types.value),
                         applies_to=tuple(self.applies_to.value), start=self.start.value, end=self.end.value,
                         date_column=self.date_column)

    def _on_change(self, change: dict) -> None:
        self.update()

    def update(self) -> None:
        """Filter with the current selection and redraw the table, the chart and the added views."""
        selection = self.selection
        if selection.start is not None and selection.end is not None and selection.start > selection.end:
            # A half-typed range is not an error worth a traceback in a widget: select nothing and say why, so
            # .filtered, the table and the chart agree with the status line (never a stale previous result).
            self._mask = np.zeros(len(self.data), dtype=bool)
            self._filtered = None
            self.updates += 1
            self.status.value = (f"<b>From</b> {selection.start} is after <b>To</b> {selection.end}: nothing is "
                                 "selected. Choose an earlier From or a later To.")
            empty = self._narrow[self._mask]
            self.table.value = _TABLE_STYLE + summary_table(empty).to_html(
                classes="closeframe-summary", border=0, justify="left", na_rep="")
            self.chart.value = self._render_chart(empty)
            for view in self._views:
                self._refresh_view(view)
            return
        self._mask = selection_mask(self._narrow, selection)
        self._filtered = None
        kept = self._narrow[self._mask]
        self.updates += 1
        first, last = self.date_span
        self.status.value = html.escape(
            f"{int(self._mask.sum()):,} of {len(self.data):,} rows"
            + (f"; {self.date_column} from {first} to {last}" if first else ""))
        self.table.value = _TABLE_STYLE + summary_table(kept).to_html(
            classes="closeframe-summary", border=0, justify="left", na_rep="")
        self.chart.value = self._render_chart(kept)
        for view in self._views:
            self._refresh_view(view)

    def _render_chart(self, df: pd.DataFrame) -> bytes:
        from closeframe.views.catalogue_plots import plot_outcomes_per_organization

        figure = self._figure
        figure.clear()
        labels = _organization_labels(df).dropna().unique()
        rows = max(len(labels), 1)
        width, height = 7.5, min(max(2.5, 0.3 * rows + 1.6), 14.0)
        figure.set_size_inches(width, height)
        # Margins from the label lengths instead of constrained layout, which would double the redraw time.
        longest = min(max((len(str(label)) for label in labels), default=8), 32)
        figure.subplots_adjust(left=min(0.1 + longest * 0.085 / width, 0.5), right=0.8, top=1 - 0.5 / height,
                               bottom=0.6 / height)
        ax = figure.subplots()
        if len(df):
            plot_outcomes_per_organization(df, ax=ax)
        else:
            ax.set_axis_off()
            ax.text(0.5, 0.5, "No outcome matches the pickers", ha="center", va="center", transform=ax.transAxes)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=self.chart_dpi)
        return buffer.getvalue()

    def add_view(self, name: str, render: Callable[[pd.DataFrame, CatalogueSelection], object]) -> None:
        """Add a view redrawn after every change, e.g. of outcome usage filtered like the outcomes.

        Parameters
        ----------
        name : str
            A heading shown above the view.
        render : callable
            ``render(filtered_outcomes, selection)`` returns what to show: an ipywidgets widget, a DataFrame, a
            matplotlib Figure or anything IPython can display. Use :func:`apply_selection` to filter another frame
            (with ``organization_id`` …) by the same selection.
        """
        view = _View(name, render, w.Output())
        self._views.append(view)
        self._views_box.children = (*self._views_box.children, w.HTML(f"<h4>{html.escape(name)}</h4>"), view.output)
        self._refresh_view(view)

    def _refresh_view(self, view: _View) -> None:
        from IPython.display import display

        shown = view.render(self.filtered, self.selection)
        view.output.clear_output(wait=True)
        with view.output:
            display(shown)

    def __repr__(self) -> str:
        return f"<Explorer: {int(self._mask.sum())} of {len(self.data)} rows selected>"


def explore(outcomes: pd.DataFrame, calls: pd.DataFrame | None = None, meetings: pd.DataFrame | None = None, *,
            date_column: str = "date_created", **options):
    """Explore outcome usage (with calls and/or meetings) or the outcome catalogue (outcomes alone).

    Parameters
    ----------
    outcomes : pandas.DataFrame
        From :func:`closeframe.load_outcomes`.
    calls, meetings : pandas.DataFrame, optional
        From :func:`closeframe.load_calls` / :func:`closeframe.load_meetings`. With either, the explorer opens on
        usage: pickers for organizations, outcomes (one name across organizations), calls/meetings, status,
        users and days, and views of usage, top outcomes per organization, organizations side by side, the
        trend, users, unused and deleted outcomes, and the catalogue.
    date_column : {"date_created", "date_updated"}, default "date_created"
        The catalogue explorer's date column.
    **options
        Passed to :class:`closeframe.views.usage_explorer.UsageExplorer` (``chart_dpi``, ``now``).

    Returns
    -------
    UsageExplorer or Explorer
        One ipywidgets container. The usage explorer has ``.usage`` (the :func:`closeframe.outcome_usage`
        table of the picks), ``.filtered`` (their :func:`closeframe.usage_events` rows) and ``.select(...)``;
        the catalogue explorer has ``.filtered`` (the outcomes picked). Nothing picked means all.

    Examples
    --------
    >>> explorer = cf.explore(outcomes, calls, meetings)                 # doctest: +SKIP
    >>> explorer.select(organizations="Acme", kinds="calls", since="2025-10-01")  # doctest: +SKIP
    >>> explorer.usage.head()                                            # doctest: +SKIP
    """
    if calls is not None or meetings is not None:
        from closeframe.views.usage_explorer import UsageExplorer

        return UsageExplorer(outcomes, calls, meetings, **options)
    if options:
        raise ConfigurationError(f"{', '.join(options)}: only for the usage explorer (pass calls or meetings).")
    return Explorer(outcomes, date_column=date_column)

