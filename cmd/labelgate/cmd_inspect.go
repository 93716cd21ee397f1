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

const inspectUsage = `usage: labelgate inspect [-o table|json] [--tenant GUID] FILE...

Reads the sensitivity label of local Office and PDF files with ranged reads and prints, per file,
its type, label id, name, tenant, method, set date, content bits, whether it is protected, and
the bytes and read round trips it took. -o json prints one JSON object per line, with every
label the file carries ("labels": one per tenant, each with where it was found). --tenant is the
organisation's tenant: the file's label is that tenant's when it carries one.

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
	Protection     string            `json:"protection,omitempty"` // rms, password or none
	ParentID       string            `json:"parentId,omitempty"`   // the label's parent, for a sublabel
	Labels         []inspectLabel    `json:"labels"`               // every label that applies, one per tenant
	Records        int               `json:"records"`
	BytesRead      int64             `json:"bytesRead"`
	RoundTrips     int               `json:"roundTrips"`
	Error          string            `json:"error,omitempty"`
}

// inspectLabel is one label a file carries.
type inspectLabel struct {
	ID       string     `json:"id"`
	Name     string     `json:"name,omitempty"`
	Tenant   string     `json:"tenant,omitempty"`
	Method   string     `json:"method,omitempty"`
	SetDate  *time.Time `json:"setDate,omitempty"`
	Source   string     `json:"source"` // labelinfo, custom, pdf-info, pdf-xmp, ole-props, cfb-labelinfo
	ParentID string     `json:"parentId,omitempty"`
	External bool       `json:"external,omitempty"` // another tenant's than --tenant
}

func inspectFile(ctx context.Context, path, tenant string) inspectLine {
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
	res, err := labeling.ReadWith(ctx, f, st.Size(), path, labeling.ReadOptions{Tenant: tenant})
	line.Type, line.Protected, line.ProtectionKind = res.Type, res.Protected, res.ProtectionKind
	line.Labels = []inspectLabel{}
	if err == nil {
		line.Protection = res.Protection()
		ext := map[string]bool{}
		for _, x := range res.External(tenant) {
			ext[x.ID+"/"+x.Tenant] = true
		}
		for _, l := range res.Effective {
			il := inspectLabel{ID: l.ID, Name: l.Name, Tenant: l.Tenant, Method: l.Method, Source: l.Source,
				ParentID: l.ParentID, External: ext[l.ID+"/"+l.Tenant]}
			if !l.SetDate.IsZero() {
				d := l.SetDate
				il.SetDate = &d
			}
			line.Labels = append(line.Labels, il)
		}
	}
	line.Records, line.BytesRead, line.RoundTrips = len(res.Labels), res.BytesRead, res.RoundTrips
	if err != nil {
		line.Error = err.Error()
		return line
	}
	if l := res.Label; l != nil {
		line.LabelID, line.LabelName, line.Tenant, line.Method, line.ContentBits = l.ID, l.Name, l.Tenant, l.Method, l.ContentBits
		line.ParentID = l.ParentID
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
	tenant := fs.String("tenant", "", "the organisation's Entra tenant id: its label is the file's label")
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
		line := inspectFile(ctx, path, *tenant)
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
