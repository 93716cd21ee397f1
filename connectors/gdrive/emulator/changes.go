package emulator

import (
	"fmt"
	"time"

	"google.golang.org/api/drive/v3"
)

// RenameSharedDrive renames a shared drive, which the drive's change list reports as a
// drive-level change: changeType "drive", the drive's id and resource, and no fileId.
func (s *Server) RenameSharedDrive(id, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.sharedDrive(id)
	if d == nil {
		return fmt.Errorf("no shared drive %s", id)
	}
	d.Name = name
	s.recordDriveChange(id, false)
	return nil
}

// recordDriveChange appends a drive-level change to the log and notifies the drive's
// channels, as Drive does. Callers hold s.mu.
func (s *Server) recordDriveChange(driveID string, removed bool) {
	c := change{id: int64(len(s.changes)) + 1, driveID: driveID, removed: removed, time: s.now(), drive: true}
	s.changes = append(s.changes, c)
	s.notifyChange(c)
}

// driveChangeEntry renders a drive-level change (the Change schema in drive-api.json).
func (s *Server) driveChangeEntry(c change) *drive.Change {
	wc := &drive.Change{Kind: "drive#change", ChangeType: "drive", Type: "drive", DriveId: c.driveID, Removed: c.removed,
		Time: c.time.UTC().Format(time.RFC3339Nano)}
	if d := s.sharedDrive(c.driveID); d != nil && !c.removed {
		wc.Drive = &drive.Drive{Kind: "drive#drive", Id: d.ID, Name: d.Name}
	}
	return wc
}
