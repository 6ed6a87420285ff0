"""A self-contained HTML report on outcome usage: how often each outcome is logged on calls and meetings, per org.

It leads with usage (headline figures, each organization's top outcomes over time, this period against the one
before, the same outcome across organizations), then one block per organization (its top outcomes, and its users
by outcome), unused and deleted outcomes, and last the outcome catalogue. A table of contents links every section
and every organization. Every number comes from :mod:`closeframe.usage` (the functions the explorer and the
dashboard show), so the faces never disagree; the report only lays them out.

Rules the reader can rely on, stated in the report itself: dates are the day each call or meeting was logged (UTC);
"now" is the data's last day, not the day the report was generated, so a month the data only began is marked
partial instead of drawn as a collapse; nothing is cut silently (a table that shows the top ``n`` says how many
more there are and where they are listed); a share of nothing is "–".

Tables come from :mod:`closeframe.views.reporttables`; charts are inline SVG whose text stays text, so the reader's
fonts draw CJK names (:mod:`closeframe.views.reportcharts`). Nothing is fetched from the network (no scripts, fonts,
styles or images by URL), so the file opens the same offline, attached to an e-mail or archived; its links
stay in the page. It says where the data came from in plain words, never with a key or a local
server's address.

The report is a list of section builders (:data:`REPORT_SECTIONS`, in :mod:`closeframe.views.reportsections`):
each takes the :class:`~closeframe.views.reportdata.ReportData` and returns a
:class:`~closeframe.views.reportdata.Section` or ``None`` (nothing to say). Add a section by passing
``sections=[*REPORT_SECTIONS, mine]``. This module assembles the document: header, contents, sections.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from closeframe.usage.selection import Selection, UsageData
from closeframe.version import __version__
from closeframe.views.reportdata import TOP_N, ReportData, Section, SectionBuilder, _day, _plural
from closeframe.views.reporttables import TABLE_CSS
from closeframe.views.reportsections import OPEN_ORGANIZATIONS, REPORT_SECTIONS, TOP_USERS

__all__ = ["OPEN_ORGANIZATIONS", "REPORT_SECTIONS", "TOP_N", "TOP_USERS", "ReportData", "Section", "render_report",
           "write_report"]

_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK JP", "Hiragino Sans",
       "Microsoft YaHei", sans-serif; margin: 1.5rem auto; max-width: 78rem; color: #222; padding: 0 1rem;
       line-height: 1.4; }
h1 { margin-bottom: .2rem; font-size: 1.7rem; } h2 { margin-top: 2.2rem; border-bottom: 2px solid #0072B2;
     padding-bottom: .2rem; } h3 { margin: 1.2rem 0 .3rem; }
.meta { color: #444; margin: .2rem 0; max-width: 60rem; } .note { color: #555; font-size: .92rem; max-width: 52rem; }
nav ul { padding-left: 1.2rem; columns: 2 16rem; margin: .3rem 0; }
nav ul.organizations { columns: 3 14rem; }
.pair { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 1.5rem; align-items: start; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 22rem), 1fr)); gap: 1rem 1.5rem; }
details.organization { border: none; border-top: 1px solid #ccc; border-radius: 0; margin-top: 1rem;
                       padding: .4rem 0; }
details.organization > summary h3 { display: inline; margin: 0; }
details.organization > summary .note { font-weight: normal; margin-left: .5rem; }
[id^="org-"] { scroll-margin-top: 4rem; }
.more { color: #444; font-size: .9rem; margin: -.6rem 0 1rem; }
figure.panel { margin: 0; }
ul.legend { list-style: none; padding: 0; margin: .2rem 0 .6rem 2.8rem; font-size: .85rem; }
ul.legend li { display: flex; gap: .4rem; align-items: baseline; }
ul.legend span { display: inline-block; width: .9rem; height: .25rem; flex: none; position: relative; top: -.2rem;
                 print-color-adjust: exact; -webkit-print-color-adjust: exact; }
small { color: inherit; opacity: .85; }
h4 { margin: 1rem 0 .3rem; }
details { border: 1px solid #e3e3e3; border-radius: 6px; padding: .4rem .8rem; margin: .4rem 0; }
summary { cursor: pointer; font-weight: 600; }
a.top { float: right; font-size: .85rem; font-weight: normal; }
svg { display: block; }
@media (max-width: 60rem) { .pair { grid-template-columns: minmax(0, 1fr); } }
@media (max-width: 30rem) { body { padding: 0 .5rem; } }
@media print {
  body { max-width: none; margin: 0; }
  details { border: none; padding: 0; }
  details::details-content { content-visibility: visible; display: block; }
  a.top { display: none; }
  h2, h3 { break-after: avoid; }
}
"""


def _contents(built: Sequence[Section], data: ReportData) -> str:
    """The table of contents: every section, then every organization (natural order)."""
    parts = ['<nav id="contents" aria-label="Contents"><ul>']
    parts += [f'<li><a href="#{html.escape(s.id)}">{html.escape(s.title)}</a></li>' for s in built]
    parts.append("</ul>")
    if data.has_activities and any(s.id == "organizations" for s in built) and data.organizations:
        parts.append(f"<p class=\"meta\"><strong>{_plural(len(data.organizations), 'organization')}:</strong></p>"
                     '<ul class="organizations">')
        parts += [f'<li><a href="#{data.anchors[o]}">{html.escape(o)}</a></li>' for o in data.organizations]
        parts.append("</ul>")
    parts.append("</nav>")
    return "".join(parts)


def render_report(outcomes: pd.DataFrame, calls: pd.DataFrame | None = None, meetings: pd.DataFrame | None = None,
                  *, source: str, since: Any = None, until: Any = None, selection: Selection | None = None,
                  prepared: UsageData | None = None, generated_at: dt.datetime | None = None,
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
    selection : Selection, optional
        The current picks (e.g. the dashboard's): the report covers exactly those activities. Not with
        ``since``/``until`` (the selection has its own).
    prepared : UsageData, optional
        The frames already prepared (:func:`closeframe.usage.selection.prepare`), to skip preparing them again.
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
                      generated_at=generated_at, selection=selection, prepared=prepared)
    built = [section for section in (build(data) for build in sections) if section is not None]
    if changes is not None:
        from closeframe.views.history_report import changes_section

        built.append(Section("catalogue-changes", "Catalogue changes", changes_section(changes)))
    organizations = len(data.organizations)
    activities = f"{int(data.headline['activities'].sum()):,} calls and meetings, " if data.has_activities else ""
    picks = ""
    if selection is not None:
        from closeframe.usage.selection import describe

        picks = f'<p class="meta"><strong>Picks:</strong> {html.escape(describe(selection, data.data))}.</p>'
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{_CSS}{TABLE_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="meta"><strong>Period:</strong> {html.escape(data.period_text())}.</p>',
        picks,
        f'<p class="meta"><strong>Dates:</strong> {html.escape(data.date_rule())}</p>' if data.has_activities
        else "",
        f'<p class="meta"><strong>Data:</strong> {html.escape(source)}; {activities}'
        f"{data.outcomes['id'].nunique() if 'id' in data.outcomes else 0:,} outcomes, "
        f"{_plural(organizations, 'organization')}.</p>",
        f'<p class="meta"><strong>Generated</strong> {html.escape(_day(data.generated_at))} by closeframe '
        f"{html.escape(__version__)}.</p>",
        _contents(built, data),
    ]
    for section in built:
        parts.append(f'<section id="{html.escape(section.id)}"><h2>{html.escape(section.title)}</h2>')
        if section.intro:
            parts.append(f'<p class="note">{html.escape(section.intro)}</p>')
        parts.append(section.body)
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(part for part in parts if part)


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
        Passed to :func:`render_report` (``selection=``, ``since=``…).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(outcomes, calls, meetings, source=source, **options), encoding="utf-8")
    return path
