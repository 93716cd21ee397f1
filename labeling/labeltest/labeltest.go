// Package labeltest builds realistic labelled Office, PDF and protected files for tests: every
// label encoding, container variant and malformation the label engine must handle, with
// optional body text for content-inspection tests.
package labeltest

import (
	"fmt"
	"html"
	"math/rand/v2"
	"strings"

	"github.com/labelgate/labelgate/labeling/cfb"
)

// Well-known identifiers used across the corpus.
const (
	LabelGeneral      = "f42aa342-8706-4288-bd11-ebb85995028c"
	LabelConfidential = "87867195-f2b8-4ac2-b0b6-6bb73cb33afc"
	LabelPublic       = "0e4b6b2f-5a9d-4c1e-9f57-1f0d6a1c2b3e"
	LabelChild        = "3c5e8a1d-2b4f-4e6a-9d7c-5a1b2c3d4e5f" // a sublabel of LabelGeneral
	TenantContoso     = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	TenantFabrikam    = "9b1c2d3e-4f50-4a6b-8c7d-0e1f2a3b4c5d"
)

// Label is one label record to write. Method is written as given ("Standard", "Privileged", or
// for AIP-classic "Manual"/"Automatic"); SetDate is written verbatim.
type Label struct {
	ID, Tenant, Method, Name, SetDate string
	ContentBits                       int
	Disabled, Removed                 bool
	// Parent makes the label a sublabel: its records carry _Parent (AIP/MIP custom properties,
	// PDF metadata, OLE properties; LabelInfo has no such attribute).
	Parent string
}

// General is the default test label: Contoso's "General", chosen by a person.
func General() Label {
	return Label{ID: LabelGeneral, Tenant: TenantContoso, Method: "Privileged", Name: "General",
		SetDate: "2024-01-01T12:00:00Z"}
}

// Options shapes an Office package.
type Options struct {
	Custom    []Label // records in docProps/custom.xml (legacy encoding)
	LabelInfo []Label // records in docMetadata/LabelInfo.xml
	// AIPClassic writes _Extended_MSFT_Method (the Method field, e.g. "Manual") and the old
	// _Ref/_Owner/_Application keys plus a Sensitivity property, like Azure Information Protection.
	AIPClassic bool
	// LabelInfoPath moves LabelInfo off its conventional path (found only via _rels/.rels).
	LabelInfoPath string
	// NoLabelInfoRel leaves the relationship out (readers must fall back to the conventional path).
	NoLabelInfoRel  bool
	Text            []string // body paragraphs, shared strings or slide text
	Padding         int      // bytes of incompressible media stored in the middle of the package
	Zip64           bool
	DataDescriptors bool
	GrowthHint      bool // Office's local-only 0xA220 extra field on every entry
}

type family struct {
	mainType, mainPart, mainCT, mediaDir string
	parts                                func(text []string) []zipEntry
}

const xmlDecl = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\r\n"

var (
	word = family{
		mainPart: "word/document.xml", mediaDir: "word/media/",
		mainCT: "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
		parts: func(text []string) []zipEntry {
			var b strings.Builder
			b.WriteString(xmlDecl + `<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>`)
			for _, t := range text {
				fmt.Fprintf(&b, `<w:p><w:r><w:t xml:space="preserve">%s</w:t></w:r></w:p>`, html.EscapeString(t))
			}
			b.WriteString(`<w:sectPr/></w:body></w:document>`)
			return []zipEntry{
				{name: "word/document.xml", data: []byte(b.String())},
				{name: "word/_rels/document.xml.rels", data: []byte(xmlDecl + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"/>`)},
			}
		},
	}
	excel = family{
		mainPart: "xl/workbook.xml", mediaDir: "xl/media/",
		mainCT: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
		parts: func(text []string) []zipEntry {
			var ss, rows strings.Builder
			fmt.Fprintf(&ss, xmlDecl+`<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="%d" uniqueCount="%d">`, len(text), len(text))
			for i, t := range text {
				fmt.Fprintf(&ss, `<si><t xml:space="preserve">%s</t></si>`, html.EscapeString(t))
				fmt.Fprintf(&rows, `<row r="%d"><c r="A%d" t="s"><v>%d</v></c></row>`, i+1, i+1, i)
			}
			ss.WriteString(`</sst>`)
			ns := `xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"`
			return []zipEntry{
				{name: "xl/workbook.xml", data: []byte(xmlDecl + `<workbook ` + ns + `><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>`)},
				{name: "xl/_rels/workbook.xml.rels", data: []byte(xmlDecl + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>`)},
				{name: "xl/worksheets/sheet1.xml", data: []byte(xmlDecl + `<worksheet ` + ns + `><sheetData>` + rows.String() + `</sheetData></worksheet>`)},
				{name: "xl/sharedStrings.xml", data: []byte(ss.String())},
			}
		},
	}
	powerpoint = family{
		mainPart: "ppt/presentation.xml", mediaDir: "ppt/media/",
		mainCT: "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
		parts: func(text []string) []zipEntry {
			var b strings.Builder
			b.WriteString(xmlDecl + `<p:sld xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"><p:cSld><p:spTree><p:sp><p:txBody><a:bodyPr/>`)
			for _, t := range text {
				fmt.Fprintf(&b, `<a:p><a:r><a:t>%s</a:t></a:r></a:p>`, html.EscapeString(t))
			}
			b.WriteString(`</p:txBody></p:sp></p:spTree></p:cSld></p:sld>`)
			return []zipEntry{
				{name: "ppt/presentation.xml", data: []byte(xmlDecl + `<p:presentation xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><p:sldIdLst><p:sldId id="256" r:id="rId2"/></p:sldIdLst></p:presentation>`)},
				{name: "ppt/_rels/presentation.xml.rels", data: []byte(xmlDecl + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/slide" Target="slides/slide1.xml"/></Relationships>`)},
				{name: "ppt/slides/slide1.xml", data: []byte(b.String())},
			}
		},
	}
)

// Docx builds a Word document.
func Docx(o Options) []byte { return build(word, o) }

// Xlsx builds an Excel workbook; Text becomes shared strings in column A.
func Xlsx(o Options) []byte { return build(excel, o) }

// Pptx builds a PowerPoint presentation; Text becomes paragraphs of one slide.
func Pptx(o Options) []byte { return build(powerpoint, o) }

// Padding returns n deterministic, incompressible bytes.
func Padding(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for k := 0; k < 8; k++ {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

func build(f family, o Options) []byte {
	liPath := o.LabelInfoPath
	if liPath == "" {
		liPath = "docMetadata/LabelInfo.xml"
	}
	var ct strings.Builder
	ct.WriteString(xmlDecl + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
		`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
		`<Default Extension="xml" ContentType="application/xml"/>` +
		`<Default Extension="bin" ContentType="application/octet-stream"/>` +
		`<Override PartName="/` + f.mainPart + `" ContentType="` + f.mainCT + `"/>` +
		`<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>` +
		`<Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>`)
	var rels strings.Builder
	rels.WriteString(xmlDecl + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
		`<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties" Target="docProps/app.xml"/>` +
		`<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>` +
		`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="` + f.mainPart + `"/>`)
	var tail []zipEntry
	if len(o.LabelInfo) > 0 {
		ct.WriteString(`<Override PartName="/` + liPath + `" ContentType="application/vnd.ms-office.classificationlabels+xml"/>`)
		if !o.NoLabelInfoRel {
			rels.WriteString(`<Relationship Id="rId5" Type="http://schemas.microsoft.com/office/2020/02/relationships/classificationlabels" Target="` + liPath + `"/>`)
		}
		tail = append(tail, zipEntry{name: liPath, data: LabelInfoXML(o.LabelInfo)})
	}
	if len(o.Custom) > 0 {
		ct.WriteString(`<Override PartName="/docProps/custom.xml" ContentType="application/vnd.openxmlformats-officedocument.custom-properties+xml"/>`)
		rels.WriteString(`<Relationship Id="rId4" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties" Target="docProps/custom.xml"/>`)
		tail = append(tail, zipEntry{name: "docProps/custom.xml", data: CustomXML(o.Custom, o.AIPClassic)})
	}
	ct.WriteString(`</Types>`)
	rels.WriteString(`</Relationships>`)
	entries := []zipEntry{
		{name: "[Content_Types].xml", data: []byte(ct.String())},
		{name: "_rels/.rels", data: []byte(rels.String())},
	}
	entries = append(entries, f.parts(o.Text)...)
	if o.Padding > 0 {
		entries = append(entries, zipEntry{name: f.mediaDir + "image1.bin", data: Padding(o.Padding, uint64(o.Padding)), store: true})
	}
	entries = append(entries,
		zipEntry{name: "docProps/core.xml", data: []byte(xmlDecl + `<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>labeltest</dc:creator></cp:coreProperties>`)},
		zipEntry{name: "docProps/app.xml", data: []byte(xmlDecl + `<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"><Application>Microsoft Office</Application></Properties>`)},
	)
	entries = append(entries, tail...)
	return buildZip(entries, zipOpts{zip64: o.Zip64, dataDescriptors: o.DataDescriptors, growthHint: o.GrowthHint})
}

func bool10(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// LabelInfoXML renders docMetadata/LabelInfo.xml (also the protected container's LabelInfo stream).
func LabelInfoXML(ls []Label) []byte {
	var b strings.Builder
	b.WriteString(xmlDecl + `<clbl:labelList xmlns:clbl="http://schemas.microsoft.com/office/2020/mipLabelMetadata">`)
	for _, l := range ls {
		id := l.ID
		if l.Removed {
			id = l.Tenant
		}
		m := l.Method
		if m == "" {
			m = "Standard"
		}
		fmt.Fprintf(&b, `<clbl:label id="{%s}" enabled="%s" method="%s" siteId="{%s}" contentBits="%d" removed="%s"/>`,
			id, bool10(!l.Disabled && !l.Removed), m, l.Tenant, l.ContentBits, bool10(l.Removed))
	}
	b.WriteString(`</clbl:labelList>`)
	return []byte(b.String())
}

// CustomXML renders docProps/custom.xml with MSIP_Label_ properties for each label.
func CustomXML(ls []Label, aipClassic bool) []byte {
	var b strings.Builder
	b.WriteString(xmlDecl + `<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">`)
	pid := 2
	prop := func(name, value string) {
		fmt.Fprintf(&b, `<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="%d" name="%s"><vt:lpwstr>%s</vt:lpwstr></property>`,
			pid, html.EscapeString(name), html.EscapeString(value))
		pid++
	}
	prop("Company", "Contoso Ltd")
	for _, l := range ls {
		p := "MSIP_Label_" + l.ID + "_"
		enabled := "true"
		if l.Disabled {
			enabled = "false"
		}
		if aipClassic {
			enabled = strings.ToUpper(enabled[:1]) + enabled[1:]
		}
		prop(p+"Enabled", enabled)
		prop(p+"SiteId", l.Tenant)
		if l.SetDate != "" {
			prop(p+"SetDate", l.SetDate)
		}
		if l.Name != "" {
			prop(p+"Name", l.Name)
		}
		if l.Parent != "" {
			prop(p+"Parent", l.Parent)
		}
		if aipClassic {
			prop(p+"Ref", "https://api.informationprotection.azure.com/api/"+l.Tenant)
			prop(p+"Owner", "someone@contoso.com")
			prop(p+"Application", "Microsoft Azure Information Protection")
			prop(p+"Extended_MSFT_Method", l.Method)
		} else {
			prop(p+"Method", l.Method)
			prop(p+"ContentBits", fmt.Sprint(l.ContentBits))
			prop(p+"ActionId", "5b2d1ab5-1a6f-4e0b-9f0e-6a3e0f1c2d3e")
		}
	}
	if aipClassic && len(ls) > 0 {
		prop("Sensitivity", ls[0].Name)
	}
	b.WriteString(`</Properties>`)
	return []byte(b.String())
}

// Protected builds an encrypted Office container: kind "rms" (rights management data space) or
// "password" (strong encryption). Labels, when given, go into the LabelInfo stream under
// \x06DataSpaces\TransformInfo. Padding sizes the opaque EncryptedPackage stream (at most 6 MiB).
func Protected(kind string, labels []Label, padding int) []byte {
	return ProtectedWith(ProtectedOptions{Kind: kind, LabelInfo: labels, Padding: padding})
}

// ProtectedWith builds an encrypted Office container as o says.
func ProtectedWith(o ProtectedOptions) []byte {
	kind, labels, padding := o.Kind, o.LabelInfo, o.Padding
	space := "StrongEncryptionDataSpace"
	transform := "StrongEncryptionTransform"
	if kind == "rms" {
		space, transform = "DRMEncryptedDataSpace", "DRMEncryptedTransform"
	}
	// DataSpaceMap ([MS-OFFCRYPTO] 2.1.6): header, one entry mapping EncryptedPackage to the space.
	var m []byte
	u32 := func(v int) { m = append(m, byte(v), byte(v>>8), byte(v>>16), byte(v>>24)) }
	lp := func(s string) {
		u32(2 * len(s))
		for _, c := range s {
			m = append(m, byte(c), byte(c>>8))
		}
		for len(m)%4 != 0 {
			m = append(m, 0)
		}
	}
	u32(8)
	u32(1)
	entryStart := len(m)
	u32(0) // entry length, patched below
	u32(1)
	u32(0)
	lp("EncryptedPackage")
	lp(space)
	l := len(m) - entryStart
	m[entryStart], m[entryStart+1] = byte(l), byte(l>>8)
	// cfb.Build has no DIFAT support, so stay well below its ~7 MB ceiling.
	encPkg := make([]byte, 8+min(max(padding, 4096), 6<<20))
	copy(encPkg[8:], Padding(len(encPkg)-8, 7))
	streams := []cfb.Stream{
		{Path: "\x06DataSpaces/Version", Data: []byte("<\x00\x00\x00M\x00i\x00c\x00r\x00o\x00s\x00o\x00f\x00t\x00.\x00C\x00o\x00n\x00t\x00a\x00i\x00n\x00e\x00r\x00.\x00D\x00a\x00t\x00a\x00S\x00p\x00a\x00c\x00e\x00s\x00\x01\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00")},
		{Path: "\x06DataSpaces/DataSpaceMap", Data: m},
		{Path: "\x06DataSpaces/DataSpaceInfo/" + space, Data: []byte("\x08\x00\x00\x00\x01\x00\x00\x00")},
		{Path: "\x06DataSpaces/TransformInfo/" + transform + "/\x06Primary", Data: []byte(transform)},
		{Path: "EncryptedPackage", Data: encPkg},
	}
	if kind != "rms" {
		streams = append(streams, cfb.Stream{Path: "EncryptionInfo", Data: []byte("\x04\x00\x04\x00\x40\x00\x00\x00<?xml version=\"1.0\"?><encryption/>")})
	}
	if len(labels) > 0 {
		streams = append(streams, cfb.Stream{Path: "\x06DataSpaces/TransformInfo/LabelInfo", Data: LabelInfoXML(labels)})
	}
	if len(o.Props) > 0 {
		streams = append(streams, cfb.Stream{Path: "\x05DocumentSummaryInformation", Data: DocSummaryInfo(o.Props, false)})
	}
	out, _ := cfb.Build(streams) // cannot fail: the sizes above stay under its limit
	return out
}
