package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/labelgate/labelgate/scanqueue"
)

// queueAdmin is what `labelgate queue` needs of the job queue (*scanqueue.Queue).
type queueAdmin interface {
	Stats(ctx context.Context) (scanqueue.Stats, error)
	Dead(ctx context.Context, limit int) ([]scanqueue.DeadJob, error)
	Requeue(ctx context.Context, id int64) error
}

const queueUsage = `usage:
  labelgate queue stats [-o json]                 counts by state, priority, app and kind
  labelgate queue dead [list] [-n N] [-o json]    jobs in the dead letter, newest first
  labelgate queue dead requeue ID [-o json]       run a dead job again
`

// cmdQueue runs `labelgate queue …` against an open queue.
func cmdQueue(ctx context.Context, q queueAdmin, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, queueUsage)
		return 2
	}
	sub, rest := args[0], args[1:]
	var action string
	if sub == "dead" {
		action = "list"
		if len(rest) > 0 && (rest[0] == "list" || rest[0] == "requeue") {
			action, rest = rest[0], rest[1:]
		}
	}
	fs := flag.NewFlagSet("queue "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	output := fs.String("o", "table", "output format: table or json")
	limit := fs.Int("n", 50, "how many dead jobs to list")
	// Flags may follow the positional ID: parse around it.
	var pos []string
	for {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if *output != "table" && *output != "json" {
		fmt.Fprintf(stderr, "labelgate queue: -o must be table or json, not %q\n", *output)
		return 2
	}
	asJSON := *output == "json"
	switch {
	case sub == "stats" && len(pos) == 0:
		st, err := q.Stats(ctx)
		if err != nil {
			fmt.Fprintln(stderr, "labelgate queue stats:", err)
			return 1
		}
		if asJSON {
			return queueJSON(stdout, stderr, st)
		}
		printStats(stdout, st)
		return 0
	case sub == "dead" && action == "list" && len(pos) == 0:
		dead, err := q.Dead(ctx, *limit)
		if err != nil {
			fmt.Fprintln(stderr, "labelgate queue dead:", err)
			return 1
		}
		if asJSON {
			return queueJSON(stdout, stderr, dead)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tKIND\tKEY\tSTATE\tATTEMPTS\tFAILED\tERROR")
		for _, d := range dead {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d/%d\t%s\t%s\n", d.ID, safe(d.Kind), safe(d.Key), d.State, d.Attempt, d.MaxAttempts,
				d.FailedAt.UTC().Format(time.RFC3339), safe(queueOneLine(d.Error)))
		}
		tw.Flush()
		return 0
	case sub == "dead" && action == "requeue" && len(pos) == 1:
		id, err := strconv.ParseInt(pos[0], 10, 64)
		if err != nil || id <= 0 {
			fmt.Fprintf(stderr, "labelgate queue dead requeue: bad job id %q\n", pos[0])
			return 2
		}
		if err := q.Requeue(ctx, id); err != nil {
			fmt.Fprintln(stderr, "labelgate queue dead requeue:", err)
			if errors.Is(err, scanqueue.ErrNotFound) || errors.Is(err, scanqueue.ErrNotDead) {
				return 2
			}
			return 1
		}
		if asJSON {
			return queueJSON(stdout, stderr, map[string]any{"requeued": id})
		}
		fmt.Fprintf(stdout, "requeued job %d\n", id)
		return 0
	}
	fmt.Fprint(stderr, queueUsage)
	return 2
}

func printStats(w io.Writer, st scanqueue.Stats) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATE\tJOBS")
	for _, k := range slices.Sorted(maps.Keys(st.ByState)) {
		fmt.Fprintf(tw, "%s\t%d\n", k, st.ByState[k])
	}
	fmt.Fprintln(tw, "\nPRIORITY (open)\tJOBS")
	for _, k := range slices.Sorted(maps.Keys(st.ByPriority)) {
		fmt.Fprintf(tw, "%d\t%d\n", k, st.ByPriority[k])
	}
	fmt.Fprintln(tw, "\nAPP (open)\tJOBS")
	for _, k := range slices.Sorted(maps.Keys(st.ByApp)) {
		fmt.Fprintf(tw, "%s\t%d\n", safe(k), st.ByApp[k])
	}
	fmt.Fprintln(tw, "\nKIND (open)\tJOBS")
	for _, k := range slices.Sorted(maps.Keys(st.ByKind)) {
		fmt.Fprintf(tw, "%s\t%d\n", k, st.ByKind[k])
	}
	tw.Flush()
	fmt.Fprintf(w, "\ndead letter: %d\noldest pending: %s\n", st.Dead,
		(time.Duration(st.OldestPendingSeconds * float64(time.Second))).Round(time.Second))
}

func queueJSON(stdout, stderr io.Writer, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintln(stderr, "labelgate queue:", err)
		return 1
	}
	return 0
}

func queueOneLine(s string) string {
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' || s[i] == '\r' || s[i] == '\t' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] == '\n' || b[j] == '\r' || b[j] == '\t' {
					b[j] = ' '
				}
			}
			return string(b)
		}
	}
	return s
}
