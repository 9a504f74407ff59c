"""What ``threading.Thread`` gives the threads it starts, for the server's request threads:
the trace and profile hooks set with ``threading.settrace`` and ``threading.setprofile``
(coverage.py, profilers, debuggers), which would otherwise never see them run."""

import sys
import threading


def thread_started():
    trace = threading.gettrace() if hasattr(threading, "gettrace") else getattr(threading, "_trace_hook", None)
    profile = threading.getprofile() if hasattr(threading, "getprofile") else getattr(threading, "_profile_hook", None)
    if trace is not None:
        sys.settrace(trace)
    if profile is not None:
        sys.setprofile(profile)
