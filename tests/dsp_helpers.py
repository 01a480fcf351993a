"""Helpers shared by the DSP tests: run the analyzer, match events to labels."""

from __future__ import annotations

import numpy as np

from twitchwatch.dsp import Analyzer, Event

JERKS = ("myoclonic_jerk", "hypnic_jerk")


def run(t: np.ndarray, acc: np.ndarray, gyro: np.ndarray | None = None,
        chunk: int | None = None, analyzer: Analyzer | None = None) -> list:
    an = analyzer or Analyzer()
    out: list = []
    if chunk is None:
        out += an.feed(t, acc, gyro)
    else:
        for i in range(0, len(t), chunk):
            out += an.feed(t[i:i + chunk], acc[i:i + chunk],
                           None if gyro is None else gyro[i:i + chunk])
    out += an.finish()
    return out


def finals(out: list) -> list[Event]:
    return sorted((o for o in out if isinstance(o, Event) and o.final),
                  key=lambda e: (e.start, e.type))


def match_jerks(true: list[dict], pred: list[Event], tol: float = 0.5
                ) -> tuple[int, int, int]:
    """(matched, false positives, missed), any jerk type, greedy by time distance."""
    pairs = sorted((abs(p.start - t["start"]), i, j) for i, t in enumerate(true)
                   for j, p in enumerate(pred) if abs(p.start - t["start"]) <= tol)
    used_t: set[int] = set()
    used_p: set[int] = set()
    for _, i, j in pairs:
        if i not in used_t and j not in used_p:
            used_t.add(i)
            used_p.add(j)
    return len(used_t), len(pred) - len(used_p), len(true) - len(used_t)


def overlaps(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))
