package demo

import (
	"fmt"
	"time"

	gdriveemu "github.com/labelgate/labelgate/connectors/gdrive/emulator"
	graphemu "github.com/labelgate/labelgate/connectors/graph/emulator"
	"github.com/labelgate/labelgate/labeling/labeltest"
)

// Change is one thing a user did in a provider during the demo.
type Change struct {
	App  string
	What string
	Err  error
}

// Churn makes one random user change in one of the emulators, which then sends its
// webhook: new and edited files (some with card numbers), relabelling, sharing.
func (t *Tenant) Churn() Change {
	t.mu.Lock()
	r := t.rng.IntN(8)
	n := t.rng.IntN(1 << 20)
	t.mu.Unlock()
	name := fmt.Sprintf("churn-%06d.docx", n)
	card := []string{"Refund for order", "Card " + CardNumber}
	switch r {
	case 0, 1: // a new SharePoint or OneDrive document
		drive, folder := "b!projects-docs", "/Projects"
		app := "sharepoint"
		if r == 1 {
			drive, folder, app = "b!onedrive-bob", "/Documents", "onedrive"
		}
		var lbl labeltest.Label
		if n%2 == 0 {
			lbl = labelFor(LabelRestricted)
		}
		id, err := t.Graph.AddFile(drive, folder, name, "bob@"+domain, content(name, lbl, []string{"Quarterly numbers"}, false))
		if err == nil && lbl.ID != "" {
			err = t.Graph.SetLabel(id, lbl.ID, false)
		}
		if err == nil {
			t.mu.Lock()
			t.graphIDs = append(t.graphIDs, id)
			t.mu.Unlock()
		}
		return Change{App: app, What: "new file " + name, Err: err}
	case 2: // a Graph file is shared externally or relabelled
		id, ok := t.pick(&t.graphIDs)
		if !ok {
			return Change{App: "sharepoint", What: "nothing to change"}
		}
		if n%2 == 0 {
			return Change{App: "sharepoint", What: "shared externally", Err: t.Graph.SetSharing(id, graphemu.Share{Email: "eve@partner.org", Guest: true})}
		}
		return Change{App: "sharepoint", What: "relabelled Restricted", Err: t.Graph.SetLabel(id, LabelRestricted, false)}
	case 3: // a Drive file gets card numbers pasted in
		id, ok := t.pick(&t.driveIDs)
		if !ok {
			return Change{App: "gdrive", What: "nothing to change"}
		}
		return Change{App: "gdrive", What: "edited " + id, Err: t.Drive.ModifyFile(id, content(t.name(id), labeltest.Label{}, card, false))}
	case 4: // a Drive file is made public
		id, ok := t.pick(&t.driveIDs)
		if !ok {
			return Change{App: "gdrive", What: "nothing to change"}
		}
		return Change{App: "gdrive", What: "shared publicly " + id, Err: t.Drive.SetPermissions(id, []gdriveemu.Permission{{Type: "anyone", Role: "reader"}})}
	case 5: // a Box file is classified Confidential and shared outside
		id, ok := t.pick(&t.boxIDs)
		if !ok {
			return Change{App: "box", What: "nothing to change"}
		}
		err := t.Box.SetClassification(id, "Confidential")
		if err == nil {
			err = t.Box.SetSharedLink(id, "open")
		}
		return Change{App: "box", What: "confidential + open link " + id, Err: err}
	case 6: // a Box file is edited with card numbers
		id, ok := t.pick(&t.boxIDs)
		if !ok {
			return Change{App: "box", What: "nothing to change"}
		}
		return Change{App: "box", What: "edited " + id, Err: t.Box.ModifyFile(id, content(t.name(id), labeltest.Label{}, card, false))}
	default: // a Box classification is removed
		id, ok := t.pick(&t.boxIDs)
		if !ok {
			return Change{App: "box", What: "nothing to change"}
		}
		return Change{App: "box", What: "unclassified " + id, Err: t.Box.SetClassification(id, "")}
	}
}

// Share makes the demo's opening sharing changes, so every run shows sharing changes
// recorded and alerted whatever the random churn picks: a Box file classified Confidential
// gets an open shared link, and a Drive file is shared with anyone.
func (t *Tenant) Share() []Change {
	var out []Change
	if id, ok := t.first(&t.boxIDs); ok {
		err := t.Box.SetClassification(id, "Confidential")
		if err == nil {
			err = t.Box.SetSharedLink(id, "open")
		}
		out = append(out, Change{App: "box", What: "confidential + open link " + id, Err: err})
	}
	if id, ok := t.first(&t.driveIDs); ok {
		out = append(out, Change{App: "gdrive", What: "shared publicly " + id,
			Err: t.Drive.SetPermissions(id, []gdriveemu.Permission{{Type: "anyone", Role: "reader"}})})
	}
	return out
}

func (t *Tenant) first(ids *[]string) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(*ids) == 0 {
		return "", false
	}
	return (*ids)[0], true
}

func (t *Tenant) name(id string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.names[id]
}

func (t *Tenant) pick(ids *[]string) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(*ids) == 0 {
		return "", false
	}
	return (*ids)[t.rng.IntN(len(*ids))], true
}

// Throttle makes the emulators answer a few requests with 429 and Retry-After, as busy
// tenants do; it returns how many were injected.
func (t *Tenant) Throttle() int {
	t.Graph.FailNext("/v1.0/drives", 429, time.Second, 3)
	t.Drive.FailNext(gdriveemu.Fault{Status: 429, Reason: "rateLimitExceeded", RetryAfter: "1", Match: "GET /drive/v3/files", Times: 2})
	return 5
}
