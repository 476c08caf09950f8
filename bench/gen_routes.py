#!/usr/bin/env python3
"""Writes the routes.yaml that bench/run.sh gives strangler, one per scenario.

usage: gen_routes.py SCENARIO LISTEN_PORT ADMIN_PORT BACKEND_PORT HIT_PATH [THREADS]
                     [--store URL] [--shadow] [--sample N] [--in-flight N]

Every scenario sends `legacy` and the one service `new` to the same backend, so
whichever side a request is decided to, the bytes on the wire are the same and
only the decision work differs. The route the benchmark request hits is written
last, so a matcher that scans routes in order pays for all of them.

- routing, body1m: a handful of routes shaped like the example routes.yaml.
- routes1000: 1,000 routes with 100 tenant overrides each (100,000 in all).
- shadow: the routing routes; with --shadow the hit route also has
  `shadow: { noise: 0 }` (every request compared, none asked twice), with
  --sample N `shadow: { noise: 0, sample: N }` (N % of its requests), and, with
  --in-flight, a `diffs: { in_flight: N }` block.

--store gives each strangler its own SQLite file, so two of them never share one
(and the bench never leaves a strangler.db in the working directory).

The TLS scenarios (tls, https-upstream) use the routing routes, with:
- --tls-port N --cert PEM --key PEM: a second listener on N that terminates TLS
  (`listen:` becomes a list: the cleartext address, then `{ addr, tls }`);
- --upstream-ca PEM --upstream-sni NAME: `legacy` and `new` reach the backend at
  `https://`, verified against that certificate under that name.
"""
import argparse
import sys

# The tenant the benchmark request carries in X-Tenant-Id. It is never one of
# the overrides, so every request goes through the override lookup and then
# the percentage bucket: the longest path through the decision.
REQUEST_TENANT = "acme"


def header(args):
    return (
        listen(args)
        + f"admin: 127.0.0.1:{args.admin}\n"
        f"threads: {args.threads}\n"
        + (f"work_stealing: {args.work_stealing}\n" if args.work_stealing else "")
        + (f"alt_timer: {args.alt_timer}\n" if args.alt_timer else "")
        + (f"store: {args.store}\n" if args.store else "")
        + (f"diffs: {{ in_flight: {args.in_flight} }}\n" if args.in_flight else "")
        + upstreams(args)
        + "tenant: { sources: [ { header: X-Tenant-Id } ], default: legacy }\n"
        "routes:\n"
    )


def listen(args):
    """The cleartext listener, and the TLS one after it when --tls-port is given."""
    if not args.tls_port:
        return f"listen: 127.0.0.1:{args.listen}\n"
    tls = f"{{ cert: {args.cert}, key: {args.key} }}"
    return (
        "listen:\n"
        f"  - 127.0.0.1:{args.listen}\n"
        f"  - {{ addr: 127.0.0.1:{args.tls_port}, tls: {tls} }}\n"
    )


def upstreams(args):
    """legacy and new, both the backend (new on --new-backend when given): plain HTTP, or
    HTTPS with --upstream-ca."""
    if not args.upstream_ca:
        url = f"http://127.0.0.1:{args.backend}"
        new = f"http://127.0.0.1:{args.new_backend}" if args.new_backend else url
        return f"legacy: {url}\nservices: {{ new: {new} }}\n"
    target = (
        f"{{ url: https://127.0.0.1:{args.backend}, "
        f"tls: {{ ca: {args.upstream_ca}, sni: {args.upstream_sni} }} }}"
    )
    return f"legacy: {target}\nservices: {{ new: {target} }}\n"


def route(name, path, percent, tenants, methods=None, shadow=None):
    match = f'path: "{path}"' + (f", methods: [{', '.join(methods)}]" if methods else "")
    overrides = ", ".join(f"{t}: {side}" for t, side in tenants)
    rollout = f"percent: {percent}" + (f", tenants: {{ {overrides} }}" if overrides else "")
    return (
        f"  - name: {name}\n"
        f"    match: {{ {match} }}\n"
        "    service: new\n"
        f"    rollout: {{ {rollout} }}\n"
        + (f"    shadow: {{ {shadow} }}\n" if shadow else "")
    )


def handful(hit_path, shadow=None):
    yield route("invoices", "/api/invoices/**", 25, [("qa-internal", "new"), ("bigcorp", "legacy")], ["GET", "POST"])
    yield route("invoice-pdf", "/api/invoices/{id}/pdf", 0, [])
    yield route("users", "/api/users/{id}", 10, [("qa-internal", "new")])
    yield route("search", "/search/**", 100, [], ["GET"])
    yield route("hit", hit_path, 50, [("qa-internal", "new"), ("bigcorp", "legacy")], shadow=shadow)


def thousand(hit_path):
    for i in range(999):
        tenants = [(f"t{i}-{j}", "new" if j % 2 else "legacy") for j in range(100)]
        path = f"/api/r{i}/{{id}}/items" if i % 2 else f"/api/r{i}/**"
        yield route(f"r{i}", path, i % 101, tenants)
    yield route("hit", hit_path, 50, [(f"t-hit-{j}", "new" if j % 2 else "legacy") for j in range(100)])


def arguments():
    parser = argparse.ArgumentParser(description="Writes the bench's routes.yaml to stdout.")
    for name in ("scenario", "listen", "admin", "backend", "hit_path"):
        parser.add_argument(name)
    parser.add_argument("threads", nargs="?", default="1")
    parser.add_argument("--work-stealing", choices=["true", "false"], help="work_stealing:")
    parser.add_argument("--alt-timer", choices=["true", "false"], help="alt_timer:")
    parser.add_argument("--store", help="store: URL, e.g. sqlite:///tmp/x/strangler.db")
    parser.add_argument("--shadow", action="store_true", help="shadow every request of the hit route")
    parser.add_argument("--sample", help="with --shadow: the hit route's shadow sample, in percent")
    parser.add_argument("--in-flight", type=int, help="diffs.in_flight (default: the proxy's, 256)")
    parser.add_argument("--new-backend", help="the service new on this port instead of the backend's")
    parser.add_argument("--tls-port", help="a second listener, with TLS, on this port")
    parser.add_argument("--cert", help="--tls-port's certificate (PEM)")
    parser.add_argument("--key", help="--tls-port's key (PEM)")
    parser.add_argument("--upstream-ca", help="reach the backend over https, trusting this PEM")
    parser.add_argument("--upstream-sni", help="the backend's name in its certificate")
    return parser.parse_args()


def main():
    args = arguments()
    if args.scenario == "routes1000":
        routes = thousand(args.hit_path)
    else:
        shadow = None
        if args.shadow:
            shadow = "noise: 0" + (f", sample: {args.sample}" if args.sample else "")
        routes = handful(args.hit_path, shadow=shadow)
    out = sys.stdout
    out.write(header(args))
    for text in routes:
        out.write(text)


if __name__ == "__main__":
    main()
