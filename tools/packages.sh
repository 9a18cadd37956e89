#!/usr/bin/env bash
# Installs the Debian packages that the test world's node needs (herder dev up --node), when missing:
# runc (the OCI runtime that containerd's shim calls), the CNI plugins, and podman (writes image archives).
set -euo pipefail
needed=(runc containernetworking-plugins podman)
missing=()
for package in "${needed[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "tools/packages.sh: Debian packages ${missing[*]} are missing; install them as root" >&2
  exit 1
fi
echo "[packages] installing ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
