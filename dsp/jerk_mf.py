"""A bank of filters matched to a jerk's pulse, for jerks too faint for the energy detector.

A jerk is a smooth, muscle-driven acceleration pulse of 40-300 ms: biphasic when the limb
moves and stops, triphasic when it moves out and back (Shibasaki & Hallett 2005; the
limb's movement outlasts the 10-100 ms EMG burst). The first and second derivatives of a
Gaussian span both, and their mixtures through the pair; the signal's direction is free
(all three axes). In white noise of per-axis variance sigma^2 the energy of the two
projections over the three axes, divided by sigma^2, is chi-square with 6 degrees of
freedom: its threshold fixes the false-alarm rate whatever the noise level.
"""

from __future__ import annotations

import math

import numpy as np

from .filters import windows


class MatchedFilterBank:
    """Smooth biphasic and triphasic pulses (first and second derivatives of a Gaussian)
    of the given durations, unit energy, as one matrix: the statistic of a duration is
    the energy of the signal's projection on both, all three axes, in noise variances
    (chi-square with 6 degrees of freedom in white noise)."""

    def __init__(self, durations_s: tuple[float, ...], fs: float) -> None:
        self.durations_s = durations_s
        sig = [max(d / 5.0 * fs, 0.5) for d in durations_s]  # a pulse lasts ~5 sigma
        self.half = max(1, int(np.ceil(3.0 * max(sig))))
        self.length = 2 * self.half + 1
        x = np.arange(-self.half, self.half + 1, dtype=float)
        cols = []
        for s in sig:
            support = np.abs(x) <= 3.0 * s + 0.5
            gauss = np.exp(-0.5 * (x / s) ** 2) * support
            for k in (1, 2):  # derivatives: biphasic, triphasic
                y = -x / s ** 2 * gauss if k == 1 else (x ** 2 / s ** 4 - 1 / s ** 2) * gauss
                y = y - float(y[support].mean()) * support  # zero mean: drift passes by
                y = y / np.sqrt(float(y @ y))
                cols.append(y)
        # (an odd and an even template on a symmetric grid are orthogonal: each pair's
        # two projections are independent in white noise)
        self.templates = np.stack(cols, axis=1)  # (length, 2 * n_durations)

    def stat(self, x: np.ndarray, sigma: float) -> np.ndarray:
        """The statistic per lag (largest over durations) for a stretch x (n, 3)."""
        proj = windows(x, self.length) @ self.templates
        e = np.einsum("mak,mak->mk", proj, proj)
        return (e[:, 0::2] + e[:, 1::2]).max(axis=1) / sigma ** 2

    def best(self, x: np.ndarray, sigma: float) -> tuple[float, float, float, int]:
        """(largest statistic over lags and durations, peak g of the fitted pulse with
        the noise's share of its energy removed, its duration s, its lag) for a stretch
        x (n, 3); the lag is the template's first sample in x."""
        win = windows(x, self.length)  # (m, 3, length)
        proj = win @ self.templates  # (m, 3, 2k)
        e = np.einsum("mak,mak->mk", proj, proj)  # energy per template
        pair = e[:, 0::2] + e[:, 1::2]  # (m, k)
        m, k = np.unravel_index(int(np.argmax(pair)), pair.shape)
        chi2 = float(pair[m, k]) / sigma ** 2
        # the fitted pulse: both projections times their templates
        c = proj[m][:, 2 * k: 2 * k + 2]  # (3, 2)
        fit = c @ self.templates[:, 2 * k: 2 * k + 2].T  # (3, length)
        peak = float(np.sqrt((fit * fit).sum(axis=0)).max())
        # noise adds ~6 sigma^2 to the projections' energy: scale it out
        peak *= math.sqrt(max(0.0, 1.0 - 6.0 * sigma ** 2 / max(float(pair[m, k]), 1e-18)))
        return chi2, peak, float(self.durations_s[k]), int(m)
