"""A self-contained HTML report on outcome usage: how often each outcome is logged on calls and meetings, per org.

It leads with usage (headline figures per organization, top outcomes, the same outcome across organizations, trend,
top users, unused and deleted outcomes) and ends with the outcome catalogue, one collapsible block per
organization. Tables are pandas ``Styler`` tables (numbers right-aligned and formatted, shares as percentages,
dates without minutes); charts are inline SVG whose text stays text, so the reader's fonts draw CJK names (see
:mod:`closeframe.svgcharts`). Nothing is fetched from the network (no scripts, fonts, styles or images by URL), so
the file opens the same offline, attached to an e-mail or archived. It says where the data came from in plain
words, never with a key or a local server's address.

The report is a list of section builders (:data:`REPORT_SECTIONS`): each takes the :class:`ReportData` and returns
a :class:`Section` or ``None`` (nothing to say). Add a section by passing ``sections=[*REPORT_SECTIONS, mine]``.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from closeframe import __version__
from closeframe.svgcharts import bar_chart, line_chart
from closeframe.usage import compare_outcomes, outcome_usage, period_start, usage_events

__all__ = ["REPORT_SECTIONS", "ReportData", "Section", "render_report", "write_report"]

#: Outcomes listed per organization in "Top outcomes"; the catalogue at the end has them all.
TOP_OUTCOMES = 10
#: Users listed per organization before the rest are summed up as "Others".
TOP_USERS = 5
#: Outcome names compared across organizations.
COMPARED_OUTCOMES = 20
#: Organizations drawn as lines in the trend chart (the largest); the table has every one.
TREND_LINES = 6
NO_OUTCOME = "(no outcome)"

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


def _labels(frame: pd.DataFrame) -> pd.Series:
    """Each row's organization as plain text: its name where known, else its id."""
    ids = frame["organization_id"].astype(object).map(lambda v: "" if pd.isna(v) else str(v))
    if "organization_name" not in frame.columns:
        return ids
    names = frame["organization_name"].astype(object)
    return names.where(names.notna(), ids).map(str)


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
    """What a report is about: the frames, the period, where they came from, when.

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
        Defaults to now (UTC).
    """

    outcomes: pd.DataFrame
    calls: pd.DataFrame | None = None
    meetings: pd.DataFrame | None = None
    source: str = ""
    since: Any = None
    until: Any = None
    generated_at: dt.datetime | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.since, self.until = _utc(self.since), _utc(self.until)
        self.generated_at = _utc(self.generated_at if self.generated_at is not None
                                 else pd.Timestamp.now(tz="UTC"))

    @property
    def has_activities(self) -> bool:
        """Calls or meetings were loaded (an empty frame counts: it says there were none)."""
        return self.calls is not None or self.meetings is not None

    def _in_period(self, frame: pd.DataFrame | None) -> pd.DataFrame | None:
        if frame is None:
            return None
        keep = pd.Series(True, index=frame.index)
        if self.since is not None:
            keep &= frame["date_created"] >= self.since
        if self.until is not None:
            keep &= frame["date_created"] < self.until
        return frame[keep.to_numpy()]

    @cached_property
    def events(self) -> pd.DataFrame:
        """One row per call or meeting of the period, with its outcome and an ``organization`` label column."""
        events = usage_events(self.outcomes, self._in_period(self.calls), self._in_period(self.meetings))
        events["organization"] = _labels(events).to_numpy()
        return events

    @cached_property
    def usage(self) -> pd.DataFrame:
        """:func:`closeframe.outcome_usage` of the period, with ``organization`` and ``share_of_outcomes``."""
        usage = outcome_usage(self.outcomes, self._in_period(self.calls), self._in_period(self.meetings))
        usage["organization"] = _labels(usage).to_numpy()
        named = usage["outcome_id"].notna()
        with_outcome = usage["total"].where(named, 0).groupby(usage["organization"]).transform("sum")
        usage["share_of_outcomes"] = np.divide(usage["total"].to_numpy(dtype=float),
                                               with_outcome.to_numpy(dtype=float), out=np.zeros(len(usage)),
                                               where=(with_outcome.to_numpy() > 0) & named.to_numpy())
        return usage

    @cached_property
    def organizations(self) -> list[str]:
        """Organization labels, most activities first, then the ones without activities, by name."""
        counts = self.events["organization"].value_counts()
        everyone = set(_labels(self.outcomes)) | set(counts.index)
        return sorted(everyone, key=lambda org: (-int(counts.get(org, 0)), org.casefold()))

    @cached_property
    def covered(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """The period the report covers: the bounds asked for, else the first and last activity loaded."""
        dates = self.events["date_created"].dropna()
        first = self.since if self.since is not None else (dates.min() if len(dates) else None)
        last = self.until if self.until is not None else (dates.max() if len(dates) else None)
        return first, last

    def period_text(self) -> str:
        """The period in words, e.g. ``"1 Jan 2026 to 31 Mar 2026 (as asked)"``."""
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


def headline_table(data: ReportData) -> pd.DataFrame:
    """Per organization: activities, calls, meetings, share with an outcome, outcomes used / never used, deleted
    outcomes still on activities, users; an "All organizations" row last."""
    events, usage = data.events, data.usage
    by_org = events.groupby("organization", sort=False)
    per_org = pd.DataFrame({
        "Activities": by_org.size(),
        "Calls": by_org["activity"].apply(lambda s: int((s == "call").sum())),
        "Meetings": by_org["activity"].apply(lambda s: int((s == "meeting").sum())),
        "With an outcome": by_org["outcome_id"].apply(lambda s: float(s.notna().mean()) if len(s) else 0.0),
        "Users": by_org["user_id"].nunique(),
    })
    live = usage[usage["outcome_id"].notna() & ~usage["deleted"]]
    deleted = usage[usage["deleted"] & (usage["total"] > 0)]
    catalogue = live.groupby("organization").size()
    used = live[live["total"] > 0].groupby("organization").size()
    table = pd.DataFrame(index=pd.Index(data.organizations, name="Organization"))
    table = table.join(per_org).fillna({"Activities": 0, "Calls": 0, "Meetings": 0, "Users": 0})
    table["Outcomes"] = catalogue.reindex(table.index).fillna(0)
    table["Used"] = used.reindex(table.index).fillna(0)
    table["Never used"] = table["Outcomes"] - table["Used"]
    table["Deleted, still on activities"] = deleted.groupby("organization").size().reindex(table.index).fillna(0)
    table["Activities on deleted outcomes"] = deleted.groupby("organization")["total"].sum().reindex(
        table.index).fillna(0)
    counts = [c for c in table.columns if c != "With an outcome"]
    table[counts] = table[counts].astype("int64")
    table = table.reset_index()
    if len(table) > 1:
        total = {c: int(table[c].sum()) for c in counts}
        total["Users"] = int(events["user_id"].nunique())
        total["With an outcome"] = float(events["outcome_id"].notna().mean()) if len(events) else np.nan
        table.loc[len(table)] = {"Organization": "All organizations", **total}
    return table[["Organization", "Activities", "Calls", "Meetings", "With an outcome", "Outcomes", "Used",
                  "Never used", "Deleted, still on activities", "Activities on deleted outcomes", "Users"]]


def section_headline(data: ReportData) -> Section:
    """Headline figures per organization."""
    if not data.has_activities:
        body = _empty("No calls or meetings were loaded, so there is nothing to say about usage yet; the outcome "
                      "catalogue is below. Load activities (closeframe report does) to see how outcomes are used.")
        return Section("summary", "Usage at a glance", body)
    table = headline_table(data)
    chart = bar_chart(table["Organization"][: len(data.organizations)],
                      table["With an outcome"][: len(data.organizations)].fillna(0),
                      title="Share of calls and meetings with an outcome, per organization",
                      xlabel="share of calls and meetings with an outcome", percent=True)
    body = f'{table_html(table, uid="summary", percents=["With an outcome"])}<div class="chart">{chart}</div>'
    intro = ("Each organization's calls and meetings in the period: how many carry an outcome, how many of its "
             "outcomes people used, which were never picked, and outcomes deleted from the catalogue that are "
             "still set on activities.")
    return Section("summary", "Usage at a glance", body, intro)


def top_outcomes_table(data: ReportData, organization: str, n: int = TOP_OUTCOMES) -> pd.DataFrame:
    """An organization's most used outcomes: calls, meetings, total, share of its activities with an outcome."""
    rows = data.usage[(data.usage["organization"] == organization) & data.usage["outcome_id"].notna()
                      & (data.usage["total"] > 0)]
    rows = rows.sort_values(["total", "outcome_name"], ascending=[False, True], kind="stable").head(n)
    names = rows["outcome_name"].astype(object).where(rows["outcome_name"].notna(),
                                                      "deleted outcome " + rows["outcome_id"].astype(object))
    return pd.DataFrame({"Outcome": names.to_numpy(), "Calls": rows["calls"].to_numpy(),
                         "Meetings": rows["meetings"].to_numpy(), "Total": rows["total"].to_numpy(),
                         "Share": rows["share_of_outcomes"].to_numpy()})


def section_top_outcomes(data: ReportData) -> Section | None:
    """Top outcomes of each organization, a table beside its chart."""
    if not data.has_activities:
        return None
    blocks = []
    for number, organization in enumerate(data.organizations):
        table = top_outcomes_table(data, organization)
        heading = f"<h3>{html.escape(organization)}</h3>"
        if table.empty:
            blocks.append(f'<div class="card">{heading}{_empty("No outcome was set in this period.")}</div>')
            continue
        chart = bar_chart(table["Outcome"], table["Total"], title=f"Most used outcomes of {organization}",
                          xlabel="calls and meetings")
        blocks.append(f'<div class="card">{heading}<div class="pair"><div>'
                      f'{table_html(table, uid=f"top{number}", percents=["Share"])}</div><div>{chart}</div>'
                      "</div></div>")
    intro = (f"The {TOP_OUTCOMES} outcomes each organization logs most. Share: of that organization's calls and "
             "meetings that have an outcome.")
    return Section("top-outcomes", "Top outcomes per organization", "\n".join(blocks), intro)


def comparison_table(data: ReportData, n: int = COMPARED_OUTCOMES) -> pd.DataFrame:
    """Outcome names found in two or more organizations: each organization's share, and the total count."""
    usage = data.usage.assign(share=data.usage["share_of_outcomes"])
    shares = compare_outcomes(usage, value="share", min_organizations=2)
    totals = compare_outcomes(usage, value="total", min_organizations=2)
    if shares.empty:
        return pd.DataFrame()
    organizations = [c for c in shares.columns if c not in ("outcome_name", "organizations")]
    organizations = [o for o in data.organizations if o in organizations]
    table = pd.DataFrame({"Outcome": shares["outcome_name"].astype(object),
                          "Organizations": shares["organizations"],
                          "Total": totals[organizations].sum(axis=1).astype("int64")})
    for organization in organizations:
        table[organization] = shares[organization].astype(float)
    return table.head(n).reset_index(drop=True)


def section_comparison(data: ReportData) -> Section | None:
    """The same outcome side by side across organizations."""
    if not data.has_activities or len(data.organizations) < 2:
        return None
    table = comparison_table(data)
    if table.empty:
        body = _empty("No outcome name is shared by two organizations.")
    else:
        percents = list(table.columns[3:])
        body = table_html(table, uid="compare", percents=percents)
    intro = ("Outcomes with the same name in several organizations (matched ignoring case, emoji and spacing), "
             "with each organization's share of its calls and meetings that have an outcome. Empty: that "
             "organization has no such outcome; 0%: it has one but nobody used it in the period.")
    return Section("compare", "The same outcome across organizations", body, intro)


def _trend_frequency(first: pd.Timestamp | None, last: pd.Timestamp | None) -> tuple[str, str]:
    if first is None or last is None or last - first > pd.Timedelta(days=120):
        return "M", "month"
    return "W", "week"


def trend_table(data: ReportData) -> tuple[pd.DataFrame, pd.Series, str, int]:
    """Activities per period and organization (columns), whether each period is partial, the period's name,
    and how many activities were left out for lying in the future (upcoming meetings)."""
    events = data.events
    now = data.generated_at
    future = events["date_created"] > now
    events = events[~future.to_numpy()]
    first, last = data.covered
    freq, noun = _trend_frequency(first, min(last, now) if last is not None else None)
    if events.empty:
        return pd.DataFrame(), pd.Series(dtype=bool), noun, int(future.sum())
    periods = period_start(events["date_created"], freq)
    table = events.groupby([periods.rename("period"), "organization"]).size().unstack(fill_value=0)
    span = pd.period_range(periods.min().tz_localize(None), periods.max().tz_localize(None), freq=freq)
    index = span.start_time.tz_localize("UTC").as_unit("us")
    table = table.reindex(index, fill_value=0)
    ends = span.end_time.tz_localize("UTC")
    start_bound = first if first is not None else periods.min()
    end_bound = min(last, now) if last is not None else now
    partial = pd.Series((table.index < start_bound) | (ends > end_bound), index=table.index)
    order = [o for o in data.organizations if o in table.columns]
    return table[order], partial, noun, int(future.sum())


def section_trend(data: ReportData) -> Section | None:
    """Activities per month (or week) and organization."""
    if not data.has_activities:
        return None
    table, partial, noun, future = trend_table(data)
    if table.empty:
        return Section("trend", "Trend", _empty("No activities in this period."))
    shown = table[table.columns[:TREND_LINES]]
    chart = line_chart(shown, title=f"Calls and meetings per {noun}, per organization", ylabel=f"per {noun}",
                       partial=partial.to_numpy(), width_px=560, height_px=300)
    listing = table.copy()
    listing.insert(0, noun.capitalize(), [(f"{p:%b %Y}" if noun == "month" else f"week of {_day(p)}")
                                          + (" (partial)" if flag else "")
                                          for p, flag in zip(table.index, partial)])
    listing["All"] = table.sum(axis=1)
    intro = (f"Calls and meetings logged per {noun}. A {noun} only partly inside the period is marked partial "
             "(hollow points, dotted line): its count is not comparable with full ones.")
    if len(table.columns) > TREND_LINES:
        intro += f" The chart draws the {TREND_LINES} organizations with the most activities; the table has all."
    if future:
        intro += f" {future:,} meetings scheduled after the report was generated are left out."
    body = (f'<div class="pair"><div>{table_html(listing.iloc[::-1], uid="trend")}</div>'
            f"<div>{chart}</div></div>")
    return Section("trend", "Trend", body, intro)


def top_users_table(data: ReportData, organization: str, n: int = TOP_USERS) -> pd.DataFrame:
    """An organization's most active users, then "Others": activities, share with an outcome, top outcome."""
    events = data.events[data.events["organization"] == organization]
    if events.empty:
        return pd.DataFrame()
    user = events["user_name"].astype(object).where(events["user_name"].notna(), events["user_id"].astype(object))
    user = user.where(user.notna(), "(no user: e.g. inbound voicemail)")
    counts = user.value_counts()
    top = list(counts.index[:n])
    group = user.where(user.isin(top), f"Others ({len(counts) - len(top)} users)" if len(counts) > n else None)
    rows = []
    for name in top + ([group[~user.isin(top)].iloc[0]] if len(counts) > n else []):
        mine = events[(group == name).to_numpy()]
        named = mine["outcome_name"].dropna()
        favourite = named.value_counts()
        rows.append({"User": name, "Activities": len(mine), "With an outcome": float(mine["outcome_id"].notna().mean()),
                     "Most used outcome": (f"{favourite.index[0]} ({favourite.iloc[0]:,})" if len(favourite)
                                           else "")})
    return pd.DataFrame(rows)


def section_top_users(data: ReportData) -> Section | None:
    """Who logs the most calls and meetings, and how often they set an outcome."""
    if not data.has_activities:
        return None
    blocks = []
    for number, organization in enumerate(data.organizations):
        table = top_users_table(data, organization)
        if table.empty:
            continue
        blocks.append(f'<div class="card"><h3>{html.escape(organization)}</h3>'
                      f'{table_html(table, uid=f"users{number}", percents=["With an outcome"])}</div>')
    if not blocks:
        return None
    intro = f"The {TOP_USERS} users with the most calls and meetings in each organization, the rest summed up."
    return Section("users", "Top users", f'<div class="grid">{"".join(blocks)}</div>', intro)


def section_unused_deleted(data: ReportData) -> Section | None:
    """Outcomes nobody used in the period, and deleted outcomes still set on activities."""
    if not data.has_activities:
        return None
    usage = data.usage
    unused = usage[usage["outcome_id"].notna() & ~usage["deleted"] & (usage["total"] == 0)]
    deleted = usage[usage["deleted"] & (usage["total"] > 0)]
    parts = []
    if len(unused):
        listing = unused.groupby("organization", sort=False)["outcome_name"].agg(
            lambda names: ", ".join(sorted(map(str, names), key=str.casefold)))
        table = pd.DataFrame({"Organization": listing.index, "Never used": unused.groupby(
            "organization", sort=False).size().reindex(listing.index).to_numpy(), "Outcomes": listing.to_numpy()})
        order = {o: i for i, o in enumerate(data.organizations)}
        parts.append("<h3>Never used in this period</h3>" + table_html(
            table.sort_values("Organization", key=lambda s: s.map(order)), uid="unused"))
    else:
        parts.append("<h3>Never used in this period</h3>" + _empty("Every outcome was used at least once."))
    if len(deleted):
        table = pd.DataFrame({"Organization": deleted["organization"].to_numpy(),
                              "Deleted outcome id": deleted["outcome_id"].astype(object).to_numpy(),
                              "Calls": deleted["calls"].to_numpy(), "Meetings": deleted["meetings"].to_numpy(),
                              "Last used": deleted["last_used"].to_numpy()})
        parts.append("<h3>Deleted, still on activities</h3>" + table_html(table, uid="deleted",
                                                                           dates=["Last used"]))
    else:
        parts.append("<h3>Deleted, still on activities</h3>" + _empty("No activity carries a deleted outcome."))
    intro = ("Outcomes in the catalogue that nobody picked in the period are candidates for clean-up. Close keeps "
             "a deleted outcome's id on the calls and meetings that had it; only the id is left, no name.")
    return Section("unused", "Unused and deleted outcomes", "".join(parts), intro)


def section_catalogue(data: ReportData) -> Section:
    """The outcome catalogue, one collapsible block per organization."""
    outcomes = data.outcomes
    if "applies_to" in outcomes.columns:  # applies_to="long": one row per value; one per outcome here
        applies = outcomes.groupby("id")["applies_to"].agg(lambda v: ", ".join(sorted(map(str, v.dropna()))))
        outcomes = outcomes.drop_duplicates("id").assign(applies=lambda f: f["id"].map(applies))
    else:
        flags = [c for c in outcomes.columns if c.startswith("applies_to_")]
        values = outcomes[flags].fillna(False).astype(bool).to_numpy() if flags else np.zeros((len(outcomes), 0))
        names = [c.removeprefix("applies_to_") for c in flags]
        outcomes = outcomes.assign(applies=[", ".join(n for n, on in zip(names, row) if on) for row in values])
    outcomes = outcomes.assign(organization=_labels(outcomes).to_numpy())
    used = None
    if data.has_activities:
        used = data.usage.set_index(data.usage["outcome_id"].astype(object))["total"]
        used = used[used.index.notna()]
        used = used[~used.index.duplicated()]
    blocks = []
    order = [o for o in data.organizations if o in set(outcomes["organization"])]
    for number, organization in enumerate(order):
        mine = outcomes[outcomes["organization"] == organization].sort_values(
            "name", key=lambda s: s.astype(object).map(lambda v: str(v).casefold()))
        table = pd.DataFrame({"Outcome": mine["name"].astype(object).to_numpy(),
                              "Type": mine["type"].astype(object).to_numpy(),
                              "Applies to": mine["applies"].to_numpy()})
        if used is not None:
            table["Used in period"] = mine["id"].astype(object).map(used).fillna(0).astype("int64").to_numpy()
        table["Created"] = mine["date_created"].to_numpy()
        table["Last changed"] = mine["date_updated"].to_numpy()
        never = int((table["Used in period"] == 0).sum()) if used is not None else 0
        note = f", {never} never used in the period" if used is not None else ""
        blocks.append(f"<details><summary>{html.escape(organization)}: {len(mine):,} outcomes{note}</summary>"
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
                  sections: Sequence[SectionBuilder] = REPORT_SECTIONS) -> str:
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

    Returns
    -------
    str
        HTML with every chart inline and no reference to the network.
    """
    data = ReportData(outcomes, calls, meetings, source=source, since=since, until=until,
                      generated_at=generated_at)
    built = [section for section in (build(data) for build in sections) if section is not None]
    organizations = len(data.organizations)
    activities = f"{len(data.events):,} calls and meetings, " if data.has_activities else ""
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
