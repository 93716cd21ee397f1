package labeling

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labelgate/labelgate/labeling/cfb"
	"github.com/labelgate/labelgate/labeling/ooxml"
	"github.com/labelgate/labelgate/labeling/pdf"
)

// ErrInvalidLabel is returned by Apply for a label whose id or tenant is not a GUID.
var ErrInvalidLabel = errors.New("invalid label")

// Apply writes to w a copy of the file in r carrying label l in every encoding the format has:
// for Office both docMetadata/LabelInfo.xml and the MSIP_Label_ custom properties (every other
// label record is dropped, so the file reads back with exactly l); for PDF an incremental update
// with a new Info dictionary and, when the file has one, a new XMP packet.
func Apply(ctx context.Context, r io.ReaderAt, size int64, name string, l Label, w io.Writer) error {
	id, tenant := normGUID(l.ID), normGUID(l.Tenant)
	if id == "" || tenant == "" {
		return fmt.Errorf("%w: id %q and tenant %q must be GUIDs", ErrInvalidLabel, l.ID, l.Tenant)
	}
	l.ID, l.Tenant, l.Enabled, l.Removed = id, tenant, true, false
	if l.SetDate.IsZero() {
		l.SetDate = time.Now().UTC()
	}
	return rewrite(ctx, r, size, name, &l, w)
}

// Remove writes to w a copy of the file in r without a label: LabelInfo records each tenant's
// label as removed, and the MSIP_Label_ custom properties or PDF keys are deleted.
func Remove(ctx context.Context, r io.ReaderAt, size int64, name string, w io.Writer) error {
	return rewrite(ctx, r, size, name, nil, w)
}

func rewrite(ctx context.Context, r io.ReaderAt, size int64, name string, l *Label, w io.Writer) error {
	t := TypeOf(name)
	if t == TypeUnsupported {
		return fmt.Errorf("%w: %q", ErrUnsupported, name)
	}
	if size > MaxLabelSize {
		return fmt.Errorf("%w: %d bytes", ErrTooLarge, size)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	head := make([]byte, min(size, 1024))
	if n, _ := r.ReadAt(head, 0); n < len(head) || len(head) < 8 {
		return fmt.Errorf("%w: cannot read the file's header", ErrMalformed)
	}
	switch {
	case t == TypePDF:
		if !bytes.Contains(head, magicPDF) {
			return fmt.Errorf("%w: no %%PDF header", ErrMalformed)
		}
		return rewritePDF(r, size, l, w)
	case bytes.HasPrefix(head, cfb.Magic):
		return fmt.Errorf("%w: encrypted Office container", ErrProtected)
	case bytes.HasPrefix(head, magicZIP):
		return rewriteOOXML(ctx, r, size, l, w)
	}
	return fmt.Errorf("%w: not a ZIP or compound file", ErrMalformed)
}

func methodWord(m string) string {
	if m == "privileged" {
		return "Privileged"
	}
	return "Standard"
}

func rewriteOOXML(ctx context.Context, r io.ReaderAt, size int64, l *Label, w io.Writer) error {
	p, err := loadOOXML(ctx, r, size)
	if err != nil {
		return err
	}
	ctData, err := p.archive.ReadEntry(contentTypesPath, maxPart)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrMalformed, contentTypesPath, err)
	}
	parts := map[string][]byte{}

	// LabelInfo: the applied label, or one removed record per tenant that had a label.
	var info []Label
	if l != nil {
		info = []Label{*l}
	} else {
		seen := map[string]bool{}
		for _, x := range p.labels {
			if x.Tenant != "" && !seen[x.Tenant] {
				seen[x.Tenant] = true
				info = append(info, Label{ID: x.Tenant, Tenant: x.Tenant, Removed: true})
			}
		}
	}
	liName := p.labelInfoName
	if liName == "" && len(info) > 0 {
		liName = labelInfoPath
	}
	if liName != "" {
		parts[liName] = labelInfoBytes(info)
	}

	// Custom properties: keep everything that is not a label key, then add the label's keys.
	custName := p.customName
	if p.custom != nil || l != nil {
		if custName == "" {
			custName = customPath
		}
		parts[custName] = customBytes(p.custom, l)
	}

	rels, relsChanged := p.rels, false
	if liName != "" && !hasRel(rels, relClassification) {
		addRel(rels, relClassification, liName)
		relsChanged = true
	}
	if parts[custName] != nil && !hasRel(rels, relCustomProps) {
		addRel(rels, relCustomProps, custName)
		relsChanged = true
	}
	if relsChanged {
		parts[relsPath] = relsBytes(rels)
	}
	ct, err := ensureOverrides(ctData, map[string]string{liName: ctLabelInfo, custName: ctCustomProps})
	if err != nil {
		return err
	}
	parts[contentTypesPath] = ct
	if err := ooxml.Rewrite(r, size, parts, w); err != nil {
		return mapErr(err)
	}
	return nil
}

func labelInfoBytes(ls []Label) []byte {
	var b bytes.Buffer
	b.WriteString(xml.Header[:len(xml.Header)-1])
	b.WriteString("\r\n<clbl:labelList xmlns:clbl=\"" + nsLabelInfo + "\">")
	for _, l := range ls {
		enabled, removed := "1", "0"
		if l.Removed {
			enabled, removed = "0", "1"
		}
		fmt.Fprintf(&b, `<clbl:label id="{%s}" enabled="%s" method="%s" siteId="{%s}" contentBits="%d" removed="%s"/>`,
			l.ID, enabled, methodWord(l.Method), l.Tenant, l.ContentBits, removed)
	}
	b.WriteString("</clbl:labelList>")
	return b.Bytes()
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// labelProps lists the MSIP_Label_ keys for l in the order the MIP SDK writes them.
func labelProps(l *Label) (keys, vals []string) {
	p := msipPrefix + l.ID + "_"
	add := func(k, v string) { keys, vals = append(keys, p+k), append(vals, v) }
	add("Enabled", "true")
	add("SetDate", l.SetDate.UTC().Format("2006-01-02T15:04:05Z"))
	add("Method", methodWord(l.Method))
	if l.Name != "" {
		add("Name", l.Name)
	}
	add("SiteId", l.Tenant)
	add("ContentBits", strconv.Itoa(l.ContentBits))
	return keys, vals
}

func customBytes(old *customPropsXML, l *Label) []byte {
	var b bytes.Buffer
	b.WriteString(xml.Header[:len(xml.Header)-1])
	b.WriteString("\r\n<Properties xmlns=\"" + nsCustomProps + "\" xmlns:vt=\"" + nsVT + "\">")
	pid := 2
	if old != nil {
		for _, p := range old.Properties {
			if strings.HasPrefix(p.Name, msipPrefix) {
				continue
			}
			fmtid := p.FmtID
			if fmtid == "" {
				fmtid = fmtidUser
			}
			fmt.Fprintf(&b, `<property fmtid="%s" pid="%d" name="%s"`, xmlEscape(fmtid), pid, xmlEscape(p.Name))
			if p.LinkTarget != "" {
				fmt.Fprintf(&b, ` linkTarget="%s"`, xmlEscape(p.LinkTarget))
			}
			b.WriteString(">" + p.InnerXML + "</property>")
			pid++
		}
	}
	if l != nil {
		keys, vals := labelProps(l)
		for i := range keys {
			fmt.Fprintf(&b, `<property fmtid="%s" pid="%d" name="%s"><vt:lpwstr>%s</vt:lpwstr></property>`,
				fmtidUser, pid, xmlEscape(keys[i]), xmlEscape(vals[i]))
			pid++
		}
	}
	b.WriteString("</Properties>")
	return b.Bytes()
}

func hasRel(rels *relsXML, typ string) bool {
	for _, r := range rels.Rels {
		if r.Type == typ {
			return true
		}
	}
	return false
}

func addRel(rels *relsXML, typ, target string) {
	used := map[string]bool{}
	for _, r := range rels.Rels {
		used[r.ID] = true
	}
	id := ""
	for n := 1; ; n++ {
		if id = "rId" + strconv.Itoa(n); !used[id] {
			break
		}
	}
	rels.Rels = append(rels.Rels, relXML{ID: id, Type: typ, Target: target})
}

func relsBytes(rels *relsXML) []byte {
	var b bytes.Buffer
	b.WriteString(xml.Header[:len(xml.Header)-1])
	b.WriteString("\r\n<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">")
	for _, r := range rels.Rels {
		fmt.Fprintf(&b, `<Relationship Id="%s" Type="%s" Target="%s"`, xmlEscape(r.ID), xmlEscape(r.Type), xmlEscape(r.Target))
		if r.TargetMode != "" {
			fmt.Fprintf(&b, ` TargetMode="%s"`, xmlEscape(r.TargetMode))
		}
		b.WriteString("/>")
	}
	b.WriteString("</Relationships>")
	return b.Bytes()
}

// contentTypesXML is the [Content_Types].xml wire struct.
type contentTypesXML struct {
	XMLName  xml.Name `xml:"Types"`
	Defaults []struct {
		Extension   string `xml:"Extension,attr"`
		ContentType string `xml:"ContentType,attr"`
	} `xml:"Default"`
	Overrides []ctOverride `xml:"Override"`
}

type ctOverride struct {
	PartName    string `xml:"PartName,attr"`
	ContentType string `xml:"ContentType,attr"`
}

// ensureOverrides sets an Override for every part name (keys "" are ignored).
func ensureOverrides(data []byte, want map[string]string) ([]byte, error) {
	var ct contentTypesXML
	if err := xml.Unmarshal(data, &ct); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, contentTypesPath, err)
	}
	for _, part := range slices.Sorted(maps.Keys(want)) {
		typ := want[part]
		if part == "" {
			continue
		}
		pn := "/" + strings.TrimPrefix(part, "/")
		found := false
		for i := range ct.Overrides {
			if strings.EqualFold(ct.Overrides[i].PartName, pn) {
				ct.Overrides[i].ContentType, found = typ, true
			}
		}
		if !found {
			ct.Overrides = append(ct.Overrides, ctOverride{PartName: pn, ContentType: typ})
		}
	}
	var b bytes.Buffer
	b.WriteString(xml.Header[:len(xml.Header)-1])
	b.WriteString("\r\n<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">")
	for _, d := range ct.Defaults {
		fmt.Fprintf(&b, `<Default Extension="%s" ContentType="%s"/>`, xmlEscape(d.Extension), xmlEscape(d.ContentType))
	}
	for _, o := range ct.Overrides {
		fmt.Fprintf(&b, `<Override PartName="%s" ContentType="%s"/>`, xmlEscape(o.PartName), xmlEscape(o.ContentType))
	}
	b.WriteString("</Types>")
	return b.Bytes(), nil
}

func rewritePDF(r io.ReaderAt, size int64, l *Label, w io.Writer) error {
	doc, err := pdf.Read(r, size)
	if err != nil {
		return mapErr(err)
	}
	if doc.Encrypted {
		return fmt.Errorf("%w: encrypted PDF (%s)", ErrProtected, doc.EncryptFilter)
	}
	info := pdf.Dict{}
	for k, v := range doc.Info {
		if !strings.HasPrefix(string(k), msipPrefix) {
			info[k] = v
		}
	}
	var keys, vals []string
	if l != nil {
		keys, vals = labelProps(l)
		for i := range keys {
			info[pdf.Name(keys[i])] = pdf.TextString(vals[i])
		}
	}
	u := pdf.Update{Info: info}
	if doc.XMP != nil {
		u.XMP = rewriteXMP(doc.XMP, keys, vals)
	}
	if err := pdf.AppendUpdate(r, size, doc, u, w); err != nil {
		return mapErr(err)
	}
	return nil
}

var (
	xmpElemRe  = regexp.MustCompile(`(?s)<([\w.-]+:)?MSIP_Label_[\w-]+(\s[^>]*)?(/>|>[^<]*</([\w.-]+:)?MSIP_Label_[\w-]+\s*>)`)
	xmpAttrRe  = regexp.MustCompile(`\s[\w.-]+:MSIP_Label_[\w-]+\s*=\s*("[^"]*"|'[^']*')`)
	xmpRDFEnd  = regexp.MustCompile(`</([\w.-]+:)?RDF\s*>`)
	xmpEmptyRe = regexp.MustCompile(`(?s)<([\w.-]+:)?Description\s+[^>]*xmlns:pdfx="http://ns\.adobe\.com/pdfx/1\.3/"[^>]*>\s*</([\w.-]+:)?Description>`)
)

// rewriteXMP drops every pdfx MSIP_Label_ property (element or attribute form) and adds the new
// ones in an rdf:Description of their own. XMP is plain XML text; editing it textually keeps
// every other byte of the packet as the authoring tool wrote it.
func rewriteXMP(x []byte, keys, vals []string) []byte {
	x = xmpElemRe.ReplaceAll(x, nil)
	x = xmpAttrRe.ReplaceAll(x, nil)
	x = xmpEmptyRe.ReplaceAll(x, nil)
	if len(keys) == 0 {
		return x
	}
	locs := xmpRDFEnd.FindAllSubmatchIndex(x, -1)
	if len(locs) == 0 {
		return x // not an RDF packet we understand; the Info dictionary still carries the label
	}
	loc := locs[len(locs)-1]
	prefix := ""
	if loc[2] >= 0 {
		prefix = string(x[loc[2]:loc[3]])
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<%sDescription %sabout="" xmlns:pdfx="%s">`, prefix, prefix, nsPDFX)
	for i := range keys {
		fmt.Fprintf(&b, "<pdfx:%s>%s</pdfx:%s>", keys[i], xmlEscape(vals[i]), keys[i])
	}
	fmt.Fprintf(&b, "</%sDescription>", prefix)
	out := make([]byte, 0, len(x)+b.Len())
	out = append(out, x[:loc[0]]...)
	out = append(out, b.Bytes()...)
	return append(out, x[loc[0]:]...)
}
