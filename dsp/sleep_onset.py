"""The final hypnic-or-myoclonic decision of an accepted jerk.

A hypnic jerk (a sleep start) is a single jerk at the change from wake to sleep: it comes
after the last voluntary movement of a wake period, while the arm lies still before
settled sleep, and no other jerk comes within 30 s of it (the eval's definition). Each
check below is one part of that picture, and each names why it refuses, so that a trace
shows which part of the context was missing:

* ``not_isolated``: another accepted jerk, or a clear jerk-like burst that the jerk
  stage turned down (a multiphasic or busy one), within ``isolation_s``. A jerk next to a
  missed one is part of a cluster; counting the clear rejected ones too keeps the call
  from depending on whether one neighbour was accepted;
* ``small``: a sleep start is a large, body-wide jerk (0.4-2.6 g); an isolated small one
  is an ordinary myoclonic jerk (or a false detection, which must not take the onset's
  only hypnic slot);
* ``moving``: it comes in the middle of a movement bout;
* ``no_wake``: the last clear movement before it did not end a wake period (an arousal
  from sleep is not a sleep onset; see ``Context`` for how a short wake spell is told
  from an arousal; the bouts of other jerks, a cluster however long, are no movement);
* ``too_soon`` / ``too_late``: the time since that movement is outside the sleep-onset
  latency (drowsiness and stage N1 take tens of seconds of stillness at least; settled
  sleep comes within ~20 min);
* ``taken``: that onset already had its sleep start (one per onset; a bout that starts
  within seconds after a sleep start is its arousal, and the onset after it the same);
* ``moved_after``: clear movement resumed 8-30 s after it (a sleep start may cause an
  arousal within seconds; movement later means the wearer is still settling);
* ``tremor``: a tremor ran shortly before it (rest tremor fades with drowsiness);
* ``awake_sway``: the stillness since the movement has the drift of an awake arm.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from .config import AnalyzerConfig

if TYPE_CHECKING:
    from .jerk_features import Burst
    from .sleep import Context
    from .tremor import TremorTracker

# verdicts of bursts that never become neighbours: noise, too long, impacts (a knock or a
# tap is no jerk, and the jerk stage already tells them apart by their shape)
_NOT_JERK_LIKE = frozenset({"small", "low_contrast", "long", "missing_data", "impact",
                            "no_rotation", "translation", "rebound", "jerk"})


class HypnicDecider:
    """Keeps what the decision needs besides the accepted jerks: clear rejected bursts and
    the onsets that already had their sleep start."""

    def __init__(self, cfg: AnalyzerConfig, ctx: Context, tremor: TremorTracker) -> None:
        self.cfg = cfg
        self.ctx = ctx
        self.tremor = tremor
        self.jerk_like: deque[float] = deque(maxlen=256)  # start times of clear rejected ones
        self.onsets_taken: deque[float] = deque(maxlen=64)
        self.hypnic_at: deque[float] = deque(maxlen=64)  # sleep starts called
        self.reason = ""
        self._onset = 0.0

    def note_burst(self, b: Burst, verdict: str) -> None:
        """Every classified burst; a clear jerk-like one turned down is kept for isolation."""
        cfg = self.cfg
        longest = cfg.jerk_max_s if b.n_phases == 1 else cfg.jerk_pulse_max_s
        if (verdict not in _NOT_JERK_LIKE and b.peak_g >= cfg.hypnic_neighbour_min_g
                and b.t_end - b.t_start <= longest):
            self.jerk_like.append(b.t_start)

    def onset_of(self, t_j: float, peak_g: float, others: list[float]) -> float | None:
        """The sleep onset (end of the last wake movement) this jerk starts from, or None;
        ``others`` are the start times of the other accepted jerks."""
        self.reason = self._check(t_j, peak_g, others)
        if self.reason:
            return None
        onset = self._onset
        self.onsets_taken.append(onset)
        self.hypnic_at.append(t_j)
        return onset

    def _check(self, t_j: float, peak_g: float, others: list[float]) -> str:
        cfg = self.cfg
        ctx = self.ctx
        iso = cfg.isolation_s
        if any(abs(t - t_j) <= iso for t in others):
            return "not_isolated"
        # (its own later phases and an arousal right after it are not neighbours)
        own = (t_j - cfg.hypnic_own_s, t_j + cfg.hypnic_arousal_s)
        if any(abs(t - t_j) <= iso and not own[0] <= t <= own[1] for t in self.jerk_like):
            return "not_isolated"
        if peak_g < cfg.hypnic_min_peak_g:
            return "small"
        bout = None
        for bt in reversed(ctx.bouts):
            if bt.n_clear == 0:
                continue  # (a bout of faint slow rises only may be noise)
            if bt.end > t_j - cfg.hypnic_own_s:
                if bt.start < t_j - cfg.hypnic_own_s:
                    return "moving"
                continue
            if (bt.end - bt.start <= cfg.jerk_bout_s and any(
                    bt.start - cfg.jerk_lead_s <= tj <= bt.end for tj in others)) or (
                    ctx.jerks_only(bt, exclude=t_j)):
                continue  # other jerks' bout (a cluster's, however long)
            bout = bt
            break
        if bout is None or not bout.in_wake:
            return "no_wake"
        tau = t_j - bout.end
        if tau < cfg.hypnic_min_s:
            return "too_soon"
        if tau > cfg.hypnic_max_s:
            return "too_late"
        if bout.end in self.onsets_taken or any(
                th - cfg.jerk_lead_s <= bout.start <= th + cfg.hypnic_arousal_s
                for th in self.hypnic_at):
            # (a bout from a sleep start's own second to hypnic_arousal_s after it is its
            # arousal: the onset after it is the same one)
            return "taken"
        if ctx.bout_starting(t_j + cfg.hypnic_arousal_s, t_j + iso):
            return "moved_after"
        if self.tremor.seen_between(t_j - cfg.hypnic_tremor_free_s, t_j):
            return "tremor"
        lo = max(bout.end + cfg.sway_guard_s, t_j - cfg.sway_window_s)
        sway = ctx.sway(lo, t_j - cfg.jerk_lead_s)
        if sway is None or sway > cfg.sleep_sway_g:
            return "awake_sway"
        self._onset = bout.end
        return ""
