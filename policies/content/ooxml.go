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
func extractOOXML(ctx context.Context, r io.ReaderAt, size int64, k Kind, w io.Writer, lim Limits) error {
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
	for _, f := range parts {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := xmlText(f, w, lim.MaxEntry); err != nil {
			return err
		}
	}
	return nil
}

// xmlText writes the character data of <t> elements (w:t, a:t, t), with a line break after
// each paragraph or shared string, so runs of one paragraph join up as the reader sees them.
func xmlText(f *zip.File, w io.Writer, maxEntry int64) error {
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("content: %s: %w", f.Name, err)
	}
	defer rc.Close()
	d := xml.NewDecoder(io.LimitReader(rc, maxEntry))
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
