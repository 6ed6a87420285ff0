"""Outcome usage: the one definition of every usage table, the selection model, and the engines that compute them."""
