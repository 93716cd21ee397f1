package gdrive

import (
	"context"

	"google.golang.org/api/drive/v3"
)

// isDriveChange reports whether a change concerns a shared drive itself (its name, theme,
// restrictions, or the drive being removed or hidden) rather than a file. Such entries have
// changeType "drive" and carry no fileId (the Change schema in drive-api.json: "changeType:
// The type of the change. Possible values are file and drive"; fileId is for file changes).
// Reporting them as files would make a deleted file with an empty id.
func isDriveChange(ch *drive.Change) bool {
	return ch.ChangeType == "drive" || ch.FileId == ""
}

// driveChanged handles a drive-level change: no file changed, but the drive's restrictions
// or name may have, so cached folder paths are dropped; a removed drive (deleted, or the
// impersonated user lost access) is logged, since its files will stop appearing.
func (c *Conn) driveChanged(ctx context.Context, driveID string, ch *drive.Change) {
	c.forgetFolders()
	if ch.Removed {
		c.log.WarnContext(ctx, "gdrive: shared drive removed or no longer accessible", "drive", driveID, "changedDrive", ch.DriveId)
		return
	}
	c.log.DebugContext(ctx, "gdrive: shared drive changed", "drive", driveID, "changedDrive", ch.DriveId)
}
