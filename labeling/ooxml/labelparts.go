package ooxml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// This file edits the two label parts (docProps/custom.xml and docMetadata/LabelInfo.xml) and
// the package's wiring parts as text: the elements it keeps are copied byte for byte, so a
// label of another organisation comes out exactly as its tenant's software wrote it.

// Namespaces of the parts edited here.
const (
	NSCustomProps = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
	NSVT          = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
	NSLabelInfo   = "http://schemas.microsoft.com/office/2020/mipLabelMetadata"
	// FmtIDUser is the format id of user-defined custom properties.
	FmtIDUser = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}"
)

// span is one element of a parsed part: its byte range and what the editor needs of it.
type span struct {
	start, end int // data[start:end] is the whole element, tags included
	local      string
	attrs      []xml.Attr
	text       string // character data of the first child element (a property's value)
}

// xmlDoc is a part parsed for in-place editing: its root's shape and its top-level children.
type xmlDoc struct {
	data        []byte
	rootRaw     string // the root's qualified name as written, e.g. "clbl:labelList"
	rootAttrs   []xml.Attr
	rootOpenEnd int // offset just after the root's start tag
	rootEndTag  int // offset of the root's end tag ("</…>"); rootOpenEnd when the root is one tag
	selfClosing bool
	children    []span
}

// maxTokens bounds the work spent on one part: real label parts hold a few dozen elements.
const maxTokens = 200_000

func parseDoc(data []byte, what string) (*xmlDoc, error) {
	bom := 0
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		bom = 3
	}
	d := xml.NewDecoder(bytes.NewReader(data[bom:]))
	doc := &xmlDoc{data: data}
	type open struct {
		se       xml.StartElement
		start    int
		afterTag int
		text     strings.Builder
	}
	var stack []*open
	for n := 0; ; n++ {
		if n > maxTokens {
			return nil, malformed("%s: too many XML tokens", what)
		}
		before := int(d.InputOffset()) + bom
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, malformed("%s: %v", what, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			o := &open{se: t.Copy(), start: before, afterTag: int(d.InputOffset()) + bom}
			if len(stack) == 0 {
				if doc.rootRaw != "" {
					return nil, malformed("%s: more than one root element", what)
				}
				doc.rootRaw = rawName(data[before:])
				doc.rootAttrs = o.se.Attr
				doc.rootOpenEnd = o.afterTag
			}
			stack = append(stack, o)
		case xml.CharData:
			// The value of a property is the text of its first child (depth 3).
			if len(stack) == 3 && stack[1].text.Len() < 1<<16 {
				stack[1].text.Write(t)
			}
		case xml.EndElement:
			if len(stack) == 0 {
				return nil, malformed("%s: unbalanced end tag", what)
			}
			o := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			end := int(d.InputOffset()) + bom
			switch len(stack) {
			case 0:
				doc.selfClosing = end == o.afterTag
				doc.rootEndTag = before
			case 1:
				doc.children = append(doc.children, span{start: o.start, end: end, local: o.se.Name.Local,
					attrs: o.se.Attr, text: o.text.String()})
			}
		}
	}
	if doc.rootRaw == "" || len(stack) != 0 {
		return nil, malformed("%s: no complete root element", what)
	}
	return doc, nil
}

// rawName returns the qualified name of the tag starting at b[0] == '<'.
func rawName(b []byte) string {
	i := 1
	for i < len(b) && !strings.ContainsRune(" \t\r\n/>", rune(b[i])) {
		i++
	}
	return string(b[1:i])
}

// prefix is the root's namespace prefix with its colon ("clbl:"), or "".
func (d *xmlDoc) prefix() string {
	// As encoding/xml splits a name (Decoder.nsname): a colon first or last is part of an
	// unprefixed local name, so elements written with that "prefix" would not be read back
	// as the same local name (FuzzLabelInfoReplace found a root named ":cbl…").
	if space, local, ok := strings.Cut(d.rootRaw, ":"); ok && space != "" && local != "" {
		return space + ":"
	}
	return ""
}

// declares reports whether the root binds prefix p to namespace ns.
func (d *xmlDoc) declares(p, ns string) bool {
	for _, a := range d.rootAttrs {
		if a.Name.Space == "xmlns" && a.Name.Local == p && a.Value == ns {
			return true
		}
	}
	return false
}

// rebuild copies the part with the children for which drop says so left out, the children in
// replace written in their place, and insert written at offset at (inside the root).
func (d *xmlDoc) rebuild(drop func(i int) bool, replace map[int]string, insert string, at int) []byte {
	var b bytes.Buffer
	b.Grow(len(d.data) + len(insert))
	pos := 0
	for i, c := range d.children {
		r, isRep := replace[i]
		if !isRep && !drop(i) {
			continue
		}
		if at >= pos && at <= c.start && insert != "" {
			b.Write(d.data[pos:at])
			b.WriteString(insert)
			insert = ""
			pos = at
		}
		b.Write(d.data[pos:c.start])
		b.WriteString(r)
		pos = c.end
	}
	if insert != "" {
		at = max(at, pos)
		if d.selfClosing {
			// <root …/> becomes <root …>insert</root>.
			b.Write(d.data[pos : d.rootOpenEnd-2])
			b.WriteString(">" + insert + "</" + d.rootRaw + ">")
			pos = d.rootOpenEnd
		} else {
			b.Write(d.data[pos:at])
			b.WriteString(insert)
			pos = at
		}
	}
	b.Write(d.data[pos:])
	return b.Bytes()
}

func attr(attrs []xml.Attr, local string) (string, bool) {
	for _, a := range attrs {
		if a.Name.Local == local && a.Name.Space == "" {
			return a.Value, true
		}
	}
	return "", false
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// ---- docProps/custom.xml

// Prop is a custom document property as found in custom.xml.
type Prop struct {
	Name  string
	Value string // text of the value element (vt:lpwstr for labels)
	PID   int
}

// CustomProps is a parsed docProps/custom.xml, editable in place.
type CustomProps struct {
	doc   *xmlDoc
	Props []Prop // in document order; Props[i] is the i-th property element
}

// ParseCustomProps parses a custom-properties part.
func ParseCustomProps(data []byte) (*CustomProps, error) {
	doc, err := parseDoc(data, "custom.xml")
	if err != nil {
		return nil, err
	}
	c := &CustomProps{doc: doc}
	for _, s := range doc.children {
		name, _ := attr(s.attrs, "name")
		pidS, _ := attr(s.attrs, "pid")
		pid, _ := strconv.Atoi(strings.TrimSpace(pidS))
		c.Props = append(c.Props, Prop{Name: name, Value: s.text, PID: pid})
	}
	return c, nil
}

// Edit returns the part with the properties for which drop(i, Props[i]) is true removed and add appended
// (string values, pids after the highest in use). Every other byte stays as it was.
func (c *CustomProps) Edit(drop func(i int, p Prop) bool, add []Prop) []byte {
	pid := 1 // pids start at 2 ([MS-OI29500] 2.1.31: 0 and 1 are reserved)
	for _, p := range c.Props {
		pid = max(pid, p.PID)
	}
	pre := c.doc.prefix()
	vtDecl := ""
	if !c.doc.declares("vt", NSVT) {
		vtDecl = ` xmlns:vt="` + NSVT + `"`
	}
	var ins strings.Builder
	for _, p := range add {
		pid++
		fmt.Fprintf(&ins, `<%sproperty fmtid="%s" pid="%d" name="%s"><vt:lpwstr%s>%s</vt:lpwstr></%sproperty>`,
			pre, FmtIDUser, pid, esc(p.Name), vtDecl, esc(p.Value), pre)
	}
	return c.doc.rebuild(func(i int) bool {
		return i < len(c.Props) && c.doc.children[i].local == "property" && drop(i, c.Props[i])
	},
		nil, ins.String(), c.doc.rootEndTag)
}

// NewCustomProps returns a custom-properties part holding props, in Office's own layout.
func NewCustomProps(props []Prop) []byte {
	base := []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\r\n" +
		`<Properties xmlns="` + NSCustomProps + `" xmlns:vt="` + NSVT + `"></Properties>`)
	c, err := ParseCustomProps(base)
	if err != nil {
		panic(err) // a constant document
	}
	return c.Edit(func(int, Prop) bool { return false }, props)
}

// ---- docMetadata/LabelInfo.xml ([MS-OFFCRYPTO] 2.6.4, 2.6.5.4)

// LabelEntry is one clbl:label element's attributes as written.
type LabelEntry struct {
	ID, Enabled, Method, SiteID, ContentBits, Removed string
	HasContentBits                                    bool
}

// LabelInfo is a parsed LabelInfo part, editable in place.
type LabelInfo struct {
	doc     *xmlDoc
	Entries []LabelEntry
	index   []int // Entries[i] is doc.children[index[i]]
	extLst  int   // offset of the extLst element (labels go before it), or -1
}

// ParseLabelInfo parses a LabelInfo part.
func ParseLabelInfo(data []byte) (*LabelInfo, error) {
	doc, err := parseDoc(data, "LabelInfo")
	if err != nil {
		return nil, err
	}
	li := &LabelInfo{doc: doc, extLst: -1}
	for i, s := range doc.children {
		switch s.local {
		case "label":
			var e LabelEntry
			e.ID, _ = attr(s.attrs, "id")
			e.Enabled, _ = attr(s.attrs, "enabled")
			e.Method, _ = attr(s.attrs, "method")
			e.SiteID, _ = attr(s.attrs, "siteId")
			e.ContentBits, e.HasContentBits = attr(s.attrs, "contentBits")
			e.Removed, _ = attr(s.attrs, "removed")
			li.Entries = append(li.Entries, e)
			li.index = append(li.index, i)
		case "extLst":
			if li.extLst < 0 {
				li.extLst = s.start
			}
		}
	}
	return li, nil
}

// Element formats one label element the way Office writes it (see the real samples: attributes
// in the schema's order, a space before "/>"); the caller passes normalised values.
func (li *LabelInfo) Element(e LabelEntry) string {
	return labelElement(li.doc.prefix(), e)
}

func labelElement(pre string, e LabelEntry) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<%slabel id="%s" enabled="%s" method="%s" siteId="%s"`, pre, esc(e.ID), esc(e.Enabled), esc(e.Method), esc(e.SiteID))
	if e.HasContentBits {
		fmt.Fprintf(&b, ` contentBits="%s"`, esc(e.ContentBits))
	}
	fmt.Fprintf(&b, ` removed="%s" />`, esc(e.Removed))
	return b.String()
}

// Replace returns the part with the entries for which match is true replaced by elem: the first
// one in its place, the others dropped; with no match, elem is added before the first label
// (or before any extLst): readers that take the first entry among equals then find the label
// just written. An empty elem only drops. Every other byte stays as it was.
func (li *LabelInfo) Replace(match func(e LabelEntry) bool, elem string) []byte {
	replace := map[int]string{}
	drop := map[int]bool{}
	for i, e := range li.Entries {
		if !match(e) {
			continue
		}
		if len(replace) == 0 {
			replace[li.index[i]] = elem
		} else {
			drop[li.index[i]] = true
		}
	}
	insert, at := "", li.doc.rootEndTag
	if len(replace) == 0 {
		insert = elem
		switch {
		case len(li.index) > 0:
			at = li.doc.children[li.index[0]].start
		case li.extLst >= 0:
			at = li.extLst
		}
	}
	return li.doc.rebuild(func(i int) bool { return drop[i] }, replace, insert, at)
}

// NewLabelInfo returns a LabelInfo part with the given elements, in the form Office writes
// (officeaddin_SalesTemplate.xlsx and the other real samples: no line break, utf-8 declaration).
func NewLabelInfo(entries ...LabelEntry) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8" standalone="yes"?><clbl:labelList xmlns:clbl="` + NSLabelInfo + `">`)
	for _, e := range entries {
		b.WriteString(labelElement("clbl:", e))
	}
	b.WriteString(`</clbl:labelList>`)
	return []byte(b.String())
}

// ---- wiring: _rels/.rels and [Content_Types].xml

// Relationship is one package relationship.
type Relationship struct{ ID, Type, Target, TargetMode string }

// Relationships is a parsed relationships part, editable in place.
type Relationships struct {
	doc  *xmlDoc
	Rels []Relationship
}

// ParseRelationships parses a relationships part; empty data is an empty part.
func ParseRelationships(data []byte) (*Relationships, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\r\n" +
			`<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"></Relationships>`)
	}
	doc, err := parseDoc(data, "relationships")
	if err != nil {
		return nil, err
	}
	r := &Relationships{doc: doc}
	for _, s := range doc.children {
		if s.local != "Relationship" {
			continue
		}
		var x Relationship
		x.ID, _ = attr(s.attrs, "Id")
		x.Type, _ = attr(s.attrs, "Type")
		x.Target, _ = attr(s.attrs, "Target")
		x.TargetMode, _ = attr(s.attrs, "TargetMode")
		r.Rels = append(r.Rels, x)
	}
	return r, nil
}

// Add returns the part with a relationship of type typ to target appended, under the first
// free rIdN.
func (r *Relationships) Add(typ, target string) []byte {
	used := map[string]bool{}
	for _, x := range r.Rels {
		used[x.ID] = true
	}
	id := ""
	for n := 1; ; n++ {
		if id = "rId" + strconv.Itoa(n); !used[id] {
			break
		}
	}
	pre := r.doc.prefix()
	el := fmt.Sprintf(`<%sRelationship Id="%s" Type="%s" Target="%s"/>`, pre, id, esc(typ), esc(target))
	return r.doc.rebuild(func(int) bool { return false }, nil, el, r.doc.rootEndTag)
}

// ContentTypes is a parsed [Content_Types].xml, editable in place.
type ContentTypes struct {
	doc       *xmlDoc
	overrides map[string]bool // lower-case part names with an Override
}

// ParseContentTypes parses [Content_Types].xml.
func ParseContentTypes(data []byte) (*ContentTypes, error) {
	doc, err := parseDoc(data, contentTypesName)
	if err != nil {
		return nil, err
	}
	ct := &ContentTypes{doc: doc, overrides: map[string]bool{}}
	for _, s := range doc.children {
		if s.local == "Override" {
			pn, _ := attr(s.attrs, "PartName")
			ct.overrides[strings.ToLower(pn)] = true
		}
	}
	return ct, nil
}

// HasOverride reports whether part (a part name, with or without its leading slash) has an
// Override.
func (ct *ContentTypes) HasOverride(part string) bool {
	return ct.overrides[strings.ToLower("/"+strings.TrimPrefix(part, "/"))]
}

// AddOverrides returns the part with an Override appended for each part name → content type
// in order (pairs), skipping parts that already have one.
func (ct *ContentTypes) AddOverrides(pairs ...[2]string) []byte {
	pre := ct.doc.prefix()
	var ins strings.Builder
	for _, p := range pairs {
		if ct.HasOverride(p[0]) {
			continue
		}
		fmt.Fprintf(&ins, `<%sOverride PartName="%s" ContentType="%s"/>`, pre, esc("/"+strings.TrimPrefix(p[0], "/")), esc(p[1]))
	}
	return ct.doc.rebuild(func(int) bool { return false }, nil, ins.String(), ct.doc.rootEndTag)
}
