"""A GStreamer RTSP server for the live-camera tests, run by Debian's /usr/bin/python3 (python3-gi).

    /usr/bin/python3 tests/rtsp_server.py PORT [WIDTHxHEIGHT [USER:PASSWORD]]

Serves rtsp://127.0.0.1:PORT/cam: a moving test pattern at 10 fps as RTP/JPEG. Raw
frames get explicit I420 caps before ``jpegenc ! rtpjpegpay``; without them the
payloader negotiates a format clients cannot set up and they time out. Prints
``ready`` once listening; stopped by its PID. With USER:PASSWORD, clients must
authenticate (RTSP Basic authentication; others get 401).
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
if len(sys.argv) > 3:
    user, _, password = sys.argv[3].partition(":")
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "viewer")
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
    server.set_auth(auth)
    permissions = GstRtspServer.RTSPPermissions()
    permissions.add_role_from_structure(
        Gst.Structure.new_from_string("viewer, media.factory.access=true, media.factory.construct=true")
    )
    factory.set_permissions(permissions)
server.get_mount_points().add_factory("/cam", factory)
if server.attach(None) == 0:
    sys.exit(f"cannot listen on port {port}")
print("ready", flush=True)
GLib.MainLoop().run()
