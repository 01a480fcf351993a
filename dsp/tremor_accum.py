"""Evidence of a steady spectral line accumulated over consecutive frames.

A weak tremor's line in one 4 s window may stand only 5-15x over the median bin, where
white noise alone reaches ~6x somewhere in 3-12 Hz, and ~15x once in a thousand windows.
Averaging the spectra of consecutive frames (each divided by its median bin, so that a
movement in one frame does not swamp the rest) keeps a steady line where it is and
shrinks the spread of the noise bins around their mean (the average of k independent
exponential bins is Gamma(k) distributed): the same false-alarm rate is then met at a much
lower threshold. Frames overlap (hop < window), so k is about the span over half a window.
"""

from __future__ import annotations

import numpy as np


class SpectrumAverage:
    """Mean of the last ``m`` frames' normalised power spectra, frame by frame.

    A sum of shifted copies (always the same values added in the same order), so that
    the result never depends on how the frames were batched; NaN rows until ``m`` frames
    of the segment are in.
    """

    def __init__(self, m: int) -> None:
        self.m = max(1, m)
        self.tail: np.ndarray | None = None

    def reset(self) -> None:
        self.tail = None

    def __call__(self, q: np.ndarray) -> np.ndarray:
        n = len(q)
        if n == 0:
            return q.copy()
        tail = self.tail if self.tail is not None else np.zeros((0, q.shape[1]))
        ext = np.concatenate([tail, q])
        start = len(tail)  # ext row of q's first frame
        out = np.full(q.shape, np.nan)
        first = max(start, self.m - 1)  # first ext row with a full window
        if first < len(ext):
            rows = len(ext) - first
            acc = ext[first - self.m + 1: first - self.m + 1 + rows].copy()
            for k in range(1, self.m):
                acc += ext[first - self.m + 1 + k: first - self.m + 1 + k + rows]
            out[first - start:] = acc * (1.0 / self.m)
        self.tail = ext[max(0, len(ext) - (self.m - 1)):] if self.m > 1 else ext[:0]
        return out
