# The TLS scenarios of bench/run.sh, sourced by it: the certificate, the TLS parts of each
# target's configuration, the targets that measure TLS and what each side negotiated.
#
# SCENARIO=tls: every proxy also listens with TLS (one ECDSA P-256 certificate for all) and
# is measured three ways in the same rounds: NAME (cleartext, kept alive), NAME-tls (TLS,
# kept alive), NAME-handshake (TLS, `Connection: close`: a new TLS connection for every
# request, which wrk resumes from the one before) and NAME-full-handshake (the same with
# bench/wrk-full-handshake.c preloaded into wrk: no resumption, a whole handshake each time).
# The variants are the same process as NAME, on its TLS port.
# SCENARIO=https-upstream: the backend also serves TLS; NAME-upstream-tls is a proxy that
# reaches it at https:// (kept alive), measured beside NAME, which reaches it in cleartext.

TLS_NAME=bench.strangler.test   # the certificate's DNS name (it also has IP 127.0.0.1)

tls_scenario() { [[ $SCENARIO == tls || $SCENARIO == https-upstream ]]; }

# One self-signed ECDSA P-256 certificate, with SANs for the name and 127.0.0.1, CA:FALSE
# so rustls accepts it as the upstream's trusted certificate and as its leaf at once.
make_cert() {
  mkdir -p "$TMP/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout "$TMP/tls/key.pem" -out "$TMP/tls/cert.pem" -subj "/CN=$TLS_NAME" \
    -addext "subjectAltName=DNS:$TLS_NAME,IP:127.0.0.1" \
    -addext "basicConstraints=critical,CA:FALSE" -addext "keyUsage=critical,digitalSignature" \
    -addext "extendedKeyUsage=serverAuth" 2>"$TMP/tls/openssl.log"
  cat "$TMP/tls/cert.pem" "$TMP/tls/key.pem" >"$TMP/tls/haproxy.pem"
  [[ $SCENARIO == tls ]] || return 0
  cc -shared -fPIC -O2 -o "$TMP/tls/wrk-full-handshake.so" "$BENCH_DIR/wrk-full-handshake.c" -ldl ||
    log "no C compiler: the NAME-full-handshake targets are skipped"
}

# The TLS targets' ports, from the nine free ones given; makes the certificate.
tls_ports() {   # port...
  tls_scenario || return 0
  read -r PORT[nginx-tls] PORT[haproxy-tls] PORT[bare-pingora-tls] PORT[strangler-tls] \
    PORT[backend-tls] PORT[nginx-upstream-tls] PORT[bare-pingora-upstream-tls] \
    PORT[strangler-upstream-tls] PORT[admin-upstream-tls] <<<"$*"
  make_cert
}

# nginx directives of a TLS listener on PORT[$1], the same settings as the Pingora targets:
# TLS 1.2 and 1.3, ALPN h2 and http/1.1, nginx's default session tickets.
nginx_tls_listen() {   # port-key
  cat <<EOF
    listen 127.0.0.1:${PORT[$1]} ssl http2 backlog=4096;
    ssl_certificate $TMP/tls/cert.pem;
    ssl_certificate_key $TMP/tls/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
EOF
}

# The backend's TLS server (https-upstream): the same locations, and one log line for the
# first request of each connection, so the report can say how many TLS connections the
# proxies opened and what they negotiated, without a log line per request.
backend_tls_server() {   # locations
  [[ $SCENARIO == https-upstream ]] || return 0
  cat <<EOF
  log_format first_request '\$ssl_protocol \$ssl_cipher \$ssl_curve \$ssl_session_reused';
  map \$connection_requests \$first_request { 1 1; default 0; }
  server {
$(nginx_tls_listen backend-tls)
    access_log $TMP/backend-tls.log first_request if=\$first_request;
$1
  }
EOF
}

# nginx's own https:// upstream (https-upstream), verified like strangler's, sessions reused.
nginx_upstream_tls_server() {
  [[ $SCENARIO == https-upstream ]] || return 0
  cat <<EOF
  upstream backend_tls {
    server 127.0.0.1:${PORT[backend-tls]};
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${PORT[nginx-upstream-tls]} backlog=4096;
    location / {
      proxy_pass https://backend_tls;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_max_temp_file_size 0;
      proxy_ssl_trusted_certificate $TMP/tls/cert.pem;
      proxy_ssl_protocols TLSv1.2 TLSv1.3;
      proxy_ssl_verify on;
      proxy_ssl_name $TLS_NAME;
      proxy_ssl_server_name on;
      proxy_ssl_session_reuse on;
    }
  }
EOF
}

haproxy_tls_bind() {
  [[ $SCENARIO == tls ]] || return 0
  echo "  bind 127.0.0.1:${PORT[haproxy-tls]} ssl crt $TMP/tls/haproxy.pem alpn h2,http/1.1 ssl-min-ver TLSv1.2"
}

# gen_routes.py flags of strangler's routes.yaml: its TLS listener (tls).
strangler_tls_flags() {
  [[ $SCENARIO == tls ]] || return 0
  echo --tls-port "${PORT[strangler-tls]}" --cert "$TMP/tls/cert.pem" --key "$TMP/tls/key.pem"
}

write_tls_configs() {
  [[ $SCENARIO == https-upstream ]] || return 0
  python3 "$BENCH_DIR/gen_routes.py" "$SCENARIO" "${PORT[strangler-upstream-tls]}" \
    "${PORT[admin-upstream-tls]}" "${PORT[backend-tls]}" "$REQ_PATH" "$THREADS" \
    --store "sqlite://$TMP/strangler-upstream-tls.db" \
    --upstream-ca "$TMP/tls/cert.pem" --upstream-sni "$TLS_NAME" >"$TMP/routes-upstream-tls.yaml"
}

# bare-pingora's environment: its TLS listener (tls).
bare_tls_env() {
  [[ $SCENARIO == tls ]] || return 0
  echo TLS_LISTEN="127.0.0.1:${PORT[bare-pingora-tls]}" TLS_CERT="$TMP/tls/cert.pem" TLS_KEY="$TMP/tls/key.pem"
}

# The https-upstream targets: nginx's second server (the nginx process), and a second bare
# Pingora and strangler whose upstream is the backend's TLS port.
start_upstream_tls() {   # bin
  [[ $SCENARIO == https-upstream ]] || return 0
  if wanted nginx-upstream-tls && [[ " ${TARGETS[*]} " == *" nginx "* ]]; then
    PID_OF[nginx-upstream-tls]=${PID_OF[nginx]}
    ready_alias nginx-upstream-tls && TARGETS+=(nginx-upstream-tls)
  fi
  start_target bare-pingora-upstream-tls env UPSTREAM_SNI="$TLS_NAME" UPSTREAM_CA="$TMP/tls/cert.pem" \
    "$1/bare-pingora" "127.0.0.1:${PORT[bare-pingora-upstream-tls]}" "127.0.0.1:${PORT[backend-tls]}" "$THREADS"
  [[ ! -e $TMP/strangler.ok ]] ||
    start_target strangler-upstream-tls "$1/strangler" run --config "$TMP/routes-upstream-tls.yaml"
}

# SCENARIO=tls: each proxy that started is also measured on its TLS port, kept alive and
# with a new connection per request, right after its cleartext run in every round.
add_tls_variants() {
  [[ $SCENARIO == tls ]] || return 0
  local name all=()
  for name in "${TARGETS[@]}"; do
    all+=("$name")
    [[ -n ${PORT[$name-tls]:-} ]] || continue   # direct, strangler-b: cleartext only
    PID_OF[$name-tls]=${PID_OF[$name]} PID_OF[$name-handshake]=${PID_OF[$name]}
    PORT[$name-handshake]=${PORT[$name-tls]}
    ready_alias "$name-tls" || continue
    all+=("$name-tls" "$name-handshake")
    [[ -e $TMP/tls/wrk-full-handshake.so ]] || continue
    PID_OF[$name-full-handshake]=${PID_OF[$name]} PORT[$name-full-handshake]=${PORT[$name-tls]}
    all+=("$name-full-handshake")
  done
  TARGETS=("${all[@]}")
}

# Whether a target that shares a started process answers on its own port (bounded, 5 s).
ready_alias() {   # name
  local i
  for i in $(seq 50); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 --cacert "$TMP/tls/cert.pem" \
      -H "X-Tenant-Id: $TENANT" "$(target_url "$1")") == 200 ]] && return 0
    sleep 0.1
  done
  log "$1: SKIPPED, no 200 on $(target_url "$1") within 5 s"
  return 1
}

target_url() {   # name
  local scheme=http
  [[ $1 == *-tls && $1 != *-upstream-tls || $1 == *-handshake ]] && scheme=https
  echo "$scheme://127.0.0.1:${PORT[$1]}$REQ_PATH"
}

# What a client like wrk (OpenSSL, no ALPN) negotiates with each TLS target, and whether
# it resumes the session of its previous connection, as wrk does when it reconnects. Each
# probe sends one request and reads to the end, so TLS 1.3 session tickets are received.
tls_negotiated() {
  local name out
  [[ $SCENARIO == tls ]] || return 0
  for name in "${TARGETS[@]}"; do
    [[ $name == *-tls ]] || continue
    out=$(tls_probe "$name" -sess_out -brief | sed -n 's/^Protocol version: //p; s/^Ciphersuite: //p;
      s/^Server Temp Key: //p' | paste -sd, - | sed 's/, */, /g')
    tls_probe "$name" -sess_in | grep -q '^Reused' && out+=", resumes" || out+=", does not resume"
    echo "  - ${name%-tls}: $out"
  done
}

tls_probe() {   # name -sess_out|-sess_in [s_client flags...]
  printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$REQ_PATH" |
    timeout 5 openssl s_client -connect "127.0.0.1:${PORT[$1]}" -servername 127.0.0.1 \
      -ign_eof "$2" "$TMP/tls/$1.sess" "${@:3}" 2>&1
}

# The number of TLS connections the backend has accepted so far (https-upstream), saved
# before the measured rounds so the report can tell the rounds' new connections apart.
mark_upstream_connections() {
  [[ $SCENARIO == https-upstream ]] || return 0
  cat "$TMP/backend-tls.log" 2>/dev/null | wc -l >"$TMP/backend-tls.before"
}

# What the proxies negotiated with the backend's TLS port, one log line per connection.
upstream_negotiated() {
  [[ -s $TMP/backend-tls.log ]] || return 0
  local before
  before=$(cat "$TMP/backend-tls.before" 2>/dev/null || echo 0)
  echo "- TLS connections the backend accepted from the proxies (protocol, cipher, group, r = resumed session):"
  echo "  - at start and warm-up: $(head -n "$before" "$TMP/backend-tls.log" | sort | uniq -c | paste -sd';' | sed 's/  */ /g')"
  echo "  - during the measured rounds: $(tail -n +"$((before + 1))" "$TMP/backend-tls.log" | sort | uniq -c | paste -sd';' | sed 's/  */ /g')"
}

# The results file's header lines of the TLS scenarios.
tls_describe() {
  tls_scenario || return 0
  echo "- certificate: one self-signed ECDSA P-256 ($(openssl x509 -in "$TMP/tls/cert.pem" -noout -text |
    grep -m1 'Signature Algorithm' | sed 's/.*: //')), SANs $TLS_NAME and 127.0.0.1, served by every TLS target"
  if [[ $SCENARIO == tls ]]; then
    echo "- NAME-tls: wrk over TLS (OpenSSL $(openssl version | awk '{print $2}'), no ALPN, so HTTP/1.1), kept alive; NAME-handshake: the same with \`Connection: close\`, every request a new TLS connection, which wrk resumes from the connection before (a TLS 1.3 PSK handshake with an X25519 exchange, no certificate signature); NAME-full-handshake: the same, with bench/wrk-full-handshake.c preloaded into wrk so that no session is offered (a whole handshake with the ECDSA signature)"
    echo "- what a client like wrk negotiates with each target (openssl s_client):"
    cat "$TMP/tls-negotiated.txt"
  else
    echo "- NAME-upstream-tls: the same proxy configuration as NAME, but its upstream is the backend's TLS port (\`https://\`, verified against the certificate, server name $TLS_NAME), kept alive"
    upstream_negotiated
  fi
}
