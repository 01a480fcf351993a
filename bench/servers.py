"""Real InfluxDB and Mosquitto servers for the tests, on loopback.

Each server gets its own config file, a throw-away data directory and a free, non-default
port; ``stop()`` and ``start()`` can be called again mid-test (outage tests). Nothing
here is a fake: these are Debian's ``influxd`` and ``mosquitto`` binaries.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import pathlib
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

SBIN = ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin")


def find_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for d in SBIN:
        p = pathlib.Path(d) / name
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server:
    name = "server"

    def __init__(self, workdir: pathlib.Path) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / f"{self.name}.log"
        self.env: dict[str, str] | None = None  # the process's environment (None: ours)

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def start(self, timeout_s: float = 30.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child process
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                     cwd=self.workdir, start_new_session=True, env=self.env)
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; "
                                   f"log: {self.log_path.read_text()[-2000:]}")
            if self.ready():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} not ready after {timeout_s} s; "
                           f"log: {self.log_path.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class InfluxServer(_Server):
    """``auth``: ``[http] auth-enabled`` with an admin user (``admin``) made at first start;
    ``tls``: (certificate, key) PEM files for ``https-enabled`` (``ca`` verifies it)."""

    name = "influxd"
    admin = ("admin", "admin-pw-9f3c")

    def __init__(self, workdir: pathlib.Path, binary: str, *, auth: bool = False,
                 tls: tuple[pathlib.Path, pathlib.Path] | None = None,
                 ca: pathlib.Path | None = None) -> None:
        super().__init__(workdir)
        self.binary = binary
        self.auth = auth
        self.port = free_port()
        self.rpc_port = free_port()
        self.url = f"{'https' if tls else 'http'}://localhost:{self.port}" if tls \
            else f"http://127.0.0.1:{self.port}"
        self._ssl = ssl.create_default_context(cafile=str(ca)) if tls else None
        https = (f'  https-enabled = true\n  https-certificate = "{tls[0]}"\n'
                 f'  https-private-key = "{tls[1]}"\n') if tls else ""
        conf = f"""
reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc_port}"
[meta]
  dir = "{workdir}/meta"
[data]
  dir = "{workdir}/data"
  wal-dir = "{workdir}/wal"
  query-log-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
  auth-enabled = {"true" if auth else "false"}
{https}[monitor]
  store-enabled = false
[logging]
  level = "warn"
"""
        self.config_path = workdir / "influxdb.conf"
        self.config_path.write_text(conf)

    def start(self, timeout_s: float = 30.0) -> None:
        super().start(timeout_s)
        if self.auth and not (self.workdir / "admin-made").exists():
            # With auth on and no user yet, 1.x accepts exactly this one query unauthenticated.
            user, pw = self.admin
            self.query(f"CREATE USER {user} WITH PASSWORD '{pw}' WITH ALL PRIVILEGES",
                       auth=False)
            (self.workdir / "admin-made").touch()

    def command(self) -> list[str]:
        return [self.binary, "run", "-config", str(self.config_path)]

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=1,
                                        context=self._ssl) as r:
                return bool(r.status == 204)
        except (OSError, urllib.error.URLError):
            return False

    def query(self, q: str, db: str | None = None, epoch: str = "ms", *,
              auth: bool = True) -> dict:
        """Run InfluxQL through /query (as the admin when ``auth``); returns the decoded
        JSON (times in ``epoch``)."""
        params = {"q": q, "epoch": epoch}
        if db:
            params["db"] = db
        data = urllib.parse.urlencode(params).encode()
        req = urllib.request.Request(f"{self.url}/query", data=data)
        if self.auth and auth:
            token = base64.b64encode(":".join(self.admin).encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(req, timeout=30, context=self._ssl) as r:
            return json.loads(r.read())

    def rows(self, q: str, db: str, epoch: str = "ms") -> list[dict]:
        """Rows of the first series of a query, as dicts (empty when there are none)."""
        res = self.query(q, db, epoch)["results"][0]
        if "error" in res:
            raise RuntimeError(f"InfluxQL error for {q!r}: {res['error']}")
        out = []
        for s in res.get("series", []):
            for v in s["values"]:
                row = dict(zip(s["columns"], v, strict=True))
                row.update(s.get("tags", {}))
                out.append(row)
        return out


class MosquittoServer(_Server):
    """``config``: the listener's options instead of ``allow_anonymous true`` (a password
    file, ACLs, TLS; paths must be readable: as root, mosquitto is told to stay root)."""

    name = "mosquitto"

    def __init__(self, workdir: pathlib.Path, binary: str, *, config: str | None = None,
                 port: int | None = None) -> None:
        super().__init__(workdir)
        self.binary = binary
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.config_path = workdir / "mosquitto.conf"
        body = config if config is not None else "allow_anonymous true\n"
        user = "user root\n" if os.geteuid() == 0 else ""
        self.config_path.write_text(
            f"listener {self.port} 127.0.0.1\n{body}persistence false\n{user}"
            f"log_dest stderr\nlog_type error\nlog_type warning\n")

    def command(self) -> list[str]:
        return [self.binary, "-c", str(self.config_path)]

    def ready(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), 1):
            return True
        return False
