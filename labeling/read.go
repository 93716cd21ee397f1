package labeling

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/labelgate/labelgate/labeling/cfb"
	"github.com/labelgate/labelgate/labeling/ole"
	"github.com/labelgate/labelgate/labeling/ooxml"
	"github.com/labelgate/labelgate/labeling/pdf"
	"github.com/labelgate/labelgate/labeling/pfile"
	"github.com/labelgate/labelgate/labeling/rangeio"
)

// maxPart caps every decompressed label part: real ones are a few KiB, so anything near this is
// a compression bomb or garbage.
const maxPart = 4 << 20

// extTypes are the types labelgate reads and writes labels in. xlsb is the same OPC package
// as xlsx (only the workbook parts are binary), so its label parts are the same.
var extTypes = map[string]FileType{
	"docx": TypeWord, "docm": TypeWord, "dotx": TypeWord, "dotm": TypeWord,
	"xlsx": TypeExcel, "xlsm": TypeExcel, "xltx": TypeExcel, "xlam": TypeExcel, "xlsb": TypeExcel,
	"pptx": TypePowerPoint, "pptm": TypePowerPoint, "potx": TypePowerPoint, "potm": TypePowerPoint,
	"ppsx": TypePowerPoint, "ppsm": TypePowerPoint,
	"pdf": TypePDF,
}

// readTypes are the types read but never written: legacy binary Office files (their label is
// in the OLE property set) and RMS pfiles.
var readTypes = map[string]FileType{
	"doc": TypeWord, "dot": TypeWord,
	"xls": TypeExcel, "xlt": TypeExcel, "xla": TypeExcel,
	"ppt": TypePowerPoint, "pot": TypePowerPoint, "pps": TypePowerPoint,
}

// pfileExts are the extensions of RMS protected files: ".pfile" and "p" + the wrapped file's
// extension (the AIP client's list of generic-protection extensions).
var pfileExts = map[string]bool{
	"pfile": true, "ptxt": true, "pxml": true, "ppdf": true, "pjpg": true, "pjpeg": true, "pjpe": true,
	"pjfif": true, "pjt": true, "ppng": true, "pgif": true, "pbmp": true, "ptif": true, "ptiff": true,
}

func extOf(name string) string {
	return strings.ToLower(strings.TrimPrefix(path.Ext(name), "."))
}

// TypeOf decides from a file's name the type labelgate can write labels into;
// TypeUnsupported for every other name (WriteUnsupported says why).
func TypeOf(name string) FileType {
	if t, ok := extTypes[extOf(name)]; ok {
		return t
	}
	return TypeUnsupported
}

// ReadTypeOf is the type a file's name suggests for reading: the writable types, legacy binary
// Office files and pfiles. The bytes decide in the end (Read sniffs them).
func ReadTypeOf(name string) FileType {
	ext := extOf(name)
	if t, ok := extTypes[ext]; ok {
		return t
	}
	if t, ok := readTypes[ext]; ok {
		return t
	}
	if pfileExts[ext] {
		return TypePFile
	}
	return TypeUnsupported
}

// IsSupported reports whether the label engine reads labels of files named so: scanners and
// rescans pick files by it. Writing needs TypeOf too.
func IsSupported(name string) bool { return ReadTypeOf(name) != TypeUnsupported }

var (
	magicZIP   = []byte("PK\x03\x04")
	magicPDF   = []byte("%PDF")
	magicPFile = []byte(".pfile")
)

// ReadOptions shape one read.
type ReadOptions struct {
	// Tenant is the organisation's tenant (labels.tenantId): the file's label is its label when
	// the file carries one. "" keeps the precedence of a single-tenant read.
	Tenant string
}

// Read finds the label of the file in r, reading as few bytes as it can: through a caching
// reader, so each ReadAt on r is one round trip (one HTTP Range request for connectors).
func Read(ctx context.Context, r io.ReaderAt, size int64, name string) (Result, error) {
	return ReadWith(ctx, r, size, name, ReadOptions{})
}

// ReadWith is Read with options. The name's extension is only a hint: the file's bytes decide
// its type (an OOXML package named .doc is read as OOXML).
func ReadWith(ctx context.Context, r io.ReaderAt, size int64, name string, o ReadOptions) (Result, error) {
	res := Result{Type: ReadTypeOf(name)}
	if size <= 0 {
		if res.Type == TypeUnsupported {
			return res, &UnsupportedError{Name: name, Reason: "empty file of an unsupported type"}
		}
		return res, fmt.Errorf("%w: empty file", ErrMalformed)
	}
	rr := rangeio.New(r, size, rangeio.Config{})
	if err := ctx.Err(); err != nil {
		return res, err
	}
	err := read(ctx, rr, size, name, &res)
	res.BytesRead, res.RoundTrips = rr.BytesRead(), rr.RoundTrips()
	rr.Release() // read copied out everything it keeps
	if err != nil {
		return res, err
	}
	res.Label = res.LabelFor(o.Tenant)
	return res, nil
}

func read(ctx context.Context, rr *rangeio.Reader, size int64, name string, res *Result) error {
	hint := res.Type
	if hint == TypePDF {
		// Writers may put junk before the header; readers look in the first KiB. The fetch is
		// larger because writers usually put the catalog, Info and metadata near the start.
		if err := rr.Prefetch([]rangeio.Range{{Off: 0, Len: rangeio.DefaultMinFetch}}, 0); err != nil {
			return mapErr(err)
		}
		h, err := head(rr, size, 1024)
		if err != nil {
			return err
		}
		if bytes.Contains(h, magicPDF) {
			return readPDF(ctx, rr, size, res)
		}
	} else if zip, err := isZipTail(rr, size); err != nil {
		return err
	} else if zip {
		// The first read fetched the tail. A ZIP's end record is there; its leading magic is then
		// confirmed from the same fetch that brings the first parts, saving a round trip.
		return readOOXML(ctx, rr, size, res)
	}
	h, err := head(rr, size, 1024)
	if err != nil {
		return err
	}
	switch {
	case bytes.HasPrefix(h, cfb.Magic):
		return readCFB(ctx, rr, size, name, res)
	case bytes.HasPrefix(h, magicPFile):
		return readPFile(ctx, rr, size, res)
	case bytes.HasPrefix(h, magicZIP):
		return readOOXML(ctx, rr, size, res) // reports the missing end record
	case bytes.Contains(h, magicPDF):
		res.Type = TypePDF
		return readPDF(ctx, rr, size, res)
	}
	if hint == TypeUnsupported {
		return &UnsupportedError{Name: name, Reason: "neither its name nor its first bytes are those of an Office, PDF or RMS protected file"}
	}
	return fmt.Errorf("%w: %s file does not start with a ZIP, compound-file, PDF or pfile signature", ErrMalformed, hint)
}

// head returns up to n leading bytes. A failing read is returned as is: a provider's
// throttling or outage must reach the caller (who retries), not pass for a malformed file.
func head(r io.ReaderAt, size int64, n int) ([]byte, error) {
	b := make([]byte, min(size, int64(n)))
	got, err := r.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, mapErr(err)
	}
	return b[:got], nil
}

// isZipTail reports whether the tail holds an end-of-central-directory record, looking at the
// common comment-less position before scanning the whole tail window. A candidate counts only
// when its comment length reaches exactly to the end of the file: the signature's four bytes
// also occur by chance inside other formats (a legacy .xls has them).
func isZipTail(r io.ReaderAt, size int64) (bool, error) {
	sig := []byte("PK\x05\x06")
	last := make([]byte, min(size, 22))
	if _, err := r.ReadAt(last, size-int64(len(last))); err != nil && !errors.Is(err, io.EOF) {
		return false, mapErr(err)
	}
	if len(last) == 22 && bytes.HasPrefix(last, sig) && binary.LittleEndian.Uint16(last[20:]) == 0 {
		return true, nil
	}
	tail := make([]byte, min(size, rangeio.DefaultTail))
	if _, err := r.ReadAt(tail, size-int64(len(tail))); err != nil && !errors.Is(err, io.EOF) {
		return false, mapErr(err)
	}
	for i := bytes.LastIndex(tail, sig); i >= 0; i = bytes.LastIndex(tail[:i], sig) {
		if i+22 <= len(tail) && int(binary.LittleEndian.Uint16(tail[i+20:])) == len(tail)-i-22 {
			return true, nil
		}
	}
	return false, nil
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
	if kids, ok := fastChildren(data, "Relationships", "Relationship"); ok {
		rels := &relsXML{}
		for _, k := range kids {
			rels.Rels = append(rels.Rels, relXML{ID: k.attrs["Id"], Type: k.attrs["Type"], Target: k.attrs["Target"],
				TargetMode: k.attrs["TargetMode"]})
		}
		return rels, nil
	}
	return parseRelsXML(data)
}

// parseRelsXML is parseRels through encoding/xml, for what the fast scanner leaves to it.
func parseRelsXML(data []byte) (*relsXML, error) {
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
		ls, err := parseLabelInfo(data, SourceLabelInfo)
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
	// The package's main part says which application wrote it, whatever the file is called.
	for _, fam := range []struct {
		part string
		t    FileType
	}{{"word/document.xml", TypeWord}, {"xl/workbook.xml", TypeExcel}, {"xl/workbook.bin", TypeExcel},
		{"ppt/presentation.xml", TypePowerPoint}} {
		if _, ok := p.archive.Lookup(fam.part); ok {
			res.Type = fam.t
			break
		}
	}
	if res.Type == TypePDF || res.Type == TypePFile || res.Type == TypeUnsupported {
		res.Type = TypeOffice
	}
	res.Labels = p.labels
	res.Effective = perTenant(p.labels, officeRank)
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
		res.Protected, res.ProtectionKind = true, ProtectionPassword
		if doc.EncryptFilter == "MicrosoftIRMServices" {
			res.ProtectionKind = ProtectionRMS
		}
	}
	// The PDF 2.0 wrapper (ISO 32000-2 7.6.7): an unencrypted cover document whose real content
	// is an embedded file related as /EncryptedPayload; Microsoft's has /Subtype
	// /MicrosoftIRMServices (shared/samples/real/README.md). No /Encrypt anywhere.
	if doc.EncryptedPayload {
		res.Protected, res.ProtectionKind, res.Container = true, ProtectionPassword, "pdf-irm-wrapper"
		if doc.PayloadSubtype == "MicrosoftIRMServices" {
			res.ProtectionKind = ProtectionRMS
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
		infoLabels = propLabels(keys, vals, SourcePDFInfo, doc.Encrypted)
	}
	if doc.XMP != nil {
		keys, vals, err := xmpProps(doc.XMP)
		if err != nil && !doc.Encrypted {
			return err
		}
		xmpLabels = propLabels(keys, vals, SourcePDFXMP, doc.Encrypted)
	}
	res.Labels = append(infoLabels, xmpLabels...)
	if doc.Encrypted {
		// An encrypted PDF's strings are ciphertext: only the keys (the label id) are facts.
		for i := range res.Labels {
			res.Labels[i].Name, res.Labels[i].ParentID = "", ""
		}
	}
	// The newest incremental update wins when Info and XMP disagree; on a tie Info does.
	newer := SourcePDFInfo
	if doc.XMPAge >= 0 && (doc.InfoAge < 0 || doc.XMPAge < doc.InfoAge) {
		newer = SourcePDFXMP
	}
	res.Effective = perTenant(res.Labels, func(src string) int {
		if src == newer {
			return 2
		}
		return 1
	})
	return nil
}

// readCFB reads an OLE compound file: a protected OOXML package (EncryptedPackage), a legacy
// binary Word, Excel or PowerPoint file, or one of those protected by IRM (\tDRMContent).
// Only the directory and the few small streams that carry labels and protection are read.
func readCFB(ctx context.Context, r io.ReaderAt, size int64, name string, res *Result) error {
	f, err := cfb.Open(r, size)
	if err != nil {
		return mapErr(err)
	}
	has := func(path ...string) bool { _, ok := f.Find(path...); return ok }
	switch {
	case has("WordDocument"):
		res.Type = TypeWord
	case has("Workbook"), has("Book"):
		res.Type = TypeExcel
	case has("PowerPoint Document"):
		res.Type = TypePowerPoint
	}
	encPkg, drmContent := has("EncryptedPackage"), has("\tDRMContent")
	switch {
	case encPkg:
		res.Container = "encrypted-package"
		res.Protected, res.ProtectionKind = true, ProtectionPassword
		if res.Type == TypeUnsupported || res.Type == TypePDF || res.Type == TypePFile {
			res.Type = TypeOffice
		}
	case drmContent:
		// Office 2003 IRM: the document's streams are replaced by \tDRMContent, encrypted by
		// the \tDRMTransform of \006DataSpaces (Word, Excel and PowerPoint 97-2003 alike).
		res.Container = "drm-content"
		res.Protected, res.ProtectionKind = true, ProtectionRMS
		if res.Type == TypeUnsupported || res.Type == TypePDF || res.Type == TypePFile {
			res.Type = TypeOffice
		}
	case res.Type == TypeWord || res.Type == TypeExcel || res.Type == TypePowerPoint:
		res.Container = "ole"
		kind, err := legacyEncryption(f, res.Type)
		if err != nil {
			return err
		}
		if kind != "" {
			res.Protected, res.ProtectionKind = true, kind
		}
	default:
		return &UnsupportedError{Name: name, Reason: "a compound file that holds no Word, Excel or PowerPoint document"}
	}
	if e, ok := f.Find("\x06DataSpaces", "DataSpaceMap"); ok && res.Protected {
		data, err := f.ReadStream(e, 1<<20)
		if err != nil {
			return mapErr(err)
		}
		// [MS-OFFCRYPTO] 2.1.6: the map names the data space the content is in; the
		// rights-management ones are DRMEncryptedDataSpace and (Office 2003) DRMDataSpace.
		if bytes.Contains(data, utf16le("DRMEncryptedDataSpace")) || bytes.Contains(data, utf16le("DRMDataSpace")) {
			res.ProtectionKind = ProtectionRMS
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// The user-defined properties of \005DocumentSummaryInformation: where legacy files and
	// password-encrypted packages keep their MSIP_Label_ properties.
	if e, ok := f.Find("\x05DocumentSummaryInformation"); ok && e.Type == cfb.TypeStream {
		data, err := f.ReadStream(e, maxPart)
		if err != nil {
			return mapErr(err)
		}
		props, err := ole.UserDefined(data)
		if err != nil {
			return fmt.Errorf("%w: \005DocumentSummaryInformation: %w", ErrMalformed, err)
		}
		keys, vals := make([]string, 0, len(props)), make([]string, 0, len(props))
		for _, p := range props {
			keys, vals = append(keys, p.Name), append(vals, p.Value)
		}
		res.Labels = append(res.Labels, propLabels(keys, vals, SourceOLEProps, false)...)
	}
	if ti, ok := f.Find("\x06DataSpaces", "TransformInfo"); ok {
		ls, err := dataSpaceLabels(f, ti)
		if err != nil {
			return err
		}
		res.Labels = append(res.Labels, ls...)
	}
	res.Effective = perTenant(res.Labels, officeRank)
	return nil
}

// dataSpaceLabels reads the LabelInfo stream ([MS-OFFCRYPTO] 2.6.4), which may sit directly
// under TransformInfo or in a transform's storage.
func dataSpaceLabels(f *cfb.File, ti cfb.Entry) ([]Label, error) {
	var out []Label
	// A broken directory can make storages share children: visit each entry once, and few.
	seen := map[uint32]bool{}
	var walk func(e cfb.Entry, depth int) error
	walk = func(e cfb.Entry, depth int) error {
		if depth > 4 {
			return nil
		}
		for _, c := range f.Children(e) {
			if seen[c.ID] || len(seen) > 256 {
				continue
			}
			seen[c.ID] = true
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
				ls, err := parseLabelInfo(data, SourceDataSpace)
				if err != nil {
					return err
				}
				out = append(out, ls...)
			}
		}
		return nil
	}
	return out, walk(ti, 0)
}

// legacyEncryption tells whether a legacy binary file is password-encrypted, from the few
// bytes that say so: Word's FIB flag, Excel's FilePass record, PowerPoint's EncryptedSummary.
func legacyEncryption(f *cfb.File, t FileType) (string, error) {
	switch t {
	case TypeWord:
		// [MS-DOC] 2.5.2 FibBase: the 16-bit flags at offset 0x0A; bit 0x0100 is fEncrypted.
		e, _ := f.Find("WordDocument")
		b, err := f.ReadStreamPrefix(e, 12)
		if err != nil {
			return "", mapErr(err)
		}
		if len(b) >= 12 && binary.LittleEndian.Uint16(b[10:])&0x0100 != 0 {
			return ProtectionPassword, nil
		}
	case TypeExcel:
		// [MS-XLS] 2.4.117 FilePass (record type 0x002F) follows the globals' BOF record.
		e, ok := f.Find("Workbook")
		if !ok {
			e, _ = f.Find("Book")
		}
		b, err := f.ReadStreamPrefix(e, 512)
		if err != nil {
			return "", mapErr(err)
		}
		for off, n := 0, 0; off+4 <= len(b) && n < 8; n++ {
			typ, l := binary.LittleEndian.Uint16(b[off:]), int(binary.LittleEndian.Uint16(b[off+2:]))
			if typ == 0x002F {
				return ProtectionPassword, nil
			}
			off += 4 + l
		}
	case TypePowerPoint:
		// [MS-PPT] 2.1.4: an encrypted presentation keeps its summaries in "EncryptedSummary".
		if _, ok := f.Find("EncryptedSummary"); ok {
			return ProtectionPassword, nil
		}
	}
	return "", nil
}

// readPFile reads an RMS protected file's cleartext header: the wrapped file's extension is
// readable, its content and label are not (they need the publishing licence's key).
func readPFile(ctx context.Context, r io.ReaderAt, size int64, res *Result) error {
	h, err := pfile.Read(r, size)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	res.Protected, res.ProtectionKind, res.Container = true, ProtectionRMS, "pfile"
	res.OriginalExt = h.Extension
	res.Type = TypePFile
	if t := ReadTypeOf("x" + h.Extension); t != TypeUnsupported && t != TypePFile {
		res.Type = t
	}
	return nil
}

func utf16le(s string) []byte {
	out := make([]byte, 0, 2*len(s))
	for _, c := range s {
		out = append(out, byte(c), byte(c>>8))
	}
	return out
}
