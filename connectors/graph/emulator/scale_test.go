package emulator

import (
	"testing"
)

// TestSeedFilesSharesContent: SeedFiles keeps the caller's content slice (a large tenant's
// files share a few contents), creates folders once and leaves the files readable.
func TestSeedFilesSharesContent(t *testing.T) {
	t.Parallel()
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	content := []byte("shared bytes")
	var files []SeedFile
	for i := 0; i < 10; i++ {
		files = append(files, SeedFile{Drive: "b!hr-documents", Folder: "/F0", Name: "f" + string(rune('a'+i)) + ".docx", Content: content,
			Shares: []Share{{Link: "organization"}}, Label: "lbl-general"})
	}
	ids, err := s.SeedFiles(files)
	if err != nil || len(ids) != 10 {
		t.Fatalf("SeedFiles: %v, %d ids", err, len(ids))
	}
	if _, err := s.SeedFiles([]SeedFile{{Drive: "nope", Name: "x.docx"}}); err == nil {
		t.Fatal("unknown drive accepted")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	parents := map[string]bool{}
	for _, id := range ids {
		it := s.items[id]
		if &it.content[0] != &content[0] {
			t.Fatalf("%s: content copied, want shared", id)
		}
		if it.label != "lbl-general" || len(it.shares) != 1 {
			t.Fatalf("%s: label %q shares %v", id, it.label, it.shares)
		}
		parents[it.parent] = true
	}
	if len(parents) != 1 {
		t.Fatalf("files in %d folders, want one /F0", len(parents))
	}
}
