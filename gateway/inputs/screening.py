"""Checks on every reader's samples where a file enters ``analyze`` (issue 11).

Each reader checks its own format; these checks are about the samples, whatever the
format, and run on the stream of chunks (memory stays flat):

- **Time advances.** A sample whose time is not after the one before (a duplicated row,
  a repeated time) is dropped and counted, said in a warning with how many were exact
  duplicates. A file whose time never advances is an error naming the file.
- **The rate is one the DSP can use.** The analyzer needs ``MIN_RATE_HZ``: a slower file
  is refused with its rate and the minimum, not fed to the DSP.
- **Values are physical.** Acceleration beyond what the sensor can report (its stated
  range, else ``ACC_LIMIT_G``) and rotation beyond ``GYRO_LIMIT_DPS`` are dropped and
  counted with a warning: a single 1e9 g spike was reported as three myoclonic jerks
  of 9.6e8 g with confidence 1.00. The dropped samples are a hole to the DSP, which
  builds no event on filled samples.
- **There are samples.** A file with a header and no data is an error ("no samples").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from ..errors import RecordingError
from ._base import Chunk, Input, InputInfo

if TYPE_CHECKING:
    import numpy as np

# The tremor band reaches 12 Hz; a sample rate must be above twice that to see it at all.
MIN_RATE_HZ = 25.0
# Without a stated range: the widest wrist accelerometers used in sleep and movement
# research report ±16 g (AX3/AX6, GT9X, the band at ±16 g); twice that is not a reading.
ACC_LIMIT_G = 32.0
# Gyroscopes top out at ±2000 deg/s (a few at ±4000): beyond that a value is corrupt.
GYRO_LIMIT_DPS = 4000.0
RANGE_MARGIN = 1.05  # a sensor's readings reach its full scale, and a little over it
RATE_PROBE = 256  # samples that set the rate (as the DSP's own probe)


def checked_chunks(inp: Input, progress: Callable[[float], None] | None = None
                   ) -> Iterator[Chunk]:
    """``inp.chunks()`` with the checks above; warnings go to ``inp.info``."""
    import numpy as np

    info = inp.info
    acc_lim = (info.acc_range_g * RANGE_MARGIN) if info.acc_range_g else ACC_LIMIT_G
    gyro_lim = (info.gyro_range_dps * RANGE_MARGIN) if info.gyro_range_dps \
        else GYRO_LIMIT_DPS
    last_t = -np.inf
    last_row: np.ndarray | None = None
    repeats = exact = implausible = kept = 0
    probe: list[Chunk] = []
    probe_n = 0
    rate_ok = False
    first_t: float | None = None
    for c in inp.chunks(progress=progress):
        t = np.asarray(c.t_s, dtype=np.float64)
        if len(t) == 0:
            continue
        if first_t is None:
            first_t = float(t[0])
        acc, gyro = c.acc_g, c.gyro_dps
        run = np.maximum.accumulate(np.concatenate([[last_t], t]))[:-1]
        fwd = t > run
        if not fwd.all():
            rows = np.hstack([acc] + ([gyro] if gyro is not None else []))
            prev = np.vstack([rows[:1] if last_row is None else last_row[None], rows[:-1]])
            same = ~fwd & (t == np.concatenate([[last_t], t[:-1]])) \
                & (rows == prev).all(axis=1)
            repeats += int((~fwd).sum())
            exact += int(same.sum())
        last_t = max(last_t, float(t[-1]))
        last_row = np.hstack([acc[-1]] + ([gyro[-1]] if gyro is not None else []))
        # the usual case in one reduction per sensor (a per-row any() over 3 columns costs
        # ~10x more); NaN fails <= and takes the row-by-row test, as does any value over
        if (np.abs(acc).max() <= acc_lim
                and (gyro is None or np.abs(gyro).max() <= gyro_lim)):
            keep = fwd
        else:
            bad = (np.abs(acc) > acc_lim).any(axis=1)
            if gyro is not None:
                bad |= (np.abs(gyro) > gyro_lim).any(axis=1)
            implausible += int((bad & fwd).sum())
            keep = fwd & ~bad
        if not keep.all():
            c = Chunk(t[keep], acc[keep], None if gyro is None else gyro[keep])
        if len(c.t_s) == 0:
            continue
        kept += len(c.t_s)
        if rate_ok:
            yield c
            continue
        probe.append(c)
        probe_n += len(c.t_s)
        if probe_n >= RATE_PROBE:
            _check_rate(info, np.concatenate([p.t_s for p in probe])[:RATE_PROBE])
            rate_ok = True
            yield from probe
            probe = []
    if not rate_ok and probe_n >= 2:
        _check_rate(info, np.concatenate([p.t_s for p in probe]))
        yield from probe
    if repeats:
        info.warn(f"{repeats} sample(s) did not advance in time ({exact} exact duplicate "
                  "rows, the others repeat a time with other values): ignored")
    if implausible:
        what = f"±{acc_lim:g} g" + (f" or ±{gyro_lim:g} deg/s" if info.has_gyro else "")
        info.warn(f"{implausible} sample(s) beyond {what}, more than the sensor can "
                  "report: ignored, not analysed (a damaged file or wrong units?)")
    if kept == 0:
        raise RecordingError(f"{info.path}: no samples" + (
            f" (all {repeats + implausible} rows were ignored: see the warnings)"
            if repeats or implausible else ""))
    if kept < 2:
        at = f" (all rows at t = {first_t:g} s)" if first_t is not None else ""
        raise RecordingError(f"{info.path}: time does not advance{at}: no sample rate")


def _check_rate(info: InputInfo, t: np.ndarray) -> None:
    import numpy as np

    steps = np.diff(t)
    step = float(np.median(steps)) if len(steps) else 0.0
    rate = 1.0 / step if step > 0 else 0.0
    if rate < MIN_RATE_HZ:
        raise RecordingError(f"{info.path}: sample rate {rate:.3g} Hz is below the "
                             f"{MIN_RATE_HZ:g} Hz the analyzer needs (tremor reaches 12 Hz)")
