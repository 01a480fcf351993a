"""The decimated stream that tremor frames are cut from, and frames on their principal axis.

:class:`FrameSource` keeps the last few seconds of the band-passed, decimated sensors
(acceleration, and the gyroscope when present), one contiguous row per axis, with running
sums of each axis, of the six distinct products of the three axes, of filled samples and
of burst samples. A frame's means and covariances are then differences of two running sums.

The running sums go on from one piece to the next, each value added to the previous sum
in stream order (``np.cumsum`` from the last sum), so they are the same bits whatever the
chunking; and so, therefore, is every difference of two of them.

:func:`principal_axis` finds each frame's dominant axis by power iteration on those
covariances (a tremor oscillates along one axis of the forearm, mostly
pronation-supination).
"""

from __future__ import annotations

import math

import numpy as np

FEW_ROWS = 16  # up to this many frames, per-frame arithmetic in Python floats
_COV_I = np.array([0, 1, 2, 0, 0, 1])  # the six distinct products of three axes
_COV_J = np.array([0, 1, 2, 1, 2, 2])
_SUMS_PER_SENSOR = 9  # the axes (3), then their products (6)


class FrameSource:
    """The last ``keep`` decimated samples of ``sensors`` 3-axis sensors, with their times
    and running sums; frames of ``win`` samples, addressed by the absolute decimated index
    of their end (exclusive)."""

    def __init__(self, sensors: int, win: int, keep: int) -> None:
        self.sensors = sensors
        self.win = win
        self.keep = keep
        self.start = 0  # absolute index of the first stored sample
        self.n = 0
        self.t = np.empty(0)
        self.x = np.empty((3 * sensors, 0))  # one row per axis
        # running sums: per sensor its axes and their products, then filled and burst
        # counts. Column 0 holds the sums just before ``start`` (zeros at first), where
        # the next piece's sums go on from after a compaction
        self.rows_fill = _SUMS_PER_SENSOR * sensors
        self.cum = np.zeros((self.rows_fill + 2, 1))

    @property
    def end(self) -> int:
        return self.start + self.n

    def append(self, t: np.ndarray, xs: list[np.ndarray], fill: np.ndarray,
               burst: np.ndarray) -> None:
        """``m`` samples: times (m,), each sensor's axes (3, m), filled and burst flags."""
        m = len(t)
        self._make_room(m)
        a, b = self.n, self.n + m
        self.t[a:b] = t
        c = self.cum
        for q, x in enumerate(xs):
            xq = self.x[3 * q: 3 * q + 3, a:b]
            xq[:] = x
            r = _SUMS_PER_SENSOR * q
            c[r: r + 3, a + 1: b + 1] = xq
            for k, (i, j) in enumerate(zip(_COV_I, _COV_J, strict=True)):
                np.multiply(xq[i], xq[j], out=c[r + 3 + k, a + 1: b + 1])
        # each value added to the sum before it, in stream order
        rs = self.rows_fill
        np.cumsum(c[:rs, a: b + 1], axis=1, out=c[:rs, a: b + 1])
        for r, flags in ((rs, fill), (rs + 1, burst)):
            if flags.any():
                c[r, a + 1: b + 1] = flags
                np.cumsum(c[r, a: b + 1], out=c[r, a: b + 1])
            else:  # (mostly: a count that stays where it was)
                c[r, a + 1: b + 1] = c[r, a]
        self.n = b

    def _make_room(self, m: int) -> None:
        cap = self.t.shape[0]
        if self.n + m <= cap:
            return
        drop = max(0, self.n - self.keep)
        live = self.n - drop
        new_cap = max(cap, 2 * (live + m), 2 * self.keep)
        if new_cap == cap:
            t, x, cum = self.t, self.x, self.cum
        else:
            t, x = np.empty(new_cap), np.empty((self.x.shape[0], new_cap))
            cum = np.empty((self.cum.shape[0], new_cap + 1))
        t[:live] = self.t[drop: self.n]
        x[:, :live] = self.x[:, drop: self.n]
        cum[:, : live + 1] = self.cum[:, drop: self.n + 1]
        self.t, self.x, self.cum = t, x, cum
        self.start += drop
        self.n = live

    def sums(self, ends: np.ndarray) -> np.ndarray:
        """Every running sum over each frame (rows: sums, columns: frames)."""
        c = self.cum
        return c[:, ends - self.start] - c[:, ends - self.win - self.start]

    def times(self, idx: np.ndarray) -> np.ndarray:
        return self.t[idx - self.start]

    def project(self, ends: np.ndarray, hop: int, hann: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each sensor's frames projected on their principal axis, mean removed, in one
        array (rows: the sensors' frames, one sensor after the other), and the same
        rows windowed by ``hann``; with every running sum over each frame."""
        w = self.win
        n = len(ends)
        k = self.sensors
        s = self.sums(ends)
        # the sums of each sensor, frames in rows (the layout numpy's reductions below
        # have always seen: it decides their order of additions)
        s1 = np.ascontiguousarray(np.concatenate(
            [s[_SUMS_PER_SENSOR * q: _SUMS_PER_SENSOR * q + 3] for q in range(k)], axis=1).T)
        s2 = np.ascontiguousarray(np.concatenate(
            [s[_SUMS_PER_SENSOR * q + 3: _SUMS_PER_SENSOR * q + 9] for q in range(k)],
            axis=1).T)
        mean = s1 / w
        c = s2 / w - mean[:, _COV_I] * mean[:, _COV_J]  # xx yy zz xy xz yz
        v = principal_axis(*c.T)
        mv = (mean * v).sum(axis=1)
        s0 = int(ends[0]) - w - self.start
        y = np.empty((k * n, w))
        tmp = np.empty((n, w))
        for q in range(k):
            yq = y[q * n: (q + 1) * n]
            vq = v[q * n: (q + 1) * n]
            # frames are hop apart: strided views (n, w) of each axis's row, no copy (by
            # hand: filters.windows plus a hop slice gives the same view ~5 us slower)
            for ax in range(3):
                row = self.x[3 * q + ax]
                st = row.strides[0]
                fr = np.ndarray((n, w), row.dtype, row, s0 * st, (hop * st, st))
                if ax == 0:
                    np.multiply(fr, vq[:, 0:1], out=yq)
                else:
                    np.multiply(fr, vq[:, ax: ax + 1], out=tmp)
                    yq += tmp
            yq -= mv[q * n: (q + 1) * n, None]
        return y, np.multiply(y, hann), s


def principal_axis(xx: np.ndarray, yy: np.ndarray, zz: np.ndarray, xy: np.ndarray,
                   xz: np.ndarray, yz: np.ndarray) -> np.ndarray:
    """Dominant eigenvector of each 3x3 covariance, by power iteration (elementwise
    arithmetic: cheaper than a LAPACK call per frame, and exact whatever the batch).
    A few rows (streaming) in Python floats: the same operations in the same order, so
    the same bits, without numpy's cost per call."""
    if len(xx) <= FEW_ROWS:
        return _principal_axis_py(xx, yy, zz, xy, xz, yz)
    # the covariance's columns (3, 3, n): cov[:, j] is column j of every frame's matrix,
    # so that the three components of a product take one call per term
    cov = np.stack([np.stack([xx, xy, xz]), np.stack([xy, yy, yz]), np.stack([xz, yz, zz])],
                   axis=1)
    # start from the covariance's column with the largest diagonal: never orthogonal to
    # the dominant axis in practice
    big = np.argmax(np.stack([xx, yy, zz]), axis=0)
    v = cov[:, big, np.arange(len(big))]  # (3, n)
    for _ in range(4):
        v = cov[:, 0] * v[0] + cov[:, 1] * v[1] + cov[:, 2] * v[2]
        sq = v * v
        norm = np.sqrt(sq[0] + sq[1] + sq[2])
        v /= np.where(norm > 0, norm, 1.0)
    return np.ascontiguousarray(v.T)


def _principal_axis_py(xx: np.ndarray, yy: np.ndarray, zz: np.ndarray, xy: np.ndarray,
                       xz: np.ndarray, yz: np.ndarray) -> np.ndarray:
    out = []
    for a, b, c, d, e, f in zip(xx.tolist(), yy.tolist(), zz.tolist(), xy.tolist(),
                                xz.tolist(), yz.tolist(), strict=True):
        # (np.argmax: the first of equal maxima)
        if a >= b and a >= c:
            vx, vy, vz = a, d, e
        elif b >= c:
            vx, vy, vz = d, b, f
        else:
            vx, vy, vz = e, f, c
        for _ in range(4):
            vx, vy, vz = (a * vx + d * vy + e * vz, d * vx + b * vy + f * vz,
                          e * vx + f * vy + c * vz)
            norm = math.sqrt(vx * vx + vy * vy + vz * vz)
            if not norm > 0:
                norm = 1.0
            vx, vy, vz = vx / norm, vy / norm, vz / norm
        out.append((vx, vy, vz))
    return np.array(out, dtype=np.float64).reshape(-1, 3)
