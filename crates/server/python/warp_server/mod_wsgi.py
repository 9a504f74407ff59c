"""``mod_wsgi``, as monitoring code written for mod_wsgi imports it: the worker puts this
module in ``sys.modules`` under that name before it imports the app, as mod_wsgi does in
Apache, so such code runs unchanged on warp."""

from warp_server.events import (  # noqa: F401 (the API it offers)
    active_requests,
    event_callbacks,
    process_metrics,
    request_data,
    request_metrics,
    shutdown_callbacks,
    start_recording_metrics,
    subscribe_events,
    subscribe_shutdown,
)

#: The mod_wsgi version whose API this follows.
version = (5, 0, 0)
#: warp runs every app in its own worker processes, in the main interpreter.
process_group = "warp"
application_group = ""
#: Set from the worker's settings when it starts.
maximum_processes = 1
threads_per_process = 1
