"""The webhook call: ``POST {PRELOADD_URL}{PRELOADD_INVALIDATE_PATH}`` with
a JSON body (SPEC §6), bearer token, short timeout. Standard library only
(urllib), so the app needs nothing beyond Django.

A 503 means the daemon dropped the pages from its index but could not yet
make the drop durable (a failing cache disk); docs/invalidation.md asks
the sender to retry, so it is retried once after a short pause.
"""

import json
import time
import urllib.error
import urllib.request

from . import conf
from .errors import PreloaddError

RETRY_AFTER_503 = 0.5


def webhook_url():
    base = conf.get("PRELOADD_URL")
    if not base:
        raise PreloaddError("PRELOADD_URL is not set: no daemon to tell")
    return base.rstrip("/") + conf.get("PRELOADD_INVALIDATE_PATH")


def post(body):
    """POSTs ``body`` (a dict of SPEC §6 fields) and returns the daemon's
    ``invalidated`` count. Raises :class:`PreloaddError` on any failure."""
    url = webhook_url()
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "django-preloadd"}
    token = conf.get("PRELOADD_TOKEN")
    if token:
        headers["Authorization"] = "Bearer " + token
    timeout = float(conf.get("PRELOADD_TIMEOUT"))
    for attempt in (1, 2):
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                answer = response.read()
        except urllib.error.HTTPError as err:
            reason = _first_line(err.read())
            if err.code == 503 and attempt == 1:
                time.sleep(RETRY_AFTER_503)
                continue
            raise PreloaddError(f"POST {url}: {err.code} {reason}".rstrip()) from None
        except (OSError, ValueError) as err:
            # URLError, timeouts, refused connections are OSErrors; a
            # malformed URL is a ValueError.
            raise PreloaddError(f"POST {url}: {_reason(err)}") from None
        try:
            return int(json.loads(answer)["invalidated"])
        except (ValueError, KeyError, TypeError):
            raise PreloaddError(f"POST {url}: unexpected answer {_first_line(answer)!r}") from None
    raise AssertionError("unreachable")


def _first_line(raw):
    text = raw.decode("utf-8", "replace").strip()
    return text.splitlines()[0][:200] if text else ""


def _reason(err):
    reason = getattr(err, "reason", None) or err
    return str(reason) or type(reason).__name__
