package labeling

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
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

// ErrTenantAmbiguous is returned by Remove when the file carries labels of several tenants:
// without being told which organisation's label to remove it removes none (RemoveTenant names
// it). It wraps ErrInvalidLabel, so the executor refuses the action rather than retrying it.
var ErrTenantAmbiguous = fmt.Errorf("%w: the file carries labels of several tenants; name the tenant whose label to remove", ErrInvalidLabel)

// Office keeps one label per tenant side by side ([MS-OFFCRYPTO] 2.6.3 infers each tenant's
// choice of encoding from its own siteId entries; real files carry a custom.xml label of one
// tenant beside a LabelInfo.xml label of another — ../shared/samples/real/README.md). So a write
// only ever touches the records of one tenant: the label's own (Apply) or the one named
// (RemoveTenant). Every record of another tenant is copied byte for byte: custom properties and
// LabelInfo elements as text, PDF Info values as parsed, XMP elements and attributes as text.

// Apply writes to w a copy of the file in r carrying label l, replacing the label of l's tenant
// only. For Office it writes both docMetadata/LabelInfo.xml (the element of l.Tenant replaced,
// or added) and the MSIP_Label_ custom properties (l.Tenant's property sets replaced); for PDF
// an incremental update whose Info dictionary, and XMP packet when the file has one, keep every
// other tenant's keys. A sublabel (l.ParentID set) is written as the child with _Parent and,
// in the property-set encodings, a set for the parent after it, as AIP-labelled files show.
func Apply(ctx context.Context, r io.ReaderAt, size int64, name string, l Label, w io.Writer) error {
	id, tenant := normGUID(l.ID), normGUID(l.Tenant)
	if id == "" || tenant == "" {
		return fmt.Errorf("%w: id %q and tenant %q must be GUIDs", ErrInvalidLabel, l.ID, l.Tenant)
	}
	parent := ""
	if strings.TrimSpace(l.ParentID) != "" {
		if parent = normGUID(l.ParentID); parent == "" || parent == id {
			return fmt.Errorf("%w: parent %q must be a GUID other than the label's", ErrInvalidLabel, l.ParentID)
		}
	}
	l.ID, l.Tenant, l.ParentID, l.Enabled, l.Removed = id, tenant, parent, true, false
	if l.SetDate.IsZero() {
		l.SetDate = time.Now().UTC()
	}
	return rewrite(ctx, r, size, name, writeOp{label: &l, tenant: tenant}, w)
}

// RemoveTenant writes to w a copy of the file in r without tenant's label; other tenants'
// labels stay. Where the tenant's label was in LabelInfo.xml, its element becomes Office's
// removed-label form ([MS-OFFCRYPTO] 2.6.5.4: id = siteId, enabled="0", removed="1"; as in the
// real officeaddin_SalesTemplate.xlsx), which also masks stale custom properties from older
// readers; the tenant's MSIP_Label_ custom properties and PDF keys are deleted.
func RemoveTenant(ctx context.Context, r io.ReaderAt, size int64, name, tenant string, w io.Writer) error {
	t := normGUID(tenant)
	if t == "" {
		return fmt.Errorf("%w: tenant %q must be a GUID", ErrInvalidLabel, tenant)
	}
	return rewrite(ctx, r, size, name, writeOp{tenant: t}, w)
}

// Remove is RemoveTenant for the one tenant whose label the file carries. A file with labels
// of several tenants is refused with ErrTenantAmbiguous; a file with none is copied unchanged.
func Remove(ctx context.Context, r io.ReaderAt, size int64, name string, w io.Writer) error {
	return rewrite(ctx, r, size, name, writeOp{}, w)
}

// writeOp is one write: apply label (its tenant's records replaced) or, with label nil, remove
// tenant's records; tenant "" asks for the only tenant present.
type writeOp struct {
	label  *Label
	tenant string
}

// resolveTenant settles a tenant-less removal against the tenants the file carries labels of.
func (op *writeOp) resolveTenant(present map[string]bool) (nothing bool, err error) {
	if op.tenant != "" {
		return false, nil
	}
	delete(present, "")
	switch len(present) {
	case 0:
		return true, nil
	case 1:
		for t := range present {
			op.tenant = t
		}
		return false, nil
	}
	return false, fmt.Errorf("%w (%s)", ErrTenantAmbiguous, strings.Join(slices.Sorted(maps.Keys(present)), ", "))
}

func rewrite(ctx context.Context, r io.ReaderAt, size int64, name string, op writeOp, w io.Writer) error {
	t := TypeOf(name)
	if t == TypeUnsupported {
		return fmt.Errorf("%w: %q: labels are written into Office Open XML and PDF files only", ErrUnsupported, name)
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
		return rewritePDF(r, size, op, w)
	case bytes.HasPrefix(head, cfb.Magic):
		return compoundRefusal(r, size)
	case bytes.HasPrefix(head, magicZIP):
		return rewriteOOXML(ctx, r, size, op, w)
	}
	return fmt.Errorf("%w: not a ZIP or compound file", ErrMalformed)
}

// compoundRefusal tells an encrypted Office file (EncryptedPackage: RMS or password; Word 97
// \tDRMContent: IRM) from a legacy binary one (.doc/.xls/.ppt, whatever its name says): neither
// can be labelled without rewriting the compound file, which labelgate does not do.
func compoundRefusal(r io.ReaderAt, size int64) error {
	f, err := cfb.Open(r, size)
	if err != nil {
		return mapErr(err)
	}
	if _, ok := f.Find("EncryptedPackage"); ok {
		return fmt.Errorf("%w: encrypted Office container (EncryptedPackage)", ErrProtected)
	}
	if _, ok := f.Find("\tDRMContent"); ok {
		return fmt.Errorf("%w: rights-managed Office 97-2003 document (DRMContent)", ErrProtected)
	}
	return fmt.Errorf("%w: legacy binary Office file (OLE compound document): labels are written into Office Open XML and PDF files only", ErrUnsupported)
}

func methodWord(m string) string {
	if m == "privileged" {
		return "Privileged"
	}
	return "Standard"
}

// labelProps lists the MSIP_Label_ keys for l in the order the MIP SDK writes them; a sublabel
// adds _Parent to its own set and is followed by a set for its parent.
func labelProps(l *Label) (keys, vals []string) {
	set := func(id string, child bool) {
		p := msipPrefix + id + "_"
		add := func(k, v string) { keys, vals = append(keys, p+k), append(vals, v) }
		add("Enabled", "true")
		add("SetDate", l.SetDate.UTC().Format("2006-01-02T15:04:05Z"))
		add("Method", methodWord(l.Method))
		if child && l.Name != "" {
			add("Name", l.Name)
		}
		add("SiteId", l.Tenant)
		if child {
			add("ContentBits", strconv.Itoa(l.ContentBits))
			if l.ParentID != "" {
				add("Parent", l.ParentID)
			}
		}
	}
	set(l.ID, true)
	if l.ParentID != "" {
		set(l.ParentID, false)
	}
	return keys, vals
}

// propGroups maps each MSIP_Label_{guid}_ property set to its tenant (its SiteId value, "" when
// it has none) and lists the guid of every key.
func propGroups(keys, vals []string) (tenantOf map[string]string, guidOf []string) {
	tenantOf = map[string]string{}
	guidOf = make([]string, len(keys))
	for i, k := range keys {
		if !strings.HasPrefix(k, msipPrefix) {
			continue
		}
		rest := k[len(msipPrefix):]
		us := strings.IndexByte(rest, '_')
		if us < 0 {
			continue
		}
		g := normGUID(rest[:us])
		if g == "" {
			continue
		}
		guidOf[i] = g
		if _, ok := tenantOf[g]; !ok {
			tenantOf[g] = ""
		}
		if strings.EqualFold(rest[us+1:], "SiteId") {
			tenantOf[g] = normGUID(vals[i])
		}
	}
	return tenantOf, guidOf
}

// dropSet is the property sets a write replaces: those of the op's tenant, and for Apply any
// set of the label's own ids that names no tenant at all (an old writer's leftover).
func (op *writeOp) dropSet(tenantOf map[string]string) map[string]bool {
	drop := map[string]bool{}
	for g, t := range tenantOf {
		if t == op.tenant {
			drop[g] = true
		}
		if t == "" && op.label != nil && (g == op.label.ID || g == op.label.ParentID) {
			drop[g] = true
		}
	}
	return drop
}

// ---- Office Open XML

// relTargetPart resolves a package relationship's target to a part name.
func relTargetPart(t string) string {
	return path.Clean("/" + strings.TrimPrefix(t, "/"))[1:]
}

func rewriteOOXML(ctx context.Context, r io.ReaderAt, size int64, op writeOp, w io.Writer) error {
	a, err := ooxml.Open(r, size)
	if err != nil {
		return mapErr(err)
	}
	head := make([]byte, len(magicZIP))
	if _, err := r.ReadAt(head, 0); err != nil || !bytes.Equal(head, magicZIP) {
		return fmt.Errorf("%w: no ZIP local-header signature at offset 0", ErrMalformed)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	readPart := func(name string, optional bool) ([]byte, error) {
		data, err := a.ReadEntry(name, maxPart)
		if optional && errors.Is(err, ooxml.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, mapErr(err))
		}
		return data, nil
	}
	relsData, err := readPart(relsPath, true)
	if err != nil {
		return err
	}
	rels, err := ooxml.ParseRelationships(relsData)
	if err != nil {
		return mapErr(err)
	}
	liName, custName := "", ""
	hasRel := map[string]bool{}
	relTarget := map[string]string{} // a new part goes where an existing relationship points
	for _, rel := range rels.Rels {
		if strings.EqualFold(rel.TargetMode, "External") {
			continue
		}
		switch rel.Type {
		case relClassification, relCustomProps:
			hasRel[rel.Type], relTarget[rel.Type] = true, relTargetPart(rel.Target)
		}
	}
	liName, custName = relTarget[relClassification], relTarget[relCustomProps]
	// Fall back to the conventional paths when a writer forgot the relationship.
	if _, ok := a.Lookup(liName); liName == "" || !ok {
		liName = ""
		if _, ok := a.Lookup(labelInfoPath); ok {
			liName = labelInfoPath
		}
	}
	if _, ok := a.Lookup(custName); custName == "" || !ok {
		custName = ""
		if _, ok := a.Lookup(customPath); ok {
			custName = customPath
		}
	}
	var li *ooxml.LabelInfo
	if liName != "" {
		data, err := readPart(liName, false)
		if err != nil {
			return err
		}
		if li, err = ooxml.ParseLabelInfo(data); err != nil {
			return mapErr(err)
		}
	}
	var cp *ooxml.CustomProps
	var tenantOf map[string]string
	var guidOf []string
	if custName != "" {
		data, err := readPart(custName, false)
		if err != nil {
			return err
		}
		if cp, err = ooxml.ParseCustomProps(data); err != nil {
			return mapErr(err)
		}
		keys, vals := make([]string, len(cp.Props)), make([]string, len(cp.Props))
		for i, p := range cp.Props {
			keys[i], vals[i] = p.Name, strings.TrimSpace(p.Value)
		}
		tenantOf, guidOf = propGroups(keys, vals)
	}

	present := map[string]bool{}
	if li != nil {
		for _, e := range li.Entries {
			if r := strings.ToLower(strings.TrimSpace(e.Removed)); r != "1" && r != "true" {
				present[normGUID(e.SiteID)] = true
			}
		}
	}
	for _, t := range tenantOf {
		present[t] = true
	}
	if nothing, err := op.resolveTenant(present); err != nil || nothing {
		if err != nil {
			return err
		}
		_, err = io.Copy(w, io.NewSectionReader(r, 0, size))
		return err
	}

	parts := map[string][]byte{}
	ours := func(e ooxml.LabelEntry) bool { return normGUID(e.SiteID) == op.tenant }
	switch {
	case op.label != nil:
		e := ooxml.LabelEntry{ID: "{" + op.label.ID + "}", Enabled: "1", Method: methodWord(op.label.Method),
			SiteID: "{" + op.tenant + "}", ContentBits: strconv.Itoa(op.label.ContentBits), HasContentBits: true, Removed: "0"}
		if li != nil {
			parts[liName] = li.Replace(ours, li.Element(e))
		} else {
			liName = cmp.Or(relTarget[relClassification], labelInfoPath)
			parts[liName] = ooxml.NewLabelInfo(e)
		}
	case li != nil && slices.ContainsFunc(li.Entries, ours):
		// Office writes the removed form for a tenant whose labels live in LabelInfo; a tenant
		// that only ever used custom properties gets no entry ([MS-OFFCRYPTO] 2.6.3, writing).
		e := ooxml.LabelEntry{ID: "{" + op.tenant + "}", Enabled: "0", Method: "", SiteID: "{" + op.tenant + "}", Removed: "1"}
		parts[liName] = li.Replace(ours, li.Element(e))
	}

	var add []ooxml.Prop
	if op.label != nil {
		keys, vals := labelProps(op.label)
		for i := range keys {
			add = append(add, ooxml.Prop{Name: keys[i], Value: vals[i]})
		}
	}
	if cp != nil {
		drop := op.dropSet(tenantOf)
		others := false
		for g, t := range tenantOf {
			others = others || (!drop[g] && t != op.tenant)
		}
		// AIP-classic's Sensitivity property names the label of the sets it was written with;
		// it goes with them unless another tenant's set is still there.
		staleSensitivity := len(drop) > 0 && !others
		if len(drop) > 0 || len(add) > 0 {
			parts[custName] = cp.Edit(func(i int, p ooxml.Prop) bool {
				return drop[guidOf[i]] || (staleSensitivity && p.Name == "Sensitivity")
			}, add)
		}
	} else if len(add) > 0 {
		custName = cmp.Or(relTarget[relCustomProps], customPath)
		parts[custName] = ooxml.NewCustomProps(add)
	}
	if len(parts) == 0 {
		_, err = io.Copy(w, io.NewSectionReader(r, 0, size))
		return err
	}

	// Wire new parts in: a relationship and a content-type override where missing.
	relsOut := relsData
	var overrides [][2]string
	for _, x := range []struct{ part, rel, ct string }{{liName, relClassification, ctLabelInfo}, {custName, relCustomProps, ctCustomProps}} {
		if parts[x.part] == nil {
			continue
		}
		overrides = append(overrides, [2]string{x.part, x.ct})
		if !hasRel[x.rel] {
			relsOut = rels.Add(x.rel, x.part)
			if rels, err = ooxml.ParseRelationships(relsOut); err != nil {
				return mapErr(err)
			}
		}
	}
	if !bytes.Equal(relsOut, relsData) {
		parts[relsPath] = relsOut
	}
	ctData, err := readPart(contentTypesPath, false)
	if err != nil {
		return err
	}
	ct, err := ooxml.ParseContentTypes(ctData)
	if err != nil {
		return mapErr(err)
	}
	if ctOut := ct.AddOverrides(overrides...); !bytes.Equal(ctOut, ctData) {
		parts[contentTypesPath] = ctOut
	}
	if err := ooxml.Rewrite(r, size, parts, w); err != nil {
		return mapErr(err)
	}
	return nil
}

// ---- PDF

func rewritePDF(r io.ReaderAt, size int64, op writeOp, w io.Writer) error {
	doc, err := pdf.Read(r, size)
	if err != nil {
		return mapErr(err)
	}
	if doc.Encrypted {
		return fmt.Errorf("%w: encrypted PDF (%s)", ErrProtected, doc.EncryptFilter)
	}
	// The tenant of a property set comes from its SiteId in either place.
	var infoKeys, infoVals []string
	for _, k := range slices.Sorted(maps.Keys(doc.Info)) {
		if s, ok := doc.Info[k].(pdf.String); ok && strings.HasPrefix(string(k), msipPrefix) {
			infoKeys, infoVals = append(infoKeys, string(k)), append(infoVals, strings.TrimSpace(s.Text()))
		}
	}
	props := xmpLabelProps(doc.XMP)
	keys, vals := slices.Clone(infoKeys), slices.Clone(infoVals)
	for _, p := range props {
		keys, vals = append(keys, p.key), append(vals, strings.TrimSpace(p.value))
	}
	tenantOf, _ := propGroups(keys, vals)
	present := map[string]bool{}
	for _, t := range tenantOf {
		present[t] = true
	}
	if nothing, err := op.resolveTenant(present); err != nil || nothing {
		if err != nil {
			return err
		}
		_, err = io.Copy(w, io.NewSectionReader(r, 0, size))
		return err
	}
	drop := op.dropSet(tenantOf)
	dropKey := func(k string) bool {
		g, _ := propGroups([]string{k}, []string{""})
		for id := range g {
			return drop[id]
		}
		return false
	}

	var addKeys, addVals []string
	if op.label != nil {
		addKeys, addVals = labelProps(op.label)
	}
	u := pdf.Update{}
	infoChanged := len(addKeys) > 0
	for _, k := range infoKeys {
		infoChanged = infoChanged || dropKey(k)
	}
	if infoChanged {
		u.Info = pdf.Dict{}
		for k, v := range doc.Info {
			if !dropKey(string(k)) {
				u.Info[k] = v
			}
		}
		for i := range addKeys {
			u.Info[pdf.Name(addKeys[i])] = pdf.TextString(addVals[i])
		}
	}
	if doc.XMP != nil {
		if x, changed := rewriteXMP(doc.XMP, props, dropKey, addKeys, addVals); changed {
			u.XMP = x
		}
	}
	if u.Info == nil && u.XMP == nil {
		_, err = io.Copy(w, io.NewSectionReader(r, 0, size))
		return err
	}
	if err := pdf.AppendUpdate(r, size, doc, u, w); err != nil {
		return mapErr(err)
	}
	return nil
}

var (
	xmpElemRe  = regexp.MustCompile(`(?s)<(?:[\w.-]+:)?(MSIP_Label_[\w-]+)(?:\s[^>]*)?(?:/>|>([^<]*)</(?:[\w.-]+:)?MSIP_Label_[\w-]+\s*>)`)
	xmpAttrRe  = regexp.MustCompile(`\s[\w.-]+:(MSIP_Label_[\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')`)
	xmpRDFEnd  = regexp.MustCompile(`</([\w.-]+:)?RDF\s*>`)
	xmpEmptyRe = regexp.MustCompile(`(?s)<([\w.-]+:)?Description\s+[^>]*xmlns:pdfx="http://ns\.adobe\.com/pdfx/1\.3/"[^>]*>\s*</([\w.-]+:)?Description>`)
)

// xmpProp is one MSIP_Label_ property of an XMP packet, element or attribute, and its bytes.
type xmpProp struct {
	key, value string
	start, end int
}

// xmpLabelProps finds the packet's MSIP_Label_ properties as text. XMP is plain XML text;
// working on it as text lets a rewrite keep every other byte of the packet as written.
func xmpLabelProps(x []byte) []xmpProp {
	var out []xmpProp
	for _, m := range xmpElemRe.FindAllSubmatchIndex(x, -1) {
		p := xmpProp{key: string(x[m[2]:m[3]]), start: m[0], end: m[1]}
		if m[4] >= 0 {
			p.value = xmlUnescape(x[m[4]:m[5]])
		}
		out = append(out, p)
	}
	for _, m := range xmpAttrRe.FindAllSubmatchIndex(x, -1) {
		p := xmpProp{key: string(x[m[2]:m[3]]), start: m[0], end: m[1]}
		switch {
		case m[4] >= 0:
			p.value = xmlUnescape(x[m[4]:m[5]])
		case m[6] >= 0:
			p.value = xmlUnescape(x[m[6]:m[7]])
		}
		// An attribute inside an element already taken is that element's business.
		if !slices.ContainsFunc(out, func(q xmpProp) bool { return p.start >= q.start && p.end <= q.end }) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b xmpProp) int { return a.start - b.start })
	return out
}

func xmlUnescape(b []byte) string {
	r := strings.NewReplacer("&lt;", "<", "&gt;", ">", "&quot;", `"`, "&apos;", "'", "&amp;", "&")
	return r.Replace(string(b))
}

func xmlEscape(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
	return r.Replace(s)
}

// rewriteXMP drops the properties for which drop is true and adds the new ones in an
// rdf:Description of their own; everything else stays byte for byte.
func rewriteXMP(x []byte, props []xmpProp, drop func(key string) bool, keys, vals []string) ([]byte, bool) {
	var b bytes.Buffer
	pos, dropped := 0, false
	for _, p := range props {
		if !drop(p.key) || p.start < pos {
			continue
		}
		b.Write(x[pos:p.start])
		pos, dropped = p.end, true
	}
	b.Write(x[pos:])
	out := b.Bytes()
	if dropped {
		out = xmpEmptyRe.ReplaceAll(out, nil)
	}
	if len(keys) == 0 {
		return out, dropped
	}
	locs := xmpRDFEnd.FindAllSubmatchIndex(out, -1)
	if len(locs) == 0 {
		return out, dropped // not an RDF packet we understand; the Info dictionary carries the label
	}
	loc := locs[len(locs)-1]
	prefix := ""
	if loc[2] >= 0 {
		prefix = string(out[loc[2]:loc[3]])
	}
	var d bytes.Buffer
	fmt.Fprintf(&d, `<%sDescription %sabout="" xmlns:pdfx="%s">`, prefix, prefix, nsPDFX)
	for i := range keys {
		fmt.Fprintf(&d, "<pdfx:%s>%s</pdfx:%s>", keys[i], xmlEscape(vals[i]), keys[i])
	}
	fmt.Fprintf(&d, "</%sDescription>", prefix)
	res := make([]byte, 0, len(out)+d.Len())
	res = append(res, out[:loc[0]]...)
	res = append(res, d.Bytes()...)
	return append(res, out[loc[0]:]...), true
}

// OrgEngine is the label engine of one organisation: Remove takes away only the label of the
// organisation's tenant (RemoveTenant), so a removal action never erases a partner's label,
// whatever label the file reads as. Tenant returns the organisation's tenant GUID; while it
// returns "" (not configured yet) Remove falls back to the tenant-less Remove, which refuses a
// file carrying labels of several tenants.
type OrgEngine struct {
	Engine
	Tenant func() string
}

var _ FileCodec = OrgEngine{}

// Read implements FileCodec: the label the executor weighs is the organisation's own. A file
// that carries only another tenant's label is, for labelgate's writes, unlabelled: removing
// "our" label from it is already done, and applying ours adds a label beside the partner's.
func (e OrgEngine) Read(ctx context.Context, r io.ReaderAt, size int64, name string) (Result, error) {
	t := e.tenant()
	res, err := ReadWith(ctx, r, size, name, ReadOptions{Tenant: t})
	if err == nil && t != "" && res.Label != nil && res.Label.Tenant != "" && res.Label.Tenant != normGUID(t) {
		res.Label = nil
	}
	return res, err
}

func (e OrgEngine) tenant() string {
	if e.Tenant == nil {
		return ""
	}
	return e.Tenant()
}

// Remove implements FileCodec.
func (e OrgEngine) Remove(ctx context.Context, r io.ReaderAt, size int64, name string, w io.Writer) error {
	if e.Tenant != nil {
		if t := e.Tenant(); t != "" {
			return RemoveTenant(ctx, r, size, name, t, w)
		}
	}
	return Remove(ctx, r, size, name, w)
}
