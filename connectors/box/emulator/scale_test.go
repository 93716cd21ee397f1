package emulator

import "testing"

// TestSeedFilesSharesContent: SeedFiles keeps the caller's content slice, creates each
// folder once, and records no events (seeded files are state from before any reader).
func TestSeedFilesSharesContent(t *testing.T) {
	t.Parallel()
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	content := []byte("shared bytes")
	ids, err := e.SeedFiles([]SeedFile{
		{Folder: "/F0", Name: "a.docx", Content: content, SharedLink: "open"},
		{Folder: "/F0", Name: "b.docx", Content: content, Collaborators: []string{"eve@partner.org"}, Classification: "General"},
		{Folder: "/F1/x", Name: "c.docx", Content: content},
	})
	if err != nil || len(ids) != 3 {
		t.Fatalf("SeedFiles: %v, %d ids", err, len(ids))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a, b, c := e.items[ids[0]], e.items[ids[1]], e.items[ids[2]]
	for _, it := range []*item{a, b, c} {
		if &it.content()[0] != &content[0] {
			t.Fatalf("%s: content copied, want shared", it.id)
		}
	}
	if a.parent != b.parent || a.parent == c.parent {
		t.Fatalf("folders: a %s b %s c %s", a.parent, b.parent, c.parent)
	}
	if a.sharedLink != "open" || len(b.collabs) != 1 || b.classification != "General" {
		t.Fatalf("sharing not seeded: %+v %+v", a, b)
	}
	if len(e.events) != 0 {
		t.Fatalf("%d events recorded for seeded files", len(e.events))
	}
}
