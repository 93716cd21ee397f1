// Command labelgate-officecheck proves label writes with a real office suite (issue 25): it
// applies the organisation's label to a small fixed set of real files that carry other
// organisations' labels (../shared/samples/real), removes one tenant's label from files where
// another's stays, checks every foreign label survived each write, has LibreOffice convert each
// rewritten Office file to PDF, and runs `qpdf --check` on each rewritten PDF. A truncated
// package goes through the same conversion as a control: LibreOffice must fail on it, or the
// check could not tell a broken file from a good one.
//
// CI runs it after installing libreoffice-{writer,calc,impress}-nogui and qpdf; it fails (exit
// 1), never skips, when a tool is missing.
//
//	go run ./cmd/labelgate-officecheck [-samples DIR] [-out DIR] [-timeout 100s]
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/labelgate/labelgate/labeling"
)

// orgTenant is a tenant none of the samples knows: every label they carry is another
// organisation's.
const (
	orgTenant = "c0ffee00-1234-4abc-8def-0123456789ab"
	orgLabel  = "5e7a11ed-0000-4000-8000-00000000beef"
)

// samples is the fixed set: one per application and encoding, each with a foreign label.
var samples = []string{
	"rmssdk_Azure Secure Sender.docx", // AIP-classic custom.xml, tenant 72f988bf
	"poi_bug66675.xlsx",               // LabelInfo.xml, tenant db1e96a8 (the case)
	"markitdown_test.pptx",            // two tenants: custom.xml f66b6bd3 + LabelInfo.xml 72f988bf
	"shapecrawler_076 bitcoin.pptx",   // custom.xml with _Tag, tenant 9343c96b
	"cogsvc_contoso_benefits_document_example.pdf",
}

// removals are samples whose removeTenant label is taken out while another tenant's stays
// (markitdown_test.pptx) or that it is alone in (the PDF).
var removals = []string{"markitdown_test.pptx", "cogsvc_contoso_benefits_document_example.pdf"}

const removeTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	samplesDir := flag.String("samples", "", "real samples directory (default: ../shared/samples/real beside the repository)")
	outDir := flag.String("out", "", "keep the rewritten and converted files here (default: a temporary directory, removed)")
	timeout := flag.Duration("timeout", 100*time.Second, "bound on the whole check")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, log, *samplesDir, *outDir); err != nil {
		log.Error("office check failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger, samplesDir, outDir string) error {
	soffice, err := firstTool("soffice", "libreoffice")
	if err != nil {
		return err
	}
	qpdf, err := firstTool("qpdf")
	if err != nil {
		return err
	}
	if samplesDir == "" {
		if samplesDir, err = defaultSamples(); err != nil {
			return err
		}
	}
	if outDir == "" {
		tmp, err := os.MkdirTemp("", "labelgate-officecheck-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		outDir = tmp
	}
	written := filepath.Join(outDir, "written")
	converted := filepath.Join(outDir, "converted")
	for _, d := range []string{written, converted} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	start := time.Now()
	var office, pdfs []string
	for _, name := range samples {
		p, err := rewrite(ctx, filepath.Join(samplesDir, name), written)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		log.Info("label applied, other tenants' labels kept", "file", name)
		if labeling.TypeOf(name) == labeling.TypePDF {
			pdfs = append(pdfs, p)
		} else {
			office = append(office, p)
		}
	}
	// Removal too: the Microsoft tenant's label taken out of files where another tenant's stays.
	for _, name := range removals {
		p, err := removeOne(ctx, filepath.Join(samplesDir, name), written, removeTenant)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		log.Info("label of one tenant removed, the other tenants' kept", "file", name, "tenant", removeTenant)
		if labeling.TypeOf(name) == labeling.TypePDF {
			pdfs = append(pdfs, p)
		} else {
			office = append(office, p)
		}
	}
	// The control: a package cut in half, which no office suite can open.
	first, err := os.ReadFile(office[0])
	if err != nil {
		return err
	}
	control := filepath.Join(written, "control-truncated"+filepath.Ext(office[0]))
	if err := os.WriteFile(control, first[:len(first)/2], 0o644); err != nil {
		return err
	}

	for _, p := range pdfs {
		out, err := exec.CommandContext(ctx, qpdf, "--check", p).CombinedOutput()
		if err != nil {
			return fmt.Errorf("qpdf --check %s: %w\n%s", filepath.Base(p), err, out)
		}
		log.Info("qpdf --check passed", "file", filepath.Base(p))
	}

	profile := filepath.Join(outDir, "lo-profile")
	args := []string{"--headless", "--norestore", "--nolockcheck", "-env:UserInstallation=file://" + filepath.ToSlash(profile),
		"--convert-to", "pdf", "--outdir", converted}
	cmd := exec.CommandContext(ctx, soffice, append(args, append(office, control)...)...)
	prepare(cmd)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("soffice: %w\n%s", err, out)
	}
	for _, p := range append(office, control) {
		pdfPath := filepath.Join(converted, strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))+".pdf")
		data, err := os.ReadFile(pdfPath)
		ok := err == nil && bytes.HasPrefix(data, []byte("%PDF-")) && len(data) > 1000
		switch {
		case p == control && ok:
			return fmt.Errorf("control: LibreOffice converted a truncated package, so a conversion proves nothing\n%s", out)
		case p == control:
			log.Info("control refused by LibreOffice, as it must be", "file", filepath.Base(p))
		case !ok:
			return fmt.Errorf("LibreOffice did not convert %s to PDF (%v)\n%s", filepath.Base(p), err, out)
		default:
			if qout, err := exec.CommandContext(ctx, qpdf, "--check", pdfPath).CombinedOutput(); err != nil {
				return fmt.Errorf("qpdf --check of LibreOffice's rendering of %s: %w\n%s", filepath.Base(p), err, qout)
			}
			log.Info("LibreOffice opened and converted the rewritten file", "file", filepath.Base(p), "pdfBytes", len(data))
		}
	}
	log.Info("office check passed", "office", len(office), "pdf", len(pdfs), "seconds", time.Since(start).Round(time.Millisecond).Seconds())
	return nil
}

// rewrite applies the organisation's label to the sample, checks the result reads back with
// ours added and every foreign label unchanged, and writes it into dir.
func rewrite(ctx context.Context, src, dir string) (string, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	name := filepath.Base(src)
	before, err := labeling.Read(ctx, bytes.NewReader(data), int64(len(data)), name)
	if err != nil {
		return "", fmt.Errorf("read: %w", err)
	}
	foreign := func(r labeling.Result) []labeling.Label {
		var out []labeling.Label
		for _, l := range r.Labels {
			if l.Tenant != orgTenant {
				out = append(out, l)
			}
		}
		return out
	}
	if len(foreign(before)) == 0 {
		return "", errors.New("the sample carries no other organisation's label: it proves nothing here")
	}
	var buf bytes.Buffer
	l := labeling.Label{ID: orgLabel, Tenant: orgTenant, Method: "privileged", Name: "Confidential", SetDate: time.Now().UTC()}
	if err := labeling.Apply(ctx, bytes.NewReader(data), int64(len(data)), name, l, &buf); err != nil {
		return "", fmt.Errorf("apply: %w", err)
	}
	after, err := labeling.Read(ctx, bytes.NewReader(buf.Bytes()), int64(buf.Len()), name)
	if err != nil {
		return "", fmt.Errorf("read back: %w", err)
	}
	if !reflect.DeepEqual(foreign(before), foreign(after)) {
		return "", fmt.Errorf("another organisation's label changed:\nbefore %+v\nafter  %+v", foreign(before), foreign(after))
	}
	ours := false
	for _, x := range after.Labels {
		ours = ours || (x.Tenant == orgTenant && x.ID == orgLabel && x.Enabled)
	}
	if !ours {
		return "", fmt.Errorf("our label does not read back: %+v", after.Labels)
	}
	out := filepath.Join(dir, name)
	return out, os.WriteFile(out, buf.Bytes(), 0o644)
}

// removeOne removes tenant's label from the sample, checks it is gone and every other
// tenant's label is unchanged, and writes the result into dir as removed-NAME.
func removeOne(ctx context.Context, src, dir, tenant string) (string, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	name := filepath.Base(src)
	split := func(r labeling.Result) (own, others []labeling.Label) {
		for _, l := range r.Labels {
			if l.Tenant == tenant {
				own = append(own, l)
			} else {
				others = append(others, l)
			}
		}
		return own, others
	}
	before, err := labeling.Read(ctx, bytes.NewReader(data), int64(len(data)), name)
	if err != nil {
		return "", fmt.Errorf("read: %w", err)
	}
	own, others := split(before)
	if len(own) == 0 {
		return "", fmt.Errorf("the sample carries no label of tenant %s", tenant)
	}
	var buf bytes.Buffer
	if err := labeling.RemoveTenant(ctx, bytes.NewReader(data), int64(len(data)), name, tenant, &buf); err != nil {
		return "", fmt.Errorf("remove: %w", err)
	}
	after, err := labeling.Read(ctx, bytes.NewReader(buf.Bytes()), int64(buf.Len()), name)
	if err != nil {
		return "", fmt.Errorf("read back: %w", err)
	}
	ownAfter, othersAfter := split(after)
	if !reflect.DeepEqual(others, othersAfter) {
		return "", fmt.Errorf("another organisation's label changed:\nbefore %+v\nafter  %+v", others, othersAfter)
	}
	for _, l := range ownAfter {
		if l.Enabled && !l.Removed {
			return "", fmt.Errorf("the removed label still reads back: %+v", l)
		}
	}
	out := filepath.Join(dir, "removed-"+name)
	return out, os.WriteFile(out, buf.Bytes(), 0o644)
}

func firstTool(names ...string) (string, error) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH: install Debian's libreoffice-writer-nogui, libreoffice-calc-nogui, libreoffice-impress-nogui and qpdf (.ci/run does)", strings.Join(names, " or "))
}

// defaultSamples finds ../shared/samples/real beside the repository root (the directory with
// go.mod above the working directory).
func defaultSamples() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "..", "shared", "samples", "real")
			if _, err := os.Stat(filepath.Join(p, "MANIFEST.tsv")); err != nil {
				return "", fmt.Errorf("real samples not found beside the repository: %w", err)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory; give -samples")
		}
		dir = parent
	}
}
