package labeling

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labelgate/labelgate/labeling/labeltest"
	"github.com/labelgate/labelgate/labeling/ooxml"
	"github.com/labelgate/labelgate/labeling/pdf"
	"github.com/stretchr/testify/require"
)

func setup(t *testing.T) (context.Context, Label) {
	t.Helper()
	return context.Background(), Label{
		ID: "{3C4D5E6F-7A8B-4C9D-8E0F-1A2B3C4D5E6F}", Tenant: labeltest.TenantFabrikam, Method: "privileged",
		Name: "Highly Confidential", ContentBits: 8, SetDate: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC),
	}
}

func readOK(t *testing.T, data []byte, name string) Result {
	t.Helper()
	res, err := Read(context.Background(), bytes.NewReader(data), int64(len(data)), name)
	require.NoError(t, err)
	return res
}

func apply(t *testing.T, data []byte, name string, l Label) []byte {
	t.Helper()
	var out bytes.Buffer
	require.NoError(t, Apply(context.Background(), bytes.NewReader(data), int64(len(data)), name, l, &out))
	return out.Bytes()
}

func remove(t *testing.T, data []byte, name string) []byte {
	t.Helper()
	var out bytes.Buffer
	require.NoError(t, Remove(context.Background(), bytes.NewReader(data), int64(len(data)), name, &out))
	return out.Bytes()
}

func removeTenant(t *testing.T, data []byte, name, tenant string) []byte {
	t.Helper()
	var out bytes.Buffer
	require.NoError(t, RemoveTenant(context.Background(), bytes.NewReader(data), int64(len(data)), name, tenant, &out))
	return out.Bytes()
}

// wrRecords returns the label records of tenant (own) or of every other tenant (!own), with
// the fields a write must keep; the order is the reader's.
func wrRecords(res Result, tenant string, own bool) []Label {
	var out []Label
	for _, l := range res.Labels {
		if (l.Tenant == tenant) == own {
			out = append(out, l)
		}
	}
	return out
}

// wrOwnIsExactly checks tenant's records are exactly label l: one LabelInfo entry and one
// property set for Office, the Info (and XMP) keys for PDF.
func wrOwnIsExactly(t *testing.T, res Result, l Label, name string) {
	t.Helper()
	own := wrRecords(res, l.Tenant, true)
	require.NotEmpty(t, own)
	for _, rec := range own {
		require.Equal(t, normGUID(l.ID), rec.ID, "%s: a stale record of our tenant survived: %+v", name, rec)
		require.True(t, rec.Enabled && !rec.Removed, "%+v", rec)
		require.Equal(t, l.Method, rec.Method, rec.Source)
		require.Equal(t, l.ContentBits, rec.ContentBits, rec.Source)
		if rec.Source != "labelinfo" {
			require.Equal(t, l.SetDate, rec.SetDate, rec.Source)
			require.Equal(t, l.Name, rec.Name, rec.Source)
		}
	}
	if TypeOf(name) != TypePDF {
		sources := []string{}
		for _, rec := range own {
			sources = append(sources, rec.Source)
		}
		require.ElementsMatch(t, []string{"labelinfo", "custom"}, sources, "both encodings written once")
	}
}

func TestApplyReadsBackEveryWritableCorpusFile(t *testing.T) {
	t.Parallel()
	for _, c := range labeltest.Corpus() {
		if c.WantErr || c.WantProtected != "" {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			ctx, l := setup(t)
			before := readOK(t, c.Data, c.Name)
			out := apply(t, c.Data, c.Name, l)
			res := readOK(t, out, c.Name)
			l.ID = normGUID(l.ID)
			wrOwnIsExactly(t, res, l, c.Name)
			require.Equal(t, wrRecords(before, l.Tenant, false), wrRecords(res, l.Tenant, false), "other tenants' labels kept")
			if len(wrRecords(before, l.Tenant, false)) == 0 {
				require.NotNil(t, res.Label)
				require.Equal(t, l.ID, res.Label.ID)
			}
			if TypeOf(c.Name) == TypePDF {
				require.True(t, bytes.HasPrefix(out, c.Data), "an incremental update leaves the original bytes untouched")
			} else {
				assertZipShape(t, out)
			}

			var rm bytes.Buffer
			require.NoError(t, RemoveTenant(ctx, bytes.NewReader(out), int64(len(out)), c.Name, l.Tenant, &rm))
			res = readOK(t, rm.Bytes(), c.Name)
			require.Equal(t, wrRecords(before, l.Tenant, false), wrRecords(res, l.Tenant, false), "other tenants' labels kept")
			own := wrRecords(res, l.Tenant, true)
			if TypeOf(c.Name) == TypePDF {
				require.Empty(t, own)
			} else {
				require.Len(t, own, 1, "LabelInfo keeps Office's removed form")
				require.True(t, own[0].Removed)
				require.False(t, own[0].Enabled)
				require.Equal(t, l.Tenant, own[0].ID, "a removed record's id is the tenant")
			}
		})
	}
}

// assertZipShape checks the package opens with archive/zip, [Content_Types].xml comes first,
// every entry is written once and each label part present is wired with a relationship and a
// content type.
func assertZipShape(t *testing.T, data []byte) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	require.Equal(t, "[Content_Types].xml", zr.File[0].Name)
	ct, rels := wrPart(t, data, "[Content_Types].xml"), wrPart(t, data, "_rels/.rels")
	for part, rel := range map[string]string{"docMetadata/LabelInfo.xml": relClassification, "docProps/custom.xml": relCustomProps} {
		if wrPart(t, data, part) == "" {
			continue
		}
		require.Regexp(t, `<Relationship [^>]*Type="`+regexp.QuoteMeta(rel)+`" Target="/?`+regexp.QuoteMeta(part)+`"`, rels, "%s is wired", part)
		require.True(t, strings.Contains(ct, `PartName="/`+part+`"`) || strings.Contains(ct, `Extension="xml"`), "%s has a content type", part)
	}
	names := map[string]int{}
	for _, f := range zr.File {
		names[f.Name]++
	}
	for n, k := range names {
		require.Equal(t, 1, k, "entry %s written once", n)
	}
}

// wrPart reads one entry of a package; "" when absent.
func wrPart(t *testing.T, data []byte, name string) string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	f, err := zr.Open(name)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	require.NoError(t, err)
	return string(b)
}

var (
	wrLabelElemRe = regexp.MustCompile(`<(?:[\w.-]+:)?label\s[^>]*>`)
	wrPropElemRe  = regexp.MustCompile(`(?s)<(?:[\w.-]+:)?property\s.*?</(?:[\w.-]+:)?property>`)
	wrSiteIDRe    = regexp.MustCompile(`(?i)siteId="\{?([0-9a-f-]{36})\}?"`)
	wrPropGUIDRe  = regexp.MustCompile(`name="MSIP_Label_([0-9a-fA-F-]{36})_`)
	wrPropTenant  = regexp.MustCompile(`(?s)name="MSIP_Label_([0-9a-fA-F-]{36})_SiteId".*?>\{?([0-9a-fA-F-]{36})\}?<`)
)

// wrForeignElements returns, as raw text, every LabelInfo element and every MSIP custom property
// of a package that does not belong to tenant: what a write for tenant must copy byte for byte.
func wrForeignElements(t *testing.T, data []byte, tenant string) (labelInfo, custom []string) {
	t.Helper()
	for _, name := range []string{"docMetadata/LabelInfo.xml", "meta/labels.xml"} {
		for _, el := range wrLabelElemRe.FindAllString(wrPart(t, data, name), -1) {
			if m := wrSiteIDRe.FindStringSubmatch(el); m == nil || normGUID(m[1]) != tenant {
				labelInfo = append(labelInfo, el)
			}
		}
	}
	cust := wrPart(t, data, "docProps/custom.xml")
	tenantOf := map[string]string{}
	for _, m := range wrPropTenant.FindAllStringSubmatch(cust, -1) {
		tenantOf[normGUID(m[1])] = normGUID(m[2])
	}
	for _, el := range wrPropElemRe.FindAllString(cust, -1) {
		m := wrPropGUIDRe.FindStringSubmatch(el)
		if m != nil && tenantOf[normGUID(m[1])] != tenant {
			custom = append(custom, el)
		}
	}
	return labelInfo, custom
}

func TestApplyKeepsOtherTenantsByteForByte(t *testing.T) {
	t.Parallel()
	ctx, l := setup(t) // Fabrikam's label
	g := labeltest.General()
	fab := labeltest.Label{ID: labeltest.LabelPublic, Tenant: labeltest.TenantFabrikam, Method: "Standard", Name: "Public", SetDate: "2020-01-01T00:00:00Z"}
	third := labeltest.Label{ID: "11111111-2222-4333-8444-555555555555", Tenant: "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", Method: "Privileged", Name: "Partner", SetDate: "2021-02-03T04:05:06Z", ContentBits: 2}
	src := labeltest.Docx(labeltest.Options{LabelInfo: []labeltest.Label{g, fab, third}, Custom: []labeltest.Label{g, fab, third}, Text: []string{"x"}})
	before := readOK(t, src, "a.docx")
	liBefore, custBefore := wrForeignElements(t, src, labeltest.TenantFabrikam)
	require.Len(t, liBefore, 2)
	require.NotEmpty(t, custBefore)

	out := apply(t, src, "a.docx", l)
	res := readOK(t, out, "a.docx")
	l.ID = normGUID(l.ID)
	wrOwnIsExactly(t, res, l, "a.docx")
	require.Equal(t, wrRecords(before, l.Tenant, false), wrRecords(res, l.Tenant, false))
	liAfter, custAfter := wrForeignElements(t, out, labeltest.TenantFabrikam)
	require.Equal(t, liBefore, liAfter, "other tenants' LabelInfo elements are copied byte for byte")
	require.Equal(t, custBefore, custAfter, "other tenants' custom properties are copied byte for byte")
	li := wrPart(t, out, "docMetadata/LabelInfo.xml")
	require.Less(t, strings.Index(li, labeltest.LabelGeneral), strings.Index(li, l.ID), "ours takes the place of the old entry")
	require.Less(t, strings.Index(li, l.ID), strings.Index(li, third.ID))

	rm := removeTenant(t, out, "a.docx", labeltest.TenantFabrikam)
	res = readOK(t, rm, "a.docx")
	require.Equal(t, wrRecords(before, l.Tenant, false), wrRecords(res, l.Tenant, false))
	liAfter, custAfter = wrForeignElements(t, rm, labeltest.TenantFabrikam)
	require.Equal(t, liBefore, liAfter)
	require.Equal(t, custBefore, custAfter)
	require.Contains(t, wrPart(t, rm, "docMetadata/LabelInfo.xml"),
		`<clbl:label id="{`+labeltest.TenantFabrikam+`}" enabled="0" method="" siteId="{`+labeltest.TenantFabrikam+`}" removed="1" />`,
		"Office's removed-label form, as in officeaddin_SalesTemplate.xlsx")
	require.NotContains(t, wrPart(t, rm, "docProps/custom.xml"), labeltest.LabelPublic)
	require.NotContains(t, wrPart(t, rm, "docProps/custom.xml"), l.ID)

	// Without a tenant, Remove will not choose between three organisations.
	err := Remove(ctx, bytes.NewReader(src), int64(len(src)), "a.docx", io.Discard)
	require.ErrorIs(t, err, ErrTenantAmbiguous)
	require.ErrorIs(t, err, ErrInvalidLabel, "the executor refuses rather than retries")
}

func TestRemoveOnlyTenantOrNothing(t *testing.T) {
	t.Parallel()
	ctx, _ := setup(t)
	one := labeltest.Xlsx(labeltest.Options{LabelInfo: []labeltest.Label{labeltest.General()}})
	res := readOK(t, remove(t, one, "a.xlsx"), "a.xlsx")
	require.Nil(t, res.Label)
	require.Len(t, res.Labels, 1)
	require.True(t, res.Labels[0].Removed)

	// Custom properties only: the tenant never used LabelInfo, so no removed entry is made up.
	legacy := labeltest.Docx(labeltest.Options{Custom: []labeltest.Label{labeltest.General()}, AIPClassic: true})
	out := remove(t, legacy, "a.docx")
	require.Empty(t, readOK(t, out, "a.docx").Labels)
	require.Empty(t, wrPart(t, out, "docMetadata/LabelInfo.xml"))
	require.NotContains(t, wrPart(t, out, "docProps/custom.xml"), `name="Sensitivity"`, "AIP's Sensitivity goes with its label")

	for _, name := range []string{"plain.docx", "plain.pdf"} {
		src := labeltest.Docx(labeltest.Options{Text: []string{"x"}})
		if TypeOf(name) == TypePDF {
			src = labeltest.PDF(labeltest.PDFOptions{Text: []string{"x"}})
		}
		require.Equal(t, src, remove(t, src, name), "nothing to remove: the bytes come back as they were")
		require.Equal(t, src, removeTenant(t, src, name, labeltest.TenantContoso))
	}
	require.ErrorIs(t, RemoveTenant(ctx, bytes.NewReader(one), int64(len(one)), "a.xlsx", "contoso", io.Discard), ErrInvalidLabel)
}

func TestApplyKeepsOtherPartsAndProperties(t *testing.T) {
	t.Parallel()
	_, l := setup(t)
	l.Tenant = labeltest.TenantContoso // the same tenant as the file's label: it is replaced
	src := labeltest.Docx(labeltest.Options{Custom: []labeltest.Label{labeltest.General()}, Text: []string{"hello"}, GrowthHint: true})
	out := apply(t, src, "a.docx", l)
	zr, err := zip.NewReader(bytes.NewReader(out), int64(len(out)))
	require.NoError(t, err)
	src0, err := zip.NewReader(bytes.NewReader(src), int64(len(src)))
	require.NoError(t, err)
	for _, f := range src0.File {
		if f.Name == "word/document.xml" {
			var got *zip.File
			for _, g := range zr.File {
				if g.Name == f.Name {
					got = g
				}
			}
			require.NotNil(t, got)
			require.Equal(t, f.CRC32, got.CRC32)
			require.Equal(t, f.CompressedSize64, got.CompressedSize64, "copied raw, not recompressed")
		}
	}
	custom := wrPart(t, out, "docProps/custom.xml")
	require.Contains(t, custom, `name="Company"`)
	require.NotContains(t, custom, labeltest.LabelGeneral, "the old label's keys are gone")
	orig := wrPart(t, src, "docProps/custom.xml")
	company := regexp.MustCompile(`<property [^>]*name="Company".*?</property>`).FindString(orig)
	require.NotEmpty(t, company)
	require.Contains(t, custom, company, "other properties are kept byte for byte, pid included")
}

func TestApplySublabel(t *testing.T) {
	t.Parallel()
	_, l := setup(t)
	parent := "5a5a5a5a-1111-4222-8333-944444444444"
	l.ParentID = strings.ToUpper("{" + parent + "}")
	l.ID = normGUID(l.ID)
	// The file holds an AIP-style sublabel of our tenant (child and parent sets) and a partner's label.
	oldChild := labeltest.Label{ID: "0c0c0c0c-1111-4222-8333-944444444444", Tenant: labeltest.TenantFabrikam, Method: "Privileged", Name: "Old child", SetDate: "2019-01-01T00:00:00Z"}
	oldParent := labeltest.Label{ID: parent, Tenant: labeltest.TenantFabrikam, Method: "Privileged", SetDate: "2019-01-01T00:00:00Z"}
	g := labeltest.General()
	src := labeltest.Pptx(labeltest.Options{Custom: []labeltest.Label{oldChild, oldParent, g}})
	_, custBefore := wrForeignElements(t, src, labeltest.TenantFabrikam)

	out := apply(t, src, "s.pptx", l)
	cust := wrPart(t, out, "docProps/custom.xml")
	require.NotContains(t, cust, oldChild.ID)
	p := "MSIP_Label_" + l.ID + "_"
	pp := "MSIP_Label_" + parent + "_"
	require.Contains(t, cust, `name="`+p+`Parent"><vt:lpwstr>`+parent+`</vt:lpwstr>`, "the child names its parent")
	require.Contains(t, cust, `name="`+pp+`Enabled"><vt:lpwstr>true</vt:lpwstr>`, "the parent's own set follows")
	require.Contains(t, cust, `name="`+pp+`SiteId"><vt:lpwstr>`+labeltest.TenantFabrikam+`</vt:lpwstr>`)
	require.Less(t, strings.Index(cust, p+"Enabled"), strings.Index(cust, pp+"Enabled"), "child first")
	require.Equal(t, 1, strings.Count(cust, pp+"Enabled"), "the old parent set was replaced, not doubled")
	_, custAfter := wrForeignElements(t, out, labeltest.TenantFabrikam)
	require.Equal(t, custBefore, custAfter)
	li := wrPart(t, out, "docMetadata/LabelInfo.xml")
	require.Contains(t, li, `id="{`+l.ID+`}"`, "LabelInfo names the child")
	require.NotContains(t, li, parent, "LabelInfo has no parent attribute ([MS-OFFCRYPTO] 2.6.5.4)")

	pdfOut := apply(t, labeltest.PDF(labeltest.PDFOptions{Info: []labeltest.Label{g}}), "s.pdf", l)
	doc, err := pdf.Read(bytes.NewReader(pdfOut), int64(len(pdfOut)))
	require.NoError(t, err)
	require.Equal(t, parent, doc.Info[pdf.Name(p+"Parent")].(pdf.String).Text())
	require.Equal(t, "true", doc.Info[pdf.Name(pp+"Enabled")].(pdf.String).Text())
	require.Equal(t, labeltest.TenantContoso, doc.Info[pdf.Name("MSIP_Label_"+labeltest.LabelGeneral+"_SiteId")].(pdf.String).Text())

	bad := l
	bad.ParentID = "nope"
	require.ErrorIs(t, Apply(context.Background(), bytes.NewReader(src), int64(len(src)), "s.pptx", bad, io.Discard), ErrInvalidLabel)
}

func TestApplyPDFKeepsOtherTenantsInInfoAndXMP(t *testing.T) {
	t.Parallel()
	_, l := setup(t)
	l.ID = normGUID(l.ID)
	g := labeltest.General()
	fabOld := labeltest.Label{ID: labeltest.LabelPublic, Tenant: labeltest.TenantFabrikam, Method: "Standard", Name: "Public", SetDate: "2020-01-01T00:00:00Z"}
	for _, attrs := range []bool{false, true} {
		src := labeltest.PDF(labeltest.PDFOptions{Info: []labeltest.Label{g, fabOld}, XMP: []labeltest.Label{g, fabOld}, XMPAttributes: attrs})
		srcDoc, err := pdf.Read(bytes.NewReader(src), int64(len(src)))
		require.NoError(t, err)
		before := readOK(t, src, "x.pdf")
		xmpForeign := wrXMPProps(srcDoc.XMP, labeltest.LabelGeneral)
		require.NotEmpty(t, xmpForeign)

		out := apply(t, src, "x.pdf", l)
		require.True(t, bytes.HasPrefix(out, src))
		res := readOK(t, out, "x.pdf")
		wrOwnIsExactly(t, res, l, "x.pdf")
		require.Len(t, wrRecords(res, l.Tenant, true), 2, "Info and XMP both carry ours")
		require.Equal(t, wrRecords(before, l.Tenant, false), wrRecords(res, l.Tenant, false))
		doc, err := pdf.Read(bytes.NewReader(out), int64(len(out)))
		require.NoError(t, err)
		for k, v := range srcDoc.Info {
			if strings.Contains(string(k), labeltest.LabelGeneral) || !strings.HasPrefix(string(k), "MSIP_") {
				require.Equal(t, v, doc.Info[k], "Info %s kept", k)
			}
		}
		require.Equal(t, xmpForeign, wrXMPProps(doc.XMP, labeltest.LabelGeneral), "other tenants' XMP properties kept byte for byte")
		require.NotContains(t, string(doc.XMP), labeltest.LabelPublic)

		rm := removeTenant(t, out, "x.pdf", labeltest.TenantFabrikam)
		res = readOK(t, rm, "x.pdf")
		require.Empty(t, wrRecords(res, l.Tenant, true))
		require.Equal(t, wrRecords(before, l.Tenant, false), wrRecords(res, l.Tenant, false))
		doc, err = pdf.Read(bytes.NewReader(rm), int64(len(rm)))
		require.NoError(t, err)
		require.Equal(t, xmpForeign, wrXMPProps(doc.XMP, labeltest.LabelGeneral))
	}
}

// wrXMPProps returns the raw text of the XMP properties whose key mentions guid.
func wrXMPProps(x []byte, guid string) []string {
	var out []string
	for _, p := range xmpLabelProps(x) {
		if strings.Contains(p.key, guid) {
			out = append(out, string(x[p.start:p.end]))
		}
	}
	return out
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	ctx, l := setup(t)
	cases := []struct {
		name string
		data []byte
		err  error
	}{
		{"p.docx", labeltest.Protected("rms", nil, 0), ErrProtected},
		{"p.xlsx", labeltest.Protected("password", nil, 0), ErrProtected},
		{"p.pdf", labeltest.PDF(labeltest.PDFOptions{Encrypt: "password"}), ErrProtected},
		{"notes.txt", []byte("hello"), ErrUnsupported},
		{"bad.docx", []byte("not a zip file at all, really"), ErrMalformed},
	}
	for _, c := range cases {
		var out bytes.Buffer
		err := Apply(ctx, bytes.NewReader(c.data), int64(len(c.data)), c.name, l, &out)
		require.ErrorIs(t, err, c.err, c.name)
		err = RemoveTenant(ctx, bytes.NewReader(c.data), int64(len(c.data)), c.name, l.Tenant, &out)
		require.ErrorIs(t, err, c.err, c.name)
		err = Remove(ctx, bytes.NewReader(c.data), int64(len(c.data)), c.name, &out)
		require.ErrorIs(t, err, c.err, c.name)
		require.Zero(t, out.Len(), "a refusal writes nothing")
	}
	big := io.NewSectionReader(bytes.NewReader(nil), 0, 0)
	require.ErrorIs(t, Apply(ctx, big, MaxLabelSize+1, "big.docx", l, io.Discard), ErrTooLarge)
	bad := l
	bad.ID = "not-a-guid"
	src := labeltest.Docx(labeltest.Options{})
	require.ErrorIs(t, Apply(ctx, bytes.NewReader(src), int64(len(src)), "a.docx", bad, io.Discard), ErrInvalidLabel)
}

func TestTypes(t *testing.T) {
	t.Parallel()
	for _, n := range []string{"a.docm", "a.DOCX", "a.dotm", "a.dotx", "a.xlam", "a.xlsm", "a.xlsx", "a.xltx", "a.potm", "a.potx", "a.ppsx", "a.ppsm", "a.pptm", "a.pptx", "a.pdf"} {
		require.True(t, IsSupported(n), n)
	}
	require.Equal(t, TypeExcel, TypeOf("x/y/Book.XLSM"))
	require.Equal(t, TypePowerPoint, TypeOf("deck.ppsx"))
	// Legacy binary files are read (issue 20) but never written.
	require.True(t, IsSupported("a.doc"))
	require.Equal(t, TypeUnsupported, TypeOf("a.doc"))
	require.ErrorIs(t, WriteUnsupported("a.doc"), ErrUnsupported)
	res, err := Read(context.Background(), bytes.NewReader([]byte("x")), 1, "a.txt")
	require.ErrorIs(t, err, ErrUnsupported)
	require.Equal(t, TypeUnsupported, res.Type)
}

func errorsIsAny(err error, targets ...error) bool {
	return slices.ContainsFunc(targets, func(t error) bool { return errors.Is(err, t) })
}

// A relationship whose target part is missing: the new part is written where it points.
func TestApplyFollowsDanglingRelationship(t *testing.T) {
	t.Parallel()
	_, l := setup(t)
	withPart := labeltest.Docx(labeltest.Options{LabelInfo: []labeltest.Label{labeltest.General()}, LabelInfoPath: "meta/labels.xml"})
	var src bytes.Buffer
	require.NoError(t, ooxml.Rewrite(bytes.NewReader(withPart), int64(len(withPart)), map[string][]byte{"meta/labels.xml": nil}, &src))
	require.Empty(t, wrPart(t, src.Bytes(), "meta/labels.xml"))
	out := apply(t, src.Bytes(), "a.docx", l)
	require.Contains(t, wrPart(t, out, "meta/labels.xml"), normGUID(l.ID))
	require.Empty(t, wrPart(t, out, "docMetadata/LabelInfo.xml"))
	require.Equal(t, 1, strings.Count(wrPart(t, out, "_rels/.rels"), relClassification), "no second relationship")
	l.ID = normGUID(l.ID)
	wrOwnIsExactly(t, readOK(t, out, "a.docx"), l, "a.docx")
}
