#!/usr/bin/env bash
# Builds the test world's binaries from the Go module proxy into a cache, one entry per tool keyed by
# exactly the pins and patches that tool is made from, and links each into <repo>/.tools/bin. Changing
# one tool's pin rebuilds that tool only.
# Usage: tools/build.sh            build what is missing, print the bin dir
#        tools/build.sh NAME...    the same for the named tools only
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
# shellcheck source=versions.env
source "$here/versions.env"
unset MODULE PKG GO_TAGS GO_PKG  # the builders' parameters, set per tool below: none from the environment

cache_root=${HERDER_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/herder/tools}
links="$repo/.tools/bin"
[ -L "$repo/.tools" ] && rm "$repo/.tools"  # the single-hash layout linked the whole directory
mkdir -p "$links" "$cache_root"
export GOFLAGS="${GOFLAGS:-} -trimpath" CGO_ENABLED=0
step() { printf '[tools %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
key() { { printf '%s\n' "$@"; } | sha256sum | cut -c1-16; }
files_key() { cat "$@" | sha256sum | cut -c1-16; }

# ensure NAME KEY BUILDER: build NAME with `BUILDER <output path>` unless the cache has it under KEY.
wanted=("$@") known=()
ensure() {
  local name=$1 k=$2 builder=$3 out="$cache_root/$1-$2"
  known+=("$name")
  if [ ${#wanted[@]} -gt 0 ] && [[ " ${wanted[*]} " != *" $name "* ]]; then return; fi
  if [ ! -x "$out" ]; then
    local start; start=$(date +%s)
    step "building $name (cache key $k)"
    command -v go >/dev/null || { echo "tools/build.sh: 'go' is not on PATH" >&2; exit 1; }
    "$builder" "$out.tmp.$$"  # per process: two checkouts may build the same tool at once
    mv "$out.tmp.$$" "$out"
    step "built $name in $(( $(date +%s) - start ))s"
  fi
  ln -sfn "$out" "$links/$name"
}

# Tools modules: a directory under tools/ whose go.mod/go.sum pin one tool or several.
module_build() {  # $1: output; $MODULE: the directory under tools/, $PKG: the package, $GO_TAGS: build tags
  (cd "$here/$MODULE" && go mod download && go build ${GO_TAGS:+-tags "$GO_TAGS"} -o "$1" "$PKG")
}
module_key() {  # $1: the module directory; further arguments: more files the tool is built from
  local dir=$here/$1; shift
  files_key "$dir/go.mod" "$dir/go.sum" "$@"
}

# Kubernetes binaries and etcd: one tools module with a replace line per staging module (tools/kube). The
# node's kubelet, kube-controller-manager and kube-scheduler share most packages with kube-apiserver through
# Go's build cache.
kube_key=$(module_key kube)
for pair in kube-apiserver:k8s.io/kubernetes/cmd/kube-apiserver kubectl:k8s.io/kubernetes/cmd/kubectl \
            etcd:go.etcd.io/etcd/server/v3 kubelet:k8s.io/kubernetes/cmd/kubelet \
            kube-controller-manager:k8s.io/kubernetes/cmd/kube-controller-manager \
            kube-scheduler:k8s.io/kubernetes/cmd/kube-scheduler; do
  MODULE=kube PKG=${pair#*:} ensure "${pair%%:*}" "$kube_key" module_build
done

# The pod sandbox's pause process, compiled from the C source in the pinned Kubernetes module (no registry
# serves its image here); static, so the image needs nothing else.
pause_build() {
  local src
  src=$(cd "$here/kube" && go mod download -json k8s.io/kubernetes | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  command -v gcc >/dev/null || { echo "tools/build.sh: 'gcc' is not on PATH (needed for pause)" >&2; exit 1; }
  gcc -Os -static -Wall -DVERSION="herder-$KUBERNETES_VERSION" -o "$1" "$src/build/pause/linux/pause.c"
}
ensure pause "$(key "$KUBERNETES_VERSION")" pause_build

# promtool without the service discoveries it does not need for rule checks and tests (remove_all_sd keeps
# file and http); promql-metrics (tools/prometheus/main.go) on the same Prometheus release's PromQL parser.
MODULE=prometheus PKG=github.com/prometheus/prometheus/cmd/promtool GO_TAGS=remove_all_sd \
  ensure promtool "$(key "$(module_key prometheus)" remove_all_sd)" module_build
MODULE=prometheus PKG=. ensure promql-metrics "$(module_key prometheus "$here/prometheus/main.go")" module_build

# Health checks as GitOps tools compute them: kstatus (Flux, kpt) and Argo CD's Lua runtime.
MODULE=kstatus PKG=. ensure kstatus "$(module_key kstatus "$here/kstatus/main.go")" module_build
MODULE=argocd-health PKG=. ensure argocd-health "$(module_key argocd-health "$here/argocd-health/main.go")" module_build

# vcsim, patched where it differs from vCenter in a way herder's tests depend on (tools/patches).
vcsim_build() {
  local src work
  src=$(go mod download -json "github.com/vmware/govmomi@$GOVMOMI_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  work=$(mktemp -d)
  cp -r "$src/." "$work" && chmod -R u+w "$work"
  for p in "$here"/patches/vcsim-*.patch; do patch -s -d "$work" -p1 < "$p"; done
  (cd "$work" && go build -o "$1" ./vcsim)
  rm -rf "$work"
}
ensure vcsim "$(key "$GOVMOMI_VERSION" "$(files_key "$here"/patches/vcsim-*.patch)")" vcsim_build

# go install puts a module's command into GOBIN under its own name: build into a scratch GOBIN.
go_install() {  # $1: output, $GO_PKG: package@version
  local gobin; gobin=$(mktemp -d)
  GOBIN=$gobin go install "$GO_PKG"
  mv "$gobin"/* "$1" && rm -rf "$gobin"
}
GO_PKG="github.com/vmware/govmomi/govc@$GOVMOMI_VERSION" ensure govc "$(key "$GOVMOMI_VERSION")" go_install
GO_PKG="helm.sh/helm/v3/cmd/helm@$HELM_VERSION" ensure helm "$(key "$HELM_VERSION")" go_install
GO_PKG="github.com/zricethezav/gitleaks/v8@$GITLEAKS_VERSION" ensure gitleaks "$(key "$GITLEAKS_VERSION")" go_install

# The node's container runtime: containerd, its runc shim and ctr, which imports images (tools/containerd).
for cmd in containerd containerd-shim-runc-v2 ctr; do
  MODULE=containerd PKG="github.com/containerd/containerd/v2/cmd/$cmd" ensure "$cmd" "$(module_key containerd)" module_build
done

for name in "${wanted[@]}"; do
  [[ " ${known[*]} " == *" $name "* ]] || { echo "tools/build.sh: no tool named '$name' (${known[*]})" >&2; exit 2; }
done
echo "$links"
