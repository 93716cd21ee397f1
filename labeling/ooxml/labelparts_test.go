package ooxml

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLabelInfoReplaceKeepsEveryOtherByte(t *testing.T) {
	t.Parallel()
	other := `<clbl:label id="{d0cb1e24-a0e2-4a4c-9340-733297c9cd7c}" enabled="1" method="Privileged" siteId="{db1e96a8-a3da-442a-930b-235cac24cd5c}" contentBits="0" removed="0" />`
	ours := `<clbl:label  id="{f42aa342-8706-4288-bd11-ebb85995028c}" enabled='1' method="Standard" siteId="{72F988BF-86F1-41AF-91AB-2D7CD011DB47}" removed="0"></clbl:label>`
	ext := `<clbl:extLst><clbl:ext uri="{x}"><y/></clbl:ext></clbl:extLst>`
	src := "\xef\xbb\xbf<?xml version=\"1.0\"?>\n<clbl:labelList xmlns:clbl=\"" + NSLabelInfo + "\">\n  " + other + "\n  " + ours + "\n  " + ext + "\n</clbl:labelList>\n"
	li, err := ParseLabelInfo([]byte(src))
	require.NoError(t, err)
	require.Len(t, li.Entries, 2)
	require.False(t, li.Entries[1].HasContentBits)
	isOurs := func(e LabelEntry) bool { return strings.EqualFold(e.SiteID, "{72f988bf-86f1-41af-91ab-2d7cd011db47}") }
	el := li.Element(LabelEntry{ID: "{new}", Enabled: "1", Method: "Standard", SiteID: "{72f988bf-86f1-41af-91ab-2d7cd011db47}", ContentBits: "0", HasContentBits: true, Removed: "0"})
	out := string(li.Replace(isOurs, el))
	require.Equal(t, strings.Replace(src, ours, el, 1), out, "only our element changes, in its place")

	// No element of ours: the new one goes before the first label.
	li2, err := ParseLabelInfo([]byte(strings.Replace(src, ours, "", 1)))
	require.NoError(t, err)
	out = string(li2.Replace(isOurs, el))
	require.Equal(t, strings.Replace(strings.Replace(src, ours, "", 1), other, el+other, 1), out)

	// Nor any label: before extLst.
	bare := strings.Replace(strings.Replace(src, ours, "", 1), other, "", 1)
	li5, err := ParseLabelInfo([]byte(bare))
	require.NoError(t, err)
	require.Equal(t, strings.Replace(bare, ext, el+ext, 1), string(li5.Replace(isOurs, el)))

	// An empty list written as one tag ([MS-OFFCRYPTO] 2.6.4.3's example) opens up.
	empty := `<clbl:labelList xmlns:clbl="` + NSLabelInfo + `" />`
	li3, err := ParseLabelInfo([]byte(empty))
	require.NoError(t, err)
	require.Equal(t, `<clbl:labelList xmlns:clbl="`+NSLabelInfo+`" >`+el+`</clbl:labelList>`, string(li3.Replace(isOurs, el)))

	// Several elements of ours: the first is replaced, the rest dropped.
	dup := strings.Replace(src, other, ours, 1)
	li4, err := ParseLabelInfo([]byte(dup))
	require.NoError(t, err)
	require.Equal(t, 1, strings.Count(string(li4.Replace(isOurs, el)), "{new}"))
	require.NotContains(t, string(li4.Replace(isOurs, el)), "f42aa342")
}

func TestCustomPropsEdit(t *testing.T) {
	t.Parallel()
	keep := `<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="7" name="Company"><vt:lpwstr>Fabrikam &amp; Co</vt:lpwstr></property>`
	gone := `<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="3" name="MSIP_Label_x_Enabled"><vt:lpwstr>true</vt:lpwstr></property>`
	src := `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\r\n" + `<Properties xmlns="` + NSCustomProps + `" xmlns:vt="` + NSVT + `">` + gone + "\n" + keep + `</Properties>`
	c, err := ParseCustomProps([]byte(src))
	require.NoError(t, err)
	require.Equal(t, []Prop{{Name: "MSIP_Label_x_Enabled", Value: "true", PID: 3}, {Name: "Company", Value: "Fabrikam & Co", PID: 7}}, c.Props)
	out := string(c.Edit(func(_ int, p Prop) bool { return strings.HasPrefix(p.Name, "MSIP_") }, []Prop{{Name: "MSIP_Label_y_Name", Value: "A<B"}}))
	require.Equal(t, strings.Replace(strings.Replace(src, gone, "", 1), "</Properties>",
		`<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="8" name="MSIP_Label_y_Name"><vt:lpwstr>A&lt;B</vt:lpwstr></property></Properties>`, 1), out,
		"kept properties stay byte for byte; new pids follow the highest")

	// A root with a prefix and no vt binding: the new elements bind what they use.
	odd := `<op:Properties xmlns:op="` + NSCustomProps + `"/>`
	c, err = ParseCustomProps([]byte(odd))
	require.NoError(t, err)
	out = string(c.Edit(func(int, Prop) bool { return false }, []Prop{{Name: "k", Value: "v"}}))
	require.Equal(t, `<op:Properties xmlns:op="`+NSCustomProps+`">`+
		`<op:property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" name="k"><vt:lpwstr xmlns:vt="`+NSVT+`">v</vt:lpwstr></op:property></op:Properties>`, out)
	_, err = ParseCustomProps([]byte(out))
	require.NoError(t, err)

	fresh := NewCustomProps([]Prop{{Name: "a", Value: "b"}})
	c, err = ParseCustomProps(fresh)
	require.NoError(t, err)
	require.Equal(t, []Prop{{Name: "a", Value: "b", PID: 2}}, c.Props)
}

func TestWiringEdits(t *testing.T) {
	t.Parallel()
	rels := `<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="t1" Target="a.xml"/><Relationship Id="rId3" Type="t3" Target="c.xml"/></Relationships>`
	r, err := ParseRelationships([]byte(rels))
	require.NoError(t, err)
	require.Len(t, r.Rels, 2)
	require.Equal(t, strings.Replace(rels, "</Relationships>", `<Relationship Id="rId2" Type="new" Target="docMetadata/LabelInfo.xml"/></Relationships>`, 1),
		string(r.Add("new", "docMetadata/LabelInfo.xml")))
	r, err = ParseRelationships(nil)
	require.NoError(t, err)
	require.Contains(t, string(r.Add("x", "y")), `<Relationship Id="rId1" Type="x" Target="y"/></Relationships>`)

	ct := `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/docProps/custom.xml" ContentType="application/vnd.openxmlformats-officedocument.custom-properties+xml"/></Types>`
	c, err := ParseContentTypes([]byte(ct))
	require.NoError(t, err)
	require.True(t, c.HasOverride("docProps/custom.xml"))
	out := string(c.AddOverrides([2]string{"docProps/custom.xml", "x"}, [2]string{"docMetadata/LabelInfo.xml", "application/vnd.ms-office.classificationlabels+xml"}))
	require.Equal(t, strings.Replace(ct, "</Types>", `<Override PartName="/docMetadata/LabelInfo.xml" ContentType="application/vnd.ms-office.classificationlabels+xml"/></Types>`, 1), out,
		"an existing override is left alone")
}

func TestLabelPartsRejectBrokenXML(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", "<a>", "<a></b>", "<a/><b/>", "not xml", `<clbl:labelList xmlns:clbl="x"><clbl:label id="&bogus;"/></clbl:labelList>`} {
		_, err := ParseLabelInfo([]byte(bad))
		require.True(t, errors.Is(err, ErrMalformed), "%q: %v", bad, err)
		_, err = ParseCustomProps([]byte(bad))
		require.True(t, errors.Is(err, ErrMalformed), "%q: %v", bad, err)
	}
	deep := strings.Repeat("<a>", 300_000)
	_, err := ParseCustomProps([]byte(deep))
	require.ErrorIs(t, err, ErrMalformed)
}

func FuzzLabelInfoReplace(f *testing.F) {
	f.Add([]byte(`<?xml version="1.0" encoding="utf-8" standalone="yes"?><clbl:labelList xmlns:clbl="` + NSLabelInfo + `"><clbl:label id="{a}" enabled="1" method="Standard" siteId="{t}" removed="0" /></clbl:labelList>`))
	f.Add([]byte(`<clbl:labelList xmlns:clbl="` + NSLabelInfo + `"/>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		li, err := ParseLabelInfo(data)
		if err != nil {
			return
		}
		el := li.Element(LabelEntry{ID: "{n}", Enabled: "1", Method: "Standard", SiteID: "{t}", Removed: "0"})
		out := li.Replace(func(e LabelEntry) bool { return e.SiteID == "{t}" }, el)
		again, err := ParseLabelInfo(out)
		if err != nil {
			t.Fatalf("a valid part became invalid: %v\n%q\n%q", err, data, out)
		}
		n := 0
		for _, e := range again.Entries {
			if e.SiteID == "{t}" {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("want exactly one entry of the tenant, got %d in %q", n, out)
		}
	})
}
