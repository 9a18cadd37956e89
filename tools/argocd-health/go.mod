// Go tools module: argocd-health (main.go), a runner for Argo CD's Lua health checks on the gopher-lua
// release Argo CD v3.6 uses.
module herder.dev/tools/argocd-health

go 1.24.0

require github.com/yuin/gopher-lua v1.1.2
