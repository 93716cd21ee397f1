package main

import (
	"flag"
	"fmt"
	"io"
)

func cmdConfigCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("config check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "configuration file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	path := configPath(*file)
	cfg, ok := loadConfig(path, stderr)
	if !ok {
		return 2
	}
	if path == "" {
		path = "(defaults)"
	}
	fmt.Fprintf(stdout, "%s: ok (%d connectors, store %s, webhooks on %s, admin API on %s)\n", path, len(cfg.Connectors),
		storeKind(cfg.Store.URL), cfg.Server.Listen, cfg.Admin.Listen)
	return 0
}

func storeKind(url string) string {
	if url == "" || len(url) >= 7 && url[:7] == "sqlite:" {
		return "sqlite"
	}
	return "postgres"
}
