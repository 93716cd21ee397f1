package pdf

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/labelgate/labelgate/labeling/rangeio"
)

const (
	maxSections   = 256
	maxResolves   = 512
	maxObjectSize = 1 << 20
	maxXrefBytes  = 32 << 20
	// MaxStream bounds every decoded stream the reader touches (XMP, xref and object streams).
	MaxStream = 8 << 20
	// maxXMP bounds the metadata stream specifically: labels never need more.
	maxXMP = 4 << 20
)

type xrefEntry struct {
	typ byte  // 1 = at offset, 2 = in object stream
	off int64 // offset, or object-stream number
	idx int64 // index in the object stream
	gen int64
	age int // 0 = newest section
}

// Doc is what the reader learned about a PDF.
type Doc struct {
	StartXref    int64 // offset of the newest cross-reference section
	Size         int64 // /Size of the newest trailer
	Root         Ref
	ID           Object // trailer /ID, copied into updates
	XrefIsStream bool

	Info    Dict // nil when the file has none
	InfoRef Ref
	InfoAge int // how many updates ago the Info object was written (0 = newest); -1 when absent

	XMP         []byte // decoded XMP packet; nil when absent
	MetadataRef Ref
	XMPAge      int // -1 when absent

	Encrypted     bool
	EncryptFilter string // e.g. "Standard", "MicrosoftIRMServices"
	IRMVersion    int64

	// EncryptedPayload is set for a PDF 2.0 unencrypted wrapper document (ISO 32000-2 7.6.7):
	// an associated file related as /EncryptedPayload holds the real, encrypted document.
	EncryptedPayload bool
	// PayloadSubtype is the payload's cryptographic filter, from the file specification's
	// /EP dictionary or the embedded file stream's /Subtype, e.g. "MicrosoftIRMServices".
	PayloadSubtype string
}

// objStream is a decoded object stream: its data and where the objects start.
type objStream struct {
	data  []byte
	first int64
}

type reader struct {
	r        io.ReaderAt
	size     int64
	xref     map[int64]xrefEntry
	objstm   map[int64]objStream
	resolves int
}

func readAt(r io.ReaderAt, off int64, n int64, size int64) ([]byte, error) {
	if off < 0 || off > size {
		return nil, malformed("offset %d outside the %d-byte file", off, size)
	}
	b, err := rangeio.ReadFull(r, off, int(min(n, size-off)))
	if err != nil && !errors.Is(err, rangeio.ErrCacheFull) {
		err = fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return b, err
}

// Read parses the trailer chain and loads the Info dictionary and XMP metadata.
func Read(r io.ReaderAt, size int64) (*Doc, error) {
	if size < 16 {
		return nil, malformed("%d bytes is too small for a PDF", size)
	}
	tailLen := min(size, 2048)
	tail, err := readAt(r, size-tailLen, tailLen, size)
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndex(tail, []byte("startxref"))
	if i < 0 {
		return nil, malformed("no startxref in the last %d bytes", tailLen)
	}
	l := &lexer{b: tail, pos: i + len("startxref")}
	l.skipSpace()
	start, err := strconv.ParseInt(string(l.keyword()), 10, 64)
	if err != nil || start <= 0 || start >= size {
		return nil, malformed("startxref offset %q invalid", l.b[i:min(len(l.b), i+30)])
	}
	rd := &reader{r: r, size: size, xref: map[int64]xrefEntry{}, objstm: map[int64]objStream{}}
	doc := &Doc{StartXref: start, InfoAge: -1, XMPAge: -1}
	var trailers []Dict
	seen := map[int64]bool{}
	for off, age := start, 0; ; age++ {
		if seen[off] {
			return nil, malformed("cross-reference chain loops back to %d", off)
		}
		if age >= maxSections {
			return nil, malformed("more than %d cross-reference sections", maxSections)
		}
		seen[off] = true
		trailer, isStream, err := rd.section(off, age)
		if err != nil {
			return nil, fmt.Errorf("cross-reference section at %d: %w", off, err)
		}
		if age == 0 {
			doc.XrefIsStream = isStream
			doc.Size, _ = trailer["Size"].(int64)
		}
		// A hybrid file's table points at a stream holding the compressed objects' entries.
		if x, ok := trailer["XRefStm"].(int64); ok && !seen[x] {
			seen[x] = true
			if _, _, err := rd.section(x, age); err != nil {
				return nil, fmt.Errorf("XRefStm at %d: %w", x, err)
			}
		}
		trailers = append(trailers, trailer)
		prev, ok := trailer["Prev"].(int64)
		if !ok {
			break
		}
		if prev <= 0 || prev >= size {
			return nil, malformed("/Prev %d out of range", prev)
		}
		off = prev
	}
	// Newer trailers should repeat every key; fall back to older ones when a writer did not.
	get := func(k Name) Object {
		for _, t := range trailers {
			if v, ok := t[k]; ok {
				return v
			}
		}
		return nil
	}
	doc.ID = get("ID")
	if enc := get("Encrypt"); enc != nil {
		doc.Encrypted = true
		if d, ok := rd.resolve(enc).(Dict); ok {
			if f, ok := d["Filter"].(Name); ok {
				doc.EncryptFilter = string(f)
			}
			doc.IRMVersion, _ = rd.resolve(d["MicrosoftIRMVersion"]).(int64)
		}
	}
	if ref, ok := get("Info").(Ref); ok {
		o, err := rd.object(ref)
		if err != nil {
			return nil, fmt.Errorf("info dictionary: %w", err)
		}
		if d, ok := o.(Dict); ok {
			doc.Info, doc.InfoRef, doc.InfoAge = d, ref, rd.xref[ref.Num].age
		}
	} else if d, ok := get("Info").(Dict); ok {
		doc.Info = d
	}
	root, ok := get("Root").(Ref)
	if !ok {
		return nil, malformed("trailer has no /Root reference")
	}
	doc.Root = root
	cat, err := rd.object(root)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	catalog, _ := cat.(Dict)
	if mref, ok := catalog["Metadata"].(Ref); ok {
		o, err := rd.object(mref)
		if err != nil {
			return nil, fmt.Errorf("metadata: %w", err)
		}
		if s, ok := o.(*Stream); ok {
			data, err := rd.streamData(s, maxXMP)
			if err != nil {
				return nil, fmt.Errorf("metadata stream: %w", err)
			}
			doc.XMP, doc.MetadataRef, doc.XMPAge = data, mref, rd.xref[mref.Num].age
		}
	}
	rd.encryptedPayload(catalog, doc)
	return doc, nil
}

// maxAF bounds the associated files looked at: a wrapper has one.
const maxAF = 16

// encryptedPayload looks for the PDF 2.0 wrapper's payload: the catalog's /AF (associated files)
// or, for writers that only list it there, the /EmbeddedFiles name tree's top level. Lookups
// are optional: a broken reference just means no payload was found.
func (rd *reader) encryptedPayload(catalog Dict, doc *Doc) {
	var specs []Object
	if af, ok := rd.resolve(catalog["AF"]).([]Object); ok {
		specs = append(specs, af[:min(len(af), maxAF)]...)
	}
	if names, ok := rd.resolve(catalog["Names"]).(Dict); ok {
		if ef, ok := rd.resolve(names["EmbeddedFiles"]).(Dict); ok {
			if arr, ok := rd.resolve(ef["Names"]).([]Object); ok {
				for i := 1; i < len(arr) && i < 2*maxAF; i += 2 {
					specs = append(specs, arr[i])
				}
			}
		}
	}
	for _, o := range specs {
		fs, ok := rd.resolve(o).(Dict)
		if !ok {
			continue
		}
		if rel, _ := fs["AFRelationship"].(Name); rel != "EncryptedPayload" {
			continue
		}
		doc.EncryptedPayload = true
		if ep, ok := rd.resolve(fs["EP"]).(Dict); ok {
			if st, ok := ep["Subtype"].(Name); ok {
				doc.PayloadSubtype = string(st)
				return
			}
		}
		if ef, ok := rd.resolve(fs["EF"]).(Dict); ok {
			ref, _ := ef["F"].(Ref)
			if ref == (Ref{}) {
				ref, _ = ef["UF"].(Ref)
			}
			if ref != (Ref{}) {
				if s, err := rd.object(ref); err == nil {
					if st, ok := s.(*Stream); ok {
						if sub, ok := st.Dict["Subtype"].(Name); ok {
							doc.PayloadSubtype = string(sub)
						}
					}
				}
			}
		}
		return
	}
}

// grow reads a window at off and calls parse on it, doubling the window while parse reports errShort.
func (rd *reader) grow(off int64, first, limit int64, parse func(l *lexer) error) error {
	for n := first; ; n *= 2 {
		n = min(n, limit, rd.size-off)
		buf, err := readAt(rd.r, off, n, rd.size)
		if err != nil {
			return err
		}
		err = parse(&lexer{b: buf})
		if !errors.Is(err, errShort) {
			return err
		}
		if n >= limit || off+n >= rd.size {
			return malformed("object at %d runs past %d bytes or the end of file", off, n)
		}
	}
}

func (rd *reader) add(num int64, e xrefEntry) {
	if num < 0 {
		return
	}
	if _, ok := rd.xref[num]; !ok {
		rd.xref[num] = e
	}
}

// section parses a classic table or an xref stream at off and returns its trailer dictionary.
func (rd *reader) section(off int64, age int) (Dict, bool, error) {
	var trailer Dict
	isStream := false
	err := rd.grow(off, 16<<10, maxXrefBytes, func(l *lexer) error {
		l.skipSpace()
		if !bytes.HasPrefix(l.b[l.pos:], []byte("xref")) {
			isStream = true
			return nil
		}
		l.pos += 4
		entries := map[int64]xrefEntry{}
		for {
			l.skipSpace()
			kw := l.peekKeyword()
			if string(kw) == "trailer" {
				l.skipSpace()
				l.pos += len("trailer")
				o, err := l.object(0)
				if err != nil {
					return err
				}
				d, ok := o.(Dict)
				if !ok {
					return malformed("trailer is not a dictionary")
				}
				trailer = d
				for n, e := range entries {
					rd.add(n, e)
				}
				return nil
			}
			first, err1 := strconv.ParseInt(string(l.keyword()), 10, 64)
			l.skipSpace()
			count, err2 := strconv.ParseInt(string(l.keyword()), 10, 64)
			if err1 != nil || err2 != nil || first < 0 || count < 0 {
				if l.pos >= len(l.b) {
					return errShort
				}
				return malformed("bad xref subsection header")
			}
			if count > int64(len(l.b)-l.pos)/18+1 {
				if int64(len(l.b)) >= maxXrefBytes {
					return malformed("xref subsection of %d entries is implausible", count)
				}
				return errShort
			}
			for i := int64(0); i < count; i++ {
				l.skipSpace()
				o, e1 := strconv.ParseInt(string(l.keyword()), 10, 64)
				l.skipSpace()
				g, e2 := strconv.ParseInt(string(l.keyword()), 10, 64)
				l.skipSpace()
				t := l.keyword()
				if e1 != nil || e2 != nil || len(t) != 1 {
					if l.pos >= len(l.b) {
						return errShort
					}
					return malformed("bad xref entry %d", first+i)
				}
				if t[0] == 'n' {
					entries[first+i] = xrefEntry{typ: 1, off: o, gen: g, age: age}
				} else if t[0] == 'f' {
					entries[first+i] = xrefEntry{age: age}
				}
			}
		}
	})
	if err != nil || !isStream {
		return trailer, false, err
	}
	var s *Stream
	err = rd.grow(off, 4<<10, maxObjectSize, func(l *lexer) error {
		_, o, err := l.indirect(off)
		if err != nil {
			return err
		}
		var ok bool
		if s, ok = o.(*Stream); !ok {
			return malformed("neither an xref table nor an xref stream")
		}
		return nil
	})
	if err != nil {
		return nil, true, err
	}
	if t, _ := s.Dict["Type"].(Name); t != "XRef" {
		return nil, true, malformed("stream at %d is not /Type /XRef", off)
	}
	data, err := rd.streamData(s, MaxStream)
	if err != nil {
		return nil, true, err
	}
	w, _ := s.Dict["W"].([]Object)
	if len(w) != 3 {
		return nil, true, malformed("xref stream /W must have 3 entries")
	}
	var ws [3]int
	for i, v := range w {
		n, ok := v.(int64)
		if !ok || n < 0 || n > 8 {
			return nil, true, malformed("bad xref stream /W")
		}
		ws[i] = int(n)
	}
	size, _ := s.Dict["Size"].(int64)
	index := []Object{int64(0), size}
	if ix, ok := s.Dict["Index"].([]Object); ok {
		index = ix
	}
	rec := ws[0] + ws[1] + ws[2]
	if rec == 0 {
		return nil, true, malformed("xref stream /W is all zero")
	}
	field := func(b []byte, width int, def int64) int64 {
		if width == 0 {
			return def
		}
		var v int64
		for _, c := range b[:width] {
			v = v<<8 | int64(c)
		}
		return v
	}
	pos := 0
	for i := 0; i+1 < len(index); i += 2 {
		first, ok1 := index[i].(int64)
		count, ok2 := index[i+1].(int64)
		if !ok1 || !ok2 || first < 0 || count < 0 || count > int64(len(data)/rec)+1 {
			return nil, true, malformed("bad xref stream /Index")
		}
		for j := int64(0); j < count; j++ {
			if pos+rec > len(data) {
				return nil, true, malformed("xref stream data shorter than /Index says")
			}
			b := data[pos : pos+rec]
			pos += rec
			typ := field(b, ws[0], 1)
			f2 := field(b[ws[0]:], ws[1], 0)
			f3 := field(b[ws[0]+ws[1]:], ws[2], 0)
			switch typ {
			case 0:
				rd.add(first+j, xrefEntry{age: age})
			case 1:
				rd.add(first+j, xrefEntry{typ: 1, off: f2, gen: f3, age: age})
			case 2:
				rd.add(first+j, xrefEntry{typ: 2, off: f2, idx: f3, age: age})
			}
		}
	}
	return s.Dict, true, nil
}

// resolve follows references (bounded) and returns nil for anything unresolvable: callers of
// resolve only want optional values.
func (rd *reader) resolve(o Object) Object {
	for i := 0; i < 8; i++ {
		ref, ok := o.(Ref)
		if !ok {
			return o
		}
		var err error
		if o, err = rd.object(ref); err != nil {
			return nil
		}
	}
	return nil
}

// object loads an indirect object through the cross-reference table.
func (rd *reader) object(ref Ref) (Object, error) {
	if rd.resolves++; rd.resolves > maxResolves {
		return nil, malformed("more than %d object lookups", maxResolves)
	}
	e, ok := rd.xref[ref.Num]
	if !ok || e.typ == 0 {
		return nil, nil // an undefined object is the null object
	}
	if e.typ == 2 {
		return rd.compressed(ref.Num, e)
	}
	var obj Object
	err := rd.grow(e.off, 4<<10, maxObjectSize, func(l *lexer) error {
		got, o, err := l.indirect(e.off)
		if err != nil {
			return err
		}
		if got.Num != ref.Num {
			return malformed("object %d expected at %d, found %d", ref.Num, e.off, got.Num)
		}
		obj = o
		return nil
	})
	return obj, err
}

func (rd *reader) compressed(num int64, e xrefEntry) (Object, error) {
	st, ok := rd.objstm[e.off]
	if !ok {
		se, ok := rd.xref[e.off]
		if !ok || se.typ != 1 {
			return nil, malformed("object stream %d for object %d is missing", e.off, num)
		}
		o, err := rd.object(Ref{Num: e.off})
		if err != nil {
			return nil, err
		}
		s, ok := o.(*Stream)
		if !ok {
			return nil, malformed("object %d is not an object stream", e.off)
		}
		data, err := rd.streamData(s, MaxStream)
		if err != nil {
			return nil, err
		}
		first, _ := s.Dict["First"].(int64)
		n, _ := s.Dict["N"].(int64)
		if first < 0 || first > int64(len(data)) || n < 0 || n > int64(len(data)) {
			return nil, malformed("object stream %d has a bad /First or /N", e.off)
		}
		st = objStream{data: data, first: first}
		rd.objstm[e.off] = st
	}
	data := st.data
	l := &lexer{b: data}
	var target int64 = -1
	for i := int64(0); i <= e.idx; i++ {
		l.skipSpace()
		on, err1 := strconv.ParseInt(string(l.keyword()), 10, 64)
		l.skipSpace()
		oo, err2 := strconv.ParseInt(string(l.keyword()), 10, 64)
		if err1 != nil || err2 != nil {
			return nil, malformed("object stream %d header is short", e.off)
		}
		if i == e.idx && on == num {
			target = oo
		}
	}
	o := st.first
	if target < 0 || o+target >= int64(len(data)) {
		return nil, malformed("object %d not found in object stream %d", num, e.off)
	}
	l = &lexer{b: data[o+target:]}
	obj, err := l.object(0)
	if errors.Is(err, errShort) {
		return nil, malformed("object %d truncated in object stream %d", num, e.off)
	}
	return obj, err
}

// streamData reads and decodes a stream, refusing more than limit decoded bytes.
func (rd *reader) streamData(s *Stream, limit int64) ([]byte, error) {
	n, ok := rd.resolve(s.Dict["Length"]).(int64)
	if !ok || n < 0 {
		return nil, malformed("stream has no usable /Length")
	}
	if n > limit+limit/8+1024 || s.DataOff+n > rd.size {
		return nil, malformed("stream /Length %d is over the limit or past the end", n)
	}
	raw, err := readAt(rd.r, s.DataOff, n, rd.size)
	if err != nil {
		return nil, err
	}
	filters := []Object{}
	switch f := s.Dict["Filter"].(type) {
	case Name:
		filters = append(filters, f)
	case []Object:
		filters = f
	}
	params := []Object{s.Dict["DecodeParms"]}
	if p, ok := s.Dict["DecodeParms"].([]Object); ok {
		params = p
	}
	data := raw
	for i, f := range filters {
		switch f {
		case Name("FlateDecode"), Name("Fl"):
			zr, err := zlib.NewReader(bytes.NewReader(data))
			if err != nil {
				return nil, malformed("FlateDecode: %v", err)
			}
			out, err := io.ReadAll(io.LimitReader(zr, limit+1))
			if err != nil && len(out) == 0 {
				return nil, malformed("FlateDecode: %v", err)
			}
			if int64(len(out)) > limit {
				return nil, malformed("stream inflates past %d bytes", limit)
			}
			data = out
			if i < len(params) {
				if p, ok := params[i].(Dict); ok {
					if data, err = unpredict(data, p); err != nil {
						return nil, err
					}
				}
			}
		default:
			return nil, malformed("unsupported stream filter %v", f)
		}
	}
	if int64(len(data)) > limit {
		return nil, malformed("stream of %d bytes is over the %d-byte limit", len(data), limit)
	}
	return data, nil
}

// unpredict undoes PNG predictors (Predictor >= 10), which xref streams commonly use.
func unpredict(data []byte, p Dict) ([]byte, error) {
	pred, _ := p["Predictor"].(int64)
	if pred < 10 {
		if pred > 1 {
			return nil, malformed("TIFF predictor unsupported")
		}
		return data, nil
	}
	cols, ok := p["Columns"].(int64)
	if !ok {
		cols = 1
	}
	if cols <= 0 || cols > 1<<16 {
		return nil, malformed("bad predictor /Columns")
	}
	row := int(cols) + 1
	out := make([]byte, 0, len(data))
	prev := make([]byte, cols)
	for off := 0; off+row <= len(data); off += row {
		ft, cur := data[off], append([]byte(nil), data[off+1:off+row]...)
		for i := range cur {
			var left, up, ul byte
			if i > 0 {
				left, ul = cur[i-1], prev[i-1]
			}
			up = prev[i]
			switch ft {
			case 0:
			case 1:
				cur[i] += left
			case 2:
				cur[i] += up
			case 3:
				cur[i] += byte((int(left) + int(up)) / 2)
			case 4:
				cur[i] += paeth(left, up, ul)
			default:
				return nil, malformed("bad PNG filter type %d", ft)
			}
		}
		out = append(out, cur...)
		prev = cur
	}
	return out, nil
}

func paeth(a, b, c byte) byte {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := abs(p-int(a)), abs(p-int(b)), abs(p-int(c))
	switch {
	case pa <= pb && pa <= pc:
		return a
	case pb <= pc:
		return b
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
