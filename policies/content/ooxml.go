package content

import (
	"archive/zip"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// extractOOXML reads only the central directory and the text parts: the body of a Word
// document, the shared strings of a workbook, the slides of a presentation in order.
//
// A part is read once: a name listed twice, or two parts whose data overlap (a central
// directory pointing many entries at one compressed stream), is refused as built to defeat
// the per-entry cap.
func extractOOXML(ctx context.Context, r io.ReaderAt, size int64, k Kind, w io.Writer, lim Limits, b *budget) error {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return fmt.Errorf("content: open zip: %w", err)
	}
	var parts []*zip.File
	var slides []struct {
		n int
		f *zip.File
	}
	for _, f := range zr.File {
		switch {
		case k == KindWord && f.Name == "word/document.xml",
			k == KindExcel && f.Name == "xl/sharedStrings.xml":
			parts = append(parts, f)
		case k == KindPowerPoint && strings.HasPrefix(f.Name, "ppt/slides/slide") && strings.HasSuffix(f.Name, ".xml"):
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(f.Name, "ppt/slides/slide"), ".xml"))
			if err == nil {
				slides = append(slides, struct {
					n int
					f *zip.File
				}{n, f})
			}
		}
	}
	sort.Slice(slides, func(i, j int) bool { return slides[i].n < slides[j].n })
	for _, s := range slides {
		parts = append(parts, s.f)
	}
	if err := distinctParts(ctx, parts); err != nil {
		return err
	}
	for _, f := range parts {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := xmlText(f, w, lim.MaxEntry, b); err != nil {
			return err
		}
	}
	return nil
}

// distinctParts refuses parts that repeat a name or share bytes of the file. A well-formed
// package stores each part once, its local header and data apart from every other's.
func distinctParts(ctx context.Context, parts []*zip.File) error {
	type span struct {
		lo, hi int64
		name   string
	}
	spans := make([]span, 0, len(parts))
	names := make(map[string]bool, len(parts))
	for _, f := range parts {
		if err := ctx.Err(); err != nil {
			return err
		}
		if names[f.Name] {
			return fmt.Errorf("%w: zip entry %q is listed twice", ErrBudgetExceeded, f.Name)
		}
		names[f.Name] = true
		off, err := f.DataOffset()
		if err != nil {
			continue // unreadable: xmlText skips it
		}
		// The local header (30 bytes and the name) sits just before the data.
		lo := off - 30 - int64(len(f.Name))
		spans = append(spans, span{lo: lo, hi: off + int64(f.CompressedSize64), name: f.Name})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].lo < spans[j].lo })
	for i := 1; i < len(spans); i++ {
		if spans[i].lo < spans[i-1].hi {
			return fmt.Errorf("%w: zip entries %q and %q overlap", ErrBudgetExceeded, spans[i-1].name, spans[i].name)
		}
	}
	return nil
}

// xmlText writes the character data of <t> elements (w:t, a:t, t), with a line break after
// each paragraph or shared string, so runs of one paragraph join up as the reader sees them.
func xmlText(f *zip.File, w io.Writer, maxEntry int64, b *budget) error {
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("content: %s: %w", f.Name, err)
	}
	defer rc.Close()
	d := xml.NewDecoder(b.reader(io.LimitReader(rc, maxEntry)))
	d.Strict = false
	inText := 0
	nl := []byte{'\n'}
	tab := []byte{' '}
	for {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if stops(err) {
				return err
			}
			// A truncated or damaged part still yields the text before the damage.
			return nil
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "t":
				inText++
			case "tab", "br":
				if _, err := w.Write(tab); err != nil {
					return err
				}
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "t":
				inText = max(inText-1, 0)
			case "p", "si":
				if _, err := w.Write(nl); err != nil {
					return err
				}
			}
		case xml.CharData:
			if inText > 0 {
				if _, err := w.Write(t); err != nil {
					return err
				}
			}
		}
	}
}
