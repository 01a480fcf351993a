"""Streaming filters whose state is carried explicitly, and a sample history buffer.

``scipy.signal.sosfilt``/``lfilter`` with an explicit ``zi`` run the same recursion
whatever the chunking, so a stream cut anywhere gives bit-identical output.

Only second-order Butterworth sections are needed; they are designed here with numpy
(the same steps as ``scipy.signal.butter``: prewarping, bilinear transform, scipy's
pairing; identical coefficients), and the compiled recursion behind ``sosfilt`` is loaded
on its own: importing ``scipy.signal`` imports most of scipy (~0.7 s of a 2 s budget for
analyzing a night).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np


def _load_sosfilt_kernel() -> Callable[..., Any] | None:
    """``scipy.signal._sosfilt._sosfilt`` (a compiled extension that needs only numpy),
    loaded without running the ``scipy.signal`` package initializer; None if this scipy
    has no such extension (the public ``sosfilt`` is used then)."""
    name = "scipy.signal._sosfilt"
    mod = sys.modules.get(name)
    if mod is None and "scipy.signal" not in sys.modules:
        try:
            import scipy

            folder = os.path.join(scipy.__path__[0], "signal")
            for suffix in importlib.machinery.EXTENSION_SUFFIXES:
                path = os.path.join(folder, "_sosfilt" + suffix)
                spec = importlib.util.spec_from_file_location(name, path)
                if os.path.isfile(path) and spec is not None and spec.loader is not None:
                    mod = importlib.util.module_from_spec(spec)
                    spec.loader.exec_module(mod)
                    sys.modules[name] = mod  # scipy.signal, imported later, shares it
                    break
        except Exception:  # pragma: no cover - an unusual scipy layout
            mod = None
    if mod is None:
        try:
            from scipy.signal import _sosfilt as mod  # type: ignore[no-redef]
        except ImportError:  # pragma: no cover
            return None
    return getattr(mod, "_sosfilt", None)


_sosfilt_kernel = _load_sosfilt_kernel()


def sosfilt(sos: np.ndarray, x: np.ndarray, zi: np.ndarray | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
    """``scipy.signal.sosfilt`` along axis 0 of ``x`` (n, width) or (n,); ``zi`` in the
    kernel's layout (width, sections, 2), zeros if None. Returns (y, final state)."""
    sos = np.ascontiguousarray(sos, dtype=np.float64)
    x2 = np.asarray(x, dtype=np.float64)
    one = x2.ndim == 1
    x2 = x2.reshape(len(x2), -1)
    z = (np.zeros((x2.shape[1], len(sos), 2)) if zi is None
         else np.array(zi, dtype=np.float64, order="C"))
    if _sosfilt_kernel is not None:
        xt = np.array(x2.T, dtype=np.float64, order="C")  # a copy, filtered in place
        _sosfilt_kernel(sos, xt, z)
        y = xt.T
    else:  # pragma: no cover - the public path, same recursion
        from scipy import signal

        public = np.moveaxis(np.moveaxis(z, 0, -2), -1, 1)  # (sections, 2, width)
        y, zo = signal.sosfilt(sos, x2, axis=0, zi=public)
        z = np.ascontiguousarray(np.moveaxis(np.moveaxis(zo, 1, -1), -2, 0))
    return (y[:, 0] if one else y), z


def _lfilter_zi(b: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Steady state of one section for a unit step (``scipy.signal.lfilter_zi``)."""
    comp = np.zeros((2, 2))
    comp[0, :] = -a[1:] / a[0]
    comp[1, 0] = 1.0
    return np.linalg.solve(np.eye(2) - comp.T, b[1:] - a[1:] * b[0])


def sosfilt_zi(sos: np.ndarray) -> np.ndarray:
    """``scipy.signal.sosfilt_zi``: the state of each section for a unit step input."""
    zi = np.empty((len(sos), 2))
    scale = 1.0
    for k in range(len(sos)):
        b, a = sos[k, :3], sos[k, 3:]
        zi[k] = scale * _lfilter_zi(b, a)
        scale *= b.sum() / a.sum()
    return zi


def butter2_sos(cut_hz: float | tuple[float, float], kind: str, fs: float) -> np.ndarray:
    """``scipy.signal.butter(2, cut_hz, kind, fs=fs, output="sos")`` for kind lowpass,
    highpass or bandpass: analog prototype, prewarped, bilinear transform, each conjugate
    pole pair with its nearest zeros, the one nearest the unit circle last, the gain on the
    first section."""
    wn = 2.0 * np.atleast_1d(np.asarray(cut_hz, dtype=np.float64)) / fs
    warped = 4.0 * np.tan(np.pi * wn / 2.0)
    p = -np.exp(1j * np.pi * np.arange(-1, 2, 2) / 4)  # poles of the analog prototype
    z = np.zeros(0)
    if kind == "lowpass":
        p, k, at_minus_one = warped[0] * p, warped[0] ** 2, 2
    elif kind == "highpass":
        k = float(np.real(1.0 / np.prod(-p)))
        p, z, at_minus_one = warped[0] / p, np.zeros(2), 0
    elif kind == "bandpass":
        bw, wo = warped[1] - warped[0], np.sqrt(warped[0] * warped[1])
        p_lp = p * bw / 2
        root = np.sqrt(p_lp ** 2 - wo ** 2)
        p, z, k, at_minus_one = np.concatenate((p_lp + root, p_lp - root)), np.zeros(2), \
            bw ** 2, 2
    else:
        raise ValueError(f"unknown filter kind {kind!r}")
    zz = np.concatenate(((4.0 + z) / (4.0 - z), -np.ones(at_minus_one)))
    pz = (4.0 + p) / (4.0 - p)
    k = k * float(np.real(np.prod(4.0 - z) / np.prod(4.0 - p)))
    upper = pz[np.imag(pz) > 0]
    zeros = list(zz)
    sections = []
    for pp in upper[np.argsort(np.abs(1 - np.abs(upper)))]:  # nearest the circle first
        z1 = zeros.pop(int(np.argmin([abs(v - pp) for v in zeros])))
        z2 = zeros.pop(int(np.argmin([abs(v - pp) for v in zeros])))
        sections.append(np.concatenate((np.real(np.poly([z1, z2])),
                                        np.real(np.poly([pp, np.conj(pp)])))))
    sos = np.array(sections[::-1])
    sos[0, :3] *= k
    return sos


class Sos:
    """A second-order-sections filter over ``width`` channels (columns).

    The state is kept in the kernel's own layout (channel, section, 2). Small pieces are
    the streaming case, where the public ``sosfilt``'s argument checking would cost more
    than the filtering; both paths run the same compiled recursion.
    """

    def __init__(self, sos: np.ndarray, width: int) -> None:
        self.sos = np.ascontiguousarray(sos, dtype=np.float64)
        self.width = width
        self._zi_unit = sosfilt_zi(self.sos)  # steady state for a unit step
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
        if _sosfilt_kernel is not None and x.ndim == 2 and x.shape[1] == len(self.zi):
            # the streaming case in as few calls as it takes: the kernel filters a copy in
            # place and carries our state in place
            xt = np.array(x.T, dtype=np.float64, order="C")
            _sosfilt_kernel(self.sos, xt, self.zi)
            return xt.T
        y, self.zi = sosfilt(self.sos, x, self.zi)
        return y


def butter(order: int, cut_hz: float | tuple[float, float], kind: str, fs: float,
           width: int) -> Sos:
    """A Butterworth :class:`Sos`; cut-offs above 0.45 fs are clipped to stay stable."""
    if isinstance(cut_hz, tuple):
        lo, hi = cut_hz
        wn: float | tuple[float, float] = (lo, min(hi, 0.45 * fs))
    else:
        wn = min(cut_hz, 0.45 * fs)
    if order == 2:
        return Sos(butter2_sos(wn, kind, fs), width)
    from scipy import signal  # pragma: no cover - other orders: scipy's design

    return Sos(signal.butter(order, wn, kind, fs=fs, output="sos"), width)


def windows(x: np.ndarray, w: int) -> np.ndarray:
    """``sliding_window_view(x, w, axis=0)`` without its overhead (~50 us a call, more than
    the work on a streaming piece): the len(x) - w + 1 windows of w consecutive rows of x,
    a read-only view of shape (len(x) - w + 1, *x.shape[1:], w)."""
    x = np.ascontiguousarray(x)
    st = x.strides
    v = np.ndarray((max(0, len(x) - w + 1), *x.shape[1:], w), x.dtype, x, 0,
                   (st[0], *st[1:], st[0]))
    v.flags.writeable = False
    return v


def running_max(x: np.ndarray, w: int) -> np.ndarray:
    """out[i] = max(x[i - w + 1 .. i]) of a non-negative x, zeros before it (exact: maxima
    of windows doubled in length, log2(w) passes, then two windows overlapping to w)."""
    n = len(x)
    if w <= 1 or n == 0:
        return x.copy()
    body = np.concatenate([np.zeros(w - 1), x])
    if n * w <= 4096:  # small (streaming): the windows as a strided view, one reduction
        return windows(body, w).max(axis=1)
    m, s = body, 1  # m[j] = max(body[j .. j + s - 1])
    while 2 * s <= w:
        m = np.maximum(m[:-s], m[s:])
        s *= 2
    if s < w:  # (w - s < s: the two windows of s cover the w samples)
        m = np.maximum(m[: len(m) - (w - s)], m[w - s:])
    return m[:n]


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
        n1, m = self.n - 1, len(x)
        if n1 == 0 or m <= n1:
            ext = np.concatenate([self.tail, x])
            y = ext[0:m].copy()
            for k in range(1, self.n):
                y += ext[k: k + m]
            self.tail = ext[len(ext) - n1:] if n1 else ext[:0]
            return y * (1.0 / self.n)
        # the first n - 1 outputs reach into the tail; the rest only into x (no copy of
        # x after the tail): the same additions in the same order either way
        y = np.empty(m)
        head = np.concatenate([self.tail, x[:n1]])
        h = y[:n1]
        np.add(head[0:n1], head[1: 1 + n1], out=h)
        for k in range(2, self.n):
            h += head[k: k + n1]
        body = y[n1:]
        np.add(x[0: m - n1], x[1: m - n1 + 1], out=body)
        for k in range(2, self.n):
            body += x[k: m - n1 + k]
        self.tail = x[m - n1:].copy()
        y *= 1.0 / self.n
        return y


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
            dst = self.arrays[k][self.n: self.n + m]
            if v.ndim == 2 and not v.flags.c_contiguous and len(v) > 8 * v.shape[1]:
                # (a filter's output, column-major, or rows picked from one: column by
                # column is several times faster than numpy's copy row by row)
                for c in range(v.shape[1]):
                    dst[:, c] = v[:, c]
            else:
                dst[...] = v
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
    k = int(q * (window - 1))
    if len(new) - first_full <= 4:  # (streaming: a value or two at a time)
        for i in range(first_full, len(new)):
            s0 = i + n_prev - window
            out[i] = np.partition(ring[s0:s0 + window], k)[k]
    else:
        s0 = first_full + n_prev - window
        win = windows(ring, window)[s0: s0 + len(new) - first_full]
        out[first_full:] = np.partition(win, k, axis=1)[:, k]
    for i in range(min(first_full, len(new))):  # the start of a stream only
        before = ring[: n_prev + i]
        if len(before) == 0:
            out[i] = np.nan
        else:
            k = int(q * (len(before) - 1))
            out[i] = np.partition(before, k)[k]
    return out, ring[-window:]


def col_medians(x: np.ndarray) -> np.ndarray:
    """``np.median(x, axis=0)`` of a finite x without its overhead (its cost dominates on
    short arrays): the same order statistics by partition, the mean of the middle two
    halving their sum. Of a 1-D x, its median (a numpy scalar)."""
    n = len(x)
    k = n // 2
    if n % 2:
        return np.partition(x, k, axis=0)[k]
    p = np.partition(x, (k - 1, k), axis=0)
    return (p[k - 1] + p[k]) / 2.0


def quick_median(x: np.ndarray) -> float:
    """``float(np.median(x))`` of a finite 1-D x (``col_medians``' arithmetic)."""
    return float(col_medians(x))


def mean_rows(x: np.ndarray) -> np.ndarray:
    """``np.mean(x, axis=0)`` without its wrapper: the rows added in order (numpy reduces
    over the rows of an (m, 3) array one row after the other), then divided by their count."""
    return np.add.reduce(x, axis=0) / len(x)
