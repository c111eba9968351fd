#!/usr/bin/env bash
# Installs the Debian packages weft's tests and demo use, when missing.
# Idempotent and quiet when everything is present. Needs root to install;
# otherwise it lists what is missing and the tests that need it skip loudly.
set -euo pipefail

# command -> Debian package
declare -A PKGS=(
  [openssl]=openssl
  [curl]=curl
  [ip]=iproute2
  [iptables]=iptables
  [prometheus]=prometheus
  [chromium]=chromium
  [wrk]=wrk
  [h2load]=nghttp2-client
  [haproxy]=haproxy
  [containerd]=containerd    # test/e2e/run.mjs: the real node's runtime (brings runc)
  [nsenter]=util-linux       # test/e2e/run.mjs: kubelet and CNI plugins in the node netns
  [runc]=runc                # images/test: runs each image from an unpacked bundle
  [zsh]=zsh                  # cli/src/shell-manners.test.ts: zsh completion
  [fish]=fish                # cli/src/shell-manners.test.ts: fish completion
  [script]=bsdutils          # cli/src/shell-manners.test.ts: a real pty
)

missing=()
for cmd in "${!PKGS[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${PKGS[$cmd]}")
done

# files that are not commands -> Debian package
declare -A FILES=(
  [/usr/lib/cni/bridge]=containernetworking-plugins   # test/e2e/run.mjs: pod networking
)
for f in "${!FILES[@]}"; do
  [ -e "$f" ] || missing+=("${FILES[$f]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "weft: missing system packages (install as root): ${missing[*]}" >&2
  exit 0
fi
echo "weft: installing system packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
