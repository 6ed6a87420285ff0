"""``cf.explore``: the usage explorer when calls or meetings are given, else the catalogue explorer."""

from __future__ import annotations

import pandas as pd

from closeframe.errors import ConfigurationError
from closeframe.views.catalogue_explorer import Explorer
from closeframe.views.usage_explorer import UsageExplorer

__all__ = ["explore"]


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
        return UsageExplorer(outcomes, calls, meetings, **options)
    if options:
        raise ConfigurationError(f"{', '.join(options)}: only for the usage explorer (pass calls or meetings).")
    return Explorer(outcomes, date_column=date_column)

