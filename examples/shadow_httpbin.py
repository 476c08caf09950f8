#!/usr/bin/env python3
"""Shadow-compare a real pair of independent services: httpbin (Flask, the "legacy" side)
and httpbinx (a FastAPI re-implementation of the same API, the "new" side), both from PyPI.

The script installs both in a virtualenv of its own, starts them, starts strangler in front
with every route shadowed (legacy serves, httpbinx is compared), sends a few hundred varied
requests, prints `strangler diffs`, and checks that `strangler_shadow_total{route,outcome}`
agrees with the report, route by route and outcome by outcome. It stops what it started.

    cargo build --bin strangler
    python3 examples/shadow_httpbin.py                  # or --requests 600 --keep DIR
    target/debug/strangler diffs sample 3 --config DIR/routes.yaml   # with --keep DIR
"""

import argparse, json, os, shutil, socket, subprocess, sys, tempfile, time, urllib.error, urllib.request

# Each route shadows one endpoint family; the keys of an echo of request headers are
# spelt as each framework likes (httpbin: Host, httpbinx: host), which is not a difference.
ENDPOINTS = {
    "get": ("/get", "/get?page={i}"), "headers": ("/headers", "/headers"),
    "uuid": ("/uuid", "/uuid"), "json": ("/json", "/json"), "ip": ("/ip", "/ip"),
    "user-agent": ("/user-agent", "/user-agent"), "anything": ("/anything/**", "/anything/item/{i}"),
    "base64": ("/base64/**", "/base64/aGVsbG8gd29ybGQ="), "status": ("/status/**", "/status/{status}"),
    "response-headers": ("/response-headers", "/response-headers?tenant=t{i}"),
}
ROUTE = """  - name: {name}
    match: {{ path: "{path}" }}
    service: httpbinx
    shadow: {{ case_insensitive_keys: ["/headers"] }}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url, what, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            return urllib.request.urlopen(url, timeout=2).read()
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.2)
    sys.exit(f"{what} did not answer at {url} within {seconds}s")


def get(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        return urllib.request.urlopen(request, timeout=10).status
    except urllib.error.HTTPError as error:
        return error.code


def start(started, argv, log):
    started.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT))


def outcomes_from_metrics(page):
    counts = {}
    for line in page.splitlines():
        if line.startswith("strangler_shadow_total{"):
            labels, value = line[len("strangler_shadow_total{"):].rsplit("} ", 1)
            pairs = dict(p.split("=", 1) for p in labels.split(","))
            key = (pairs["route"].strip('"'), pairs["outcome"].strip('"'))
            counts[key] = counts.get(key, 0) + int(float(value))
    return {k: v for k, v in counts.items() if v}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strangler", default=os.environ.get("STRANGLER", "target/debug/strangler"))
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--keep", help="work in this directory and leave it (store, routes.yaml, logs)")
    args = parser.parse_args()
    strangler = os.path.abspath(args.strangler)
    if not os.access(strangler, os.X_OK):
        sys.exit(f"no strangler binary at {strangler}: run `cargo build --bin strangler` or pass --strangler")
    work = args.keep or tempfile.mkdtemp(prefix="strangler-httpbin-")
    os.makedirs(work, exist_ok=True)
    venv = os.path.join(tempfile.gettempdir(), "strangler-httpbin-venv")
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "httpbin", "httpbinx", "uvicorn"], check=True)
    legacy, new, proxy, admin = free_port(), free_port(), free_port(), free_port()
    routes = "".join(ROUTE.format(name=n, path=p) for n, (p, _) in ENDPOINTS.items())
    config = os.path.join(work, "routes.yaml")
    with open(config, "w") as f:
        f.write(f"listen: 127.0.0.1:{proxy}\nadmin: 127.0.0.1:{admin}\nlegacy: http://127.0.0.1:{legacy}\n"
                f"services:\n  httpbinx: http://127.0.0.1:{new}\ntenant:\n  sources: [ {{ header: X-Tenant-Id }} ]\n"
                f"  default: legacy\nstore: sqlite://diffs.db\nroutes:\n{routes}")
    log = open(os.path.join(work, "services.log"), "w")
    started = []
    try:
        start(started, [python, "-m", "httpbin.core", "--port", str(legacy)], log)
        start(started, [python, "-m", "uvicorn", "httpbinx.main:app", "--port", str(new), "--log-level", "warning"], log)
        start(started, [strangler, "run", "--config", config], log)
        wait_for(f"http://127.0.0.1:{legacy}/get", "httpbin")
        wait_for(f"http://127.0.0.1:{new}/get", "httpbinx")
        wait_for(f"http://127.0.0.1:{admin}/readyz", "strangler")
        families = list(ENDPOINTS.values())
        for i in range(args.requests):
            target = families[i % len(families)][1].format(i=i, status=(200, 418, 404)[i % 3])
            get(f"http://127.0.0.1:{proxy}{target}", {"X-Tenant-Id": f"tenant-{i % 7}"})
        reported = settle(admin, args.requests)
        subprocess.run([strangler, "diffs", "--config", config], check=True)
        metric = outcomes_from_metrics(urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics").read().decode())
        if metric != reported:
            sys.exit(f"the metric disagrees with the report:\n  metric {metric}\n  report {reported}")
        print(f"strangler_shadow_total agrees with the report: {sum(metric.values())} comparisons, "
              f"{len(metric)} (route, outcome) series")
    finally:
        for process in reversed(started):
            process.terminate()
            process.wait(timeout=15)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def settle(admin, expected):
    """The report's outcomes per (route, outcome), once every request is in it."""
    deadline = time.time() + 30
    while True:
        body = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{admin}/admin/diffs").read())
        counts = {(r["route"], o): n for r in body["routes"] for o, n in r["outcomes"].items()}
        if sum(counts.values()) >= expected or time.time() > deadline:
            return counts
        time.sleep(0.3)


if __name__ == "__main__":
    main()
