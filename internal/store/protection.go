package store

import (
	"context"
	"fmt"

	"github.com/labelgate/labelgate/connectors"
)

// DetailOutsideProtectionKept starts the detail of a label_applied event in which labelgate
// replaced a label whose protection came from outside labelgate (by one that keeps
// protection): the protection stays someone else's, whoever wrote the label now.
const DetailOutsideProtectionKept = "replaced a label protected outside labelgate: "

// ProtectionOutside says whether the inventory holds evidence that a file is, or was,
// protected (encrypted) by someone other than labelgate, and which evidence: its last scan
// found it protected; its first scan did; or a scan saw it gain a label that carries
// protection in the catalog; or labelgate replaced such a protected label
// (DetailOutsideProtectionKept). ("" and false: no such evidence.) Labels labelgate wrote
// itself are not evidence otherwise. The executor uses it so that a provider that does
// not report protection (Box never does; Graph only for catalog labels with hasProtection)
// cannot lead it to strip protection someone else applied (issue 22).
func (s *Store) ProtectionOutside(ctx context.Context, ref connectors.FileRef) (bool, string, error) {
	var n int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM files WHERE app = ? AND tenant = ? AND drive = ? AND item_id = ? AND protected = ?`,
		string(ref.App), ref.Tenant, ref.Drive, ref.ItemID, true).Scan(&n)
	if err != nil {
		return false, "", fmt.Errorf("store: protection history: %w", err)
	}
	if n > 0 {
		return true, "the inventory's last scan found the file protected", nil
	}
	err = s.queryRow(ctx, `SELECT COUNT(*) FROM events WHERE app = ? AND tenant = ? AND drive = ? AND item_id = ? AND kind = ? AND detail = ?`,
		string(ref.App), ref.Tenant, ref.Drive, ref.ItemID, EventDiscovered, "protected").Scan(&n)
	if err != nil {
		return false, "", fmt.Errorf("store: protection history: %w", err)
	}
	if n > 0 {
		return true, "the file was protected when first scanned", nil
	}
	err = s.queryRow(ctx, `SELECT COUNT(*) FROM events WHERE app = ? AND tenant = ? AND drive = ? AND item_id = ? AND kind = ? AND substr(detail, 1, ?) = ?`,
		string(ref.App), ref.Tenant, ref.Drive, ref.ItemID, EventLabelApplied, len(DetailOutsideProtectionKept), DetailOutsideProtectionKept).Scan(&n)
	if err != nil {
		return false, "", fmt.Errorf("store: protection history: %w", err)
	}
	if n > 0 {
		return true, "labelgate replaced a label protected outside labelgate, keeping the protection", nil
	}
	var label string
	err = s.queryRow(ctx, `SELECT e.label_id FROM events e JOIN labels l ON l.app = e.app AND l.tenant = e.tenant AND l.id = e.label_id
		WHERE e.app = ? AND e.tenant = ? AND e.drive = ? AND e.item_id = ? AND e.kind IN (?, ?, ?) AND l.protection = ?
		ORDER BY e.id LIMIT 1`,
		string(ref.App), ref.Tenant, ref.Drive, ref.ItemID, EventDiscovered, EventLabelAdded, EventLabelChanged, true).Scan(&label)
	if isNoRows(err) {
		return false, "", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("store: protection history: %w", err)
	}
	return true, fmt.Sprintf("a scan found label %s, which carries protection, set outside labelgate", label), nil
}
