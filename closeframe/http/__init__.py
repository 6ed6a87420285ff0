"""Talking to Close: the HTTP client and its retry policy, rate limits, accounts (keys to organizations), paging."""
