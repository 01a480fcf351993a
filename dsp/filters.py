"""Streaming filters whose state is carried explicitly, and a sample history buffer.

``scipy.signal.sosfilt``/``lfilter`` with an explicit ``zi`` run the same recursion
whatever the chunking, so a stream cut anywhere gives bit-identical output.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

try:  # the compiled kernel behind scipy.signal.sosfilt, without its per-call checks
    from scipy.signal._sosfilt import _sosfilt as _sosfilt_kernel
except ImportError:  # pragma: no cover - a scipy that moved it: the public path below
    _sosfilt_kernel = None


class Sos:
    """A second-order-sections filter over ``width`` channels (columns).

    The state is kept in the kernel's own layout (channel, section, 2). Small pieces are
    the streaming case, where the public ``sosfilt``'s argument checking would cost more
    than the filtering; both paths run the same compiled recursion.
    """

    def __init__(self, sos: np.ndarray, width: int) -> None:
        self.sos = np.ascontiguousarray(sos, dtype=np.float64)
        self.width = width
        self._zi_unit = signal.sosfilt_zi(self.sos)  # steady state for a unit step
        self.zi: np.ndarray | None = None

    def reset(self) -> None:
        self.zi = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if len(x) == 0:
            return x.copy()
        if self.zi is None:
            # start as if the first value had always been there: no start-up transient
            self.zi = np.ascontiguousarray(
                self._zi_unit[None, :, :] * np.asarray(x[0], dtype=np.float64).reshape(-1, 1, 1))
        if _sosfilt_kernel is not None:
            xt = np.array(x.T, dtype=np.float64, order="C")  # a copy, filtered in place
            _sosfilt_kernel(self.sos, xt, self.zi)
            return xt.T
        zi = np.moveaxis(self.zi, 0, -2)  # (sections, width, 2) -> public layout
        y, zo = signal.sosfilt(self.sos, x, axis=0, zi=np.moveaxis(zi, -1, 1))
        self.zi = np.ascontiguousarray(np.moveaxis(np.moveaxis(zo, 1, -1), -2, 0))
        return y


def butter(order: int, cut_hz: float | tuple[float, float], kind: str, fs: float,
           width: int) -> Sos:
    """A Butterworth :class:`Sos`; cut-offs above 0.45 fs are clipped to stay stable."""
    if isinstance(cut_hz, tuple):
        lo, hi = cut_hz
        hi = min(hi, 0.45 * fs)
        wn: float | list[float] = [lo, hi]
    else:
        wn = min(cut_hz, 0.45 * fs)
    return Sos(signal.butter(order, wn, kind, fs=fs, output="sos"), width)


class MovingMean:
    """Causal moving average over ``n`` samples, as a sum of shifted copies (chunk-exact:
    every output adds the same values in the same order)."""

    def __init__(self, n: int) -> None:
        self.n = max(1, n)
        self.tail: np.ndarray | None = None

    def reset(self) -> None:
        self.tail = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if len(x) == 0:
            return x.copy()
        if self.tail is None:
            self.tail = np.full(self.n - 1, x[0])
        ext = np.concatenate([self.tail, x])
        m = len(x)
        y = ext[0:m].copy()
        for k in range(1, self.n):
            y += ext[k: k + m]
        self.tail = ext[len(ext) - (self.n - 1):] if self.n > 1 else ext[:0]
        return y * (1.0 / self.n)


class History:
    """The most recent samples of several aligned arrays, addressed by absolute index."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.start = 0  # absolute index of the first stored sample
        self.arrays: dict[str, np.ndarray] = {}
        self.n = 0

    @property
    def end(self) -> int:
        return self.start + self.n

    def append(self, **cols: np.ndarray) -> None:
        m = len(next(iter(cols.values())))
        if not self.arrays:
            for k, v in cols.items():
                self.arrays[k] = np.empty((max(2 * self.keep, 2 * m), *v.shape[1:]), v.dtype)
        cap = len(next(iter(self.arrays.values())))
        if self.n + m > cap:
            drop = max(0, self.n - self.keep)
            new_cap = max(cap, 2 * (self.n - drop + m))
            for k, arr in self.arrays.items():
                fresh = arr if new_cap == cap else np.empty((new_cap, *arr.shape[1:]), arr.dtype)
                fresh[: self.n - drop] = arr[drop: self.n]
                self.arrays[k] = fresh
            self.start += drop
            self.n -= drop
        for k, v in cols.items():
            self.arrays[k][self.n: self.n + m] = v
        self.n += m

    def get(self, name: str, a: int, b: int) -> np.ndarray:
        """Samples [a, b) by absolute index, clipped to what is stored."""
        a = max(a, self.start)
        b = min(b, self.end)
        if b <= a:
            return self.arrays[name][0:0]
        return self.arrays[name][a - self.start: b - self.start]


def rolling_quantile(history: np.ndarray, new: np.ndarray, window: int, q: float
                     ) -> tuple[np.ndarray, np.ndarray]:
    """For each value of ``new``: the ``q`` quantile (an order statistic) of the ``window``
    values before it (``history`` then ``new``); with fewer before it, of those there are
    (NaN with none). Returns the quantiles and the history to carry on."""
    ring = np.concatenate([history[-window:], new])
    n_prev = len(ring) - len(new)
    out = np.empty(len(new))
    # rows whose window is full: one vectorised partition
    first_full = max(0, window - n_prev)
    if first_full < len(new):
        starts = np.arange(first_full, len(new)) + n_prev - window
        win = np.lib.stride_tricks.sliding_window_view(ring, window)[starts]
        k = int(q * (window - 1))
        out[first_full:] = np.partition(win, k, axis=1)[:, k]
    for i in range(min(first_full, len(new))):  # the start of a stream only
        before = ring[: n_prev + i]
        if len(before) == 0:
            out[i] = np.nan
        else:
            k = int(q * (len(before) - 1))
            out[i] = np.partition(before, k)[k]
    return out, ring[-window:]
