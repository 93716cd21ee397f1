package labeltest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/labelgate/labelgate/labeling/cfb"
)

// Case is one corpus file with what a correct reader reports for it.
type Case struct {
	Name string // file name; its extension decides the type
	Data []byte
	// Expectations. WantLabel "" means no effective label.
	WantLabel, WantTenant, WantMethod string
	WantRecords                       int    // len(Result.Labels)
	WantProtected                     string // "", "rms" or "password"
	WantErr                           bool   // reading must fail with ErrMalformed
	// Tenant is the organisation's tenant the read names ("" = none known).
	Tenant     string
	WantParent string // the effective label's parent (a sublabel)
	WantType   string // the type the bytes decide; "" = the one the name suggests
	// WantEffective is how many labels apply (one per tenant); checked when above 0.
	WantEffective int
	WantSource    string // the effective label's source; checked when set
}

func confidential() Label {
	return Label{ID: LabelConfidential, Tenant: TenantContoso, Method: "Standard", Name: "Confidential",
		SetDate: "2018-11-08T21:13:16-0800", ContentBits: 3}
}

func fabrikam() Label {
	return Label{ID: LabelPublic, Tenant: TenantFabrikam, Method: "Standard", Name: "Public",
		SetDate: "2017-09-05T13:44:33.6592363+03:00"}
}

// Corpus returns every variant the label engine must handle, small enough to commit.
func Corpus() []Case {
	g := General()
	aip := g
	aip.Method = "Manual"
	aip.SetDate = "2017-09-05T13:44:33.6592363+03:00"
	removed := Label{Tenant: TenantContoso, Removed: true}
	text := []string{"Quarterly numbers", "Project Falcon: confidential"}
	cs := []Case{
		{Name: "legacy-only.docx", Data: Docx(Options{Custom: []Label{g}, Text: text}), WantLabel: LabelGeneral, WantTenant: TenantContoso, WantMethod: "privileged", WantRecords: 1},
		{Name: "aip-classic.docx", Data: Docx(Options{Custom: []Label{aip}, AIPClassic: true, GrowthHint: true}), WantLabel: LabelGeneral, WantTenant: TenantContoso, WantMethod: "privileged", WantRecords: 1},
		{Name: "labelinfo-only.xlsx", Data: Xlsx(Options{LabelInfo: []Label{g}, Text: text}), WantLabel: LabelGeneral, WantTenant: TenantContoso, WantMethod: "privileged", WantRecords: 1},
		{Name: "both-agree.pptx", Data: Pptx(Options{LabelInfo: []Label{g}, Custom: []Label{g}, Text: text}), WantLabel: LabelGeneral, WantTenant: TenantContoso, WantMethod: "privileged", WantRecords: 2},
		// LabelInfo wins for the tenant it covers.
		{Name: "both-disagree.docx", Data: Docx(Options{LabelInfo: []Label{confidential()}, Custom: []Label{g}}), WantLabel: LabelConfidential, WantTenant: TenantContoso, WantMethod: "standard", WantRecords: 2},
		// A removed LabelInfo entry hides the stale custom properties of the same tenant.
		{Name: "removed.docx", Data: Docx(Options{LabelInfo: []Label{removed}, Custom: []Label{g}}), WantRecords: 2},
		// Fabrikam has no LabelInfo entry, so its custom properties still count.
		{Name: "two-tenants.xlsx", Data: Xlsx(Options{LabelInfo: []Label{removed}, Custom: []Label{fabrikam()}}), WantLabel: LabelPublic, WantTenant: TenantFabrikam, WantMethod: "standard", WantRecords: 2},
		{Name: "zip64.docx", Data: Docx(Options{LabelInfo: []Label{g}, Zip64: true}), WantLabel: LabelGeneral, WantTenant: TenantContoso, WantMethod: "privileged", WantRecords: 1},
		{Name: "data-descriptors.pptx", Data: Pptx(Options{Custom: []Label{g}, DataDescriptors: true, GrowthHint: true}), WantLabel: LabelGeneral, WantTenant: TenantContoso, WantMethod: "privileged", WantRecords: 1},
		{Name: "zip64-descriptors.xlsm", Data: Xlsx(Options{Custom: []Label{g}, Zip64: true, DataDescriptors: true}), WantLabel: LabelGeneral, WantTenant: TenantContoso, WantMethod: "privileged", WantRecords: 1},
		{Name: "labelinfo-moved.dotx", Data: Docx(Options{LabelInfo: []Label{g}, LabelInfoPath: "meta/labels.xml"}), WantLabel: LabelGeneral, WantTenant: TenantContoso, WantMethod: "privileged", WantRecords: 1},
		{Name: "labelinfo-norel.potx", Data: Pptx(Options{LabelInfo: []Label{g}, NoLabelInfoRel: true}), WantLabel: LabelGeneral, WantTenant: TenantContoso, WantMethod: "privileged", WantRecords: 1},
		{Name: "unlabelled.docx", Data: Docx(Options{Text: text})},
		{Name: "disabled.docx", Data: Docx(Options{Custom: []Label{{ID: LabelGeneral, Tenant: TenantContoso, Method: "Standard", Disabled: true}}}), WantRecords: 1},
		{Name: "protected-rms.docx", Data: Protected("rms", []Label{g}, 0), WantLabel: LabelGeneral, WantTenant: TenantContoso, WantMethod: "privileged", WantRecords: 1, WantProtected: "rms"},
		{Name: "protected-password.xlsx", Data: Protected("password", nil, 0), WantProtected: "password"},
		{Name: "info.pdf", Data: PDF(PDFOptions{Info: []Label{g}, Text: text}), WantLabel: LabelGeneral, WantTenant: TenantContoso, WantMethod: "privileged", WantRecords: 1},
		{Name: "xmp-only.pdf", Data: PDF(PDFOptions{XMP: []Label{g}}), WantLabel: LabelGeneral, WantTenant: TenantContoso, WantMethod: "privileged", WantRecords: 1},
		{Name: "xmp-attributes-flate.pdf", Data: PDF(PDFOptions{XMP: []Label{confidential()}, XMPAttributes: true, XMPFlate: true}), WantLabel: LabelConfidential, WantTenant: TenantContoso, WantMethod: "standard", WantRecords: 1},
		{Name: "xref-stream.pdf", Data: PDF(PDFOptions{Info: []Label{g}, XMP: []Label{g}, XRefStream: true}), WantLabel: LabelGeneral, WantTenant: TenantContoso, WantMethod: "privileged", WantRecords: 2},
		// The newest update relabelled Info only: it wins over the older XMP.
		{Name: "incremental.pdf", Data: PDF(PDFOptions{Info: []Label{g}, XMP: []Label{g}, Updates: []PDFUpdate{{Info: []Label{confidential()}}}}), WantLabel: LabelConfidential, WantTenant: TenantContoso, WantMethod: "standard", WantRecords: 2},
		{Name: "incremental-xrefstream.pdf", Data: PDF(PDFOptions{Info: []Label{confidential()}, XRefStream: true, Updates: []PDFUpdate{{Info: []Label{g}}}}), WantLabel: LabelGeneral, WantTenant: TenantContoso, WantMethod: "privileged", WantRecords: 1},
		{Name: "encrypted-password.pdf", Data: PDF(PDFOptions{Info: []Label{g}, Encrypt: "password"}), WantLabel: LabelGeneral, WantRecords: 1, WantProtected: "password"},
		{Name: "encrypted-rms.pdf", Data: PDF(PDFOptions{Encrypt: "rms"}), WantProtected: "rms"},
		{Name: "unlabelled.pdf", Data: PDF(PDFOptions{Text: text})},
	}
	cs = append(cs, issue20Cases()...)
	return append(cs, malformedCases()...)
}

// issue20Cases are the patterns real files show (shared/samples/real/README.md): sublabels,
// several tenants, every protected container, OLE property sets, names that lie.
func issue20Cases() []Case {
	g := General()
	conf := confidential()
	// A sublabel of General, set with the parent's full property set beside it.
	child := Label{ID: LabelChild, Tenant: TenantContoso, Method: "Manual", Name: "General-Internal", SetDate: g.SetDate}
	subAIP := Sublabel(child, Label{ID: LabelGeneral, Tenant: TenantContoso, Method: "Manual", Name: "General", SetDate: g.SetDate})
	sub := Sublabel(Label{ID: LabelChild, Tenant: TenantContoso, Method: "Standard", Name: "General-Internal", SetDate: g.SetDate}, g)
	subRev := []Label{sub[1], sub[0]}
	return []Case{
		{Name: "sublabel-aip.docx", Data: Docx(Options{Custom: subAIP, AIPClassic: true}), WantLabel: LabelChild, WantTenant: TenantContoso, WantMethod: "privileged", WantRecords: 2, WantParent: LabelGeneral, WantEffective: 1},
		{Name: "sublabel-child-first.xlsx", Data: Xlsx(Options{Custom: subRev}), WantLabel: LabelChild, WantTenant: TenantContoso, WantMethod: "standard", WantRecords: 2, WantParent: LabelGeneral, WantEffective: 1},
		{Name: "sublabel.pdf", Data: PDF(PDFOptions{Info: sub, XMP: sub}), WantLabel: LabelChild, WantTenant: TenantContoso, WantMethod: "standard", WantRecords: 4, WantParent: LabelGeneral, WantEffective: 1},
		// The PDF 2.0 IRM wrapper: no /Encrypt, the real document is an encrypted payload.
		{Name: "irm-wrapper.pdf", Data: PDF(PDFOptions{IRMWrapper: "subtype", Info: []Label{g}}), WantLabel: LabelGeneral, WantTenant: TenantContoso, WantRecords: 1, WantProtected: "rms"},
		{Name: "irm-wrapper-ep.pdf", Data: PDF(PDFOptions{IRMWrapper: "ep"}), WantProtected: "rms"},
		// A password-encrypted package whose label is readable in the OLE properties.
		{Name: "protected-password-props.xlsx", Data: ProtectedWith(ProtectedOptions{Kind: "password", Props: []Label{g}}), WantLabel: LabelGeneral, WantTenant: TenantContoso, WantMethod: "privileged", WantRecords: 1, WantProtected: "password", WantSource: "ole-props"},
		// Same tenant in DataSpaces LabelInfo and the OLE properties: LabelInfo wins.
		{Name: "protected-rms-both.docx", Data: ProtectedWith(ProtectedOptions{Kind: "rms", LabelInfo: []Label{conf}, Props: []Label{g}}), WantLabel: LabelConfidential, WantTenant: TenantContoso, WantRecords: 2, WantProtected: "rms", WantSource: "cfb-labelinfo", WantEffective: 1},
		{Name: "workbook.xlsb", Data: Xlsx(Options{LabelInfo: []Label{g}}), WantLabel: LabelGeneral, WantRecords: 1},
	}
}

func malformedCases() []Case {
	doc := Docx(Options{Custom: []Label{General()}})
	pdf := PDF(PDFOptions{Info: []Label{General()}})
	var cs []Case
	add := func(name string, data []byte) { cs = append(cs, Case{Name: name, Data: data, WantErr: true}) }
	add("truncated.docx", doc[:len(doc)/2])
	add("no-eocd.docx", doc[:len(doc)-22])
	// Central directory offset pointing past the end.
	bad := bytes.Clone(doc)
	binary.LittleEndian.PutUint32(bad[len(bad)-6:], uint32(len(bad)+100))
	add("bad-cd-offset.docx", bad)
	// Entry count claiming far more entries than the directory holds.
	bad = bytes.Clone(doc)
	binary.LittleEndian.PutUint16(bad[len(bad)-12:], 60000)
	binary.LittleEndian.PutUint16(bad[len(bad)-14:], 60000)
	add("huge-count.docx", bad)
	add("bomb.docx", bombDocx())
	add("not-a-zip.xlsx", []byte("this is plain text, not a workbook at all"))
	add("truncated.pdf", pdf[:len(pdf)*2/3])
	add("cyclic-prev.pdf", cyclicPDF())
	add("deep-nesting.pdf", deepPDF())
	add("bad-startxref.pdf", bytes.Replace(pdf, []byte("startxref\n"), []byte("startxref\n9"), 1))
	cf := Protected("rms", []Label{General()}, 0)
	add("truncated-protected.docx", cf[:700])
	leg := Legacy("excel", LegacyOptions{Props: []Label{General()}})
	add("truncated-legacy.xls", leg[:1500])
	// A property set whose dictionary claims more entries than the stream holds.
	add("bad-propset.doc", legacyWithDSI(DocSummaryInfo([]Label{General()}, false), 0x7FFFFFFF))
	pf := PFile(".txt", 1024)
	add("truncated.pfile", pf[:30])
	badpf := bytes.Clone(pf)
	binary.LittleEndian.PutUint32(badpf[6:], 99) // major version 99
	add("bad-version.pfile", badpf)
	return cs
}

// TenantCorpus returns files carrying labels of several tenants, read as the organisation of
// Case.Tenant sees them: the same bytes give another label to another tenant.
func TenantCorpus() []Case {
	g := General()
	fab := fabrikam()
	twoTenants := Pptx(Options{LabelInfo: []Label{g, fab}})
	mixed := Docx(Options{LabelInfo: []Label{g}, Custom: []Label{fab}})
	return []Case{
		// One LabelInfo.xml with labels of two tenants: the organisation's tenant picks its own.
		{Name: "two-tenants-contoso.pptx", Data: twoTenants, Tenant: TenantContoso, WantLabel: LabelGeneral, WantTenant: TenantContoso, WantMethod: "privileged", WantRecords: 2, WantEffective: 2},
		{Name: "two-tenants-fabrikam.pptx", Data: twoTenants, Tenant: TenantFabrikam, WantLabel: LabelPublic, WantTenant: TenantFabrikam, WantMethod: "standard", WantRecords: 2, WantEffective: 2},
		// LabelInfo.xml of one tenant, custom.xml of another: both apply.
		{Name: "mixed-tenants-contoso.docx", Data: mixed, Tenant: TenantContoso, WantLabel: LabelGeneral, WantTenant: TenantContoso, WantRecords: 2, WantEffective: 2, WantSource: "labelinfo"},
		{Name: "mixed-tenants-fabrikam.docx", Data: mixed, Tenant: TenantFabrikam, WantLabel: LabelPublic, WantTenant: TenantFabrikam, WantRecords: 2, WantEffective: 2, WantSource: "custom"},
		// A tenant without a label of its own in the file sees the other tenant's (external) label.
		{Name: "mixed-tenants-other.docx", Data: Docx(Options{Custom: []Label{fab}}), Tenant: TenantContoso, WantLabel: LabelPublic, WantTenant: TenantFabrikam, WantRecords: 1, WantEffective: 1},
	}
}

// ReadOnlyCorpus returns files labelgate reads but does not write labels into: legacy binary
// Office files, RMS pfiles, and files whose name lies about their type.
func ReadOnlyCorpus() []Case {
	g := General()
	conf := confidential()
	sub := Sublabel(Label{ID: LabelChild, Tenant: TenantContoso, Method: "Standard", Name: "General-Internal", SetDate: g.SetDate}, g)
	return []Case{
		{Name: "sublabel-legacy.xls", Data: Legacy("excel", LegacyOptions{Props: sub}), WantLabel: LabelChild, WantTenant: TenantContoso, WantMethod: "standard", WantRecords: 2, WantParent: LabelGeneral, WantEffective: 1, WantSource: "ole-props"},
		// Legacy binary files: the label is in the OLE user-defined properties.
		{Name: "legacy.doc", Data: Legacy("word", LegacyOptions{Props: []Label{g}}), WantLabel: LabelGeneral, WantTenant: TenantContoso, WantMethod: "privileged", WantRecords: 1, WantSource: "ole-props"},
		{Name: "legacy-unicode.xls", Data: Legacy("excel", LegacyOptions{Props: []Label{conf}, Unicode: true}), WantLabel: LabelConfidential, WantTenant: TenantContoso, WantMethod: "standard", WantRecords: 1},
		{Name: "legacy.ppt", Data: Legacy("powerpoint", LegacyOptions{Props: []Label{g}}), WantLabel: LabelGeneral, WantTenant: TenantContoso, WantMethod: "privileged", WantRecords: 1},
		{Name: "legacy-unlabelled.doc", Data: Legacy("word", LegacyOptions{})},
		{Name: "legacy-drm.doc", Data: Legacy("word", LegacyOptions{DRM: true}), WantProtected: "rms"},
		{Name: "legacy-drm.xls", Data: Legacy("excel", LegacyOptions{DRM: true, Props: []Label{g}}), WantLabel: LabelGeneral, WantTenant: TenantContoso, WantRecords: 1, WantProtected: "rms"},
		{Name: "legacy-drm.ppt", Data: Legacy("powerpoint", LegacyOptions{DRM: true}), WantProtected: "rms"},
		{Name: "legacy-password.doc", Data: Legacy("word", LegacyOptions{Password: true, Props: []Label{g}}), WantLabel: LabelGeneral, WantRecords: 1, WantProtected: "password"},
		{Name: "legacy-password.xls", Data: Legacy("excel", LegacyOptions{Password: true}), WantProtected: "password"},
		{Name: "legacy-password.ppt", Data: Legacy("powerpoint", LegacyOptions{Password: true}), WantProtected: "password"},
		// RMS protected files (pfile): not OLE; the wrapped file's type is readable, its label not.
		{Name: "report.pfile", Data: PFile(".docx", 4096), WantProtected: "rms", WantType: "word"},
		{Name: "notes.ptxt", Data: PFile(".txt", 2048), WantProtected: "rms", WantType: "pfile"},
		{Name: "scan.ppdf", Data: PFile(".pdf", 2048), WantProtected: "rms", WantType: "pdf"},
		// Names lie: the bytes decide.
		{Name: "renamed-ooxml.doc", Data: Docx(Options{Custom: []Label{g}}), WantLabel: LabelGeneral, WantTenant: TenantContoso, WantRecords: 1, WantType: "word"},
		{Name: "renamed-workbook.docx", Data: Xlsx(Options{LabelInfo: []Label{g}}), WantLabel: LabelGeneral, WantRecords: 1, WantType: "excel"},
		{Name: "renamed-pdf.pptx", Data: PDF(PDFOptions{Info: []Label{g}}), WantLabel: LabelGeneral, WantRecords: 1, WantType: "pdf"},
		{Name: "renamed-legacy.xlsx", Data: Legacy("excel", LegacyOptions{Props: []Label{g}}), WantLabel: LabelGeneral, WantRecords: 1, WantType: "excel"},
	}
}

// legacyWithDSI builds a legacy Word file whose property set's dictionary count is n.
func legacyWithDSI(dsi []byte, n uint32) []byte {
	dsi = bytes.Clone(dsi)
	off1 := binary.LittleEndian.Uint32(dsi[28+20+16:]) // the user-defined set's offset
	set := dsi[off1:]
	count := int(binary.LittleEndian.Uint32(set[4:]))
	for i := 0; i < count; i++ {
		if binary.LittleEndian.Uint32(set[8+8*i:]) == 0 { // the dictionary
			binary.LittleEndian.PutUint32(set[binary.LittleEndian.Uint32(set[12+8*i:]):], n)
		}
	}
	out, _ := cfb.Build([]cfb.Stream{{Path: "WordDocument", Data: Padding(4096, 5)}, {Path: "\x05DocumentSummaryInformation", Data: dsi}})
	return out
}

// bombDocx holds a custom.xml that inflates to 8 MiB of spaces, over the 4 MiB part limit.
func bombDocx() []byte {
	big := bytes.Repeat([]byte(" "), 8<<20)
	return buildZip([]zipEntry{
		{name: "[Content_Types].xml", data: []byte(xmlDecl + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`)},
		{name: "_rels/.rels", data: []byte(xmlDecl + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"/>`)},
		{name: "docProps/custom.xml", data: big},
	}, zipOpts{})
}

// cyclicPDF appends an update whose /Prev points at its own cross-reference section.
func cyclicPDF() []byte {
	var b bytes.Buffer
	b.Write(PDF(PDFOptions{}))
	x := b.Len()
	b.WriteString("xref\n0 1\n0000000000 65535 f\r\ntrailer\n<< /Size 12 /Root 1 0 R /Prev ")
	b.WriteString(itoa(x))
	b.WriteString(" >>\nstartxref\n" + itoa(x) + "\n%%EOF\n")
	return b.Bytes()
}

// deepPDF's Info dictionary nests arrays 10,000 deep.
func deepPDF() []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	o1 := b.Len()
	b.WriteString("1 0 obj\n<< /Type /Catalog >>\nendobj\n")
	o2 := b.Len()
	b.WriteString("2 0 obj\n<< /Deep " + string(bytes.Repeat([]byte("["), 10000)) + string(bytes.Repeat([]byte("]"), 10000)) + " >>\nendobj\n")
	x := b.Len()
	b.WriteString("xref\n0 3\n0000000000 65535 f\r\n" + pad10(o1) + " 00000 n\r\n" + pad10(o2) + " 00000 n\r\n")
	b.WriteString("trailer\n<< /Size 3 /Root 1 0 R /Info 2 0 R >>\nstartxref\n" + itoa(x) + "\n%%EOF\n")
	return b.Bytes()
}

func itoa(n int) string { return strconv.Itoa(n) }

func pad10(n int) string { return fmt.Sprintf("%010d", n) }
