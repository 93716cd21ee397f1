package labeling

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/labeling/labeltest"
	"github.com/labelgate/labelgate/labeling/ooxml"
)

// sameAsEncodingXML checks the fast scanner against encoding/xml on one input: where the
// scanner answers, encoding/xml must parse the input too and give the same properties,
// relationships and labels. It reports whether the scanner answered.
func sameAsEncodingXML(t *testing.T, data []byte) bool {
	t.Helper()
	answered := false
	if kids, ok := fastChildren(data, "Properties", "property"); ok {
		answered = true
		fast, err := parseCustom(data)
		require.NoError(t, err)
		slow, err := parseCustomXML(data)
		require.NoError(t, err, "the scanner read %q, encoding/xml refused it", data)
		require.Len(t, fast.Properties, len(slow.Properties), "%q", data)
		require.Len(t, kids, len(slow.Properties))
		for i, p := range slow.Properties {
			f := fast.Properties[i]
			require.Equal(t, []string{p.FmtID, p.PID, p.Name, p.LinkTarget, p.value()},
				[]string{f.FmtID, f.PID, f.Name, f.LinkTarget, f.value()}, "property %d of %q", i, data)
			require.Equal(t, len(p.Inner) > 0, len(f.Inner) > 0, "property %d of %q", i, data)
		}
		require.Equal(t, customLabels(slow), customLabels(fast))
	}
	if _, ok := fastChildren(data, "Relationships", "Relationship"); ok {
		answered = true
		fast, err := parseRels(data)
		require.NoError(t, err)
		slow, err := parseRelsXML(data)
		require.NoError(t, err, "the scanner read %q, encoding/xml refused it", data)
		if len(slow.Rels) == 0 {
			require.Empty(t, fast.Rels)
		} else {
			require.Equal(t, slow.Rels, fast.Rels, "%q", data)
		}
	}
	if _, ok := fastChildren(data, "labelList", "label"); ok {
		answered = true
		fast, err := parseLabelInfoParts(data)
		require.NoError(t, err)
		slow, err := parseLabelInfoXML(data)
		require.NoError(t, err, "the scanner read %q, encoding/xml refused it", data)
		if len(slow.Labels) == 0 {
			require.Empty(t, fast.Labels)
		} else {
			require.Equal(t, slow.Labels, fast.Labels, "%q", data)
		}
	}
	return answered
}

// fastXMLSeeds are hand-made edge cases, inside and outside the scanner's subset.
var fastXMLSeeds = []string{
	"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\r\n" + `<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"><property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" name="MSIP_Label_f42aa342-8706-4288-bd11-ebb85995028c_Enabled"><vt:lpwstr>true</vt:lpwstr></property><property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="3" name="MSIP_Label_f42aa342-8706-4288-bd11-ebb85995028c_SiteId"><vt:lpwstr>72f988bf-86f1-41af-91ab-2d7cd011db47</vt:lpwstr></property></Properties>`,
	`<Properties><property name='a &amp; b' pid = "2" ><vt:lpwstr>x&lt;y&#65;&#x42;</vt:lpwstr><vt:i4>3</vt:i4></property><property name="e"/><property name="n"><vt:lpwstr/></property></Properties>`,
	`<Properties><property name="nested"><a>one<b>two</b>three</a></property><other><property name="deep"><x>no</x></property></other></Properties>`,
	`<Properties><property name="x" name="y"><v>1</v></property></Properties>`,
	`<Properties><property a:name="x" name="y"><v>1</v></property></Properties>`,
	`<Properties><property name="x"><v>1</w></property></Properties>`,
	`<Properties><property name="x"><v>1</v></property>`,
	`<Properties><!-- c --><property name="x"><v>1</v></property></Properties>`,
	`<Properties><property name="x"><v><![CDATA[1]]></v></property></Properties>`,
	"<Properties><property name=\"x\"><v>1\r\n2</v></property></Properties>",
	"<Properties\r\n name=\"a\r\nb\"><property\r\nname=\"x\"/></Properties>",
	"<Properties><property name=\"x\"><v>1&#13;2</v></property></Properties>",
	`<Properties><property name="x"><v>&nbsp;</v></property></Properties>`,
	`<Properties><property name="x"><v>&#0;</v></property></Properties>`,
	`<Other><property name="x"><v>1</v></property></Other>`,
	`<Properties/>`,
	`<Properties></Properties>trailing <junk`,
	`<?xml version="1.0" encoding="UTF-16"?><Properties/>`,
	`<?xml version="1.1"?><Properties/>`,
	`<p:Properties xmlns:p="u"><p:property name="x"><p:v>1</p:v></p:property></p:Properties>`,
	"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\r\n" + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties" Target="docProps/custom.xml"/><Relationship Id="rId2" Type="http://schemas.microsoft.com/office/2020/02/relationships/classificationlabels" Target="/docMetadata/LabelInfo.xml" TargetMode="Internal"/></Relationships>`,
	"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\r\n" + `<clbl:labelList xmlns:clbl="http://schemas.microsoft.com/office/2020/mipLabelMetadata"><clbl:label id="{f42aa342-8706-4288-bd11-ebb85995028c}" enabled="1" method="Standard" siteId="{72f988bf-86f1-41af-91ab-2d7cd011db47}" contentBits="0" removed="0"/></clbl:labelList>`,
	`<labelList><label id="a"></label><label id="b">text<x/></label></labelList>`,
	`<labelList><label id="a" id="b"/></labelList>`,
	`<labelList><label id="a<b"/></labelList>`,
	`<labelList><label id="a"/></labelList ><x/>`,
	`<labelList ><label id=a/></labelList>`,
	`<labelList><label id="é ü 日本"/></labelList>`,
	"<labelList><label id=\"\xff\"/></labelList>",
	"\xef\xbb\xbf<labelList/>",
}

// TestFastXMLMatchesEncodingXML: on the hand-made cases, on every generated corpus file's parts
// and on the real samples' parts, the scanner answers as encoding/xml does wherever it answers,
// and it answers for what Office writes.
func TestFastXMLMatchesEncodingXML(t *testing.T) {
	t.Parallel()
	for _, s := range fastXMLSeeds {
		sameAsEncodingXML(t, []byte(s))
	}
	for _, s := range fastXMLSeeds {
		if strings.Contains(s, "schemas.") && strings.Contains(s, "\r\n") {
			require.True(t, sameAsEncodingXML(t, []byte(s)), "what Office writes is in the subset: %q", s)
		}
	}

	var files [][]byte
	for _, c := range labeltest.Corpus() {
		files = append(files, c.Data)
	}
	real, _ := filepath.Glob(filepath.Join("..", "..", "shared", "samples", "*", "*"))
	for _, p := range real {
		if b, err := os.ReadFile(p); err == nil && bytes.HasPrefix(b, []byte("PK\x03\x04")) {
			files = append(files, b)
		}
	}
	parts, answered := 0, 0
	for _, data := range files {
		a, err := ooxml.Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			continue
		}
		for _, name := range []string{relsPath, labelInfoPath, customPath} {
			if part, err := a.ReadEntry(name, maxPart); err == nil {
				parts++
				if sameAsEncodingXML(t, part) {
					answered++
				}
			}
		}
	}
	require.Positive(t, parts)
	// The corpus holds deliberately odd files too, but most parts are what Office writes: the
	// scanner must answer for them, or the speed it exists for is lost unnoticed.
	require.Greater(t, answered*10, parts*8, "the scanner answered %d of %d label parts", answered, parts)
}

// FuzzFastXML holds the scanner to encoding/xml's answer on any input it accepts.
func FuzzFastXML(f *testing.F) {
	for _, s := range fastXMLSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sameAsEncodingXML(t, data)
	})
}

// guidRe is the regular expression normGUID replaced; the test holds the two to one answer.
var guidRe = regexp.MustCompile(`^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$`)

func TestNormGUIDMatchesItsRegexp(t *testing.T) {
	t.Parallel()
	g := "F42AA342-8706-4288-bd11-ebb85995028c"
	inputs := []string{g, "{" + g + "}", "{" + g, g + "}", " \t{" + g + "}\n", "{{" + g + "}", g + "}}", g[:35], g + "0",
		strings.Replace(g, "-", "x", 1), strings.Replace(g, "F", "g", 1), "", "{}", "{", strings.Repeat("-", 36),
		strings.ToLower(g), "\u00a0" + g, g[:8] + "-" + g[9:]}
	for i := 0; i < len(g); i++ {
		inputs = append(inputs, g[:i]+"Z"+g[i+1:], g[:i]+g[i+1:])
	}
	for _, in := range inputs {
		want := ""
		if m := guidRe.FindStringSubmatch(strings.TrimSpace(in)); m != nil {
			want = strings.ToLower(m[1])
		}
		require.Equal(t, want, normGUID(in), "%q", in)
	}
}
