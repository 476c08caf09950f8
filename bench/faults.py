"""Fault drills against a real strangler binary, each printing its figures in one line:
the store file moved away and made read-only under a running proxy, PostgreSQL unreachable
at start (is its password logged?), silent and slow clients, descriptor exhaustion, a slow
upload under `timeouts.total`, and probes during a drain.

    python3 bench/faults.py target/release/strangler all
    python3 bench/faults.py target/release/strangler deleted read_only   # some of them

Needs root for `chattr` (read_only) and a Python 3 with nothing else installed. Every
address is on 127.0.0.1; every loop is bounded. docs/resilience/drills.md has the figures.
"""
import json, os, shutil, signal, socket, subprocess, sys, tempfile, threading, time, urllib.request

BIN = sys.argv[1]
TOKEN = "rerun-token"

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def backend():
    """A tiny HTTP/1.1 backend: 200 {"ok":true} to everything, keep-alive."""
    import http.server
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def do_GET(self):
            body = b'{"ok":true}'
            self.send_response(200); self.send_header("content-length", str(len(body))); self.end_headers(); self.wfile.write(body)
        def do_POST(self):
            n = int(self.headers.get("content-length", "0") or 0)
            got = 0
            while got < n:
                chunk = self.rfile.read(min(65536, n - got))
                if not chunk: break
                got += len(chunk)
            self.do_GET()
        def log_message(self, *a): pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv.server_address[1]

def start(config, env=None, pre=None):
    e = dict(os.environ); e.pop("RUST_LOG", None); e["STRANGLER_ADMIN_TOKEN"] = TOKEN
    e.update(env or {})
    p = subprocess.Popen([BIN, "run", "--config", config], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=e, preexec_fn=pre)
    lines = []
    threading.Thread(target=lambda: [lines.append(l.decode(errors="replace")) for l in p.stdout], daemon=True).start()
    return p, lines

def wait_ready(admin, limit=20):
    end = time.time() + limit
    while time.time() < end:
        try:
            urllib.request.urlopen(f"http://{admin}/healthz", timeout=1); return True
        except Exception: time.sleep(0.1)
    return False

def admin_call(admin, method, path, body=None):
    req = urllib.request.Request(f"http://{admin}{path}", method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {TOKEN}", "content-type": "application/json"})
    t = time.time()
    try:
        with urllib.request.urlopen(req, timeout=10) as r: return r.status, json.loads(r.read() or b"null"), time.time() - t
    except urllib.error.HTTPError as e: return e.code, json.loads(e.read() or b"null"), time.time() - t

def config(dirpath, legacy, extra=""):
    proxy, admin = free_port(), free_port()
    text = f"""listen: 127.0.0.1:{proxy}
admin: 127.0.0.1:{admin}
threads: 2
legacy: http://127.0.0.1:{legacy}
services: {{ billing: http://127.0.0.1:{legacy} }}
tenant:
  sources: [ {{ header: X-Tenant-Id }} ]
routes:
  - name: invoices
    match: {{ path: "/api/**" }}
    service: billing
    rollout: {{ percent: 50 }}
{extra}"""
    path = os.path.join(dirpath, "routes.yaml")
    open(path, "w").write(text)
    return path, f"127.0.0.1:{proxy}", f"127.0.0.1:{admin}"

def store_health(admin):
    req = urllib.request.Request(f"http://{admin}/admin/config", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=5) as r: return json.loads(r.read())["flag_store"]

def scenario_deleted(legacy):
    d = tempfile.mkdtemp()
    cfg, proxy, admin = config(d, legacy, f"store: sqlite://{d}/flags.db\n")
    p, lines = start(cfg); wait_ready(admin)
    admin_call(admin, "PUT", "/admin/routes/invoices/percent", {"percent": 34})
    os.rename(f"{d}/flags.db", f"{d}/moved.db")
    statuses, times = [], []
    for i in range(9):
        s, _, t = admin_call(admin, "PUT", "/admin/routes/invoices/percent", {"percent": 35 + i}); statuses.append(s); times.append(t)
    states = []
    for _ in range(10):
        states.append(store_health(admin)["state"]); time.sleep(0.2)
    created = os.path.exists(f"{d}/flags.db")
    p.terminate(); p.wait()
    state_lines = sum(1 for l in lines if "flag store" in l and ("degraded" in l or "connected" in l))
    os.rename(f"{d}/moved.db", f"{d}/flags.db")
    p2, _ = start(cfg); wait_ready(admin)
    s, routes, _ = admin_call(admin, "GET", "/admin/routes")
    percent = routes["routes"][0]["percent"]["value"]
    p2.terminate(); p2.wait()
    print(f"1 store file moved away: 9 changes answered {statuses.count(503)}x503 {statuses.count(200)}x200, slowest {max(times)*1000:.0f} ms; "
          f"states every 200 ms {states}; empty file created: {created}; store state log lines: {state_lines}; after restart percent {percent} (the last acknowledged was 34)")

def scenario_read_only(legacy):
    d = tempfile.mkdtemp()
    cfg, proxy, admin = config(d, legacy, f"store: sqlite://{d}/flags.db\n")
    p, _ = start(cfg); wait_ready(admin)
    subprocess.run(["chattr", "+i", f"{d}/flags.db"], check=True)
    statuses = [admin_call(admin, "PUT", "/admin/routes/invoices/percent", {"percent": 10 + i})[0] for i in range(7)]
    time.sleep(1.5); state = store_health(admin)["state"]
    subprocess.run(["chattr", "-i", f"{d}/flags.db"], check=True)
    t = time.time(); back = None
    while time.time() - t < 10:
        if store_health(admin)["state"] == "connected": back = time.time() - t; break
        time.sleep(0.1)
    after = [admin_call(admin, "PUT", "/admin/routes/invoices/percent", {"percent": 30 + i})[0] for i in range(5)]
    p.terminate(); p.wait()
    print(f"2 read-only store: 7 changes answered {statuses.count(503)}x503 {statuses.count(200)}x200; state {state!r}; "
          f"back to connected {back:.1f} s after chattr -i; then 5 changes {after.count(200)}x200")

def scenario_password(legacy):
    d = tempfile.mkdtemp(); port = free_port()
    cfg, proxy, admin = config(d, legacy, f"store: postgres://strangler:SECRETPW123@127.0.0.1:{port}/db\n")
    p, lines = start(cfg); wait_ready(admin, 30); time.sleep(3)
    p.terminate(); p.wait(); out = "".join(lines)
    print(f"3 PostgreSQL unreachable at start: {len(lines)} log lines, password printed {out.count('SECRETPW123')} times")

def open_silent(addr, n, send=b""):
    host, port = addr.split(":"); socks = []
    for _ in range(n):
        s = socket.create_connection((host, int(port))); 
        if send: s.sendall(send)
        socks.append(s)
    return socks

def still_open(socks):
    """Sockets the proxy has not closed: reads what is pending, then looks for EOF."""
    alive = 0
    for s in socks:
        s.setblocking(False)
        while True:
            try:
                data = s.recv(65536)
                if data == b"": break
            except BlockingIOError:
                alive += 1; break
            except OSError:
                break
    return alive

def scenario_slow_clients(legacy):
    d = tempfile.mkdtemp()
    cfg, proxy, admin = config(d, legacy, "limits: { client_timeout: 10s }\n")
    p, _ = start(cfg); wait_ready(admin)
    h2 = open_silent(proxy, 1, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    t = time.time(); h2_closed = None
    while time.time() - t < 20:
        if still_open(h2) == 0: h2_closed = time.time() - t; break
        time.sleep(0.25)
    h2_open = f"closed after {h2_closed:.1f} s" if h2_closed else "still open after 20 s"
    p.terminate(); p.wait()
    cfg, proxy, admin = config(d, legacy)
    p, _ = start(cfg); wait_ready(admin)
    slow = open_silent(proxy, 100, b"GET /api/x HTTP/1.1\r\nHost: a\r\n")
    silent = open_silent(proxy, 20)
    t = time.time(); time.sleep(32)
    print(f"4 slow clients: h2c preface then nothing, client_timeout 10s: {h2_open}; no limits: of 100 slowloris "
          f"{still_open(slow)} and of 20 silent {still_open(silent)} still open after 32 s (default head deadline 30 s)")
    p.terminate(); p.wait()

def scenario_descriptors(legacy):
    import resource
    d = tempfile.mkdtemp()
    cfg, proxy, admin = config(d, legacy)
    lim = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
    p, lines = start(cfg, pre=lim); wait_ready(admin)
    host, port = proxy.split(":"); socks = []; refused = 0
    for i in range(2000):
        try:
            s = socket.create_connection((host, int(port)), timeout=2)
            s.sendall(b"GET /home HTTP/1.1\r\nHost: a\r\n\r\n"); s.recv(4096); socks.append(s)
        except OSError: refused += 1
    t = time.time()
    try:
        with urllib.request.urlopen(f"http://{proxy}/home", timeout=5) as r: status = r.status
    except Exception as e: status = repr(e)
    took = time.time() - t
    print(f"5 descriptors (ulimit -n 1024): 2000 kept-alive connections opened ({refused} failed), {still_open(socks)} still open; "
          f"a fresh client got {status} in {took*1000:.0f} ms; warning logged: {any('open files' in l or 'descriptor' in l for l in lines)}")
    for s in socks: s.close()
    p.terminate(); p.wait()

def scenario_upload(legacy):
    d = tempfile.mkdtemp()
    cfg, proxy, admin = config(d, legacy, "timeouts: { total: 5s }\n")
    p, _ = start(cfg); wait_ready(admin)
    host, port = proxy.split(":"); s = socket.create_connection((host, int(port)))
    s.sendall(b"POST /api/upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100000000\r\n\r\n")
    t = time.time(); answer = b""
    s.settimeout(0.05)
    while time.time() - t < 30:
        try:
            s.sendall(b"x" * 512)
        except OSError: break
        try:
            chunk = s.recv(4096)
            if chunk == b"": break
            answer += chunk
            if b"\r\n\r\n" in answer: break
        except socket.timeout: pass
        except OSError: break
    cut = time.time() - t
    first = answer.split(b"\r\n")[0].decode(errors="replace") or "(connection closed)"
    print(f"6 slow upload at ~10 KB/s, total: 5s: cut after {cut:.1f} s, answer {first}")
    p.terminate(); p.wait()

def scenario_drain(legacy):
    d = tempfile.mkdtemp()
    cfg, proxy, admin = config(d, legacy, "shutdown_grace: 5s\n")
    p, _ = start(cfg); wait_ready(admin)
    host, port = proxy.split(":")
    s = socket.create_connection((host, int(port))); s.sendall(b"GET /home HTTP/1.1\r\nHost: a\r\n\r\n"); s.recv(4096)
    p.send_signal(signal.SIGTERM); time.sleep(0.3)
    results = []
    for path in ["/readyz", "/healthz"]:
        try:
            with urllib.request.urlopen(f"http://{admin}{path}", timeout=2) as r: results.append((path, r.status))
        except urllib.error.HTTPError as e: results.append((path, e.code))
        except Exception as e: results.append((path, type(e).__name__))
    p.wait(timeout=15)
    print(f"7 probes during a drain: {results}; exit code {p.returncode}")

DRILLS = ["deleted", "read_only", "password", "slow_clients", "descriptors", "upload", "drain"]

if __name__ == "__main__":
    legacy = backend()
    names = DRILLS if sys.argv[2:] == ["all"] else sys.argv[2:]
    for name in names:
        globals()[f"scenario_{name}"](legacy)
