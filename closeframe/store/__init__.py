"""The local store on disk: cached activities, the event-log refresh, locks and all-or-nothing writes."""
