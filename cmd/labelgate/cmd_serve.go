package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/gateway"
	"github.com/labelgate/labelgate/internal/logging"
)

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "configuration file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, ok := loadConfig(configPath(*file), stderr)
	if !ok {
		return 2
	}
	logOut := stderr
	if f, ok := stderr.(*os.File); ok {
		logOut = f
	}
	log := logging.New(logOut, cfg.Log.Format, cfg.Log.Level, cfg.Secrets())
	// LABELGATE_CPUPROFILE profiles the whole run (the rescan benchmark's -cpuprofile).
	if p := os.Getenv("LABELGATE_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "labelgate: cpu profile: %v\n", err)
			return 1
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	gw, err := gateway.New(ctx, cfg, gateway.Options{Logger: log})
	if err != nil {
		fmt.Fprintf(stderr, "labelgate: %v\n", err)
		return 1
	}
	log.Info("labelgate started", "version", buildVersion(), "url", gw.PublicURL(), "store", storeKind(cfg.Store.URL))
	for _, w := range serveWarnings(cfg) {
		log.Warn(w)
	}
	if err := gw.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "labelgate: %v\n", err)
		return 1
	}
	return 0
}

// serveWarnings are the set-up gaps a new user hits first: a gateway with nothing to
// watch, and an admin API and console nobody can sign in to.
func serveWarnings(cfg config.Config) []string {
	var out []string
	if len(cfg.Connectors) == 0 {
		out = append(out, "no connectors configured: nothing will be watched or scanned; add entries under connectors: (see README, Connectors)")
	}
	if len(cfg.Admin.Tokens) == 0 {
		out = append(out, "no admin token configured: the admin API, console and CLI will refuse every call; set LABELGATE_ADMIN_TOKEN or admin.tokens")
	}
	return out
}
