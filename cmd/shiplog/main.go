// Command shiplog records and measures the GitOps delivery flow.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/shiplog-dev/shiplog/internal/cli/root"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := root.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
