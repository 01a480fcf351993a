"""Raw samples as InfluxDB line protocol, vectorised (schema: docs/storage.md, `raw`).

    raw,band=b1 ax=0.01221,ay=-0.00049,az=1.00024,gx=0.122,gy=-0.061,gz=0.000 1764000005010000

A night is 2.88 M lines per band, so lines are not built one by one: a batch becomes one
byte matrix (constant parts broadcast, digits by integer arithmetic, padding bytes where
a value is shorter), the padding is removed in one pass, and the bytes split into lines.

- Fixed decimals, enough to keep every int16 reading: acceleration 5 (0.01 mg; the finest
  step is 0.061 mg, at the ±2 g range), rotation 3 (0.001 deg/s; the finest step is
  0.0076 deg/s, at ±250 deg/s). A value that rounds to zero is written ``0.000``, never
  ``-0.000``.
- Timestamps in µs (the raw sink writes with ``precision=u``): a sample every 5-20 ms keeps
  its own time, and a point is still keyed by band + sensor-derived time, so a resend or a
  second replay overwrites instead of duplicating.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..records import RawSamplesRecord
from .lineproto import tag_value

MEASUREMENT = "raw"
ACC_DECIMALS = 5
GYRO_DECIMALS = 3
_PAD = 0  # a byte that never occurs in a line (NUL), removed before decoding


def _const(text: str, n: int) -> np.ndarray:
    b = np.frombuffer(text.encode(), np.uint8)
    return np.broadcast_to(b, (n, len(b)))


def _digits(v: np.ndarray, width: int, keep: int) -> np.ndarray:
    """(n, width) ASCII digits of non-negative ints; leading zeros beyond the last ``keep``
    digits become padding (so 7 is "7" and, with keep=3, 7 is "007")."""
    out = np.empty((len(v), width), np.uint8)
    rest = v.copy()
    for j in range(width):
        d = rest % 10
        rest //= 10
        col = 48 + d
        if j >= keep:
            col[(d == 0) & (rest == 0)] = _PAD
        out[:, width - 1 - j] = col
    return out


def _width(v: np.ndarray) -> int:
    return len(str(int(v.max()))) if len(v) else 1


def _fixed(x: np.ndarray, decimals: int) -> list[np.ndarray]:
    """A column of floats as [sign, integer part, ".", decimals] byte matrices."""
    scale = 10 ** decimals
    q = np.rint(x * scale).astype(np.int64)
    a = np.abs(q)
    whole = a // scale
    sign = np.where(q < 0, ord("-"), _PAD).astype(np.uint8)[:, None]
    return [sign, _digits(whole, _width(whole), 1), _const(".", len(x)),
            _digits(a % scale, decimals, decimals)]


def raw_lines(band: str, t_ns: np.ndarray, acc_g: np.ndarray,
              gyro_dps: np.ndarray | None) -> list[str]:
    """One line per sample: fields ax, ay, az (g) and gx, gy, gz (deg/s) when present."""
    n = len(t_ns)
    if n == 0:
        return []
    cols = [("ax", acc_g[:, 0], ACC_DECIMALS), ("ay", acc_g[:, 1], ACC_DECIMALS),
            ("az", acc_g[:, 2], ACC_DECIMALS)]
    if gyro_dps is not None:
        cols += [("gx", gyro_dps[:, 0], GYRO_DECIMALS), ("gy", gyro_dps[:, 1], GYRO_DECIMALS),
                 ("gz", gyro_dps[:, 2], GYRO_DECIMALS)]
    parts: list[np.ndarray] = []
    sep = f"{MEASUREMENT},band={tag_value(band)} "
    for name, x, decimals in cols:
        parts += [_const(f"{sep}{name}=", n), *_fixed(np.asarray(x, float), decimals)]
        sep = ","
    t_us = (np.asarray(t_ns, np.int64) + 500) // 1000
    parts += [_const(" ", n), _digits(t_us, _width(t_us), 1), _const("\n", n)]
    flat = np.hstack(parts).ravel()
    return flat[flat != _PAD].tobytes().decode().split("\n")[:-1]


def raw_record_lines(records: Iterable[RawSamplesRecord]) -> list[str]:
    """Lines for a batch of blocks, formatted in as few calls as possible: consecutive
    blocks of one band with the same channels are joined first (numpy's per-call cost is
    larger than a 18-sample frame's formatting)."""
    out: list[str] = []
    run: list[RawSamplesRecord] = []

    def flush() -> None:
        if not run:
            return
        gyro = run[0].gyro_dps
        out.extend(raw_lines(
            run[0].band, np.concatenate([r.t_ns for r in run]),
            np.concatenate([r.acc_g for r in run]),
            None if gyro is None else np.concatenate([r.gyro_dps for r in run
                                                      if r.gyro_dps is not None])))
        run.clear()

    for r in records:
        if run and (r.band != run[0].band or (r.gyro_dps is None) != (run[0].gyro_dps is None)):
            flush()
        run.append(r)
    flush()
    return out
