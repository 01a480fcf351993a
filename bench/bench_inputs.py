"""Benchmark of the file readers (gateway.inputs): read speed per hour of data, and memory.

    .venv/bin/python bench/bench_inputs.py [--hours 1 4] [--shared ../shared]

Long files are made from the shared device samples (../shared/devices): their blocks,
pages or records repeated with sequence numbers, times and checksums rewritten, so the
readers see real device data at the real layout. EDF+ (16-bit), BDF (24-bit) and CSV.gz
files are written with edfio and pyarrow (100 Hz, accelerometer + gyroscope for EDF, the
eval layout for CSV). Each file is then opened and read to the end in this process:
wall time (best of 3), the time per hour of recording, and the peak of memory allocated
while reading (tracemalloc, numpy included), which stays flat when the length grows.

Not a test: numbers depend on the machine (docs/benchmarks.md records them).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import pathlib
import sys
import tempfile
import time
import tracemalloc
import zipfile

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from twitchwatch.gateway.inputs import open_input  # noqa: E402


def _cwa_stamp(t: dt.datetime) -> int:
    return ((t.year - 2000) << 26) | (t.month << 22) | (t.day << 17) | (t.hour << 12) | (
        t.minute << 6) | t.second


def make_cwa(src: pathlib.Path, dst: pathlib.Path, hours: float) -> float:
    data = src.read_bytes()
    head, blocks = data[:1024], data[1024:]
    n = len(blocks) // 512
    b = np.frombuffer(blocks[: n * 512], dtype=np.uint8).reshape(n, 512)
    st = b[:, 14:18].copy().view("<u4").ravel()
    stamps = [dt.datetime(2000 + ((v >> 26) & 0x3F), (v >> 22) & 0xF, (v >> 17) & 0x1F,
                          (v >> 12) & 0x1F, (v >> 6) & 0x3F, v & 0x3F) for v in st.tolist()]
    span = (stamps[-1] - stamps[0]).total_seconds() + 1
    reps = max(1, int(np.ceil(hours * 3600 / span)))
    with open(dst, "wb") as f:
        f.write(head)
        for r in range(reps):
            out = b.copy()
            seq = np.arange(r * n, (r + 1) * n, dtype="<u4")
            out[:, 10:14] = seq.view(np.uint8).reshape(n, 4)
            shift = dt.timedelta(seconds=r * span)
            new = np.array([_cwa_stamp(s + shift) for s in stamps], dtype="<u4")
            out[:, 14:18] = new.view(np.uint8).reshape(n, 4)
            out[:, 510:512] = 0
            words = out.view("<u2").reshape(n, 256)
            csum = (-words.sum(axis=1, dtype=np.int64)) & 0xFFFF
            out[:, 510:512] = csum.astype("<u2").view(np.uint8).reshape(n, 2)
            f.write(out.tobytes())
    return reps * span


def make_geneactiv(src: pathlib.Path, dst: pathlib.Path, hours: float) -> float:
    text = src.read_text(encoding="latin-1")
    cut = text.index("Recorded Data")
    head, pages = text[:cut], text[cut:].split("Recorded Data")[1:]
    times = [line.split(":", 1)[1].strip() for line in text.splitlines()
             if line.startswith("Page Time:")]

    def parse(s: str) -> dt.datetime:
        a, _, ms = s.rpartition(":")
        return dt.datetime.strptime(a, "%Y-%m-%d %H:%M:%S") + dt.timedelta(
            milliseconds=int(ms))

    t0, t1 = parse(times[0]), parse(times[-1])
    page_s = (t1 - t0).total_seconds() / (len(pages) - 1)
    span = page_s * len(pages)
    reps = max(1, int(np.ceil(hours * 3600 / span)))
    with open(dst, "w", encoding="latin-1") as f:
        f.write(head)
        k = 0
        for r in range(reps):
            for i, p in enumerate(pages):
                when = t0 + dt.timedelta(seconds=r * span + i * page_s)
                stamp = when.strftime("%Y-%m-%d %H:%M:%S:") + f"{when.microsecond // 1000:03d}"
                lines = p.split("\n")
                lines = [f"Sequence Number:{k}" if x.startswith("Sequence Number:") else
                         f"Page Time:{stamp}" if x.startswith("Page Time:") else x
                         for x in lines]
                f.write("Recorded Data" + "\n".join(lines))
                k += 1
    return reps * span


def make_gt3x(src: pathlib.Path, dst: pathlib.Path, hours: float) -> float:
    with zipfile.ZipFile(src) as z:
        log = z.read("log.bin")
        others = {n: z.read(n) for n in z.namelist() if n != "log.bin"}
    recs, i = [], 0
    while i < len(log):
        size = int.from_bytes(log[i + 6:i + 8], "little")
        recs.append((log[i + 1], int.from_bytes(log[i + 2:i + 6], "little"),
                     log[i + 8:i + 8 + size]))
        i += 9 + size
    acts = [r for r in recs if r[0] == 0 and len(r[2]) > 1]
    span = acts[-1][1] - acts[0][1] + 1
    reps = max(1, int(np.ceil(hours * 3600 / span)))
    out = bytearray()
    for typ, sec, payload in recs:
        if not (typ == 0 and len(payload) > 1):
            out += _gt3x_record(typ, sec, payload)
    for r in range(reps):
        for _, sec, payload in acts:
            out += _gt3x_record(0, sec + r * span, payload)
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("log.bin", bytes(out))
        for name, data in others.items():
            z.writestr(name, data)
    return float(reps * span)


def _gt3x_record(typ: int, sec: int, payload: bytes) -> bytes:
    head = bytes([0x1E, typ]) + sec.to_bytes(4, "little") + len(payload).to_bytes(2, "little")
    x = int(np.bitwise_xor.reduce(np.frombuffer(head + payload, dtype=np.uint8)))
    return head + payload + bytes([(~x) & 0xFF])


def make_edf(dst: pathlib.Path, hours: float, bdf: bool) -> float:
    import edfio

    fs, n = 100, int(hours * 3600 * 100)
    rng = np.random.default_rng(1)
    cls = edfio.BdfSignal if bdf else edfio.EdfSignal
    sigs = [cls(rng.normal(0, 0.2, n) + (i == 2), fs, label=f"Acc {a}",
                physical_dimension="g", physical_range=(-8, 8)) for i, a in enumerate("XYZ")]
    sigs += [cls(rng.normal(0, 50, n), fs, label=f"Gyro {a}", physical_dimension="deg/s",
                 physical_range=(-2000, 2000)) for a in "XYZ"]
    (edfio.Bdf if bdf else edfio.Edf)(sigs, starttime=dt.time(23, 0)).write(dst)
    return hours * 3600


def make_csv(dst: pathlib.Path, hours: float) -> float:
    import gzip

    import pyarrow as pa
    import pyarrow.csv as pcsv

    fs, n = 100, int(hours * 3600 * 100)
    rng = np.random.default_rng(2)
    with gzip.open(dst, "wb", compresslevel=6) as f:
        step = 360_000
        for k in range(0, n, step):
            m = min(step, n - k)
            cols = {"t": np.round(np.arange(k, k + m) / fs, 4)}
            for i, c in enumerate(("ax", "ay", "az")):
                cols[c] = np.round(rng.normal(0, 0.2, m) + (i == 2), 4)
            pcsv.write_csv(pa.table(cols), f, pcsv.WriteOptions(include_header=k == 0))
    return hours * 3600


def measure(path: pathlib.Path) -> tuple[float, float, int, str]:
    best = float("inf")
    peak = 0
    n = 0
    fmt = ""
    for rep in range(3):
        if rep == 0:
            tracemalloc.start()
        t0 = time.perf_counter()
        inp = open_input(path)
        n = sum(len(c.t_s) for c in inp.chunks())
        best = min(best, time.perf_counter() - t0)
        fmt = inp.info.format
        if rep == 0:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    return best, peak / 2**20, n, fmt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, nargs="+", default=[1.0, 4.0])
    ap.add_argument("--shared", type=pathlib.Path, default=ROOT.parent / "shared")
    args = ap.parse_args()
    dev = args.shared / "devices"
    if not dev.is_dir():
        print(f"{dev} not found (give --shared)", file=sys.stderr)
        return 2
    makers = [
        ("Axivity AX3 (CWA, packed)", ".cwa",
         lambda p, h: make_cwa(dev / "skdh_ax3_sample.cwa", p, h)),
        ("Axivity AX6 (CWA, 6 axes)", ".cwa",
         lambda p, h: make_cwa(dev / "ggirread_ax6_testfile.cwa", p, h)),
        ("GENEActiv (.bin)", ".bin",
         lambda p, h: make_geneactiv(dev / "wristpy_example_geneactiv.bin", p, h)),
        ("ActiGraph (.gt3x)", ".gt3x",
         lambda p, h: make_gt3x(dev / "wristpy_example_actigraph.gt3x", p, h)),
        ("EDF+ (16-bit, acc+gyro)", ".edf", lambda p, h: make_edf(p, h, bdf=False)),
        ("BDF (24-bit, acc+gyro)", ".bdf", lambda p, h: make_edf(p, h, bdf=True)),
        ("CSV.gz (t,ax,ay,az)", ".csv.gz", make_csv),
    ]
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print("| file | rate | recording | size | read | per hour of data | samples/s "
          "| peak memory |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, suffix, make in makers:
            for hours in args.hours:
                path = pathlib.Path(tmp) / f"bench{suffix}"
                seconds = make(path, hours)
                wall, peak, n, _ = measure(path)
                size = path.stat().st_size / 2**20
                rate = n / seconds
                print(f"| {name} | {rate:.0f} Hz | {seconds / 3600:.2f} h | {size:.1f} MiB "
                      f"| {wall:.2f} s | {wall / (seconds / 3600):.2f} s "
                      f"| {n / wall / 1e6:.1f} M | {peak:.0f} MiB |")
                path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
