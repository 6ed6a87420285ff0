"""The sections of the HTML report, in order (:data:`REPORT_SECTIONS`): each a function of the report's data.

Headline figures; each organization's own top outcomes over time; this period against the one before; the same
outcome across organizations; one block per organization (its top outcomes, the two periods outcome by outcome,
its counts per period, who logs which outcome); unused and deleted outcomes; the catalogue. Every number comes
from :mod:`closeframe.usage` through :class:`~closeframe.views.reportdata.ReportData`; a section only lays it out
(:mod:`closeframe.views.reporttables`, :mod:`closeframe.views.reportcharts`) and says how many rows are not shown
and where they are.
"""

from __future__ import annotations

import html
from typing import Sequence

import numpy as np
import pandas as pd

from closeframe.errors import ConfigurationError
from closeframe.usage.questions import DELETED_OUTCOME_LABEL, EMPTY, format_share, period_label, users_matrix
from closeframe.usage.selection import (
    NO_OUTCOME,
    OTHER_OUTCOMES,
    catalogue_table,
    compare_table,
    headline_table,
    top_outcomes,
    unused_and_deleted,
    usage_table,
)
from closeframe.views.reportcharts import trend_panel
from closeframe.views.reportdata import TOP_N, Answer, ReportData, Section, SectionBuilder, _plural
from closeframe.views.reporttables import table_html
from closeframe.views.style import OKABE_ITO

__all__ = ["OPEN_ORGANIZATIONS", "REPORT_SECTIONS", "TOP_USERS", "section_catalogue", "section_comparison",
           "section_headline", "section_organizations", "section_over_time", "section_periods",
           "section_unused_deleted"]

#: Users shown per organization in "who logs which outcome"; the others follow in a block that opens (and prints).
TOP_USERS = 10
#: With more organizations, only the busiest this many are open in "Each organization" (all are open in print).
OPEN_ORGANIZATIONS = 6


def _empty(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _more(text: str) -> str:
    return f'<p class="more">{text}</p>'


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
    body = table_html(table, uid="summary-table", percents=["With an outcome"], stack=True, total_last=len(table) > 1,
                      links={"Organization": lambda o: f"#{data.anchors[o]}" if o in data.anchors else None})
    intro = ("Each organization's calls and meetings in the period: how many carry an outcome, how many of its "
             "outcomes people used, which were never picked, and outcomes deleted from the catalogue that are "
             f"still set on activities. {EMPTY} means there is nothing to divide by (no activity).")
    return Section("summary", "Usage at a glance", body, intro)


def section_comparison(data: ReportData) -> Section | None:
    """Outcome names shared by organizations, side by side: every one, none cut."""
    if not data.has_activities or len(data.organizations) < 2:
        return None
    shares = compare_table(data.data, data.selection, value="share", min_organizations=2)
    if shares.empty:
        body = _empty("No outcome name is shared by two organizations.")
    else:
        totals = compare_table(data.data, data.selection, value="total", min_organizations=2)
        organizations = [o for o in data.organizations if o in shares.columns]
        table = pd.DataFrame({"Outcome": shares["outcome_name"].astype(object).to_numpy(),
                              "Organizations": shares["organizations"].to_numpy(),
                              "Total": totals[organizations].sum(axis=1).astype("int64").to_numpy()})
        for organization in organizations:
            table[organization] = shares[organization].astype(float).to_numpy()
        body = table_html(table, uid="compare-table", percents=organizations, heat=organizations,
                          wide=True)
    intro = (f"Every outcome name used in two or more organizations (matched ignoring case, emoji and spacing), "
             f"with its share of each organization's calls and meetings; the darker, the larger. {EMPTY}: "
             "that organization has no outcome of that name; 0.0%: it has one, but nobody used it in the period.")
    return Section("compare", "The same outcome across organizations", body, intro)


def _whole(periods: pd.Series, partial: pd.Series) -> list:
    """The periods, oldest first, that no organization has only in part."""
    flags = partial.groupby(periods.to_numpy()).any()
    return [p for p in flags.index if not flags[p]]


def _legend(names: Sequence[str]) -> str:
    """An HTML legend (names whole, wrapped) under a panel: a swatch of each line's colour."""
    items = "".join(f'<li><span style="background: {OKABE_ITO[i % len(OKABE_ITO)]}"></span>{html.escape(str(n))}'
                    "</li>" for i, n in enumerate(names))
    return f'<ul class="legend">{items}</ul>'


def section_over_time(data: ReportData) -> Section | None:
    """Each organization's own top outcomes per month (or week): small multiples on one y scale."""
    if not data.has_activities:
        return None
    answer = data.trends
    trends = answer.frame
    word = answer.attrs.get("freq_word", "period")
    if trends.empty:
        return Section("over-time", "Top outcomes over time", _empty("No activities in this period."))
    named = trends[trends["rank"] <= TOP_N]
    whole = _whole(trends["period"], trends["partial"])
    drawn = named[named["period"].isin(whole)]
    y_max = float(drawn["total"].max()) if len(drawn) else 1.0
    labels = [period_label(p, data.freq) for p in whole]
    panels = []
    for organization in data.organizations:
        mine = drawn[drawn["organization"] == organization]
        if mine.empty:
            continue
        lines = mine.pivot_table(index="period", columns="outcome", values="total", aggfunc="sum", observed=True)
        lines = lines.reindex(whole).fillna(0)
        outcomes = list(mine.sort_values("rank", kind="stable")["outcome"].drop_duplicates())
        series = [(o, lines[o].to_numpy(), OKABE_ITO[i % len(OKABE_ITO)]) for i, o in enumerate(outcomes)]
        chart = trend_panel(labels, series, title=organization, y_max=y_max)
        panels.append(f'<figure class="panel"><a href="#{data.anchors[organization]}">{chart}</a>'
                      f"{_legend(outcomes)}</figure>")
    parts = [f'<div class="grid">{"".join(panels)}</div>']
    cut = sorted(set(trends.loc[trends["partial"], "period"]))
    intro = (f"Each organization's own {TOP_N} most used outcomes in the period, one line each, per {word}; every "
             "panel has the same scale, so heights compare across organizations. The numbers, with shares, are "
             "in each organization's block below.")
    if cut:
        intro += (f" Not drawn, because the data covers them only in part: "
                  f"{', '.join(period_label(p, data.freq) for p in cut)} (listed in the tables, marked partial).")
    return Section("over-time", "Top outcomes over time", "".join(parts), intro)


def _trend_table(data: ReportData, organization: str, number: int) -> str:
    """One organization's counts per period and outcome (shares under them), newest first, in a block that opens."""
    trends = data.trends
    mine = trends.of(organization)
    if mine.empty:
        return ""
    column = trends.attrs.get("share_column", "share")
    # One row per (period, outcome): laid out with numpy, newest period first (pivot_table took 0.1 s a panel).
    periods, period_code = np.unique(mine["period"].to_numpy(), return_inverse=True)
    ranks = mine["rank"].to_numpy()
    outcomes = list(dict(sorted(zip(ranks, mine["outcome"]))).values())
    outcome_code = pd.Index(outcomes).get_indexer(mine["outcome"])
    counts = np.zeros((len(periods), len(outcomes)), dtype=np.int64)
    shares = np.full((len(periods), len(outcomes)), np.nan)
    counts[period_code, outcome_code] = mine["total"].to_numpy()
    shares[period_code, outcome_code] = mine[column].to_numpy(dtype=float)
    partial = np.zeros(len(periods), dtype=bool)
    np.logical_or.at(partial, period_code, mine["partial"].to_numpy(dtype=bool))
    newest = slice(None, None, -1)
    table = pd.DataFrame({data.freq_word.capitalize(): [period_label(p, data.freq) + (" (partial)" if part else "")
                                                        for p, part in zip(periods[newest], partial[newest])]})
    for i, outcome in enumerate(outcomes):
        table[outcome] = counts[newest, i]
    table["All"] = counts[newest].sum(axis=1)
    below = {o: [format_share(v) for v in shares[newest, i]] for i, o in enumerate(outcomes)}
    listed = table_html(table, uid=f"trend-{number}", below=below, wide=True)
    return (f"<details><summary>Per {data.freq_word}: counts, and under each its share of all calls and meetings "
            f"({_plural(len(periods), data.freq_word)})</summary>{listed}</details>")


def _period_heads(data: ReportData) -> tuple[str, str, str]:
    """The two periods' names (``"Sep 2026"``) and a sentence saying which they are, partial ones marked."""
    periods = data.periods
    labels, attrs = periods.attrs["labels"], periods.attrs
    before = labels["previous"] + (" (partial)" if attrs["previous_partial"] else "")
    now = labels["current"] + (" (partial)" if attrs["current_partial"] else "")
    return before, now, f"{now} against {before}"


def section_periods(data: ReportData) -> Section | None:
    """This period against the one before, per organization: activities, share with an outcome, change."""
    if not data.has_activities:
        return None
    try:
        periods = data.periods
    except ConfigurationError as exc:
        return Section("periods", "This period against the one before", _empty(str(exc)))
    before, now, title = _period_heads(data)
    heads = {name: headline_table(data.data, data.selection.replace(since=since, until=until))
             for name, (since, until) in (("previous", periods.attrs["previous"]),
                                          ("current", periods.attrs["current"]))}
    orgs = [o for o in data.organizations if o in heads["current"].index]
    table = pd.DataFrame({"Organization": orgs})
    for name, label in (("previous", before), ("current", now)):
        table[label] = heads[name]["activities"].reindex(orgs).to_numpy()
    table["Change"] = table[now] - table[before]
    for name, label in (("previous", before), ("current", now)):
        table[f"With an outcome, {label}"] = heads[name]["share_with_outcome"].reindex(orgs).to_numpy()
    table["Change (points)"] = table[f"With an outcome, {now}"] - table[f"With an outcome, {before}"]
    body = table_html(table, uid="periods-table", changes=["Change"], points=["Change (points)"],
                      percents=[f"With an outcome, {before}", f"With an outcome, {now}"], stack=True,
                      links={"Organization": lambda o: f"#{data.anchors[o]}"})
    intro = (f"{title}: each organization's calls and meetings, and the share that carries an outcome. Each "
             f"organization's block below has the same comparison outcome by outcome. {EMPTY}: no activity to "
             "divide by; pp: percentage points.")
    return Section("periods", f"This period against the one before: {title}", body, intro)


def _top_outcomes_block(data: ReportData, rows: pd.DataFrame, used: int, number: int) -> str:
    """One organization's top outcomes in the whole period (counts and shares), and how many more."""
    if rows.empty:
        return _empty("No outcome was set in this period.")
    table = pd.DataFrame({"Outcome": rows["outcome_name"].astype(object).fillna(DELETED_OUTCOME_LABEL).to_numpy(),
                          "Calls": rows["calls"].to_numpy(), "Meetings": rows["meetings"].to_numpy(),
                          "Total": rows["total"].to_numpy(), "Share": rows["share"].to_numpy()})
    more = ""
    if used > len(rows):
        more = _more(f"{_plural(used - len(rows), 'more outcome')} used in the period: the "
                     f'<a href="#catalogue-{number}">outcome catalogue</a> lists every one with its count.')
    return table_html(table, uid=f"top-{number}", percents=["Share"]) + more


def _compare_block(data: ReportData, organization: str, number: int) -> str:
    """One organization's outcomes in the two periods: its top N, then every other one in a block that opens."""
    periods = data.periods
    mine = periods.of(organization)
    if mine.empty:
        return _empty("No activity in either period.")
    before, now, _ = _period_heads(data)
    column = periods.attrs["share_column"]
    table = pd.DataFrame({"Outcome": mine["outcome"].to_numpy(), before: mine["previous"].to_numpy(),
                          now: mine["current"].to_numpy(), "Change": mine["change"].to_numpy(),
                          f"Share, {before}": mine[f"{column}_previous"].to_numpy(),
                          f"Share, {now}": mine[f"{column}_current"].to_numpy(),
                          "Change (pp)": mine[f"{column}_change"].to_numpy()})
    kinds = dict(changes=["Change"], points=["Change (pp)"], percents=[f"Share, {before}", f"Share, {now}"],
                 stack=True)
    named = ~table["Outcome"].str.startswith("(")
    first = table[named].head(TOP_N)
    rest = table.drop(first.index)
    parts = [table_html(first, uid=f"periods-{number}", **kinds)]
    if len(rest):
        parts.append(f"<details><summary>{_plural(len(rest), 'more row')} (every other outcome, deleted ones and "
                     f"activities without an outcome)</summary>"
                     f"{table_html(rest, uid=f'periods-rest-{number}', **kinds)}</details>")
    return "".join(parts)


def _users_block(users: Answer, organization: str, number: int) -> str:
    """Who logs which outcome: users x the organization's top outcomes, counts coloured by the user's share."""
    mine = users.of(organization)
    counts = users_matrix(mine, organization, "total")
    if counts.empty:
        return ""
    shares = users_matrix(mine, organization, "share_of_user")
    outcomes = [c for c in counts.columns if c != "total"]
    table = pd.DataFrame({"User": [str(u).removesuffix(f" ({organization})") for u in counts.index]})
    for outcome in outcomes:
        table[outcome] = counts[outcome].fillna(0).astype("int64").to_numpy()
    table["All"] = counts["total"].astype("int64").to_numpy()
    share_of = {o: shares[o].to_numpy(dtype=float) for o in outcomes}
    below = {o: [format_share(v) for v in share_of[o]] for o in outcomes}
    # Only the named outcomes are coloured: the two groups would set the scale and wash the names out.
    named = [o for o in outcomes if o not in (OTHER_OUTCOMES, NO_OUTCOME)]

    def part(rows: slice, uid: str) -> str:
        return table_html(table.iloc[rows], uid=uid, heat={o: share_of[o][rows] for o in named},
                          below={o: below[o][rows] for o in outcomes}, wide=True)

    parts = [part(slice(0, TOP_USERS), f"users-{number}")]
    if len(table) > TOP_USERS:
        parts.append(f"<details><summary>{_plural(len(table) - TOP_USERS, 'more user')}</summary>"
                     f"{part(slice(TOP_USERS, None), f'users-rest-{number}')}</details>")
    return "".join(parts)


def section_organizations(data: ReportData) -> Section | None:
    """One block per organization: its top outcomes, this period against the one before, who logs which outcome."""
    if not data.has_activities:
        return None
    top = top_outcomes(data.data, data.selection, n=TOP_N)
    # The outcomes used: the catalogue's and deleted ones still on activities (top_outcomes ranks both).
    used_per_org = data.headline["outcomes_used"] + data.headline["deleted_in_use"]
    users = data.users
    try:
        _, _, title = _period_heads(data)
    except ConfigurationError:
        title = None
    activities = data.headline["activities"].sort_values(ascending=False, kind="stable")
    busiest = set(activities.index[:OPEN_ORGANIZATIONS] if len(activities) > OPEN_ORGANIZATIONS else activities.index)
    blocks = []
    for number, organization in enumerate(data.organizations, 1):
        head = data.headline.loc[organization]
        summary = (f"{_plural(int(head['activities']), 'call or meeting', 'calls and meetings')} in the period, "
                   f"{format_share(head['share_with_outcome'])} with an outcome")
        compare = f"<h4>{html.escape(title)}</h4>{_compare_block(data, organization, number)}" if title else ""
        users_html = _users_block(users, organization, number)
        opened = " open" if organization in busiest else ""
        blocks.append(
            f'<details class="organization"{opened}><summary><h3>{html.escape(organization)}</h3> '
            f'<span class="note">{html.escape(summary)}</span></summary>'
            f'<div id="{data.anchors[organization]}"><a class="top" href="#contents">contents ↑</a>'
            f"<h4>Top {TOP_N} outcomes, whole period</h4>"
            + _top_outcomes_block(data, top[top["organization"] == organization],
                                  int(used_per_org.get(organization, 0)), number)
            + compare
            + _trend_table(data, organization, number)
            + (f"<h4>Who logs which outcome</h4>{users_html}" if users_html else "")
            + "</div></details>")
    folded = len(data.organizations) - len(busiest)
    intro = (f"For each organization: its {TOP_N} most used outcomes, the same outcome by outcome for the two "
             f"periods compared above, and who logs which of them (a count per user and outcome, and under it the "
             "share of that user's calls and meetings; the darker, the larger that share). Share: of all the "
             f"organization's calls and meetings. Nothing is left out: the other outcomes are counted as "
             "(other outcomes), and every longer list is in a block that opens (and prints open).")
    if folded:
        intro += (f" The {len(busiest)} organizations with the most calls and meetings are open; click any other "
                  "(or its name in the contents) to open it.")
    return Section("organizations", "Each organization", "".join(blocks), intro)


def section_unused_deleted(data: ReportData) -> Section | None:
    """Outcomes nobody used in the period, and deleted outcomes still set on activities: every one, listed whole."""
    if not data.has_activities:
        return None
    rows = unused_and_deleted(data.data, data.selection)
    unused = rows[rows["state"] == "unused"]
    deleted = rows[rows["state"] == "deleted"]
    parts = ["<h3>Never used in this period</h3>"]
    if len(unused):
        order = [o for o in data.organizations if o in set(unused["organization"])]
        listing = unused.groupby("organization", sort=False)["outcome_name"].agg(
            lambda names: ", ".join(sorted(map(str, names), key=str.casefold))).reindex(order)
        counts = unused.groupby("organization", sort=False).size().reindex(order)
        table = pd.DataFrame({"Organization": order, "Never used": counts.to_numpy(),
                              "Outcomes": listing.to_numpy()})
        parts.append(table_html(table, uid="unused-table", stack=True))
    else:
        parts.append(_empty("Every outcome was used at least once."))
    parts.append("<h3>Deleted, still on activities</h3>")
    if len(deleted):
        table = pd.DataFrame({"Organization": deleted["organization"].to_numpy(),
                              "Deleted outcome": deleted["outcome_name"].astype(object).fillna(
                                  DELETED_OUTCOME_LABEL).to_numpy(),
                              "Id in Close": deleted["outcome_id"].astype(object).to_numpy(),
                              "Activities": deleted["total"].to_numpy(),
                              "Last used": deleted["last_used"].to_numpy()})
        parts.append(table_html(table, uid="deleted-table", dates=["Last used"], stack=True))
    else:
        parts.append(_empty("No activity carries a deleted outcome."))
    intro = ("Outcomes in the catalogue that nobody picked in the period are candidates for clean-up. Close keeps "
             "a deleted outcome's id on the calls and meetings that had it; its last name is shown where the "
             f"outcome history knows it, else {DELETED_OUTCOME_LABEL}.")
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
    """The outcome catalogue, one collapsible block per organization (open in print)."""
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
    numbers = {label: number for number, label in enumerate(data.data.organizations["label"], 1)}
    numbers.update({label: int(anchor.removeprefix("org-")) for label, anchor in data.anchors.items()})
    for label in data.data.organizations["label"]:
        keep = (organization == label).to_numpy()
        if not keep.any():
            continue
        mine = outcomes[keep]
        table = pd.DataFrame({"Outcome": mine["name"].astype(object).to_numpy(),
                              "Type": mine["type"].astype(object).to_numpy(),
                              "Applies to": applies[keep].to_numpy(),
                              "Created": mine["date_created"].to_numpy()})
        never = 0
        if used is not None:
            key = pd.MultiIndex.from_arrays([ids[keep], mine["id"].astype(object)])
            table.insert(3, "Used in period", used.reindex(key).fillna(0).astype("int64").to_numpy())
            never = int((table["Used in period"] == 0).sum())
        by_name = table["Outcome"].map(lambda v: str(v).casefold())
        order = np.lexsort((by_name.to_numpy(dtype=object),
                            -table["Used in period"].to_numpy() if used is not None else np.zeros(len(table))))
        table = table.iloc[order]
        note = f", {never} never used in the period" if used is not None else ""
        number = numbers[label]
        blocks.append(f'<details id="catalogue-{number}"><summary>{html.escape(label)}: {len(mine):,} outcomes'
                      f"{note}</summary>"
                      f'{table_html(table, uid=f"catalogue-table-{number}", dates=["Created"], stack=True)}</details>')
    body = "\n".join(blocks) if blocks else _empty("No outcomes.")
    return Section("catalogue", "Outcome catalogue", body,
                   "Every outcome each organization has defined, the most used first; open an organization to see "
                   "its list (printed, every list is open).")


#: The report's sections, in order. Each builder takes the ReportData and returns a Section, or None to leave out.
REPORT_SECTIONS: tuple[SectionBuilder, ...] = (
    section_headline,
    section_over_time,
    section_periods,
    section_comparison,
    section_organizations,
    section_unused_deleted,
    section_catalogue,
)
