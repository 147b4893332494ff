#!/usr/bin/env bash
# What the console's browser tests (tests/e2e/test_console_*.py) need: Debian's chromium and its
# chromedriver (apt-get; a browser is never downloaded by a test tool), a CJK font (without one the
# screenshots show boxes for every Chinese character), and axe-core from npm,
# installed exactly as package-lock.json pins it. Used by `make browser`, which `make test` runs.
set -eu

say() { printf '[browser] %s\n' "$*"; }

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] || ! fc-list :lang=zh 2>/dev/null | grep -q .; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    say "installing Debian's chromium, chromium-driver and a CJK font"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver \
      fonts-wqy-microhei fontconfig
  else
    say "the browser tests need: apt-get install chromium chromium-driver fonts-wqy-microhei"
    exit 1
  fi
fi

if [ ! -f node_modules/axe-core/axe.min.js ] || [ package-lock.json -nt node_modules/axe-core/axe.min.js ]; then
  command -v npm >/dev/null || { say "npm is needed for axe-core: apt-get install npm"; exit 1; }
  say "installing axe-core from package-lock.json"
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules/axe-core/axe.min.js
fi
say "chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}'), chromedriver and axe-core are ready"
