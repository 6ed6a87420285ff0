"""A git ref of this repository checked out next to it for a benchmark's side-by-side run (``--baseline REF``).

A baseline is always named by a git ref (``main``, ``HEAD~3``, a commit), never by a folder: the checkout is a
temporary ``git worktree`` (detached, removed afterwards), so every run says exactly which code it compared with.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["checkout", "describe"]

ROOT = Path(__file__).resolve().parents[1]


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def describe(ref: str) -> str:
    """``ref`` and its short commit, e.g. ``main (371c9fe)``."""
    return f"{ref} ({_git('rev-parse', '--short', ref + '^{commit}')})"


@contextmanager
def checkout(ref: str) -> Iterator[Path]:
    """Check ``ref`` out in a temporary worktree and yield its folder (to put first on ``PYTHONPATH``)."""
    commit = _git("rev-parse", ref + "^{commit}")
    folder = Path(tempfile.mkdtemp(prefix="closeframe-baseline-")) / "tree"
    _git("worktree", "add", "--detach", str(folder), commit)
    try:
        yield folder
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT, capture_output=True)
        shutil.rmtree(folder.parent, ignore_errors=True)
