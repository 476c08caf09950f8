#!/usr/bin/env python3
"""Writes the routes.yaml that bench/run.sh gives strangler, one per scenario.

usage: gen_routes.py SCENARIO LISTEN_PORT ADMIN_PORT BACKEND_PORT HIT_PATH

Every scenario sends `legacy` and the one service `new` to the same backend, so
whichever side a request is decided to, the bytes on the wire are the same and
only the decision work differs. The route the benchmark request hits is written
last, so a matcher that scans routes in order pays for all of them.

- routing, body1m: a handful of routes shaped like the example routes.yaml.
- routes1000: 1,000 routes with 100 tenant overrides each (100,000 in all).
"""
import sys

# The tenant the benchmark request carries in X-Tenant-Id. It is never one of
# the overrides, so every request goes through the override lookup and then
# the percentage bucket: the longest path through the decision.
REQUEST_TENANT = "acme"


def header(listen, admin, backend, threads):
    return (
        f"listen: 127.0.0.1:{listen}\n"
        f"admin: 127.0.0.1:{admin}\n"
        f"threads: {threads}\n"
        f"legacy: http://127.0.0.1:{backend}\n"
        f"services: {{ new: http://127.0.0.1:{backend} }}\n"
        "tenant: { sources: [ { header: X-Tenant-Id } ], default: legacy }\n"
        "routes:\n"
    )


def route(name, path, percent, tenants, methods=None):
    match = f'path: "{path}"' + (f", methods: [{', '.join(methods)}]" if methods else "")
    overrides = ", ".join(f"{t}: {side}" for t, side in tenants)
    rollout = f"percent: {percent}" + (f", tenants: {{ {overrides} }}" if overrides else "")
    return (
        f"  - name: {name}\n"
        f"    match: {{ {match} }}\n"
        "    service: new\n"
        f"    rollout: {{ {rollout} }}\n"
    )


def handful(hit_path):
    yield route("invoices", "/api/invoices/**", 25, [("qa-internal", "new"), ("bigcorp", "legacy")], ["GET", "POST"])
    yield route("invoice-pdf", "/api/invoices/{id}/pdf", 0, [])
    yield route("users", "/api/users/{id}", 10, [("qa-internal", "new")])
    yield route("search", "/search/**", 100, [], ["GET"])
    yield route("hit", hit_path, 50, [("qa-internal", "new"), ("bigcorp", "legacy")])


def thousand(hit_path):
    for i in range(999):
        tenants = [(f"t{i}-{j}", "new" if j % 2 else "legacy") for j in range(100)]
        path = f"/api/r{i}/{{id}}/items" if i % 2 else f"/api/r{i}/**"
        yield route(f"r{i}", path, i % 101, tenants)
    yield route("hit", hit_path, 50, [(f"t-hit-{j}", "new" if j % 2 else "legacy") for j in range(100)])


def main():
    scenario, listen, admin, backend, hit_path = sys.argv[1:6]
    threads = sys.argv[6] if len(sys.argv) > 6 else "1"
    routes = thousand(hit_path) if scenario == "routes1000" else handful(hit_path)
    out = sys.stdout
    out.write(header(listen, admin, backend, threads))
    for text in routes:
        out.write(text)


if __name__ == "__main__":
    main()
