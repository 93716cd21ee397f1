package labeling

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// XML namespaces and OPC wiring of the two label encodings (see shared/labels.md).
const (
	nsLabelInfo       = "http://schemas.microsoft.com/office/2020/mipLabelMetadata"
	nsCustomProps     = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
	nsVT              = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
	nsPDFX            = "http://ns.adobe.com/pdfx/1.3/"
	relClassification = "http://schemas.microsoft.com/office/2020/02/relationships/classificationlabels"
	relCustomProps    = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties"
	ctLabelInfo       = "application/vnd.ms-office.classificationlabels+xml"
	ctCustomProps     = "application/vnd.openxmlformats-officedocument.custom-properties+xml"
	fmtidUser         = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}"
	labelInfoPath     = "docMetadata/LabelInfo.xml"
	customPath        = "docProps/custom.xml"
	relsPath          = "_rels/.rels"
	contentTypesPath  = "[Content_Types].xml"
	msipPrefix        = "MSIP_Label_"
)

// normGUID returns a lowercase GUID without braces, or "" when s is not a GUID: after
// trimming space, an optional '{', 8-4-4-4-12 hexadecimal digits, an optional '}'. (It was a
// regular expression, which cost a tenth of a local scan's CPU: a dozen GUIDs per file.)
func normGUID(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "{")
	s = strings.TrimSuffix(s, "}")
	if len(s) != 36 {
		return ""
	}
	var b [36]byte
	for i := 0; i < 36; i++ {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return ""
			}
		case c >= '0' && c <= '9' || c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			c += 'a' - 'A'
		default:
			return ""
		}
		b[i] = c
	}
	return string(b[:])
}

// normMethod maps every recorded method spelling onto standard, privileged or auto.
func normMethod(s string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "privileged", "manual":
		return "privileged"
	case "standard":
		return "standard"
	case "automatic", "auto":
		return "auto"
	}
	return ""
}

// setDateLayouts are the shapes labels.md lists, plus a few near variants writers produce.
var setDateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04:05Z0700",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02",
}

// parseSetDate is lenient: an unparseable date is dropped, never an error.
func parseSetDate(s string) time.Time {
	s = strings.TrimSpace(s)
	for _, l := range setDateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}

// propLabels groups MSIP_Label_{guid}_{Attr} key/value pairs into labels, in first-seen order.
// When lenientEnabled is set, a label whose Enabled value cannot be read (an encrypted PDF's
// strings) counts as enabled: the key's presence is the only readable fact.
func propLabels(keys, values []string, source string, lenientEnabled bool) []Label {
	byID := map[string]*Label{}
	var order []string
	for i, k := range keys {
		if !strings.HasPrefix(k, msipPrefix) {
			continue
		}
		rest := k[len(msipPrefix):]
		us := strings.IndexByte(rest, '_')
		if us < 0 {
			continue
		}
		id := normGUID(rest[:us])
		if id == "" {
			continue
		}
		attr, v := rest[us+1:], strings.TrimSpace(values[i])
		l, ok := byID[id]
		if !ok {
			l = &Label{ID: id, Source: source, Enabled: lenientEnabled}
			byID[id] = l
			order = append(order, id)
		}
		switch strings.ToLower(attr) {
		case "enabled":
			if b, ok := parseBool(v); ok {
				l.Enabled = b
			}
		case "siteid":
			l.Tenant = normGUID(v)
		case "method":
			l.Method = normMethod(v)
		case "extended_msft_method", "_extended_msft_method":
			if l.Method == "" {
				l.Method = normMethod(v)
			}
		case "setdate":
			l.SetDate = parseSetDate(v)
		case "name":
			l.Name = v
		case "parent":
			// A sublabel written the AIP-classic way names its parent, whose own full set of
			// properties is written beside it (shared/samples/real/README.md).
			l.ParentID = normGUID(v)
		case "contentbits":
			if n, err := strconv.ParseInt(strings.TrimPrefix(strings.ToLower(v), "0x"), 0, 32); err == nil {
				l.ContentBits = int(n)
			}
		}
	}
	out := make([]Label, 0, len(order))
	for _, id := range order {
		out = append(out, *byID[id])
	}
	return out
}

// LabelInfo XML wire structs.
type labelInfoXML struct {
	XMLName xml.Name       `xml:"labelList"`
	Labels  []labelInfoTag `xml:"label"`
}

type labelInfoTag struct {
	ID          string `xml:"id,attr"`
	Enabled     string `xml:"enabled,attr"`
	Method      string `xml:"method,attr"`
	SiteID      string `xml:"siteId,attr"`
	ContentBits string `xml:"contentBits,attr"`
	Removed     string `xml:"removed,attr"`
}

func parseLabelInfo(data []byte, source string) ([]Label, error) {
	li, err := parseLabelInfoParts(data)
	if err != nil {
		return nil, err
	}
	var out []Label
	for _, t := range li.Labels {
		l := Label{ID: normGUID(t.ID), Tenant: normGUID(t.SiteID), Method: normMethod(t.Method), Source: source}
		l.Enabled, _ = parseBool(t.Enabled)
		l.Removed, _ = parseBool(t.Removed)
		if n, err := strconv.Atoi(strings.TrimSpace(t.ContentBits)); err == nil {
			l.ContentBits = n
		}
		if l.ID == "" {
			continue
		}
		out = append(out, l)
	}
	return out, nil
}

// Custom properties wire structs; InnerXML keeps property values we do not touch verbatim.
type customPropsXML struct {
	XMLName    xml.Name        `xml:"Properties"`
	Properties []customPropXML `xml:"property"`
}

type customPropXML struct {
	FmtID      string `xml:"fmtid,attr"`
	PID        string `xml:"pid,attr"`
	Name       string `xml:"name,attr"`
	LinkTarget string `xml:"linkTarget,attr,omitempty"`
	Inner      []struct {
		XMLName xml.Name
		Text    string `xml:",chardata"`
	} `xml:",any"`
	InnerXML string `xml:",innerxml"`
}

func (p customPropXML) value() string {
	if len(p.Inner) == 0 {
		return ""
	}
	return p.Inner[0].Text
}

// parseLabelInfoParts reads LabelInfo.xml's label elements, through the fast scanner when
// the part is plain (fastxml.go), else encoding/xml.
func parseLabelInfoParts(data []byte) (*labelInfoXML, error) {
	if kids, ok := fastChildren(data, "labelList", "label"); ok {
		li := &labelInfoXML{}
		for _, k := range kids {
			a := k.attrs
			li.Labels = append(li.Labels, labelInfoTag{ID: a["id"], Enabled: a["enabled"], Method: a["method"], SiteID: a["siteId"],
				ContentBits: a["contentBits"], Removed: a["removed"]})
		}
		return li, nil
	}
	return parseLabelInfoXML(data)
}

func parseLabelInfoXML(data []byte) (*labelInfoXML, error) {
	var li labelInfoXML
	if err := xml.Unmarshal(data, &li); err != nil {
		return nil, fmt.Errorf("%w: LabelInfo: %v", ErrMalformed, err)
	}
	return &li, nil
}

// parseCustom reads custom.xml's properties, through the fast scanner when the part is plain
// (fastxml.go), else encoding/xml. The fast answer has no InnerXML: only labels are read
// from it.
func parseCustom(data []byte) (*customPropsXML, error) {
	if kids, ok := fastChildren(data, "Properties", "property"); ok {
		c := &customPropsXML{}
		for _, k := range kids {
			a := k.attrs
			p := customPropXML{FmtID: a["fmtid"], PID: a["pid"], Name: a["name"], LinkTarget: a["linkTarget"]}
			if k.hasElement {
				p.Inner = append(p.Inner, struct {
					XMLName xml.Name
					Text    string `xml:",chardata"`
				}{Text: k.firstText})
			}
			c.Properties = append(c.Properties, p)
		}
		return c, nil
	}
	return parseCustomXML(data)
}

func parseCustomXML(data []byte) (*customPropsXML, error) {
	var c customPropsXML
	if err := xml.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%w: custom.xml: %v", ErrMalformed, err)
	}
	return &c, nil
}

func customLabels(c *customPropsXML) []Label {
	keys := make([]string, len(c.Properties))
	vals := make([]string, len(c.Properties))
	for i, p := range c.Properties {
		keys[i], vals[i] = p.Name, p.value()
	}
	return propLabels(keys, vals, SourceCustom, false)
}

// xmpProps collects pdfx: MSIP properties written as elements or as attributes.
func xmpProps(data []byte) (keys, vals []string, err error) {
	d := xml.NewDecoder(strings.NewReader(string(data)))
	d.Strict = false
	var cur string
	var text strings.Builder
	for tokens := 0; ; tokens++ {
		if tokens > 200_000 {
			return keys, vals, fmt.Errorf("%w: XMP has too many tokens", ErrMalformed)
		}
		tok, err := d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return keys, vals, nil
			}
			return keys, vals, fmt.Errorf("%w: XMP: %v", ErrMalformed, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			for _, a := range t.Attr {
				if a.Name.Space == nsPDFX && strings.HasPrefix(a.Name.Local, msipPrefix) {
					keys, vals = append(keys, a.Name.Local), append(vals, a.Value)
				}
			}
			if t.Name.Space == nsPDFX && strings.HasPrefix(t.Name.Local, msipPrefix) {
				cur = t.Name.Local
				text.Reset()
			}
		case xml.CharData:
			if cur != "" && text.Len() < 4096 {
				text.Write(t)
			}
		case xml.EndElement:
			if cur != "" && t.Name.Local == cur {
				keys, vals = append(keys, cur), append(vals, text.String())
				cur = ""
			}
		}
	}
}

// effective applies the precedence of [MS-OFFCRYPTO] 2.6.3 to an Office file's records and
// picks one label with today's single-tenant rule (see perTenant and pickLabel).
func effective(labels []Label) *Label {
	return pickLabel(perTenant(labels, officeRank), "")
}

// officeRank ranks an Office file's label sources: [MS-OFFCRYPTO] 2.6.3 says LabelInfo wins for
// every tenant it has entries for, and the custom (or OLE) properties count only for tenants it
// has none for.
func officeRank(src string) int {
	if src == SourceLabelInfo || src == SourceDataSpace {
		return 2
	}
	return 1
}

// perTenant returns the labels that apply, at most one per tenant, in the order first found.
// For each tenant only the records of its highest-ranked source count (a removed entry
// included: it hides older records of its tenant); among them the enabled ones that are not the
// parent of another one (a sublabel is written with its parent's full property set beside it:
// the sublabel is the label), the most recently set winning, then the first recorded. Name and
// set date missing from the winner (LabelInfo has neither) are borrowed from another record
// of the same label.
func perTenant(labels []Label, rank func(src string) int) []Label {
	best := map[string]int{}
	var tenants []string
	for _, l := range labels {
		r, ok := best[l.Tenant]
		if !ok {
			tenants = append(tenants, l.Tenant)
		}
		if rk := rank(l.Source); !ok || rk > r {
			best[l.Tenant] = rk
		}
	}
	var out []Label
	for _, t := range tenants {
		var cands []*Label
		for i := range labels {
			l := &labels[i]
			if l.Tenant == t && rank(l.Source) == best[t] && l.Enabled && !l.Removed {
				cands = append(cands, l)
			}
		}
		var win *Label
		for _, l := range cands {
			isParent := false
			for _, c := range cands {
				if c.ParentID != "" && c.ParentID == l.ID && c.ID != l.ID {
					isParent = true
					break
				}
			}
			if isParent {
				continue
			}
			if win == nil || l.SetDate.After(win.SetDate) {
				win = l
			}
		}
		if win == nil {
			continue
		}
		w := *win
		for _, l := range labels {
			if l.ID == w.ID && l.Tenant == w.Tenant && l.Source != w.Source {
				if w.Name == "" {
					w.Name = l.Name
				}
				if w.SetDate.IsZero() {
					w.SetDate = l.SetDate
				}
				if w.ParentID == "" {
					w.ParentID = l.ParentID
				}
			}
		}
		out = append(out, w)
	}
	return out
}

// pickLabel chooses the file's label among the per-tenant labels: tenant's own when it has one,
// else the most recently set, then the first recorded.
func pickLabel(eff []Label, tenant string) *Label {
	if t := normGUID(tenant); t != "" {
		for i := range eff {
			if eff[i].Tenant == t {
				l := eff[i]
				return &l
			}
		}
	}
	var best *Label
	for i := range eff {
		if best == nil || eff[i].SetDate.After(best.SetDate) {
			best = &eff[i]
		}
	}
	if best == nil {
		return nil
	}
	l := *best
	return &l
}
