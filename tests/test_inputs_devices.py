"""Research-device readers against the reference conversions in ../shared/devices, damaged
copies of those files, and ``twitchwatch analyze`` on each of them.

The references (``NAME_EXT.reference.csv.gz``: t from the first sample, g, deg/s, five
decimals) were made with independent readers: scikit-digital-health for CWA and GENEActiv,
pygt3x for GT3X. CI has ../shared beside the checkout; elsewhere set TWITCHWATCH_SHARED.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import pathlib
import zipfile

import numpy as np
import pytest

from tests.helpers import read_all
from twitchwatch.gateway.cli import main
from twitchwatch.gateway.errors import RecordingError
from twitchwatch.gateway.inputs import InputOptions, open_input

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED = pathlib.Path(os.environ.get("TWITCHWATCH_SHARED") or ROOT.parent / "shared")
DEVICES = SHARED / "devices"
REF_ROUNDING = 5e-6 + 1e-9  # the references are written with five decimals


def device(name: str) -> pathlib.Path:
    path = DEVICES / name
    if not path.is_file():
        msg = f"{path} is not available (../shared/devices beside the checkout)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return path


def reference(path: pathlib.Path) -> dict[str, np.ndarray]:
    import pyarrow.csv as pcsv

    ref = path.with_name(f"{path.stem}_{path.suffix[1:]}.reference.csv.gz")
    table = pcsv.read_csv(ref)
    return {c: table.column(c).to_numpy() for c in table.column_names}


# name, format, start (local clock, from the file's own header or first block as the format
# documents say), UTC offset in the file (hours) or None, gyroscope, how far (in sample
# periods) the reference's times may be from ours.
#
# CWA starts: the first block's whole-second stamp and timestampOffset (and fraction), as
# GGIRread's and scikit-digital-health's readers turn them into a first-sample time:
#   ggirread_ax3: 10:55:07 + 0.2505 - 125/100 = 10:55:06.000 (GGIRread's test agrees)
#   ggirread_ax6: 21:04:07 + 0.0998 - 40/100  = 21:04:06.700
#   skdh_ax3:     09:03:38 - 104/200          = 09:03:37.480
#   skdh_ax6:     09:03:06 - (-30)/100        = 09:03:06.300
# The reference times of CWA files come from whole-second stamps at the nominal rate (the
# fraction ignored), hence up to ~2.5 periods from ours; the others are exact.
CASES = [
    ("ggirread_ax3_testfile.cwa", "Axivity CWA", dt.datetime(2019, 2, 26, 10, 55, 6, 0),
     None, False, 3.0),
    ("ggirread_ax6_testfile.cwa", "Axivity CWA", dt.datetime(2019, 12, 23, 21, 4, 6, 700000),
     None, True, 3.0),
    ("skdh_ax3_sample.cwa", "Axivity CWA", dt.datetime(2020, 2, 12, 9, 3, 37, 480000),
     None, False, 3.0),
    ("skdh_ax6_sample.cwa", "Axivity CWA", dt.datetime(2019, 10, 29, 9, 3, 6, 300000),
     None, True, 3.0),
    # GENEActiv: the first "Page Time", with "Time Zone:GMT -04:00" / "GMT -05:00"
    ("skdh_gnactv_sample.bin", "GENEActiv BIN", dt.datetime(2019, 5, 21, 16, 16, 43, 500000),
     -4, False, 0.01),
    ("wristpy_example_geneactiv.bin", "GENEActiv BIN", dt.datetime(2025, 3, 17, 12, 37, 33),
     -5, False, 0.01),
    # GT3X: info.txt "Start Date: 638500855800000000" (.NET ticks) = 2024-04-30 14:53:00,
    # "TimeZone: -05:00:00"
    ("wristpy_example_actigraph.gt3x", "ActiGraph GT3X", dt.datetime(2024, 4, 30, 14, 53),
     -5, False, 0.01),
]


@pytest.mark.parametrize(("name", "fmt", "start", "offset_h", "gyro", "t_periods"), CASES,
                         ids=[c[0] for c in CASES])
def test_reader_matches_reference(name: str, fmt: str, start: dt.datetime,
                                  offset_h: int | None, gyro: bool, t_periods: float) -> None:
    path = device(name)
    info, t, acc, gy = read_all(path)
    ref = reference(path)
    assert info.format == fmt  # type: ignore[attr-defined]
    assert len(t) == len(ref["t"])
    # samples: equal to the reference's five decimals
    ref_acc = np.stack([ref["ax"], ref["ay"], ref["az"]], axis=1)
    assert np.abs(acc - ref_acc).max() <= REF_ROUNDING
    assert (gy is not None) == gyro == info.has_gyro  # type: ignore[attr-defined]
    if gyro:
        ref_g = np.stack([ref["gx"], ref["gy"], ref["gz"]], axis=1)
        assert gy is not None and np.abs(gy - ref_g).max() <= REF_ROUNDING
    # rate: ours and the reference's, over the whole file
    rate = (len(t) - 1) / (t[-1] - t[0])
    ref_rate = (len(ref["t"]) - 1) / (ref["t"][-1] - ref["t"][0])
    assert rate == pytest.approx(ref_rate, rel=2e-4)
    assert info.rate_hz == pytest.approx(rate, rel=1e-3) or \
        fmt == "GENEActiv BIN"  # type: ignore[attr-defined]
    # times: from the first sample, in order, close to the reference's
    assert t[0] == 0.0 and (np.diff(t) > 0).all()
    assert np.abs(t - ref["t"]).max() <= t_periods / rate
    # start: the clock time the file gives, and UTC where the file says its offset
    assert abs((info.start_local - start).total_seconds()) <= 0.02  # type: ignore[attr-defined]
    if offset_h is None:
        assert info.start_utc is None  # type: ignore[attr-defined]
    else:
        assert info.utc_offset == dt.timedelta(hours=offset_h)  # type: ignore[attr-defined]
        utc = (start - dt.timedelta(hours=offset_h)).replace(tzinfo=dt.UTC)
        assert abs((info.start_utc - utc).total_seconds()) <= 0.02  # type: ignore
    assert info.warnings == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", [c[0] for c in CASES])
def test_progress_goes_forward_to_the_end(name: str) -> None:
    seen: list[float] = []
    n = sum(len(c.t_s) for c in open_input(device(name)).chunks(progress=seen.append))
    assert n > 0 and seen and seen == sorted(seen) and 0 < seen[-1] <= 1.0
    assert seen[-1] > 0.95


def test_cwa_ranges_and_device() -> None:
    info = open_input(device("skdh_ax6_sample.cwa")).info
    assert (info.device, info.acc_range_g, info.gyro_range_dps) == ("AX6", 16.0, 2000.0)
    info = open_input(device("ggirread_ax6_testfile.cwa")).info
    assert info.gyro_range_dps == 250.0 and info.serial == "6011834"
    info = open_input(device("ggirread_ax3_testfile.cwa")).info
    assert (info.device, info.acc_range_g, info.has_gyro) == ("AX3", 8.0, False)


def test_tz_option_gives_utc_to_a_device_clock() -> None:
    info = open_input(device("ggirread_ax3_testfile.cwa"), InputOptions(tz="Europe/Berlin")).info
    assert info.tz_name == "Europe/Berlin" and info.utc_offset == dt.timedelta(hours=1)
    assert info.start_utc is not None and info.start_local is not None
    assert info.start_utc.replace(tzinfo=None) == info.start_local - dt.timedelta(hours=1)
    # a file that states its offset keeps it, and says that --tz was ignored
    info = open_input(device("wristpy_example_geneactiv.bin"), InputOptions(tz="UTC")).info
    assert info.utc_offset == dt.timedelta(hours=-5)
    assert any("--tz UTC ignored" in w for w in info.warnings)


def test_cwa_is_streamed_and_timed_the_same_whatever_the_batch() -> None:
    """Small batches: many chunks, none holding more than a batch and the blocks waiting
    for their timing fit, and the very same times and samples as one big batch."""
    from twitchwatch.gateway.inputs import cwa

    _, t, acc, _ = read_all(device("skdh_ax3_sample.cwa"))
    old = cwa.BATCH_BLOCKS
    cwa.BATCH_BLOCKS = 16
    try:
        chunks = list(open_input(device("skdh_ax3_sample.cwa")).chunks())
    finally:
        cwa.BATCH_BLOCKS = old
    assert len(chunks) > 20 and max(len(c.t_s) for c in chunks) <= (16 + cwa.FIT_HALF) * 120
    assert np.array_equal(np.concatenate([c.t_s for c in chunks]), t)
    assert np.array_equal(np.concatenate([c.acc_g for c in chunks]), acc)


# -- damaged files: one-line errors, or skipped and counted --------------------------------

def _copy(src: pathlib.Path, dst: pathlib.Path, data: bytes | None = None) -> pathlib.Path:
    dst.write_bytes(src.read_bytes() if data is None else data)
    return dst


def _one_line_error(path: pathlib.Path, match: str) -> str:
    with pytest.raises(RecordingError) as e:
        inp = open_input(path)
        list(inp.chunks())
    text = str(e.value)
    assert "\n" not in text and str(path) in text
    assert match in text, text
    return text


def test_cwa_damaged_block_is_skipped_and_counted(tmp_path: pathlib.Path) -> None:
    src = device("ggirread_ax3_testfile.cwa")
    data = bytearray(src.read_bytes())
    data[1024 + 3 * 512 + 100] ^= 0x55  # block 3's samples
    path = _copy(src, tmp_path / "damaged.cwa", bytes(data))
    info, t, acc, _ = read_all(path)
    ref = reference(src)
    ref_acc = np.stack([ref["ax"], ref["ay"], ref["az"]], axis=1)
    assert len(t) == len(ref["t"]) - 120
    keep = np.r_[0:360, 480:len(ref_acc)]
    assert np.abs(acc - ref_acc[keep]).max() <= REF_ROUNDING
    assert t[360] - t[359] == pytest.approx(121 / 98.86, rel=0.01)  # the block's time is a gap
    assert any("1 damaged blocks (checksum): block 3 (offset 2560)" in w for w in info.warnings)


def test_cwa_truncated_and_broken(tmp_path: pathlib.Path) -> None:
    src = device("skdh_ax6_sample.cwa")
    data = src.read_bytes()
    info, t, _, _ = read_all(_copy(src, tmp_path / "cut.cwa", data[:1024 + 10 * 512 + 100]))
    assert len(t) == 10 * 40
    assert any("ends inside a block (100 bytes" in w for w in info.warnings)
    _one_line_error(_copy(src, tmp_path / "head.cwa", data[:600]), "not an Axivity CWA file")
    _one_line_error(_copy(src, tmp_path / "nodata.cwa", data[:1024]), "no data block")
    zeroed = data[:1024] + bytes(len(data) - 1024)
    _one_line_error(_copy(src, tmp_path / "zero.cwa", zeroed), "no readable data block (259 "
                    "empty blocks: block 0 (offset 1024), block 1 (offset 1536), block 2 "
                    "(offset 2048), ...)")
    _one_line_error(_copy(src, tmp_path / "csv.cwa", b"t,ax,ay,az\n0,0,0,1\n"),
                    "the name says Axivity CWA, the content does not")


def test_geneactiv_damaged_pages(tmp_path: pathlib.Path) -> None:
    src = device("wristpy_example_geneactiv.bin")
    lines = src.read_bytes().split(b"\n")
    data_lines = [i for i, x in enumerate(lines) if len(x.strip()) == 3600]
    bad = list(lines)
    bad[data_lines[5]] = bad[data_lines[5]][:100] + b"G" + bad[data_lines[5]][101:]
    bad[data_lines[9]] = bad[data_lines[9]][:3000]
    info, t, acc, _ = read_all(_copy(src, tmp_path / "bad.bin", b"\n".join(bad)))
    ref = reference(src)
    assert len(t) == len(ref["t"]) - 600
    ref_acc = np.stack([ref["ax"], ref["ay"], ref["az"]], axis=1)
    keep = np.r_[0:1500, 1800:2700, 3000:len(ref_acc)]
    assert np.abs(acc - ref_acc[keep]).max() <= REF_ROUNDING
    assert np.abs(t - ref["t"][keep]).max() <= 1e-4
    assert any("skipped 2 damaged page" in w for w in info.warnings)
    # cut inside the last page
    cut = b"\n".join(lines[: data_lines[-1]]) + b"\n" + lines[data_lines[-1]][:10]
    info, t, _, _ = read_all(_copy(src, tmp_path / "cut.bin", cut))
    assert len(t) == len(ref["t"]) - 300
    assert any("damaged page" in w for w in info.warnings)
    # header damage is an error naming the line
    header = src.read_bytes().replace(b"x gain:25270", b"x gain:abc")
    _one_line_error(_copy(src, tmp_path / "gain.bin", header), ":48: x gain is not a number")
    _one_line_error(_copy(src, tmp_path / "other.bin", b"\x00" * 100),
                    "the name says GENEActiv")


def _record(typ: int, sec: int, payload: bytes) -> bytes:
    head = bytes([0x1E, typ]) + sec.to_bytes(4, "little") + len(payload).to_bytes(2, "little")
    x = 0
    for c in head + payload:
        x ^= c
    return head + payload + bytes([(~x) & 0xFF])


def _split_records(log: bytes) -> list[tuple[int, int, bytes, bytes]]:
    out, i = [], 0
    while i < len(log):
        size = int.from_bytes(log[i + 6:i + 8], "little")
        rec = log[i:i + 9 + size]
        out.append((log[i + 1], int.from_bytes(log[i + 2:i + 6], "little"), rec[8:-1], rec))
        i += 9 + size
    return out


def _gt3x_with_log(src: pathlib.Path, dst: pathlib.Path, log: bytes) -> pathlib.Path:
    with zipfile.ZipFile(src) as z, zipfile.ZipFile(dst, "w") as out:
        for name in z.namelist():
            out.writestr(name, log if name == "log.bin" else z.read(name))
    return dst


def test_gt3x_damaged_record_idle_sleep_and_broken(tmp_path: pathlib.Path) -> None:
    src = device("wristpy_example_actigraph.gt3x")
    with zipfile.ZipFile(src) as z:
        log = z.read("log.bin")
    recs = _split_records(log)
    acts = [r for r in recs if r[0] == 0 and len(r[2]) > 1]
    ref = reference(src)
    # a damaged activity record: skipped (one second less), reading goes on after it
    pos = log.index(acts[10][3]) + 50
    damaged = log[:pos] + bytes([log[pos] ^ 0xFF]) + log[pos + 1:]
    info, t, acc, _ = read_all(_gt3x_with_log(src, tmp_path / "bad.gt3x", damaged))
    assert len(t) == len(ref["t"]) - 60
    ref_acc = np.stack([ref["ax"], ref["ay"], ref["az"]], axis=1)
    assert np.abs(acc - np.delete(ref_acc, np.s_[600:660], axis=0)).max() <= REF_ROUNDING
    assert any("skipped 1 damaged record" in w for w in info.warnings)
    # idle sleep mode: seconds 20-29 replaced by the enter/leave events
    first = acts[0][1]
    ism = b"".join(
        r[3] for r in recs if not (r[0] == 0 and first + 20 <= r[1] < first + 30)
        and not (r[0] == 0 and r[1] == first + 19)
    ).replace(acts[18][3], acts[18][3] + acts[19][3] + _record(3, first + 20, b"\x08"))
    ism = ism.replace(acts[30][3], _record(3, first + 30, b"\x09") + acts[30][3])
    info, t, acc, _ = read_all(_gt3x_with_log(src, tmp_path / "ism.gt3x", ism))
    assert len(t) == len(ref["t"])
    assert np.allclose(acc[1200:1800], acc[1199])  # filled with the last sample
    assert np.abs(acc[1800:] - ref_acc[1800:]).max() <= REF_ROUNDING
    assert np.allclose(np.diff(t), 1 / 60)
    assert any("10 s of idle sleep mode" in w for w in info.warnings)
    # broken archives
    _one_line_error(_copy(src, tmp_path / "cut.gt3x", src.read_bytes()[:3000]),
                    "not a GT3X file")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("info.txt", "Sample Rate: 30\n")
    _one_line_error(_copy(src, tmp_path / "nolog.gt3x", buf.getvalue()), "no log.bin")
    only_meta = b"".join(r[3] for r in recs if r[0] != 0)
    _one_line_error(_gt3x_with_log(src, tmp_path / "epochs.gt3x", only_meta),
                    "no activity record")


# -- twitchwatch analyze on every device file ----------------------------------------------

@pytest.mark.parametrize("name", [c[0] for c in CASES])
def test_analyze_runs_on_device_files(name: str, capsys: pytest.CaptureFixture[str],
                                      tmp_path: pathlib.Path) -> None:
    path = device(name)
    assert main(["analyze", str(path), "--no-progress", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    fmt = next(c[1] for c in CASES if c[0] == name)
    assert f"{path} [{fmt}" in out
    assert "recording started 20" in out
    assert (tmp_path / f"{path.stem}.jsonl").is_file()


def test_analyze_reports_a_damaged_device_file(tmp_path: pathlib.Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    src = device("skdh_ax3_sample.cwa")
    bad = _copy(src, tmp_path / "bad.cwa", src.read_bytes()[:700])
    data = bytearray(src.read_bytes())
    data[1024 + 512 * 7 + 40] ^= 1
    warn = _copy(src, tmp_path / "warn.CWA", bytes(data))
    assert main(["analyze", str(bad), str(warn), "--no-progress"]) == 1
    cap = capsys.readouterr()
    assert cap.err.count("\n") == 1 and f"{bad}: offset 0: not an Axivity CWA" in cap.err
    assert "note: skipped 1 damaged blocks (checksum): block 7" in cap.out
