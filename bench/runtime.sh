# bench/runtime.sh: the worker-runtime variants of bench/run.sh (issue #20), sourced by it.
#
# RUNTIME_VARIANTS="steal nosteal alttimer" measures, in the same rounds as bare-pingora and
# strangler (whose default is work stealing with THREADS >= 2 only, bare-pingora following
# the same rule), the same two proxies with another worker runtime:
#   NAME-steal     work stealing on: one multi-threaded tokio runtime (bare Pingora:
#                  ServerConf.work_stealing = true; strangler: `work_stealing: true`)
#   NAME-nosteal   work stealing off: Pingora's NoSteal runtime, one single-threaded tokio
#                  runtime per worker (bare Pingora: ServerConf.work_stealing = false;
#                  strangler: `work_stealing: false` in routes.yaml)
#   NAME-alttimer  tokio's alternative timer on the work-stealing runtime (bare Pingora:
#                  ServerConf.runtime_enable_alt_timer; strangler: `alt_timer: true`); both
#                  binaries built again with RUSTFLAGS="--cfg tokio_unstable" into
#                  $TARGET_DIR/tokio-unstable, since tokio has that timer only then
# The report then gives each variant against its default (`NAME-VARIANT / NAME`).

RUNTIME_VARIANTS=${RUNTIME_VARIANTS:-}

check_runtime_variants() {
  local v
  for v in $RUNTIME_VARIANTS; do
    case $v in
      steal | nosteal | alttimer) ;;
      *) log "unknown RUNTIME_VARIANTS entry: $v (steal nosteal alttimer)"; exit 2 ;;
    esac
  done
}

# The tokio_unstable build of both proxies, when alttimer is asked for.
build_runtime_variants() {
  [[ " $RUNTIME_VARIANTS " == *" alttimer "* ]] || return 0
  log "building $PROFILE binaries with --cfg tokio_unstable into $TARGET_DIR/tokio-unstable"
  (cd "$ROOT" && RUSTFLAGS="--cfg tokio_unstable" cargo build --profile "$PROFILE" \
    --target-dir "$TARGET_DIR/tokio-unstable" -p strangler -p bare-pingora >&2)
}

runtime_ports() {   # port...
  local v ports=("$@") i=0
  for v in $RUNTIME_VARIANTS; do
    PORT[bare-pingora-$v]=${ports[i]} PORT[strangler-$v]=${ports[i + 1]} PORT[admin-$v]=${ports[i + 2]}
    i=$((i + 3))
  done
}

write_runtime_configs() {
  local v
  for v in $RUNTIME_VARIANTS; do
    case $v in
      steal) write_routes "strangler-$v" "admin-$v" "routes-$v.yaml" --work-stealing true ;;
      nosteal) write_routes "strangler-$v" "admin-$v" "routes-$v.yaml" --work-stealing false ;;
      alttimer) write_routes "strangler-$v" "admin-$v" "routes-$v.yaml" --alt-timer true ;;
    esac
  done
}

# Starts each variant beside its default, when that one is wanted.
start_runtime_variants() {   # bin
  local v bin env
  for v in $RUNTIME_VARIANTS; do
    bin=$1 env=(WORK_STEALING=0)
    [[ $v == steal ]] && env=(WORK_STEALING=1)
    if [[ $v == alttimer ]]; then
      bin=$TARGET_DIR/tokio-unstable/$PROFILE env=(ALT_TIMER=1)
    fi
    if wanted bare-pingora; then
      spawn "bare-pingora-$v" env "${env[@]}" "$bin/bare-pingora" "127.0.0.1:${PORT[bare-pingora-$v]}" \
        "127.0.0.1:${PORT[backend]}" "$THREADS"
      ready "bare-pingora-$v" && TARGETS+=("bare-pingora-$v")
    fi
    if wanted strangler && [[ -e $TMP/strangler.ok ]]; then
      spawn "strangler-$v" "$bin/strangler" run --config "$TMP/routes-$v.yaml"
      ready "strangler-$v" && TARGETS+=("strangler-$v")
    fi
  done
  return 0
}
