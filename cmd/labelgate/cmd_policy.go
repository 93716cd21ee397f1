package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/policies"
)

const policyUsage = `usage:
  labelgate policy apply -f FILE [-o json]   validate and store every policy of FILE (all or none)
  labelgate policy export [-o json] [ID...]  print stored policies as YAML (or JSON)
  labelgate policy list [-o json]
  labelgate policy enable|disable|delete ID  (disable suspends its pending actions, enable resumes, delete cancels)
  labelgate policy test [-o json] ID         what-if: evaluate ID over the inventory, recording nothing
`

// cmdPolicy manages file policies directly against the store.
func cmdPolicy(ctx context.Context, st *store.Store, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, policyUsage)
		return 2
	}
	sub, rest := args[0], args[1:]
	fs := flag.NewFlagSet("policy "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "output format: json")
	file := fs.String("f", "", "policy file (apply); - for stdin")
	if err := fs.Parse(rest); err != nil {
		return 2
	}
	if *out != "" && *out != "json" {
		fmt.Fprintf(stderr, "policy %s: unknown output format %q (want json)\n", sub, *out)
		return 2
	}
	asJSON := *out == "json"
	mgr := policies.NewManager(policies.ManagerConfig{Store: st})
	fail := func(err error) int {
		fmt.Fprintf(stderr, "policy %s: %v\n", sub, err)
		return 1
	}
	needID := func() (string, bool) {
		if fs.NArg() != 1 {
			fmt.Fprintf(stderr, "usage: labelgate policy %s ID\n", sub)
			return "", false
		}
		return fs.Arg(0), true
	}
	switch sub {
	case "apply":
		if *file == "" || fs.NArg() != 0 {
			fmt.Fprintln(stderr, "usage: labelgate policy apply -f FILE [-o json]")
			return 2
		}
		var data []byte
		var err error
		if *file == "-" {
			data, err = io.ReadAll(io.LimitReader(os.Stdin, 16<<20))
		} else {
			data, err = os.ReadFile(*file)
		}
		if err != nil {
			return fail(err)
		}
		ids, err := mgr.Apply(ctx, data)
		if err != nil {
			var ve policies.Errors
			if errors.As(err, &ve) {
				for _, e := range ve {
					fmt.Fprintf(stderr, "%s: %s\n", safe(*file), safe(e.Error()))
				}
				return 1
			}
			return fail(err)
		}
		if asJSON {
			return policyJSON(stdout, stderr, map[string]any{"applied": ids})
		}
		for _, id := range ids {
			fmt.Fprintf(stdout, "applied %s\n", id)
		}
		return 0
	case "export":
		if asJSON {
			doc, err := mgr.ExportDoc(ctx, fs.Args()...)
			if err != nil {
				return fail(err)
			}
			return policyJSON(stdout, stderr, doc)
		}
		y, err := mgr.Export(ctx, fs.Args()...)
		if err != nil {
			return fail(err)
		}
		_, _ = stdout.Write(y)
		return 0
	case "list":
		rows, err := st.ListPolicies(ctx)
		if err != nil {
			return fail(err)
		}
		if asJSON {
			if rows == nil {
				rows = []store.Policy{}
			}
			return policyJSON(stdout, stderr, map[string]any{"items": rows})
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tENABLED\tSEVERITY\tCATEGORY\tNAME")
		for _, p := range rows {
			fmt.Fprintf(tw, "%s\t%t\t%s\t%s\t%s\n", safe(p.ID), p.Enabled, safe(p.Severity), safe(p.Category), safe(p.Name))
		}
		_ = tw.Flush()
		return 0
	case "enable", "disable", "delete":
		id, ok := needID()
		if !ok {
			return 2
		}
		var err error
		if sub == "delete" {
			err = mgr.Delete(ctx, id)
		} else {
			err = mgr.SetEnabled(ctx, id, sub == "enable")
		}
		if err != nil {
			return fail(err)
		}
		if asJSON {
			return policyJSON(stdout, stderr, map[string]any{"id": id, "done": sub})
		}
		fmt.Fprintf(stdout, "%sd %s\n", sub, id)
		return 0
	case "test":
		id, ok := needID()
		if !ok {
			return 2
		}
		rep, err := mgr.WhatIfReport(ctx, id)
		if err != nil {
			return fail(err)
		}
		if asJSON {
			return policyJSON(stdout, stderr, rep)
		}
		printWhatIf(stdout, rep)
		return 0
	}
	fmt.Fprintf(stderr, "policy: unknown subcommand %q\n%s", sub, policyUsage)
	return 2
}

func policyJSON(stdout, stderr io.Writer, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

// printWhatIf prints a what-if report, from the local store or the admin API.
func printWhatIf(stdout io.Writer, rep policies.WhatIfReport) {
	fmt.Fprintf(stdout, "policy %s (enabled: %t) over %d files: %d match, %d would be touched\n",
		safe(rep.PolicyID), rep.Enabled, rep.Files, rep.Matched, rep.Touched)
	for _, k := range rep.SortedKinds() {
		fmt.Fprintf(stdout, "  %-14s %d\n", k, rep.Actions[k])
	}
	if rep.ContentConditions {
		fmt.Fprintln(stdout, "  (content conditions are not evaluated by what-if: figures are a lower bound)")
	}
}
