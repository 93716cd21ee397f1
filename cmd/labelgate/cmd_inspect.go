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
	"time"

	"github.com/labelgate/labelgate/labeling"
)

const inspectUsage = `usage: labelgate inspect [-o table|json] FILE...

Reads the sensitivity label of local Office and PDF files with ranged reads and prints, per file,
its type, label id, name, tenant, method, set date, content bits, whether it is protected, and
the bytes and read round trips it took. -o json prints one JSON object per line.

Exit status: 0 when every file was read, 1 when any failed, 2 for usage errors.
`

// inspectLine is the JSON wire shape of one inspected file.
type inspectLine struct {
	File           string            `json:"file"`
	Type           labeling.FileType `json:"type,omitempty"`
	LabelID        string            `json:"labelId,omitempty"`
	LabelName      string            `json:"labelName,omitempty"`
	Tenant         string            `json:"tenant,omitempty"`
	Method         string            `json:"method,omitempty"`
	SetDate        *time.Time        `json:"setDate,omitempty"`
	ContentBits    int               `json:"contentBits"`
	Protected      bool              `json:"protected"`
	ProtectionKind string            `json:"protectionKind,omitempty"`
	Records        int               `json:"records"`
	BytesRead      int64             `json:"bytesRead"`
	RoundTrips     int               `json:"roundTrips"`
	Error          string            `json:"error,omitempty"`
}

func inspectFile(ctx context.Context, path string) inspectLine {
	line := inspectLine{File: path}
	f, err := os.Open(path)
	if err != nil {
		line.Error = err.Error()
		return line
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		line.Error = err.Error()
		return line
	}
	res, err := labeling.Read(ctx, f, st.Size(), path)
	line.Type, line.Protected, line.ProtectionKind = res.Type, res.Protected, res.ProtectionKind
	line.Records, line.BytesRead, line.RoundTrips = len(res.Labels), res.BytesRead, res.RoundTrips
	if err != nil {
		line.Error = err.Error()
		return line
	}
	if l := res.Label; l != nil {
		line.LabelID, line.LabelName, line.Tenant, line.Method, line.ContentBits = l.ID, l.Name, l.Tenant, l.Method, l.ContentBits
		if !l.SetDate.IsZero() {
			d := l.SetDate
			line.SetDate = &d
		}
	}
	return line
}

func cmdInspect(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, inspectUsage) }
	output := fs.String("o", "table", "output format: table or json")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if (*output != "table" && *output != "json") || fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	failed := false
	enc := json.NewEncoder(stdout)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	if *output == "table" {
		fmt.Fprintln(tw, "FILE\tTYPE\tLABEL\tNAME\tTENANT\tMETHOD\tSET DATE\tBITS\tPROTECTED\tBYTES READ\tROUND TRIPS")
	}
	for _, path := range fs.Args() {
		if err := ctx.Err(); err != nil {
			fmt.Fprintf(stderr, "inspect: %v\n", err)
			return 1
		}
		line := inspectFile(ctx, path)
		if line.Error != "" {
			failed = true
			fmt.Fprintf(stderr, "%s: %s\n", safe(path), safe(line.Error))
		}
		if *output == "json" {
			if err := enc.Encode(line); err != nil {
				fmt.Fprintf(stderr, "inspect: %v\n", err)
				return 1
			}
			continue
		}
		if line.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\terror\t\t\t\t\t\t\t%d\t%d\n", safe(path), dash(string(line.Type)), line.BytesRead, line.RoundTrips)
			continue
		}
		date, prot := "-", "no"
		if line.SetDate != nil {
			date = line.SetDate.Format(time.RFC3339)
		}
		if line.Protected {
			prot = line.ProtectionKind
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%d\t%d\n", safe(path), line.Type, dash(line.LabelID), dash(line.LabelName),
			dash(line.Tenant), dash(line.Method), date, line.ContentBits, prot, line.BytesRead, line.RoundTrips)
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintf(stderr, "inspect: %v\n", err)
		return 1
	}
	if failed {
		return 1
	}
	return 0
}

// dash shows an empty cell as "-" and escapes the rest (the label id, name and tenant come
// from the file).
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return safe(s)
}
