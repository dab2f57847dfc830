"""A GStreamer RTSP server for the live-camera tests, run by Debian's /usr/bin/python3 (python3-gi).

    /usr/bin/python3 tests/rtsp_server.py PORT [WIDTHxHEIGHT]

Serves rtsp://127.0.0.1:PORT/cam: a moving test pattern at 10 fps as RTP/JPEG. Raw
frames get explicit I420 caps before ``jpegenc ! rtpjpegpay``; without them the
payloader negotiates a format clients cannot set up and they time out. Prints
``ready`` once listening; stopped by its PID.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

Gst.init(None)
port = sys.argv[1]
width, height = (int(v) for v in (sys.argv[2] if len(sys.argv) > 2 else "320x240").split("x"))
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(
    f"( videotestsrc is-live=true pattern=ball ! video/x-raw,width={width},height={height},framerate=10/1,"
    "format=I420 ! jpegenc quality=80 ! rtpjpegpay name=pay0 pt=96 )"
)
factory.set_shared(True)
server.get_mount_points().add_factory("/cam", factory)
if server.attach(None) == 0:
    sys.exit(f"cannot listen on port {port}")
print("ready", flush=True)
GLib.MainLoop().run()
