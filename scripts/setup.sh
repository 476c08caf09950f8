# Sourced by ./demo, ./test and .ci/run: makes a fresh machine able to build strangler and run
# every test, from Debian's packages. A machine without apt-get, or a user who is neither root
# nor allowed `sudo -n`, gets the exact command to run instead, and the script stops.

# Installs the Debian packages named, once, as root or through sudo.
install_packages() {
  local packages=("$@")
  ((${#packages[@]})) || return 0
  local run=()
  if [[ $(id -u) != 0 ]]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      run=(sudo)
    else
      echo "strangler: missing ${packages[*]}: run  sudo apt-get install -y ${packages[*]}  and try again" >&2
      exit 1
    fi
  fi
  if ! command -v apt-get >/dev/null; then
    echo "strangler: missing ${packages[*]}: install them with your package manager and try again" >&2
    exit 1
  fi
  echo "strangler: installing ${packages[*]} from Debian's packages" >&2
  "${run[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${run[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
}

# What the build needs besides the Rust toolchain: cmake and a C compiler (Pingora's
# compression library, SQLite).
build_prerequisites() {
  local missing=()
  command -v cmake >/dev/null || missing+=(cmake)
  command -v cc >/dev/null || missing+=(gcc)
  command -v c++ >/dev/null || missing+=(g++)
  install_packages "${missing[@]}"
}

# What the tests need besides the build: promtool, from Debian's `prometheus` package (there
# is no package of promtool alone), which checks a live /metrics page and the alerting rules
# of deploy/prometheus (tests/it/prometheus.rs); on a machine run by systemd the package also
# starts a Prometheus server on :9090 (`systemctl disable --now prometheus` stops it). And
# what the console's browser tests drive: Debian's Chromium and its chromedriver, with a
# font so screenshots have text (tests/it/console.rs).
test_tools() {
  local missing=()
  command -v promtool >/dev/null || missing+=(prometheus)
  [[ -x /usr/bin/chromium ]] || missing+=(chromium fonts-dejavu-core)
  [[ -x /usr/bin/chromedriver ]] || missing+=(chromium-driver)
  install_packages "${missing[@]}"
}

# A PostgreSQL server for the fleet store's tests, with a role and a database `strangler`;
# exports STRANGLER_TEST_POSTGRES_URL. A URL already set is used as it is.
start_postgres() {
  if [[ -n ${STRANGLER_TEST_POSTGRES_URL:-} ]]; then
    return 0
  fi
  command -v pg_lsclusters >/dev/null || install_packages postgresql
  if [[ $(id -u) != 0 ]]; then
    echo "strangler: the PostgreSQL tests need a server: run this as root, or set" >&2
    echo "  STRANGLER_TEST_POSTGRES_URL=postgres://USER:PASSWORD@HOST/DATABASE" >&2
    exit 1
  fi
  local version cluster
  read -r version cluster _ < <(pg_lsclusters --no-header | head -n 1)
  pg_ctlcluster "$version" "$cluster" start 2>/dev/null || true
  for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 && break; sleep 0.2; done
  su postgres -c "psql -qtc \"select 1 from pg_roles where rolname = 'strangler'\"" | grep -q 1 \
    || su postgres -c "psql -qc \"create user strangler with password 'strangler' superuser\""
  su postgres -c "psql -qtc \"select 1 from pg_database where datname = 'strangler'\"" | grep -q 1 \
    || su postgres -c "createdb -O strangler strangler"
  export STRANGLER_TEST_POSTGRES_URL=postgres://strangler:strangler@127.0.0.1/strangler
}
