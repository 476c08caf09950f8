#!/usr/bin/env python3
"""How the console's calls scale: 1,000 routes and 100,000 tenant overrides.

Starts `strangler run` (the binary given, release build) on a generated routes.yaml with
1,000 routes in a scratch directory, gives one route 100,000 runtime tenant overrides in
batches through the admin API (as the console's paste does, 5,000 a call), then times each
call a console page makes, warm, as the median and the worst of 20, and the page itself.

    cargo build --release && python3 bench/console_scale.py target/release/strangler
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROUTES = 1000
OVERRIDES = 100_000
BATCH = 5_000
TOKEN = "scale-token"


def config(dir_):
    lines = [
        "listen: 127.0.0.1:18480",
        "admin: 127.0.0.1:18490",
        "legacy: http://127.0.0.1:1",
        "services:",
        "  billing: http://127.0.0.1:2",
        "tenant:",
        "  sources: [{ header: X-Tenant-Id }]",
        "routes:",
    ]
    for i in range(ROUTES):
        lines += [
            f"  - name: r{i}",
            f'    match: {{ path: "/r{i}/**" }}',
            "    service: billing",
            f"    rollout: {{ percent: {i % 101} }}",
        ]
    path = os.path.join(dir_, "routes.yaml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request("http://127.0.0.1:18490" + path, data=data, method=method)
    request.add_header("Authorization", "Bearer " + TOKEN)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        payload = response.read()
    return time.perf_counter() - started, len(payload)


def wait_ready():
    for _ in range(200):
        try:
            call("GET", "/admin/whoami")
            return
        except Exception:
            time.sleep(0.1)
    sys.exit("the proxy did not start")


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/strangler")
    with tempfile.TemporaryDirectory() as dir_:
        path = config(dir_)
        env = dict(os.environ, STRANGLER_ADMIN_TOKEN=TOKEN, RUST_LOG="warn")
        proxy = subprocess.Popen([binary, "run", "--config", path], env=env, cwd=dir_,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready()
            started = time.perf_counter()
            for start in range(0, OVERRIDES, BATCH):
                tenants = {f"tenant-{n:06d}": "new" for n in range(start, start + BATCH)}
                call("PUT", "/admin/routes/r0/tenants", {"tenants": tenants, "comment": "bulk"})
            loading = time.perf_counter() - started
            print(f"{ROUTES} routes; {OVERRIDES} overrides on r0 set in {loading:.1f} s "
                  f"({OVERRIDES // BATCH} calls of {BATCH})")
            pages = {
                "console page (/)": "/",
                "overview: /admin/routes?tenants=count": "/admin/routes?tenants=count",
                "overview: /admin/config": "/admin/config",
                "overview: /admin/guards": "/admin/guards",
                "overview: /admin/health": "/admin/health",
                "overview: /admin/diffs": "/admin/diffs",
                "route: /admin/routes?tenants=count&route=r0": "/admin/routes?tenants=count&route=r0",
                "route: /admin/routes/r0/tenants?limit=200": "/admin/routes/r0/tenants?limit=200",
                "route: ...tenants?search=tenant-09999&limit=200": "/admin/routes/r0/tenants?search=tenant-09999&limit=200",
                "route: /admin/audit?view=changes&limit=20&route=r0": "/admin/audit?view=changes&limit=20&route=r0",
                "(full view) /admin/audit?limit=20&route=r0": "/admin/audit?limit=20&route=r0",
            }
            print(f"{'call':58} {'median ms':>10} {'worst ms':>10} {'bytes':>10}")
            for name, target in pages.items():
                runs = [call("GET", target) for _ in range(5 if "audit" in target else 20)]
                times = [t * 1000 for t, _ in runs]
                print(f"{name:58} {statistics.median(times):10.1f} {max(times):10.1f} {runs[0][1]:10}")
        finally:
            proxy.terminate()
            proxy.wait()


if __name__ == "__main__":
    main()
