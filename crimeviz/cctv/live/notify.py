"""Pings for live alerts: signed webhooks and e-mail, delivered from the outbox in a thread.

Scoring never waits for a receiver: the camera thread puts the alert's pings in the
store's outbox (``alert_store``) and on a queue; this thread delivers them, retrying
with a back-off that doubles (``backoff_s``, 2×, 4×, … for ``attempts`` tries), and
marks each delivered one. A ping still undelivered when the monitor stops is sent
when it starts again.

Webhook: a JSON POST with ``X-CrimeViz-Signature: t=<unix time>,v1=<hex>``, the
HMAC-SHA256 (RFC 2104) under ``$CRIMEVIZ_WEBHOOK_SECRET`` of ``"<t>." + body`` (the
scheme Stripe documents for its webhooks: the time stamp is signed, so a receiver can
refuse replays), and ``X-CrimeViz-Delivery``, the same for every retry of one ping
(receivers drop duplicates with it). E-mail: a plain-text message over SMTP
(``smtplib``), with the link to the alert's page.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import queue
import smtplib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

import requests

from crimeviz.cctv.live import alert_store

SIGNATURE_HEADER = "X-CrimeViz-Signature"
DELIVERY_HEADER = "X-CrimeViz-Delivery"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, now: float | None = None, tolerance_s: float = 300) -> bool:
    """What a receiver checks: a valid signature made less than ``tolerance_s`` ago."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


@dataclass(frozen=True)
class Settings:
    """Where pings go. From the environment (:meth:`from_env`) or the monitor's options."""

    webhooks: tuple[str, ...] = ()
    webhook_secret: str | None = None
    email_to: tuple[str, ...] = ()
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_from: str = "crimeviz@localhost"
    public_url: str = "http://localhost:8501"
    attempts: int = 5
    backoff_s: float = 0.5
    timeout_s: float = 5.0

    @classmethod
    def from_env(cls, environ=os.environ, **overrides) -> Settings:
        def listed(name):
            return tuple(v.strip() for v in environ.get(name, "").split(",") if v.strip())

        values = {
            "webhooks": listed("CRIMEVIZ_ALERT_WEBHOOKS"),
            "webhook_secret": environ.get("CRIMEVIZ_WEBHOOK_SECRET") or None,
            "email_to": listed("CRIMEVIZ_ALERT_EMAIL"),
            "smtp_host": environ.get("CRIMEVIZ_SMTP_HOST", "localhost"),
            "smtp_port": int(environ.get("CRIMEVIZ_SMTP_PORT", "25")),
            "smtp_from": environ.get("CRIMEVIZ_SMTP_FROM", "crimeviz@localhost"),
            "public_url": environ.get("CRIMEVIZ_PUBLIC_URL", "http://localhost:8501"),
        }
        values.update({k: v for k, v in overrides.items() if v not in (None, ())})
        settings = cls(**values)
        if settings.webhooks and not settings.webhook_secret:
            raise ValueError("webhooks need a signing secret: set CRIMEVIZ_WEBHOOK_SECRET")
        return settings

    def targets(self) -> list[tuple[str, str]]:
        return [("webhook", url) for url in self.webhooks] + [("email", to) for to in self.email_to]


def alert_path(alert_id: int) -> str:
    """The app's address of one alert's page (laid out for a phone), from the app's root."""
    return f"/live?alert={int(alert_id)}"


def alert_link(settings: Settings, alert_id: int) -> str:
    return settings.public_url.rstrip("/") + alert_path(alert_id)


def payload(alert_id: int, camera: str, lat: float, lon: float, start: float, peak: float, severity: str, model: str):
    """What every ping says: where, when, how high, which model (the link is added when sent)."""
    return {
        "alert_id": alert_id,
        "camera": camera,
        "lat": lat,
        "lon": lon,
        "start": datetime.fromtimestamp(start).isoformat(timespec="milliseconds"),
        "peak": round(float(peak), 4),
        "severity": severity,
        "model": model,
    }


def message(alert: dict, settings: Settings) -> dict:
    """The ping of a stored alert (a row of :func:`alert_store.alert`), with the link to its page."""
    out = payload(
        alert["alert_id"],
        alert["camera"],
        alert["lat"],
        alert["lon"],
        alert["started_at"].timestamp(),
        alert["peak"],
        alert["severity"],
        alert["model_version"],
    )
    return {**out, "link": alert_link(settings, alert["alert_id"])}


def send_webhook(url: str, payload: dict, secret: str, timeout_s: float) -> None:
    body = json.dumps(payload, sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(secret, int(time.time()), body),
        DELIVERY_HEADER: f"alert-{payload['alert_id']}",
    }
    response = requests.post(url, data=body, headers=headers, timeout=timeout_s)
    if response.status_code >= 300:
        raise OSError(f"the receiver answered HTTP {response.status_code}")


def send_email(to: str, payload: dict, settings: Settings) -> None:
    mail = EmailMessage()
    mail["Subject"] = f"CCTV alert #{payload['alert_id']} at {payload['camera']}"
    mail["From"], mail["To"] = settings.smtp_from, to
    mail["Message-ID"] = f"<crimeviz-alert-{payload['alert_id']}@{settings.smtp_from.split('@')[-1]}>"
    units = "".join(
        f"Unit {u['unit']} ({u['shift']}) patrols {u['distance_m']} m away.\n" for u in payload.get("units", [])
    )
    mail.set_content(
        f"Anomaly at camera {payload['camera']} ({payload['lat']:.5f}, {payload['lon']:.5f})\n"
        f"Started {payload['start']}, peak score {payload['peak']:.3f} ({payload['severity']}).\n"
        f"Model {payload['model']} (see its training label in the report).\n"
        f"{units}\n"
        f"Clip, snapshot and map: {payload['link']}\n"
    )
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout_s) as smtp:
        smtp.send_message(mail)


class Notifier:
    """Delivers pings in a background thread; ``on_delivered(alert_id, channel, target, at)`` is called after each."""

    def __init__(self, con, settings: Settings, on_delivered: Callable[[int, str, str, float], None] | None = None):
        self.con, self.settings, self.on_delivered = con, settings, on_delivered
        self.queue: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="notifier")
        self.delivered = self.failed = 0

    def start(self) -> Notifier:
        for ping in alert_store.pending_pings(self.con):  # left over by a monitor that stopped
            self.queue.put((ping["alert_id"], ping["channel"], ping["target"], None))
        self._thread.start()
        return self

    def enqueue(self, alert_id: int, content: dict | None = None) -> None:
        """Queues the alert's pings; ``content`` (:func:`payload`) spares reading the alert from the store."""
        for channel, target in self.settings.targets():
            self.queue.put((alert_id, channel, target, content))

    def stop(self, drain_s: float = 5.0) -> None:
        """Stops after the queue is empty or ``drain_s`` seconds."""
        deadline = time.monotonic() + drain_s
        while not self.queue.empty() and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop.set()
        self._thread.join(timeout=drain_s + self.settings.timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                alert_id, channel, target, content = self.queue.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self._deliver(alert_id, channel, target, content)
            finally:
                self.queue.task_done()

    def _deliver(self, alert_id: int, channel: str, target: str, content: dict | None) -> None:
        if channel == "webhook" and target not in self.settings.webhooks:
            return  # a left-over ping to a receiver no longer configured stays in the outbox
        if channel == "email" and target not in self.settings.email_to:
            return
        if content is None:
            alert = alert_store.alert(self.con, alert_id)
            if alert is None:
                return
            content = message(alert, self.settings)
        else:
            content = {**content, "link": alert_link(self.settings, alert_id)}
        delay = self.settings.backoff_s
        for attempt in range(self.settings.attempts):
            try:
                if channel == "webhook":
                    send_webhook(target, content, self.settings.webhook_secret, self.settings.timeout_s)
                else:
                    send_email(target, content, self.settings)
            except (OSError, requests.RequestException, smtplib.SMTPException) as exc:
                error = f"{type(exc).__name__}: {exc}"[:300]
                alert_store.mark_ping(self.con, alert_id, channel, target, None, error)
                if attempt + 1 == self.settings.attempts or self._stop.wait(delay):
                    self.failed += 1
                    return
                delay *= 2
                continue
            now = time.time()
            alert_store.mark_ping(self.con, alert_id, channel, target, now, None)
            self.delivered += 1
            if self.on_delivered:
                self.on_delivered(alert_id, channel, target, now)
            return
