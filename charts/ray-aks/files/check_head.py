"""`helm test` check of the Ray head: it answers, and with token auth the Jobs API needs the token.

Standard library only (it runs in the Ray image). Configured by environment variables:
  RAY_DASHBOARD_URL      e.g. http://ray-head-svc.ns.svc.cluster.local:8265
  RAY_AUTH_MODE          "token" or "disabled"
  RAY_AUTH_TOKEN_PATH    file holding the cluster's token (when the mode is token), or
  RAY_AUTH_TOKEN         the token itself
  CHECK_TIMEOUT_SECONDS  how long to wait for the head to answer
Exit status 0 when every check passes; otherwise 1 with the reason on stderr.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request


def get(url, token=None):
    """(status, body) of a GET; HTTP errors are answers too, connection errors are raised."""
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def wait_healthy(base, timeout):
    """Poll the public GCS health endpoint until it answers 200 or the timeout passes."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            status, body = get(base + "/api/gcs_healthz")
            if status == 200:
                return
            last = f"HTTP {status}: {body[:200]}"
        except (urllib.error.URLError, OSError) as err:
            last = str(err)
        time.sleep(2)
    raise SystemExit(f"head at {base} not healthy after {timeout}s: {last}")


def read_token():
    """The token from RAY_AUTH_TOKEN_PATH's file, else RAY_AUTH_TOKEN; refuse an empty one."""
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    if path:
        with open(path) as token_file:
            token = token_file.read().strip()
    else:
        token = os.environ.get("RAY_AUTH_TOKEN", "").strip()
    if not token:
        raise SystemExit("RAY_AUTH_MODE is token but no token was found (RAY_AUTH_TOKEN_PATH or RAY_AUTH_TOKEN)")
    return token


def main():
    base = os.environ["RAY_DASHBOARD_URL"].rstrip("/")
    mode = os.environ.get("RAY_AUTH_MODE", "token")
    timeout = int(os.environ.get("CHECK_TIMEOUT_SECONDS", "300"))
    wait_healthy(base, timeout)
    print(f"ok: {base}/api/gcs_healthz answers 200")

    token = None
    if mode == "token":
        token = read_token()
        status, body = get(base + "/api/version")
        if status != 401:
            raise SystemExit(f"Jobs API answered HTTP {status} without a token, expected 401: {body[:200]}")
        print("ok: the Jobs API refuses a request without the token (401)")

    status, body = get(base + "/api/version", token)
    if status != 200:
        raise SystemExit(f"GET /api/version answered HTTP {status}: {body[:200]}")
    version = json.loads(body).get("ray_version")
    print(f"ok: the Jobs API answers{' with the token' if token else ''}; Ray {version}")


if __name__ == "__main__":
    try:
        main()
    except SystemExit as exit_:
        if exit_.code not in (None, 0):
            print(f"FAIL: {exit_.code}", file=sys.stderr)
            sys.exit(1)
        raise
