"""warp's embedded WSGI server.

The server itself is the Rust extension ``warp_server._native``; workers are started by
``warp start`` as ``python -m warp_server``.
"""

from warp_server._native import FileWrapper

__all__ = ["FileWrapper"]
