"""warp's embedded WSGI server.

The server itself is the Rust extension ``warp_server._native``; workers are started by
``warp start`` as ``python -m warp_server``. The monitoring API (mod_wsgi's) is in
``warp_server.events``, and here for short.
"""

from warp_server._native import FileWrapper
from warp_server.events import (
    process_metrics,
    request_data,
    request_metrics,
    start_recording_metrics,
    subscribe_events,
    subscribe_shutdown,
)

__all__ = [
    "FileWrapper",
    "process_metrics",
    "request_data",
    "request_metrics",
    "start_recording_metrics",
    "subscribe_events",
    "subscribe_shutdown",
]
