# The chart's pre-delete hook (templates/uninstall/): delete this release's Ray objects and wait until
# KubeRay has removed them, before helm deletes the rest of the release. With GCS fault tolerance,
# KubeRay deletes a Ray cluster only after a Redis cleanup Job, built from the cluster's head pod
# (the chart's ServiceAccount, its volumes), has run: if helm deleted those first, the Job could not
# start and the cluster's state would stay in Redis. Standard library only (the Ray image's Python).
# Best effort: on any error it says what it could not do and exits 0, so that `helm uninstall`
# goes on as it would without the hook.
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
# Owners first: a RayService, RayCronJob or RayJob deletes the clusters it made (foreground
# deletion keeps each owner until its clusters are gone).
KINDS = ("rayservices", "raycronjobs", "rayjobs", "rayclusters")


def main() -> int:
    namespace, release = os.environ["NAMESPACE"], os.environ["RELEASE"]
    timeout = float(os.environ.get("TIMEOUT_SECONDS", "240"))
    with open(f"{ACCOUNT}/token") as token_file:
        token = token_file.read().strip()
    context = ssl.create_default_context(cafile=f"{ACCOUNT}/ca.crt")
    base = f"https://kubernetes.default.svc/apis/ray.io/v1/namespaces/{namespace}"
    selector = urllib.parse.quote(f"app.kubernetes.io/instance={release}")

    def call(method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(base + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {token}")
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            return json.load(response)

    def remaining():
        return {
            kind: [
                item["metadata"]["name"] for item in call("GET", f"/{kind}?labelSelector={selector}")["items"]
            ]
            for kind in KINDS
        }

    left = remaining()
    for kind, names in left.items():
        for name in names:
            try:
                call("DELETE", f"/{kind}/{name}", {"propagationPolicy": "Foreground"})
                print(f"deleting {kind}/{name}", flush=True)
            except urllib.error.HTTPError as err:
                if err.code != 404:
                    raise
    deadline = time.monotonic() + timeout
    while any(left.values()) and time.monotonic() < deadline:
        time.sleep(2)
        left = remaining()
    if any(left.values()):
        print(f"still there after {timeout:.0f} s (helm deletes the rest now): {left}", flush=True)
    else:
        print("every Ray object of the release is gone", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as err:  # best effort: never block `helm uninstall`
        print(
            f"could not delete the release's Ray objects first ({type(err).__name__}: {err}); "
            "helm deletes them now",
            flush=True,
        )
        sys.exit(0)
