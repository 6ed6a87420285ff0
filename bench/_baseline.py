"""The benchmarks' baseline: another version of this repository, named by a git ref, checked out for one run.

A benchmark prints this checkout's figures side by side with a baseline's ("before"). The baseline is a git ref
(``--baseline main``, ``--baseline HEAD~3``, a tag or a commit), never a folder of one machine: :func:`checkout`
adds a detached ``git worktree`` of it in a temporary folder, yields that folder (put it on ``PYTHONPATH`` of a
subprocess to import its ``closeframe``), and removes the worktree afterwards, even when the run fails.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["ROOT", "add_baseline_argument", "checkout"]

#: This checkout's root (the folder holding ``closeframe/``).
ROOT = Path(__file__).resolve().parents[1]


def add_baseline_argument(parser: argparse.ArgumentParser, default: str = "main") -> None:
    """Add ``--baseline REF`` to a benchmark's command line (``''`` runs this checkout alone); a ref that names
    no commit is refused in one line, before anything runs."""
    parser.add_argument("--baseline", metavar="REF", default=default, type=_commit,
                        help=f"git ref of the code to compare with, checked out for the run (default {default!r}; "
                             "'' = none)")


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)


def _check(ref: str) -> None:
    if _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode:
        raise ValueError(f"--baseline {ref!r} is not a commit of this repository; give a branch, tag or commit "
                         "(e.g. main, HEAD~1)")


def _commit(ref: str) -> str:
    try:
        if ref:
            _check(ref)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return ref


@contextmanager
def checkout(ref: str | None) -> Iterator[Path | None]:
    """A temporary worktree of ``ref`` (``None`` or ``''``: no baseline, yields ``None``).

    Raises
    ------
    ValueError
        ``ref`` names no commit of this repository.
    """
    if not ref:
        yield None
        return
    _check(ref)
    folder = Path(tempfile.mkdtemp(prefix="closeframe-baseline-"))
    tree = folder / "tree"
    added = _git("worktree", "add", "--detach", "--quiet", str(tree), ref)
    if added.returncode:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"git worktree add of {ref!r} failed: {added.stderr.strip()}")
    try:
        yield tree
    finally:  # the worktree's registration goes with its folder
        _git("worktree", "remove", "--force", str(tree))
        shutil.rmtree(folder, ignore_errors=True)
        _git("worktree", "prune")
