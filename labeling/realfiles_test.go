package labeling

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// sharedDir finds ../shared beside the repository root (the directory holding go.mod): real
// files are read from there at test time, never copied into the repository.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "no go.mod above the test's directory")
		dir = parent
	}
	shared := filepath.Join(dir, "..", "shared")
	_, err = os.Stat(filepath.Join(shared, "samples", "real", "MANIFEST.tsv"))
	require.NoError(t, err, "the real sample files live in ../shared/samples/real beside the repository")
	return shared
}

// realWant is a real file's right answer, as ../shared/samples/real/README.md and MANIFEST.tsv
// give it. Label is the file's label for a read naming Tenant ("" = no tenant known).
type realWant struct {
	Tenant     string // the organisation's tenant given to the read
	Label      string // "" = no label
	LabelTen   string
	Method     string
	Parent     string
	Protection string // rms, password or none
	Type       FileType
	Source     string
	Effective  int // labels that apply (one per tenant)
}

const (
	tMicrosoft = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	tAmber     = "f66b6bd3-ebc2-4f54-8769-d22858de97c5"
	lGeneral   = "f42aa342-8706-4288-bd11-ebb85995028c"
)

// realFiles lists every file in ../shared/samples/real (TestRealFilesAllListed keeps it so).
var realFiles = map[string][]realWant{
	"rmssdk_Azure Secure Sender.docx": {{Label: lGeneral, LabelTen: tMicrosoft, Method: "auto", Protection: "none", Type: TypeWord, Source: SourceCustom, Effective: 1}},
	"oxsdk_missingcalcchainpart.xlsx": {{Label: lGeneral, LabelTen: tMicrosoft, Method: "standard", Protection: "none", Type: TypeExcel, Source: SourceLabelInfo, Effective: 1}},
	// A stale 2018 custom.xml label and a newer LabelInfo.xml label of the same tenant.
	"cwyd_MSFT_FY23Q4_10K.docx": {{Label: "1a19d03a-48bc-4359-8038-5b5f6d5847c3", LabelTen: tMicrosoft, Method: "standard", Protection: "none", Type: TypeWord, Source: SourceLabelInfo, Effective: 1}},
	// Two tenants: both labels apply; the organisation's tenant decides which is "its" label.
	"markitdown_test.pptx": {
		{Tenant: tMicrosoft, Label: lGeneral, LabelTen: tMicrosoft, Method: "standard", Protection: "none", Type: TypePowerPoint, Source: SourceLabelInfo, Effective: 2},
		{Tenant: tAmber, Label: "9c215d82-5bf5-4d07-af41-65de05a9c87a", LabelTen: tAmber, Method: "standard", Protection: "none", Type: TypePowerPoint, Source: SourceCustom, Effective: 2},
		// No tenant known: today's precedence, the most recently set (custom.xml's 2025 date).
		{Label: "9c215d82-5bf5-4d07-af41-65de05a9c87a", LabelTen: tAmber, Protection: "none", Type: TypePowerPoint, Source: SourceCustom, Effective: 2},
	},
	"officeaddin_SalesTemplate.xlsx":               {{Protection: "none", Type: TypeExcel}},
	"sk_Code Examples.pptx":                        {{Label: "9fbde396-1a24-4c79-8edf-9254a0f35055", LabelTen: tMicrosoft, Method: "standard", Protection: "rms", Type: TypePowerPoint, Source: SourceDataSpace, Effective: 1}},
	"tika_testWORD_protected_drm.doc":              {{Protection: "rms", Type: TypeWord}},
	"phpss_47_xlsfill.xls":                         {{Label: "b002e552-5bac-4e77-a8f2-1e8fdcadcedf", LabelTen: "f9465cb1-7889-4d9a-b552-fdd0addf0eb1", Method: "standard", Protection: "none", Type: TypeExcel, Source: SourceOLEProps, Effective: 1}},
	"poi_bug66675.xlsx":                            {{Label: "d0cb1e24-a0e2-4a4c-9340-733297c9cd7c", LabelTen: "db1e96a8-a3da-442a-930b-235cac24cd5c", Method: "privileged", Protection: "none", Type: TypeExcel, Source: SourceLabelInfo, Effective: 1}},
	"cogsvc_contoso_benefits_document_example.pdf": {{Label: lGeneral, LabelTen: tMicrosoft, Method: "standard", Protection: "none", Type: TypePDF, Source: SourcePDFInfo, Effective: 1}},
	"markitdown-pr234_test.xlsb":                   {{Label: lGeneral, LabelTen: tMicrosoft, Method: "standard", Protection: "none", Type: TypeExcel, Source: SourceLabelInfo, Effective: 1}},
	"shapecrawler_076 bitcoin.pptx":                {{Label: "459ef8e5-3aaa-41a0-b30c-a77b6f506147", LabelTen: "9343c96b-27bb-4092-add6-977870612481", Method: "standard", Protection: "none", Type: TypePowerPoint, Source: SourceCustom, Effective: 1}},
}

func TestRealFiles(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(sharedDir(t), "samples", "real")
	for name, wants := range realFiles {
		for _, w := range wants {
			t.Run(name+"/tenant="+w.Tenant, func(t *testing.T) {
				t.Parallel()
				checkRealFile(t, filepath.Join(dir, name), name, w)
			})
		}
	}
}

// TestRealFilesRenamed reads every real file under a lying name: the bytes decide the type.
func TestRealFilesRenamed(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(sharedDir(t), "samples", "real")
	lies := map[FileType]string{TypeWord: "x.xlsx", TypeExcel: "x.doc", TypePowerPoint: "x.pdf", TypePDF: "x.pptx"}
	for name, wants := range realFiles {
		w := wants[0]
		if name == "sk_Code Examples.pptx" {
			// An encrypted package's application is inside the encryption: only a name tells.
			w.Type = TypeOffice
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			checkRealFile(t, filepath.Join(dir, name), lies[wants[0].Type], w)
		})
	}
}

func checkRealFile(t *testing.T, p, name string, w realWant) {
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	st, err := f.Stat()
	require.NoError(t, err)
	res, err := ReadWith(context.Background(), f, st.Size(), name, ReadOptions{Tenant: w.Tenant})
	require.NoError(t, err)
	require.Equal(t, w.Type, res.Type)
	require.Equal(t, w.Protection, res.Protection())
	require.Equal(t, w.Protection != "none", res.Protected)
	require.Len(t, res.Effective, w.Effective)
	if w.Label == "" {
		require.Nil(t, res.Label)
		return
	}
	require.NotNil(t, res.Label)
	require.Equal(t, w.Label, res.Label.ID)
	require.Equal(t, w.LabelTen, res.Label.Tenant)
	require.Equal(t, w.Parent, res.Label.ParentID)
	require.Equal(t, w.Source, res.Label.Source)
	if w.Method != "" {
		require.Equal(t, w.Method, res.Label.Method)
	}
	if w.Tenant != "" {
		for _, x := range res.External(w.Tenant) {
			require.NotEqual(t, w.Tenant, x.Tenant)
		}
		require.Len(t, res.External(w.Tenant), w.Effective-1)
	}
}

// TestRealFilesAllListed keeps the table above covering every real file shared with us.
func TestRealFilesAllListed(t *testing.T) {
	t.Parallel()
	ents, err := os.ReadDir(filepath.Join(sharedDir(t), "samples", "real"))
	require.NoError(t, err)
	n := 0
	for _, e := range ents {
		if e.Name() == "README.md" || e.Name() == "MANIFEST.tsv" {
			continue
		}
		n++
		require.Contains(t, realFiles, e.Name(), "add its right answer from the README to realFiles")
	}
	require.Equal(t, len(realFiles), n)
}

type failingReader struct{ err error }

func (f failingReader) ReadAt([]byte, int64) (int, error) { return 0, f.err }

// TestReadPassesReaderErrorsOn: a provider's failure while sniffing (throttling, an outage) is
// returned as such, so the scan is retried, not recorded as a malformed file.
func TestReadPassesReaderErrorsOn(t *testing.T) {
	t.Parallel()
	boom := errors.New("429 too many requests")
	for _, name := range []string{"a.docx", "a.pdf", "a.xls", "a.pfile"} {
		_, err := Read(context.Background(), failingReader{boom}, 1<<20, name)
		require.ErrorIs(t, err, boom, name)
		require.NotErrorIs(t, err, ErrMalformed, name)
	}
}
