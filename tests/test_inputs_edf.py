"""The EDF/EDF+/BDF reader on files written by edfio (the maintained EDF library the EDF+
export uses too), read back by edfio as a cross-check, and damaged copies of them."""

from __future__ import annotations

import datetime as dt
import pathlib
import re

import numpy as np
import pytest

edfio = pytest.importorskip("edfio")

from tests.helpers import read_all  # noqa: E402
from twitchwatch.gateway.cli import main  # noqa: E402
from twitchwatch.gateway.errors import RecordingError  # noqa: E402
from twitchwatch.gateway.inputs import InputOptions, open_input  # noqa: E402

FS = 100
SECONDS = 60
START = dt.time(22, 15, 3, 250000)
DATE = dt.date(2026, 3, 1)


def motion(seed: int = 1, seconds: int = SECONDS) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = FS * seconds
    acc = rng.normal(0, 0.3, (n, 3)) + np.array([0.0, 0.0, 1.0])
    gyro = rng.normal(0, 60, (n, 3))
    return acc, gyro


def write_edf(path: pathlib.Path, acc: np.ndarray, gyro: np.ndarray | None = None, *,
              labels: tuple[str, str, str] = ("Acc X", "Acc Y", "Acc Z"), dim: str = "g",
              acc_range: float = 8.0, gyro_fs: int = FS) -> pathlib.Path:
    sigs = [edfio.EdfSignal(acc[:, i], FS, label=labels[i], physical_dimension=dim,
                            physical_range=(-acc_range, acc_range)) for i in range(3)]
    if gyro is not None:
        sigs += [edfio.EdfSignal(gyro[:, i], gyro_fs, label=f"Gyro {a}",
                                 physical_dimension="deg/s", physical_range=(-2000, 2000))
                 for i, a in enumerate("XYZ")]
    edf = edfio.Edf(sigs, starttime=START, recording=edfio.Recording(
        startdate=DATE, equipment_code="twitchwatch_band"),
        annotations=[edfio.EdfAnnotation(12.5, 0.2, "Myoclonic jerk")])
    edf.write(path)
    return path


def test_edf_plus_with_gyroscope(tmp_path: pathlib.Path) -> None:
    acc, gyro = motion()
    path = write_edf(tmp_path / "night.edf", acc, gyro)
    info, t, a, g = read_all(path)
    assert info.format == "EDF+C" and info.has_gyro  # type: ignore[attr-defined]
    # within half a step of 16 bits over the physical range
    assert np.abs(a - acc).max() <= 16 / 65535 / 2 + 1e-12
    assert g is not None and np.abs(g - gyro).max() <= 4000 / 65535 / 2 + 1e-9
    assert np.allclose(t, np.arange(len(acc)) / FS, rtol=0, atol=1e-9)
    assert info.rate_hz == FS  # type: ignore[attr-defined]
    # the start with the sub-second part EDF+ keeps in its first time-keeping annotation
    assert info.start_local == dt.datetime.combine(DATE, START)  # type: ignore[attr-defined]
    assert info.start_utc is None  # type: ignore[attr-defined]
    assert info.device == "twitchwatch band"  # type: ignore[attr-defined]
    assert (info.acc_range_g, info.gyro_range_dps) == (8.0, 2000.0)  # type: ignore
    # the same physical values as edfio reads from the file
    back = edfio.read_edf(path)
    for i, label in enumerate(("Acc X", "Acc Y", "Acc Z")):
        assert np.allclose(back.get_signal(label).data, a[:, i], rtol=0, atol=1e-12)
    assert np.allclose(back.get_signal("Gyro Z").data, g[:, 2], rtol=0, atol=1e-9)


def test_bdf_in_metres_per_second_squared(tmp_path: pathlib.Path) -> None:
    acc, _ = motion(2)
    ms2 = acc * 9.80665
    sigs = [edfio.BdfSignal(ms2[:, i], FS, label=f"accel_{a}", physical_dimension="m/s^2",
                            physical_range=(-80, 80)) for i, a in enumerate("xyz")]
    sigs.append(edfio.BdfSignal(np.zeros(FS * SECONDS), FS, label="EEG Fpz"))
    edfio.Bdf(sigs, starttime=dt.time(1, 2, 3),
              recording=edfio.Recording(startdate=DATE)).write(tmp_path / "a.bdf")
    info, t, a, g = read_all(tmp_path / "a.bdf")
    assert info.format == "BDF" and g is None  # type: ignore[attr-defined]
    assert np.abs(a - acc).max() <= 160 / 2**24 / 9.80665 + 1e-12
    assert info.start_local == dt.datetime.combine(DATE, dt.time(1, 2, 3))  # type: ignore
    assert info.warnings == []  # type: ignore[attr-defined]
    assert len(t) == FS * SECONDS


def test_blank_units_detected_from_gravity_or_declared(tmp_path: pathlib.Path) -> None:
    acc, _ = motion(3)
    path = write_edf(tmp_path / "blank.edf", acc * 9.80665, dim="", acc_range=80)
    info, _, a, _ = read_all(path)
    assert np.abs(a - acc).max() < 1e-3
    assert any("look like m/s2" in w for w in info.warnings)  # type: ignore[attr-defined]
    info, _, a2, _ = read_all(path, acc_units="m/s2")
    assert np.allclose(a, a2)
    assert not any("look like" in w for w in info.warnings)  # type: ignore[attr-defined]


def test_channels_by_label_or_named(tmp_path: pathlib.Path) -> None:
    acc, _ = motion(4)
    path = write_edf(tmp_path / "odd.edf", acc, labels=("Wrist1", "Wrist2", "Wrist3"))
    with pytest.raises(RecordingError, match=r"no accelerometer channel for ax, ay, az "
                                             r"\(signals: 'Wrist1', 'Wrist2', 'Wrist3'"):
        open_input(path)
    _, _, a, _ = read_all(path, columns={"ax": "Wrist2", "ay": "wrist1", "az": "Wrist3"})
    assert np.array_equal(a[:, 0], read_all(path, columns={
        "ax": "Wrist1", "ay": "Wrist2", "az": "Wrist3"})[2][:, 1])
    with pytest.raises(RecordingError, match=r"--columns: ax=Hand: no such signal"):
        open_input(path, InputOptions(columns={"ax": "Hand"}))


def test_gyroscope_at_another_rate_is_dropped_with_a_warning(tmp_path: pathlib.Path) -> None:
    acc, gyro = motion(5)
    path = write_edf(tmp_path / "g.edf", acc, gyro[::2], gyro_fs=FS // 2)
    info, _, _, g = read_all(path)
    assert g is None and not info.has_gyro  # type: ignore[attr-defined]
    assert any("rate differs" in w for w in info.warnings)  # type: ignore[attr-defined]


def _annotation_offset(data: bytes) -> tuple[int, int, int]:
    """(first byte of record data, bytes per record, offset of the annotation signal)."""
    ns = int(data[252:256])
    hdr = 256 * (ns + 1)
    labels = [data[256 + 16 * i:256 + 16 * (i + 1)].decode().strip() for i in range(ns)]
    spr_at = 256 + ns * (16 + 80 + 8 * 5 + 80)
    spr = [int(data[spr_at + 8 * i:spr_at + 8 * (i + 1)]) for i in range(ns)]
    ann = labels.index("EDF Annotations")
    return hdr, 2 * sum(spr), 2 * sum(spr[:ann])


def test_edf_plus_d_records_placed_by_their_time_keeping(tmp_path: pathlib.Path) -> None:
    """edfio writes EDF+C only: an EDF+D is made by moving records 10-59 ten seconds later
    in their time-keeping annotations (same digit count, so the layout stays)."""
    acc, _ = motion(6)
    data = bytearray(write_edf(tmp_path / "c.edf", acc).read_bytes())
    data[192:197] = b"EDF+D"
    hdr, rec, ann = _annotation_offset(bytes(data))
    for k in range(10, SECONDS):
        at = hdr + k * rec + ann
        old = f"+{k}.25\x14".encode()  # the start's quarter second is kept in every onset
        assert data[at:at + len(old)] == old
        data[at:at + len(old)] = f"+{k + 10}.25\x14".encode()
    path = tmp_path / "d.edf"
    path.write_bytes(bytes(data))
    info, t, a, _ = read_all(path)
    assert info.format == "EDF+D"  # type: ignore[attr-defined]
    assert np.allclose(t[:1000], np.arange(1000) / FS)
    assert np.allclose(t[1000:], 20 + np.arange(len(t) - 1000) / FS)
    assert np.abs(a - acc).max() <= 16 / 65535
    assert any("1 gap(s) between EDF+D records" in w for w in info.warnings)  # type: ignore


def test_damaged_edf_files(tmp_path: pathlib.Path) -> None:
    acc, _ = motion(7)
    good = write_edf(tmp_path / "good.edf", acc).read_bytes()
    hdr, rec, _ = _annotation_offset(good)

    def bad(name: str, data: bytes, match: str) -> None:
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(RecordingError) as e:
            list(open_input(p).chunks())
        assert "\n" not in str(e.value) and str(p) in str(e.value)
        assert re.search(match, str(e.value)), str(e.value)

    # cut inside record 20: the 20 whole records are read, with warnings
    cut = tmp_path / "cut.edf"
    cut.write_bytes(good[: hdr + 20 * rec + 123])
    info, t, a, _ = read_all(cut)
    assert len(t) == 20 * FS and np.abs(a - acc[: 20 * FS]).max() <= 16 / 65535
    assert any("holds 20" in w for w in info.warnings)  # type: ignore[attr-defined]
    assert any("cut short (123 of" in w for w in info.warnings)  # type: ignore[attr-defined]
    bad("head.edf", good[:200], r"header: 200 bytes")
    bad("version.edf", b"1       " + good[8:], r"the name says EDF/BDF, the content does not")
    bad("hdrbytes.edf", good[:184] + b"1024    " + good[192:], r"header bytes .*: 1024, "
                                                                 r"expected 1280")
    ns = int(good[252:256])
    dmin_at = 256 + ns * (16 + 80 + 8 * 3)
    bad("dig.edf", good[:dmin_at] + b"32767   " + good[dmin_at + 8:],
        r"signal 1 \('Acc X'\): digital maximum 32767 is not above the minimum 32767")
    bad("dur.edf", good[:244] + b"abc     " + good[252:], r"data record duration.*'abc' is "
                                                           r"not a number")
    bad("norecords.edf", good[:hdr], r"data records: none in the file")


def test_analyze_on_edf(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    acc, gyro = motion(8)
    path = write_edf(tmp_path / "night.edf", acc, gyro)
    assert main(["analyze", str(path), "--no-progress", "--tz", "Europe/Paris"]) == 0
    out = capsys.readouterr().out
    assert "[EDF+C, twitchwatch band, with gyroscope]" in out
    assert "recording started 2026-03-01 22:15:03.250 Europe/Paris" in out
