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

    The frames go into a buffer that follows the last ``m - 1`` frames before them: a
    caller writes them into :meth:`slots` and takes :meth:`average`, or calls the object
    with them (one copy more).
    """

    def __init__(self, m: int) -> None:
        self.m = max(1, m)
        self.held = 0  # frames of the segment held before the new ones (< m)
        self.ext = np.empty((0, 0))
        self.n = 0

    def reset(self) -> None:
        self.held = 0

    def slots(self, n: int, width: int) -> np.ndarray:
        """Where the next ``n`` frames' spectra (``width`` columns each) are written."""
        rows = self.held + n
        if self.ext.shape[0] < rows or self.ext.shape[1] != width:
            fresh = np.empty((max(rows, 2 * self.ext.shape[0]), width))
            if self.held:
                fresh[: self.held] = self.ext[: self.held]
            self.ext = fresh
        self.n = n
        return self.ext[self.held: rows]

    def average(self) -> np.ndarray:
        """The mean spectra of the frames written into :meth:`slots`."""
        n, start = self.n, self.held
        ext = self.ext[: start + n]
        out = np.empty((n, ext.shape[1]))
        first = max(start, self.m - 1)  # first ext row with a full window
        out[: first - start] = np.nan
        if first < len(ext):
            rows = len(ext) - first
            acc = out[first - start:]
            lo = first - self.m + 1
            np.copyto(acc, ext[lo: lo + rows])
            for k in range(1, self.m):
                acc += ext[lo + k: lo + k + rows]
            acc *= 1.0 / self.m
        # the frames the next call's first windows reach back to, to the buffer's front
        keep = min(len(ext), self.m - 1)
        ext[:keep] = ext[len(ext) - keep:].copy()
        self.held = keep
        self.n = 0
        return out

    def __call__(self, q: np.ndarray) -> np.ndarray:
        if len(q) == 0:
            return q.copy()
        self.slots(len(q), q.shape[1])[:] = q
        return self.average()
