"""Request and process events and metrics for monitoring, call-compatible with mod_wsgi's.

A handler subscribed with ``subscribe_events(handler)`` is called as ``handler(name,
**event)`` for each event: ``request_started``, ``response_started``, ``request_finished``,
``request_exception`` and ``process_stopping``. A dict it returns is merged into the event
before the next handler sees it, so a handler can wrap the app by returning
``{"application_object": wrapped}``. A handler that raises is logged and skipped: it never
breaks a request. Events cost nothing until a handler subscribes.

``process_metrics()`` gives the worker's counts and times over its life; each call of
``request_metrics()`` gives them over the window since the previous call (or since the
worker started, or ``start_recording_metrics()``): throughput, capacity in use, queue and
application time averages and histograms, status classes, CPU and memory.
"""

import sys
import threading
import traceback

from warp_server import _native
from warp_server._native import process_metrics, request_metrics, start_recording_metrics  # noqa: F401

#: Every handler of every event, in the order they subscribed.
event_callbacks = []
#: Handlers of ``process_stopping`` only.
shutdown_callbacks = []
#: The ``request_data`` dict of each request in progress, by its ``request_id``.
active_requests = {}

_current = threading.local()


def subscribe_events(callback):
    """Call ``callback(name, **event)`` for every event from now on; returns ``callback``."""
    event_callbacks.append(callback)
    _native.publish_events_to(publish)
    return callback


def subscribe_shutdown(callback):
    """Call ``callback("process_stopping", shutdown_reason=...)`` when the worker stops;
    returns ``callback``."""
    shutdown_callbacks.append(callback)
    _native.publish_events_to(publish)
    return callback


def request_data():
    """The dict this thread's request carries through its events, for handlers to keep
    what they measure."""
    data = getattr(_current, "data", None)
    if data is None:
        raise RuntimeError("no active request for thread")
    return data


def publish(name, event):
    """Hand the event to each handler in turn; returns the event as they left it."""
    if name == "request_started":
        _current.data = event["request_data"]
        active_requests[event["request_id"]] = event["request_data"]
    handlers = list(event_callbacks)
    if name == "process_stopping":
        handlers += shutdown_callbacks
    try:
        for handler in handlers:
            try:
                result = handler(name, **event)
            except Exception:
                print("warp: the %s handler %r failed; the request goes on:" % (name, handler), file=sys.stderr)
                traceback.print_exc()
                continue
            if isinstance(result, dict):
                event.update(result)
    finally:
        if name == "request_finished":
            active_requests.pop(event["request_id"], None)
            _current.data = None
    return event
