package policies

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/policies/content"
)

type kind uint8

const (
	kAll kind = iota
	kAny
	kNot
	kApp
	kTenant
	kFileType
	kName
	kFolder
	kOwner
	kAccessIn
	kDomain
	kLabelIs
	kLabelIsNot
	kLabelNone
	kLabelExternal
	kProtected
	kModified
	kCreated
	kSize
	kContent
)

// cnode is a compiled filter node. One struct for every kind keeps evaluation a switch over
// concrete data: no interface calls, no allocations.
type cnode struct {
	kind      kind
	kids      []cnode
	strs      []string // apps, tenants, extensions, emails, domains, label ids
	globs     []glob
	groups    []string
	ous       []string
	mask      int // file families, access levels
	b         bool
	lo, hi    int64
	dur       time.Duration
	folder    *cfolder
	matcher   int // content matcher index in the engine
	minCount  int
	expensive bool // reads content somewhere below
}

type cfolder struct {
	under, exUnder []string
	glob, exGlob   []glob
}

type caction struct {
	kind          string
	labelID       string
	labelName     string
	priority      int
	onlyUnl       bool
	onlyLower     bool
	justification string
	severity      Severity
	subject, msg  *template.Template
}

type cpolicy struct {
	p       Policy
	root    *cnode // nil = match all
	actions []caction
}

// compiler carries what compiling needs across policies: the catalog and the engine's
// shared content matchers (one per distinct preset or regex, so a file is read once).
type compiler struct {
	cat      Catalog
	errs     Errors
	pol      string
	matchers []*content.Matcher
	mindex   map[string]int
	targets  []int
}

func (c *compiler) fail(field, format string, args ...any) {
	c.errs = append(c.errs, &FieldError{Policy: c.pol, Field: field, Msg: fmt.Sprintf(format, args...)})
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

func (c *compiler) policy(i int, p Policy, seen map[string]bool) *cpolicy {
	c.pol = p.ID
	if c.pol == "" {
		c.pol = fmt.Sprintf("policies[%d]", i)
		c.fail("id", "missing")
	} else if !idPattern.MatchString(p.ID) {
		c.fail("id", "%q: use letters, digits, '.', '_' and '-' (up to 128)", p.ID)
	} else if seen[p.ID] {
		c.fail("id", "duplicate id %q", p.ID)
	}
	seen[p.ID] = true
	if strings.TrimSpace(p.Name) == "" {
		c.fail("name", "missing")
	}
	if !p.Severity.valid() {
		c.fail("severity", "%q: want low, medium, high or critical", p.Severity)
	}
	cp := &cpolicy{p: p}
	switch {
	case p.Filter == nil && !p.MatchAll:
		c.fail("filter", "missing: a policy without a filter matches every file; set matchAll: true to mean that")
	case p.Filter != nil && p.MatchAll:
		c.fail("matchAll", "set together with a filter; use one or the other")
	case p.Filter != nil:
		n := c.node(*p.Filter, "filter")
		if !p.MatchAll && n.kind == kAll && len(n.kids) == 0 {
			c.fail("filter", "empty: it matches every file; set matchAll: true to mean that")
		}
		cp.root = &n
	}
	if len(p.Actions) == 0 {
		c.fail("actions", "missing: a policy needs at least one action")
	}
	keys := map[string]bool{}
	for j, a := range p.Actions {
		ca, ok := c.action(a, fmt.Sprintf("actions[%d]", j), p.Severity)
		if !ok {
			continue
		}
		k := ca.kind + ":" + ca.labelID
		if keys[k] {
			c.fail(fmt.Sprintf("actions[%d]", j), "duplicate %s action", ca.kind)
		}
		keys[k] = true
		cp.actions = append(cp.actions, ca)
	}
	return cp
}

// node compiles a filter node. Children of all/any are ordered cheap first, so content is
// read only when the cheap conditions cannot decide.
func (c *compiler) node(n Node, path string) cnode {
	set := 0
	count := func(b bool) {
		if b {
			set++
		}
	}
	count(n.All != nil)
	count(n.Any != nil)
	count(n.Not != nil)
	count(n.App != nil)
	count(n.Tenant != nil)
	count(n.FileType != nil)
	count(n.Name != nil)
	count(n.Folder != nil)
	count(n.Owner != nil)
	count(n.Access != nil)
	count(n.SharedWithDomain != nil)
	count(n.Label != nil)
	count(n.Protected != nil)
	count(n.ModifiedWithinDays != nil)
	count(n.CreatedWithinDays != nil)
	count(n.Size != nil)
	count(n.Content != nil)
	switch {
	case set == 0:
		c.fail(path, "empty condition: give one of all, any, not or a condition")
		return cnode{kind: kAll}
	case set > 1:
		c.fail(path, "%d conditions in one node: a node holds exactly one; combine them under all: or any:", set)
		return cnode{kind: kAll}
	}
	nonEmpty := func(field string, v []string) bool {
		if len(v) == 0 {
			c.fail(path+"."+field, "empty list")
			return false
		}
		for i, s := range v {
			if strings.TrimSpace(s) == "" {
				c.fail(fmt.Sprintf("%s.%s[%d]", path, field, i), "empty value")
				return false
			}
		}
		return true
	}
	switch {
	case n.All != nil || n.Any != nil:
		k, list, field := kAll, n.All, "all"
		if n.Any != nil {
			k, list, field = kAny, n.Any, "any"
		}
		out := cnode{kind: k}
		if len(list) == 0 && k == kAny {
			c.fail(path+".any", "empty: it matches no file")
		}
		for i, kid := range list {
			out.kids = append(out.kids, c.node(kid, fmt.Sprintf("%s.%s[%d]", path, field, i)))
		}
		// Stable: cheap first, content last, otherwise as written.
		var cheap, dear []cnode
		for _, k := range out.kids {
			if k.expensive {
				dear = append(dear, k)
				out.expensive = true
			} else {
				cheap = append(cheap, k)
			}
		}
		out.kids = append(cheap, dear...)
		return out
	case n.Not != nil:
		kid := c.node(*n.Not, path+".not")
		return cnode{kind: kNot, kids: []cnode{kid}, expensive: kid.expensive}
	case n.App != nil:
		if !nonEmpty("app", n.App) {
			break
		}
		out := cnode{kind: kApp}
		for i, a := range n.App {
			switch connectors.App(strings.ToLower(a)) {
			case connectors.AppSharePoint, connectors.AppOneDrive, connectors.AppGDrive, connectors.AppBox, connectors.AppFileShare:
				out.strs = append(out.strs, strings.ToLower(a))
			default:
				c.fail(fmt.Sprintf("%s.app[%d]", path, i), "unknown app %q: want sharepoint, onedrive, gdrive, box or fileshare", a)
			}
		}
		return out
	case n.Tenant != nil:
		if nonEmpty("tenant", n.Tenant) {
			return cnode{kind: kTenant, strs: n.Tenant}
		}
	case n.FileType != nil:
		if !nonEmpty("fileType", n.FileType) {
			break
		}
		out := cnode{kind: kFileType}
		for i, t := range n.FileType {
			t = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(t), "."))
			if f, ok := families[t]; ok {
				out.mask |= f
				continue
			}
			if strings.ContainsAny(t, " /\\*?.") {
				c.fail(fmt.Sprintf("%s.fileType[%d]", path, i), "%q is neither a family (word, excel, powerpoint, pdf, office) nor an extension", n.FileType[i])
				continue
			}
			out.strs = append(out.strs, t)
		}
		return out
	case n.Name != nil:
		if !nonEmpty("name", n.Name) {
			break
		}
		for i, g := range n.Name {
			if err := checkGlob(g); err != nil {
				c.fail(fmt.Sprintf("%s.name[%d]", path, i), "bad glob %q: %v", g, err)
			}
		}
		out := cnode{kind: kName}
		for _, g := range n.Name {
			out.globs = append(out.globs, compileGlob(g))
		}
		return out
	case n.Folder != nil:
		return c.folder(*n.Folder, path+".folder")
	case n.Owner != nil:
		o := n.Owner
		if len(o.Email)+len(o.Group)+len(o.OUPrefix) == 0 {
			c.fail(path+".owner", "give email, group or ouPrefix")
		}
		out := cnode{kind: kOwner, strs: o.Email, groups: o.Group}
		for _, p := range o.OUPrefix {
			out.ous = append(out.ous, normPrefix(p))
		}
		return out
	case n.Access != nil:
		a := n.Access
		if (len(a.In) > 0) == (a.AtLeast != "") {
			c.fail(path+".access", "give exactly one of in or atLeast")
			break
		}
		out := cnode{kind: kAccessIn}
		levels := a.In
		field := "in"
		if a.AtLeast != "" {
			levels, field = []string{a.AtLeast}, "atLeast"
		}
		for i, l := range levels {
			lv := connectors.AccessLevel(strings.ToLower(l))
			switch lv {
			case connectors.AccessPrivate, connectors.AccessInternal, connectors.AccessExternal, connectors.AccessPublic:
			default:
				f := path + ".access." + field
				if field == "in" {
					f = fmt.Sprintf("%s[%d]", f, i)
				}
				c.fail(f, "unknown access level %q: want private, internal, external or public", l)
				continue
			}
			if field == "in" {
				out.mask |= 1 << lv.Rank()
			} else {
				for r := lv.Rank(); r <= connectors.AccessPublic.Rank(); r++ {
					out.mask |= 1 << r
				}
			}
		}
		return out
	case n.SharedWithDomain != nil:
		if !nonEmpty("sharedWithDomain", n.SharedWithDomain) {
			break
		}
		out := cnode{kind: kDomain}
		for _, d := range n.SharedWithDomain {
			out.strs = append(out.strs, strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "@")))
		}
		return out
	case n.Label != nil:
		return c.label(*n.Label, path+".label")
	case n.Protected != nil:
		return cnode{kind: kProtected, b: *n.Protected}
	case n.ModifiedWithinDays != nil || n.CreatedWithinDays != nil:
		k, d, field := kModified, n.ModifiedWithinDays, "modifiedWithinDays"
		if d == nil {
			k, d, field = kCreated, n.CreatedWithinDays, "createdWithinDays"
		}
		if *d < 1 || *d > 36500 {
			c.fail(path+"."+field, "%d: want 1 to 36500 days", *d)
		}
		return cnode{kind: k, dur: time.Duration(*d) * 24 * time.Hour}
	case n.Size != nil:
		out := cnode{kind: kSize, lo: 0, hi: 1<<63 - 1}
		var err error
		if n.Size.Min == "" && n.Size.Max == "" {
			c.fail(path+".size", "give min, max or both")
		}
		if n.Size.Min != "" {
			if out.lo, err = parseSize(n.Size.Min); err != nil {
				c.fail(path+".size.min", "%v", err)
			}
		}
		if n.Size.Max != "" {
			if out.hi, err = parseSize(n.Size.Max); err != nil {
				c.fail(path+".size.max", "%v", err)
			}
		}
		if out.lo > out.hi {
			c.fail(path+".size", "min is above max")
		}
		return out
	case n.Content != nil:
		return c.content(*n.Content, path+".content")
	}
	return cnode{kind: kAll}
}

func normPrefix(p string) string {
	p = strings.TrimSpace(p)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if len(p) > 1 {
		p = strings.TrimRight(p, "/")
	}
	return p
}

func (c *compiler) folder(f FolderCond, path string) cnode {
	if len(f.Under)+len(f.Glob)+len(f.ExcludeUnder)+len(f.ExcludeGlob) == 0 {
		c.fail(path, "give under, glob, excludeUnder or excludeGlob")
	}
	cf := &cfolder{}
	for _, p := range f.Under {
		cf.under = append(cf.under, normPrefix(p))
	}
	for _, p := range f.ExcludeUnder {
		cf.exUnder = append(cf.exUnder, normPrefix(p))
	}
	for _, fl := range []struct {
		field string
		list  []string
	}{{"glob", f.Glob}, {"excludeGlob", f.ExcludeGlob}} {
		field := fl.field
		for i, g := range fl.list {
			if err := checkGlob(g); err != nil {
				c.fail(fmt.Sprintf("%s.%s[%d]", path, field, i), "bad glob %q: %v", g, err)
			}
		}
	}
	for _, g := range f.Glob {
		cf.glob = append(cf.glob, compileGlob(g))
	}
	for _, g := range f.ExcludeGlob {
		cf.exGlob = append(cf.exGlob, compileGlob(g))
	}
	return cnode{kind: kFolder, folder: cf}
}

func (c *compiler) resolve(ref, field string) (LabelInfo, bool) {
	if c.cat == nil {
		return LabelInfo{ID: strings.ToLower(strings.Trim(ref, "{}")), Name: ref, Priority: -1}, true
	}
	l, ok := c.cat.Lookup(ref)
	if !ok {
		c.fail(field, "unknown label %q: not in the label catalog", ref)
	}
	return l, ok
}

func (c *compiler) label(l LabelCond, path string) cnode {
	set := 0
	for _, b := range []bool{l.Is != nil, l.IsNot != nil, l.None != nil, l.External != nil} {
		if b {
			set++
		}
	}
	if set != 1 {
		c.fail(path, "give exactly one of is, isNot, none or external")
		return cnode{kind: kAll}
	}
	if l.IncludeSublabels && l.Is == nil && l.IsNot == nil {
		c.fail(path+".includeSublabels", "only applies to is and isNot")
	}
	switch {
	case l.None != nil:
		return cnode{kind: kLabelNone, b: *l.None}
	case l.External != nil:
		return cnode{kind: kLabelExternal, b: *l.External}
	}
	k, refs, field := kLabelIs, l.Is, "is"
	if l.IsNot != nil {
		k, refs, field = kLabelIsNot, l.IsNot, "isNot"
	}
	if len(refs) == 0 {
		c.fail(path+"."+field, "empty list")
	}
	out := cnode{kind: k, b: l.IncludeSublabels}
	for i, r := range refs {
		if li, ok := c.resolve(r, fmt.Sprintf("%s.%s[%d]", path, field, i)); ok {
			out.strs = append(out.strs, strings.ToLower(li.ID))
		}
	}
	return out
}

func (c *compiler) content(cc ContentCond, path string) cnode {
	if (cc.Preset == "") == (cc.Regex == "") {
		c.fail(path, "give exactly one of preset or regex")
		return cnode{kind: kAll}
	}
	if cc.MinCount < 0 {
		c.fail(path+".minCount", "%d: must be at least 1", cc.MinCount)
	}
	minCount := max(cc.MinCount, 1)
	key := "preset:" + cc.Preset
	if cc.Regex != "" {
		key = "regex:" + cc.Regex
	}
	idx, ok := c.mindex[key]
	if !ok {
		var m *content.Matcher
		var err error
		if cc.Preset != "" {
			if m, err = content.NewPreset(content.Preset(cc.Preset)); err != nil {
				c.fail(path+".preset", "%v", err)
				return cnode{kind: kAll}
			}
		} else if m, err = content.NewRegex(cc.Regex); err != nil {
			c.fail(path+".regex", "bad regular expression: %v", err)
			return cnode{kind: kAll}
		}
		idx = len(c.matchers)
		c.matchers = append(c.matchers, m)
		c.targets = append(c.targets, 0)
		c.mindex[key] = idx
	}
	c.targets[idx] = max(c.targets[idx], minCount)
	return cnode{kind: kContent, matcher: idx, minCount: minCount, expensive: true}
}

func (c *compiler) action(a Action, path string, sev Severity) (caction, bool) {
	set := 0
	for _, b := range []bool{a.ApplyLabel != nil, a.RemoveLabel != nil, a.Alert != nil, a.NotifyOwner != nil,
		a.RemovePublicLinks != nil, a.RemoveExternalAccess != nil, a.MakePrivate != nil} {
		if b {
			set++
		}
	}
	if set != 1 {
		c.fail(path, "give exactly one of applyLabel, removeLabel, alert, notifyOwner, removePublicLinks, removeExternalAccess or makePrivate")
		return caction{}, false
	}
	tmpl := func(field, text string, required bool) *template.Template {
		if text == "" {
			if required {
				c.fail(field, "missing")
			}
			return nil
		}
		t, err := template.New(field).Option("missingkey=error").Parse(text)
		if err != nil {
			c.fail(field, "bad template: %v", err)
			return nil
		}
		if err := t.Execute(discard{}, TemplateData{}); err != nil {
			c.fail(field, "bad template: %v", err)
			return nil
		}
		return t
	}
	switch {
	case a.ApplyLabel != nil:
		al := a.ApplyLabel
		if al.Label == "" {
			c.fail(path+".applyLabel.label", "missing")
			return caction{}, false
		}
		li, ok := c.resolve(al.Label, path+".applyLabel.label")
		if !ok {
			return caction{}, false
		}
		return caction{kind: store.ActionApplyLabel, labelID: li.ID, labelName: li.Name, priority: li.Priority,
			onlyUnl: al.OnlyIfUnlabelled, onlyLower: al.OnlyIfLowerPriority, justification: al.Justification}, true
	case a.RemoveLabel != nil:
		return caction{kind: store.ActionRemoveLabel, justification: a.RemoveLabel.Justification}, true
	case a.RemovePublicLinks != nil:
		return caction{kind: store.ActionRemovePublicLinks, justification: a.RemovePublicLinks.Justification}, true
	case a.RemoveExternalAccess != nil:
		return caction{kind: store.ActionRemoveExternalAccess, justification: a.RemoveExternalAccess.Justification}, true
	case a.MakePrivate != nil:
		return caction{kind: store.ActionMakePrivate, justification: a.MakePrivate.Justification}, true
	case a.Alert != nil:
		s := a.Alert.Severity
		if s == "" {
			s = sev
		} else if !s.valid() {
			c.fail(path+".alert.severity", "%q: want low, medium, high or critical", s)
		}
		return caction{kind: store.ActionAlert, severity: s, msg: tmpl(path+".alert.message", a.Alert.Message, true)}, true
	default:
		return caction{kind: store.ActionNotifyOwner, severity: sev,
			subject: tmpl(path+".notifyOwner.subject", a.NotifyOwner.Subject, false),
			msg:     tmpl(path+".notifyOwner.message", a.NotifyOwner.Message, true)}, true
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// parseSize reads "1048576", "10MB", "1.5 GiB".
func parseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
	mult := 1.0
	for _, u := range []struct {
		suf string
		m   float64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"TIB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}} {
		if strings.HasSuffix(t, u.suf) {
			t, mult = strings.TrimSuffix(t, u.suf), u.m
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || v*mult > 1<<62 {
		return 0, fmt.Errorf("bad size %q: want bytes or a number with KB, MB, GB, KiB, MiB, GiB", s)
	}
	return int64(v * mult), nil
}
