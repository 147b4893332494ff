#!/usr/bin/env bash
# What the console's browser tests (tests/e2e/test_console_*.py) need: Debian's chromium and its
# chromedriver (apt-get; a browser is never downloaded by a test tool), a CJK font (without one the
# screenshots show boxes for every Chinese character), and the console's npm packages (axe-core,
# the diagram viewer) installed exactly as package-lock.json pins them (deploy/local/ensure-assets.sh). Used by `make browser`, which `make test` runs.
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

bash deploy/local/ensure-assets.sh
say "chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}'), chromedriver and axe-core are ready"
