package cmdutil

import (
	"encoding/json"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"
)

// CheckOutput accepts table, json and yaml: the --output values of the
// listing commands.
func CheckOutput(o string) error {
	switch o {
	case "table", "json", "yaml":
		return nil
	}
	return UsageError(fmt.Errorf("--output %q: want table, json or yaml", o))
}

// Encode writes v as indented JSON, or as YAML with the same field names
// (the JSON ones).
func Encode(w io.Writer, format string, v any) error {
	if format != "yaml" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		return err
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(generic); err != nil {
		return err
	}
	return enc.Close()
}
