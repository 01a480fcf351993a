"""Streaming analyzer: feed chunks of samples, get events as soon as they are decided.

Pipeline per piece of the conditioned stream (see ``docs/dsp.md``):

1. :class:`~dsp.frontend.Conditioner`: rate, gaps, filled holes, segments;
2. :class:`~dsp.jerks.JerkDetector`: bursts of high-passed acceleration and their features
   (:mod:`~dsp.jerk_features`), judged by :mod:`~dsp.jerk_classify`;
   jerks are decided first (their early notice <= 1 s after the burst, their acceptance
   ~2.5 s after) so that the tremor stage can ignore them;
3. :class:`~dsp.tremor.TremorTracker`: short-window spectra, episodes of rhythmic 3-12 Hz
   oscillation;
4. :class:`~dsp.sleep.Context`: per-second epochs, movement bouts, sway, sleep state and
   onsets; the final myoclonic-or-hypnic decision of each jerk waits ``jerk_final_s`` for
   its isolation and its sleep-onset context.

Every stage keys its work on sample counts and carries its filter state, so any chunking
of the same samples gives bit-identical outputs.

Cadence (the streaming cost is mostly per call, not per sample): the conditioner and the
jerk stage run on what ``feed`` gathered over ``feed_batch_s``, or ``feed_batch_pending_s``
while a notice may be coming (a jerk's early notice is due within 1 s of its end); the
tremor stage gets its samples queued until ``tremor_batch_frames`` frames are complete
(frame by frame while an episode waits for confirmation, so that no early notice comes
later than frame by frame), the context until ``context_batch_s`` of samples are
(epochs and the sleep state have no tighter latency). A final jerk decision, which reads
the context and the tremor episodes, first brings both up to the jerk stage, and so does
a gap in the data (a new segment), so that every decision sees the context it would see
with the stages in lockstep.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from .config import AnalyzerConfig
from .config_checks import check_feed_input
from .frontend import Conditioner, Piece
from .jerk_classify import classify, classify_basic, quiet_before
from .jerk_features import Burst, BurstFeatures
from .jerks import JerkDetector
from .sleep import Context
from .sleep_onset import HypnicDecider
from .tremor import TremorTracker
from .types import Event, Output, Retraction

MAX_PIECE = 1 << 16  # bounds memory; results do not depend on it


@dataclass
class _Jerk:
    burst: Burst
    id: str
    feats: BurstFeatures
    due: float
    cluster: int | None = None
    final: bool = False
    extra: dict[str, float] = field(default_factory=dict)


class Analyzer:
    """Streaming classifier. ``feed`` any chunk size; results do not depend on it.

    ``feed(t_s, acc_g, gyro_dps=None)`` takes times in seconds, acceleration in g (n, 3)
    and optionally the gyroscope in deg/s (n, 3); it returns the outputs decided so far:
    :class:`Event` (early notices with ``final=False``, then the final event with the
    same id), :class:`Retraction`, :class:`SleepOnset` and per-second :class:`Epoch`.
    ``finish()`` decides whatever is still open.
    """

    def __init__(self, config: AnalyzerConfig | None = None, *, epochs: bool = True) -> None:
        self.cfg = config or AnalyzerConfig()
        self.epochs = epochs
        self.cond = Conditioner(self.cfg)
        self._in: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
        self._in_n = 0
        self.gi = 0
        self.t_now = -math.inf
        self._jd: JerkDetector | None = None
        self._tremor: TremorTracker | None = None
        self._ctx: Context | None = None
        self._jerks: list[_Jerk] = []  # accepted, final decision pending or recent
        # pulses that may yet turn out to open a cluster (retraction deferred): impact-like
        # ones, and ones whose surroundings after them were busy (with the cluster's next
        # jerks?); with the end of the span their decision used
        self._maybe: list[tuple[Burst, BurstFeatures, int]] = []
        self._n_cluster = 0
        self._hyp: HypnicDecider | None = None
        # samples the jerk stage processed, queued for the stages that run less often
        # (items: _Chunk, or a new segment's _Gap); their read positions (sample index)
        self._tr_q: list[_Chunk | _Gap] = []
        self._ctx_q: list[_Chunk | _Gap] = []
        self._ctx_q_n = 0
        self.trace: list[dict] | None = None  # set to [] to record every burst's verdict
        self.stats = {"bursts": 0, "jerks": 0, "retracted": 0}

    @property
    def rate_hz(self) -> float | None:
        return self.cond.rate_hz

    @property
    def input_stats(self) -> dict[str, int]:
        """Samples the conditioner dropped (time not advancing, NaN/inf, implausible
        values) and filled (holes, including where dropped samples were)."""
        c = self.cond
        return {"time_not_advancing": c.n_dropped, "nonfinite": c.n_nonfinite,
                "implausible": c.n_implausible, "filled": c.n_filled,
                "segments": c.n_segments}

    # ------------------------------------------------------------------ API
    def feed(self, t_s: np.ndarray, acc_g: np.ndarray, gyro_dps: np.ndarray | None = None
             ) -> list[Output]:
        """Raises ValueError on arrays of the wrong shape or dtype (naming what is
        expected); samples with NaN/inf or implausible values are dropped and counted
        (``input_stats``), never stopping the stream."""
        t_s, acc_g, gyro_dps = check_feed_input(t_s, acc_g, gyro_dps)
        # tiny chunks (a BLE frame) are gathered to ~feed_batch_s first: the stages then
        # run a few times a second instead of per frame (results do not depend on it)
        self._in.append((t_s, acc_g, gyro_dps))
        self._in_n += len(t_s)
        rate = self.cond.rate_hz
        need = max(1, round(self.cfg.feed_batch_s * rate)) if rate else 1
        if self._in_n < need and not (
                rate and self._in_n >= round(self.cfg.feed_batch_pending_s * rate)
                and self._notice_pending()):
            return []
        return self._drain()

    def _notice_pending(self) -> bool:
        """Whether an early notice may be due soon: the stages then run at the shorter
        cadence (``feed_batch_pending_s``)."""
        jd, tr = self._jd, self._tremor
        if jd is None or tr is None:
            return False
        return jd.notice_pending() or (tr.ep is not None and not tr.ep.confirmed)

    def _drain(self) -> list[Output]:
        chunks, self._in, self._in_n = self._in, [], 0
        if len(chunks) == 1:
            t, a, g = chunks[0]
        else:
            t = np.concatenate([np.asarray(c[0], dtype=np.float64).reshape(-1) for c in chunks])
            a = np.concatenate([np.asarray(c[1], dtype=np.float64).reshape(-1, 3)
                                for c in chunks])
            gs = [c[2] for c in chunks]
            g = (None if all(x is None for x in gs) else np.concatenate(
                [np.zeros((len(c[0]), 3)) if c[2] is None else
                 np.asarray(c[2], dtype=np.float64).reshape(-1, 3) for c in chunks]))
        out: list[Output] = []
        for p in self.cond.feed(t, a, g):
            out += self._piece(p)
        return out

    def finish(self) -> list[Output]:
        out: list[Output] = self._drain() if self._in_n else []
        for p in self.cond.flush():
            out += self._piece(p)
        if self._jd is None:
            return out
        out += self._catch_up()
        out += self._end_segment()
        assert self._ctx is not None and self._tremor is not None
        out += self._ctx.flush()
        out += self._tremor.finish()
        out += self._decide_finals(math.inf)
        return out

    # ------------------------------------------------------------------ pipeline
    def _setup(self) -> None:
        fs = self.cond.rate_hz
        assert fs is not None
        has_gyro = bool(self.cond.has_gyro)
        self._jd = JerkDetector(self.cfg, fs, has_gyro)
        self._tremor = TremorTracker(self.cfg, fs, has_gyro)
        self._ctx = Context(self.cfg, fs, env_noise_gain=self._jd.noise_gain)
        self._ctx.epochs = self.epochs
        self._hyp = HypnicDecider(self.cfg, self._ctx, self._tremor)

    def _piece(self, p: Piece) -> list[Output]:
        if self._jd is None:
            self._setup()
        out: list[Output] = []
        n = len(p.t_s)
        for a in range(0, n, MAX_PIECE):
            b = min(n, a + MAX_PIECE)
            gy = None if p.gyro_dps is None else p.gyro_dps[a:b]
            out += self._run(p.t_s[a:b], p.acc_g[a:b], gy, p.filled[a:b],
                             p.new_segment and a == 0)
            # (a final decision reads the context as far as it went: never further than
            # a piece past its due time, whatever the chunking)
            out += self._later()
        return out

    def _run(self, t: np.ndarray, acc: np.ndarray, gyro: np.ndarray | None,
             filled: np.ndarray, new_segment: bool) -> list[Output]:
        """The jerk stage on one piece; the samples are queued for the other stages."""
        jd = self._jd
        assert jd is not None
        out: list[Output] = []
        if new_segment:
            # the other stages reach the gap first, as in lockstep
            out += self._catch_up()
            out += self._end_segment()
            jd.new_segment(self.gi)
            gap = _Gap(self.gi, (self.t_now, float(t[0])) if self.gi else None)
            self._tr_q.append(gap)
            self._ctx_q.append(gap)
        gi, n = self.gi, len(t)
        floor, above = jd.process(gi, t, acc, filled, gyro)
        out += self._classify_bursts(final=False)
        hp = jd.hist.get("hp", gi, gi + n).copy()
        env = jd.hist.get("env", gi, gi + n).copy()
        item = _Chunk(gi, t, acc, gyro, filled, hp, env, floor, above)
        self._tr_q.append(item)
        self._ctx_q.append(item)
        self._ctx_q_n += n
        self.gi += n
        self.t_now = float(t[-1])
        return out

    def _later(self) -> list[Output]:
        """The final decisions that are due, then the tremor and context stages if due.

        A final decision reads the context and the tremor episodes. They are brought to
        the first sample at or after its due time and no further, so that it sees the
        same context whatever the chunking and however far the jerk stage went (offline
        a piece can be minutes long: the context of minutes later is not the one the
        decision is defined on)."""
        tr, jd = self._tremor, self._jd
        assert tr is not None and jd is not None
        out: list[Output] = []
        while True:
            due = min((j.due for j in self._jerks if not j.final), default=math.inf)
            if due > self.t_now:
                break
            cut, now = _first_at(self._tr_q + self._ctx_q, due)
            if cut is not None:
                out += self._run_tremor(cut) + self._run_context(cut)
            out += self._decide_finals(now if now is not None else self.t_now)
        ep = tr.ep
        need = 1 if ep is not None and not ep.confirmed else self.cfg.tremor_batch_frames
        if self._tr_q and (tr.frames_ready(self.gi) >= need
                           or any(isinstance(x, _Gap) for x in self._tr_q)):
            out += self._run_tremor()
        if self._ctx_q_n >= round(self.cfg.context_batch_s * jd.fs):
            out += self._run_context()
        return out

    def _catch_up(self) -> list[Output]:
        return self._run_tremor() + self._run_context()

    def _run_tremor(self, upto: int | None = None) -> list[Output]:
        """The tremor stage on the queued samples (those before ``upto``)."""
        tr = self._tremor
        assert tr is not None
        out: list[Output] = []
        q, self._tr_q = _split(self._tr_q, upto)
        for run in _runs(q):
            if isinstance(run, _Gap):
                tr.new_segment(run.gi, run.gap)
                continue
            gi, t, _, gyro, filled, hp, _, _, above = run
            out += tr.process(gi, t, hp, gyro, filled, above)
        return out

    def _run_context(self, upto: int | None = None) -> list[Output]:
        """The context stage on the queued samples (those before ``upto``)."""
        ctx = self._ctx
        assert ctx is not None
        out: list[Output] = []
        q, self._ctx_q = _split(self._ctx_q, upto)
        self._ctx_q_n = sum(len(x.t) for x in self._ctx_q if isinstance(x, _Chunk))
        for run in _runs(q):
            if isinstance(run, _Gap):
                ctx.new_segment()
                continue
            _, t, acc, _, filled, hp, env, floor, _ = run
            # (the high-passed acceleration's norm: only epochs report it)
            hp_mag = np.sqrt(np.einsum("ij,ij->i", hp, hp)) if ctx.epochs else None
            out += ctx.process(t, acc, filled, env, floor, hp_mag)
        return out

    def _end_segment(self) -> list[Output]:
        """A long gap: close the open burst and classify with the context we have."""
        jd = self._jd
        if jd is None or self.gi == 0:
            return []
        jd.flush_segment()
        out = self._classify_bursts(final=True)
        assert self._tremor is not None
        out += self._tremor.end_segment()
        return out

    # ------------------------------------------------------------------ jerks
    def _classify_bursts(self, final: bool) -> list[Output]:
        jd = self._jd
        assert jd is not None
        cfg = self.cfg
        fs = jd.fs
        out: list[Output] = []
        notice_n = round(cfg.jerk_notice_s * fs)
        ctx_n = round(cfg.jerk_context_s * fs)
        keep: list[Burst] = []
        end = jd.hist.end
        for b in jd.bursts:
            seg_done = final or b.seg_start != jd.seg_start
            if b.stage == 0 and (seg_done or end >= b.i1 + 1 + notice_n):
                f = jd.features(b, min(end, b.i1 + 1 + notice_n), full=False)
                # (only what is known at this point whatever the chunking: not whether the
                # burst before was accepted, which waits for its context)
                b.local_ok = _plausible(f, cfg)
                b.stage = 1
                if b.local_ok:
                    b.noticed = True
                    out.append(Event(id=_jerk_id(b), type="myoclonic_jerk",
                                     start=round(b.t_start, 3), end=round(b.t_end, 3),
                                     peak_g=round(b.peak_g, 4), confidence=0.5, final=False))
            if b.stage == 1 and (seg_done or end >= b.i1 + 1 + ctx_n):
                stop = min(end, b.i1 + 1 + ctx_n)
                # accepted jerks are left out of the rest test (a cluster is no movement)
                spans = [(j.burst.i0, j.burst.i1) for j in self._jerks[-8:]]
                f = jd.features(b, stop, full=False, exclude=spans)
                # (the early check only gates the notice: a jerk right after a movement
                # fails it, and is still judged with its full context)
                verdict = classify_basic(f, cfg)
                if verdict is None or self.trace is not None:
                    jd.complete(f, b, stop, exclude=spans)
                if verdict is None:
                    verdict = classify(f, fs, cfg)
                if verdict == "impact" and self._in_cluster(b):
                    verdict, b.rescued = "jerk", True
                if verdict == "jerk" and self._is_tail(b):
                    verdict = "rebound"
                b.is_jerk = verdict == "jerk"
                b.reason = verdict
                b.stage = 2
                assert self._hyp is not None
                self._hyp.note_burst(b, verdict)
                self.stats["bursts"] += 1
                if self.trace is not None:
                    self.trace.append({"t": b.t_start, "t_peak": b.t_peak, "verdict": verdict,
                                       **f.as_dict()})
                if b.is_jerk:
                    if not b.rescued:
                        out += self._open_cluster(b)
                    out += self._accept(b, f)
                elif (verdict == "impact" and cfg.impact_cluster_rescue) or (
                        verdict in ("busy", "low_contrast") and quiet_before(f, cfg)):
                    # a knock alone, or the first jerk of a cluster; a pulse amid activity,
                    # or before the cluster's next jerks: wait for the cluster
                    self._maybe.append((b, f, stop))
                elif b.noticed:
                    self.stats["retracted"] += 1
                    out.append(Retraction(id=_jerk_id(b), time=round(b.t_end, 3)))
                continue
            if b.stage < 2:
                keep.append(b)
        jd.bursts = keep
        # pulses that no clear jerk followed within cluster_gap_s (by then the bursts that
        # started within it, up to max_burst_s long, are closed and judged jerk_context_s
        # after their end; 1 s more for the merge gap and the matched filter's look-ahead):
        # their notices are retracted. Sample counts, not times, so that chunking cannot
        # change it
        wait_n = round((cfg.cluster_gap_s + cfg.max_burst_s + cfg.jerk_context_s + 1.0) * fs)
        for b, _, _ in self._maybe:
            if (final or b.seg_start != jd.seg_start or end >= b.i1 + wait_n) and b.noticed:
                self.stats["retracted"] += 1
                out.append(Retraction(id=_jerk_id(b), time=round(b.t_end, 3)))
        self._maybe = [m for m in self._maybe if not (
            final or m[0].seg_start != jd.seg_start or end >= m[0].i1 + wait_n)]
        return out

    def _open_cluster(self, j: Burst) -> list[Output]:
        """A jerk that passed every test on its own opens a cluster for the pulses before
        it (after the last accepted jerk): an impact-like one within cluster_gap_s; one
        turned down for busy surroundings after it, when it passes every test with the
        cluster's next jerks left out of them."""
        jd = self._jd
        assert jd is not None
        cfg = self.cfg
        out: list[Output] = []
        ctx_n = round(cfg.jerk_context_s * jd.fs)
        keep = []
        for b, f, stop in self._maybe:
            ok = False
            if b.reason == "impact":
                ok = 0 <= j.t_start - b.t_end <= cfg.cluster_gap_s
            elif b.i1 < j.i0 < b.i1 + ctx_n:
                spans = [(x.burst.i0, x.burst.i1) for x in self._jerks[-8:]]
                nxt = [s for s in [*spans, (j.i0, j.i1)] if s[0] > b.i1]
                f2 = jd.features(b, stop, exclude=spans, later=nxt)
                # (and a pulse of its own: pieces within tail_s of a jerk are its phases)
                ok = classify(f2, jd.fs, cfg) == "jerk" and all(
                    x.burst.t_start - b.t_end >= cfg.tail_s
                    or b.t_start - x.burst.t_end >= cfg.tail_s
                    for x in [*self._jerks[-8:], _Jerk(j, "", f, 0.0)])
                f = f2 if ok else f
            if ok:
                b.is_jerk, b.rescued, b.reason = True, True, "jerk"
                if self.trace is not None:
                    self.trace.append({"t": b.t_start, "t_peak": b.t_peak,
                                       "verdict": "cluster_opened", **f.as_dict()})
                out += self._accept(b, f)
            else:
                keep.append((b, f, stop))
        self._maybe = keep
        return out

    def _in_cluster(self, b: Burst) -> bool:
        """An impact-like pulse shortly after a jerk that stood on its own: myoclonic
        jerks come in clusters, knocks and taps alone."""
        cfg = self.cfg
        if not cfg.impact_cluster_rescue:
            return False
        return any(not j.burst.rescued and 0 <= b.t_start - j.burst.t_end <= cfg.cluster_gap_s
                   for j in self._jerks[-4:])

    def _is_tail(self, b: Burst) -> bool:
        cfg = self.cfg
        for j in reversed(self._jerks[-4:]):
            prev = j.burst
            if 0 <= b.t_start - prev.t_end <= cfg.tail_s and b.peak_g < cfg.tail_frac * prev.peak_g:
                return True
        return False

    def _accept(self, b: Burst, f: BurstFeatures) -> list[Output]:
        cfg = self.cfg
        out: list[Output] = []
        if not b.noticed:  # a late notice: still well before the final
            b.noticed = True
            out.append(Event(id=_jerk_id(b), type="myoclonic_jerk", start=round(b.t_start, 3),
                             end=round(b.t_end, 3), peak_g=round(b.peak_g, 4),
                             confidence=0.5, final=False))
        j = _Jerk(burst=b, id=_jerk_id(b), feats=f, due=b.t_end + cfg.jerk_final_s)
        # in time order (a pulse that opened a cluster is accepted after its next jerks);
        # a jerk within cluster_gap_s of a neighbour shares its cluster, and one between
        # two clusters joins them (none of them is final yet: a pulse waits for its
        # cluster seconds, the final decision 33 s)
        k = len(self._jerks)
        while k and self._jerks[k - 1].burst.t_start > b.t_start:
            k -= 1
        self._jerks.insert(k, j)
        prev = self._jerks[k - 1] if k else None
        nxt = self._jerks[k + 1] if k + 1 < len(self._jerks) else None
        if prev is not None and b.t_start - prev.burst.t_end <= cfg.cluster_gap_s:
            if prev.cluster is None:
                self._n_cluster += 1
                prev.cluster = self._n_cluster
            j.cluster = prev.cluster
        if nxt is not None and nxt.burst.t_start - b.t_end <= cfg.cluster_gap_s:
            if j.cluster is None:
                if nxt.cluster is None:
                    self._n_cluster += 1
                    nxt.cluster = self._n_cluster
                j.cluster = nxt.cluster
            elif nxt.cluster is None:
                nxt.cluster = j.cluster
            else:
                old = nxt.cluster
                for x in self._jerks[k + 1:]:
                    if x.cluster == old:
                        x.cluster = j.cluster
        self.stats["jerks"] += 1
        assert self._ctx is not None
        self._ctx.note_jerk(b.t_start)
        return out

    def _decide_finals(self, now: float) -> list[Output]:
        out: list[Output] = []
        cfg = self.cfg
        for j in self._jerks:
            if j.final or j.due > now:
                continue
            j.final = True
            b = j.burst
            if self._in_activity(b):
                # sharp accelerations of sustained everyday activity (contacts, grasps) are
                # not told apart from a jerk: the early notice is withdrawn
                self.stats["retracted"] += 1
                out.append(Retraction(id=j.id, time=round(now if math.isfinite(now)
                                                          else self.t_now, 3)))
                continue
            kind = "myoclonic_jerk"
            conf = _jerk_confidence(j.feats, cfg)
            assert self._hyp is not None
            if self._hyp.onset_of(b.t_start, b.peak_g, [o.burst.t_start for o in self._jerks
                                                         if o is not j]) is not None:
                kind = "hypnic_jerk"
            if self.trace is not None:
                self.trace.append({"t": b.t_start, "verdict": "final", "type": kind,
                                   "hypnic_refused": self._hyp.reason})
            out.append(Event(id=j.id, type=kind, start=round(b.t_start, 3),
                             end=round(b.t_end, 3), peak_g=round(b.peak_g, 4),
                             confidence=conf, final=True,
                             cluster=j.cluster if kind == "myoclonic_jerk" else None))
        # keep what isolation checks still need
        horizon = now - 2 * cfg.isolation_s - cfg.jerk_final_s
        self._jerks = [j for j in self._jerks if not j.final or j.burst.t_start >= horizon]
        return out

    def _in_activity(self, b: Burst) -> bool:
        """Whether the jerk lies in sustained limb activity (awake and busy)."""
        ctx = self._ctx
        assert ctx is not None
        cfg = self.cfg
        w = cfg.jerk_activity_window_s
        frac = ctx.limb_active(b.t_start - w, b.t_end + w,
                               (b.t_start - cfg.jerk_activity_skip_pre_s,
                                b.t_end + cfg.jerk_activity_skip_s))
        return frac is not None and frac >= cfg.jerk_activity_frac


def _jerk_id(b: Burst) -> str:
    return f"j{round(b.t_start * 1000)}"


def _plausible(f: BurstFeatures, cfg: AnalyzerConfig) -> bool:
    """The early check: big, short, standing out of what came before it, with enough
    of the segment before it for the final decision."""
    if f.ctx_pre_s < cfg.jerk_need_pre_s:
        return False
    pre = f.bg_pre if np.isfinite(f.bg_pre) else f.floor_g
    if f.faint:
        return (f.mf_peak_g >= cfg.jerk_faint_min_peak_g and f.dur_s <= cfg.jerk_max_s
                and pre <= cfg.jerk_faint_quiet * f.floor_g)
    return (f.peak_g >= cfg.jerk_min_peak_g
            and f.dur_s <= (cfg.jerk_max_s if f.n_phases == 1 else cfg.jerk_pulse_max_s)
            and f.peak_env >= cfg.jerk_notice_contrast * max(pre, f.floor_g))


def _jerk_confidence(f: BurstFeatures, cfg: AnalyzerConfig) -> float:
    """0.5-1: how far the burst clears the contrast test."""
    c = 1.0 - 0.5 * math.exp(-max(0.0, f.contrast - cfg.jerk_contrast)
                             / cfg.jerk_confidence_scale)
    return round(min(1.0, c), 3)


class _Gap(NamedTuple):
    """A new segment starts at sample ``gi``; ``gap`` is the data gap before it."""

    gi: int
    gap: tuple[float, float] | None


class _Chunk(NamedTuple):
    """Samples the jerk stage processed, for the stages that run less often."""

    gi: int
    t: np.ndarray
    acc: np.ndarray
    gyro: np.ndarray | None
    filled: np.ndarray
    hp: np.ndarray
    env: np.ndarray
    floor: np.ndarray
    above: np.ndarray


def _first_at(q: list[_Chunk | _Gap], t_due: float) -> tuple[int | None, float | None]:
    """(sample index just past the first queued sample at or after ``t_due``, its time),
    or (None, None) if no queued sample is."""
    for x in q:
        if isinstance(x, _Chunk) and x.t[-1] >= t_due:
            k = int(np.searchsorted(x.t, t_due, "left"))
            return x.gi + k + 1, float(x.t[k])
    return None, None


def _split(q: list[_Chunk | _Gap], upto: int | None
           ) -> tuple[list[_Chunk | _Gap], list[_Chunk | _Gap]]:
    """The queue's items before sample ``upto`` (all if None), and the rest."""
    if upto is None:
        return q, []
    head: list[_Chunk | _Gap] = []
    for i, x in enumerate(q):
        if x.gi >= upto:
            return head, q[i:]
        if isinstance(x, _Chunk) and x.gi + len(x.t) > upto:
            k = upto - x.gi
            return [*head, _slice(x, slice(0, k))], [_slice(x, slice(k, None)), *q[i + 1:]]
        head.append(x)
    return head, []


def _slice(x: _Chunk, sl: slice) -> _Chunk:
    return _Chunk(x.gi + (sl.start or 0), x.t[sl], x.acc[sl],
                  None if x.gyro is None else x.gyro[sl], x.filled[sl], x.hp[sl], x.env[sl],
                  x.floor[sl], x.above[sl])


def _runs(q: list[_Chunk | _Gap]) -> list[_Chunk | _Gap]:
    """Consecutive chunks joined into one (a stage's results do not depend on it)."""
    out: list[_Chunk | _Gap] = []
    group: list[_Chunk] = []

    def close() -> None:
        if len(group) == 1:
            out.append(group[0])
        elif group:
            def cat(k: int) -> Any:
                return None if group[0][k] is None else np.concatenate([c[k] for c in group])

            out.append(_Chunk(group[0].gi, *(cat(k) for k in range(1, len(_Chunk._fields)))))
        group.clear()

    for x in q:
        if isinstance(x, _Gap):
            close()
            out.append(x)
        else:
            group.append(x)
    close()
    return out
