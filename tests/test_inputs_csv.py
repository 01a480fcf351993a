"""CSV with other columns, units and time formats: found, declared, or refused by line."""

from __future__ import annotations

import datetime as dt
import gzip
import pathlib

import numpy as np
import pytest

from twitchwatch.gateway.cli import main
from twitchwatch.gateway.errors import RecordingError
from twitchwatch.gateway.inputs import InputOptions, open_input
from twitchwatch.gateway.inputs.csvfile import CsvFormatError, iter_csv

G = 9.80665
RATE = 50


def motion(seconds: float = 90, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    return rng.normal(0, 0.05, (n, 3)) + np.array([0.0, 0.3, 0.95])


def write(path: pathlib.Path, header: list[str], cols: list[np.ndarray | list[str]],
          bom: bool = False) -> pathlib.Path:
    lines = [",".join(header)]
    for row in zip(*cols, strict=True):
        lines.append(",".join(x if isinstance(x, str) else repr(float(x)) for x in row))
    text = ("\ufeff" if bom else "") + "\n".join(lines) + "\n"
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def read(path: pathlib.Path, **opts: object) -> tuple[object, np.ndarray, np.ndarray,
                                                       np.ndarray | None]:
    inp = open_input(path, InputOptions(**opts))  # type: ignore[arg-type]
    chunks = list(inp.chunks())
    gyro = (np.concatenate([c.gyro_dps for c in chunks])  # type: ignore[misc]
            if chunks[0].gyro_dps is not None else None)
    return (inp.info, np.concatenate([c.t_s for c in chunks]),
            np.concatenate([c.acc_g for c in chunks]), gyro)


def test_metres_per_second_squared_detected_declared_or_contradicted(tmp_path: pathlib.Path
                                                                      ) -> None:
    acc = motion()
    t = np.arange(len(acc)) / RATE
    path = write(tmp_path / "ms2.csv", ["t", "ax", "ay", "az"], [t, *(acc * G).T])
    info, tt, a, _ = read(path)
    assert np.allclose(a, acc) and np.allclose(tt, t)
    assert any("values look like m/s2" in w and "converted to g" in w
               for w in info.warnings)  # type: ignore[attr-defined]
    info, _, a, _ = read(path, acc_units="m/s2")
    assert np.allclose(a, acc) and info.warnings == []  # type: ignore[attr-defined]
    # declared g although gravity says m/s2: obeyed, and said
    info, _, a, _ = read(path, acc_units="g")
    assert np.allclose(a, acc * G)
    assert any("declared in g but the median |a| is 9.8" in w
               for w in info.warnings)  # type: ignore[attr-defined]
    # a unit in the header counts as declared
    path = write(tmp_path / "hdr.csv", ["t", "ax (m/s^2)", "ay (m/s^2)", "az (m/s^2)"],
                 [t, *(acc * G).T])
    info, _, a, _ = read(path)
    assert np.allclose(a, acc)
    assert not any("look like" in w for w in info.warnings)  # type: ignore[attr-defined]
    # milli-g
    path = write(tmp_path / "mg.csv", ["t", "ax", "ay", "az"], [t, *(acc * 1000).T])
    info, _, a, _ = read(path)
    assert np.allclose(a, acc)
    assert any("look like mg" in w for w in info.warnings)  # type: ignore[attr-defined]


def test_native_file_reads_as_before(tmp_path: pathlib.Path) -> None:
    acc = motion(20)
    t = np.arange(len(acc)) / RATE + 100.0
    path = write(tmp_path / "native.csv.gz", ["t", "ax", "ay", "az", "gx", "gy", "gz"],
                 [t, *acc.T, *(acc * 10).T])
    info, tt, a, g = read(path)
    assert np.array_equal(tt, t) and np.array_equal(a, acc)  # relative seconds kept as is
    assert g is not None and np.array_equal(g, acc * 10)
    assert info.warnings == [] and info.start_local is None  # type: ignore[attr-defined]
    assert info.rate_hz == RATE  # type: ignore[attr-defined]


def test_byte_order_mark_is_stripped(tmp_path: pathlib.Path) -> None:
    acc = motion(5)
    t = np.arange(len(acc)) / RATE
    for name in ("bom.csv", "bom.csv.gz"):
        path = write(tmp_path / name, ["t", "ax", "ay", "az"], [t, *acc.T], bom=True)
        info, tt, a, _ = read(path)
        assert np.array_equal(tt, t) and np.array_equal(a, acc)
        assert info.warnings == []  # type: ignore[attr-defined]
        assert sum(len(c.t_s) for c in iter_csv(path)) == len(t)


def test_iso_epoch_and_millisecond_times(tmp_path: pathlib.Path) -> None:
    acc = motion(10)
    n = len(acc)
    t0 = dt.datetime(2026, 3, 1, 23, 30, 0, 125000)
    ts = [t0 + dt.timedelta(seconds=i / RATE) for i in range(n)]
    rel = np.arange(n) / RATE
    # ISO 8601 with an offset: UTC start known
    iso = [x.isoformat(timespec="milliseconds") + "+01:00" for x in ts]
    info, t, a, _ = read(write(tmp_path / "iso.csv", ["time", "x", "y", "z"], [iso, *acc.T]))
    assert np.allclose(t, rel, atol=1e-9) and np.array_equal(a, acc)
    assert info.start_local == t0 and info.utc_offset == dt.timedelta(hours=1)  # type: ignore
    assert info.start_utc == (t0 - dt.timedelta(hours=1)).replace(tzinfo=dt.UTC)  # type: ignore
    assert any("ISO 8601 with UTC offset" in w for w in info.warnings)  # type: ignore
    assert any("columns: t=time, ax=x, ay=y, az=z" in w for w in info.warnings)  # type: ignore
    # ISO without offset: local clock; --tz makes it UTC
    naive = [x.isoformat(sep=" ") for x in ts]
    path = write(tmp_path / "naive.csv", ["timestamp", "ax", "ay", "az"], [naive, *acc.T])
    info, t, _, _ = read(path, tz="America/New_York")
    assert np.allclose(t, rel, atol=1e-9)
    assert info.start_utc == (t0 + dt.timedelta(hours=5)).replace(tzinfo=dt.UTC)  # type: ignore
    # epoch seconds and milliseconds: UTC
    epoch = (t0.replace(tzinfo=dt.UTC) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
             ).total_seconds() + rel
    for name, col, fmt in (("es.csv", epoch, "Unix epoch seconds"),
                           ("ems.csv", epoch * 1000, "Unix epoch milliseconds")):
        info, t, _, _ = read(write(tmp_path / name, ["t", "ax", "ay", "az"], [col, *acc.T]))
        assert np.allclose(t, rel, atol=1e-6)
        assert info.start_utc == t0.replace(tzinfo=dt.UTC)  # type: ignore[attr-defined]
        assert any(fmt in w for w in info.warnings)  # type: ignore[attr-defined]
    # relative milliseconds: by the column name, or by the step (and said)
    info, t, _, _ = read(write(tmp_path / "ms.csv", ["time_ms", "ax", "ay", "az"],
                               [rel * 1000, *acc.T]))
    assert np.allclose(t, rel) and any("milliseconds" in w
                                       for w in info.warnings)  # type: ignore
    info, t, _, _ = read(write(tmp_path / "ms2.csv", ["t", "ax", "ay", "az"],
                               [rel * 1000, *acc.T]))
    assert np.allclose(t, rel)
    assert any("read as milliseconds (median step 20)" in w
               for w in info.warnings)  # type: ignore
    # declared: the step heuristic is not used
    info, t, _, _ = read(tmp_path / "ms2.csv", time_format="s")
    assert np.allclose(t, rel * 1000)


def test_columns_found_by_name_or_mapped(tmp_path: pathlib.Path) -> None:
    acc = motion(10)
    t = np.arange(len(acc)) / RATE
    gyro_rad = acc[:, ::-1] * 0.5
    path = write(tmp_path / "ag.csv", ["Timestamp", "Accelerometer X", "Accelerometer Y",
                                       "Accelerometer Z", "Gyro X (rad/s)", "Gyro Y (rad/s)",
                                       "Gyro Z (rad/s)"], [t, *acc.T, *gyro_rad.T])
    info, _, a, g = read(path)
    assert np.array_equal(a, acc)
    assert g is not None and np.allclose(g, np.degrees(gyro_rad))
    assert any("columns: t=Timestamp, ax=Accelerometer X" in w
               for w in info.warnings)  # type: ignore[attr-defined]
    path = write(tmp_path / "odd.csv", ["when", "u", "v", "w", "extra"],
                 [t, *acc.T, t])
    with pytest.raises(CsvFormatError, match=r"odd.csv:1: missing column\(s\) t, ax, ay, az "
                                             r"\(header: when,u,v,w,extra\)"):
        open_input(path)
    _, tt, a, _ = read(path, columns={"t": "when", "ax": "w", "ay": "u", "az": "v"})
    assert np.array_equal(a, acc[:, [2, 0, 1]]) and np.array_equal(tt, t)
    with pytest.raises(CsvFormatError, match=r"--columns az=q: no such column"):
        open_input(path, InputOptions(columns={"t": "when", "ax": "w", "ay": "u", "az": "q"}))
    path = write(tmp_path / "gyro_rads.csv", ["t", "ax", "ay", "az", "gx", "gy", "gz"],
                 [t, *acc.T, *gyro_rad.T])
    _, _, _, g = read(path, gyro_units="rads")
    assert g is not None and np.allclose(g, np.degrees(gyro_rad))


def test_bad_rows_named_by_line(tmp_path: pathlib.Path) -> None:
    acc = motion(4)
    t0 = dt.datetime(2026, 3, 1, 23, 0, 0)
    iso = [(t0 + dt.timedelta(seconds=i / RATE)).isoformat() + "Z" for i in range(len(acc))]
    iso[57] = "yesterday"
    path = write(tmp_path / "iso.csv", ["time", "ax", "ay", "az"], [iso, *acc.T])
    with pytest.raises(CsvFormatError, match=r"iso.csv:59: time is not an ISO 8601 time "
                                             r"with a UTC offset"):
        read(path)
    words = write(tmp_path / "words.csv", ["time", "ax", "ay", "az"],
                  [["a", "b"], [1, 2], [1, 2], [1, 2]])
    with pytest.raises(CsvFormatError, match=r"neither numbers nor ISO 8601"):
        open_input(words)
    with pytest.raises(RecordingError, match=r"--tz 'Mars/Olympus': not a time zone"):
        open_input(write(tmp_path / "n.csv", ["time", "ax", "ay", "az"],
                         [[t0.isoformat()], [0], [0], [1]]), InputOptions(tz="Mars/Olympus"))


def test_analyze_flags(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    acc = motion(60)
    ms = np.arange(len(acc)) * (1000 / RATE)
    path = write(tmp_path / "phone.csv", ["ms", "X", "Y", "Z"], [ms, *(acc * G).T])
    assert main(["analyze", str(path), "--no-progress", "--columns",
                 "t=ms,ax=X,ay=Y,az=Z", "--acc-units", "m/s2", "--time-format", "ms"]) == 0
    out = capsys.readouterr().out
    assert f"{path} [CSV]: 3,000 samples at 50.0 Hz" in out
    assert "note: columns: t=ms, ax=X, ay=Y, az=Z" in out
    assert main(["analyze", str(path), "--no-progress", "--columns", "t=ms,bogus"]) == 2
    assert "--columns 't=ms,bogus'" in capsys.readouterr().err
