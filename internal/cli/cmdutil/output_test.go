package cmdutil

import (
	"bytes"
	"testing"
)

func TestEncode(t *testing.T) {
	v := struct {
		Name  string   `json:"name"`
		Rate  *float64 `json:"rate"`
		Items []int    `json:"items"`
	}{Name: "api", Items: []int{1, 2}}
	tests := []struct{ format, want string }{
		{"json", "{\n  \"name\": \"api\",\n  \"rate\": null,\n  \"items\": [\n    1,\n    2\n  ]\n}\n"},
		{"yaml", "items:\n  - 1\n  - 2\nname: api\nrate: null\n"},
	}
	for _, tc := range tests {
		var b bytes.Buffer
		if err := Encode(&b, tc.format, v); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want {
			t.Errorf("%s:\ngot  %q\nwant %q", tc.format, b.String(), tc.want)
		}
	}
	if err := CheckOutput("xml"); ExitCode(err) != ExitUsage {
		t.Errorf("CheckOutput(xml) = %v, want a usage error", err)
	}
}
