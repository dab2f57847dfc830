"""Start the Streamlit app as a child process on a free local port (benchmarks and browser tests)."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from crimeviz.config import ROOT

# Debian's Chromium, headless, with nothing that reaches the network; SwiftShader draws WebGL.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-unsafe-swiftshader",
]
# The app's root element once Streamlit has finished running the page's script.
SCRIPT_IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(db_path: Path, log_path: Path, timeout: float = 90, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """Run ``app.py`` on ``db_path`` (offline basemap, extra ``env``) and return (process, base URL) once healthy."""
    port = free_port()
    env = {**os.environ, "CRIMEVIZ_DB": str(db_path), "CRIMEVIZ_BASEMAP": "none", **(env or {})}
    log = open(log_path, "w")  # noqa: SIM115 (the server writes to it until stopped)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "app.py"),
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise TimeoutError(f"streamlit did not become healthy in {timeout:.0f} s; see {log_path}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
