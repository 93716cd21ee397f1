package emulator

import "fmt"

// SeedFile is one file for SeedFiles.
type SeedFile struct {
	Drive, Folder, Name, Owner string
	// Content is kept as given, not copied: a large emulated tenant shares a few generated
	// contents among all its files (the emulator never writes into a content slice; new
	// versions replace it).
	Content   []byte
	Shares    []Share
	Label     string
	Protected bool
}

// SeedFiles adds many files at once, as state that existed before anyone subscribed: no
// notifications are sent. Folders are created on the way. It returns the new item ids in
// order. It is how a benchmark builds a tenant of a million files in reasonable memory.
func (s *Server) SeedFiles(files []SeedFile) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	folders := map[string]string{} // drive|folder → id
	ids := make([]string, 0, len(files))
	for _, f := range files {
		if _, ok := s.drives[f.Drive]; !ok {
			return ids, fmt.Errorf("emulator: unknown drive %q", f.Drive)
		}
		owner := f.Owner
		if owner == "" {
			owner = s.defaultOwner(f.Drive)
		}
		key := f.Drive + "|" + f.Folder
		parent, ok := folders[key]
		if !ok {
			parent = s.mkdirs(f.Drive, f.Folder, owner)
			folders[key] = parent
		}
		it := s.create(f.Drive, parent, f.Name, owner, f.Content)
		it.shares = s.withShareIDs(f.Shares)
		it.label, it.protected = f.Label, f.Protected
		if it.label != "" {
			it.labelMethod = "standard"
		}
		ids = append(ids, it.id)
	}
	return ids, nil
}
