"""``--enable-profiler DIR``: each request profiled with cProfile into a file of its own.

The profile covers the app's call and the iteration of what it returns, up to its
``close()``, on the request's thread; the file (``pstats`` reads it) is written once the
request is over.
"""

import cProfile
import itertools
import os
import re
import time


def profiled(app, folder):
    """``app``, with each request's profile written into ``folder``."""
    os.makedirs(folder, exist_ok=True)
    numbers = itertools.count(1)

    def application(environ, start_response):
        name = "%s-%d-%d-%s%s.prof" % (
            time.strftime("%Y%m%d-%H%M%S"),
            os.getpid(),
            next(numbers),
            environ.get("REQUEST_METHOD", ""),
            re.sub(r"[^A-Za-z0-9]+", "_", environ.get("PATH_INFO", ""))[:60],
        )
        profile = cProfile.Profile()
        try:
            result = profile.runcall(app, environ, start_response)
        except BaseException:
            profile.dump_stats(os.path.join(folder, name))
            raise
        return Profiled(result, profile, os.path.join(folder, name))

    return application


class Profiled:
    """The app's iterable, iterated and closed under its request's profile."""

    def __init__(self, result, profile, path):
        self.result = result
        self.profile = profile
        self.path = path

    def __iter__(self):
        items = self.profile.runcall(iter, self.result)
        while True:
            try:
                yield self.profile.runcall(next, items)
            except StopIteration:
                return

    def close(self):
        try:
            close = getattr(self.result, "close", None)
            if close is not None:
                self.profile.runcall(close)
        finally:
            self.profile.dump_stats(self.path)
