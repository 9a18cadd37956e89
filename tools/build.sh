#!/usr/bin/env bash
# Builds the test world's binaries (etcd, kube-apiserver, kubectl, vcsim, govc, helm) from the Go
# module proxy, into a cache keyed by the pinned versions, and links <repo>/.tools to it.
# Usage: tools/build.sh            build if needed, print the bin dir
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
# shellcheck source=versions.env
source "$here/versions.env"

key=$(cat "$here/versions.env" "$here/kube/go.mod" "$here/kube/go.sum" "$here/build.sh" "$here"/patches/* | sha256sum | cut -c1-16)
cache_root=${HERDER_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/herder/tools}
dest="$cache_root/$key"
bin="$dest/bin"
tools=(etcd kube-apiserver kubectl vcsim govc helm)

have_all() { for t in "${tools[@]}"; do [ -x "$bin/$t" ] || return 1; done; }

if ! have_all; then
  command -v go >/dev/null || { echo "tools/build.sh: 'go' is not on PATH" >&2; exit 1; }
  mkdir -p "$bin"
  export GOBIN="$bin" GOFLAGS="${GOFLAGS:-} -trimpath" CGO_ENABLED=0
  step() { printf '[tools %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
  start=$(date +%s)
  step "cold build into $dest (this takes a while once per pin change)"
  step "downloading modules for Kubernetes $KUBERNETES_VERSION"
  (cd "$here/kube" && go mod download)
  for t in kube-apiserver kubectl; do
    [ -x "$bin/$t" ] && continue
    step "building $t $KUBERNETES_VERSION"
    (cd "$here/kube" && go build -o "$bin/$t.tmp" "k8s.io/kubernetes/cmd/$t" && mv "$bin/$t.tmp" "$bin/$t")
  done
  if [ ! -x "$bin/etcd" ]; then
    step "building etcd $ETCD_VERSION (the version Kubernetes $KUBERNETES_VERSION pins)"
    (cd "$here/kube" && go build -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3 && mv "$bin/etcd.tmp" "$bin/etcd")
  fi
  if [ ! -x "$bin/vcsim" ]; then
    step "building vcsim $GOVMOMI_VERSION with tools/patches/vcsim-*.patch"
    src=$(go mod download -json "github.com/vmware/govmomi@$GOVMOMI_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    work=$(mktemp -d)
    cp -r "$src/." "$work" && chmod -R u+w "$work"
    for p in "$here"/patches/vcsim-*.patch; do patch -s -d "$work" -p1 < "$p"; done
    (cd "$work" && go build -o "$bin/vcsim" ./vcsim)
    rm -rf "$work"
  fi
  if [ ! -x "$bin/govc" ]; then
    step "building govc $GOVMOMI_VERSION"
    go install "github.com/vmware/govmomi/govc@$GOVMOMI_VERSION"
  fi
  if [ ! -x "$bin/helm" ]; then
    step "building helm $HELM_VERSION"
    go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  fi
  step "done in $(( $(date +%s) - start ))s"
fi
ln -sfn "$dest" "$repo/.tools"
echo "$bin"
