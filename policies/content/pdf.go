package content

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"io"
)

// extractPDF reads the file front to back once, in chunks, looking for content streams
// (unfiltered or FlateDecode, not images, fonts, metadata or cross-reference streams), and
// writes the text their Tj, TJ, ' and " operators show. Text in fonts without a Unicode-ish
// encoding (Identity-H CID fonts) comes out as glyph codes and will not match.
func extractPDF(ctx context.Context, r io.ReaderAt, size int64, w io.Writer, lim Limits, b *budget) error {
	const chunk = 64 << 10
	const back = 2 << 10 // dictionary text kept before a "stream" keyword
	limit := min(size, lim.MaxRaw)
	buf := make([]byte, 0, back+8+chunk)
	var base int64 // file offset of buf[0]
	var read int64
	searched := 0 // buf[:searched] has been searched for keywords
	for read < limit {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := r.ReadAt(buf[len(buf):len(buf)+int(min(int64(chunk), limit-read))], read)
		if n == 0 && err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
		read += int64(n)
		buf = buf[:len(buf)+n]
		// Search up to 8 bytes short of the end unless at the end, so "stream\r\n" is whole.
		end := len(buf)
		if read < limit {
			end -= 8
		}
		from := searched
		for {
			i := bytes.Index(buf[from:max(end, from)], []byte("stream"))
			if i < 0 {
				break
			}
			i += from
			from = i + 6
			if i >= 3 && string(buf[i-3:i]) == "end" {
				continue
			}
			data := i + 6
			switch {
			case data+1 < len(buf) && buf[data] == '\r' && buf[data+1] == '\n':
				data += 2
			case data < len(buf) && (buf[data] == '\n' || buf[data] == '\r'):
				data++
			default:
				continue
			}
			dict := buf[:i]
			if j := bytes.LastIndex(dict, []byte("obj")); j >= 0 {
				dict = dict[j:]
			} else if len(dict) > 1024 {
				dict = dict[len(dict)-1024:]
			}
			flate, ok := contentStream(dict)
			if !ok {
				continue
			}
			if err := streamText(ctx, r, base+int64(data), size, flate, w, lim.MaxEntry, b); err != nil {
				return err
			}
		}
		searched = max(end, from)
		// Keep the tail so a dictionary and its keyword split across chunks are still seen.
		keep := min(len(buf), back+8)
		drop := len(buf) - keep
		searched = max(searched-drop, 0)
		copy(buf, buf[drop:])
		buf = buf[:keep]
		base += int64(drop)
	}
	return nil
}

// contentStream decides from a stream's dictionary whether it may hold page text.
func contentStream(dict []byte) (flate, ok bool) {
	for _, skip := range [][]byte{[]byte("/Image"), []byte("/XRef"), []byte("/ObjStm"), []byte("/Metadata"),
		[]byte("/Length1"), []byte("/Length2"), []byte("/Length3"), []byte("/EmbeddedFile"), []byte("/DecodeParms"),
		[]byte("/FontFile"), []byte("/XML"), []byte("/CMap"), []byte("/Alternate")} {
		if bytes.Contains(dict, skip) {
			return false, false
		}
	}
	if !bytes.Contains(dict, []byte("/Filter")) {
		return false, true
	}
	if bytes.Count(dict, []byte("Decode")) == 1 && bytes.Contains(dict, []byte("/FlateDecode")) {
		return true, true
	}
	return false, false
}

func streamText(ctx context.Context, r io.ReaderAt, off, size int64, flate bool, w io.Writer, maxEntry int64, b *budget) error {
	var src io.Reader = bufio.NewReaderSize(io.NewSectionReader(r, off, size-off), 16<<10)
	if flate {
		zr, err := zlib.NewReader(src)
		if err != nil {
			return nil // not a zlib stream after all: no text here
		}
		defer zr.Close()
		src = zr
	}
	// Every stream draws on the inspection's budget: a PDF of many small streams that each
	// inflate to the per-stream cap stops there too.
	err := pdfOps(ctx, bufio.NewReaderSize(b.reader(io.LimitReader(src, maxEntry)), 16<<10), w)
	if stops(err) {
		return err
	}
	// A damaged stream still gave the text before the damage; carry on with the next.
	return nil
}

func isPDFSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}

func isPDFDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

// pdfOps tokenizes a content stream and writes the strings shown by text operators; it
// separates positioned runs with a space and lines with a newline.
func pdfOps(ctx context.Context, br *bufio.Reader, w io.Writer) error {
	const maxPendingText = 64 << 10
	var pending, word []byte
	inArray := false
	emit := func(sep byte) error {
		if len(pending) > 0 {
			if _, err := w.Write(pending); err != nil {
				return err
			}
		}
		pending = pending[:0]
		if sep != 0 {
			if _, err := w.Write([]byte{sep}); err != nil {
				return err
			}
		}
		return nil
	}
	add := func(b ...byte) {
		if len(pending) < maxPendingText {
			pending = append(pending, b...)
		}
	}
	for ops := 0; ; ops++ {
		if ops&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		c, err := br.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return emit(0)
			}
			return err
		}
		switch {
		case isPDFSpace(c):
		case c == '%':
			for c != '\n' && c != '\r' {
				if c, err = br.ReadByte(); err != nil {
					return nil
				}
			}
		case c == '(':
			if err := literal(br, add); err != nil {
				return nil
			}
		case c == '<':
			nx, err := br.ReadByte()
			if err != nil {
				return nil
			}
			if nx == '<' {
				continue
			}
			_ = br.UnreadByte()
			if err := hexString(br, add); err != nil {
				return nil
			}
		case c == '[':
			inArray = true
		case c == ']':
			inArray = false
		case c == '>' || c == '{' || c == '}' || c == ')':
		case c == '/':
			for {
				nx, err := br.ReadByte()
				if err != nil {
					return nil
				}
				if isPDFSpace(nx) || isPDFDelim(nx) {
					_ = br.UnreadByte()
					break
				}
			}
		default:
			word = append(word[:0], c)
			for {
				nx, err := br.ReadByte()
				if err != nil {
					break
				}
				if isPDFSpace(nx) || isPDFDelim(nx) {
					_ = br.UnreadByte()
					break
				}
				word = append(word, nx)
			}
			if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' {
				// A large negative TJ adjustment is how many writers space words.
				if inArray && c == '-' && intPart(word[1:]) >= 200 {
					add(' ')
				}
				continue
			}
			var err error
			switch string(word) {
			case "Tj", "TJ":
				err = emit(0)
			case "'", "\"":
				err = emit('\n')
			case "Td", "TD", "Tm":
				pending = pending[:0]
				_, err = w.Write([]byte{' '})
			case "T*", "ET":
				pending = pending[:0]
				_, err = w.Write([]byte{'\n'})
			case "ID":
				skipInlineImage(br)
			case "endstream":
				return emit(0)
			default:
				pending = pending[:0]
			}
			if err != nil {
				return err
			}
		}
	}
}

// intPart returns the integer part of an unsigned decimal number, saturating.
func intPart(b []byte) int {
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' || v > 1<<20 {
			break
		}
		v = v*10 + int(c-'0')
	}
	return v
}

func literal(br *bufio.Reader, add func(...byte)) error {
	depth := 1
	for {
		c, err := br.ReadByte()
		if err != nil {
			return err
		}
		switch c {
		case '(':
			depth++
			add(c)
		case ')':
			depth--
			if depth == 0 {
				return nil
			}
			add(c)
		case '\\':
			e, err := br.ReadByte()
			if err != nil {
				return err
			}
			switch e {
			case 'n':
				add('\n')
			case 'r':
				add('\r')
			case 't':
				add('\t')
			case 'b', 'f':
			case '\r':
				if nx, err := br.ReadByte(); err == nil && nx != '\n' {
					_ = br.UnreadByte()
				}
			case '\n':
			default:
				if e >= '0' && e <= '7' {
					v := int(e - '0')
					for k := 0; k < 2; k++ {
						nx, err := br.ReadByte()
						if err != nil {
							return err
						}
						if nx < '0' || nx > '7' {
							_ = br.UnreadByte()
							break
						}
						v = v*8 + int(nx-'0')
					}
					add(byte(v))
				} else {
					add(e)
				}
			}
		default:
			add(c)
		}
	}
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c|0x20 >= 'a' && c|0x20 <= 'f':
		return c | 0x20 - 'a' + 10, true
	}
	return 0, false
}

func hexString(br *bufio.Reader, add func(...byte)) error {
	var hi byte
	half := false
	for {
		c, err := br.ReadByte()
		if err != nil {
			return err
		}
		if c == '>' {
			if half {
				add(hi << 4)
			}
			return nil
		}
		v, ok := unhex(c)
		if !ok {
			continue
		}
		if half {
			add(hi<<4 | v)
		} else {
			hi = v
		}
		half = !half
	}
}

// skipInlineImage skips binary inline image data up to its "EI" operator.
func skipInlineImage(br *bufio.Reader) {
	var prev2, prev1 byte = 'x', 'x'
	for {
		c, err := br.ReadByte()
		if err != nil {
			return
		}
		if prev1 == 'I' && prev2 == 'E' && isPDFSpace(c) {
			return
		}
		prev2, prev1 = prev1, c
	}
}
