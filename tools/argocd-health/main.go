// argocd-health runs an Argo CD resource health check (a Lua script) on Kubernetes objects the way Argo CD's
// application controller does, so the script can be tested without an Argo CD.
//
// Usage: argocd-health SCRIPT [FILE]    (objects on stdin without FILE, or with FILE "-")
//
// Input: JSON, one object, several concatenated, or a List (kubectl get -o json). Output: one JSON line per object,
// {"apiVersion","kind","namespace","name","status","message"}; when the script fails, also "error" (Argo CD then
// shows status Unknown with the error as message) and exit status 1. Bad arguments or input: exit status 2.
//
// As in Argo CD (util/lua and gitops-engine's health package): an object being deleted is Progressing, "Pending
// deletion", without running the script; otherwise the script runs in a fresh gopher-lua state with only the base,
// table and package libraries (argocd-cm's default for a health check, useOpenLibs false; Argo CD's restricted os
// module is not provided), with a one-second limit and the global `obj` holding the object (numbers as Lua
// numbers). Its last return value must be a table; a status outside Argo CD's health codes gives Unknown.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
)

const (
	timeout       = time.Second
	invalidStatus = "Lua returned an invalid health status"
)

// The health codes Argo CD accepts from a script.
var healthCodes = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true, "Missing": true, "Unknown": true,
}

// The libraries Argo CD opens for a health check from argocd-cm, in its order.
var libraries = []struct {
	name string
	open lua.LGFunction
}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}}

type report struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	Status     string `json:"status"`
	Message    string `json:"message,omitempty"`
	Error      string `json:"error,omitempty"`
}

// toLua converts a JSON value decoded with UseNumber into the Lua value Argo CD hands to scripts.
func toLua(state *lua.LState, value any) (lua.LValue, error) {
	switch v := value.(type) {
	case nil:
		return lua.LNil, nil
	case bool:
		return lua.LBool(v), nil
	case string:
		return lua.LString(v), nil
	case json.Number:
		f, err := v.Float64()
		return lua.LNumber(f), err
	case []any:
		table := state.CreateTable(len(v), 0)
		for _, item := range v {
			converted, err := toLua(state, item)
			if err != nil {
				return nil, err
			}
			table.Append(converted)
		}
		return table, nil
	case map[string]any:
		table := state.CreateTable(0, len(v))
		for key, item := range v {
			converted, err := toLua(state, item)
			if err != nil {
				return nil, err
			}
			table.RawSetString(key, converted)
		}
		return table, nil
	}
	return nil, fmt.Errorf("unexpected JSON value %T", value)
}

// evaluate runs the script on one object: the health status and message, or the error Argo CD would report.
func evaluate(script string, obj map[string]any) (string, string, error) {
	if meta, _ := obj["metadata"].(map[string]any); meta["deletionTimestamp"] != nil {
		return "Progressing", "Pending deletion", nil
	}
	state := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer state.Close()
	for _, lib := range libraries {
		if err := state.CallByParam(lua.P{Fn: state.NewFunction(lib.open), Protect: true}, lua.LString(lib.name)); err != nil {
			return "", "", fmt.Errorf("open the %q library: %w", lib.name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	state.SetContext(ctx)
	value, err := toLua(state, obj)
	if err != nil {
		return "", "", err
	}
	state.SetGlobal("obj", value)
	if err := state.DoString(script); err != nil {
		return "", "", err
	}
	result, ok := state.Get(-1).(*lua.LTable)
	if !ok {
		return "", "", fmt.Errorf("expect table output from Lua script, not %s", state.Get(-1).Type())
	}
	status, statusOK := stringField(result, "status")
	message, messageOK := stringField(result, "message")
	if !statusOK || !messageOK {
		return "", "", errors.New("the returned table's status and message must be strings")
	}
	if !healthCodes[status] {
		return "Unknown", invalidStatus, nil
	}
	return status, message, nil
}

// stringField reads an optional string field; false if it holds something else.
func stringField(table *lua.LTable, name string) (string, bool) {
	switch v := table.RawGetString(name).(type) {
	case *lua.LNilType:
		return "", true
	case lua.LString:
		return string(v), true
	}
	return "", false
}

// objects decodes a stream of JSON objects, expanding Lists into their items.
func objects(in io.Reader) ([]map[string]any, error) {
	decoder := json.NewDecoder(in)
	decoder.UseNumber()
	var found []map[string]any
	for index := 0; ; index++ {
		var obj map[string]any
		if err := decoder.Decode(&obj); errors.Is(err, io.EOF) {
			return found, nil
		} else if err != nil {
			return nil, fmt.Errorf("object %d: expected JSON objects: %w", index, err)
		}
		items, isList := obj["items"].([]any)
		if !isList {
			found = append(found, obj)
			continue
		}
		for i, item := range items {
			member, ok := item.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("object %d: items[%d] is not an object", index, i)
			}
			found = append(found, member)
		}
	}
}

func describe(obj map[string]any) report {
	meta, _ := obj["metadata"].(map[string]any)
	text := func(m map[string]any, key string) string { s, _ := m[key].(string); return s }
	return report{APIVersion: text(obj, "apiVersion"), Kind: text(obj, "kind"),
		Namespace: text(meta, "namespace"), Name: text(meta, "name")}
}

func readInput(args []string) ([]byte, []byte, error) {
	if len(args) < 1 || len(args) > 2 {
		return nil, nil, errors.New("usage: argocd-health SCRIPT [FILE]  (JSON objects or Lists; stdin without FILE)")
	}
	script, err := os.ReadFile(args[0])
	if err != nil {
		return nil, nil, err
	}
	var input []byte
	if len(args) == 1 || args[1] == "-" {
		input, err = io.ReadAll(os.Stdin)
	} else {
		input, err = os.ReadFile(args[1])
	}
	return script, input, err
}

func main() {
	script, input, err := readInput(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "argocd-health:", err)
		os.Exit(2)
	}
	objs, err := objects(bytes.NewReader(input))
	if err != nil {
		fmt.Fprintln(os.Stderr, "argocd-health:", err)
		os.Exit(2)
	}
	encoder := json.NewEncoder(os.Stdout)
	encoder.SetEscapeHTML(false)
	failed := false
	for _, obj := range objs {
		out := describe(obj)
		out.Status, out.Message, err = evaluate(string(script), obj)
		if err != nil {
			failed = true
			out.Status, out.Message, out.Error = "Unknown", err.Error(), err.Error()
			fmt.Fprintf(os.Stderr, "argocd-health: %s %s: %s\n", out.Kind, out.Name, err)
		}
		if err := encoder.Encode(out); err != nil {
			fmt.Fprintln(os.Stderr, "argocd-health:", err)
			os.Exit(2)
		}
	}
	if failed {
		os.Exit(1)
	}
}
