// Command benchreport turns `go test -bench` output (stdin) into one line per
// figure, "BENCH <name> <value> <unit>", and writes the same figures as JSON
// to the file given by -json. Benchmark output lines are echoed to stderr as
// they arrive. It exits non-zero when the input reports a failure or holds
// no benchmark.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Figure is one measured value.
type Figure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

// Report is what -json receives.
type Report struct {
	GeneratedAt time.Time `json:"generated_at"`
	Figures     []Figure  `json:"figures"`
}

var procSuffix = regexp.MustCompile(`-\d+$`)

func main() {
	jsonPath := flag.String("json", "bench/results.json", "where to write the figures as JSON")
	flag.Parse()
	var figs []Figure
	pkg, failed := "", false
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(os.Stderr, line)
		if strings.HasPrefix(line, "pkg: ") {
			pkg = filepath.Base(strings.TrimPrefix(line, "pkg: "))
		}
		if strings.HasPrefix(line, "FAIL") || strings.HasPrefix(line, "--- FAIL") || strings.HasPrefix(line, "panic:") {
			failed = true
		}
		// A figure line: "BENCH <name> <value> <unit>" printed by a benchmark helper.
		if strings.HasPrefix(line, "BENCH ") {
			f := strings.Fields(line)
			if len(f) == 4 {
				if v, err := strconv.ParseFloat(f[2], 64); err == nil {
					figs = append(figs, Figure{Name: f[1], Value: v, Unit: f[3]})
				}
			}
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		name := pkg + "/" + procSuffix.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), "")
		// f[1] is the iteration count; then value/unit pairs.
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			figs = append(figs, Figure{Name: name, Value: v, Unit: f[i+1]})
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
	// A benchmark that prints its own figures does so on each of its runs:
	// keep the last value of each name and unit.
	last := map[[2]string]int{}
	for i, f := range figs {
		last[[2]string{f.Name, f.Unit}] = i
	}
	kept := figs[:0]
	for i, f := range figs {
		if last[[2]string{f.Name, f.Unit}] == i {
			kept = append(kept, f)
		}
	}
	figs = kept
	for _, f := range figs {
		fmt.Printf("BENCH %s %s %s\n", f.Name, strconv.FormatFloat(f.Value, 'f', -1, 64), f.Unit)
	}
	if err := os.MkdirAll(filepath.Dir(*jsonPath), 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
	b, _ := json.MarshalIndent(Report{GeneratedAt: time.Now().UTC(), Figures: figs}, "", "  ")
	if err := os.WriteFile(*jsonPath, append(b, '\n'), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
	switch {
	case failed:
		fmt.Fprintln(os.Stderr, "benchreport: a benchmark failed")
		os.Exit(1)
	case len(figs) == 0:
		fmt.Fprintln(os.Stderr, "benchreport: no benchmark figures in the input")
		os.Exit(1)
	}
}
