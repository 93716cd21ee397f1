package emulator

import (
	"fmt"
	"time"
)

// SeedFile is one file for SeedFiles.
type SeedFile struct {
	Folder string // path below the root folder "0", "/" separated; created when missing
	Name   string
	Owner  string // login; "" = the service account
	// Content is kept as given, not copied: a large emulated enterprise shares a few generated
	// contents among all its files (new versions are appended, never written into).
	Content        []byte
	SharedLink     string   // "open", "company" or ""
	Collaborators  []string // logins or "group:<name>"
	Classification string
}

// SeedFiles adds many files at once, as state that existed before any webhook or event
// reader: no events are recorded and no deliveries sent, like the manifest's files. It
// returns the new file ids in order.
func (e *Emulator) SeedFiles(files []SeedFile) ([]string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	folders := map[string]string{}
	for _, f := range files {
		if _, ok := folders[f.Folder]; ok {
			continue
		}
		id, err := e.ensureFolderLocked("0", f.Folder, false)
		if err != nil {
			return nil, fmt.Errorf("box emulator: folder %q: %w", f.Folder, err)
		}
		folders[f.Folder] = id
	}
	now := e.now().UTC().Truncate(time.Second)
	ids := make([]string, 0, len(files))
	for _, f := range files {
		it := &item{id: e.newID(), name: f.Name, parent: folders[f.Folder], owner: e.userFor(f.Owner), created: now,
			modified: now, versions: [][]byte{f.Content}, sharedLink: f.SharedLink, classification: f.Classification}
		for _, c := range f.Collaborators {
			it.collabs = append(it.collabs, e.newCollab(c, "viewer"))
		}
		e.items[it.id] = it
		ids = append(ids, it.id)
	}
	return ids, nil
}
