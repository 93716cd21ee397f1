package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/labelgate/labelgate/internal/demo"
)

// cmdDemo runs labelgate against an emulated Box, Google Drive, SharePoint and OneDrive
// tenant, so the whole pipeline can be seen without any cloud account.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "gateway data directory (default: a temporary directory, removed at the end)")
	files := fs.Int("files", 300, "files in the generated tenant")
	duration := fs.Duration("duration", 30*time.Second, "how long users keep changing files after the first rescan")
	listen := fs.String("listen", "127.0.0.1:0", "public (webhook) listener address")
	adminAddr := fs.String("admin", "127.0.0.1:0", "admin API and web console address")
	exit := fs.Bool("exit", false, "exit after the summary instead of serving the console until Ctrl-C")
	verbose := fs.Bool("v", false, "print the gateway's logs to stderr")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || *files <= 0 || *duration <= 0 {
		fmt.Fprintln(stderr, "usage: labelgate demo [--data DIR] [--files N] [--duration D] [--listen ADDR] [--admin ADDR] [--exit] [-v]")
		return 2
	}
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	_, err := demo.Run(ctx, demo.Config{Files: *files, Duration: *duration, DataDir: *data, Listen: *listen, Admin: *adminAddr,
		Exit: *exit, Out: stdout, Logger: log})
	if err != nil {
		fmt.Fprintf(stderr, "labelgate: demo: %v\n", err)
		return 1
	}
	return 0
}
