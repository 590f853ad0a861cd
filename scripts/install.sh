#!/usr/bin/env bash
# Installs meshplane from a built checkout (npm ci && npm run build) as a systemd service:
#
#   PREFIX/bin/meshplane          the CLI and agent, on the pinned Node runtime below
#   PREFIX/lib/node/bin/node      Node 24, copied from the checkout (no system Node needed)
#   PREFIX/lib/meshplane/         the built packages and their production dependencies
#   UNIT_DIR/meshplane.service    packaging/meshplane.service with these paths
#   ETC_DIR/config.json           written only when absent (keys: see README)
#   ETC_DIR/cluster.key           --cluster-key FILE, else a new key, only when absent
#   PREFIX/.install-manifest      what this script created, for --uninstall
#
# Running it again gives the same result (files are rewritten, config and key kept).
# --uninstall removes exactly what the manifest lists: the program files and the unit,
# the config and key only if they are still as this script wrote them (an edited config
# is kept, and said so), and the directories it created if they are empty. The agent's
# state (/var/lib/meshplane, made by systemd's StateDirectory=) is never touched: remove
# it by hand to forget this host's identity.
#
# Every path is settable, and --root DIR writes under DIR while the files name the
# paths without it (for packaging and tests).
set -euo pipefail

PREFIX=/opt/meshplane
ETC_DIR=/etc/meshplane
UNIT_DIR=/etc/systemd/system
ROOT=
CLUSTER_KEY=
UNINSTALL=0
JOIN=()

usage() {
  cat <<'USAGE'
Usage: scripts/install.sh [options]
  --prefix DIR        program files (default /opt/meshplane)
  --etc-dir DIR       config.json and cluster.key (default /etc/meshplane)
  --unit-dir DIR      where meshplane.service goes (default /etc/systemd/system)
  --root DIR          write everything under DIR (paths inside files stay without it)
  --cluster-key FILE  install this cluster key (every host of a cluster needs the same);
                      without it a new key is made, unless one is there already
  --join SEED         seed to write into a new config.json (repeatable), e.g. 10.0.0.1:7946
  --uninstall         remove what an earlier run installed with the same paths
  -h, --help          this text
USAGE
}

die() { echo "install.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX=${2:?--prefix needs a directory}; shift 2 ;;
    --etc-dir) ETC_DIR=${2:?--etc-dir needs a directory}; shift 2 ;;
    --unit-dir) UNIT_DIR=${2:?--unit-dir needs a directory}; shift 2 ;;
    --root) ROOT=${2:?--root needs a directory}; shift 2 ;;
    --cluster-key) CLUSTER_KEY=${2:?--cluster-key needs a file}; shift 2 ;;
    --join) JOIN+=("${2:?--join needs host:port}"); shift 2 ;;
    --uninstall) UNINSTALL=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
done

for p in "$PREFIX" "$ETC_DIR" "$UNIT_DIR"; do
  case "$p" in /*) ;; *) die "paths must be absolute: $p" ;; esac
  case "$p" in *[[:space:]]*) die "paths must not contain spaces: $p" ;; esac
done
PREFIX=${PREFIX%/}; ETC_DIR=${ETC_DIR%/}; UNIT_DIR=${UNIT_DIR%/}
ROOT=${ROOT%/}
[ -z "$ROOT" ] || [ -d "$ROOT" ] || die "--root $ROOT does not exist"
# ProtectHome=yes in the unit hides these from the service.
case "$PREFIX/" in /home/*|/root/*|/run/user/*) die "--prefix under /home, /root or /run/user cannot run under the unit's ProtectHome=yes" ;; esac

MANIFEST="$PREFIX/.install-manifest"
REPO=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)

# The manifest: one entry a line, "<kind> <path> [sha256]", paths without ROOT, in the
# order things were created. Kinds: dir (made by us; removed if empty), tree and file
# (ours; removed), kept (config or key we wrote; removed only if unchanged).
declare -a ENTRIES=()
have_entry() { local e; for e in "${ENTRIES[@]}"; do [ "${e%% *}" = "$1" ] && [ "$(cut -d' ' -f2 <<<"$e")" = "$2" ] && return 0; done; return 1; }
add_entry() { have_entry "$1" "$2" || ENTRIES+=("$*"); }
load_manifest() {
  ENTRIES=()
  [ -f "$ROOT$MANIFEST" ] || return 0
  local line
  while IFS= read -r line; do [ -n "$line" ] && ENTRIES+=("$line"); done < "$ROOT$MANIFEST"
}
sha() { sha256sum "$1" | cut -d' ' -f1; }

# mkdir -p that records every directory it had to create, outermost first.
ensure_dir() {
  local dir=$1 mode=${2:-0755} missing=() d
  d=$dir
  while [ -n "$d" ] && [ ! -d "$ROOT$d" ]; do missing=("$d" "${missing[@]}"); d=${d%/*}; done
  for d in "${missing[@]}"; do
    mkdir -m "$mode" "$ROOT$d"
    add_entry dir "$d"
  done
}

uninstall() {
  if [ ! -f "$ROOT$MANIFEST" ]; then
    echo "nothing to remove: no meshplane install at $ROOT$PREFIX"
    return 0
  fi
  if [ -z "$ROOT" ] && [ -d /run/systemd/system ] && systemctl is-active --quiet meshplane 2>/dev/null; then
    die "meshplane is running: systemctl disable --now meshplane first"
  fi
  load_manifest
  rm -f "$ROOT$MANIFEST"
  local i kind path hash
  for ((i = ${#ENTRIES[@]} - 1; i >= 0; i--)); do
    read -r kind path hash <<<"${ENTRIES[$i]}"
    case "$kind" in
      tree) case "$path" in "$PREFIX"/?*) rm -rf -- "$ROOT$path" ;; *) echo "install.sh: not removing $path: outside $PREFIX" >&2 ;; esac ;;
      file) rm -f "$ROOT$path" ;;
      kept)
        if [ -f "$ROOT$path" ] && [ "$(sha "$ROOT$path")" != "$hash" ]; then
          echo "kept $path: changed since it was installed"
        else
          rm -f "$ROOT$path"
        fi ;;
      dir) rmdir "$ROOT$path" 2>/dev/null || echo "kept $path: not empty" ;;
      *) echo "install.sh: skipping unknown manifest entry: ${ENTRIES[$i]}" >&2 ;;
    esac
  done
  echo "meshplane removed from $PREFIX (state in /var/lib/meshplane, if any, is left: remove it to forget this host)"
}

install() {
  local node_bin="$REPO/node_modules/.bin/node" cli="$REPO/packages/agent/dist/src/bin/meshplane.js"
  [ -f "$cli" ] && [ -x "$node_bin" ] || die "build the checkout first: npm ci && npm run build (in $REPO)"
  if [ -d "$ROOT$PREFIX" ] && [ ! -f "$ROOT$MANIFEST" ] && [ -n "$(ls -A "$ROOT$PREFIX")" ]; then
    die "$ROOT$PREFIX exists and is not a meshplane install: choose another --prefix"
  fi
  load_manifest

  ensure_dir "$PREFIX"
  ensure_dir "$PREFIX/bin"
  ensure_dir "$PREFIX/lib"

  # The program: built packages plus the production dependency tree, staged and then
  # swapped in, so a failed copy never leaves half an install behind.
  local stage="$ROOT$PREFIX/lib/.meshplane.new" dep
  rm -rf "$stage"
  mkdir -p "$stage/packages/agent" "$stage/packages/proto" "$stage/node_modules"
  cp "$REPO/package.json" "$REPO/README.md" "$stage/"
  for pkg in agent proto; do
    cp "$REPO/packages/$pkg/package.json" "$stage/packages/$pkg/"
    mkdir -p "$stage/packages/$pkg/dist"
    cp -a "$REPO/packages/$pkg/dist/src" "$stage/packages/$pkg/dist/"
  done
  # npm's own view of what production needs (no dev tools, no TypeScript); top-level
  # entries carry their nested node_modules with them. @meshplane/* are the workspace
  # links (../../packages/*), which resolve inside the stage too.
  (cd "$REPO" && PATH="$REPO/node_modules/node/bin:$PATH" npm ls --omit=dev --all --parseable 2>/dev/null) \
    | sed -n "s|^$REPO/node_modules/||p" | grep -v '/node_modules/' | sort -u \
    | while IFS= read -r dep; do
        (cd "$REPO/node_modules" && cp -a --parents "$dep" "$stage/node_modules/")
      done
  [ -f "$stage/node_modules/koffi/package.json" ] && [ -L "$stage/node_modules/@meshplane/agent" ] \
    || die "copying the dependencies failed (is node_modules complete? npm ci)"
  rm -rf "$ROOT$PREFIX/lib/meshplane"
  mv "$stage" "$ROOT$PREFIX/lib/meshplane"
  add_entry tree "$PREFIX/lib/meshplane"

  rm -rf "$ROOT$PREFIX/lib/node"
  mkdir -p "$ROOT$PREFIX/lib/node/bin"
  cp -L "$node_bin" "$ROOT$PREFIX/lib/node/bin/node"
  add_entry tree "$PREFIX/lib/node"

  cat > "$ROOT$PREFIX/bin/meshplane" <<EOF
#!/bin/sh
# Installed by meshplane's scripts/install.sh: the CLI on its pinned Node runtime.
exec $PREFIX/lib/node/bin/node $PREFIX/lib/meshplane/packages/agent/dist/src/bin/meshplane.js "\$@"
EOF
  chmod 0755 "$ROOT$PREFIX/bin/meshplane"
  add_entry file "$PREFIX/bin/meshplane"

  ensure_dir "$UNIT_DIR"
  sed -e "s|/opt/meshplane|$PREFIX|g" -e "s|/etc/meshplane|$ETC_DIR|g" "$REPO/packaging/meshplane.service" > "$ROOT$UNIT_DIR/meshplane.service"
  chmod 0644 "$ROOT$UNIT_DIR/meshplane.service"
  add_entry file "$UNIT_DIR/meshplane.service"

  ensure_dir "$ETC_DIR"
  local key="$ETC_DIR/cluster.key" config="$ETC_DIR/config.json"
  if [ -f "$ROOT$key" ]; then
    if [ -n "$CLUSTER_KEY" ] && ! cmp -s "$CLUSTER_KEY" "$ROOT$key"; then
      echo "kept $key: it differs from --cluster-key $CLUSTER_KEY (remove it first to replace it)"
    fi
  else
    (umask 077
     if [ -n "$CLUSTER_KEY" ]; then cp "$CLUSTER_KEY" "$ROOT$key"; else "$node_bin" "$cli" keygen > "$ROOT$key"; fi)
    chmod 0600 "$ROOT$key"
    add_entry kept "$key" "$(sha "$ROOT$key")"
  fi
  if [ ! -f "$ROOT$config" ]; then
    local join_json="" s
    for s in "${JOIN[@]}"; do join_json+="${join_json:+, }\"$s\""; done
    # data-dir and api-socket are the unit's StateDirectory= and RuntimeDirectory=.
    cat > "$ROOT$config" <<EOF
{
  "data-dir": "/var/lib/meshplane",
  "cluster-key-file": "$key",
  "api-socket": "/run/meshplane/meshplane.sock",
  "listen": "0.0.0.0:7946",
  "join": [$join_json],
  "log-level": "info"
}
EOF
    chmod 0644 "$ROOT$config"
    add_entry kept "$config" "$(sha "$ROOT$config")"
  fi

  printf '%s\n' "${ENTRIES[@]}" > "$ROOT$MANIFEST"
  chmod 0644 "$ROOT$MANIFEST"

  echo "meshplane installed in $PREFIX (config $config, unit $UNIT_DIR/meshplane.service)"
  echo "every host of a cluster needs the same $key: copy it, or install with --cluster-key FILE"
  echo "start it now and at every boot:"
  echo "  systemctl daemon-reload && systemctl enable --now meshplane"
}

if [ "$UNINSTALL" = 1 ]; then uninstall; else install; fi
