package labeltest

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"sort"
	"strings"
)

// PDFOptions shapes a PDF.
type PDFOptions struct {
	Info          []Label // MSIP_Label_ keys in the document information dictionary
	XMP           []Label // pdfx: MSIP_Label_ properties in the XMP metadata stream
	WithXMP       bool    // write a metadata stream even without XMP labels
	XMPAttributes bool    // write XMP properties as attributes rather than elements
	XMPFlate      bool    // compress the metadata stream
	XRefStream    bool    // PDF 1.5 style: small objects in an object stream, an xref stream
	Encrypt       string  // "", "password" (Standard security handler) or "rms" (MicrosoftIRMServices)
	Updates       []PDFUpdate
	Text          []string // page text, one line each, in an uncompressed content stream
	Padding       int      // bytes of an incompressible image XObject in the middle of the file
	// IRMWrapper makes the file a PDF 2.0 unencrypted wrapper (ISO 32000-2 7.6.7) whose real
	// document is an associated, embedded file related as /EncryptedPayload, as Microsoft's
	// protection writes it: "subtype" names MicrosoftIRMServices as the embedded file stream's
	// /Subtype, "ep" in the file specification's /EP dictionary. Classic xref only.
	IRMWrapper string
}

// PDFUpdate is one incremental update appended after the base file.
type PDFUpdate struct {
	Info   []Label // the new Info dictionary's labels
	XMP    []Label // the new metadata stream's labels
	SetXMP bool    // rewrite the metadata stream too
}

func pdfString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`)
	return "(" + r.Replace(s) + ")"
}

func infoDict(ls []Label, encrypted bool) string {
	var b strings.Builder
	b.WriteString("<< /Producer (labeltest) /Title (Quarterly report)")
	for _, l := range ls {
		p := "/MSIP_Label_" + l.ID + "_"
		kv := [][2]string{{"Enabled", "true"}, {"SiteId", l.Tenant}, {"Method", l.Method}, {"ContentBits", fmt.Sprint(l.ContentBits)}}
		if l.Disabled {
			kv[0][1] = "false"
		}
		if l.SetDate != "" {
			kv = append(kv, [2]string{"SetDate", l.SetDate})
		}
		if l.Name != "" {
			kv = append(kv, [2]string{"Name", l.Name})
		}
		if l.Parent != "" {
			kv = append(kv, [2]string{"Parent", l.Parent})
		}
		for _, e := range kv {
			v := pdfString(e[1])
			if encrypted {
				// Strings of an encrypted PDF are ciphertext; only the keys stay readable.
				v = fmt.Sprintf("<%x>", Padding(16, uint64(len(e[0])+len(e[1]))))
			}
			fmt.Fprintf(&b, " %s%s %s", p, e[0], v)
		}
	}
	b.WriteString(" >>")
	return b.String()
}

// XMPPacket renders an XMP packet with pdfx: label properties.
func XMPPacket(ls []Label, attributes bool) []byte {
	var b strings.Builder
	b.WriteString("<?xpacket begin=\"\ufeff\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n" +
		"<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n" +
		"<rdf:Description rdf:about=\"\" xmlns:pdf=\"http://ns.adobe.com/pdf/1.3/\"><pdf:Producer>labeltest</pdf:Producer></rdf:Description>\n")
	if len(ls) > 0 {
		var props [][2]string
		for _, l := range ls {
			p := "MSIP_Label_" + l.ID + "_"
			enabled := "true"
			if l.Disabled {
				enabled = "false"
			}
			props = append(props, [2]string{p + "Enabled", enabled}, [2]string{p + "SiteId", l.Tenant},
				[2]string{p + "Method", l.Method}, [2]string{p + "ContentBits", fmt.Sprint(l.ContentBits)})
			if l.SetDate != "" {
				props = append(props, [2]string{p + "SetDate", l.SetDate})
			}
			if l.Name != "" {
				props = append(props, [2]string{p + "Name", l.Name})
			}
			if l.Parent != "" {
				props = append(props, [2]string{p + "Parent", l.Parent})
			}
		}
		b.WriteString(`<rdf:Description rdf:about="" xmlns:pdfx="http://ns.adobe.com/pdfx/1.3/"`)
		if attributes {
			for _, p := range props {
				fmt.Fprintf(&b, "\n  pdfx:%s=\"%s\"", p[0], p[1])
			}
			b.WriteString("/>\n")
		} else {
			b.WriteString(">\n")
			for _, p := range props {
				fmt.Fprintf(&b, "  <pdfx:%s>%s</pdfx:%s>\n", p[0], p[1], p[0])
			}
			b.WriteString("</rdf:Description>\n")
		}
	}
	b.WriteString("</rdf:RDF>\n</x:xmpmeta>\n" + strings.Repeat(" ", 200) + "\n<?xpacket end=\"w\"?>")
	return []byte(b.String())
}

func deflate(b []byte) []byte {
	var out bytes.Buffer
	zw := zlib.NewWriter(&out)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return out.Bytes()
}

func streamObj(dict string, data []byte) string {
	return fmt.Sprintf("<< %s /Length %d >>\nstream\n%s\nendstream", dict, len(data), data)
}

// Object numbers of the generated PDF.
const (
	objCatalog = 1 + iota
	objPages
	objPage
	objFont
	objContent
	objMetadata
	objInfo
	objImage
	objEncrypt
	objObjStm
	objXRef
	pdfSize
	objFileSpec = pdfSize     // the IRM wrapper's file specification
	objPayload  = pdfSize + 1 // and its embedded, encrypted document
)

const irmPayloadName = "MicrosoftIRMServices Protected PDF.pdf"

// PDF builds a one-page PDF.
func PDF(o PDFOptions) []byte {
	hasXMP := o.WithXMP || len(o.XMP) > 0
	objs := map[int]string{}
	cat := fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R", objPages)
	if hasXMP {
		cat += fmt.Sprintf(" /Metadata %d 0 R", objMetadata)
	}
	size := pdfSize
	if o.IRMWrapper != "" {
		size += 2
		cat += fmt.Sprintf(" /Version /2.0 /AF [%d 0 R] /Names << /EmbeddedFiles << /Names [%s %d 0 R] >> >>", objFileSpec, pdfString(irmPayloadName), objFileSpec)
		fs := fmt.Sprintf("<< /Type /Filespec /F %s /UF %s /AFRelationship /EncryptedPayload /EF << /F %d 0 R >>", pdfString(irmPayloadName), pdfString(irmPayloadName), objPayload)
		sub := ""
		if o.IRMWrapper == "ep" {
			fs += " /EP << /Type /EncryptedPayload /Subtype /MicrosoftIRMServices /Version (2) >>"
		} else {
			sub = " /Subtype /MicrosoftIRMServices"
		}
		objs[objFileSpec] = fs + " >>"
		objs[objPayload] = streamObj("/Type /EmbeddedFile"+sub, Padding(2048, 13))
	}
	objs[objCatalog] = cat + " >>"
	objs[objPages] = fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R] /Count 1 >>", objPage)
	res := fmt.Sprintf("/Font << /F1 %d 0 R >>", objFont)
	if o.Padding > 0 {
		res += fmt.Sprintf(" /XObject << /Im1 %d 0 R >>", objImage)
	}
	objs[objPage] = fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R /Resources << %s >> >>", objPages, objContent, res)
	objs[objFont] = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
	var content strings.Builder
	content.WriteString("BT /F1 12 Tf 72 720 Td 14 TL\n")
	for _, t := range o.Text {
		fmt.Fprintf(&content, "%s Tj T*\n", pdfString(t))
	}
	content.WriteString("ET")
	objs[objContent] = streamObj("", []byte(content.String()))
	if hasXMP {
		x := XMPPacket(o.XMP, o.XMPAttributes)
		if o.XMPFlate {
			objs[objMetadata] = streamObj("/Type /Metadata /Subtype /XML /Filter /FlateDecode", deflate(x))
		} else {
			objs[objMetadata] = streamObj("/Type /Metadata /Subtype /XML", x)
		}
	}
	objs[objInfo] = infoDict(o.Info, o.Encrypt != "")
	if o.Padding > 0 {
		objs[objImage] = streamObj(fmt.Sprintf("/Type /XObject /Subtype /Image /Width %d /Height 1 /ColorSpace /DeviceGray /BitsPerComponent 8", o.Padding), Padding(o.Padding, 11))
	}
	switch o.Encrypt {
	case "password":
		objs[objEncrypt] = fmt.Sprintf("<< /Filter /Standard /V 4 /R 4 /Length 128 /P -1028 /O <%x> /U <%x> >>", Padding(32, 1), Padding(32, 2))
	case "rms":
		objs[objEncrypt] = fmt.Sprintf("<< /Filter /MicrosoftIRMServices /MicrosoftIRMVersion 1 /V 2 /Length 128 /PublishingLicense <%x> >>", Padding(64, 3))
	}
	id := fmt.Sprintf("[<%x> <%x>]", Padding(16, 4), Padding(16, 4))
	trailerExtra := fmt.Sprintf("/Root %d 0 R /Info %d 0 R /ID %s", objCatalog, objInfo, id)
	if o.Encrypt != "" {
		trailerExtra += fmt.Sprintf(" /Encrypt %d 0 R", objEncrypt)
	}

	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offsets := map[int]int{}
	write := func(n int, body string) {
		offsets[n] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", n, body)
	}
	// Catalog, Info and metadata first, as many writers do: the reader must reach them from the tail.
	order := []int{objCatalog, objInfo, objMetadata, objPages, objPage, objFont, objContent, objImage, objEncrypt, objFileSpec, objPayload}
	var startxref int
	if !o.XRefStream {
		for _, n := range order {
			if body, ok := objs[n]; ok {
				write(n, body)
			}
		}
		startxref = b.Len()
		fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", size)
		for n := 1; n < size; n++ {
			if off, ok := offsets[n]; ok {
				fmt.Fprintf(&b, "%010d 00000 n\r\n", off)
			} else {
				b.WriteString("0000000000 65535 f\r\n")
			}
		}
		fmt.Fprintf(&b, "trailer\n<< /Size %d %s >>\nstartxref\n%d\n%%%%EOF\n", size, trailerExtra, startxref)
	} else {
		// Non-stream objects go into one object stream; streams stay top-level.
		packed := []int{objCatalog, objInfo, objPages, objPage, objFont}
		if o.Encrypt != "" {
			// The spec keeps the encryption dictionary out of object streams.
			write(objEncrypt, objs[objEncrypt])
		}
		var head, body strings.Builder
		index := map[int]int{}
		for i, n := range packed {
			index[n] = i
			fmt.Fprintf(&head, "%d %d ", n, body.Len())
			body.WriteString(objs[n] + "\n")
		}
		data := head.String() + body.String()
		write(objObjStm, streamObj(fmt.Sprintf("/Type /ObjStm /N %d /First %d /Filter /FlateDecode", len(packed), head.Len()), deflate([]byte(data))))
		for _, n := range []int{objMetadata, objContent, objImage} {
			if s, ok := objs[n]; ok {
				write(n, s)
			}
		}
		startxref = b.Len()
		offsets[objXRef] = startxref
		// Rows of W [1 4 2], PNG "Up" predicted like real writers do.
		var rows []byte
		prev := make([]byte, 7)
		for n := 0; n < pdfSize; n++ {
			row := make([]byte, 7)
			if i, ok := index[n]; ok {
				row[0] = 2
				row[1], row[2], row[3], row[4] = 0, 0, 0, byte(objObjStm)
				row[6] = byte(i)
			} else if off, ok := offsets[n]; ok {
				row[0] = 1
				row[1], row[2], row[3], row[4] = byte(off>>24), byte(off>>16), byte(off>>8), byte(off)
			} else {
				row[5], row[6] = 0xff, 0xff
			}
			rows = append(rows, 2)
			for k := range row {
				rows = append(rows, row[k]-prev[k])
			}
			prev = row
		}
		xs := deflate(rows)
		fmt.Fprintf(&b, "%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 7 >> %s /Length %d >>\nstream\n", objXRef, pdfSize, trailerExtra, len(xs))
		b.Write(xs)
		fmt.Fprintf(&b, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", startxref)
	}
	for _, u := range o.Updates {
		upd := map[int]int{}
		upd[objInfo] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", objInfo, infoDict(u.Info, o.Encrypt != ""))
		if u.SetXMP && hasXMP {
			upd[objMetadata] = b.Len()
			fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", objMetadata, streamObj("/Type /Metadata /Subtype /XML", XMPPacket(u.XMP, o.XMPAttributes)))
		}
		x := b.Len()
		b.WriteString("xref\n")
		nums := make([]int, 0, len(upd))
		for n := range upd {
			nums = append(nums, n)
		}
		sort.Ints(nums)
		for _, n := range nums {
			fmt.Fprintf(&b, "%d 1\n%010d 00000 n\r\n", n, upd[n])
		}
		fmt.Fprintf(&b, "trailer\n<< /Size %d %s /Prev %d >>\nstartxref\n%d\n%%%%EOF\n", pdfSize, trailerExtra, startxref, x)
		startxref = x
	}
	return b.Bytes()
}
