// promql-metrics parses PromQL expressions with Prometheus' own parser (the defaults of a Prometheus server:
// no experimental functions) and reports, for each, the metric names its selectors read.
//
// Input on stdin: a stream of JSON strings, one expression each. Output: one JSON line per expression,
//
//	{"expr": "...", "metrics": ["name", ...], "unnamed": ["{job=\"x\"}", ...]}  or  {"expr": "...", "error": "..."}
//
// where "unnamed" lists selectors without a fixed metric name (no `name` or `__name__="..."`), which a check of
// "which metrics does this read" cannot resolve. Exit status 2 on unreadable input; parse errors are output.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

type report struct {
	Expr    string   `json:"expr"`
	Metrics []string `json:"metrics,omitempty"`
	Unnamed []string `json:"unnamed,omitempty"`
	Error   string   `json:"error,omitempty"`
}

func inspect(p parser.Parser, expr string) report {
	out := report{Expr: expr}
	tree, err := p.ParseExpr(expr)
	if err != nil {
		out.Error = err.Error()
		return out
	}
	parser.Inspect(tree, func(node parser.Node, _ []parser.Node) error {
		if selector, ok := node.(*parser.VectorSelector); ok {
			if name := fixedName(selector.LabelMatchers); name != "" {
				out.Metrics = append(out.Metrics, name)
			} else {
				out.Unnamed = append(out.Unnamed, selector.String())
			}
		}
		return nil
	})
	slices.Sort(out.Metrics)
	out.Metrics = slices.Compact(out.Metrics)
	return out
}

// fixedName is the metric name a selector is pinned to by an equality matcher on __name__, else "".
func fixedName(matchers []*labels.Matcher) string {
	for _, m := range matchers {
		if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
			return m.Value
		}
	}
	return ""
}

func run(in io.Reader, out io.Writer) error {
	p := parser.NewParser(parser.Options{})
	decoder := json.NewDecoder(in)
	encoder := json.NewEncoder(out)
	encoder.SetEscapeHTML(false)
	for {
		var expr string
		if err := decoder.Decode(&expr); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("stdin: expected a stream of JSON strings: %w", err)
		}
		if err := encoder.Encode(inspect(p, expr)); err != nil {
			return err
		}
	}
}

func main() {
	if len(os.Args) > 1 {
		fmt.Fprintln(os.Stderr, "usage: promql-metrics < expressions.json  (a stream of JSON strings)")
		os.Exit(2)
	}
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "promql-metrics:", err)
		os.Exit(2)
	}
}
