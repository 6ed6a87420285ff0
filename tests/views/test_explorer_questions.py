"""The explorer's answers to the usage questions: trend per organization, period vs period, users by outcome, the
activities behind a row, downloads, pickers that narrow each other and a report of the picks.

Expectations are counted over the recorded JSON records (tests/fixtures/usage), not taken from the code.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import html
import io
import re
from collections import Counter

import pandas as pd
import pytest

import closeframe as cf
from closeframe.usage.questions import DATE_RULE, DEFAULT_TOP_N
from usage_fixtures import ORGANIZATION_NAMES, frames, records

ALPHA_ID = next(iter(ORGANIZATION_NAMES))
ALPHA, BETA = ORGANIZATION_NAMES.values()


@pytest.fixture(scope="module")
def source():
    return frames()


@pytest.fixture()
def explorer(source):
    return cf.explore(*source)


def _activities():
    return [("call", r) for r in records("calls")] + [("meeting", r) for r in records("meetings")]


def _downloads(value: str) -> list[list[list[str]]]:
    """Every CSV a view offers, decoded from its data URI (the byte-order mark checked and dropped)."""
    out = []
    for payload in re.findall(r'href="data:text/csv;charset=utf-8;base64,([^"]+)"', value):
        raw = base64.b64decode(payload)
        assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads 東京 and Rückruf right
        out.append(list(csv.reader(io.StringIO(raw.decode("utf-8-sig")))))
    return out


def _view_downloads(explorer) -> list[list[list[str]]]:
    """Click "Download the table" as a user would and decode every CSV it then offers."""
    assert not explorer.download_links.value  # nothing written before the click
    explorer.download_button.click()
    return _downloads(explorer.download_links.value)


def test_one_top_n_and_now_from_the_data(explorer):
    assert explorer.top_n.value == DEFAULT_TOP_N
    last = max(pd.Timestamp(r["date_created"]) for _, r in _activities())
    assert explorer.now == last.normalize() + pd.Timedelta(days=1)  # not the machine's clock
    assert html.escape(DATE_RULE).replace("&#x27;", "'") in html.unescape(explorer.children[0].children[-1]
                                                                           .children[0].value)


def test_picking_an_organization_narrows_users_outcomes_and_statuses(explorer):
    explorer.organizations.value = (ALPHA,)
    mine = [r for _, r in _activities() if r["organization_id"] == ALPHA_ID]
    assert {label for label, _ in explorer.users.options} == {r["user_name"] for r in mine}
    names = {cf.normalize_outcome_name(o["name"]) for o in records("outcomes") if o["organization_id"] == ALPHA_ID}
    assert {value for _, value in explorer.outcomes.options} == names
    explorer.organizations.value = ()
    assert len(explorer.users.options) == len({r["user_id"] for _, r in _activities()})


def test_the_usage_table_downloads_as_shown(explorer):
    explorer.select(view="Usage")
    (table,) = _view_downloads(explorer)
    heads = re.findall(r'<th onclick="[^"]*" title="sort by this column">([^<]*)</th>', explorer.table.value)
    assert table[0] == [html.unescape(h) for h in heads]
    total = table[0].index("total")
    assert sum(int(row[total]) for row in table[1:]) == len(_activities())


def test_a_quick_period_and_period_against_period(explorer):
    explorer.period.value = "Last whole month"  # now is in late October 2025: September, empty, against August
    assert (explorer.start.value, explorer.until.value) == (dt.date(2025, 9, 1), dt.date(2025, 10, 1))
    explorer.select(view="Period vs period", since="2025-10-13", until="2025-10-20")
    (table,) = _view_downloads(explorer)
    assert table[0][2:5] == ["week of 2025-10-06", "week of 2025-10-13", "change"]  # whole weeks: named so
    for organization in (ALPHA, BETA):
        ident = next(k for k, v in ORGANIZATION_NAMES.items() if v == organization)
        counts = [sum(1 for _, r in _activities() if r["organization_id"] == ident
                      and since <= pd.Timestamp(r["date_created"]) < since + pd.Timedelta(days=7))
                  for since in (pd.Timestamp("2025-10-06", tz="UTC"), pd.Timestamp("2025-10-13", tz="UTC"))]
        rows = [row for row in table[1:] if row[0] == organization]
        assert [sum(int(row[i]) for row in rows) for i in (2, 3)] == counts
    assert "nothing in that period" in explorer.table.value


def test_trend_and_users_views_use_each_organizations_own_top_outcomes(explorer):
    explorer.top_n.value = 1
    explorer.select(view="Trend")
    svg = bytes(explorer.chart.value).decode("utf-8")
    assert "own top 1 outcomes" in svg and "the same scale in every panel" in svg
    explorer.select(view="Users")
    tables = _view_downloads(explorer)
    assert len(tables) == 2  # one user x outcome table per organization
    for table in tables:
        heading = table[0]
        organization = table[1][0]
        ident = next(k for k, v in ORGANIZATION_NAMES.items() if v == organization)
        per_user = Counter(r["user_name"] for _, r in _activities() if r["organization_id"] == ident)
        got = Counter()
        for row in table[1:]:
            got[row[heading.index("user")].split(" (")[0]] += int(row[heading.index("total")])
        assert got == per_user


def test_the_activities_behind_a_row_link_to_their_leads(explorer):
    explorer.select(view="Top per organization", organizations=ALPHA)
    labels = [label for label, _ in explorer.drill.options]
    row = next(i for i, label in enumerate(labels) if label.startswith(f"{ALPHA} · Demo booked"))
    found = explorer.show_behind(explorer.drill.options[row][1])
    expected = [r for _, r in _activities() if r["organization_id"] == ALPHA_ID
                and r.get("outcome_id") == "outcome_ADemo000000000000000"]
    assert sorted(found["lead_id"]) == sorted(r["lead_id"] for r in expected)
    for lead in found["lead_id"]:
        assert f'href="https://app.close.com/lead/{lead}/"' in explorer.behind.value
    (download,) = _downloads(explorer.behind.value)
    assert [row[download[0].index("lead_url")] for row in download[1:]] == list(found["lead_url"])


def test_a_report_of_the_picks(explorer):
    explorer.select(organizations=ALPHA, kinds="calls")
    document = explorer.build_report()
    assert ALPHA in document and BETA not in document
    assert 'download="closeframe-report.html"' in explorer.report_link.value


def test_a_share_of_nothing_is_empty_not_zero(explorer):
    # The week of Oct 20: Alpha logged activities, Beta none (counted from the records).
    since, until = pd.Timestamp("2025-10-20", tz="UTC"), pd.Timestamp("2025-10-27", tz="UTC")
    logged = Counter(ORGANIZATION_NAMES[r["organization_id"]] for _, r in _activities()
                     if since <= pd.Timestamp(r["date_created"]) < until)
    assert logged[ALPHA] and not logged[BETA]
    explorer.select(since=since, until=until, view="Usage")
    (table,) = _view_downloads(explorer)
    share = table[0].index("share_of_outcomes")
    beta = [row for row in table[1:] if row[0] == BETA]
    assert beta and all(row[share] == "" for row in beta)  # shown as "–" on screen
    assert any(row[share] not in ("", "0", "0.0") for row in table[1:] if row[0] == ALPHA)
    assert "0.0 %" not in "".join(re.findall(rf"<tr><td class=\"text\">{BETA}</td>.*?</tr>", explorer.table.value))
