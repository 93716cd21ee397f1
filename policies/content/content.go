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
)

// Limits caps what one inspection may cost.
type Limits struct {
	// MaxText is the most text handed to the matchers; the rest of the file is ignored.
	MaxText int64
	// MaxEntry is the most bytes one ZIP entry or PDF stream may decompress to.
	MaxEntry int64
	// MaxRaw is the most raw bytes of a PDF read while looking for content streams.
	MaxRaw int64
}

// DefaultLimits are 16 MiB of text, 64 MiB per decompressed part and 512 MiB of raw PDF.
func DefaultLimits() Limits {
	return Limits{MaxText: 16 << 20, MaxEntry: 64 << 20, MaxRaw: 512 << 20}
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
	return l
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
func Extract(ctx context.Context, r io.ReaderAt, size int64, name string, w io.Writer, lim Limits) error {
	lim = lim.orDefault()
	tw := &textWriter{ctx: ctx, w: w, left: lim.MaxText}
	var err error
	switch k := KindOf(name); k {
	case KindWord, KindExcel, KindPowerPoint:
		err = extractOOXML(ctx, r, size, k, tw, lim)
	case KindPDF:
		err = extractPDF(ctx, r, size, tw, lim)
	case KindText:
		_, err = io.Copy(tw, io.LimitReader(io.NewSectionReader(r, 0, size), lim.MaxEntry))
	default:
		return fmt.Errorf("%s: %w", name, ErrUnsupported)
	}
	if errors.Is(err, ErrEnough) || errors.Is(err, errCapped) {
		return nil
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
