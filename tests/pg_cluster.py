"""A throw-away PostgreSQL cluster for the server profile's tests: ``initdb`` in a temp folder,
``pg_ctl start`` on a free 127.0.0.1 port, stopped (by its postmaster PID) and deleted after.

Debian's ``postgresql`` package provides the binaries (``make test`` installs it). PostgreSQL
refuses to run as root, so under root the cluster runs as the ``postgres`` user the package creates.
"""

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

USER = "crimeviz"


def binaries() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return found[-1].parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self):
        self.bin = binaries()
        if self.bin is None:
            raise RuntimeError("PostgreSQL is not installed (Debian package postgresql; `make test` installs it)")
        self.root = Path(tempfile.mkdtemp(prefix="crimeviz-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_user = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.pid = None

    def _run(self, *args) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> "Cluster":
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", USER, "-E", "UTF8", "--no-sync")
        return self.resume()

    def resume(self) -> "Cluster":
        """Start the server on the cluster made by :meth:`start` (again, after :meth:`kill`)."""
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off"  # commits still reach the OS: a killed server keeps them
        )
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start"
        )
        self.pid = int((self.data / "postmaster.pid").read_text().split()[0])
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.url(), autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def kill(self) -> None:
        """Stop the server at once, as a crash would (the data stays; :meth:`resume` brings it back)."""
        if self.pid is not None:
            children = subprocess.run(["pgrep", "-P", str(self.pid)], capture_output=True, text=True).stdout.split()
            self._end(signal.SIGKILL)
            for child in children:  # the postmaster's own processes, by PID
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(child), signal.SIGKILL)
            (self.data / "postmaster.pid").unlink(missing_ok=True)

    def stop(self) -> None:
        """Immediate shutdown of the postmaster and its children (SIGQUIT), then the folder goes."""
        if self.pid is not None:
            self._end(signal.SIGQUIT)
        shutil.rmtree(self.root, ignore_errors=True)

    def _end(self, sig) -> None:
        os.kill(self.pid, sig)
        for _ in range(200):
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        self.pid = None
