"""Real streams and receivers on 127.0.0.1 for the live-monitoring tests; each stopped by its PID.

- :func:`anomaly_clip`: OpenCV's ``vtest.avi`` (the demo model's normal footage) with a
  blackout cut into it (an anomaly the demo model was trained on);
- :class:`MjpegServer`: ``ffmpeg -re -stream_loop -1 -i CLIP -f mpjpeg -listen 1`` (HTTP MJPEG);
- :class:`RtspServer`: ``tests/rtsp_server.py`` run by Debian's ``/usr/bin/python3`` (GStreamer);
- :class:`WebhookReceiver`: a tiny HTTP server that keeps what is POSTed;
- :class:`SmtpReceiver`: ``aiosmtpd`` keeping the messages it receives.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    """Whether a socket listens on ``port`` (read from /proc: connecting would use up ``-listen 1``'s one client)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
                return True
    return False


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    if not wait_until(lambda: listening(port), timeout, 0.05):
        raise TimeoutError(f"nothing listens on port {port}")


def anomaly_clip(path: Path, normal_s: float = 4.0, black_s: float = 3.0, after_s: float = 6.0, fps: int = 10) -> Path:
    """``vtest.avi`` at 384×288 (MJPEG AVI): ``normal_s`` seconds, a blackout of ``black_s``, ``after_s`` more."""
    capture = cv2.VideoCapture(str(VTEST))
    frames = []
    for _ in range(int((normal_s + after_s) * fps)):
        ok, frame = capture.read()
        assert ok, "vtest.avi is too short"
        frames.append(cv2.resize(frame, (384, 288), interpolation=cv2.INTER_AREA))
    capture.release()
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (384, 288))
    cut = int(normal_s * fps)
    for frame in frames[:cut] + [np.zeros_like(frames[0])] * int(black_s * fps) + frames[cut:]:
        writer.write(frame)
    writer.release()
    return path


def clip_stream(path) -> tuple[int, int]:
    """(width, frames) of a clip's video stream, frames counted by decoding it (``ffprobe -count_frames``)."""
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=nb_read_frames,width", "-of", "json"]
        + [str(path)],
        capture_output=True,
        text=True,
    )
    stream = json.loads(probe.stdout)["streams"][0]
    return stream["width"], int(stream["nb_read_frames"])


class _Process:
    proc: subprocess.Popen

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def freeze(self) -> None:
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class MjpegServer(_Process):
    """Serves ``clip`` (looped, in real time) as HTTP MJPEG to one client at ``self.url``."""

    def __init__(self, clip: Path, port: int | None = None, size: tuple[int, int] | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/cam.mjpg"
        scale = ["-vf", f"scale={size[0]}:{size[1]}"] if size else []
        cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "quiet", "-re", "-stream_loop", "-1"]
        cmd += ["-i", str(clip), *scale, "-q:v", "5", "-f", "mpjpeg", "-listen", "1", self.url]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port)


class RtspServer(_Process):
    """A GStreamer RTSP server with a moving test pattern at ``self.url`` (``credentials``: "user:password" it asks
    clients for)."""

    def __init__(self, port: int | None = None, size: tuple[int, int] = (320, 240), credentials: str | None = None):
        self.port = port or free_port()
        self.url = f"rtsp://127.0.0.1:{self.port}/cam"
        cmd = ["/usr/bin/python3", str(ROOT / "tests" / "rtsp_server.py"), str(self.port), f"{size[0]}x{size[1]}"]
        cmd += [credentials] if credentials else []
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = self.proc.stdout.readline().decode().strip()
        if line != "ready":
            self.stop()
            raise RuntimeError("the RTSP server did not start")


class WebhookReceiver:
    """Keeps every POST (time, headers, body) made to ``self.url``; answers ``status`` (200)."""

    def __init__(self, status: int = 200):
        received = self.received = []
        receiver = self
        self.status = status

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append((time.time(), {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class SmtpReceiver:
    """An aiosmtpd server on ``self.port`` keeping (time, envelope recipients, message text)."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        messages = self.messages = []

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                messages.append((time.time(), list(envelope.rcpt_tos), envelope.content.decode("utf-8", "replace")))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.controller.stop()


def ffmpeg_processes() -> dict[int, tuple[int, str]]:
    """{pid: (parent pid, command line with spaces for NULs)} of every FFmpeg process, read from /proc as any
    local user can."""
    out = {}
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, IndexError):
            if entry.name.isdigit() and b"ffmpeg" in (cmdline := (entry / "cmdline").read_bytes()):
                parent = int((entry / "stat").read_text().split(") ")[1].split()[1])
                out[int(entry.name)] = (parent, cmdline.replace(b"\0", b" ").decode())
    return out


def wait_until(condition, timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


class MultipartCamera:
    """An HTTP MJPEG camera written here (multipart/x-mixed-replace), frame by frame at ``fps``.

    ``frames(i)`` gives the i-th frame as a BGR image or as raw bytes (sent as a part as they are:
    garbage), so a test can change the resolution or corrupt the stream while it flows.
    """

    def __init__(self, frames, fps: float = 10.0):
        camera = self
        self.sent = 0

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace;boundary=frame")
                self.end_headers()
                try:
                    while not camera.stopped.is_set():
                        item = frames(camera.sent)
                        data = item if isinstance(item, bytes) else cv2.imencode(".jpg", item)[1].tobytes()
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n")
                        self.wfile.write(f"Content-Length: {len(data)}\r\n\r\n".encode() + data + b"\r\n")
                        camera.sent += 1
                        time.sleep(1 / fps)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.stopped = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/cam.mjpg"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.server.shutdown()
        self.server.server_close()
