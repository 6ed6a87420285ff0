"""What the HTML report is about: the prepared data, the picks, "now", and the answers every section shares.

:class:`ReportData` holds them, each question of :mod:`closeframe.usage.questions` asked once per report
(:attr:`ReportData.trends`, :attr:`ReportData.periods`, :attr:`ReportData.users`); :class:`Section` is one part of
the document. The sections themselves are in :mod:`closeframe.views.reportsections`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable

import pandas as pd

from closeframe.errors import ConfigurationError
from closeframe.usage.questions import (
    DEFAULT_TOP_N,
    as_of,
    as_of_note,
    compare_periods,
    organization_trends,
    users_by_outcome,
)
from closeframe.usage.selection import Selection, UsageData, headline_table, prepare
from closeframe.views.reporttables import day_text

__all__ = ["TOP_N", "Answer", "ReportData", "Section", "SectionBuilder"]

#: Outcomes named per organization: the one top N of every view (the rest are counted, and listed on request).
TOP_N = DEFAULT_TOP_N


class Answer:
    """A question's frame split per organization, its ``attrs`` kept apart.

    pandas deep-copies a frame's ``attrs`` on every step (a filter, a pivot); a report of 40 organizations spent
    most of its time copying them, so the frame is used without them.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.attrs = dict(frame.attrs)
        self.frame = frame.copy(deep=False)
        self.frame.attrs = {}
        self.groups = dict(tuple(self.frame.groupby("organization", sort=False))) if len(self.frame) else {}

    def of(self, organization: str) -> pd.DataFrame:
        """The rows of one organization (none: an empty frame with the columns)."""
        return self.groups.get(organization, self.frame.iloc[:0])


def _utc(value: Any) -> pd.Timestamp | None:
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


_day = day_text


def _plural(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"


@dataclass
class ReportData:
    """What a report is about: the prepared data, the selection (the picks), where they came from, when.

    Every table of the report comes from :mod:`closeframe.usage` with :attr:`selection`, the same functions the
    explorer and the dashboard show, so the three never disagree.

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
        When the report was made (default: now, UTC). Only printed: "now" for periods is the data's last day.
    selection : Selection, optional
        The picks (organizations, outcomes, calls/meetings, users, dates) the report covers; ``since``/``until``
        may not be given with it.
    prepared : UsageData, optional
        :func:`closeframe.usage.selection.prepare` of the same frames, when the caller (the dashboard) has it.
    """

    outcomes: pd.DataFrame
    calls: pd.DataFrame | None = None
    meetings: pd.DataFrame | None = None
    source: str = ""
    since: Any = None
    until: Any = None
    generated_at: Any = None
    selection: Selection | None = None
    prepared: UsageData | None = None

    def __post_init__(self) -> None:
        self.generated_at = _utc(self.generated_at if self.generated_at is not None
                                 else pd.Timestamp.now(tz="UTC"))
        if self.selection is None:
            self.selection = Selection(since=self.since, until=self.until)
        elif not isinstance(self.selection, Selection):
            raise ConfigurationError(f"selection= must be a closeframe.usage.selection.Selection, got "
                                     f"{type(self.selection).__name__}.")
        elif self.since is not None or self.until is not None:
            raise ConfigurationError("Pass the dates either as since=/until= or in selection=, not both.")
        self.since, self.until = self.selection.since, self.selection.until
        self.data = self.prepared if self.prepared is not None else prepare(self.outcomes, self.calls,
                                                                            self.meetings)
        if self.prepared is not None:
            self.outcomes = self.prepared.outcomes

    @property
    def has_activities(self) -> bool:
        """Calls or meetings were loaded (an empty frame counts: it says there were none)."""
        return self.calls is not None or self.meetings is not None or \
            (self.prepared is not None and len(self.prepared.events) > 0)

    @cached_property
    def headline(self) -> pd.DataFrame:
        """:func:`closeframe.usage.selection.headline_table` of the selection."""
        return headline_table(self.data, self.selection)

    @cached_property
    def organizations(self) -> list[str]:
        """The selected organizations' labels in natural order ("Org 7" before "Org 10")."""
        return list(self.headline.index)

    @cached_property
    def anchors(self) -> dict[str, str]:
        """Each organization's anchor id in the document (``org-1``, ``org-2``…, in natural order)."""
        return {organization: f"org-{number}" for number, organization in enumerate(self.organizations, 1)}

    @cached_property
    def now(self) -> pd.Timestamp:
        """"Now" for every period: :func:`closeframe.usage.questions.as_of` (the midnight after the data's last
        activity that happened), never after the report's ``generated_at``."""
        return min(as_of(self.data), self.generated_at)

    @property
    def freq_word(self) -> str:
        """``"month"`` or ``"week"``."""
        return "week" if self.freq == "W" else "month"

    @cached_property
    def freq(self) -> str:
        """Months, or weeks when the report covers four months or less."""
        first, last = self.covered
        return "W" if first is not None and last is not None and last - first <= pd.Timedelta(days=120) else "M"

    @cached_property
    def covered(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """The first and last day the report covers: the bounds asked for, else the data's first and last day."""
        first = self.headline["first_activity"].min() if len(self.headline) else pd.NaT
        first = self.since if self.since is not None else (None if pd.isna(first) else first)
        end = self.now if self.until is None else min(self.until, self.now)
        last = end - pd.Timedelta(microseconds=1)  # the end is exclusive: midnight ends the day before
        return first, (None if first is None else last)

    def period_text(self) -> str:
        """The period in words, e.g. ``"1 Jan 2026 to 31 Mar 2026"``."""
        if not self.has_activities:
            return "no calls or meetings were loaded"
        first, last = self.covered
        if first is None or last is None:
            return "every loaded activity (there were none)"
        how = "every loaded activity" if self.since is None and self.until is None else "as asked"
        return f"{_day(first)} to {_day(last)} ({how})"

    def date_rule(self) -> str:
        """The one rule for dates and "now", in words (:func:`closeframe.usage.questions.as_of_note`)."""
        return ("A call or meeting counts on the day it was logged (date_created). "
                + as_of_note(self.data, self.now))

    @cached_property
    def trends(self) -> Answer:
        """:func:`closeframe.usage.questions.organization_trends`: each organization's own top outcomes per period."""
        return Answer(organization_trends(self.data, self.selection, freq=self.freq, n=TOP_N, now=self.now))

    @cached_property
    def periods(self) -> Answer:
        """:func:`closeframe.usage.questions.compare_periods`: this month (or the picked range) against the one
        before (raises :class:`~closeframe.ConfigurationError` when there is no such period)."""
        return Answer(compare_periods(self.data, self.selection, freq="M", now=self.now))

    @cached_property
    def users(self) -> Answer:
        """:func:`closeframe.usage.questions.users_by_outcome`: users x each organization's top outcomes."""
        return Answer(users_by_outcome(self.data, self.selection, n=TOP_N))


@dataclass(frozen=True)
class Section:
    """One part of the report: an anchor id, a heading, an introduction (plain text) and HTML."""

    id: str
    title: str
    body: str
    intro: str = ""


SectionBuilder = Callable[[ReportData], "Section | None"]
