"""A self-contained HTML report on outcome usage: how often each outcome is logged on calls and meetings, per org.

It leads with usage (headline figures per organization, top outcomes, the same outcome across organizations, trend,
top users, unused and deleted outcomes) and ends with the outcome catalogue, one collapsible block per
organization. Tables are pandas ``Styler`` tables (numbers right-aligned and formatted, shares as percentages,
dates without minutes); charts are inline SVG whose text stays text, so the reader's fonts draw CJK names (see
:mod:`closeframe.views.reportcharts`). Nothing is fetched from the network (no scripts, fonts, styles or images by URL), so
the file opens the same offline, attached to an e-mail or archived. It says where the data came from in plain
words, never with a key or a local server's address.

The report is a list of section builders (:data:`REPORT_SECTIONS`): each takes the :class:`ReportData` and returns
a :class:`Section` or ``None`` (nothing to say). Add a section by passing ``sections=[*REPORT_SECTIONS, mine]``.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from closeframe.version import __version__
from closeframe.usage.selection import (
    Selection,
    by_user_table,
    catalogue_table,
    headline_table,
    prepare,
    top_outcomes,
    trend_table,
    unused_and_deleted,
    usage_table,
)
from closeframe.views.reportcharts import bar_chart, line_chart
from closeframe.usage.tables import compare_outcomes

__all__ = ["REPORT_SECTIONS", "ReportData", "Section", "render_report", "write_report"]

#: Outcomes listed per organization in "Top outcomes"; the catalogue at the end has them all.
TOP_OUTCOMES = 10
#: With more organizations than this, each one's top outcomes are a collapsible block, the busiest ones open.
OPEN_ORGANIZATIONS = 6
#: Users listed per organization before the rest are summed up as "Others".
TOP_USERS = 5
#: Outcome names compared across organizations.
COMPARED_OUTCOMES = 20
#: Organizations drawn as lines in the trend chart (the largest); the table has every one.
TREND_LINES = 6

_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK JP", "Hiragino Sans",
       "Microsoft YaHei", sans-serif; margin: 1.5rem auto; max-width: 78rem; color: #222; padding: 0 1rem;
       line-height: 1.4; }
h1 { margin-bottom: .2rem; font-size: 1.7rem; } h2 { margin-top: 2.2rem; border-bottom: 2px solid #0072B2;
     padding-bottom: .2rem; } h3 { margin: 1.2rem 0 .3rem; }
.meta { color: #444; margin: .2rem 0; } .note { color: #555; font-size: .92rem; max-width: 52rem; }
nav ul { padding-left: 1.2rem; columns: 2 16rem; }
table { border-collapse: collapse; margin: .4rem 0 1rem; font-size: .92rem; }
th, td { padding: .3rem .6rem; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid #999; background: #f6f6f6; }
td.day { white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.scroll { overflow-x: auto; max-width: 100%; }
.pair { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 1.5rem; align-items: start; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 24rem), 1fr)); gap: 1rem 1.5rem; }
.card { border: 1px solid #e3e3e3; border-radius: 6px; padding: .2rem .8rem .6rem; }
details { border: 1px solid #e3e3e3; border-radius: 6px; padding: .4rem .8rem; margin: .4rem 0; }
summary { cursor: pointer; font-weight: 600; }
svg { display: block; }
@media (max-width: 60rem) { .pair { grid-template-columns: minmax(0, 1fr); } }
@media (max-width: 30rem) { body { padding: 0 .5rem; } table { font-size: .85rem; } th, td { padding: .25rem .35rem; } }
"""


# ----------------------------------------------------------------------------------------------------------------
# The data every section draws from
# ----------------------------------------------------------------------------------------------------------------


def _utc(value: Any) -> pd.Timestamp | None:
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _day(value: Any) -> str:
    """``3 Nov 2025``: a date as people write it, without minutes."""
    if value is None or pd.isna(value):
        return ""
    stamp = pd.Timestamp(value)
    return f"{stamp.day} {stamp:%b %Y}"


@dataclass
class ReportData:
    """What a report is about: the prepared frames, the selection (the period), where they came from, when.

    Every table of the report comes from :mod:`closeframe.usage.selection` with :attr:`selection`, the same functions
    the explorer and the dashboard show, so the three never disagree.

    Parameters
    ----------
    outcomes : pandas.DataFrame
        From :func:`closeframe.load_outcomes`.
    calls, meetings : pandas.DataFrame, optional
        From :func:`closeframe.load_calls` / :func:`closeframe.load_meetings`.
    source : str
        Where the data came from, in plain words (no key, no URL).
    since, until : datetime-like, optional
        The period (``date_created`` in ``[since, until)``, UTC); ``None``: every loaded activity on that side.
    generated_at : datetime, optional
        Defaults to now (UTC); "today" for partial and future periods.
    """

    outcomes: pd.DataFrame
    calls: pd.DataFrame | None = None
    meetings: pd.DataFrame | None = None
    source: str = ""
    since: Any = None
    until: Any = None
    generated_at: Any = None

    def __post_init__(self) -> None:
        self.generated_at = _utc(self.generated_at if self.generated_at is not None
                                 else pd.Timestamp.now(tz="UTC"))
        self.selection = Selection(since=self.since, until=self.until)
        self.since, self.until = self.selection.since, self.selection.until
        self.data = prepare(self.outcomes, self.calls, self.meetings)

    @property
    def has_activities(self) -> bool:
        """Calls or meetings were loaded (an empty frame counts: it says there were none)."""
        return self.calls is not None or self.meetings is not None

    @cached_property
    def headline(self) -> pd.DataFrame:
        """:func:`closeframe.usage.selection.headline_table` of the period."""
        return headline_table(self.data, self.selection)

    @property
    def organizations(self) -> list[str]:
        """Organization labels in the selection layer's (natural) order."""
        return list(self.data.org_labels)

    @cached_property
    def covered(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """The period the report covers: the bounds asked for, else the first and last activity loaded."""
        first = self.headline["first_activity"].min() if len(self.headline) else pd.NaT
        last = self.headline["last_activity"].max() if len(self.headline) else pd.NaT
        first = self.since if self.since is not None else (None if pd.isna(first) else first)
        last = self.until if self.until is not None else (None if pd.isna(last) else last)
        return first, last

    def period_text(self) -> str:
        """The period in words, e.g. ``"1 Jan 2026 to 31 Mar 2026 (as asked; ...)"``."""
        if not self.has_activities:
            return "no calls or meetings were loaded"
        first, last = self.covered
        if first is None:
            return "every loaded activity (there were none)"
        if self.until is not None and self.until == self.until.normalize():
            last_text = _day(self.until - pd.Timedelta(days=1))  # until is exclusive: midnight ends the day before
        else:
            last_text = _day(last)
        how = "every loaded activity" if self.since is None and self.until is None else "as asked"
        return f"{_day(first)} to {last_text} ({how}; the date each call or meeting was logged, UTC)"


@dataclass(frozen=True)
class Section:
    """One part of the report: an anchor id, a heading, an introduction (plain text) and HTML."""

    id: str
    title: str
    body: str
    intro: str = ""


SectionBuilder = Callable[[ReportData], "Section | None"]

# ----------------------------------------------------------------------------------------------------------------
# Tables
# ----------------------------------------------------------------------------------------------------------------


#: Longer texts are cut in tables (the full text shows on hover); a sentence-long outcome name would fill a screen.
MAX_CELL_CHARS = 60


def _percent(value: Any) -> str:
    return "" if value is None or pd.isna(value) else f"{value:.1%}"


def _text(value: Any) -> str:
    """Escaped text, cut at :data:`MAX_CELL_CHARS` with the whole of it as a tooltip."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    text = " ".join(str(value).split())
    if len(text) <= MAX_CELL_CHARS:
        return html.escape(text)
    return f'<span title="{html.escape(text)}">{html.escape(text[:MAX_CELL_CHARS - 1].rstrip())}…</span>'


def _number(value: Any) -> str:
    return "" if value is None or pd.isna(value) else f"{value:,.0f}"


def table_html(frame: pd.DataFrame, *, uid: str, percents: Sequence[str] = (), dates: Sequence[str] = (),
               caption: str | None = None) -> str:
    """``frame`` as an HTML table via pandas' ``Styler``: text escaped, numbers right-aligned with thousands
    separators, ``percents`` columns as percentages, ``dates`` columns as days.

    Parameters
    ----------
    frame : pandas.DataFrame
        Shown without its index; column names are the headings.
    uid : str
        Unique per table in the document (Styler's ids and CSS selectors).
    percents, dates : sequence of str
        Columns shown as percentages / as dates.
    caption : str, optional
    """
    frame = frame.reset_index(drop=True)
    numeric = [c for c in frame.columns if c in percents or pd.api.types.is_numeric_dtype(frame[c])
               and not pd.api.types.is_bool_dtype(frame[c])]
    formats: dict[str, Callable] = {}
    for column in frame.columns:
        if column in percents:
            formats[column] = _percent
        elif column in dates:
            formats[column] = _day
        elif column in numeric:
            formats[column] = _number
        else:
            formats[column] = _text
    styler = frame.style.format(formats).hide(axis="index").format_index(escape="html", axis=1).set_uuid(uid)
    positions = [frame.columns.get_loc(c) for c in numeric]
    classes = ["num" if c in numeric else "day" if c in dates else "" for c in frame.columns]
    styler = styler.set_td_classes(pd.DataFrame([classes] * len(frame), index=frame.index, columns=frame.columns))
    styler = styler.set_table_styles([{"selector": f"th.col_heading.col{i}", "props": "text-align: right;"}
                                      for i in positions], overwrite=True)
    if caption:
        styler = styler.set_caption(html.escape(caption))
    return f'<div class="scroll">{styler.to_html()}</div>'


def _empty(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


# ----------------------------------------------------------------------------------------------------------------
# Sections
# ----------------------------------------------------------------------------------------------------------------


def section_headline(data: ReportData) -> Section:
    """Headline figures per organization."""
    if not data.has_activities:
        body = _empty("No calls or meetings were loaded, so there is nothing to say about usage yet; the outcome "
                      "catalogue is below. Load activities (closeframe report does) to see how outcomes are used.")
        return Section("summary", "Usage at a glance", body)
    head = data.headline
    table = pd.DataFrame({
        "Organization": head.index, "Activities": head["activities"].to_numpy(),
        "Calls": head["calls"].to_numpy(), "Meetings": head["meetings"].to_numpy(),
        "With an outcome": head["share_with_outcome"].to_numpy(), "Outcomes": head["outcomes"].to_numpy(),
        "Used": head["outcomes_used"].to_numpy(), "Never used": head["outcomes_unused"].to_numpy(),
        "Deleted, still on activities": head["deleted_in_use"].to_numpy()})
    if len(table) > 1:
        total = {c: int(table[c].sum()) for c in table.columns[1:] if c != "With an outcome"}
        activities = int(head["activities"].sum())
        total["With an outcome"] = head["with_outcome"].sum() / activities if activities else np.nan
        table.loc[len(table)] = {"Organization": "All organizations", **total}
    chart = bar_chart(head.index, head["share_with_outcome"].fillna(0), title="Share with an outcome",
                      xlabel="calls and meetings with an outcome", percent=True)
    body = f'{table_html(table, uid="summary", percents=["With an outcome"])}<div class="chart">{chart}</div>'
    intro = ("Each organization's calls and meetings in the period: how many carry an outcome, how many of its "
             "outcomes people used, which were never picked, and outcomes deleted from the catalogue that are "
             "still set on activities.")
    return Section("summary", "Usage at a glance", body, intro)


def section_top_outcomes(data: ReportData) -> Section | None:
    """Top outcomes of each organization, a table beside its chart; with many organizations, the busiest open."""
    if not data.has_activities:
        return None
    top = top_outcomes(data.data, data.selection, n=TOP_OUTCOMES, denominator="with_outcome")
    activities = data.headline["activities"]
    busiest = set(activities.sort_values(ascending=False, kind="stable").index[:OPEN_ORGANIZATIONS])
    collapse = len(data.organizations) > OPEN_ORGANIZATIONS
    blocks = []
    for number, organization in enumerate(data.organizations):
        rows = top[top["organization"] == organization]
        if rows.empty:
            body = _empty("No outcome was set in this period.")
        else:
            table = pd.DataFrame({"Outcome": rows["outcome_name"].astype(object).to_numpy(),
                                  "Calls": rows["calls"].to_numpy(), "Meetings": rows["meetings"].to_numpy(),
                                  "Total": rows["total"].to_numpy(), "Share": rows["share"].to_numpy()})
            chart = bar_chart(table["Outcome"], table["Total"], title="Most used outcomes",
                              xlabel="calls and meetings")
            body = (f'<div class="pair"><div>{table_html(table, uid=f"top{number}", percents=["Share"])}</div>'
                    f"<div>{chart}</div></div>")
        if not collapse:
            blocks.append(f'<div class="card"><h3>{html.escape(organization)}</h3>{body}</div>')
            continue
        count = int(activities.get(organization, 0))
        lead = f"; most used: {rows['outcome_name'].iloc[0]} ({int(rows['total'].iloc[0]):,})" if len(rows) else ""
        opened = " open" if organization in busiest else ""
        blocks.append(f"<details{opened}><summary>{html.escape(organization)}: {count:,} calls and meetings"
                      f"{html.escape(lead)}</summary>{body}</details>")
    intro = (f"The {TOP_OUTCOMES} outcomes each organization logs most. Share: of that organization's calls and "
             "meetings that have an outcome.")
    if collapse:
        intro += (f" The {OPEN_ORGANIZATIONS} organizations with the most calls and meetings are open; click any "
                  "other to open it.")
    return Section("top-outcomes", "Top outcomes per organization", "\n".join(blocks), intro)


def section_comparison(data: ReportData) -> Section | None:
    """The same outcome side by side across organizations."""
    if not data.has_activities or len(data.organizations) < 2:
        return None
    usage = usage_table(data.data, data.selection, denominator="with_outcome")
    shares = compare_outcomes(usage, value="share", min_organizations=2)
    if shares.empty:
        body = _empty("No outcome name is shared by two organizations.")
    else:
        totals = compare_outcomes(usage, value="total", min_organizations=2)
        organizations = [o for o in data.organizations if o in shares.columns]
        table = pd.DataFrame({"Outcome": shares["outcome_name"].astype(object),
                              "Organizations": shares["organizations"],
                              "Total": totals[organizations].sum(axis=1).astype("int64")})
        for organization in organizations:
            table[organization] = shares[organization].astype(float)
        body = table_html(table.head(COMPARED_OUTCOMES), uid="compare", percents=organizations)
    intro = ("Outcomes with the same name in several organizations (matched ignoring case, emoji and spacing), "
             "with each organization's share of its calls and meetings that have an outcome. Empty: that "
             "organization has no such outcome; 0.0%: it has one but nobody used it in the period.")
    return Section("compare", "The same outcome across organizations", body, intro)


def _trend_frequency(first: pd.Timestamp | None, last: pd.Timestamp | None) -> str:
    if first is None or last is None or last - first > pd.Timedelta(days=120):
        return "M"
    return "W"


def section_trend(data: ReportData) -> Section | None:
    """Activities per month (or week) and organization."""
    if not data.has_activities:
        return None
    first, last = data.covered
    freq = _trend_frequency(first, min(last, data.generated_at) if last is not None else None)
    trend = trend_table(data.data, data.selection, freq=freq, now=data.generated_at)
    noun = trend.attrs.get("freq_word", "period")
    if trend.empty:
        return Section("trend", "Trend", _empty("No activities in this period."))
    table = trend.pivot_table(index="period", columns="organization", values="total", aggfunc="sum",
                              fill_value=0, observed=True)
    table = table[[o for o in data.organizations if o in table.columns]]
    partial = trend.groupby("period")["partial"].any().reindex(table.index)
    largest = table.sum().sort_values(ascending=False, kind="stable").index[:TREND_LINES]
    chart = line_chart(table[[c for c in table.columns if c in set(largest)]],
                       title=f"Calls and meetings per {noun}, per organization", ylabel=f"per {noun}",
                       partial=partial.to_numpy(), width_px=400, height_px=300)
    listing = table.copy()
    listing.insert(0, noun.capitalize(), [(f"{p:%b %Y}" if noun == "month" else f"week of {_day(p)}")
                                          + (" (partial)" if flag else "")
                                          for p, flag in zip(table.index, partial)])
    listing["All"] = table.sum(axis=1)
    intro = (f"Calls and meetings logged per {noun}. A {noun} only partly inside the period is marked partial "
             "(hollow points, dotted line): its count is not comparable with full ones.")
    if len(table.columns) > TREND_LINES:
        intro += f" The chart draws the {TREND_LINES} organizations with the most activities; the table has all."
    future = int((data.data.time > int(data.generated_at.tz_localize(None).as_unit("us").value)).sum())
    if future:
        intro += f" {future:,} meetings scheduled after the report was generated are left out."
    body = (f'<div class="pair"><div>{table_html(listing.iloc[::-1], uid="trend")}</div>'
            f"<div>{chart}</div></div>")
    return Section("trend", "Trend", body, intro)


def section_top_users(data: ReportData) -> Section | None:
    """Who logs the most calls and meetings, and how often they set an outcome."""
    if not data.has_activities:
        return None
    users = by_user_table(data.data, data.selection, n=TOP_USERS)
    blocks = []
    for number, organization in enumerate(data.organizations):
        rows = users[users["organization"] == organization]
        if rows.empty:
            continue
        # A name shared across organizations is labelled with its organization; inside its own card that is noise.
        users_here = rows["user"].astype(object).map(lambda u: str(u).removesuffix(f" ({organization})"))
        table = pd.DataFrame({"User": users_here.to_numpy(), "Activities": rows["total"].to_numpy(),
                              "With an outcome": rows["share_with_outcome"].to_numpy(),
                              "Most used outcome": rows["top_outcome"].to_numpy()})
        blocks.append(f'<div class="card"><h3>{html.escape(organization)}</h3>'
                      f'{table_html(table, uid=f"users{number}", percents=["With an outcome"])}</div>')
    if not blocks:
        return None
    intro = (f"The {TOP_USERS} users with the most calls and meetings in each organization, the rest summed up as "
             "(others); (no user) is activity without one, such as an inbound voicemail.")
    return Section("users", "Top users", f'<div class="grid">{"".join(blocks)}</div>', intro)


def section_unused_deleted(data: ReportData) -> Section | None:
    """Outcomes nobody used in the period, and deleted outcomes still set on activities."""
    if not data.has_activities:
        return None
    rows = unused_and_deleted(data.data, data.selection)
    unused = rows[rows["state"] == "unused"]
    deleted = rows[rows["state"] == "deleted"]
    parts = ["<h3>Never used in this period</h3>"]
    if len(unused):
        listing = unused.groupby("organization", sort=False)["outcome_name"].agg(
            lambda names: ", ".join(sorted(map(str, names), key=str.casefold)))
        table = pd.DataFrame({"Organization": listing.index,
                              "Never used": unused.groupby("organization", sort=False).size()
                              .reindex(listing.index).to_numpy(), "Outcomes": listing.to_numpy()})
        parts.append(table_html(table, uid="unused"))
    else:
        parts.append(_empty("Every outcome was used at least once."))
    parts.append("<h3>Deleted, still on activities</h3>")
    if len(deleted):
        table = pd.DataFrame({"Organization": deleted["organization"].to_numpy(),
                              "Deleted outcome id": deleted["outcome_id"].astype(object).to_numpy(),
                              "Activities": deleted["total"].to_numpy(),
                              "Last used": deleted["last_used"].to_numpy()})
        parts.append(table_html(table, uid="deleted", dates=["Last used"]))
    else:
        parts.append(_empty("No activity carries a deleted outcome."))
    intro = ("Outcomes in the catalogue that nobody picked in the period are candidates for clean-up. Close keeps "
             "a deleted outcome's id on the calls and meetings that had it; only the id is left, no name.")
    return Section("unused", "Unused and deleted outcomes", "".join(parts), intro)


def _applies_to_text(outcomes: pd.DataFrame) -> pd.Series:
    """Each outcome's ``applies_to`` values as ``"calls, meetings"``."""
    flags = [c for c in outcomes.columns if c.startswith("applies_to_")]
    if "applies_to" in outcomes.columns or not flags:
        return pd.Series("", index=outcomes.index)
    values = outcomes[flags].fillna(False).astype(bool).to_numpy()
    names = [c.removeprefix("applies_to_") for c in flags]
    return pd.Series([", ".join(n for n, on in zip(names, row) if on) for row in values], index=outcomes.index)


def section_catalogue(data: ReportData) -> Section:
    """The outcome catalogue, one collapsible block per organization."""
    outcomes = catalogue_table(data.data, data.selection)
    if "applies_to" in outcomes.columns:  # applies_to="long": one row per value; one per outcome here
        joined = outcomes.groupby("id")["applies_to"].agg(lambda v: ", ".join(sorted(map(str, v.dropna()))))
        outcomes = outcomes.drop_duplicates("id")
        applies = outcomes["id"].map(joined)
    else:
        applies = _applies_to_text(outcomes)
    ids = outcomes["organization_id"].astype(object).map(str)
    labels = dict(zip(data.data.organizations["organization_id"], data.data.organizations["label"]))
    organization = ids.map(labels)
    used = None
    if data.has_activities:
        usage = usage_table(data.data, data.selection)
        usage = usage[usage["outcome_id"].notna()]
        used = pd.Series(usage["total"].to_numpy(), index=pd.MultiIndex.from_arrays(
            [usage["organization_id"].astype(object).map(str), usage["outcome_id"].astype(object)]))
    blocks = []
    for number, label in enumerate(data.organizations):
        keep = (organization == label).to_numpy()
        if not keep.any():
            continue
        mine = outcomes[keep]
        table = pd.DataFrame({"Outcome": mine["name"].astype(object).to_numpy(),
                              "Type": mine["type"].astype(object).to_numpy(),
                              "Applies to": applies[keep].to_numpy()})
        never = 0
        if used is not None:
            key = pd.MultiIndex.from_arrays([ids[keep], mine["id"].astype(object)])
            table["Used in period"] = used.reindex(key).fillna(0).astype("int64").to_numpy()
            never = int((table["Used in period"] == 0).sum())
        table["Created"] = mine["date_created"].to_numpy()
        table["Last changed"] = mine["date_updated"].to_numpy()
        table = table.sort_values("Outcome", key=lambda s: s.map(lambda v: str(v).casefold()), kind="stable")
        note = f", {never} never used in the period" if used is not None else ""
        blocks.append(f"<details><summary>{html.escape(label)}: {len(mine):,} outcomes{note}</summary>"
                      f'{table_html(table, uid=f"cat{number}", dates=["Created", "Last changed"])}</details>')
    body = "\n".join(blocks) if blocks else _empty("No outcomes.")
    return Section("catalogue", "Outcome catalogue", body,
                   "Every outcome each organization has defined; open an organization to see its list.")


#: The report's sections, in order. Each builder takes the ReportData and returns a Section, or None to leave out.
REPORT_SECTIONS: tuple[SectionBuilder, ...] = (
    section_headline,
    section_top_outcomes,
    section_comparison,
    section_trend,
    section_top_users,
    section_unused_deleted,
    section_catalogue,
)


# ----------------------------------------------------------------------------------------------------------------
# The document
# ----------------------------------------------------------------------------------------------------------------


def render_report(outcomes: pd.DataFrame, calls: pd.DataFrame | None = None, meetings: pd.DataFrame | None = None,
                  *, source: str, since: Any = None, until: Any = None, generated_at: dt.datetime | None = None,
                  title: str = "Outcome usage report",
                  sections: Sequence[SectionBuilder] = REPORT_SECTIONS, changes: pd.DataFrame | None = None) -> str:
    """Return the report as one HTML document.

    Parameters
    ----------
    outcomes : pandas.DataFrame
        From :func:`closeframe.load_outcomes`.
    calls, meetings : pandas.DataFrame, optional
        From :func:`closeframe.load_calls` / :func:`closeframe.load_meetings`; without both, the report has the
        catalogue only and says so.
    source : str
        Where the data came from in plain words, shown as is (escaped); must not hold a key.
    since, until : datetime-like, optional
        Report on activities with ``date_created`` in ``[since, until)`` only; the report says which period.
    generated_at : datetime, optional
        Defaults to now (UTC).
    title : str, default "Outcome usage report"
    sections : sequence of callables, default :data:`REPORT_SECTIONS`
        Section builders, in order.
    changes : pandas.DataFrame, optional
        From :func:`closeframe.outcome_changes`: adds a "Catalogue changes" section at the end.

    Returns
    -------
    str
        HTML with every chart inline and no reference to the network.
    """
    data = ReportData(outcomes, calls, meetings, source=source, since=since, until=until,
                      generated_at=generated_at)
    built = [section for section in (build(data) for build in sections) if section is not None]
    if changes is not None:
        from closeframe.views.history_report import changes_section

        built.append(Section("catalogue-changes", "Catalogue changes", changes_section(changes)))
    organizations = len(data.organizations)
    activities = f"{int(data.headline['activities'].sum()):,} calls and meetings, " if data.has_activities else ""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="meta"><strong>Period:</strong> {html.escape(data.period_text())}.</p>',
        f'<p class="meta"><strong>Data:</strong> {html.escape(source)}; {activities}'
        f"{data.outcomes['id'].nunique() if 'id' in data.outcomes else 0:,} outcomes, "
        f"{organizations:,} organization{'s' if organizations != 1 else ''}.</p>",
        f'<p class="meta"><strong>Generated</strong> {html.escape(_day(data.generated_at))} by closeframe '
        f"{html.escape(__version__)}.</p>",
        "<nav><ul>" + "".join(f'<li><a href="#{s.id}">{html.escape(s.title)}</a></li>' for s in built)
        + "</ul></nav>",
    ]
    for section in built:
        parts.append(f'<section id="{html.escape(section.id)}"><h2>{html.escape(section.title)}</h2>')
        if section.intro:
            parts.append(f'<p class="note">{html.escape(section.intro)}</p>')
        parts.append(section.body)
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(outcomes: pd.DataFrame, path: str | Path, calls: pd.DataFrame | None = None,
                 meetings: pd.DataFrame | None = None, *, source: str, **options: Any) -> Path:
    """Write :func:`render_report` to ``path`` (UTF-8) and return the path.

    Parameters
    ----------
    outcomes : pandas.DataFrame
    path : str or Path
        The HTML file; its folder is created.
    calls, meetings : pandas.DataFrame, optional
    source : str
        Where the data came from (no key).
    **options
        Passed to :func:`render_report`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(outcomes, calls, meetings, source=source, **options), encoding="utf-8")
    return path
