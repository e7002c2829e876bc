#!/usr/bin/env bash
# The system packages the tests need, installed with apt when missing (Debian/Ubuntu, as root):
# python3-torch + numpy (the PyTorch export's parity test), chromium (the report, web page and
# browser-latency tests drive it headless through puppeteer-core; npm's own browser download is not
# used) and redis-server (the distributed-search tests start one on a free loopback port).
set -euo pipefail
need=()
if ! /usr/bin/python3 -c 'import torch, numpy' 2>/dev/null && ! python3 -c 'import torch, numpy' 2>/dev/null; then
  need+=(python3-torch python3-numpy)
fi
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || need+=(chromium)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} (apt)" >&2
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}"
fi
