"""gunicorn settings for stationmap: ``gunicorn -c deploy/gunicorn.conf.py stationmap.web.wsgi:app``.

Several worker processes, each with a few threads: a slow planner computation in one process does not hold up the
worker page served by the others. Each process loads the register once, at start. The app itself
reads ``STATIONMAP_*`` variables (docs/deploy.md); the ``GUNICORN_*`` ones below tune the server.
"""

import os

#: Address to listen on: loopback, with nginx in front (deploy/nginx.conf) terminating TLS.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
#: Worker processes: two per core, at least two, at most eight (each holds its own copy of the register).
workers = int(os.environ.get("GUNICORN_WORKERS", min(8, max(2, 2 * (os.cpu_count() or 1)))))
#: Threads per worker (gthread worker): one process answers several short requests at once. The app sizes its
#: planner and report pools from the same number (STATIONMAP_THREADS), so set that one, not GUNICORN_THREADS.
worker_class = "gthread"
threads = int(os.environ.get("STATIONMAP_THREADS") or os.environ.get("GUNICORN_THREADS") or 4)
if threads < 3:  # planner and report requests wait on at most threads - 1; the worker page needs the last one
    raise SystemExit(f"stationmap needs at least 3 threads per worker process (STATIONMAP_THREADS), got {threads}.")
os.environ["STATIONMAP_THREADS"] = str(threads)  # the app reads its settings from the environment
#: Planner answers come back 503 + Retry-After while computing, so no request needs a long timeout.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 60))
graceful_timeout = 30
keepalive = 5
#: Restart a worker now and then so any slow growth of memory is returned.
max_requests = 10_000
max_requests_jitter = 1_000
#: One line per request on stdout (journald keeps it under systemd); "-" is stdout.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%({x-forwarded-for}i)s %(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
#: nginx on the same machine is the only proxy trusted to set X-Forwarded-* for gunicorn's own use;
#: the app trusts them through STATIONMAP_PROXY_HOPS.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
proc_name = "stationmap"
