package policies

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/labeling/labeltest"
)

const (
	tenant      = "11111111-2222-3333-4444-555555555555"
	idPublic    = "00000000-0000-0000-0000-000000000001"
	idGeneral   = "00000000-0000-0000-0000-000000000002"
	idConf      = "00000000-0000-0000-0000-000000000003"
	idConfAll   = "00000000-0000-0000-0000-000000000004"
	idRestr     = "00000000-0000-0000-0000-000000000005"
	idRestrFin  = "00000000-0000-0000-0000-000000000006"
	idForeign   = "99999999-0000-0000-0000-000000000009"
	foreignTent = "99999999-9999-9999-9999-999999999999"
)

var testNow = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

func testLabels() []connectors.Label {
	return []connectors.Label{
		{ID: idPublic, Name: "Public", Priority: 0, Tenant: tenant},
		{ID: idGeneral, Name: "General", Priority: 1, Tenant: tenant},
		{ID: idConf, Name: "Confidential", Priority: 2, Tenant: tenant},
		{ID: idConfAll, Name: "Confidential - All Employees", Parent: idConf, Priority: 3, Tenant: tenant},
		{ID: idRestr, Name: "Restricted", Priority: 5, Tenant: tenant},
		{ID: idRestrFin, Name: "Restricted - Finance", Parent: idRestr, Priority: 6, Tenant: tenant},
	}
}

type env struct {
	cat *MemCatalog
	opt Options
}

func setup(t testing.TB) env {
	t.Helper()
	return env{cat: NewCatalog(testLabels()), opt: Options{Now: func() time.Time { return testNow }}}
}

func (e env) compile(t testing.TB, yml string) *Engine {
	t.Helper()
	doc, err := Parse([]byte(yml))
	require.NoError(t, err)
	eng, err := Compile(doc.Policies, e.cat, e.opt)
	require.NoError(t, err)
	return eng
}

// file returns facts for a file on app with the given label id ("" = none).
func (e env) file(app connectors.App, path, name, label string) Facts {
	f := connectors.File{Ref: connectors.FileRef{App: app, Tenant: tenant, Drive: "d1", ItemID: path + "/" + name},
		Path: path, Name: name, Size: 1 << 20, Created: testNow.AddDate(0, -3, 0), Modified: testNow.AddDate(0, 0, -30),
		Owner: "alice@example.com", OwnerOU: "/Sales/EMEA", Groups: []string{"sales", "All Staff"},
		Access: connectors.AccessInternal, WebURL: "https://x/" + name}
	lt := ""
	if label != "" {
		lt = tenant
	}
	return NewFacts(f, connectors.LabelState{LabelID: label, Tenant: lt}, e.cat)
}

func TestSamplePolicies(t *testing.T) {
	t.Parallel()
	e := setup(t)
	data, err := os.ReadFile("../testdata/policies/samples.yaml")
	require.NoError(t, err)
	eng := e.compile(t, string(data))

	shared := func(f Facts, a connectors.AccessLevel) Facts { f.File.Access = a; return f }
	recent := func(f Facts) Facts { f.File.Modified = testNow.Add(-48 * time.Hour); return f }
	for _, tc := range []struct {
		name  string
		facts Facts
		want  []string // policy ids
		kinds []string
	}{
		{"box confidential external", shared(e.file("box", "/Deals", "plan.docx", idConf), connectors.AccessExternal),
			[]string{"box-confidential-external"}, []string{"alert", "notify_owner"}},
		{"box confidential sublabel public", shared(e.file("box", "/Deals", "plan.docx", idConfAll), connectors.AccessPublic),
			[]string{"box-confidential-external"}, []string{"alert", "notify_owner"}},
		{"box confidential internal", e.file("box", "/Deals", "plan.docx", idConf), nil, nil},
		{"box general external", shared(e.file("box", "/Deals", "plan.docx", idGeneral), connectors.AccessExternal), nil, nil},
		{"gdrive confidential external", shared(e.file("gdrive", "/Deals", "plan.docx", idConf), connectors.AccessExternal), nil, nil},
		{"sharepoint restricted recent outside finance", recent(e.file("sharepoint", "/Projects/X", "budget.xlsx", idRestr)),
			[]string{"sharepoint-restricted-outside-finance"}, []string{"alert", "apply_label"}},
		{"sharepoint restricted recent in finance (case-insensitive)", recent(e.file("sharepoint", "/finance/2025", "budget.xlsx", idRestr)), nil, nil},
		{"sharepoint restricted recent in FinanceOld", recent(e.file("sharepoint", "/FinanceOld", "budget.xlsx", idRestr)),
			[]string{"sharepoint-restricted-outside-finance"}, []string{"alert", "apply_label"}},
		{"sharepoint restricted old", e.file("sharepoint", "/Projects/X", "budget.xlsx", idRestr), nil, nil},
		{"onedrive restricted recent", recent(e.file("onedrive", "/Projects/X", "budget.xlsx", idRestr)), nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, err := eng.Evaluate(context.Background(), &tc.facts)
			require.NoError(t, err)
			require.Equal(t, tc.want, d.Matched)
			var kinds []string
			for _, a := range d.Actions {
				kinds = append(kinds, a.Kind)
				require.Contains(t, a.Key, a.PolicyID)
				require.Contains(t, a.Key, tc.facts.File.Ref.Key())
			}
			require.Equal(t, tc.kinds, kinds)
			require.False(t, d.ContentRead, "no card policy applies to a file without content")
		})
	}

	// Templates see the file and its label by name.
	f := shared(e.file("box", "/Deals", "plan.docx", idConf), connectors.AccessExternal)
	d, err := eng.Evaluate(context.Background(), &f)
	require.NoError(t, err)
	require.Equal(t, "Confidential file plan.docx in /Deals is shared external on Box", d.Actions[0].Params.Message)
	require.Equal(t, SeverityHigh, d.Actions[0].Params.Severity)
	require.Equal(t, "Your file plan.docx is shared outside the company", d.Actions[1].Params.Subject)
	require.Contains(t, d.Actions[1].Params.Message, "carries the Confidential label")
	require.Equal(t, "alice@example.com", d.Actions[1].Params.Recipient)

	// Restricted sublabel target: applied over Restricted (lower priority)...
	r := recent(e.file("sharepoint", "/Projects", "b.xlsx", idRestr))
	d, err = eng.Evaluate(context.Background(), &r)
	require.NoError(t, err)
	require.Equal(t, idRestrFin, d.Actions[1].LabelID)
	require.Equal(t, SeverityCritical, d.Actions[0].Params.Severity)
}

func TestCardSample(t *testing.T) {
	t.Parallel()
	e := setup(t)
	data, err := os.ReadFile("../testdata/policies/samples.yaml")
	require.NoError(t, err)
	eng := e.compile(t, string(data))
	withText := func(f Facts, build func(labeltest.Options) []byte, text ...string) (Facts, *int32) {
		b := build(labeltest.Options{Text: text})
		var opens int32
		f.Content = func(context.Context) (io.ReaderAt, int64, error) {
			atomic.AddInt32(&opens, 1)
			return bytes.NewReader(b), int64(len(b)), nil
		}
		return f, &opens
	}
	for _, tc := range []struct {
		name   string
		label  string
		file   string
		build  func(labeltest.Options) []byte
		text   string
		apply  bool
		opened int32
	}{
		{"unlabelled docx with a card", "", "a.docx", labeltest.Docx, "card 4111 1111 1111 1111", true, 1},
		{"unlabelled xlsx with a card", "", "a.xlsx", labeltest.Xlsx, "5500-0000-0000-0004", true, 1},
		{"unlabelled pptx, Luhn fails", "", "a.pptx", labeltest.Pptx, "card 4111 1111 1111 1112", false, 1},
		{"labelled docx is not read", idGeneral, "a.docx", labeltest.Docx, "card 4111 1111 1111 1111", false, 0},
		{"text file is not office or pdf", "", "a.txt", labeltest.Docx, "4111 1111 1111 1111", false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, opens := withText(e.file("gdrive", "/", tc.file, tc.label), tc.build, tc.text)
			d, err := eng.Evaluate(context.Background(), &f)
			require.NoError(t, err)
			require.Equal(t, tc.opened, atomic.LoadInt32(opens))
			var applied []string
			for _, a := range d.Actions {
				if a.Kind == store.ActionApplyLabel {
					applied = append(applied, a.LabelID)
					require.True(t, a.Params.OnlyIfUnlabelled)
				}
			}
			if tc.apply {
				require.Equal(t, []string{idConf}, applied)
			} else {
				require.Empty(t, applied)
			}
		})
	}
}

// TestContentReadOnceAndLast shows content is read only when the cheap conditions pass, and
// once per file however many content conditions there are.
func TestContentReadOnceAndLast(t *testing.T) {
	t.Parallel()
	e := setup(t)
	eng := e.compile(t, `
policies:
  - {id: a, name: A, severity: low, filter: {all: [{content: {preset: ssn}}, {app: [box]}]}, actions: [{alert: {message: a}}]}
  - {id: b, name: B, severity: low, filter: {any: [{content: {preset: email, minCount: 2}}, {name: ["*.secret.docx"]}]}, actions: [{alert: {message: b}}]}
  - {id: c, name: C, severity: low, filter: {all: [{app: [box]}, {not: {content: {regex: "PRJ-[0-9]+", minCount: 3}}}]}, actions: [{alert: {message: c}}]}
`)
	doc := labeltest.Docx(labeltest.Options{Text: []string{"SSN 123-45-6789", "a@b.com c@d.org", "PRJ-1 PRJ-2"}})
	var opens int32
	src := func(context.Context) (io.ReaderAt, int64, error) {
		atomic.AddInt32(&opens, 1)
		return bytes.NewReader(doc), int64(len(doc)), nil
	}
	f := e.file("box", "/", "x.docx", "")
	f.Content = src
	d, err := eng.Evaluate(context.Background(), &f)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c"}, d.Matched)
	require.True(t, d.ContentRead)
	require.EqualValues(t, 1, opens)

	// On gdrive, a and c fail on app before content; b's name glob matches first.
	g := e.file("gdrive", "/", "x.SECRET.docx", "")
	g.Content = src
	d, err = eng.Evaluate(context.Background(), &g)
	require.NoError(t, err)
	require.Equal(t, []string{"b"}, d.Matched)
	require.False(t, d.ContentRead)
	require.EqualValues(t, 1, opens)

	// A failing content source is an error, so the caller can retry.
	g.File.Name = "x.docx"
	g.Content = func(context.Context) (io.ReaderAt, int64, error) { return nil, 0, errors.New("boom") }
	_, err = eng.Evaluate(context.Background(), &g)
	require.ErrorContains(t, err, "boom")
}

func TestConditions(t *testing.T) {
	t.Parallel()
	e := setup(t)
	base := func() Facts { return e.file("sharepoint", "/Sites/HR/Shared", "Report 2025.DOCX", idConf) }
	mod := func(fn func(*Facts)) Facts { f := base(); fn(&f); return f }
	ext := mod(func(f *Facts) {
		f.LabelID, f.LabelTenant, f.LabelExternal, f.LabelPriority = idForeign, foreignTent, true, -1
	})
	fs := mod(func(f *Facts) { f.File.Ref.App = "fileshare" })
	for _, tc := range []struct {
		name   string
		filter string
		facts  Facts
		want   bool
	}{
		{"app", `{app: [box, sharepoint]}`, base(), true},
		{"app miss", `{app: [box]}`, base(), false},
		{"tenant", `{tenant: ["` + tenant + `"]}`, base(), true},
		{"family word", `{fileType: [word]}`, base(), true},
		{"family office", `{fileType: [office]}`, base(), true},
		{"family pdf miss", `{fileType: [pdf, excel]}`, base(), false},
		{"extension with dot", `{fileType: [.docx]}`, base(), true},
		{"extension", `{fileType: [csv]}`, mod(func(f *Facts) { f.Ext = "csv" }), true},
		{"name glob case-insensitive", `{name: ["report*.docx"]}`, base(), true},
		{"name glob class", `{name: ["Report 20[0-9][0-9].*"]}`, base(), true},
		{"name glob miss", `{name: ["*.xlsx", "draft*"]}`, base(), false},
		{"folder under", `{folder: {under: [/sites/hr]}}`, base(), true},
		{"folder under not a prefix of a name", `{folder: {under: [/Sites/H]}}`, base(), false},
		{"folder root", `{folder: {under: ["/"]}}`, base(), true},
		{"folder glob", `{folder: {glob: ["/Sites/*/Shared"]}}`, base(), true},
		{"folder glob star stays in folder", `{folder: {glob: ["/Sites/*"]}}`, base(), false},
		{"folder glob doublestar", `{folder: {glob: ["/Sites/**"]}}`, base(), true},
		{"folder exclude under", `{folder: {under: [/Sites], excludeUnder: [/Sites/HR]}}`, base(), false},
		{"folder exclude glob only", `{folder: {excludeGlob: ["**/Shared"]}}`, base(), false},
		{"fileshare is case-sensitive", `{folder: {under: [/sites/hr]}}`, fs, false},
		{"fileshare exact case", `{folder: {under: [/Sites/HR]}}`, fs, true},
		{"owner email", `{owner: {email: [ALICE@example.com]}}`, base(), true},
		{"owner group", `{owner: {group: [all staff]}}`, base(), true},
		{"owner ou prefix", `{owner: {ouPrefix: [/sales]}}`, base(), true},
		{"owner ou prefix boundary", `{owner: {ouPrefix: [/Sal]}}`, base(), false},
		{"owner miss", `{owner: {email: [bob@example.com], group: [hr]}}`, base(), false},
		{"access in", `{access: {in: [internal]}}`, base(), true},
		{"access at least external", `{access: {atLeast: external}}`, base(), false},
		{"access at least internal", `{access: {atLeast: internal}}`, base(), true},
		{"access at least on public", `{access: {atLeast: external}}`, mod(func(f *Facts) { f.File.Access = "public" }), true},
		{"shared with domain", `{sharedWithDomain: [partner.com]}`, mod(func(f *Facts) { f.File.Domains = []string{"eu.PARTNER.com"} }), true},
		{"shared with domain suffix only on dot", `{sharedWithDomain: [partner.com]}`, mod(func(f *Facts) { f.File.Domains = []string{"mypartner.com"} }), false},
		{"label is by name", `{label: {is: [confidential]}}`, base(), true},
		{"label is by id", `{label: {is: ["` + idConf + `"]}}`, base(), true},
		{"label is sublabel without include", `{label: {is: [Confidential]}}`, mod(func(f *Facts) { f.LabelID, f.LabelParent = idConfAll, idConf }), false},
		{"label is sublabel with include", `{label: {is: [Confidential], includeSublabels: true}}`, mod(func(f *Facts) { f.LabelID, f.LabelParent = idConfAll, idConf }), true},
		{"label is not", `{label: {isNot: [General, Public]}}`, base(), true},
		{"label is not, unlabelled", `{label: {isNot: [Confidential]}}`, mod(func(f *Facts) { f.LabelID = "" }), true},
		{"label is not, same", `{label: {isNot: [Confidential]}}`, base(), false},
		{"label none", `{label: {none: true}}`, mod(func(f *Facts) { f.LabelID = "" }), true},
		{"label none on labelled", `{label: {none: true}}`, base(), false},
		{"label present", `{label: {none: false}}`, base(), true},
		{"label from another tenant", `{label: {external: true}}`, ext, true},
		{"label from this tenant", `{label: {external: true}}`, base(), false},
		{"protected", `{protected: true}`, mod(func(f *Facts) { f.Protected = true }), true},
		{"not protected", `{protected: false}`, base(), true},
		{"modified within 30 days", `{modifiedWithinDays: 30}`, base(), true},
		{"modified within 29 days", `{modifiedWithinDays: 29}`, base(), false},
		{"created within 100 days", `{createdWithinDays: 100}`, base(), true},
		{"created within 10 days", `{createdWithinDays: 10}`, base(), false},
		{"size range", `{size: {min: 1MiB, max: 2MB}}`, base(), true},
		{"size below", `{size: {min: 1.5MiB}}`, base(), false},
		{"size above", `{size: {max: 1000000}}`, base(), false},
		{"all", `{all: [{app: [sharepoint]}, {fileType: [word]}]}`, base(), true},
		{"all fails", `{all: [{app: [sharepoint]}, {fileType: [pdf]}]}`, base(), false},
		{"any", `{any: [{app: [box]}, {fileType: [word]}]}`, base(), true},
		{"any fails", `{any: [{app: [box]}, {fileType: [pdf]}]}`, base(), false},
		{"not", `{not: {app: [box]}}`, base(), true},
		{"nested", `{all: [{any: [{app: [box]}, {not: {label: {none: true}}}]}, {not: {folder: {under: [/Finance]}}}]}`, base(), true},
		{"content without a source", `{content: {preset: creditCard}}`, base(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eng := e.compile(t, "policies:\n  - {id: p, name: P, severity: low, filter: "+tc.filter+", actions: [{alert: {message: m}}]}\n")
			d, err := eng.Evaluate(context.Background(), &tc.facts)
			require.NoError(t, err)
			require.Equal(t, tc.want, len(d.Matched) == 1, tc.filter)
		})
	}
}

func TestActionOptions(t *testing.T) {
	t.Parallel()
	e := setup(t)
	eng := e.compile(t, `
policies:
  - id: p
    name: P
    severity: medium
    matchAll: true
    actions:
      - applyLabel: {label: Restricted, onlyIfLowerPriority: true}
      - removeLabel: {}
      - notifyOwner: {message: "hi {{.Owner}}"}
  - id: q
    name: Q
    severity: low
    enabled: false
    matchAll: true
    actions: [{applyLabel: {label: General, onlyIfUnlabelled: true}}]
`)
	kinds := func(f Facts) []string {
		d, err := eng.Evaluate(context.Background(), &f)
		require.NoError(t, err)
		var out []string
		for _, a := range d.Actions {
			out = append(out, a.Kind)
		}
		return out
	}
	require.Equal(t, []string{"apply_label", "remove_label", "notify_owner"}, kinds(e.file("box", "/", "a.pdf", idGeneral)))
	require.Equal(t, []string{"remove_label", "notify_owner"}, kinds(e.file("box", "/", "a.pdf", idRestr)), "already has the label")
	require.Equal(t, []string{"remove_label", "notify_owner"}, kinds(e.file("box", "/", "a.pdf", idRestrFin)), "higher priority kept")
	require.Equal(t, []string{"apply_label", "notify_owner"}, kinds(e.file("box", "/", "a.pdf", "")), "nothing to remove")
	ext := e.file("box", "/", "a.pdf", idForeign)
	require.Equal(t, -1, ext.LabelPriority)
	require.Equal(t, []string{"remove_label", "notify_owner"}, kinds(ext), "an unknown label's priority cannot be compared")
	noOwner := e.file("box", "/", "a.pdf", "")
	noOwner.File.Owner = ""
	require.Equal(t, []string{"apply_label"}, kinds(noOwner))

	// The disabled policy runs only when asked for by id (what-if).
	f := e.file("box", "/", "a.pdf", "")
	d, err := eng.EvaluatePolicy(context.Background(), &f, "q")
	require.NoError(t, err)
	require.Equal(t, []string{"q"}, d.Matched)
	require.Equal(t, idGeneral, d.Actions[0].LabelID)
	require.Equal(t, "policy:q|box/"+tenant+"/d1///a.pdf|apply_label:"+idGeneral, d.Actions[0].Key)
}

func TestValidationErrors(t *testing.T) {
	t.Parallel()
	e := setup(t)
	pol := func(body string) string {
		return "policies:\n  - id: p1\n    name: P\n    severity: low\n" + body
	}
	alert := "    actions: [{alert: {message: m}}]\n"
	for _, tc := range []struct {
		name string
		doc  string
		want []string
	}{
		{"unknown field", pol("    sevrity: high\n    matchAll: true\n" + alert), []string{"policy p1: sevrity:", `unknown field "sevrity"`}},
		{"unknown top-level field", "polices: []\n", []string{`polices: line 1: unknown field "polices"`}},
		{"unknown condition", pol("    filter: {all: [{app: [box]}, {colour: red}]}\n" + alert), []string{"policy p1: filter.all[1].colour:", `unknown condition kind "colour"`}},
		{"unknown action", pol("    matchAll: true\n    actions: [{email: {to: x}}]\n"), []string{"policy p1: actions[0].email:", `unknown action kind "email"`}},
		{"unknown nested field", pol("    filter: {label: {is: [General], sublabels: true}}\n" + alert), []string{"policy p1: filter.label.sublabels:"}},
		{"wrong shape", pol("    filter: {app: box}\n" + alert), []string{"policy p1: filter.app:", "expected a list"}},
		{"unknown label", pol("    filter: {label: {is: [General, Secret]}}\n" + alert), []string{`policy p1: filter.label.is[1]: unknown label "Secret"`}},
		{"unknown apply label", pol("    matchAll: true\n    actions: [{applyLabel: {label: Nope}}]\n"), []string{`policy p1: actions[0].applyLabel.label: unknown label "Nope"`}},
		{"bad regex", pol("    filter: {content: {regex: \"([a-z\"}}\n" + alert), []string{"policy p1: filter.content.regex: bad regular expression"}},
		{"bad preset", pol("    filter: {content: {preset: passport}}\n" + alert), []string{"policy p1: filter.content.preset:", "passport"}},
		{"bad glob", pol("    filter: {name: [\"*.[ch\"]}\n" + alert), []string{"policy p1: filter.name[0]: bad glob", "unclosed"}},
		{"bad folder glob", pol("    filter: {folder: {excludeGlob: [\"/a/[]\"]}}\n" + alert), []string{"policy p1: filter.folder.excludeGlob[0]: bad glob"}},
		{"no filter", pol(alert), []string{"policy p1: filter: missing", "matchAll: true"}},
		{"empty all", pol("    filter: {all: []}\n" + alert), []string{"policy p1: filter: empty", "matchAll"}},
		{"empty node", pol("    filter: {all: [{}]}\n" + alert), []string{"policy p1: filter.all[0]: empty condition"}},
		{"two conditions in a node", pol("    filter: {app: [box], protected: true}\n" + alert), []string{"policy p1: filter: 2 conditions in one node"}},
		{"unknown app", pol("    filter: {app: [dropbox]}\n" + alert), []string{`policy p1: filter.app[0]: unknown app "dropbox"`}},
		{"unknown access", pol("    filter: {access: {atLeast: everyone}}\n" + alert), []string{`policy p1: filter.access.atLeast: unknown access level "everyone"`}},
		{"bad size", pol("    filter: {size: {min: 10 parsecs}}\n" + alert), []string{"policy p1: filter.size.min: bad size"}},
		{"bad days", pol("    filter: {modifiedWithinDays: 0}\n" + alert), []string{"policy p1: filter.modifiedWithinDays: 0"}},
		{"bad severity", "policies:\n  - {id: p1, name: P, severity: urgent, matchAll: true, actions: [{alert: {message: m}}]}\n", []string{`policy p1: severity: "urgent"`}},
		{"no actions", pol("    matchAll: true\n"), []string{"policy p1: actions: missing"}},
		{"bad template", pol("    matchAll: true\n    actions: [{alert: {message: \"{{.Nme}}\"}}]\n"), []string{"policy p1: actions[0].alert.message: bad template"}},
		{"missing id", "policies:\n  - {name: P, severity: low, matchAll: true, actions: [{alert: {message: m}}]}\n", []string{"policy policies[0]: id: missing"}},
		{"duplicate id", "policies:\n  - {id: a, name: P, severity: low, matchAll: true, actions: [{alert: {message: m}}]}\n  - {id: a, name: P, severity: low, matchAll: true, actions: [{alert: {message: m}}]}\n", []string{"policy a: id: duplicate"}},
		{"two documents", "policies: []\n---\npolicies: []\n", []string{"more than one YAML document"}},
		{"not yaml", "policies: [\n", []string{"not YAML"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc, err := Parse([]byte(tc.doc))
			if err == nil {
				err = Validate(doc, e.cat)
			}
			require.Error(t, err)
			require.ErrorIs(t, err, ErrInvalid)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestYAMLRoundTrip(t *testing.T) {
	t.Parallel()
	e := setup(t)
	data, err := os.ReadFile("../testdata/policies/samples.yaml")
	require.NoError(t, err)
	doc, err := Parse(data)
	require.NoError(t, err)
	require.Len(t, doc.Policies, 3)
	require.NoError(t, Validate(doc, e.cat))
	out, err := MarshalYAML(doc)
	require.NoError(t, err)
	again, err := Parse(out)
	require.NoError(t, err)
	require.Equal(t, doc, again)

	// The stored JSON form parses back to the same policy, and a single policy mapping is
	// a document of one.
	for _, p := range doc.Policies {
		b, err := encodeDoc(p)
		require.NoError(t, err)
		q, err := decodeDoc(b)
		require.NoError(t, err)
		require.Equal(t, p, q)
	}
	one, err := Parse([]byte("id: x\nname: X\nseverity: low\nmatchAll: true\nactions: [{alert: {message: m}}]\n"))
	require.NoError(t, err)
	require.Equal(t, "x", one.Policies[0].ID)
	require.True(t, one.Policies[0].IsEnabled())
	require.True(t, strings.Contains(string(out), "policies:"))
}

func TestGlob(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p, s string
		fold bool
		want bool
	}{
		{"*.docx", "a.docx", false, true},
		{"*.docx", "a.DOCX", false, false},
		{"*.docx", "a.DOCX", true, true},
		{"/a/**/z", "/a/z", false, true},
		{"/a/**/z", "/a/b/c/z", false, true},
		{"/a/*/z", "/a/b/c/z", false, false},
		{"?x", "éx", false, true},
		{"[!a-c]x", "dx", false, true},
		{"[!a-c]x", "bx", false, false},
		{"[A-C]x", "bx", true, true},
		{`\*x`, "*x", false, true},
		{`\*x`, "ax", false, false},
		{"Ärger*", "ärgerlich", true, true},
		{"*budget*7*", "Q3 BUDGET v7.xlsx", true, true},
		{"*budget*7*", "Q3 BUDGET v8.xlsx", true, false},
		{"report*.DOCX", "Report 2025.docx", true, true},
		{"report*.docx", "xReport 2025.docx", true, false},
		{"*.docx", "a.docx.pdf", true, false},
		{"a*b*c", "abc", true, true},
		{"a*b*c", "ab", true, false},
		{"*", "", true, true},
		{"**", "anything", true, true},
		{"abc", "ABC", true, true},
	} {
		require.Equal(t, tc.want, globMatch(tc.p, tc.s, tc.fold), "%q %q", tc.p, tc.s)
		g := compileGlob(tc.p)
		require.Equal(t, tc.want, g.match(tc.s, tc.fold), "compiled %q %q", tc.p, tc.s)
	}
}
