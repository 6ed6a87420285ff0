"""load_outcomes and friends: accounts in, one typed DataFrame out (client for the pages, frames for the shape).

Several accounts load concurrently, one session each. If some fail, what the others loaded is not lost: it
travels on the error as ``.partial`` (or comes back with a warning when ``on_error="warn"``).
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import pandas as pd

from closeframe.http.accounts import Account, resolve_accounts
from closeframe.shape.batches import FrameBatches, drop_ids_loaded_before, labelled_frame, labelled_records_frame
from closeframe.http.client import CloseClient, check_client_options, normalize_fields, resolve_base_url
from closeframe.http.paging import paginate_verified
from closeframe.errors import CloseError, ConfigurationError, PartialLoadError
from closeframe.shape.frames import APPLIES_TO_MODES, OUTCOME_COLUMNS, outcomes_frame, with_labels
from closeframe.http.progress import LoadProgress

__all__ = ["IDENTITY_FIELDS", "ON_ERROR_MODES", "DuplicateOrganizationWarning", "PartialLoadWarning",
           "check_choice", "check_fields", "frame_from_results", "load_outcomes", "load_records"]

ON_ERROR_MODES = ("raise", "warn")
#: Accounts loaded at once; each is its own key, so each has its own rate limit.
MAX_CONCURRENT_ACCOUNTS = 32
#: Outcome pages asked for at once after the first: a catalogue of up to 397 outcomes takes two round trips.
OUTCOME_PAGES_AHEAD = 3


#: Fields always asked for with ``fields=``: what tells a record and its organization apart.
IDENTITY_FIELDS = ("id", "organization_id")


class PartialLoadWarning(UserWarning):
    """Some accounts failed and ``on_error="warn"`` asked for what loaded anyway."""


class DuplicateOrganizationWarning(UserWarning):
    """Two accounts read the same organization (two users' keys of it): its records are kept once."""


@dataclass
class AccountResult:
    """What one account gave: its records, its organizations' names, or the error that stopped it.

    ``records`` is a list of dicts, or (when the load shapes as pages arrive) a
    :class:`~closeframe.shape.batches.FrameBatches` holding the records as typed frame pieces.
    """

    account: Account
    records: list | FrameBatches = field(default_factory=list)
    organization_names: dict = field(default_factory=dict)
    error: CloseError | None = None


Fetch = Callable[[CloseClient, LoadProgress], "list[dict] | Any"]


def check_choice(name: str, value: Any, choices: Sequence[str]) -> None:
    """Refuse a value that is not one of ``choices``, naming it and listing them."""
    if value not in choices:
        raise ConfigurationError(f"{name}={value!r} is not one of {', '.join(map(repr, choices))}.")


def check_fields(fields: Sequence[str] | str | None, known: Sequence[str], what: str) -> list[str] | None:
    """Normalize ``fields=`` and refuse names closeframe does not know.

    Close silently drops an unknown ``_fields`` name, so a typo would load an empty column without a word. The
    escape hatch for a field Close added after this release: ``fields=None`` loads every field, new ones as extra
    columns.

    Raises
    ------
    ConfigurationError
        Naming the unknown names and listing the known ones.
    """
    names = normalize_fields(fields)
    unknown = [name for name in names or () if name not in known]
    if unknown:
        raise ConfigurationError(
            f"Unknown field{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} for {what}; known "
            f"fields are {', '.join(known)}. For a field Close added recently, pass fields=None: every field is "
            "loaded and new ones become extra columns.")
    # A frame without its records' organization cannot be joined or told apart: always ask for it.
    return None if names is None else [*names, *(n for n in IDENTITY_FIELDS if n not in names)]


def _load_account(account: Account, fetch: Fetch, base_url: str | None, progress: LoadProgress,
                  client_options: Mapping[str, Any], build: Callable[..., pd.DataFrame] | None = None,
                  unique_ids: bool = False) -> AccountResult:
    """Load one account; a CloseError is kept on the result (with the records that did arrive), not raised.

    With ``build``, records are shaped into frame pieces as they arrive (``fetch`` may also yield pieces).
    """
    result = AccountResult(account) if build is None else \
        AccountResult(account, FrameBatches(build, unique_ids=unique_ids))
    try:
        with CloseClient(**account.client_kwargs(), base_url=base_url, **client_options) as client:
            # /me/ (for the organization names) travels alongside the first pages instead of before them:
            # one round trip less per account, and it is another endpoint group, so it costs no page its slot.
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="closeframe-me") as me_pool, \
                    progress.watch(client.throttle), client.stopped_by(progress.stopped):  # 429 waits too
                me_future = me_pool.submit(client.get, "me/")
                collect = result.records.append if isinstance(result.records, list) else result.records.add
                for record in fetch(client, progress):
                    collect(record)
                me = me_future.result()
            result.organization_names = {
                org["id"]: org.get("name") for org in me.get("organizations") or [] if isinstance(org, dict)
                and org.get("id")
            }
    except CloseError as exc:
        result.error = exc
        # A fetch that hands its records over only at the end (windows) puts what arrived on the error.
        arrived = getattr(exc, "records", None)
        if isinstance(arrived, list) and isinstance(result.records, FrameBatches):
            # Frame pieces and the records not shaped yet, in arrival order: shaped like the rest.
            batches = FrameBatches(build, unique_ids=unique_ids)
            batches.extend(arrived)
            exc.records = None  # not a list of records: what arrived is in .partial
            if len(batches) > len(result.records):
                result.records = batches
        elif isinstance(arrived, list) and len(arrived) > len(result.records):
            result.records = arrived
    return result


def load_records(api_key: Any = None, *, token: Any = None, base_url: str | None = None, fetch: Fetch,
                 progress: bool | None = None, desc: str = "records",
                 client_options: Mapping[str, Any] | None = None,
                 build: Callable[..., pd.DataFrame] | None = None, unique_ids: bool = False
                 ) -> list[AccountResult]:
    """Run ``fetch`` for every account concurrently and return each account's result, failures included.

    Parameters
    ----------
    api_key, token : see :func:`load_outcomes`
    base_url : str, optional
    fetch : callable
        ``fetch(client, progress)`` returns an iterable of records of one account.
    progress : bool or None
        Show a progress bar (``None``: only in notebooks and terminals).
    desc : str
        The progress bar's label.
    client_options : mapping, optional
        Extra keyword arguments for :class:`~closeframe.http.client.CloseClient` (timeouts, retries, ``max_wait``).
    build : callable, optional
        ``build(records) -> DataFrame``: shape the records into frame pieces as they arrive, so an account's
        records are never all held as dicts (``fetch`` may then also yield pieces it shaped itself).
    unique_ids : bool, default False
        With ``build``: an ``id`` that arrives twice is kept once (activities paged in several windows).

    Returns
    -------
    list of AccountResult
        In the order the accounts were given.
    """
    if progress not in (None, True, False):
        raise ConfigurationError(f"progress={progress!r} is not valid: pass True, False or None (a bar only in "
                                 "notebooks and terminals).")
    accounts = resolve_accounts(api_key, token)
    options = check_client_options(client_options)
    resolve_base_url(base_url)  # a bad URL fails here, once, not in every account's thread
    with LoadProgress(progress, desc) as bar:
        if len(accounts) == 1:
            return [_load_account(accounts[0], fetch, base_url, bar, options, build, unique_ids)]
        pool = ThreadPoolExecutor(max_workers=min(len(accounts), MAX_CONCURRENT_ACCOUNTS),
                                  thread_name_prefix="closeframe-account")
        try:
            return list(pool.map(lambda acc: _load_account(acc, fetch, base_url, bar, options, build, unique_ids),
                                 accounts))
        except BaseException:
            bar.stopped.set()  # Ctrl-C: the accounts' pagers stop at their next page, so the wait below is short
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _unshaped(result: AccountResult) -> list | None:
    """The account's records as dicts when none was shaped yet, else ``None``."""
    return result.records if isinstance(result.records, list) else result.records.unshaped()


def _account_frame(result: AccountResult, build: Callable[..., pd.DataFrame]) -> pd.DataFrame:
    """One account's records as a frame without label columns (its pieces joined)."""
    if isinstance(result.records, FrameBatches):
        return result.records.frame()
    return build(result.records)


def frame_from_results(results: list[AccountResult], build: Callable[..., pd.DataFrame], *, on_error: str,
                       what: str) -> pd.DataFrame:
    """Build one frame from the accounts that loaded; raise or warn about those that did not.

    Parameters
    ----------
    results : list of AccountResult
    build : callable
        ``build(records, organization_names=..., accounts=...)`` from :mod:`closeframe.shape.frames`.
    on_error : {"raise", "warn"}
    what : str
        What was loaded, for messages (e.g. ``"outcomes"``).
    """
    loaded = [r for r in results if r.error is None]
    failed = [r for r in results if r.error is not None]
    names: dict = {}
    for result in loaded:
        names.update(result.organization_names)
    labelled = any(r.account.label is not None and not r.account.label.startswith("account ") for r in results)
    # Ids are unique across Close: an id loaded by two accounts means they read one organization; the first keeps it.
    unshaped = [_unshaped(r) for r in loaded]
    if len(loaded) > 1 and all(records is not None for records in unshaped):
        # Small loads (no account reached a batch): shaped once, not once per account and then joined.
        frame, overlaps = labelled_records_frame(
            [(records, r.account.name, r.account.label, isinstance(r.records, FrameBatches) and r.records.unique_ids)
             for records, r in zip(unshaped, loaded)], build, organization_names=names, labelled=labelled)
    else:
        frames, overlaps = drop_ids_loaded_before([_account_frame(r, build) for r in loaded],
                                                  [r.account.name for r in loaded])
        frame = labelled_frame([(part, r.account.label) for part, r in zip(frames, loaded)], build,
                               organization_names=names, labelled=labelled)
    for (first, later), count in overlaps.items():
        warnings.warn(f"{first!r} and {later!r} read the same organization: its {count} {what} are kept once, "
                      f"as {first!r}. Give each organization once (one key per organization).",
                      DuplicateOrganizationWarning, stacklevel=3)
    if not failed:
        return frame
    for result in failed:
        # What arrived before the failure is kept on the error, not mixed into a frame that looks complete.
        if isinstance(result.records, list):
            result.error.records = result.records
        result.error.partial = with_labels(_account_frame(result, build),
                                           organization_names=result.organization_names)
    if len(results) == 1:
        error = failed[0].error
        loaded_count = len(failed[0].records)
        # Say what loaded even when nothing did, so no failure leaves the user guessing about .partial.
        error.add_note(f"{loaded_count} {what} loaded before this failure; they are in .partial "
                       "but the load is incomplete." if loaded_count else
                       f"No {what} loaded before this failure; .partial is empty.")
        raise error
    summary = "; ".join(f"{r.account.name}: {type(r.error).__name__}: {r.error}" for r in failed)
    message = (f"{len(failed)} of {len(results)} accounts failed to load {what} ({summary}). "
               f"{len(loaded)} loaded ({len(frame)} rows): they are in .partial.")
    if on_error == "warn":
        warnings.warn(message, PartialLoadWarning, stacklevel=3)
        return frame
    raise PartialLoadError(
        message, partial=frame, failed={r.account.name: r.error for r in failed},
        loaded=[r.account.name for r in loaded],
    ) from failed[0].error


def load_outcomes(api_key: Any = None, *, token: Any = None, base_url: str | None = None,
                  fields: Sequence[str] | str | None = None, applies_to: str = "columns",
                  progress: bool | None = None, on_error: str = "raise",
                  client_options: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Load every outcome of one or several Close organizations into a typed DataFrame.

    Parameters
    ----------
    api_key : str, list of str, mapping {label: key}, or None
        One key, several keys (organizations load concurrently), or labelled keys (adds an ``account`` column).
        ``None`` reads ``CLOSE_API_KEY``.
    token : str, list or mapping, optional
        OAuth access tokens instead of keys.
    base_url : str, optional
        ``None`` reads ``CLOSE_BASE_URL``, else ``https://api.close.com/api/v1/``.
    fields : list of str or "a,b", optional
        Sent as ``_fields``; the frame keeps all its pinned columns (missing ones are empty).
    applies_to : {"columns", "long"}, default "columns"
        ``"columns"``: a bool column ``applies_to_<value>`` per value. ``"long"``: one row per (outcome, value).
    progress : bool, optional
        Show a progress bar; ``None`` shows one in notebooks and terminals only.
    on_error : {"raise", "warn"}, default "raise"
        When some accounts fail: raise :class:`~closeframe.errors.PartialLoadError` carrying ``.partial``, or
        warn and return what loaded.
    client_options : mapping, optional
        Passed to each :class:`~closeframe.http.client.CloseClient` (``timeout``, ``max_retries``, ``max_wait``…).

    Returns
    -------
    pandas.DataFrame
        Columns ``id, name, description, type, organization_id, organization_name, [account,] created_by,
        updated_by, date_created, date_updated`` and the applies_to columns, then any field Close added.

    Raises
    ------
    ConfigurationError
        No key, a bad base URL, or a bad argument.
    CloseError
        A single account failed (the subclass says how), or some of several did (``PartialLoadError``).

    Examples
    --------
    >>> import closeframe as cf
    >>> df = cf.load_outcomes({"EU": "api_...", "US": "api_..."})   # doctest: +SKIP
    >>> df.groupby("organization_name", observed=True).size()        # doctest: +SKIP
    """
    check_choice("applies_to", applies_to, APPLIES_TO_MODES)
    check_choice("on_error", on_error, ON_ERROR_MODES)
    fields = check_fields(fields, (*OUTCOME_COLUMNS, "applies_to"), "outcomes")

    def fetch(client: CloseClient, bar: LoadProgress):
        return paginate_verified(client, "outcome/", fields=fields, on_page=bar.page, ahead=OUTCOME_PAGES_AHEAD)

    def build(records, **labels):
        return outcomes_frame(records, applies_to, **labels)

    results = load_records(api_key, token=token, base_url=base_url, fetch=fetch, progress=progress,
                           desc="outcomes", client_options=client_options, build=build)
    return frame_from_results(results, build, on_error=on_error, what="outcomes")
