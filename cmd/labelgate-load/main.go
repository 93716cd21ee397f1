// Command labelgate-load fires signed Box webhook notifications at a webhook endpoint and
// reports acknowledgement latency and throughput, optionally side by side with a bare
// net/http handler so the cost of labelgate's ingress can be read off directly.
//
//	labelgate-load -rate 5000 -duration 10s -conns 64 -bare
//
// With no -url the real ingress (webhooks.New, the Box receiver, a SQLite store as sink and
// dedup) is started in-process on loopback and measured.
//
// The rescan benchmark (issue 21) starts the Graph, Drive and Box emulators, runs the real
// `labelgate serve` as a child against them and times its first full rescan:
//
//	labelgate-load rescan -files 100000 [-store sqlite|postgres] [-apps all|sharepoint,box,…] [-json] [-again]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"time"

	"github.com/labelgate/labelgate/internal/store"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "rescan" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		code := rescanMain(ctx, os.Args[2:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	var cfg Config
	fs := flag.NewFlagSet("labelgate-load", flag.ExitOnError)
	fs.StringVar(&cfg.URL, "url", "", "webhook endpoint (e.g. http://127.0.0.1:8443/webhooks/box); empty = in-process labelgate ingress")
	fs.StringVar(&cfg.Key, "key", "", "Box primary signature key (default: the in-process ingress's key)")
	fs.StringVar(&cfg.Webhook, "webhook", DefaultWebhook, "Box webhook id in the bodies")
	fs.Float64Var(&cfg.Rate, "rate", 1000, "notifications per second")
	fs.DurationVar(&cfg.Duration, "duration", 5*time.Second, "how long to send")
	fs.IntVar(&cfg.Conns, "conns", 16, "concurrent connections")
	bare := fs.Bool("bare", false, "also measure a bare 202 handler in-process and print both")
	unbatched := fs.Bool("unbatched", false, "in-process ingress records each notice in two transactions instead of by group commit")
	linger := fs.Duration("linger", store.DefaultLinger, "in-process ingress: how long a busy group commit waits for more notices")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run (sender and in-process targets) to this file")
	_ = fs.Parse(os.Args[1:])
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "labelgate-load:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := runMain(ctx, os.Stdout, cfg, *bare, IngressConfig{Unbatched: *unbatched, Linger: *linger}); err != nil {
		fmt.Fprintln(os.Stderr, "labelgate-load:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// runMain measures the configured target (and the bare handler with bare) and prints the
// reports, one key=value line per target, then, for the in-process ingress, a check that
// every acknowledged notification is in the store.
func runMain(ctx context.Context, out io.Writer, cfg Config, bare bool, icfg IngressConfig) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	target := "remote"
	var in *Ingress
	if cfg.URL == "" {
		icfg.Logger = log
		var err error
		in, err = StartIngress(ctx, icfg)
		if err != nil {
			return err
		}
		defer in.Close()
		cfg.URL, target = in.URL, "labelgate"
		if cfg.Key == "" {
			cfg.Key = in.Key
		}
	}
	if cfg.Key == "" {
		return fmt.Errorf("-key is required with -url")
	}
	rep, err := Run(ctx, cfg)
	if err != nil {
		return err
	}
	rep.Target = target
	fmt.Fprintln(out, rep)
	durable := ""
	if in != nil {
		// An ack promises the notice is recorded: every acknowledged delivery must be in the
		// store, and its drive marked for the change-feed read.
		n, err := in.Store.CountDeliveries(ctx)
		if err != nil {
			return err
		}
		ds, err := in.Store.ChangedDrives(ctx, 10)
		if err != nil {
			return err
		}
		if n < int64(rep.OK) || (rep.OK > 0 && len(ds) == 0) {
			return fmt.Errorf("%d notifications acknowledged but %d recorded and %d drives marked", rep.OK, n, len(ds))
		}
		durable = fmt.Sprintf("durable acked=%d recorded=%d drives_marked=%d", rep.OK, n, len(ds))
	}
	defer func() {
		if durable != "" {
			fmt.Fprintln(out, durable)
		}
	}()
	if !bare {
		return nil
	}
	b, err := StartBare()
	if err != nil {
		return err
	}
	defer b.Close()
	bcfg := cfg
	bcfg.URL = b.URL
	brep, err := Run(ctx, bcfg)
	if err != nil {
		return err
	}
	brep.Target = "bare"
	fmt.Fprintln(out, brep)
	if brep.Throughput > 0 {
		fmt.Fprintf(out, "ratio throughput=%.3f p50=%.2f p99=%.2f\n", rep.Throughput/brep.Throughput,
			ratio(rep.P50, brep.P50), ratio(rep.P99, brep.P99))
	}
	return nil
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
