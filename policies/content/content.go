// Package content finds sensitive data (card numbers, SSNs, IBANs, e-mail addresses, custom
// patterns) in the text of Office and PDF files, streaming and with size caps.
package content

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
)

// Limits caps what one inspection may cost.
type Limits struct {
	// MaxText is the most text handed to the matchers; the rest of the file is ignored.
	MaxText int64
	// MaxEntry is the most bytes one ZIP entry or PDF stream may decompress to.
	MaxEntry int64
	// MaxRaw is the most raw bytes of a PDF read while looking for content streams.
	MaxRaw int64
	// MaxInflated is the most bytes one inspection may decompress across all its ZIP entries
	// and PDF streams together: a per-entry cap alone lets a file name one large entry many
	// times (issue 22: 10,000 directory entries pointing at one 64 MiB slide).
	MaxInflated int64
	// MaxTime is the most wall time one inspection may take.
	MaxTime time.Duration
}

// DefaultLimits are 16 MiB of text, 64 MiB per decompressed part, 512 MiB of raw PDF,
// 128 MiB decompressed in all and 30 s per inspection.
func DefaultLimits() Limits {
	return Limits{MaxText: 16 << 20, MaxEntry: 64 << 20, MaxRaw: 512 << 20, MaxInflated: 128 << 20, MaxTime: 30 * time.Second}
}

func (l Limits) orDefault() Limits {
	d := DefaultLimits()
	if l.MaxText <= 0 {
		l.MaxText = d.MaxText
	}
	if l.MaxEntry <= 0 {
		l.MaxEntry = d.MaxEntry
	}
	if l.MaxRaw <= 0 {
		l.MaxRaw = d.MaxRaw
	}
	if l.MaxInflated <= 0 {
		l.MaxInflated = d.MaxInflated
	}
	if l.MaxTime <= 0 {
		l.MaxTime = d.MaxTime
	}
	return l
}

// ErrBudgetExceeded is wrapped by the error of an inspection that hit its total budget
// (Limits.MaxInflated or Limits.MaxTime) or met a file built to defeat budgets (ZIP entries
// sharing their data). The text found before is still counted.
var ErrBudgetExceeded = errors.New("content inspection budget exceeded")

// budget is what is left of one inspection's decompression allowance.
type budget struct {
	ctx  context.Context
	max  int64
	left int64
}

// reader counts what r decompresses against the budget, and stops when the inspection's
// context (which carries its time budget) ends.
func (b *budget) reader(r io.Reader) io.Reader { return &budgetReader{b: b, r: r} }

type budgetReader struct {
	b *budget
	r io.Reader
}

func (br *budgetReader) Read(p []byte) (int, error) {
	if err := br.b.ctx.Err(); err != nil {
		return 0, err
	}
	if br.b.left <= 0 {
		return 0, fmt.Errorf("%w: more than %d bytes decompressed", ErrBudgetExceeded, br.b.max)
	}
	if int64(len(p)) > br.b.left {
		p = p[:br.b.left]
	}
	n, err := br.r.Read(p)
	br.b.left -= int64(n)
	return n, err
}

// stops reports whether err ends the whole inspection (as opposed to damage in one part,
// after which the next part is read).
func stops(err error) bool {
	return errors.Is(err, ErrBudgetExceeded) || errors.Is(err, ErrEnough) || errors.Is(err, errCapped) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// ErrUnsupported is returned for files whose text this package cannot extract.
var ErrUnsupported = errors.New("content: unsupported file type")

// Kind is how a file's text is extracted, decided from its name.
type Kind int

// Extraction kinds.
const (
	KindNone Kind = iota
	KindWord
	KindExcel
	KindPowerPoint
	KindPDF
	KindText
)

// KindOf returns how the text of a file named name is extracted.
func KindOf(name string) Kind {
	switch strings.ToLower(strings.TrimPrefix(path.Ext(name), ".")) {
	case "docx", "docm", "dotx", "dotm":
		return KindWord
	case "xlsx", "xlsm", "xltx", "xltm":
		return KindExcel
	case "pptx", "pptm", "potx", "potm", "ppsx", "ppsm":
		return KindPowerPoint
	case "pdf":
		return KindPDF
	case "txt", "csv", "tsv", "md", "log", "json", "xml":
		return KindText
	}
	return KindNone
}

// textWriter hands text to w and stops at the text cap.
type textWriter struct {
	ctx  context.Context
	w    io.Writer
	left int64
}

var errCapped = errors.New("content: text cap reached")

func (t *textWriter) Write(p []byte) (int, error) {
	if err := t.ctx.Err(); err != nil {
		return 0, err
	}
	if t.left <= 0 {
		return 0, errCapped
	}
	n := len(p)
	if int64(len(p)) > t.left {
		p = p[:t.left]
	}
	t.left -= int64(len(p))
	if _, err := t.w.Write(p); err != nil {
		return 0, err
	}
	if t.left <= 0 {
		return 0, errCapped
	}
	return n, nil
}

// Extract streams the text of the file named name, read through r (size bytes), to w. It
// stops early without error when w returns ErrEnough or the text cap is reached.
//
// The whole inspection shares one budget: Limits.MaxInflated bytes decompressed and
// Limits.MaxTime of wall time; reaching either ends it with an error wrapping
// ErrBudgetExceeded (the text handed to w before stays handed).
func Extract(ctx context.Context, r io.ReaderAt, size int64, name string, w io.Writer, lim Limits) error {
	lim = lim.orDefault()
	ictx, cancel := context.WithTimeout(ctx, lim.MaxTime)
	defer cancel()
	b := &budget{ctx: ictx, max: lim.MaxInflated, left: lim.MaxInflated}
	tw := &textWriter{ctx: ictx, w: w, left: lim.MaxText}
	var err error
	switch k := KindOf(name); k {
	case KindWord, KindExcel, KindPowerPoint:
		err = extractOOXML(ictx, r, size, k, tw, lim, b)
	case KindPDF:
		err = extractPDF(ictx, r, size, tw, lim, b)
	case KindText:
		_, err = io.Copy(tw, b.reader(io.LimitReader(io.NewSectionReader(r, 0, size), lim.MaxEntry)))
	default:
		return fmt.Errorf("%s: %w", name, ErrUnsupported)
	}
	if errors.Is(err, ErrEnough) || errors.Is(err, errCapped) {
		return nil
	}
	if err != nil && ctx.Err() == nil && ictx.Err() != nil {
		// Our own deadline, not the caller's.
		return fmt.Errorf("%s: %w: inspection took longer than %s", name, ErrBudgetExceeded, lim.MaxTime)
	}
	if errors.Is(err, ErrBudgetExceeded) {
		return fmt.Errorf("%s: %w", name, err)
	}
	return err
}

// Count extracts the text of a file and counts matches of ms, stopping once every matcher
// reached its target (see NewScanner).
func Count(ctx context.Context, r io.ReaderAt, size int64, name string, ms []*Matcher, target []int, lim Limits) ([]int, error) {
	sc := NewScanner(ms, target)
	err := Extract(ctx, r, size, name, sc, lim)
	_ = sc.Close()
	return sc.Counts(), err
}
