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
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .config import AnalyzerConfig
from .filters import butter
from .tremor_accum import SpectrumAverage
from .tremor_frames import FEW_ROWS, FrameSource
from .types import Event, Retraction

# Not tunables (no result depends on them): a call handles up to FRAMES_PER_CALL frames
# (offline: fewer, larger numpy calls); recent episodes and gaps are kept for KEEP_RECENT
# lookups. (numpy's FFT transforms each row on its own, so a frame's spectrum does not
# depend on how many frames a call holds: tests/test_dsp_tremor.py checks it.) Every
# tunable is in AnalyzerConfig (the tremor section), with its reason.
FRAMES_PER_CALL = 1024
KEEP_RECENT = 8


@dataclass
class _Episode:
    first: int  # frame index of the first tremor-like frame
    last: int
    t_first: float
    t_last: float
    freqs: list[float] = field(default_factory=list)
    amps: list[float] = field(default_factory=list)
    rest: list[float] = field(default_factory=list)
    pcvs: list[float] = field(default_factory=list)
    proms: list[float] = field(default_factory=list)
    accs: list[float] = field(default_factory=list)  # prominence in the mean spectrum
    misses: int = 0
    neutral: int = 0
    masked: int = 0  # frames of the episode whose floor was a movement's (never reset)
    confirmed: bool = False
    id: str = ""


class TremorTracker:
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
        self.search = _bins(self.freqs, lo - pad_lo, hi_b + pad_hi)
        # the reference band of prominence and concentration: the analysis band
        self.total = _bins(self.freqs, cfg.tremor_hp_hz, hi)
        # the mean spectrum's tests read no bin above the reference band and the search
        # band's peak lobes: it is averaged up to there
        lobe = max(1, round(2.0 * self.nfft / self.win))
        self.avg_bins = min(len(self.freqs), max(self.total.stop, self.search.stop + lobe))
        self.seg_start_d = 0  # decimated index where the segment starts
        self.next_frame_end = 0  # decimated index (exclusive) of the next frame's end
        self.ep: _Episode | None = None  # the running episode
        # ended episodes waiting for a continuation (another rhythm may come between)
        self.closing: list[_Episode] = []
        self.finals: list[_Episode] = []  # recent final episodes
        self.gaps: list[tuple[float, float]] = []  # recent data gaps (disconnects)
        self.frame_no = 0
        # weak steady lines: the mean normalised spectrum of the last frames
        self.avg = SpectrumAverage(round(cfg.tremor_accum_s / cfg.tremor_hop_s) + 1)
        self.trace: list[tuple[float, ...]] | None = None  # set to [] to record frames

    # ------------------------------------------------------------------ stream
    def new_segment(self, gi0: int, gap: tuple[float, float] | None = None) -> None:
        """A new segment starts at sample gi0; ``gap`` is the data gap before it."""
        if gap is not None:
            self.gaps.append(gap)
            self.gaps = self.gaps[-KEEP_RECENT:]
        self.bp_acc.reset()
        if self.bp_gyr is not None:
            self.bp_gyr.reset()
        self.avg.reset()
        d0 = -(-gi0 // self.dec)  # first kept decimated index in the new segment
        self.seg_start_d = d0
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
        return self._close(final=True)

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
            pa = p_dec = _power(yw, self.nfft)  # (p_dec: the spectra that decide)
            f_peak, prom, conc, sub, amp_acc, snr, dens_acc, med = _spectral(
                pa, self.hann, self.nfft, self.freqs, self.search, self.total, cfg)
            strong = amp_acc >= cfg.tremor_min_g
        else:
            # the gyroscope decides; the accelerometer only gives the amplitude in g. Its
            # white noise is far below any movement, so the median bin is the movement's,
            # not a noise floor to take out (and the period CV keeps no noise correction:
            # with no floor, snr is unbounded). Both in one set of calls (rows: acc, gyr)
            y = y_all[n:]
            both = _power(yw, self.nfft)
            pa, pg = both[:n], both[n:]
            p_dec = pg
            spec = _spectral(both, self.hann, self.nfft, self.freqs, self.search, self.total,
                             cfg, denoise=np.arange(2 * n) < n)
            fa, pra, ca, sa, ama, sna, dens_acc, _ = (x[:n] for x in spec)
            f_peak, prom, conc, sub, amp_dps, snr, dens_gyr, med = (x[n:] for x in spec)
            acc_only = (fa, pra, ca, sa, ama, sna)
            amp_acc = _amp_at(pa, self.hann, self.nfft, self.freqs, f_peak)
            strong = amp_dps >= cfg.tremor_min_dps
        fill = sums[self.src.rows_fill] / self.win
        # a pulse in the window (a jerk, a knock): burst samples, or a high crest factor
        yt = y.T
        crest = np.abs(y).max(axis=1) / np.maximum(
            np.sqrt(_sum_down(np.multiply(yt, yt, out=np.empty(yt.shape))) / y.shape[1]), 1e-12)
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
                mk = (self.total.stop - self.total.start) // 2
                med_g = np.partition(pg[:, self.total], mk, axis=1)[:, mk]
                ka = np.rint(fa / (self.freqs[1] - self.freqs[0])).astype(int)
                turns = pg[np.arange(n), _local_max(pg, ka, 1)] / np.maximum(med_g, 1e-30)
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
            # the mean spectrum's prominence (as _spectral measures it: its tallest
            # in-band bin over its median), for every frame; the rest of its tests only
            # where it can pass (the streaming cost)
            qa = q_avg if have.all() else q_avg[have]
            mk = (self.total.stop - self.total.start) // 2
            med_q = np.partition(qa[:, self.total], mk, axis=1)[:, mk]
            prom_w[have] = qa[:, self.search].max(axis=1) / np.maximum(med_q, 1e-30)
        cand = have & ~ok & usable & (prom_w >= cfg.tremor_accum_prominence)
        if cand.any():
            ci = np.flatnonzero(cand)
            f_w[ci], _, conc_w[ci], sub_w[ci], *_ = _spectral(
                q_avg[ci], self.hann, self.nfft, self.freqs, self.search, self.total, cfg,
                floor_ratio=1.0)
            amp_w = _amp_at(pa[ci], self.hann, self.nfft, self.freqs, f_w[ci])
            if gyro:
                strong_w = _amp_at(pg[ci], self.hann, self.nfft, self.freqs,
                                   f_w[ci]) >= cfg.tremor_min_dps
            else:
                strong_w = amp_w >= cfg.tremor_min_g
            # ... where this frame itself still shows the line at the hold level: the
            # mean remembers a line for the whole span after it ended
            kw = np.rint(f_w[ci] / (self.freqs[1] - self.freqs[0])).astype(int)
            own = (p_dec[ci, _local_max(p_dec[ci], kw, 1)]
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
        # the arm at rest: little power below the band (rest tremor hint)
        rest = _low_fraction(pa, self.freqs, cfg.rest_low_band_hz)
        pcv = np.full(n, np.nan)
        if ok.any():
            # the rhythm's own variability: what the sensor noise adds is taken out, so
            # that a weak tremor in a noisy sensor still reads as regular
            raw = _period_cv(y[ok], f_peak[ok], self.fs_t, self.nfft, cfg,
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
        return self._decide_frames(t_start, t_end, ok, f_peak, amp_acc, rest, pcv, prom,
                                   prom_w, masked, trans)

    def _decide_frames(self, *cols: np.ndarray) -> list[Event | Retraction]:
        """The frames' verdicts in order: episodes start, go on, end. Most frames are
        not tremor-like with no episode running and none closing, and change nothing but
        the frame count: those are skipped in one step. The rest read Python floats
        taken once (``tolist``: the same values), not element by element."""
        cfg = self.cfg
        out: list[Event | Retraction] = []
        n = len(cols[0])
        oks = np.flatnonzero(cols[2]).tolist()  # the tremor-like frames
        t_start, t_end, ok_l, f_l, amp_l, rest_l, pcv_l, prom_l, promw_l, masked_l, trans_l = (
            c.tolist() for c in cols)
        nxt = 0  # position in oks of the next tremor-like frame at or after i
        i = 0
        while i < n:
            if self.ep is None and not self.closing:
                while nxt < len(oks) and oks[nxt] < i:
                    nxt += 1
                j = oks[nxt] if nxt < len(oks) else n
                self.frame_no += j - i
                i = j
                if i == n:
                    break
            k = self.frame_no
            self.frame_no += 1
            t0 = t_start[i]
            if self.ep is not None and self._silence(self.ep.t_last, t0) > cfg.tremor_bridge_s:
                out += self._end_run()  # a long gap in the data
            if ok_l[i]:
                out += self._positive(k, t0, t_end[i], f_l[i], amp_l[i], rest_l[i], pcv_l[i],
                                      prom_l[i], promw_l[i])
            elif self.ep is not None:
                self.ep.masked += int(masked_l[i])
                if trans_l[i] or self._holds(f_l[i], prom_l[i]):
                    # neutral, but not forever: a pulse in the window, or the same rhythm
                    # still there, just under the threshold to start one
                    self.ep.neutral += 1
                else:
                    self.ep.misses += 1
                if (self.ep.misses > cfg.tremor_max_misses
                        or self.ep.neutral > cfg.tremor_max_neutral):
                    out += self._end_run()
            if self.closing:
                for c in [c for c in self.closing
                          if self._silence(c.t_last, t0) > cfg.tremor_merge_s]:
                    out += self._finalize(c)
                    self.closing.remove(c)
            i += 1
        return out

    def seen_between(self, t0: float, t1: float) -> bool:
        """Whether a confirmed tremor ran at some time in (t0, t1)."""
        eps = [*self.finals[-KEEP_RECENT:], *self.closing,
               *([self.ep] if self.ep is not None else [])]
        return any(e.confirmed and e.t_last > t0 and e.t_first < t1 for e in eps)

    # ------------------------------------------------------------------ episodes
    def _positive(self, k: int, t0: float, t1: float, f: float, amp: float, rest: float,
                  pcv: float, prom: float, acc_prom: float) -> list[Event | Retraction]:
        cfg = self.cfg
        out: list[Event | Retraction] = []
        ep = self.ep
        # the frequency may wander between consecutive tremor-like frames; after a break
        # (frames in between that were not) it must be the same tremor
        tol = cfg.tremor_freq_jump_hz if ep is not None and k - ep.last == 1 \
            else cfg.tremor_merge_freq_hz
        if ep is not None and abs(f - self._freq(ep)) > tol:
            out += self._end_run()
            ep = None
        if ep is None:
            same = [c for c in self.closing
                    if abs(f - self._freq(c)) <= cfg.tremor_merge_freq_hz
                    and self._silence(c.t_last, t0) <= cfg.tremor_merge_s]
            if same:
                ep = self.ep = same[-1]  # the same tremor after an interruption
                self.closing.remove(ep)
            else:
                ep = self.ep = _Episode(first=k, last=k, t_first=t0, t_last=t1)
        ep.last, ep.t_last, ep.misses, ep.neutral = k, t1, 0, 0
        ep.freqs.append(f)
        ep.amps.append(amp)
        ep.rest.append(rest)
        ep.pcvs.append(pcv)
        ep.proms.append(prom)
        ep.accs.append(acc_prom)
        if not ep.confirmed and len(ep.freqs) >= cfg.tremor_confirm_frames:
            ep.confirmed = True
            ep.id = f"t{round(self._start(ep) * 1000)}"
            out.append(self._event(ep, final=False))
        return out

    def _holds(self, f: float, prom: float) -> bool:
        """The running episode's rhythm goes on in a frame that is not tremor-like by
        itself (hysteresis: weaker evidence keeps an episode than starts one)."""
        ep = self.ep
        return (ep is not None and prom >= self.cfg.tremor_hold_prominence
                and abs(f - self._freq(ep)) <= self.cfg.tremor_merge_freq_hz)

    def _freq(self, ep: _Episode) -> float:
        """The episode's current frequency (it wanders)."""
        return float(np.median(ep.freqs[-self.cfg.tremor_track_frames:]))

    def _silence(self, a: float, b: float) -> float:
        """Time in (a, b) that had data: a disconnect is not evidence that tremor stopped
        (up to tremor_gap_bridge_s of it)."""
        lost = sum(max(0.0, min(b, g1) - max(a, g0)) for g0, g1 in self.gaps)
        return b - a - min(lost, self.cfg.tremor_gap_bridge_s)

    def _end_run(self) -> list[Event | Retraction]:
        """The current run stops; a confirmed one waits tremor_merge_s for a sequel."""
        ep, self.ep = self.ep, None
        if ep is None or not ep.confirmed:
            return []
        self.closing.append(ep)
        return []

    def _finalize(self, ep: _Episode) -> list[Event | Retraction]:
        cfg = self.cfg
        # rhythm: regular, or - for a small oscillation that lasts - a real tremor's
        # cycle-to-cycle wander; scratching is both irregular and vigorous (>= 0.15 g)
        # (a frame without enough zero crossings has no period CV; none at all: irregular)
        # A clear rhythm is judged on the episode's core: its frames at or above its median
        # prominence. A window that holds the fade-in or fade-out is part noise, and the
        # noise correction (from the whole window's SNR) under-corrects it, so the edge
        # frames of a short episode read irregular; scratching is irregular in every frame.
        # A faint one on all its frames: where noise sets the prominence, picking frames by
        # it would pick the noise's luckiest
        prom_med = float(np.median(ep.proms))
        core = prom_med >= cfg.tremor_short_prominence
        cvs = [c for c, p in zip(ep.pcvs, ep.proms, strict=True)
               if np.isfinite(c) and (p >= prom_med or not core)]
        pcv = float(np.median(cvs)) if cvs else np.inf
        span = ep.t_last - ep.t_first - cfg.tremor_window_s
        # (a line that stands in the mean spectrum of the last 8 s is one that white
        # noise never makes, however faint in each window)
        steady = bool(ep.accs) and float(np.median(ep.accs)) >= cfg.tremor_accum_prominence
        small_long = (float(np.median(ep.amps)) <= cfg.tremor_irregular_max_g
                      and span >= cfg.tremor_irregular_min_s
                      and (prom_med >= cfg.tremor_irregular_prominence or steady)
                      and ep.masked <= cfg.tremor_irregular_max_masked * (ep.last - ep.first + 1))
        regular = pcv <= cfg.tremor_max_period_cv or (
            small_long and pcv <= cfg.tremor_max_period_cv_small)
        # a short episode stands if its line is unmistakable (noise flukes stand 15-25x
        # over the floor, a real tremor's line hundreds of times)
        long_enough = (len(ep.freqs) >= cfg.tremor_min_frames and (
            span >= cfg.tremor_min_s or (span >= cfg.tremor_min_short_s
                                         and prom_med >= cfg.tremor_short_prominence)))
        # two rhythms interleaved in one stretch of time: the one seen longer stands
        rivals = [o for o in [*self.finals[-KEEP_RECENT:], *self.closing,
                              *([self.ep] if self.ep is not None else [])]
                  if o is not ep and len(o.freqs) > len(ep.freqs)]
        dur = max(ep.t_last - ep.t_first, 1e-9)
        shadowed = any(min(o.t_last, ep.t_last) - max(o.t_first, ep.t_first)
                       > cfg.tremor_shadow_frac * dur
                       for o in rivals)
        if regular and long_enough and not shadowed:
            self.finals.append(ep)
            return [self._event(ep, final=True)]
        return [Retraction(id=ep.id, time=round(ep.t_last, 3))]

    def _close(self, final: bool) -> list[Event | Retraction]:
        out = self._end_run()
        for c in self.closing:
            out += self._finalize(c)
        self.closing = []
        return out

    def _start(self, ep: _Episode) -> float:
        # the first tremor-like window holds the onset somewhere past its middle
        return ep.t_first + self.cfg.tremor_edge_frac * self.cfg.tremor_window_s

    def _event(self, ep: _Episode, final: bool) -> Event:
        cfg = self.cfg
        start = self._start(ep)
        end = ep.t_last - cfg.tremor_edge_frac * cfg.tremor_window_s
        f = float(np.mean(ep.freqs))
        amp = float(np.median(ep.amps))
        return Event(id=ep.id, type="tremor", start=round(start, 3),
                     end=round(max(end, start), 3), peak_g=round(amp, 4),
                     confidence=round(min(1.0, 0.5 + 0.5 * len(ep.freqs)
                                          / cfg.tremor_sure_frames), 3),
                     final=final, freq_hz=round(f, 2),
                     tremor_type=_tremor_type(f, amp, float(np.median(ep.rest)), cfg))


def _bins(freqs: np.ndarray, lo_hz: float, hi_hz: float) -> slice:
    """The bins from lo_hz to hi_hz (freqs ascend: a band is a run of bins)."""
    idx = np.flatnonzero((freqs >= lo_hz) & (freqs <= hi_hz))
    return slice(int(idx[0]), int(idx[-1]) + 1)


def _clip_cols(k: np.ndarray, n: int) -> np.ndarray:
    """Bin indices clipped to [0, n) (as np.clip, without its cost on small arrays)."""
    return np.minimum(np.maximum(k, 0), n - 1)


def _rowsum(x: np.ndarray) -> np.ndarray:
    """Sum of each row, added left to right whatever the number of rows: numpy's
    ``sum(axis=1)`` may pair the terms of a short row differently when there are many
    rows (it iterates the long axis innermost), and a frame's decision must not depend on
    how many frames came in the same call. Columns added one after the other on the
    transposed rows (a running sum along the rows is slow in numpy); the same additions in
    the same order as ``np.cumsum(x, axis=1)[:, -1]``."""
    return _sum_down(np.ascontiguousarray(x.T))


def _sum_down(xt: np.ndarray) -> np.ndarray:
    """:func:`_rowsum` of the rows that are ``xt``'s columns (C-contiguous): its rows
    added top to bottom. A reduction along the slow axis adds row after row, never
    pairwise, as numpy documents for ``sum``; but not with one column, whose only axis
    left is the fast one: few columns take the running sum."""
    if xt.shape[1] <= FEW_ROWS or len(xt) == 0:
        return np.cumsum(xt, axis=0)[-1] if len(xt) else np.zeros(xt.shape[1])
    return np.add.reduce(xt, axis=0)


def _power(yw: np.ndarray, nfft: int) -> np.ndarray:
    """Power spectra of projected, windowed frames (rows)."""
    return np.abs(np.fft.rfft(yw, nfft, axis=1)) ** 2


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


def _local_max(p: np.ndarray, centre: np.ndarray, half_width: int) -> np.ndarray:
    """Bin of the largest power within +/- half_width bins of each row's centre."""
    cols = _clip_cols(centre[:, None] + np.arange(-half_width, half_width + 1)[None, :],
                      p.shape[1])
    rows = np.arange(len(p))
    return cols[rows, np.argmax(p[rows[:, None], cols], axis=1)]


def _spectral(p: np.ndarray, hann: np.ndarray, nfft: int, freqs: np.ndarray,
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
    lobe = max(1, round(2.0 * nfft / len(hann)))

    def lobe_energy(k: np.ndarray) -> np.ndarray:
        cols = _clip_cols(k[None, :] + np.arange(-lobe, lobe + 1)[:, None], p.shape[1])
        return _sum_down(p[rows[None, :], cols])

    e_peak = lobe_energy(kk)
    # power near half and a third of the peak frequency
    kh = _local_max(p, np.rint((f_peak / 2) / df).astype(int), 1)
    k3 = _local_max(p, np.rint((f_peak / 3) / df).astype(int), 1)
    top = np.maximum(p[rows, kk], 1e-30)
    ph = p[rows, kh] / top
    p3 = p[rows, k3] / top
    fund = (ph >= cfg.tremor_fundamental_ratio) & (f_peak / 2 >= band_lo_hz)
    if fund.any():
        e_peak = np.where(fund, e_peak + lobe_energy(kh), e_peak)
        f_peak = np.where(fund, _refine(p, kh, freqs), f_peak)
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
    e_tot = _sum_down(np.maximum(above, 0.0, out=above))
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


def _amp_at(p: np.ndarray, hann: np.ndarray, nfft: int, freqs: np.ndarray,
            f: np.ndarray) -> np.ndarray:
    """Amplitude of each frame's spectrum ``p`` at frequency ``f``."""
    n = len(p)
    df = freqs[1] - freqs[0]
    kk = _clip_cols(np.rint(f / df).astype(int), p.shape[1])
    lobe = max(1, round(2.0 * nfft / len(hann)))
    cols = _clip_cols(kk[None, :] + np.arange(-lobe, lobe + 1)[:, None], p.shape[1])
    e = _sum_down(p[np.arange(n)[None, :], cols])
    return np.sqrt(2.0 * (2.0 * e / nfft) / float((hann ** 2).sum()))


def _low_fraction(p: np.ndarray, freqs: np.ndarray, band: tuple[float, float]
                  ) -> np.ndarray:
    """Share of the frame's power (from band[0] up) in ``band``, below tremor (voluntary
    movement); 0 = arm at rest."""
    a = int(np.searchsorted(freqs, band[0]))  # the first bin >= band[0]
    k = int(np.searchsorted(freqs, band[1])) - a  # the bins of the band: the first k
    # the band's sum is the first k terms of the whole's: one pass, continued from it
    pt = np.ascontiguousarray(p[:, a:].T)
    low = _sum_down(pt[:k])
    if k == 0:
        return low / np.maximum(_sum_down(pt), 1e-30)
    pt[k - 1] = low
    return low / np.maximum(_sum_down(pt[k - 1:]), 1e-30)


def _period_cv(y: np.ndarray, f0: np.ndarray, fs: float, nfft: int, cfg: AnalyzerConfig,
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
    z = z[:, edge: w - edge]
    out = np.full(n, np.nan)
    for i in range(n):
        zi = z[i]
        up = np.flatnonzero((zi[:-1] < 0) & (zi[1:] >= 0))
        if len(up) < cfg.tremor_pcv_min_crossings:
            continue
        # sub-sample crossing positions by linear interpolation
        x = up + zi[up] / (zi[up] - zi[up + 1])
        per = np.diff(x)
        # of a clear line, only the cycles that stand out: where a short episode fades in
        # or out within the window, the crossings of its faint cycles are the noise's.
        # (Not of a faint one: in noise, the strongest cycles are the noise's own)
        if clear[i]:
            amp = np.maximum.reduceat(np.abs(zi), up)[:-1]
            per = per[amp >= cfg.tremor_pcv_min_cycle_frac * amp.max()]
        if len(per) < cfg.tremor_pcv_min_crossings - 1:
            continue
        out[i] = float(per.std() / per.mean())
    return out


def _tremor_type(f: float, amp_g: float, low_frac: float, cfg: AnalyzerConfig) -> str:
    """A hint from frequency and context (Deuschl et al. 1998 consensus bands)."""
    if f >= cfg.physiological_min_hz and amp_g < cfg.physiological_max_g:
        return "physiological"
    if f <= cfg.rest_max_hz and low_frac < cfg.rest_low_frac:
        return "rest"
    return "essential"

