"""Spectral measurements of tremor frames, one row per frame.

The power spectra of projected frames (:func:`power`); a spectrum's fundamental, its
prominence over the median bin, the share of the power in its line, the subharmonic ratio,
amplitude and floor (:func:`spectral`); the amplitude at a given frequency
(:func:`amp_at`); the share of the power below the tremor band (:func:`low_fraction`, the
rest tremor hint); the cycle-to-cycle variability of a band-limited frame
(:func:`period_cv`).

Every function treats each row on its own, and every sum over a row adds its terms in the
same order whatever the number of rows (:func:`sum_down`): a frame's values never depend on
how many frames came in the same call, so the chunking of the input changes nothing.
"""

from __future__ import annotations

import numpy as np

from .config import AnalyzerConfig
from .tremor_frames import FEW_ROWS


def band_bins(freqs: np.ndarray, lo_hz: float, hi_hz: float) -> slice:
    """The bins from lo_hz to hi_hz (freqs ascend: a band is a run of bins)."""
    idx = np.flatnonzero((freqs >= lo_hz) & (freqs <= hi_hz))
    return slice(int(idx[0]), int(idx[-1]) + 1)


def main_lobe(nfft: int, win: int) -> int:
    """Half-width in bins of a Hann window's main lobe (2 bins of the window's own length)."""
    return max(1, round(2.0 * nfft / win))


def _clip_cols(k: np.ndarray, n: int) -> np.ndarray:
    """Bin indices clipped to [0, n) (as np.clip, without its cost on small arrays)."""
    return np.minimum(np.maximum(k, 0), n - 1)


def sum_down(xt: np.ndarray) -> np.ndarray:
    """Sum of each row of ``xt.T`` (the rows' terms in the rows of ``xt``), added left to
    right whatever the number of rows. The order in which numpy's ``sum(axis=1)`` adds a
    row's terms depends on how the rows lie in memory (pairwise along a contiguous row, one
    after another when it iterates across them), and the frames come in either layout, in
    batches of any size: a frame's decision must not depend on that. A reduction along
    the slow axis of a C-contiguous ``xt`` adds row after row, never pairwise, as numpy
    documents for ``sum``: the same additions in the same order as
    ``np.cumsum(xt.T, axis=1)[:, -1]``; but not with one column, whose only axis left is
    the fast one: few columns take the running sum. (Callers build ``xt`` transposed
    where they can, instead of copying a transpose; any other layout is copied here.)"""
    xt = np.ascontiguousarray(xt)  # (free when it is already: the order above needs it)
    if xt.shape[1] <= FEW_ROWS or len(xt) == 0:
        return np.cumsum(xt, axis=0)[-1] if len(xt) else np.zeros(xt.shape[1])
    return np.add.reduce(xt, axis=0)


def power(yw: np.ndarray, nfft: int) -> np.ndarray:
    """Power spectra of projected, windowed frames (rows)."""
    p = np.abs(np.fft.rfft(yw, nfft, axis=1))
    return np.square(p, out=p)  # (what ** 2 computes, in place)


def _refine(p: np.ndarray, kk: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """Parabolic interpolation of each row's peak at bin kk, on log power."""
    # the three bins of every row in one (3, n) array: one call each for all of them
    cols = np.stack([np.maximum(kk - 1, 0), kk, np.minimum(kk + 1, p.shape[1] - 1)])
    lmr = np.maximum(p[np.arange(len(p))[None, :], cols], 1e-30)
    left, mid, right = np.log(lmr, out=lmr)
    den = left - 2 * mid + right
    curved = np.abs(den) > 1e-12
    safe = np.where(curved, den, 1.0)
    delta = np.where(curved, 0.5 * (left - right) / safe, 0.0)
    return freqs[kk] + np.minimum(np.maximum(delta, -0.5), 0.5) * (freqs[1] - freqs[0])


def local_max(p: np.ndarray, centre: np.ndarray, half_width: int) -> np.ndarray:
    """Bin of the largest power within +/- half_width bins of each row's centre."""
    cols = _clip_cols(centre[:, None] + np.arange(-half_width, half_width + 1)[None, :],
                      p.shape[1])
    rows = np.arange(len(p))
    return cols[rows, np.argmax(p[rows[:, None], cols], axis=1)]


def spectral(p: np.ndarray, hann: np.ndarray, nfft: int, freqs: np.ndarray,
             search: slice, total: slice, cfg: AnalyzerConfig,
             denoise: bool | np.ndarray = True, floor_ratio: float = np.log(2.0)
             ) -> tuple[np.ndarray, ...]:
    """Fundamental frequency, prominence, concentration, subharmonic ratio, amplitude,
    the line's signal-to-noise ratio within +/- tremor_pcv_half_band_hz, the floor as a
    spectral density, and the median bin.

    Acceleration weighs harmonics by frequency squared, so a tremor's second harmonic
    can be the strongest peak: when half its frequency holds comparable power inside the
    band, that is the fundamental. Below the band, it marks the harmonic of a slower
    rhythm (gait, scratching), reported as the subharmonic ratio.
    """
    n = len(p)
    rows = np.arange(n)
    df = freqs[1] - freqs[0]
    band_lo_hz = cfg.tremor_band_hz[0]
    sub_lo = cfg.tremor_sub_min_hz
    kk = k_top = search.start + np.argmax(p[:, search], axis=1)  # (k_top: the tallest bin)
    f_peak = _refine(p, kk, freqs)
    lobe = main_lobe(nfft, len(hann))

    def lobe_energy(k: np.ndarray, r: np.ndarray = rows) -> np.ndarray:
        cols = _clip_cols(k[None, :] + np.arange(-lobe, lobe + 1)[:, None], p.shape[1])
        return sum_down(p[r[None, :], cols])

    e_peak = lobe_energy(kk)
    # power near half and a third of the peak frequency
    kh = local_max(p, np.rint((f_peak / 2) / df).astype(int), 1)
    k3 = local_max(p, np.rint((f_peak / 3) / df).astype(int), 1)
    top = np.maximum(p[rows, kk], 1e-30)
    ph = p[rows, kh] / top
    p3 = p[rows, k3] / top
    fund = (ph >= cfg.tremor_fundamental_ratio) & (f_peak / 2 >= band_lo_hz)
    if fund.any():
        # (measured on those rows only: each row's values are its own)
        fi = np.flatnonzero(fund)
        e_peak[fi] += lobe_energy(kh[fi], fi)
        f_peak[fi] = _refine(p[fi], kh[fi], freqs)
        kk = np.where(fund, kh, kk)
    sub = np.where(fund, 0.0, np.maximum(np.where(f_peak / 2 >= sub_lo, ph, 0.0),
                                         np.where(f_peak / 3 >= sub_lo, p3, 0.0)))
    pt = p[:, total]
    mk = pt.shape[1] // 2
    med = np.partition(pt, mk, axis=1)[:, mk]
    prom = np.maximum(p[rows, kk], p[rows, k_top] * fund) / np.maximum(med, 1e-30)
    # the share of the power above the sensor's white-noise floor: a weak line in a noisy
    # sensor holds little of the total, but most of what is not noise. The floor is the
    # median bin over ln 2 (a noise bin's power is exponentially distributed; averaged
    # spectra: nearly symmetric about its mean, floor_ratio 1); movement spectra stand far
    # above it and barely change
    # (``denoise`` per row: rows of several sensors in one call)
    if isinstance(denoise, np.ndarray):
        floor = np.where(denoise, med / floor_ratio, 0.0)
    else:
        floor = med / floor_ratio if denoise else np.zeros_like(med)
    above = np.subtract(pt.T, floor[None, :], out=np.empty((pt.shape[1], n)))
    e_tot = sum_down(np.maximum(above, 0.0, out=above))
    line = np.maximum(e_peak - (2 * lobe + 1) * floor, 0.0)
    conc = line / np.maximum(e_tot, 1e-30)
    snr = np.maximum(line, 1e-30) / np.maximum(
        floor * (2 * cfg.tremor_pcv_half_band_hz / df), 1e-30)
    # a sinusoid's amplitude from its main lobe's energy (Parseval): sqrt(2 E / sum w^2)
    amp = np.sqrt(2.0 * (2.0 * e_peak / nfft) / float((hann ** 2).sum()))
    # the floor as a one-sided spectral density (units per sqrt(Hz)): a noise bin's mean
    # power is S fs sum(w^2) / 2, and the median bin is ln 2 of that mean
    fs = df * nfft
    dens = np.sqrt(2.0 * (med / np.log(2.0)) / (fs * float((hann ** 2).sum())))
    return f_peak, prom, conc, sub, amp, snr, dens, med


def amp_at(p: np.ndarray, hann: np.ndarray, nfft: int, freqs: np.ndarray,
           f: np.ndarray) -> np.ndarray:
    """Amplitude of each frame's spectrum ``p`` at frequency ``f``."""
    n = len(p)
    df = freqs[1] - freqs[0]
    kk = _clip_cols(np.rint(f / df).astype(int), p.shape[1])
    lobe = main_lobe(nfft, len(hann))
    cols = _clip_cols(kk[None, :] + np.arange(-lobe, lobe + 1)[:, None], p.shape[1])
    e = sum_down(p[np.arange(n)[None, :], cols])
    return np.sqrt(2.0 * (2.0 * e / nfft) / float((hann ** 2).sum()))


def low_fraction(p: np.ndarray, freqs: np.ndarray, band: tuple[float, float]
                 ) -> np.ndarray:
    """Share of the frame's power (from band[0] up) in ``band``, below tremor (voluntary
    movement); 0 = arm at rest."""
    a = int(np.searchsorted(freqs, band[0]))  # the first bin >= band[0]
    k = int(np.searchsorted(freqs, band[1])) - a  # the bins of the band: the first k
    # the band's sum is the first k terms of the whole's: one pass, continued from it
    pt = p[:, a:].T.copy()  # (written into below: never a view of the caller's p)
    low = sum_down(pt[:k])
    if k == 0:
        return low / np.maximum(sum_down(pt), 1e-30)
    pt[k - 1] = low
    return low / np.maximum(sum_down(pt[k - 1:]), 1e-30)


def period_cv(y: np.ndarray, f0: np.ndarray, fs: float, nfft: int, cfg: AnalyzerConfig,
              clear: np.ndarray) -> np.ndarray:
    """Cycle-to-cycle variability: the CV of the periods between upward zero crossings
    of each frame band-limited to f0 +/- tremor_pcv_half_band_hz. Tremor: < 0.09;
    scratching, "rhythmic but irregular": 0.07-0.2 (dev set)."""
    n, w = y.shape
    spec = np.fft.rfft(y, nfft, axis=1)
    freqs = np.fft.rfftfreq(nfft, 1 / fs)
    spec[np.abs(freqs[None, :] - f0[:, None]) > cfg.tremor_pcv_half_band_hz] = 0
    z = np.fft.irfft(spec, nfft, axis=1)[:, :w]
    edge = w // 10  # the band-limited frame rings at its ends: a tenth each side is cut
    z = np.ascontiguousarray(z[:, edge: w - edge])
    out = np.full(n, np.nan)
    # the upward zero crossings of every frame at once (in row-major order: each frame's
    # in time order, bounds[i]:bounds[i + 1] of them the frame i's)
    r, c = np.nonzero((z[:, :-1] < 0) & (z[:, 1:] >= 0))
    bounds = np.searchsorted(r, np.arange(n + 1))
    # sub-sample crossing positions by linear interpolation
    zc, zn = z[r, c], z[r, c + 1]
    x = c + zc / (zc - zn)
    periods = np.diff(x)  # (across two frames' crossings: never read)
    if clear.any():
        # each cycle's peak: the largest |z| from its crossing to the next one
        peaks = np.maximum.reduceat(np.abs(z).ravel(), r * z.shape[1] + c)
    for i in np.flatnonzero(np.diff(bounds) >= cfg.tremor_pcv_min_crossings).tolist():
        a, b = int(bounds[i]), int(bounds[i + 1])
        per = periods[a: b - 1].copy()
        # of a clear line, only the cycles that stand out: where a short episode fades in
        # or out within the window, the crossings of its faint cycles are the noise's.
        # (Not of a faint one: in noise, the strongest cycles are the noise's own)
        if clear[i]:
            amp = peaks[a: b - 1]
            per = per[amp >= cfg.tremor_pcv_min_cycle_frac * amp.max()]
        if len(per) < cfg.tremor_pcv_min_crossings - 1:
            continue
        out[i] = float(per.std() / per.mean())
    return out
