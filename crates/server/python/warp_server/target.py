"""The part of an app spec after the colon, as gunicorn reads it: a name (``application``,
``api.app``) or a call of an app factory (``create_app()``, ``create_app("testing",
debug=True)``) whose arguments are Python literals. Nothing in the spec is ever run as
code: the arguments go through ``ast.literal_eval``.

A worker parses the spec here before it loads the app. ``warp start`` runs this file as a
script, before anything starts, to check a spec the same way::

    python -c "$(cat target.py)" 'create_app("testing")'

prints ``{}`` when the spec is valid, else ``{"error": "..."}``: one line saying what is wrong.
"""

import ast
import json
import sys

LITERALS = "strings, bytes, numbers, tuples, lists, dicts, sets, True, False and None"
EXAMPLE = "write it as create_app() or create_app('testing', debug=True)"


def parse(text):
    """Return ``(names, call)`` for ``text``: the dotted name as a list, and for a factory
    call its ``(args, kwargs)``, else None. Raise ValueError saying what is wrong."""
    source = text.strip()
    try:
        node = ast.parse(source, mode="eval").body
    except SyntaxError as e:
        raise ValueError("%r is not a name or a call of one (%s): %s" % (text, e.msg, EXAMPLE))
    call = None
    if isinstance(node, ast.Call):
        args = [literal(source, arg) for arg in node.args]
        kwargs = {}
        for keyword in node.keywords:
            if keyword.arg is None:  # **mapping
                refuse(source, keyword)
            if keyword.arg in kwargs:
                raise ValueError("%r gives the argument %s twice" % (text, keyword.arg))
            kwargs[keyword.arg] = literal(source, keyword.value)
        call = (args, kwargs)
        node = node.func
    names = dotted(node)
    if names is None:
        raise ValueError("%r is not a name or a call of one: %s" % (text, EXAMPLE))
    return names, call


def dotted(node):
    """The names of ``a.b.c``, or None when ``node`` is anything else."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        head = dotted(node.value)
        return None if head is None else head + [node.attr]
    return None


def literal(source, node):
    if isinstance(node, ast.Starred):
        refuse(source, node)
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        refuse(source, node)


def refuse(source, node):
    shown = ast.get_source_segment(source, node) or ast.dump(node)
    raise ValueError(
        "the argument %s is not a literal: an app factory takes only %s; read anything else inside the factory "
        "(from os.environ, say)" % (shown, LITERALS)
    )


if __name__ == "__main__":
    try:
        parse(sys.argv[1])
        json.dump({}, sys.stdout)
    except ValueError as e:
        json.dump({"error": str(e)}, sys.stdout)
