"""Tremor episodes from the frames' verdicts: start, go on, pause, resume, end, decide.

An episode needs several consecutive tremor-like frames with a steady frequency (several
cycles); it ends after a few non-tremor frames, and a confirmed one waits a while for the
same rhythm to resume (a movement, a disconnect in between). Frames with a pulse, or with
the episode's rhythm just under the threshold to start one, are neutral. Its frequency is
the mean of the frames' parabolically interpolated peaks; the final decision weighs its
length, its regularity (period CV) and rivals in the same stretch of time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .config import AnalyzerConfig
from .types import Event, Retraction

# Not a tunable (no result depends on it): recent episodes and gaps are kept for
# KEEP_RECENT lookups.
KEEP_RECENT = 8


@dataclass
class Episode:
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


class Episodes:
    """The running episode, those ended and waiting for a continuation, the recent final
    ones and the recent data gaps; fed the frames' verdicts in order."""

    def __init__(self, cfg: AnalyzerConfig) -> None:
        self.cfg = cfg
        self.ep: Episode | None = None  # the running episode
        # ended episodes waiting for a continuation (another rhythm may come between)
        self.closing: list[Episode] = []
        self.finals: list[Episode] = []  # recent final episodes
        self.gaps: list[tuple[float, float]] = []  # recent data gaps (disconnects)
        self.frame_no = 0

    def add_gap(self, gap: tuple[float, float]) -> None:
        self.gaps.append(gap)
        self.gaps = self.gaps[-KEEP_RECENT:]

    def decide(self, *, t_start_s: np.ndarray, t_end_s: np.ndarray, ok: np.ndarray,
               f_peak_hz: np.ndarray, amp_g: np.ndarray, rest: np.ndarray, pcv: np.ndarray,
               prom: np.ndarray, acc_prom: np.ndarray, masked: np.ndarray,
               trans: np.ndarray) -> list[Event | Retraction]:
        """The frames' verdicts in order: episodes start, go on, end. Most frames are
        not tremor-like with no episode running and none closing, and change nothing but
        the frame count: those are skipped in one step. The rest read Python floats
        taken once (``tolist``: the same values), not element by element.

        One array per frame each, named (keyword-only) so that two cannot be swapped:
        ``ok`` the tremor-like ones, ``acc_prom`` the prominence in the mean spectrum,
        ``masked`` a movement's floor, ``trans`` a pulse in the window."""
        cfg = self.cfg
        out: list[Event | Retraction] = []
        n = len(t_start_s)
        oks = np.flatnonzero(ok).tolist()  # the tremor-like frames
        if not oks and self.ep is None and not self.closing:
            self.frame_no += n
            return out
        t_start, t_end = t_start_s.tolist(), t_end_s.tolist()
        ok_l, f_l, amp_l, rest_l = ok.tolist(), f_peak_hz.tolist(), amp_g.tolist(), rest.tolist()
        pcv_l, prom_l, promw_l = pcv.tolist(), prom.tolist(), acc_prom.tolist()
        masked_l, trans_l = masked.tolist(), trans.tolist()
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
                    out += self.finalize(c)
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
                ep = self.ep = Episode(first=k, last=k, t_first=t0, t_last=t1)
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

    def _freq(self, ep: Episode) -> float:
        """The episode's current frequency (it wanders)."""
        return _median(ep.freqs[-self.cfg.tremor_track_frames:])

    def _silence(self, a: float, b: float) -> float:
        """Time in (a, b) that had data: a disconnect is not evidence that tremor stopped
        (up to tremor_gap_bridge_s of it)."""
        if not self.gaps:
            return b - a
        lost = sum(max(0.0, min(b, g1) - max(a, g0)) for g0, g1 in self.gaps)
        return b - a - min(lost, self.cfg.tremor_gap_bridge_s)

    def _end_run(self) -> list[Event | Retraction]:
        """The current run stops; a confirmed one waits tremor_merge_s for a sequel."""
        ep, self.ep = self.ep, None
        if ep is None or not ep.confirmed:
            return []
        self.closing.append(ep)
        return []

    def finalize(self, ep: Episode) -> list[Event | Retraction]:
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

    def close(self) -> list[Event | Retraction]:
        out = self._end_run()
        for c in self.closing:
            out += self.finalize(c)
        self.closing = []
        return out

    def _start(self, ep: Episode) -> float:
        # the first tremor-like window holds the onset somewhere past its middle
        return ep.t_first + self.cfg.tremor_edge_frac * self.cfg.tremor_window_s

    def _event(self, ep: Episode, final: bool) -> Event:
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


def _median(xs: list[float]) -> float:
    """``float(np.median(xs))`` of a few finite floats, without numpy's cost per call
    (read for every frame while an episode runs): the middle value, or the mean of the
    two middle ones, added and halved as numpy does."""
    s = sorted(xs)
    k = len(s) // 2
    return s[k] if len(s) % 2 else (s[k - 1] + s[k]) / 2


def _tremor_type(f: float, amp_g: float, low_frac: float, cfg: AnalyzerConfig) -> str:
    """A hint from frequency and context (Deuschl et al. 1998 consensus bands)."""
    if f >= cfg.physiological_min_hz and amp_g < cfg.physiological_max_g:
        return "physiological"
    if f <= cfg.rest_max_hz and low_frac < cfg.rest_low_frac:
        return "rest"
    return "essential"
