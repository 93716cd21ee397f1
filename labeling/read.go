package labeling

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/labelgate/labelgate/labeling/cfb"
	"github.com/labelgate/labelgate/labeling/ooxml"
	"github.com/labelgate/labelgate/labeling/pdf"
	"github.com/labelgate/labelgate/labeling/rangeio"
)

// maxPart caps every decompressed label part: real ones are a few KiB, so anything near this is
// a compression bomb or garbage.
const maxPart = 4 << 20

var extTypes = map[string]FileType{
	"docx": TypeWord, "docm": TypeWord, "dotx": TypeWord, "dotm": TypeWord,
	"xlsx": TypeExcel, "xlsm": TypeExcel, "xltx": TypeExcel, "xlam": TypeExcel,
	"pptx": TypePowerPoint, "pptm": TypePowerPoint, "potx": TypePowerPoint, "potm": TypePowerPoint,
	"ppsx": TypePowerPoint, "ppsm": TypePowerPoint,
	"pdf": TypePDF,
}

// TypeOf decides a file's family from its name's extension.
func TypeOf(name string) FileType {
	ext := strings.ToLower(strings.TrimPrefix(path.Ext(name), "."))
	if t, ok := extTypes[ext]; ok {
		return t
	}
	return TypeUnsupported
}

// IsSupported reports whether the label engine can read and write labels in files named so.
func IsSupported(name string) bool { return TypeOf(name) != TypeUnsupported }

var (
	magicZIP = []byte("PK\x03\x04")
	magicPDF = []byte("%PDF")
)

// Read finds the label of the file in r, reading as few bytes as it can: through a caching
// reader, so each ReadAt on r is one round trip (one HTTP Range request for connectors).
func Read(ctx context.Context, r io.ReaderAt, size int64, name string) (Result, error) {
	res := Result{Type: TypeOf(name)}
	if res.Type == TypeUnsupported {
		return res, fmt.Errorf("%w: %q", ErrUnsupported, name)
	}
	if size <= 0 {
		return res, fmt.Errorf("%w: empty file", ErrMalformed)
	}
	rr := rangeio.New(r, size, rangeio.Config{})
	if err := ctx.Err(); err != nil {
		return res, err
	}
	err := read(ctx, rr, size, &res)
	res.BytesRead, res.RoundTrips = rr.BytesRead(), rr.RoundTrips()
	return res, err
}

func read(ctx context.Context, rr *rangeio.Reader, size int64, res *Result) error {
	if res.Type == TypePDF {
		// Writers may put junk before the header; readers look in the first KiB. The fetch is
		// larger because writers usually put the catalog, Info and metadata near the start.
		probe := make([]byte, min(size, 1024))
		if err := rr.Prefetch([]rangeio.Range{{Off: 0, Len: rangeio.DefaultMinFetch}}, 0); err != nil {
			return mapErr(err)
		}
		if _, err := rr.ReadAt(probe, 0); err != nil && !errors.Is(err, io.EOF) {
			return mapErr(err)
		}
		if !bytes.Contains(probe, magicPDF) {
			return fmt.Errorf("%w: no %%PDF header", ErrMalformed)
		}
		return readPDF(ctx, rr, size, res)
	}
	// The first read fetches the tail. A ZIP's end record is there; its leading magic is then
	// confirmed from the same fetch that brings the first parts, saving a round trip.
	if isZipTail(rr, size) {
		return readOOXML(ctx, rr, size, res)
	}
	head := make([]byte, min(size, 512))
	if err := rr.Prefetch([]rangeio.Range{{Off: 0, Len: int64(len(head))}}, 0); err != nil {
		return mapErr(err)
	}
	if _, err := rr.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return mapErr(err)
	}
	switch {
	case bytes.HasPrefix(head, cfb.Magic):
		return readProtectedOffice(ctx, rr, size, res)
	case bytes.HasPrefix(head, magicZIP):
		return readOOXML(ctx, rr, size, res) // reports the missing end record
	}
	return fmt.Errorf("%w: %s file does not start with a ZIP or compound-file signature", ErrMalformed, res.Type)
}

// isZipTail reports whether the tail holds an end-of-central-directory record, looking at the
// common comment-less position before scanning the whole tail window.
func isZipTail(r io.ReaderAt, size int64) bool {
	sig := []byte("PK\x05\x06")
	last := make([]byte, min(size, 22))
	if _, err := r.ReadAt(last, size-int64(len(last))); err == nil && bytes.HasPrefix(last, sig) {
		return true
	}
	tail := make([]byte, min(size, rangeio.DefaultTail))
	if _, err := r.ReadAt(tail, size-int64(len(tail))); err != nil && !errors.Is(err, io.EOF) {
		return false
	}
	return bytes.Contains(tail, sig)
}

// mapErr turns the container packages' malformed errors into ErrMalformed. A file whose label
// needs more than the read budget is treated as malformed too: real ones need kilobytes.
func mapErr(err error) error {
	if err == nil || errors.Is(err, ErrMalformed) {
		return err
	}
	if errors.Is(err, ooxml.ErrMalformed) || errors.Is(err, pdf.ErrMalformed) || errors.Is(err, cfb.ErrMalformed) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, rangeio.ErrCacheFull) {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return err
}

// relsXML is the _rels/.rels wire struct.
type relsXML struct {
	XMLName xml.Name `xml:"Relationships"`
	Rels    []relXML `xml:"Relationship"`
}

type relXML struct {
	ID         string `xml:"Id,attr"`
	Type       string `xml:"Type,attr"`
	Target     string `xml:"Target,attr"`
	TargetMode string `xml:"TargetMode,attr,omitempty"`
}

// relTarget resolves a package-relationship target to a part name.
func relTarget(t string) string {
	t = strings.TrimPrefix(t, "/")
	return path.Clean("/" + t)[1:]
}

func parseRels(data []byte) (*relsXML, error) {
	var rels relsXML
	if err := xml.Unmarshal(data, &rels); err != nil {
		return nil, fmt.Errorf("%w: _rels/.rels: %v", ErrMalformed, err)
	}
	return &rels, nil
}

// ooxmlParts holds what reading an OOXML package found; the writer reuses it.
type ooxmlParts struct {
	archive       *ooxml.Archive
	rels          *relsXML
	labelInfoName string // "" when absent
	customName    string
	custom        *customPropsXML
	labels        []Label
}

func loadOOXML(ctx context.Context, r io.ReaderAt, size int64) (*ooxmlParts, error) {
	a, err := ooxml.Open(r, size)
	if err != nil {
		return nil, mapErr(err)
	}
	// One coalesced fetch for the three parts we may need, before we know the relationships.
	if err := a.Prefetch([]rangeio.Range{{Off: 0, Len: int64(len(magicZIP))}}, relsPath, labelInfoPath, customPath); err != nil {
		return nil, mapErr(err)
	}
	head := make([]byte, len(magicZIP))
	if _, err := r.ReadAt(head, 0); err != nil || !bytes.Equal(head, magicZIP) {
		return nil, fmt.Errorf("%w: no ZIP local-header signature at offset 0", ErrMalformed)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := &ooxmlParts{archive: a, rels: &relsXML{}}
	if data, err := a.ReadEntry(relsPath, maxPart); err == nil {
		if p.rels, err = parseRels(data); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, ooxml.ErrNotFound) {
		return nil, mapErr(err)
	}
	for _, rel := range p.rels.Rels {
		if strings.EqualFold(rel.TargetMode, "External") {
			continue
		}
		switch rel.Type {
		case relClassification:
			p.labelInfoName = relTarget(rel.Target)
		case relCustomProps:
			p.customName = relTarget(rel.Target)
		}
	}
	// Fall back to the conventional paths when a writer forgot the relationship.
	if _, ok := a.Lookup(p.labelInfoName); !ok || p.labelInfoName == "" {
		p.labelInfoName = ""
		if _, ok := a.Lookup(labelInfoPath); ok {
			p.labelInfoName = labelInfoPath
		}
	}
	if _, ok := a.Lookup(p.customName); !ok || p.customName == "" {
		p.customName = ""
		if _, ok := a.Lookup(customPath); ok {
			p.customName = customPath
		}
	}
	if p.labelInfoName != "" {
		data, err := a.ReadEntry(p.labelInfoName, maxPart)
		if err != nil {
			return nil, mapErr(err)
		}
		ls, err := parseLabelInfo(data, "labelinfo")
		if err != nil {
			return nil, err
		}
		p.labels = append(p.labels, ls...)
	}
	if p.customName != "" {
		data, err := a.ReadEntry(p.customName, maxPart)
		if err != nil {
			return nil, mapErr(err)
		}
		if p.custom, err = parseCustom(data); err != nil {
			return nil, err
		}
		p.labels = append(p.labels, customLabels(p.custom)...)
	}
	return p, nil
}

func readOOXML(ctx context.Context, r io.ReaderAt, size int64, res *Result) error {
	p, err := loadOOXML(ctx, r, size)
	if err != nil {
		return err
	}
	res.Labels = p.labels
	res.Label = effective(p.labels)
	return nil
}

func readPDF(ctx context.Context, r io.ReaderAt, size int64, res *Result) error {
	doc, err := pdf.Read(r, size)
	if err != nil {
		return mapErr(err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if doc.Encrypted {
		res.Protected, res.ProtectionKind = true, "password"
		if doc.EncryptFilter == "MicrosoftIRMServices" {
			res.ProtectionKind = "rms"
		}
	}
	var infoLabels, xmpLabels []Label
	if doc.Info != nil {
		var keys, vals []string
		for _, k := range slices.Sorted(maps.Keys(doc.Info)) {
			if s, ok := doc.Info[k].(pdf.String); ok {
				keys, vals = append(keys, string(k)), append(vals, s.Text())
			}
		}
		infoLabels = propLabels(keys, vals, "pdf-info", doc.Encrypted)
	}
	if doc.XMP != nil {
		keys, vals, err := xmpProps(doc.XMP)
		if err != nil && !doc.Encrypted {
			return err
		}
		xmpLabels = propLabels(keys, vals, "pdf-xmp", doc.Encrypted)
	}
	res.Labels = append(infoLabels, xmpLabels...)
	// The newest incremental update wins when Info and XMP disagree; on a tie Info does.
	first, second := infoLabels, xmpLabels
	if doc.XMPAge >= 0 && (doc.InfoAge < 0 || doc.XMPAge < doc.InfoAge) {
		first, second = xmpLabels, infoLabels
	}
	if res.Label = effective(first); res.Label == nil && len(first) == 0 {
		res.Label = effective(second)
	}
	return nil
}

func readProtectedOffice(ctx context.Context, r io.ReaderAt, size int64, res *Result) error {
	f, err := cfb.Open(r, size)
	if err != nil {
		return mapErr(err)
	}
	if _, ok := f.Find("EncryptedPackage"); !ok {
		return fmt.Errorf("%w: compound file without an EncryptedPackage stream (a legacy binary Office file?)", ErrUnsupported)
	}
	res.Protected, res.ProtectionKind = true, "password"
	if e, ok := f.Find("\x06DataSpaces", "DataSpaceMap"); ok {
		data, err := f.ReadStream(e, 1<<20)
		if err != nil {
			return mapErr(err)
		}
		if bytes.Contains(data, utf16le("DRMEncryptedDataSpace")) {
			res.ProtectionKind = "rms"
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ti, ok := f.Find("\x06DataSpaces", "TransformInfo")
	if !ok {
		return nil
	}
	// The LabelInfo stream may sit directly under TransformInfo or in a transform's storage.
	var walk func(e cfb.Entry, depth int) error
	walk = func(e cfb.Entry, depth int) error {
		if depth > 4 {
			return nil
		}
		for _, c := range f.Children(e) {
			switch {
			case c.Type == cfb.TypeStorage:
				if err := walk(c, depth+1); err != nil {
					return err
				}
			case c.Type == cfb.TypeStream && strings.EqualFold(c.Name, "LabelInfo"):
				data, err := f.ReadStream(c, maxPart)
				if err != nil {
					return mapErr(err)
				}
				// Some writers put a length prefix before the XML; start at the first tag.
				if i := bytes.IndexByte(data, '<'); i > 0 {
					data = data[i:]
				}
				ls, err := parseLabelInfo(data, "cfb-labelinfo")
				if err != nil {
					return err
				}
				res.Labels = append(res.Labels, ls...)
			}
		}
		return nil
	}
	if err := walk(ti, 0); err != nil {
		return err
	}
	res.Label = effective(res.Labels)
	return nil
}

func utf16le(s string) []byte {
	out := make([]byte, 0, 2*len(s))
	for _, c := range s {
		out = append(out, byte(c), byte(c>>8))
	}
	return out
}
