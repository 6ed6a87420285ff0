"""The explorers' multi-select picker: a list with a heading that says nothing picked means all, All/Clear, and
what is picked."""

from __future__ import annotations

import html
from typing import Any, Iterable

import ipywidgets as w

__all__ = ["multi_picker", "option_pairs"]


def multi_picker(select: w.SelectMultiple, title: str, noun: str) -> w.VBox:
    """``select`` with a heading that says nothing picked means all, All/Clear buttons and what is picked.

    The summary under the list keeps the choice visible when it is scrolled out of a long list (30+
    organizations).
    """
    summary = w.HTML(layout=w.Layout(max_width="24em"))
    everything = w.Button(description="All", layout=w.Layout(width="4.5em"), tooltip=f"pick every {noun}")
    clear = w.Button(description="Clear", layout=w.Layout(width="4.5em"), tooltip=f"no {noun} picked: all")

    def show(_=None) -> None:
        picked = list(select.label) if select.value else []
        total = len(select.options)
        if not picked:
            text = f"all {total:,} (none picked)"
        else:
            text = f"{len(picked):,} of {total:,}: " + ", ".join(picked[:8]) + (" …" if len(picked) > 8 else "")
        summary.value = f'<div class="closeframe-picked">{html.escape(text)}</div>'

    everything.on_click(lambda _: setattr(select, "value", tuple(value for _, value in option_pairs(select.options))))
    clear.on_click(lambda _: setattr(select, "value", ()))
    select.observe(show, names=["value", "options"])
    show()
    heading = w.HTML(f"<b>{html.escape(title)}</b> <span style='color:#666'>(none picked = all)</span>")
    return w.VBox([heading, select, w.HBox([everything, clear]), summary], layout=w.Layout(margin="0 12px 6px 0"))


def option_pairs(options: Iterable) -> list[tuple[str, Any]]:
    return [o if isinstance(o, tuple) else (str(o), o) for o in options]
