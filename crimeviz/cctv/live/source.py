"""A camera stream as raw frames: an FFmpeg subprocess, a watchdog, and the camera's state.

FFmpeg decodes the stream (RTSP over TCP, HTTP MJPEG or HLS, or a file looped in real
time as a demo camera) and writes BGR frames of the analysis size at the analysis rate
to a pipe (``-vf fps=F,scale=W:H -f rawvideo``): a stream that changes resolution comes
out at the same size (FFmpeg re-creates the filters), and damaged packets are dropped
by the decoder (``-fflags +discardcorrupt``).

A watchdog thread kills FFmpeg when no frame arrived for ``stall_s`` (a dead or frozen
server), none within ``connect_timeout_s`` of connecting (a camera that never answers),
or the picture has not changed for ``freeze_s``;
the reader then reconnects after a back-off that doubles up to ``max_backoff_s``; an
FFmpeg that cannot be started counts as a failed connection, with its reason. The
state follows Frigate's camera states: ``connecting``, ``online``, ``reconnecting``,
``offline`` (``offline_after`` failed tries in a row; it keeps retrying) and ``stopped``.

Frames wait in a bounded queue; when the consumer falls behind, the oldest are dropped
and counted (``dropped``) rather than memory growing (Frigate's ``skipped_fps``).

A network camera's URL never appears on FFmpeg's command line (``/proc/PID/cmdline`` is
readable by every local user) nor in a file: FFmpeg's concat demuxer reads an ffconcat
script naming the URL, with its input options as ``option`` lines, from a pipe it
inherits (``-f concat -safe 0 -i /dev/fd/N``). Credentials as ``user:password@`` and as
query parameters (``?user=...&password=...``) are kept off alike, and nothing is left on
disk when the monitor is killed. A file looped as a demo camera is named directly.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

CONNECTING, ONLINE, RECONNECTING, OFFLINE, STOPPED = "connecting", "online", "reconnecting", "offline", "stopped"
PROTOCOLS = "file,http,https,tcp,tls,rtp,rtsp,rtsps,udp,crypto,httpproxy"
_SCRIPT_INPUT = re.compile(r"^/dev/fd/\d+: ")


class FFmpegMissing(RuntimeError):
    """FFmpeg is not installed."""


@dataclass(frozen=True)
class Frame:
    """One analysed frame: its number since the reader started, arrival time (epoch seconds), BGR pixels."""

    index: int
    at: float
    image: np.ndarray


def ffmpeg_binary() -> str:
    path = shutil.which("ffmpeg")
    if path is None:
        raise FFmpegMissing("FFmpeg is not installed (Debian package ffmpeg); live cameras need it")
    return path


def ffmpeg_command(
    url: str, fps: float, size: tuple[int, int], is_file: bool, script_fd: int | None = None
) -> list[str]:
    """The FFmpeg command line that turns a camera into raw BGR frames on stdout.

    A file (``is_file``) is named directly; a network camera's URL is read from the
    :func:`ffconcat_script` waiting in the inherited pipe ``script_fd``.
    """
    width, height = size
    cmd = [ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error", "-fflags", "+discardcorrupt+genpts"]
    if is_file:
        cmd += ["-re", "-stream_loop", "-1", "-i", url]
    else:
        cmd += ["-protocol_whitelist", PROTOCOLS, "-f", "concat", "-safe", "0", "-i", f"/dev/fd/{script_fd}"]
    cmd += ["-an", "-sn", "-dn", "-vf", f"fps={fps:g},scale={width}:{height}", "-pix_fmt", "bgr24"]
    return cmd + ["-f", "rawvideo", "pipe:1"]


def ffconcat_script(url: str, timeout_s: float = 5.0) -> bytes:
    """An ffconcat script naming ``url`` with its input options: RTSP over TCP, a socket timeout, and wall-clock
    timestamps from the camera's own demuxer (given to the concat demuxer instead, the frames buffered while
    FFmpeg probes the stream would all get one time, and the fps filter would drop all but one)."""
    if any(ord(c) < 32 for c in url):
        raise ValueError("a camera URL cannot hold control characters")
    micro = str(int(timeout_s * 1_000_000))
    options = {"rtsp_transport": "tcp", "timeout": micro} if url.lower().startswith("rtsp") else {"rw_timeout": micro}
    options["use_wallclock_as_timestamps"] = "1"
    quoted = "'" + url.replace("'", "'\\''") + "'"
    lines = ["ffconcat version 1.0", f"file {quoted}", *(f"option {k} {v}" for k, v in options.items())]
    return ("\n".join(lines) + "\n").encode()


def script_pipe(script: bytes) -> int:
    """The read end of a pipe that holds ``script`` and is closed for writing (the reader meets its end)."""
    read_end, write_end = os.pipe()
    try:
        os.set_blocking(write_end, False)
        if os.write(write_end, script) < len(script):
            raise ValueError("a camera URL this long does not fit in a pipe")
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    return read_end


class StreamReader:
    """Reads a camera in a background thread; :meth:`read` hands out :class:`Frame` objects.

    ``redact`` cleans FFmpeg's messages (they may hold the URL with its credentials)
    before they are kept in ``last_error``.
    """

    def __init__(
        self,
        url: str,
        fps: float,
        size: tuple[int, int],
        is_file: bool = False,
        redact: Callable[[str], str] = lambda text: text,
        stall_s: float = 5.0,
        connect_timeout_s: float = 10.0,
        freeze_s: float = 60.0,
        backoff_s: float = 0.5,
        max_backoff_s: float = 10.0,
        offline_after: int = 3,
        queue_size: int = 64,
        clock: Callable[[], float] = time.time,
    ):
        self.url, self.fps, self.size, self.is_file = url, fps, tuple(size), is_file
        self.redact = redact
        self.stall_s, self.freeze_s, self.connect_timeout_s = stall_s, freeze_s, connect_timeout_s
        self.backoff_s, self.max_backoff_s, self.offline_after = backoff_s, max_backoff_s, offline_after
        self.clock = clock
        self.state = CONNECTING
        self.frames = self.dropped = self.reconnects = self.failures = 0
        self.last_error: str | None = None
        self.last_frame_at: float | None = None
        self._queue: deque[Frame] = deque(maxlen=queue_size)
        self._ready = threading.Condition()
        self._stop = threading.Event()
        self._proc: subprocess.Popen | None = None
        self._proc_started = 0.0
        self._last_change = self._last_frame_mono = 0.0
        self._kill_reason: str | None = None
        self._arrivals: deque[float] = deque(maxlen=int(fps * 10) + 2)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    # -- life cycle -------------------------------------------------------------------
    def start(self) -> StreamReader:
        ffmpeg_binary()
        for target in (self._run, self._watch):
            thread = threading.Thread(target=target, daemon=True, name=f"stream-{target.__name__}")
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._kill("stopped")
        for thread in self._threads:
            thread.join(timeout=5)
        self.state = STOPPED
        with self._ready:
            self._ready.notify_all()

    def __enter__(self) -> StreamReader:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- consumer side ----------------------------------------------------------------
    def read(self, timeout: float = 1.0) -> Frame | None:
        """The oldest waiting frame, or None after ``timeout`` seconds without one."""
        deadline = time.monotonic() + timeout
        with self._ready:
            while not self._queue:
                left = deadline - time.monotonic()
                if left <= 0 or self._stop.is_set():
                    return None
                self._ready.wait(left)
            return self._queue.popleft()

    def measured_fps(self, window_s: float = 5.0) -> float:
        """Frames a second that arrived over the last ``window_s`` seconds."""
        now = self.clock()
        recent = [t for t in list(self._arrivals) if now - t <= window_s]
        return round(len(recent) / window_s, 2) if recent else 0.0

    def status(self) -> dict:
        return {
            "state": self.state,
            "fps": self.measured_fps(),
            "frames": self.frames,
            "dropped": self.dropped,
            "reconnects": self.reconnects,
            "last_error": self.last_error,
            "last_frame_at": self.last_frame_at,
        }

    # -- reader thread ----------------------------------------------------------------
    def _spawn(self) -> subprocess.Popen:
        """FFmpeg for one connection, a network camera's URL handed over in an inherited pipe (closed here once
        FFmpeg holds it). Raises OSError or ValueError (a URL that cannot be handed over) when it cannot start."""
        pipes = {"stdin": subprocess.DEVNULL, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
        if self.is_file:
            return subprocess.Popen(ffmpeg_command(self.url, self.fps, self.size, True), **pipes)
        script_fd = script_pipe(ffconcat_script(self.url, timeout_s=self.stall_s))
        try:
            cmd = ffmpeg_command(self.url, self.fps, self.size, False, script_fd=script_fd)
            return subprocess.Popen(cmd, pass_fds=(script_fd,), **pipes)
        finally:
            os.close(script_fd)

    def _run(self) -> None:
        """Connects, reads until the stream ends or the watchdog kills it, and tries again after a back-off; an
        FFmpeg that cannot even start counts as a failed connection."""
        while not self._stop.is_set():
            try:
                got_any, reason = self._connection()
            except (OSError, ValueError, FFmpegMissing) as error:
                got_any, reason = False, f"FFmpeg could not be started: {error}"
            if self._stop.is_set():
                break
            self.last_error = " ".join(self.redact(reason).split())[:300]
            self.failures = 0 if got_any else self.failures + 1
            self.reconnects += 1
            self.state = OFFLINE if self.failures >= self.offline_after else RECONNECTING
            delay = min(self.max_backoff_s, self.backoff_s * 2 ** max(0, self.failures - 1))
            self._stop.wait(delay)

    def _connection(self) -> tuple[bool, str]:
        """One FFmpeg run: whether it gave a frame, and why it ended."""
        width, height = self.size
        frame_bytes = width * height * 3
        errors: deque[str] = deque(maxlen=5)
        with self._lock:
            self._kill_reason = None
            self._proc = proc = self._spawn()
            self._proc_started = self._last_change = time.monotonic()
        drain = threading.Thread(target=_drain, args=(proc.stderr, errors), daemon=True)
        drain.start()
        got_any, previous = False, None
        while not self._stop.is_set():
            data = _read_exactly(proc.stdout, frame_bytes)
            if data is None:
                break
            now = self.clock()
            self._last_frame_mono = time.monotonic()
            if previous is None or data != previous:
                self._last_change = self._last_frame_mono
            previous = data
            got_any = True
            self.state = ONLINE
            self.failures = 0
            self._push(Frame(self.frames, now, np.frombuffer(data, np.uint8).reshape(height, width, 3)))
        _end(proc, drain)
        # FFmpeg names the script pipe (/dev/fd/N) as its input; the message is about the camera
        last = _SCRIPT_INPUT.sub("", errors[-1]) if errors else "the stream ended"
        return got_any, self._kill_reason or last

    def _push(self, frame: Frame) -> None:
        with self._ready:
            if len(self._queue) == self._queue.maxlen:
                self.dropped += 1
            self._queue.append(frame)
            self.frames += 1
            self.last_frame_at = frame.at
            self._arrivals.append(frame.at)
            self._ready.notify()

    # -- watchdog thread --------------------------------------------------------------
    def _watch(self) -> None:
        while not self._stop.wait(0.25):
            with self._lock:
                proc, started, changed = self._proc, self._proc_started, self._last_change
            if proc is None or proc.poll() is not None:
                continue
            now = time.monotonic()
            if self._last_frame_mono < started:  # still connecting
                if now - started > self.connect_timeout_s:
                    self._kill(f"no picture within {self.connect_timeout_s:g} s of connecting")
            elif now - self._last_frame_mono > self.stall_s:
                self._kill(f"no frame for {self.stall_s:g} s")
            elif self.state == ONLINE and now - changed > self.freeze_s:
                self._kill(f"the picture has not changed for {self.freeze_s:g} s")

    def _kill(self, reason: str) -> None:
        with self._lock:
            proc = self._proc
            if proc is not None and proc.poll() is None:
                self._kill_reason = reason
                proc.kill()


def _read_exactly(stream, n: int) -> bytes | None:
    """``n`` bytes from ``stream``, or None at its end."""
    chunks, got = [], 0
    while got < n:
        chunk = stream.read(n - got)
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks) if len(chunks) > 1 else chunks[0]


def _drain(stream, lines: deque) -> None:
    for raw in iter(stream.readline, b""):
        text = raw.decode("utf-8", "replace").strip()
        if text:
            lines.append(text)


def _end(proc: subprocess.Popen, drain: threading.Thread) -> None:
    if proc.poll() is None:
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    drain.join(timeout=2)
    for stream in (proc.stdout, proc.stderr):
        if stream:
            stream.close()
