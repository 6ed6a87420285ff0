"""The stored outcome history: catalogue snapshots and outcome events of one organization, kept in the store.

Close forgets deleted outcomes and keeps events 30 days; these two tables are what outlives both
(:mod:`closeframe.load.history` reads and extends them). A snapshot is stored when the catalogue differs from the
last one; events are keyed by their id, a later read of a merged event replacing the earlier one. Each run's
snapshot and events are written in one transaction.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable, Mapping

from closeframe.store.database import connect, transaction

__all__ = ["read_history", "write_history"]


def read_history(root: Path, host: str, organization: str) -> tuple[list[dict], dict[str, dict]]:
    """``(snapshots oldest first, events by id)`` stored for one organization of one API host."""
    with connect(root) as connection:
        snapshots = connection.execute(
            "SELECT taken_at, outcomes FROM outcome_snapshots WHERE host = ? AND organization_id = ? "
            "ORDER BY taken_at, digest", [host, organization]).fetchall()
        events = connection.execute("SELECT event_id, event FROM outcome_events WHERE host = ? AND "
                                    "organization_id = ? ORDER BY event_id", [host, organization]).fetchall()
    return ([{"taken_at": taken, "outcomes": json.loads(outcomes)} for taken, outcomes in snapshots],
            {event_id: json.loads(event) for event_id, event in events})


def write_history(root: Path, host: str, organization: str, snapshots: Iterable[Mapping],
                  events: Mapping[str, Mapping]) -> None:
    """Store new ``snapshots`` (``{"taken_at": iso, "outcomes": [...]}``) and ``events`` (by id), in one
    transaction; a snapshot already stored (same time and content) or an event stored as is are left alone."""
    with transaction(root) as connection:
        for snapshot in snapshots:
            text = json.dumps(snapshot.get("outcomes") or [])  # as listed: key order is column order later
            # The Date header has whole seconds: the content's hash keeps two snapshots of one second apart.
            digest = hashlib.sha1(json.dumps(snapshot.get("outcomes") or [], sort_keys=True).encode()
                                  ).hexdigest()[:10]
            connection.execute("INSERT OR REPLACE INTO outcome_snapshots VALUES (?, ?, ?, ?, ?)",
                               [host, organization, str(snapshot.get("taken_at")), digest, text])
        for event_id, event in events.items():
            connection.execute("INSERT OR REPLACE INTO outcome_events VALUES (?, ?, ?, ?)",
                               [host, organization, str(event_id), json.dumps(event)])
