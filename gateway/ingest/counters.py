"""What one band's link lost, and how we know: the loss accounting's counters.

The protocol carries two counters (docs/protocol.md). A gap in ``seq`` within one
connection is a notification the radio link lost (``frames_lost``). A gap in the sample
index is samples that have not arrived; after a reconnect the band replays them from its
offline ring, so such a hole is held open for a while (``reorder.Reorderer``) and only
counted as ``samples_missing`` once it is given up on.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LinkCounters:
    frames: int = 0
    frames_lost: int = 0  # seq gaps inside one connection
    samples: int = 0  # delivered to the DSP, in order
    samples_backlog: int = 0  # of those, recovered from the band's offline ring
    samples_missing: int = 0  # index holes given up on
    samples_late: int = 0  # arrived after their hole was given up on
    samples_duplicate: int = 0
    loss_flags: int = 0  # frames saying the band itself lost samples before them
    connects: int = 0
    disconnects: int = 0
    reboots: int = 0  # new streams confirmed: the band restarted (docs/architecture.md)
    seq_jumps: int = 0  # seq gaps too large for one connection: resynchronised, not counted
    rejected: dict[str, int] = field(default_factory=dict)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


# The largest gap in ``seq`` that one connection can lose: the link layer retransmits until
# the supervision timeout (at most 32 s), and the band sends at most 40 notifications per
# second, so ~1,300. A larger gap (a flipped bit, a notification repeated, which wraps to
# 65,535) is a damaged counter, not that many lost frames.
SEQ_GAP_MAX = 2048


class SeqTracker:
    """Notifications lost in transit: gaps in the 16-bit ``seq`` of one connection."""

    def __init__(self, counters: LinkCounters) -> None:
        self.c = counters
        self.expected: int | None = None
        self.jumped = False  # the last observe() resynchronised

    def observe(self, seq: int) -> None:
        self.jumped = False
        if self.expected is not None:
            gap = (seq - self.expected) & 0xFFFF
            if gap > SEQ_GAP_MAX:
                self.c.seq_jumps += 1
                self.jumped = True
            else:
                self.c.frames_lost += gap
        self.expected = (seq + 1) & 0xFFFF

    def restart(self) -> None:
        """A new connection: seq starts again, nothing before it counts as a gap."""
        self.expected = None
