#!/usr/bin/env python3
"""Serves the example with Django's own threaded development server (what
``runserver`` runs, without the autoreloader), for the end-to-end test and
for a quick look:

    python serve.py 8000          # http://127.0.0.1:8000
    python serve.py 0 --env-stdin # a port the kernel picks

It binds first and prints ``listening on http://127.0.0.1:PORT``. With
``--env-stdin`` it then reads ``NAME=value`` lines from its standard input,
up to an empty line, into the environment before Django reads its settings:
the test learns this port before it starts the daemon, and the daemon's
admin address only after, so neither waits on a port chosen in advance.
Not for production: run the project under a WSGI server there.
"""

import os
import sys

from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler


def main(argv):
    port = int(argv[1]) if len(argv) > 1 else 8000
    server = ThreadedWSGIServer(("127.0.0.1", port), WSGIRequestHandler, ipv6=False)
    print(f"listening on http://127.0.0.1:{server.server_port}", flush=True)
    if "--env-stdin" in argv:
        for line in sys.stdin:
            line = line.strip()
            if not line:
                break
            name, _, value = line.partition("=")
            os.environ[name] = value
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_example.settings")
    from django.core.wsgi import get_wsgi_application

    server.set_app(get_wsgi_application())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main(sys.argv)
