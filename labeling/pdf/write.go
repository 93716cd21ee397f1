package pdf

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"unicode/utf16"
)

// TextString encodes s as a PDF text string: as is when ASCII, else UTF-16BE with a BOM.
func TextString(s string) String {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return String(s)
	}
	out := []byte{0xFE, 0xFF}
	for _, u := range utf16.Encode([]rune(s)) {
		out = append(out, byte(u>>8), byte(u))
	}
	return out
}

// Serialize writes a direct object in PDF syntax. Streams cannot be written this way.
func Serialize(buf *bytes.Buffer, o Object) error {
	switch v := o.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		buf.WriteString(strconv.FormatBool(v))
	case int64:
		buf.WriteString(strconv.FormatInt(v, 10))
	case int:
		buf.WriteString(strconv.Itoa(v))
	case float64:
		buf.WriteString(strconv.FormatFloat(v, 'f', -1, 64))
	case Name:
		buf.WriteByte('/')
		for i := 0; i < len(v); i++ {
			c := v[i]
			if c <= ' ' || c >= 0x7f || c == '#' || isDelim(c) {
				fmt.Fprintf(buf, "#%02X", c)
				continue
			}
			buf.WriteByte(c)
		}
	case String:
		buf.WriteByte('(')
		for _, c := range []byte(v) {
			switch c {
			case '(', ')', '\\':
				buf.WriteByte('\\')
				buf.WriteByte(c)
			case '\r':
				buf.WriteString(`\r`)
			case '\n':
				buf.WriteString(`\n`)
			default:
				buf.WriteByte(c)
			}
		}
		buf.WriteByte(')')
	case Ref:
		fmt.Fprintf(buf, "%d %d R", v.Num, v.Gen)
	case []Object:
		buf.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				buf.WriteByte(' ')
			}
			if err := Serialize(buf, e); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case Dict:
		buf.WriteString("<<")
		for _, k := range slices.Sorted(maps.Keys(v)) {
			if err := Serialize(buf, k); err != nil {
				return err
			}
			buf.WriteByte(' ')
			if err := Serialize(buf, v[k]); err != nil {
				return err
			}
		}
		buf.WriteString(">>")
	default:
		return fmt.Errorf("pdf: cannot serialize %T", o)
	}
	return nil
}

// Update is what an incremental update rewrites. Nil fields stay as they are.
type Update struct {
	Info Dict   // the complete new document information dictionary
	XMP  []byte // the new XMP packet; only written when the file already has a metadata stream
}

// AppendUpdate copies the original file to w and appends an incremental update holding a new
// Info object, a new metadata stream (reusing the old object number, so the catalog needs no
// change), a cross-reference table and a trailer whose /Prev points at the previous section.
func AppendUpdate(r io.ReaderAt, size int64, doc *Doc, u Update, w io.Writer) error {
	if _, err := io.Copy(w, io.NewSectionReader(r, 0, size)); err != nil {
		return fmt.Errorf("copy original: %w", err)
	}
	last := make([]byte, 1)
	if _, err := r.ReadAt(last, size-1); err != nil {
		return fmt.Errorf("read last byte: %w", err)
	}
	var buf bytes.Buffer
	if last[0] != '\n' && last[0] != '\r' {
		buf.WriteByte('\n')
	}
	nextNum := max(doc.Size, 1)
	offsets := map[int64]int64{}
	gens := map[int64]int64{}
	infoRef := doc.InfoRef
	if u.Info != nil {
		if infoRef.Num <= 0 {
			infoRef = Ref{Num: nextNum}
			nextNum++
		}
		offsets[infoRef.Num], gens[infoRef.Num] = size+int64(buf.Len()), infoRef.Gen
		fmt.Fprintf(&buf, "%d %d obj\n", infoRef.Num, infoRef.Gen)
		if err := Serialize(&buf, u.Info); err != nil {
			return err
		}
		buf.WriteString("\nendobj\n")
	}
	if u.XMP != nil && doc.MetadataRef.Num > 0 {
		m := doc.MetadataRef
		offsets[m.Num], gens[m.Num] = size+int64(buf.Len()), m.Gen
		fmt.Fprintf(&buf, "%d %d obj\n<</Type /Metadata /Subtype /XML /Length %d>>\nstream\n", m.Num, m.Gen, len(u.XMP))
		buf.Write(u.XMP)
		buf.WriteString("\nendstream\nendobj\n")
	}
	xrefOff := size + int64(buf.Len())
	buf.WriteString("xref\n")
	for _, n := range slices.Sorted(maps.Keys(offsets)) {
		fmt.Fprintf(&buf, "%d 1\n%010d %05d n\r\n", n, offsets[n], gens[n])
	}
	trailer := Dict{"Size": nextNum, "Root": doc.Root, "Prev": doc.StartXref}
	if infoRef.Num > 0 {
		trailer["Info"] = infoRef
	}
	if doc.ID != nil {
		trailer["ID"] = doc.ID
	}
	buf.WriteString("trailer\n")
	if err := Serialize(&buf, trailer); err != nil {
		return err
	}
	fmt.Fprintf(&buf, "\nstartxref\n%d\n%%%%EOF\n", xrefOff)
	_, err := w.Write(buf.Bytes())
	return err
}
