package democmd

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
)

func TestNewCmdDemoFlags(t *testing.T) {
	var out bytes.Buffer
	f := &cmdutil.Factory{IO: cmdutil.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &out}, Getenv: func(string) string { return "" }}
	tests := []struct {
		name string
		args []string
		want Options
	}{
		{"defaults", nil, Options{Addr: "127.0.0.1:8080", Seed: 1, LiveInterval: 5 * time.Second, StageInterval: 2 * time.Second}},
		{"all", []string{"--addr", "127.0.0.1:0", "--seed", "42", "--dir", "/tmp/x", "--live-interval", "1s", "--stage-interval", "500ms"},
			Options{Addr: "127.0.0.1:0", Seed: 42, Dir: "/tmp/x", LiveInterval: time.Second, StageInterval: 500 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *Options
			cmd := NewCmdDemo(f, func(_ context.Context, o *Options) error { got = o; return nil })
			cmd.PersistentFlags().String("config.file", "", "")
			cmd.SetArgs(append([]string{}, tt.args...)) // nil would make cobra read os.Args
			if err := cmd.Execute(); err != nil {
				t.Fatalf("Execute: %v", err)
			}
			if got == nil {
				t.Fatal("run function not called")
			}
			g := *got
			g.Factory, g.LogLevel, g.LogFormat = nil, "", ""
			if g != tt.want {
				t.Errorf("options: got %+v, want %+v", g, tt.want)
			}
		})
	}
}

func TestNewCmdDemoHelp(t *testing.T) {
	var out bytes.Buffer
	f := &cmdutil.Factory{IO: cmdutil.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &out}}
	cmd := NewCmdDemo(f, func(context.Context, *Options) error { t.Error("run called for --help"); return nil })
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--help"})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("Execute: %v", err)
	}
	for _, flag := range []string{"--addr", "--seed", "--dir", "--live-interval", "--stage-interval"} {
		if !strings.Contains(out.String(), flag) {
			t.Errorf("--help: %q missing from:\n%s", flag, out.String())
		}
	}
}
