#!/usr/bin/env bash
# Debian packages the test tiers need beyond the base image: chromium and ripgrep for the
# real-VS-Code tier (code-server driven by Playwright), and the headers code-server's native
# modules build against. Idempotent: when every package is installed it does nothing.
set -euo pipefail
packages=(chromium ripgrep libkrb5-dev libxkbfile-dev libsecret-1-dev libx11-dev pkg-config
  build-essential python3)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "debian-packages: all ${#packages[@]} present"
  exit 0
fi
echo "debian-packages: installing ${missing[*]}"
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
