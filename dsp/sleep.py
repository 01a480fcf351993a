"""Per-second context: activity, movement bouts, posture sway, sleep state and onsets.

Wrist actigraphy finds sleep from the *absence* of movement: Cole-Kripke (1992) scores
weighted 1-min activity counts, van Hees' HDCZA (2015/2018) thresholds the change of the
arm's z-angle (5 s medians, 5-min rolling median, threshold 15x its 10th percentile).
Both are offline: they look minutes ahead. Here the same idea runs causally, per second:

* a second *moves* when the high-passed acceleration envelope is above the noise for a
  good part of it, or when the arm's orientation turned by more than a few degrees
  (HDCZA's angle change, at 1 s instead of 5 s);
* moving seconds merge into *bouts*; a jerk's own second is not a bout;
* *sway*: an awake arm lying still still drifts (slow orientation wander of several mg),
  a sleeping one only breathes. Sway is the median 10-s change of the per-second mean
  acceleration after an 11 s moving average (which removes breathing), less its typical
  change (drift), corrected for the sensor noise that survives the averaging;
* the state turns to sleep after ``sleep_quiet_s`` without bouts and with low sway; the
  sleep onset is backdated to the end of the last bout (the eval's definition: the end of
  the last voluntary movement of a wake period). It turns to wake with sustained
  movement, with sway while not asleep, and from sleep when the stillness after a clear
  movement has an awake arm's drift (a short wake spell in the night has as few moving
  seconds as an arousal; the sleeper's arm goes back to breathing only, the waking one's
  does not).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .config import AnalyzerConfig
from .filters import butter, rolling_quantile
from .jerks import ENV_FLOOR_PER_SIGMA
from .types import Epoch, SleepOnset

CHI3_MEDIAN = 1.5382  # median of the norm of a 3-d standard normal vector


@dataclass
class Bout:
    """A run of moving seconds; ``state_before`` is the sleep state when it began."""

    start: float
    end: float
    n_moving: int
    state_before: str
    n_clear: int = 0  # seconds whose movement is clear of the noise (not just a slow rise)
    woke: bool = False  # the state turned to wake with it (or with the stillness after it)

    @property
    def in_wake(self) -> bool:
        """Part of a wake period (an arousal from sleep is not)."""
        return self.state_before == "wake" or self.woke


class SecondsLog:
    """Per-second records in growable arrays, sliced by time."""

    FIELDS = ("key", "n", "moving", "floor", "limb")

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.key = np.zeros(0, dtype=np.int64)
        self.n = np.zeros(0)
        self.moving = np.zeros(0, dtype=bool)
        self.limb = np.zeros(0, dtype=bool)  # the limb itself moved (turned, slow band)
        self.floor = np.zeros(0)
        self.acc = np.zeros((0, 3))

    def extend(self, key: np.ndarray, n: np.ndarray, moving: np.ndarray, floor: np.ndarray,
               acc: np.ndarray, limb: np.ndarray) -> None:
        cut = max(0, len(self.key) + len(key) - 2 * self.keep)
        if cut:
            cut = max(cut, len(self.key) - self.keep)
        self.key = np.concatenate([self.key[cut:], key])
        self.n = np.concatenate([self.n[cut:], n])
        self.moving = np.concatenate([self.moving[cut:], moving])
        self.limb = np.concatenate([self.limb[cut:], limb])
        self.floor = np.concatenate([self.floor[cut:], floor])
        self.acc = np.concatenate([self.acc[cut:], acc])

    def span(self, a: float, b: float) -> slice:
        return slice(int(np.searchsorted(self.key, a, "left")),
                     int(np.searchsorted(self.key, b, "left")))


class Context:
    """Consumes pieces of the conditioned stream; emits Epochs and SleepOnsets."""

    def __init__(self, cfg: AnalyzerConfig, fs: float, env_noise_gain: float = 1.0) -> None:
        self.cfg = cfg
        self.fs = fs
        self.env_noise_gain = env_noise_gain  # of the jerk stage's envelope, for white noise
        # per-second context needs no more than ~50 Hz: work on block means of ``dec``
        # samples (a boxcar, which also keeps aliased noise out of the bands below)
        self.dec = max(1, round(fs / cfg.context_rate_hz))
        self.fs_c = fs / self.dec
        self._carry: _Samples | None = None  # full-rate samples short of a block
        self.band = butter(2, cfg.tremor_band_hz, "bandpass", self.fs_c, 3)
        # gentle movements (settling in bed) live at 0.5-2 Hz, above breathing
        self.slow = butter(2, cfg.move_slow_band_hz, "bandpass", self.fs_c, 3)
        self._slow_hist = np.zeros(0)  # recent per-second slow-band RMS values
        self._cur: list[_Rows] = []  # rows of the open second
        self._cur_key: int | None = None
        self.log = SecondsLog(int(cfg.context_keep_s))
        self.bouts: deque[Bout] = deque(maxlen=4096)
        self._open_bout: Bout | None = None
        self.state = "unknown"
        self.last_move_end = -np.inf
        self._moving_recent: deque[int] = deque()  # keys of recent moving seconds
        self._sway_checked = -np.inf
        self._last_onset = -np.inf
        self._wake_checked = -np.inf  # end of the last bout in sleep whose aftermath was checked
        self.jerk_times: deque[float] = deque(maxlen=1024)
        # emit Epoch outputs (offline analysis may not want them); set before the first
        # piece: without epochs, what only they report (activity, tremor-band power) is
        # not computed at all
        self.epochs = True

    def new_segment(self) -> None:
        self.band.reset()
        self.slow.reset()

    # ------------------------------------------------------------------ epochs
    def process(self, t: np.ndarray, acc: np.ndarray, filled: np.ndarray, env: np.ndarray,
                floor: np.ndarray, hp_mag: np.ndarray | None) -> list[Epoch | SleepOnset]:
        """One piece at the full rate; ``hp_mag`` is the high-passed acceleration's norm
        (gravity removed; only epochs report it: None without them), ``env``/``floor`` the
        jerk stage's envelope and noise floor."""
        if len(t) == 0:
            return []
        thr = np.maximum(self.cfg.move_snr * floor, self.cfg.move_min_g)
        active = (env > thr).astype(float)
        if self.epochs:
            assert hp_mag is not None, "epochs report the activity: hp_mag is needed"
        else:
            hp_mag = None
        s_in = _Samples(t, acc, filled.astype(float), active, floor, hp_mag)
        if self._carry is not None and len(self._carry.t):
            s_in = _Samples._make(_cat([c, x]) for c, x in zip(self._carry, s_in, strict=True))
        d = self.dec
        m = (len(s_in.t) // d) * d
        self._carry = s_in.part(m, None)
        if m == 0:
            return []
        t = s_in.t[d - 1:m:d]
        acc = _block_mean(s_in.acc[:m], d)
        filled = _block_mean(s_in.filled[:m], d) > 0
        active = _block_mean(s_in.active[:m], d)
        floor = s_in.floor[0:m:d]
        dmag = bp2 = None
        if s_in.hp_mag is not None:
            dmag = _block_mean(s_in.hp_mag[:m], d)
            bp = self.band(acc)
            bp2 = np.einsum("ij,ij->i", bp, bp)
        sl = self.slow(acc)
        slow2 = np.einsum("ij,ij->i", sl, sl)
        keys = np.floor(t).astype(np.int64)
        rows = _Rows(keys, dmag, bp2, active, acc, filled.astype(float), floor, slow2)
        if self._cur_key is None:
            self._cur_key = int(keys[0])
        if int(keys[-1]) == self._cur_key:
            self._cur.append(rows)
            return []
        # samples before the piece's last second complete every earlier second. Each
        # second's sums come from its own samples whatever else is in the array, so the
        # open second's are gathered on their own (not the whole piece copied after them)
        last = int(np.searchsorted(keys, keys[-1], "left"))
        parts: list[_Seconds] = []
        s1 = 0
        if self._cur:
            s1 = int(np.searchsorted(keys[:last], self._cur_key, "right"))
            parts.append(_second_sums(_Rows._make(
                _cat([*c, x]) for *c, x in zip(*self._cur, rows.part(0, s1), strict=True))))
        if s1 < last:
            parts.append(_second_sums(rows.part(s1, last)))
        self._cur = [rows.part(last, None)]
        self._cur_key = int(keys[-1])
        return self._close_seconds(parts[0] if len(parts) == 1 else _Seconds._make(
            _cat(list(c)) for c in zip(*parts, strict=True)))

    def flush(self) -> list[Epoch | SleepOnset]:
        if not self._cur:
            return []
        head = _Rows._make(_cat(list(c)) for c in zip(*self._cur, strict=True))
        self._cur = []
        self._cur_key = None
        out = self._close_seconds(_second_sums(head))
        self._close_bout()
        return out

    def _close_seconds(self, secs: _Seconds) -> list[Epoch | SleepOnset]:
        """Closes complete seconds, from their sums (``_second_sums``)."""
        k, n_real, s_dmag, s_bp2, s_active, s_slow2, s_acc, counts, fl = secs
        if len(k) == 0:
            return []
        cfg = self.cfg
        safe = np.maximum(n_real, 1.0)
        act = tpw = safe[:0]  # (read by epochs only)
        if s_dmag is not None and s_bp2 is not None:
            act = s_dmag / safe
            tpw = s_bp2 / safe
        afrac = s_active / safe
        slow = np.sqrt(s_slow2 / safe)
        # its floor: a low percentile of the previous seconds (breathing leaks in a little)
        slow_floor, self._slow_hist = rolling_quantile(
            self._slow_hist, slow, int(cfg.move_slow_window_s), cfg.move_slow_floor_q)
        slow_floor = np.where(np.isfinite(slow_floor), slow_floor, slow)
        macc = s_acc / counts[:, None]
        # orientation change against the record move_angle_lag_s before (one second more
        # allowed between them: a missing second)
        lag = cfg.move_angle_lag_s
        pk = np.concatenate([self.log.key[-lag:], k])
        pa = np.concatenate([self.log.acc[-lag:], macc])
        off = len(pk) - len(k)
        ref = np.arange(len(k)) + off - lag
        ok = ref >= 0
        refc = np.maximum(ref, 0)
        near = ok & (k - pk[refc] <= lag + 1)
        turned = np.where(near, _angles_deg(pa[refc], macc), 0.0)
        # the band's floor is mostly sensor noise: what rises above it, in power, moves;
        # a clear rise is one well above any noise fluctuation
        excess = np.maximum(cfg.move_slow_min_g, cfg.move_slow_snr * slow_floor)
        slow_move = slow * slow > slow_floor * slow_floor + excess * excess
        # the limb itself moving (a posture turning, a clear slow rise): unlike the envelope
        # test, tremor and sensor noise do not pass this
        limb = (n_real > 0) & ((turned >= cfg.move_angle_deg) | (
            slow > np.maximum(cfg.move_slow_clear * slow_floor, cfg.move_slow_min_g)))
        clear = limb | (afrac >= cfg.move_active_frac)
        moving = (n_real > 0) & ((afrac >= cfg.move_active_frac) | (turned >= cfg.move_angle_deg)
                                 | slow_move)
        self.log.extend(k, n_real, moving, fl, macc, limb)
        out: list[Epoch | SleepOnset] = []
        # (Python ints and bools once for the whole piece: the per-second state machine
        # runs 28,800 times a night)
        # (a still second before ``still`` would change nothing: most of a quiet night)
        still = self._still_until()
        for i, (key, mv, cl) in enumerate(zip(k.tolist(), moving.tolist(), clear.tolist(),
                                              strict=True)):
            if mv or key >= still:
                out += self._step(key, mv, cl)
                still = self._still_until()
            if self.epochs:
                out.append(Epoch(start=float(k[i]), duration_s=1.0,
                                 activity_g=round(float(act[i]), 6),
                                 tremor_power=float(f"{tpw[i]:.6g}"), state=self.state,
                                 coverage=round(min(1.0, float(n_real[i]) / self.fs_c), 3)))
        return out

    # ------------------------------------------------------------------ state
    def _step(self, key: int, moving: bool, clear: bool = True) -> list[SleepOnset]:
        cfg = self.cfg
        t = float(key)
        if moving:
            self._moving_recent.append(key)
            b = self._open_bout
            if b is not None and t - b.end <= cfg.bout_merge_s:
                b.end = t + 1.0
                b.n_moving += 1
                b.n_clear += int(clear)
            else:
                self._close_bout()
                self._open_bout = Bout(start=t, end=t + 1.0, n_moving=1, state_before=self.state,
                                       n_clear=int(clear))
        elif self._open_bout is not None and t - self._open_bout.end > cfg.bout_merge_s:
            self._close_bout()
        while self._moving_recent and self._moving_recent[0] <= key - cfg.wake_window_s:
            self._moving_recent.popleft()
        return self._update_state(t + 1.0)

    def _still_until(self) -> float:
        """A key before which a still (not moving) second would change nothing: the state
        machine's early returns, read off its present state (no bout open, no moving second
        leaving the window, the state's next check of the stillness not due). -inf when
        the next still second may change something."""
        cfg = self.cfg
        if self._open_bout is not None:
            return -math.inf
        recent = self._moving_recent
        need = cfg.wake_from_sleep_moving_s if self.state == "sleep" else cfg.wake_moving_s
        if self.state != "wake" and len(recent) >= need:
            return -math.inf
        until = math.inf
        if recent:
            r0 = recent[0]
            until = _first_key(lambda k: r0 <= k - cfg.wake_window_s, r0 + cfg.wake_window_s)
        last = self.last_move_end
        if self.state == "sleep":
            b = self.bouts[-1] if self.bouts else None
            if b is None or b.end <= self._wake_checked or b.n_clear == 0:
                return until
            after = cfg.wake_sway_after_s
            return min(until, _first_key(lambda k: float(k) + 1.0 - last >= after,
                                         after + last - 1.0))
        quiet_s, every_s, checked = cfg.sleep_quiet_s, cfg.sway_every_s, self._sway_checked
        return min(until, max(
            _first_key(lambda k: float(k) + 1.0 - last >= quiet_s, quiet_s + last - 1.0),
            _first_key(lambda k: float(k) + 1.0 - checked >= every_s, every_s + checked - 1.0)))

    def _close_bout(self) -> None:
        b = self._open_bout
        if b is None:
            return
        self._open_bout = None
        # a jerk (with its rebound and posture shift) is not a movement bout
        if (b.end - b.start <= self.cfg.jerk_bout_s and any(
                b.start - self.cfg.jerk_lead_s <= tj <= b.end for tj in self.jerk_times)) or (
                self.jerks_only(b)):
            return
        self.bouts.append(b)
        self.last_move_end = max(self.last_move_end, b.end)

    def _update_state(self, now: float) -> list[SleepOnset]:
        # (_still_until reads this method's early returns: keep the two in step)
        cfg = self.cfg
        moving_s = len(self._moving_recent)
        last_end = now if self._open_bout is not None else self.last_move_end
        quiet = now - last_end
        need = cfg.wake_from_sleep_moving_s if self.state == "sleep" else cfg.wake_moving_s
        if self.state != "wake" and moving_s >= need:
            self.state = "wake"
            if self._open_bout is not None:
                self._open_bout.woke = True
            return []
        if self.state == "sleep":
            self._wake_after_bout(now, quiet)
            return []
        if quiet < cfg.sleep_quiet_s:
            return []
        if now - self._sway_checked < cfg.sway_every_s:
            return []
        self._sway_checked = now
        lo = now - min(quiet, cfg.sway_window_s) + cfg.sway_guard_s
        sway = self.sway(lo, now)
        if sway is None:
            return []
        if sway > cfg.sleep_sway_g:
            self.state = "wake"
            return []
        was, self.state = self.state, "sleep"
        if was != "wake" or not np.isfinite(last_end) or last_end <= self._last_onset:
            return []  # one onset per wake period (a sway-only wake spell adds none)
        self._last_onset = last_end
        return [SleepOnset(id=f"s{round(last_end * 1000)}", start=round(last_end, 3),
                           confirmed=round(now, 3))]

    def _wake_after_bout(self, now: float, quiet: float) -> None:
        """From sleep, a movement after which the arm lies awake (drifting) opened a wake
        period: a sleeper goes back to breathing-only stillness within seconds of an
        arousal, someone lying awake does not. A short wake spell in the night (a few
        fidgets, no walking) has too few moving seconds to be told from an arousal by
        movement alone."""
        cfg = self.cfg
        if not self.bouts or quiet < cfg.wake_sway_after_s:
            return
        b = self.bouts[-1]
        if b.end <= self._wake_checked or b.n_clear == 0 or now - b.end > quiet + 1e-9:
            return
        self._wake_checked = b.end
        sway = self.sway(b.end + cfg.sway_guard_s, now)
        if sway is not None and sway > cfg.wake_sway_g:
            self.state = "wake"
            b.woke = True

    # ------------------------------------------------------------------ queries
    def sway(self, a: float, b: float) -> float | None:
        """Posture sway (g) over the still seconds of [a, b), noise-corrected.

        The per-second mean acceleration is smoothed over ``sway_smooth_s`` (breathing
        averages out) and compared with itself ``sway_lag_s`` later; the median of that
        change is robust to the odd posture shift that a jerk leaves behind.
        """
        sl = self.log.span(a, b)
        still = ~self.log.moving[sl] & (self.log.n[sl] > 0)
        m = self.log.acc[sl][still]
        smooth = self.cfg.sway_smooth_s
        lag = self.cfg.sway_lag_s
        if len(m) < smooth + lag + self.cfg.sway_min_pairs:
            return None
        k = np.ones(smooth) / smooth
        ma = np.stack([np.convolve(m[:, j], k, mode="valid") for j in range(3)], axis=1)
        d = ma[lag:] - ma[:-lag]
        # a steady drift (a settling limb relaxing) is not sway: remove the typical change
        # (a median, so that a posture step from a twitch does not tilt it as a fitted line would)
        d = d - np.median(d, axis=0)
        med = float(np.median(np.sqrt(np.einsum("ij,ij->i", d, d))))
        sigma = (float(np.median(self.log.floor[sl][still]))
                 / (ENV_FLOOR_PER_SIGMA * self.env_noise_gain))
        # noise: each smoothed axis has variance sigma^2 / (fs * smooth); the norm of a
        # 3-d difference of two of them has its median at 1.54 * sqrt(2) of that (1.54:
        # the median of a chi distribution with 3 degrees of freedom)
        noise = CHI3_MEDIAN * np.sqrt(2.0) * sigma / np.sqrt(self.fs * smooth)
        return float(np.sqrt(max(0.0, med * med - noise * noise)))

    def jerks_only(self, bout: Bout, exclude: float | None = None) -> bool:
        """Whether every moving second of the bout is an accepted jerk's own (from
        jerk_lead_s before it to jerk_bout_s after that: the pulse, its rebound and the
        posture shift the turn test sees for two seconds): a cluster of jerks, however
        long, is no movement. ``exclude``: a jerk not to count (the one being judged)."""
        cfg = self.cfg
        sl = self.log.span(bout.start, bout.end)
        keys = self.log.key[sl][self.log.moving[sl]]
        if len(keys) == 0 or self.log.key[sl][0] > bout.start:
            return False  # (no longer in the log)
        tj = np.array([t for t in self.jerk_times if t != exclude
                       and bout.start - cfg.jerk_bout_s <= t <= bout.end + cfg.jerk_lead_s])
        if len(tj) == 0:
            return False
        lo = tj - cfg.jerk_lead_s
        own = (keys[:, None] >= np.floor(lo)[None, :]) & (
            keys[:, None] < np.floor(lo + cfg.jerk_bout_s)[None, :])
        return bool(own.any(axis=1).all())

    def limb_active(self, a: float, b: float, skip: tuple[float, float]) -> float | None:
        """Share of the seconds with data in [a, b), outside ``skip``, in which the limb
        moved (turned or a clear slow rise); None without any such second."""
        sl = self.log.span(a, b)
        keys = self.log.key[sl]
        use = (self.log.n[sl] > 0) & ((keys < np.floor(skip[0])) | (keys >= skip[1]))
        if not use.any():
            return None
        return float(np.count_nonzero(self.log.limb[sl][use]) / np.count_nonzero(use))

    def bout_starting(self, a: float, b: float) -> bool:
        """Did a movement bout clear of the noise start in (a, b]?"""
        bouts = list(self.bouts)
        if self._open_bout is not None:
            bouts.append(self._open_bout)
        return any(a < bt.start <= b and bt.n_clear > 0 for bt in bouts)

    def note_jerk(self, t: float) -> None:
        self.jerk_times.append(t)


def _first_key(pred: Callable[[int], bool], estimate: float) -> float:
    """The first integer key for which ``pred`` (false, then true as keys grow) holds,
    looked for around an estimate (-inf or inf: it holds for all keys, or none)."""
    if not math.isfinite(estimate):
        return estimate
    k = math.floor(estimate)
    while pred(k):
        k -= 1
    while not pred(k):
        k += 1
    return k


class _Samples(NamedTuple):
    """A piece's columns at the full rate, as the sleep stage reads them."""

    t: np.ndarray
    acc: np.ndarray  # (n, 3) g
    filled: np.ndarray  # 1.0 where the front end filled a hole
    active: np.ndarray  # 1.0 where the jerk stage's envelope is over the movement threshold
    floor: np.ndarray  # the jerk stage's noise floor
    hp_mag: np.ndarray | None  # |high-passed acceleration| (None without epochs)

    def part(self, a: int, b: int | None) -> _Samples:
        return _Samples._make(_part(x, a, b) for x in self)


class _Rows(NamedTuple):
    """A piece's rows after decimation (one per ``dec`` samples)."""

    keys: np.ndarray  # the row's second (floor of its time)
    dmag: np.ndarray | None  # |hp| mean (None without epochs)
    bp2: np.ndarray | None  # tremor-band power (None without epochs)
    active: np.ndarray  # active share
    acc: np.ndarray  # (n, 3) mean acceleration
    filled: np.ndarray  # 1.0 where any of its samples was filled
    floor: np.ndarray
    slow2: np.ndarray  # slow-band power

    def part(self, a: int, b: int | None) -> _Rows:
        return _Rows._make(_part(x, a, b) for x in self)


class _Seconds(NamedTuple):
    """Sums per second of rows (``_second_sums``); the ``s_`` ones over its real rows."""

    key: np.ndarray
    n_real: np.ndarray  # real (not filled) rows
    s_dmag: np.ndarray | None  # (None without epochs)
    s_bp2: np.ndarray | None  # (None without epochs)
    s_active: np.ndarray
    s_slow2: np.ndarray
    s_acc: np.ndarray  # over all its rows, (n, 3)
    counts: np.ndarray  # all its rows (float)
    floor: np.ndarray  # at its first row


def _second_sums(rows: _Rows) -> _Seconds:
    """Per second of the rows: its key, real rows, the sums over its real rows of the |hp|
    mean, the band power, the active share and the slow-band power, the sum of its
    acceleration, its rows, and the floor at its first row."""
    keys, dmag, bp2, active, acc, filled, floor, slow2 = rows
    # (np.diff's arithmetic without its wrapper: this runs a few hundred times a night)
    starts = np.flatnonzero(keys[1:] != keys[:-1])
    starts += 1
    starts = np.concatenate([np.zeros(1, dtype=starts.dtype), starts])
    ends = np.concatenate([starts[1:], np.array([len(keys)], dtype=starts.dtype)])
    counts = (ends - starts).astype(float)
    real = 1.0 - filled
    return _Seconds(keys[starts], np.add.reduceat(real, starts),
                    None if dmag is None else np.add.reduceat(dmag * real, starts),
                    None if bp2 is None else np.add.reduceat(bp2 * real, starts),
                    np.add.reduceat(active * real, starts),
                    np.add.reduceat(slow2 * real, starts), np.add.reduceat(acc, starts, axis=0),
                    counts, floor[starts])


def _cat(parts: list[np.ndarray | None]) -> np.ndarray | None:
    """The parts of a column concatenated (None: a column not computed)."""
    return None if parts[0] is None else np.concatenate([p for p in parts if p is not None])


def _part(x: np.ndarray | None, a: int, b: int | None) -> np.ndarray | None:
    return None if x is None else x[a:b]


def _block_mean(x: np.ndarray, d: int) -> np.ndarray:
    """Means of consecutive blocks of d samples (len(x) a multiple of d): the block's
    samples added in order, times 1/d. Column by column: a strided pass over one long
    column is several times faster than over rows of three."""
    if d == 1:
        return x.copy()
    cols = x[:, None] if x.ndim == 1 else x
    out = np.empty((len(x) // d, cols.shape[1]))
    for c in range(cols.shape[1]):
        col, o = cols[:, c], out[:, c]
        np.add(col[0::d], col[1::d], out=o)
        for k in range(2, d):
            o += col[k::d]
    out *= 1.0 / d
    return out.reshape(len(out), *x.shape[1:])


def _angles_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    na = np.linalg.norm(a, axis=1)
    nb = np.linalg.norm(b, axis=1)
    c = np.einsum("ij,ij->i", a, b) / np.maximum(na * nb, 1e-12)
    return np.degrees(np.arccos(np.clip(c, -1.0, 1.0)))
