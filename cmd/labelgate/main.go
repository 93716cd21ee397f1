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
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/labeling"
)

// version may be set at build time with -ldflags "-X main.version=…"; otherwise
// buildVersion reads the module version and VCS revision Go records in the binary.
var version = ""

// buildVersion is the version to print: the -ldflags value, else the main module's version
// (a tag for `go install …@v1.2.3`, "(devel)" in a work tree) with the commit and its time
// when built from a checkout, and the Go version.
func buildVersion() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, at, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev != "" && !strings.Contains(v, rev[:min(12, len(rev))]) {
		v += " commit " + rev[:min(12, len(rev))] + dirty
		if at != "" {
			v += " (" + at + ")"
		}
	}
	return v + " " + bi.GoVersion
}

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

quota, queue, policy and alerts go through the admin API when a server is named (-server URL or
$LABELGATE_SERVER) and otherwise read the local store named by the configuration.

Admin commands (call the admin API: -server URL or $LABELGATE_SERVER, token in $LABELGATE_TOKEN;
tables for people, -o json for scripts; flags before or after arguments; a label is its id or
its name, any case, Parent/Child for a sublabel):
  labelgate files [-app A] [-label L] [-no-label] [-external] [-protected] [-access X] [-owner O] [-path-prefix P] [-limit N|-all]
  labelgate file FILE-ID                  one file with its label history
  labelgate label apply FILE-ID LABEL     apply a label (executor: rules and quotas apply)
  labelgate label remove FILE-ID          remove a label
  labelgate actions [-state S] [-limit N|-all] [cancel ID | undo ID]   newest first; undo restores
                                          what a finished sharing action removed
  labelgate rescan [-scope D] [-force] [-wait] CONNECTOR
  labelgate rescans [cancel ID]
  labelgate labels [sync]                 the label catalog, with each label's sharing protection
  labelgate events [-kind K] [-label L] [-since T] [-until T]   the discovery log (-o json: JSON lines)

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
	case "policy", "quota", "alerts", "queue":
		// With a server named these go through its admin API; otherwise they read the
		// local store, and say so.
		if server, args, ok := splitServer(rest); ok {
			return remoteStoreCommand(ctx, cmd, server, args, stdout, stderr)
		}
	}
	switch cmd {
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
		fmt.Fprintln(stdout, "labelgate", buildVersion())
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "labelgate: unknown command %q\n\n%s", cmd, usage)
	return 2
}

// remoteStoreCommand runs a store-side command through the admin API at server.
func remoteStoreCommand(ctx context.Context, cmd, server string, args []string, stdout, stderr io.Writer) int {
	c := newAPIClient(server)
	switch cmd {
	case "policy":
		return cmdPolicyAPI(ctx, server, args, stdout, stderr)
	case "quota":
		return cmdQuotaAPI(ctx, server, args, stdout, stderr)
	case "alerts":
		return cmdAlertsOn(ctx, apiInbox{c}, args, stdout, stderr)
	default:
		return cmdQueue(ctx, apiQueue{c}, args, stdout, stderr)
	}
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
