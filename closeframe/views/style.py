"""Shared look of closeframe's plots: Okabe–Ito colours, fonts that have the glyphs, short safe labels.

Outcome and organization names are long and often not Latin (``東京 Trading 株式会社``, ``Closed won 🎉``).
matplotlib's bundled DejaVu Sans has no CJK or emoji glyphs and warns ("Glyph … missing from font") for each one,
which pytest's ``filterwarnings = error`` turns into failures and which otherwise draws empty boxes anyway. So
labels go through :func:`safe_label`: the plot uses the first installed font family of :data:`FONT_PREFERENCE` that
covers CJK (Noto Sans CJK, WenQuanYi, IPA…) with DejaVu Sans as fallback, and any character that none of the
chosen fonts can draw is replaced by ``□`` *before* matplotlib sees it — no warning filter, nothing silently lost
(the box shows there was a character). Install e.g. Debian's ``fonts-noto-cjk`` to see the real glyphs.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Iterable, Sequence

import pandas as pd

from closeframe.errors import ConfigurationError
from closeframe.usage.ordering import natural_key

__all__ = [
    "FONT_PREFERENCE",
    "OKABE_ITO",
    "fit_labels",
    "font_families",
    "natural_key",
    "new_axes",
    "no_data",
    "require_columns",
    "safe_label",
    "set_texts",
]

#: Okabe & Ito's colour-blind-safe qualitative palette (black left out: it is for text), in their order.
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999")

#: Font families tried for labels, best first; the first installed ones that add glyphs are used.
FONT_PREFERENCE = (
    "DejaVu Sans",
    "Noto Sans CJK JP",
    "Noto Sans CJK SC",
    "Source Han Sans JP",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "IPAexGothic",
    "IPAGothic",
    "Droid Sans Fallback",
    "Noto Color Emoji",
    "Noto Emoji",
)
#: Drawn instead of a character no chosen font has (DejaVu Sans has it).
MISSING_GLYPH = "□"
ELLIPSIS = "…"


@lru_cache(maxsize=1)
def _installed_fonts() -> tuple[tuple[str, frozenset], ...]:
    """(family, code points it covers) of each installed family of :data:`FONT_PREFERENCE`, in that order."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    by_name: dict[str, str] = {}
    for entry in font_manager.fontManager.ttflist:
        by_name.setdefault(entry.name, entry.fname)
    found = []
    for family in FONT_PREFERENCE:
        path = by_name.get(family)
        if path is None:
            continue
        try:
            charmap = FT2Font(path).get_charmap()
        except (OSError, RuntimeError):  # an unreadable font file is just not used
            continue
        found.append((family, frozenset(charmap)))
    return tuple(found)


def font_families() -> list[str]:
    """The installed font families labels are drawn with, as a matplotlib fallback list."""
    return [family for family, _ in _installed_fonts()] or ["DejaVu Sans"]


@lru_cache(maxsize=1)
def _covered() -> frozenset:
    covered: set = set()
    for _, points in _installed_fonts():
        covered |= points
    return frozenset(covered)


def safe_label(value: object, max_chars: int | None = 30) -> str:
    """Return ``value`` as a label that draws without missing glyphs, shortened with ``…`` past ``max_chars``.

    Parameters
    ----------
    value : object
        A name; missing values become ``"(none)"``.
    max_chars : int or None, default 30
        Longest label in characters, the ellipsis included; ``None`` keeps it whole.
    """
    text = "(none)" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
    text = " ".join(text.split())  # newlines and tabs would break the layout
    if max_chars is not None and len(text) > max_chars:
        text = text[: max(max_chars - 1, 1)].rstrip() + ELLIPSIS
    covered = _covered()
    if not covered:
        return text
    return "".join(ch if ord(ch) in covered or ch in " \u00a0" else MISSING_GLYPH for ch in text)


def fit_labels(values: Iterable[object], max_chars: int | None = 30) -> list[str]:
    """:func:`safe_label` for many names, keeping labels unique (two long names may shorten alike)."""
    labels: list[str] = []
    seen: dict[str, int] = {}
    for value in values:
        label = safe_label(value, max_chars)
        if label in seen:
            seen[label] += 1
            label = f"{label} ({seen[label]})"
        else:
            seen[label] = 1
        labels.append(label)
    return labels


def new_axes(ax, *, rows: int = 1, wide: bool = False):
    """The axes to draw on: ``ax`` if given, else the current one, else a new figure sized for ``rows`` bars.

    A figure is only created when none is open, so ``plt.subplots`` and notebook cells keep control of sizes.
    """
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax
    if plt.get_fignums():
        return plt.gca()
    height = min(max(2.5, 0.32 * rows + 1.6), 16.0)
    _, new = plt.subplots(figsize=(10.0 if wide else 8.0, height), layout="constrained")
    return new


def require_columns(data: object, columns: Sequence[str], what: str) -> pd.DataFrame:
    """Raise ConfigurationError unless ``data`` is a DataFrame with ``columns``; name what is missing.

    Parameters
    ----------
    data : object
        What the user passed.
    columns : sequence of str
        Columns the plot reads.
    what : str
        The frame expected, for the message (e.g. ``"an outcomes frame from cf.load_outcomes()"``).
    """
    if not isinstance(data, pd.DataFrame):
        raise ConfigurationError(f"Expected {what} (a pandas DataFrame), got a {type(data).__name__}.")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ConfigurationError(
            f"The frame lacks column(s) {', '.join(map(repr, missing))}; expected {what} with columns "
            f"{', '.join(map(repr, columns))}. It has: {', '.join(map(repr, data.columns))}.")
    return data


def set_texts(ax, title: str, xlabel: str, ylabel: str) -> None:
    """Set an Axes' title, axis labels and tick labels in the fonts that have their glyphs."""
    family = font_families()
    ax.set_title(safe_label(title, None), fontfamily=family)
    ax.set_xlabel(xlabel, fontfamily=family)
    ax.set_ylabel(ylabel, fontfamily=family)
    ax.tick_params(axis="both", labelfontfamily=family)


def no_data(ax, message: str, title: str):
    """Draw ``message`` in the middle of an empty Axes with ``title`` (no 1970 axes, no empty ticks); return it."""
    family = font_families()
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#555555",
            fontfamily=family)
    ax.set_title(safe_label(title, None), fontfamily=family)
    return ax
