"""Tremor: episodes of rhythmic 3-12 Hz oscillation from short-window spectra.

Frames of ``tremor_window_s`` every ``tremor_hop_s`` of the band-passed, decimated
(~50 Hz) signal are projected on their principal axis (a tremor oscillates along one axis
of the forearm, mostly pronation-supination) and Fourier transformed. A frame is
*tremor-like* when its spectrum has one sharp, prominent peak in 3-12 Hz that is not the
harmonic of a slower rhythm (walking's step, scratching's stroke). The gyroscope is used
when present: wrist rotation shows mild rest tremor far above its noise, where the
acceleration is only a few mg (``../shared/real/README.md``). Frames containing a jerk are
neutral: an isolated pulse has a broad spectrum and must not start or end an episode.
An episode needs several consecutive tremor-like frames with a steady frequency (several
cycles); it ends after a few non-tremor frames. Its frequency is the mean of the frames'
parabolically interpolated peaks.

Here: :class:`TremorTracker`, the stage: the stream in, each frame's measurements and its
verdict. The decimated stream and the frames' projection are in ``dsp/tremor_frames.py``,
the spectral measurements in ``dsp/tremor_spectra.py``, the mean spectrum of the last
frames in ``dsp/tremor_accum.py``, the episodes and their decisions in
``dsp/tremor_episodes.py``.
"""

from __future__ import annotations

import numpy as np

from .config import AnalyzerConfig
from .filters import butter
from .tremor_accum import SpectrumAverage
from .tremor_episodes import Episode, Episodes
from .tremor_frames import FrameSource
from .tremor_spectra import (
    amp_at,
    band_bins,
    local_max,
    low_fraction,
    main_lobe,
    period_cv,
    power,
    spectral,
    sum_down,
)
from .types import Event, Retraction

# Not a tunable (no result depends on it): a call handles up to FRAMES_PER_CALL frames
# (offline: fewer, larger numpy calls). (numpy's FFT transforms each row on its own, so a
# frame's spectrum does not depend on how many frames a call holds:
# tests/test_dsp_tremor.py checks it.) Every tunable is in AnalyzerConfig (the tremor
# section), with its reason.
FRAMES_PER_CALL = 1024


class TremorTracker:
    """The tremor stage: the band-passed, decimated stream in, frames every hop, each
    frame's spectral measurements and verdict, the verdicts to :class:`Episodes`."""

    def __init__(self, cfg: AnalyzerConfig, fs: float, has_gyro: bool) -> None:
        self.cfg = cfg
        self.fs = fs
        self.has_gyro = has_gyro
        # decimate to at least tremor_rate_hz (never below it: 12 Hz tremor must fit)
        self.dec = max(1, int(fs // cfg.tremor_rate_hz))
        self.fs_t = fs / self.dec
        hi = min(cfg.tremor_lp_hz, cfg.tremor_max_cut_frac * self.fs_t)
        # the acceleration arrives high-passed already (the jerk stage's 1 Hz high-pass):
        # only the anti-alias low-pass is left to do
        self.bp_acc = butter(2, hi, "lowpass", fs, 3)
        self.bp_gyr = butter(2, (cfg.tremor_hp_hz, hi), "bandpass", fs, 3) if has_gyro else None
        self.hop = max(1, round(cfg.tremor_hop_s * self.fs_t))
        self.win = max(8, round(cfg.tremor_window_s * self.fs_t))
        self.nfft = max(cfg.tremor_nfft, 1 << (self.win - 1).bit_length())
        self.hann = np.hanning(self.win + 2)[1:-1]
        self.src = FrameSource(2 if has_gyro else 1, self.win, keep=self.win + 4 * self.hop + 2)
        self._spiky_tail = np.zeros(self.dec - 1, dtype=bool)
        self.freqs = np.fft.rfftfreq(self.nfft, 1 / self.fs_t)
        lo, hi_b = cfg.tremor_band_hz
        pad_lo, pad_hi = cfg.tremor_search_pad_hz
        self.search = band_bins(self.freqs, lo - pad_lo, hi_b + pad_hi)
        # the reference band of prominence and concentration: the analysis band
        self.total = band_bins(self.freqs, cfg.tremor_hp_hz, hi)
        # the mean spectrum's tests read no bin above the reference band and the search
        # band's peak lobes: it is averaged up to there
        self.avg_bins = min(len(self.freqs), max(self.total.stop,
                                                 self.search.stop + main_lobe(self.nfft, self.win)))
        self.next_frame_end = 0  # decimated index (exclusive) of the next frame's end
        self.episodes = Episodes(cfg)
        # weak steady lines: the mean normalised spectrum of the last frames
        self.avg = SpectrumAverage(round(cfg.tremor_accum_s / cfg.tremor_hop_s) + 1)
        self.trace: list[tuple[float, ...]] | None = None  # set to [] to record frames

    # ------------------------------------------------------------------ stream
    def new_segment(self, gi0: int, gap: tuple[float, float] | None = None) -> None:
        """A new segment starts at sample gi0; ``gap`` is the data gap before it."""
        if gap is not None:
            self.episodes.add_gap(gap)
        self.bp_acc.reset()
        if self.bp_gyr is not None:
            self.bp_gyr.reset()
        self.avg.reset()
        d0 = -(-gi0 // self.dec)  # first kept decimated index in the new segment
        # a frame needs the running sum just before its window: start one sample later
        self.next_frame_end = d0 + self.win + 1

    def frames_ready(self, gi_end: int) -> int:
        """Frames that samples up to ``gi_end`` (exclusive) complete, from those processed
        so far (within the current segment)."""
        have = -(-gi_end // self.dec)  # decimated samples kept by then
        if have < self.next_frame_end:
            return 0
        return (have - self.next_frame_end) // self.hop + 1

    def end_segment(self) -> list[Event | Retraction]:
        return []  # an episode may bridge a short disconnect (tremor_bridge_s)

    def finish(self) -> list[Event | Retraction]:
        return self.episodes.close()

    @property
    def ep(self) -> Episode | None:
        """The running episode."""
        return self.episodes.ep

    def seen_between(self, t0: float, t1: float) -> bool:
        """Whether a confirmed tremor ran at some time in (t0, t1)."""
        return self.episodes.seen_between(t0, t1)

    def process(self, gi0: int, t: np.ndarray, acc: np.ndarray, gyro: np.ndarray | None,
                filled: np.ndarray, spiky: np.ndarray) -> list[Event | Retraction]:
        """``acc``: the acceleration high-passed at ``tremor_hp_hz`` (gravity removed)."""
        xa = self.bp_acc(acc)
        xg = self.bp_gyr(gyro) if (self.bp_gyr is not None and gyro is not None) else None
        dec = self.dec
        first = (-gi0) % dec  # local index of the first kept sample
        m = len(range(first, len(t), dec))
        # a kept sample is "spiky" if any of the dec samples up to it was (carried over
        # piece boundaries): samples of a burst make their frames neutral unless the frame
        # is plainly tremor, since a pulse has a broad spectrum
        ext = np.concatenate([self._spiky_tail, spiky.astype(bool, copy=False)])
        tr = ext[dec - 1 + first:: dec][:m].copy()
        for j in range(1, dec):
            tr |= ext[dec - 1 + first - j:: dec][:m]
        self._spiky_tail = ext[len(ext) - (dec - 1):]
        if m == 0:
            return []
        keep = slice(first, len(t), dec)
        # (the filters' outputs are transposed views: their rows are the axes)
        xs = [xa.T[:, keep]] + ([xg.T[:, keep]] if xg is not None else [])
        src = self.src
        if src.n == 0:
            src.start = (gi0 + first) // dec
        src.append(t[keep], xs, filled[keep], tr)
        if self.next_frame_end > src.end:
            return []
        ends = np.arange(self.next_frame_end, src.end + 1, self.hop)
        self.next_frame_end = int(ends[-1]) + self.hop
        return self._frames(ends)

    # ------------------------------------------------------------------ frames
    def _frames(self, ends: np.ndarray) -> list[Event | Retraction]:
        out: list[Event | Retraction] = []
        for a in range(0, len(ends), FRAMES_PER_CALL):
            out += self._batch(ends[a:a + FRAMES_PER_CALL])
        return out

    def _batch(self, ends: np.ndarray) -> list[Event | Retraction]:
        cfg = self.cfg
        n = len(ends)
        gyro = self.src.sensors == 2
        dens_gyr = np.full(n, np.nan)
        y_all, yw, sums = self.src.project(ends, self.hop, self.hann)
        if not gyro:
            y = y_all
            pa = p_dec = power(yw, self.nfft)  # (p_dec: the spectra that decide)
            f_peak, prom, conc, sub, amp_acc, snr, dens_acc, med = spectral(
                pa, self.hann, self.nfft, self.freqs, self.search, self.total, cfg)
            strong = amp_acc >= cfg.tremor_min_g
        else:
            # the gyroscope decides; the accelerometer only gives the amplitude in g. Its
            # white noise is far below any movement, so the median bin is the movement's,
            # not a noise floor to take out (and the period CV keeps no noise correction:
            # with no floor, snr is unbounded). Both in one set of calls (rows: acc, gyr)
            y = y_all[n:]
            both = power(yw, self.nfft)
            pa, pg = both[:n], both[n:]
            p_dec = pg
            spec = spectral(both, self.hann, self.nfft, self.freqs, self.search, self.total,
                            cfg, denoise=np.arange(2 * n) < n)
            fa, pra, ca, sa, ama, sna, dens_acc, _ = (x[:n] for x in spec)
            f_peak, prom, conc, sub, amp_dps, snr, dens_gyr, med = (x[n:] for x in spec)
            acc_only = (fa, pra, ca, sa, ama, sna)
            amp_acc = amp_at(pa, self.hann, self.nfft, self.freqs, f_peak)
            strong = amp_dps >= cfg.tremor_min_dps
        fill = sums[self.src.rows_fill] / self.win
        # a pulse in the window (a jerk, a knock): burst samples, or a high crest factor
        yt = y.T
        crest = np.abs(y).max(axis=1) / np.maximum(
            np.sqrt(sum_down(np.multiply(yt, yt, out=np.empty(yt.shape))) / y.shape[1]), 1e-12)
        trans = (sums[self.src.rows_fill + 1] > 0) | (crest > cfg.tremor_max_crest)
        t_end = self.src.times(ends - 1)
        t_start = self.src.times(ends - self.win)
        peaked = (prom >= cfg.tremor_prominence) & (conc >= cfg.tremor_concentration)
        if not gyro:
            # a line far above the accelerometer's broadband floor is a rhythm even when a
            # concurrent voluntary movement carries most of the power (tremor goes on during
            # a reach). Not for the gyroscope: its floor is so low that any movement makes a
            # high peak there
            peaked |= ((prom >= cfg.tremor_strong_prominence)
                       & (conc >= cfg.tremor_strong_concentration))
        # the accelerometer's floor far above any sensor's noise is a movement's own
        # broadband spectrum: a rhythm there (brushing teeth) is not told apart from the
        # movement. Such a frame confirms nothing; it holds a running episode only if its
        # peak stays at the episode's frequency (a tremor goes on during a movement)
        masked = dens_acc > cfg.tremor_max_floor_g
        usable = (fill <= cfg.tremor_max_filled) & ~masked & (crest <= cfg.tremor_max_crest)
        ok = (peaked & (sub < cfg.tremor_subharmonic) & strong & usable
              & (f_peak >= cfg.tremor_band_hz[0]) & (f_peak <= cfg.tremor_band_hz[1]))
        if gyro:
            # with a gyroscope, a line in the acceleration counts too when the rotation
            # rate shows it (at the hold level): a tremor during a voluntary movement,
            # whose rotation swamps the gyroscope's spectrum but not the acceleration's
            # line. A rhythm that does not rotate the wrist stays out
            fa, pra, ca, sa, ama, sna = acc_only
            by_acc = (~ok & usable
                      & (((pra >= cfg.tremor_prominence) & (ca >= cfg.tremor_concentration))
                         | ((pra >= cfg.tremor_strong_prominence)
                            & (ca >= cfg.tremor_strong_concentration)))
                      & (sa < cfg.tremor_subharmonic) & (ama >= cfg.tremor_min_g)
                      & (fa >= cfg.tremor_band_hz[0]) & (fa <= cfg.tremor_band_hz[1]))
            if by_acc.any():
                # (med: the gyroscope rows' median bin, from spectral above)
                ka = np.rint(fa / (self.freqs[1] - self.freqs[0])).astype(int)
                turns = pg[np.arange(n), local_max(pg, ka, 1)] / np.maximum(med, 1e-30)
                by_acc &= turns >= cfg.tremor_hold_prominence
            if by_acc.any():
                f_peak = np.where(by_acc, fa, f_peak)
                prom = np.where(by_acc, pra, prom)
                amp_acc = np.where(by_acc, ama, amp_acc)
                snr = np.where(by_acc, sna, snr)
                ok = ok | by_acc
        # a weak, steady line: the same tests on the mean of the last frames' normalised
        # spectra (dsp/tremor_accum.py), whose noise bins spread far less
        # (the last column counts frames with a pulse: a jerk's broad spectrum, kept in
        # the mean for its whole span, must not pass for a line there)
        nb = self.avg_bins
        q = self.avg.slots(n, nb + 1)
        np.divide(p_dec[:, :nb], np.maximum(med, 1e-30)[:, None], out=q[:, :nb])
        q[:, nb] = trans
        q_avg = self.avg.average()
        have = np.isfinite(q_avg[:, 0]) & (q_avg[:, nb] == 0)
        q_avg = q_avg[:, :nb]
        f_w = np.full(n, np.nan)
        prom_w = np.zeros(n)
        conc_w = np.zeros(n)
        sub_w = np.ones(n)
        if have.any():
            # the mean spectrum's prominence (as spectral measures it: its tallest
            # in-band bin over its median), for every frame; the rest of its tests only
            # where it can pass (the streaming cost)
            qa = q_avg if have.all() else q_avg[have]
            mk = (self.total.stop - self.total.start) // 2
            med_q = np.partition(qa[:, self.total], mk, axis=1)[:, mk]
            prom_w[have] = qa[:, self.search].max(axis=1) / np.maximum(med_q, 1e-30)
        cand = have & ~ok & usable & (prom_w >= cfg.tremor_accum_prominence)
        if cand.any():
            ci = np.flatnonzero(cand)
            f_w[ci], _, conc_w[ci], sub_w[ci], *_ = spectral(
                q_avg[ci], self.hann, self.nfft, self.freqs, self.search, self.total, cfg,
                floor_ratio=1.0)
            amp_w = amp_at(pa[ci], self.hann, self.nfft, self.freqs, f_w[ci])
            if gyro:
                strong_w = amp_at(pg[ci], self.hann, self.nfft, self.freqs,
                                  f_w[ci]) >= cfg.tremor_min_dps
            else:
                strong_w = amp_w >= cfg.tremor_min_g
            # ... where this frame itself still shows the line at the hold level: the
            # mean remembers a line for the whole span after it ended
            kw = np.rint(f_w[ci] / (self.freqs[1] - self.freqs[0])).astype(int)
            own = (p_dec[ci, local_max(p_dec[ci], kw, 1)]
                   / np.maximum(med[ci], 1e-30))
            weak_c = ((own >= cfg.tremor_hold_prominence)
                      & (conc_w[ci] >= cfg.tremor_concentration)
                      & (sub_w[ci] < cfg.tremor_subharmonic)
                      & (f_w[ci] >= cfg.tremor_band_hz[0]) & (f_w[ci] <= cfg.tremor_band_hz[1])
                      & strong_w)
            if weak_c.any():
                w = ci[weak_c]
                f_peak = f_peak.copy()
                amp_acc = amp_acc.copy()
                f_peak[w] = f_w[w]
                amp_acc[w] = amp_w[weak_c]
                ok = ok.copy()
                ok[w] = True
        # the arm at rest: little power below the band (the rest tremor hint), and the
        # rhythm's regularity: read of tremor-like frames only (episodes are made of them)
        rest = np.full(n, np.nan)
        pcv = np.full(n, np.nan)
        if ok.any():
            rest[ok] = low_fraction(pa[ok], self.freqs, cfg.rest_low_band_hz)
            # the rhythm's own variability: what the sensor noise adds is taken out, so
            # that a weak tremor in a noisy sensor still reads as regular
            raw = period_cv(y[ok], f_peak[ok], self.fs_t, self.nfft, cfg,
                            prom[ok] >= cfg.tremor_short_prominence)
            noise = cfg.tremor_pcv_noise / (f_peak[ok] * np.sqrt(snr[ok]))
            pcv[ok] = np.sqrt(np.maximum(raw * raw - noise * noise, 0.0))
        if self.trace is not None:
            for i in range(n):
                self.trace.append((float(t_end[i]), float(f_peak[i]), float(prom[i]),
                                   float(conc[i]), float(sub[i]), float(amp_acc[i]),
                                   float(fill[i]), float(trans[i]), float(ok[i]),
                                   float(pcv[i]), float(crest[i]), float(dens_acc[i]),
                                   float(dens_gyr[i]) if gyro else np.nan,
                                   float(f_w[i]), float(prom_w[i]), float(conc_w[i]),
                                   float(sub_w[i])))
        return self.episodes.decide(t_start_s=t_start, t_end_s=t_end, ok=ok, f_peak_hz=f_peak,
                                    amp_g=amp_acc, rest=rest, pcv=pcv, prom=prom,
                                    acc_prom=prom_w, masked=masked, trans=trans)
