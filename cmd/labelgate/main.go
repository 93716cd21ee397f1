// Command labelgate connects cloud storage to sensitivity labels: it discovers, reports and
// fixes the labels of Office and PDF files in SharePoint, OneDrive, Google Drive, Box and
// file shares.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/labeling"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `labelgate — sensitivity labels for cloud storage

Usage:
  labelgate serve [-config FILE]          run the gateway (webhooks, scanning, executor, admin API)
  labelgate demo [--files N] [--duration D] [--exit]   emulated Box/Drive/SharePoint/OneDrive tenant + console
  labelgate config check [-config FILE]   validate the configuration and print every problem
  labelgate inspect [-o json] FILE...     show the label of local Office/PDF files
  labelgate scan [-o json] [--workers N] [--apply-policies FILE [--execute]] PATH...
                                          one-shot label discovery over folders, no server needed
  labelgate version                       print the version
  labelgate policy apply -f FILE | export | list | enable ID | disable ID | delete ID | test ID
                                          file policies (YAML); test = what-if over the inventory
  labelgate quota [-o json]               daily label-write quota: used, remaining, paused, next reset
  labelgate queue stats | dead [list|requeue ID]   the scan queue and its dead letter
  labelgate alerts [list|ack ID|resolve ID]        the alert inbox

Admin commands (call the admin API: -server URL or $LABELGATE_SERVER, token in $LABELGATE_TOKEN;
tables for people, -o json for scripts):
  labelgate files [-app A] [-label L] [-no-label] [-external] [-protected] [-access X] [-owner O] [-path-prefix P] [-all]
  labelgate file FILE-ID                  one file with its label history
  labelgate label apply FILE-ID LABEL-ID  apply a label (executor: rules and quotas apply)
  labelgate label remove FILE-ID          remove a label
  labelgate actions [-state S] [cancel ID]
  labelgate rescan [-scope D] [-force] [-wait] CONNECTOR
  labelgate rescans [cancel ID]
  labelgate labels [sync]                 the label catalog
  labelgate events [-kind K] [-since T]   the discovery log (-o json: JSON lines)

The configuration file is -config, else $LABELGATE_CONFIG, else ./labelgate.yaml when present;
with none, defaults apply (SQLite under ./labelgate-data, listeners on loopback).
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches a command line; it returns the process exit code (2 for usage and
// configuration errors).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, stdout, stderr)
	case "demo":
		return cmdDemo(ctx, rest, stdout, stderr)
	case "config":
		if len(rest) == 0 || rest[0] != "check" {
			fmt.Fprintln(stderr, "usage: labelgate config check [-config FILE]")
			return 2
		}
		return cmdConfigCheck(rest[1:], stdout, stderr)
	case "policy":
		return withStore(ctx, stderr, func(_ config.Config, st *store.Store) int { return cmdPolicy(ctx, st, rest, stdout, stderr) })
	case "inspect":
		return cmdInspect(ctx, rest, stdout, stderr)
	case "scan":
		return cmdScan(ctx, rest, stdout, stderr)
	case "quota":
		return withStore(ctx, stderr, func(cfg config.Config, st *store.Store) int {
			return cmdQuota(ctx, st, labeling.QuotaConfig(cfg.Quota), rest, stdout, stderr)
		})
	case "alerts":
		return withStore(ctx, stderr, func(_ config.Config, st *store.Store) int { return cmdAlerts(ctx, st, rest, stdout, stderr) })
	case "queue":
		return withStore(ctx, stderr, func(_ config.Config, st *store.Store) int {
			q, err := openQueueOn(ctx, st)
			if err != nil {
				fmt.Fprintf(stderr, "labelgate: %v\n", err)
				return 1
			}
			return cmdQueue(ctx, q, rest, stdout, stderr)
		})
	case "files":
		return cmdFiles(ctx, rest, stdout, stderr)
	case "file":
		return cmdFile(ctx, rest, stdout, stderr)
	case "label":
		return cmdLabel(ctx, rest, stdout, stderr)
	case "actions":
		return cmdActions(ctx, rest, stdout, stderr)
	case "rescan":
		return cmdRescan(ctx, rest, stdout, stderr)
	case "rescans":
		return cmdRescans(ctx, rest, stdout, stderr)
	case "labels":
		return cmdLabels(ctx, rest, stdout, stderr)
	case "events":
		return cmdEvents(ctx, rest, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "labelgate", version)
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "labelgate: unknown command %q\n\n%s", cmd, usage)
	return 2
}

// configPath picks the configuration file: the flag, then $LABELGATE_CONFIG, then
// ./labelgate.yaml if it exists, else none.
func configPath(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if p := os.Getenv("LABELGATE_CONFIG"); p != "" {
		return p
	}
	if _, err := os.Stat("labelgate.yaml"); err == nil {
		return "labelgate.yaml"
	}
	return ""
}

// loadConfig loads and validates; on failure it prints one line per problem and returns false.
func loadConfig(path string, stderr io.Writer) (config.Config, bool) {
	cfg, err := config.Load(path)
	if err == nil {
		return cfg, true
	}
	var es config.Errors
	if errors.As(err, &es) {
		for _, e := range es {
			fmt.Fprintf(stderr, "labelgate: config %s\n", e.Error())
		}
		return cfg, false
	}
	fmt.Fprintf(stderr, "labelgate: %v\n", err)
	return cfg, false
}
