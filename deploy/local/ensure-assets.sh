#!/usr/bin/env bash
# The console's browser assets: npm packages exactly as package-lock.json pins them (`npm ci`,
# never a CDN), then the diagram viewer bundled by esbuild (`npm run build`) into
# services/gateway/console/static/diagram.bundle.{js,css}. Does nothing when both are up to date.
# Used by `make assets`, which `make run`, `make serve` and `make browser` run.
set -eu

say() { printf '[assets] %s\n' "$*"; }
STAMP=node_modules/.installed-from-lock
BUNDLE=services/gateway/console/static/diagram.bundle.js

if [ ! -f "$STAMP" ] || [ package-lock.json -nt "$STAMP" ]; then
  if ! command -v npm >/dev/null; then
    say "npm is needed to build the console's diagram viewer: apt-get install npm (the console runs without it; its diagrams do not)"
    exit 1
  fi
  say "installing the console's npm packages from package-lock.json"
  npm ci --no-audit --no-fund --loglevel=error
  touch "$STAMP"
fi

if [ ! -f "$BUNDLE" ] || [ -n "$(find services/gateway/console/assets "$STAMP" -newer "$BUNDLE" -print -quit)" ]; then
  say "bundling the diagram viewer (bpmn-js)"
  npm run --silent build -- --log-level=warning
fi
say "the diagram viewer is built: $BUNDLE"
