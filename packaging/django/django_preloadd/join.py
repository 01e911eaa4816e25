"""The seed's joining rule (SPEC §3), the same as ``preloadd url`` and the
daemon's ``key::join_params`` / ``key::preload_url``: each extra parameter
string loses a leading ``?`` and surrounding ``&``, empty ones are skipped,
and the rest are joined with ``&`` after the path's ``?`` (or after its own
query with ``&``).

Pure string work, like the Rust original: whether the result is a target
the daemon accepts is the daemon's to say (``preloadd url`` says it).
"""


def join_params(path, params=()):
    """``join_params("/a", ["b=1", "?c=2&", ""])`` is ``/a?b=1&c=2``."""
    out = [path]
    if "?" not in path:
        sep = "?"
    elif path.endswith(("?", "&")):
        sep = ""
    else:
        sep = "&"
    for param in params:
        param = str(param)
        if param.startswith("?"):
            param = param[1:]
        param = param.strip("&")
        if not param:
            continue
        out.append(sep)
        out.append(param)
        sep = "&"
    return "".join(out)


def preload_url(prefix, path, params=()):
    """The preload URL of ``path`` with ``params`` joined by
    :func:`join_params`: ``preload_url("/_preload", "/a", ["b=1"])`` is
    ``/_preload/a?b=1``."""
    prefix = prefix.rstrip("/")
    slash = "" if path.startswith("/") else "/"
    return prefix + slash + join_params(path, params)
