package labeltest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
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
	return append(cs, malformedCases()...)
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
	return cs
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
