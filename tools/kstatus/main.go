// kstatus prints the kstatus result (sigs.k8s.io/cli-utils/pkg/kstatus/status.Compute) of Kubernetes objects:
// what Flux, kpt and cli-utils' apply --status conclude from an object's status alone.
//
// Usage: kstatus [FILE]    (stdin without FILE, or with FILE "-")
//
// Input: JSON or YAML, one object, several (a YAML stream or concatenated JSON) or a List (kubectl get -o json).
// Output: one JSON line per object, {"apiVersion","kind","namespace","name","status","message"}, where status is
// InProgress, Current, Failed, Terminating or Unknown; or with "error" when kstatus could not read the object
// (exit status 1). Unreadable input: exit status 2.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type report struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	Status     string `json:"status,omitempty"`
	Message    string `json:"message,omitempty"`
	Error      string `json:"error,omitempty"`
}

// objects decodes every document of the input, expanding Lists into their items.
func objects(in io.Reader) ([]*unstructured.Unstructured, error) {
	decoder := utilyaml.NewYAMLOrJSONDecoder(in, 4096)
	var found []*unstructured.Unstructured
	for index := 0; ; index++ {
		var doc json.RawMessage
		if err := decoder.Decode(&doc); errors.Is(err, io.EOF) {
			return found, nil
		} else if err != nil {
			return nil, fmt.Errorf("document %d: %w", index, err)
		}
		if len(doc) == 0 || string(doc) == "null" {
			continue // an empty YAML document
		}
		var obj unstructured.Unstructured
		if err := obj.UnmarshalJSON(doc); err != nil {
			return nil, fmt.Errorf("document %d: %w", index, err)
		}
		if !obj.IsList() {
			found = append(found, &obj)
			continue
		}
		var list unstructured.UnstructuredList
		if err := list.UnmarshalJSON(doc); err != nil {
			return nil, fmt.Errorf("document %d (%s): %w", index, obj.GetKind(), err)
		}
		for i := range list.Items {
			found = append(found, &list.Items[i])
		}
	}
}

func compute(obj *unstructured.Unstructured) report {
	out := report{APIVersion: obj.GetAPIVersion(), Kind: obj.GetKind(), Namespace: obj.GetNamespace(), Name: obj.GetName()}
	result, err := status.Compute(obj)
	if err != nil {
		out.Error = err.Error()
		return out
	}
	out.Status, out.Message = result.Status.String(), result.Message
	return out
}

func input(args []string) (io.ReadCloser, error) {
	switch {
	case len(args) == 0 || (len(args) == 1 && args[0] == "-"):
		return io.NopCloser(os.Stdin), nil
	case len(args) == 1 && !strings.HasPrefix(args[0], "-"):
		return os.Open(args[0])
	}
	return nil, errors.New("usage: kstatus [FILE]  (JSON or YAML objects or Lists; stdin without FILE)")
}

func main() {
	in, err := input(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "kstatus:", err)
		os.Exit(2)
	}
	objs, err := objects(in)
	_ = in.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kstatus:", err)
		os.Exit(2)
	}
	encoder := json.NewEncoder(os.Stdout)
	encoder.SetEscapeHTML(false)
	failed := false
	for _, obj := range objs {
		out := compute(obj)
		if out.Error != "" {
			failed = true
			fmt.Fprintf(os.Stderr, "kstatus: %s %s: %s\n", out.Kind, out.Name, out.Error)
		}
		if err := encoder.Encode(out); err != nil {
			fmt.Fprintln(os.Stderr, "kstatus:", err)
			os.Exit(2)
		}
	}
	if failed {
		os.Exit(1)
	}
}
