package labeling

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labelgate/labelgate/labeling/cfb"
	"github.com/labelgate/labelgate/labeling/pdf"
	"github.com/stretchr/testify/require"
)

// The real files of ../shared/samples/real were labelled by Office, the AIP client or the MIP
// SDK; they are read where they are (never copied into the repository).

const (
	wrTenantMicrosoft = "72f988bf-86f1-41af-91ab-2d7cd011db47" // the tenant most real samples are labelled in
	wrTenantNew       = "c0ffee00-1234-4abc-8def-0123456789ab" // a tenant no sample knows
)

// wrSharedSamples returns the real-sample directory: ../shared beside the repository root.
// wrSharedSamples is the folder of real sample files (../shared/samples/real).
func wrSharedSamples(t *testing.T) string {
	t.Helper()
	return filepath.Join(sharedDir(t), "samples", "real")
}

type wrSample struct {
	name string
	data []byte
}

func wrRealSamples(t *testing.T) []wrSample {
	t.Helper()
	dir := wrSharedSamples(t)
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []wrSample
	for _, e := range ents {
		if e.IsDir() || e.Name() == "README.md" || e.Name() == "MANIFEST.tsv" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		out = append(out, wrSample{e.Name(), data})
	}
	require.GreaterOrEqual(t, len(out), 12, "the manifest lists twelve files")
	return out
}

// TestWriterOverRealSamples applies a label of the organisation to every writable real sample,
// reads it back, removes it and reads it back again, twice: once as the tenant most samples are
// labelled in (its label is replaced) and once as a tenant no sample knows (every label in the
// file belongs to someone else). Other tenants' labels must come through every step intact:
// parsed records equal, and their LabelInfo elements, custom properties and XMP properties
// byte for byte. Files that cannot be written are refused with a typed error and no output.
func TestWriterOverRealSamples(t *testing.T) {
	t.Parallel()
	for _, s := range wrRealSamples(t) {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			l := Label{ID: "5e7a11ed-0000-4000-8000-00000000beef", Method: "privileged", Name: "Highly Confidential",
				ContentBits: 1, SetDate: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
			name := s.name
			compound := bytes.HasPrefix(s.data, cfb.Magic)
			if TypeOf(name) == TypeUnsupported || compound {
				l.Tenant = wrTenantNew
				var out bytes.Buffer
				err := Apply(ctx, bytes.NewReader(s.data), int64(len(s.data)), name, l, &out)
				require.Error(t, err)
				require.True(t, errorsIsAny(err, ErrUnsupported, ErrProtected), "a typed refusal: %v", err)
				require.Zero(t, out.Len())
				err = RemoveTenant(ctx, bytes.NewReader(s.data), int64(len(s.data)), name, wrTenantNew, &out)
				require.True(t, errorsIsAny(err, ErrUnsupported, ErrProtected), "a typed refusal: %v", err)
				require.Zero(t, out.Len())
				if strings.HasSuffix(name, ".xlsb") && !compound {
					// The binary workbook is the same OPC container: the writer handles it; the
					// package's file types decide whether it is offered (read.go's TypeOf).
					name = strings.TrimSuffix(name, ".xlsb") + ".xlsx"
				} else {
					return
				}
			}
			for _, tenant := range []string{wrTenantMicrosoft, wrTenantNew} {
				l.Tenant = tenant
				wrRoundTrip(t, s.data, name, l)
			}
		})
	}
}

func wrRoundTrip(t *testing.T, src []byte, name string, l Label) {
	t.Helper()
	before := readOK(t, src, name)
	others := wrRecords(before, l.Tenant, false)
	isPDF := TypeOf(name) == TypePDF
	var liBefore, custBefore []string
	var srcDoc *pdf.Doc
	if isPDF {
		var err error
		srcDoc, err = pdf.Read(bytes.NewReader(src), int64(len(src)))
		require.NoError(t, err)
	} else {
		liBefore, custBefore = wrForeignElements(t, src, l.Tenant)
	}
	keptForeign := func(out []byte, step string) {
		t.Helper()
		res := readOK(t, out, name)
		require.Equal(t, others, wrRecords(res, l.Tenant, false), "%s as %s: other tenants' labels kept (parsed)", step, l.Tenant)
		if isPDF {
			require.True(t, bytes.HasPrefix(out, src), "an incremental update keeps every original byte")
			doc, err := pdf.Read(bytes.NewReader(out), int64(len(out)))
			require.NoError(t, err)
			keys, vals := []string{}, []string{}
			for k, v := range srcDoc.Info {
				if s, ok := v.(pdf.String); ok {
					keys, vals = append(keys, string(k)), append(vals, s.Text())
				}
			}
			tenantOf, guidOf := propGroups(keys, vals)
			for i, k := range keys {
				if guidOf[i] == "" || tenantOf[guidOf[i]] != l.Tenant {
					require.Equal(t, srcDoc.Info[pdf.Name(k)], doc.Info[pdf.Name(k)], "%s: Info %s kept", step, k)
				}
			}
			for g, tn := range tenantOf {
				if tn != l.Tenant {
					require.Equal(t, wrXMPProps(srcDoc.XMP, g), wrXMPProps(doc.XMP, g), "%s: XMP of %s kept byte for byte", step, g)
				}
			}
			return
		}
		li, cust := wrForeignElements(t, out, l.Tenant)
		require.Equal(t, liBefore, li, "%s: other tenants' LabelInfo elements byte for byte", step)
		require.Equal(t, custBefore, cust, "%s: other tenants' custom properties byte for byte", step)
		if !bytes.Equal(out, src) {
			assertZipShape(t, out)
		}
		wrUntouchedEntries(t, src, out)
	}

	out := apply(t, src, name, l)
	keptForeign(out, "apply")
	wrOwnIsExactly(t, readOK(t, out, name), l, name)

	rm := removeTenant(t, out, name, l.Tenant)
	keptForeign(rm, "apply+remove")
	own := wrRecords(readOK(t, rm, name), l.Tenant, true)
	if isPDF {
		require.Empty(t, own)
	} else {
		require.Len(t, own, 1, "Office's removed-label form")
		require.True(t, own[0].Removed && !own[0].Enabled && own[0].ID == l.Tenant, "%+v", own[0])
	}

	// Removing straight from the original: a removed entry only where the tenant used LabelInfo.
	direct := removeTenant(t, src, name, l.Tenant)
	keptForeign(direct, "remove")
	hadInfo := false
	for _, rec := range wrRecords(before, l.Tenant, true) {
		hadInfo = hadInfo || rec.Source == "labelinfo"
	}
	own = wrRecords(readOK(t, direct, name), l.Tenant, true)
	if hadInfo {
		require.Len(t, own, 1)
		require.True(t, own[0].Removed)
	} else {
		require.Empty(t, own)
	}
	if len(wrRecords(before, l.Tenant, true)) == 0 {
		require.Equal(t, src, direct, "nothing of ours to remove: the file comes back unchanged")
	}
}

// wrUntouchedEntries checks every entry but the label and wiring parts is copied raw.
func wrUntouchedEntries(t *testing.T, src, out []byte) {
	t.Helper()
	zs, err := zip.NewReader(bytes.NewReader(src), int64(len(src)))
	require.NoError(t, err)
	zo, err := zip.NewReader(bytes.NewReader(out), int64(len(out)))
	require.NoError(t, err)
	got := map[string]*zip.File{}
	for _, f := range zo.File {
		got[f.Name] = f
	}
	for _, f := range zs.File {
		switch f.Name {
		case "docProps/custom.xml", "docMetadata/LabelInfo.xml", "_rels/.rels", "[Content_Types].xml":
			continue
		}
		g := got[f.Name]
		require.NotNil(t, g, "%s kept", f.Name)
		require.Equal(t, f.CRC32, g.CRC32, f.Name)
		require.Equal(t, f.Method, g.Method, f.Name)
		require.Equal(t, f.CompressedSize64, g.CompressedSize64, "%s copied raw", f.Name)
	}
}

// TestRealSamplesOfficeForms checks the writer against what Office itself wrote in the samples.
func TestRealSamplesOfficeForms(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	samples := map[string][]byte{}
	for _, s := range wrRealSamples(t) {
		samples[s.name] = s.data
	}
	l := Label{ID: "5e7a11ed-0000-4000-8000-00000000beef", Tenant: wrTenantMicrosoft, Method: "standard",
		SetDate: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}

	// SalesTemplate holds Office's removed form for 72f988bf: apply and remove again gives back
	// Office's LabelInfo part byte for byte.
	sales := samples["officeaddin_SalesTemplate.xlsx"]
	require.NotNil(t, sales)
	back := removeTenant(t, apply(t, sales, "s.xlsx", l), "s.xlsx", wrTenantMicrosoft)
	require.Equal(t, wrPart(t, sales, "docMetadata/LabelInfo.xml"), wrPart(t, back, "docMetadata/LabelInfo.xml"))

	// A LabelInfo part made from nothing has the shape of Office's (e.g. poi_bug66675.xlsx).
	poi := samples["poi_bug66675.xlsx"]
	ours := wrPart(t, apply(t, samples["rmssdk_Azure Secure Sender.docx"], "a.docx", l), "docMetadata/LabelInfo.xml")
	office := wrPart(t, poi, "docMetadata/LabelInfo.xml")
	require.Equal(t, strings.SplitAfter(office, "<clbl:label ")[0], strings.SplitAfter(ours, "<clbl:label ")[0])
	require.Equal(t, `<clbl:label id="{`+l.ID+`}" enabled="1" method="Standard" siteId="{`+wrTenantMicrosoft+`}" contentBits="0" removed="0" /></clbl:labelList>`,
		ours[strings.Index(ours, "<clbl:label "):])

	// The case: poi_bug66675.xlsx carries tenant db1e96a8's label; ours goes beside it.
	out := apply(t, poi, "p.xlsx", l)
	li := wrPart(t, out, "docMetadata/LabelInfo.xml")
	require.Contains(t, li, `<clbl:label id="{d0cb1e24-a0e2-4a4c-9340-733297c9cd7c}" enabled="1" method="Privileged" siteId="{db1e96a8-a3da-442a-930b-235cac24cd5c}" contentBits="0" removed="0" />`)
	require.Contains(t, li, l.ID)

	// markitdown_test.pptx: two tenants; a removal that names none is refused.
	two := samples["markitdown_test.pptx"]
	err := Remove(ctx, bytes.NewReader(two), int64(len(two)), "m.pptx", io.Discard)
	require.ErrorIs(t, err, ErrTenantAmbiguous)
	require.Contains(t, err.Error(), "f66b6bd3-ebc2-4f54-8769-d22858de97c5")

	// Compound files are refused by content, whatever their names claim.
	for name, want := range map[string]error{
		"phpss_47_xlsfill.xls":            ErrUnsupported, // legacy binary workbook
		"tika_testWORD_protected_drm.doc": ErrProtected,   // Word 97 IRM (\tDRMContent)
		"sk_Code Examples.pptx":           ErrProtected,   // RMS EncryptedPackage
	} {
		data := samples[name]
		require.NotNil(t, data, name)
		for _, as := range []string{"x.docx", "x.xlsx", "x.pptx"} {
			err := Apply(ctx, bytes.NewReader(data), int64(len(data)), as, l, io.Discard)
			require.ErrorIs(t, err, want, "%s as %s", name, as)
		}
	}
}
