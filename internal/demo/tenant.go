// Package demo provides labelgate's one-command demo: a generated tenant served by the Box,
// Google Drive and Microsoft Graph emulators, a gateway wired to them, churn, and a summary.
package demo

import (
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/labelgate/labelgate/connectors"
	boxemu "github.com/labelgate/labelgate/connectors/box/emulator"
	gdriveemu "github.com/labelgate/labelgate/connectors/gdrive/emulator"
	graphemu "github.com/labelgate/labelgate/connectors/graph/emulator"
	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/labeling/labeltest"
)

// Label ids of the demo tenant's catalog. The Office labels use labeltest's ids so the
// label records the generator writes into files are the catalog's own.
const (
	LabelPublic       = labeltest.LabelPublic
	LabelGeneral      = labeltest.LabelGeneral
	LabelConfidential = labeltest.LabelConfidential
	LabelRestricted   = "a9c4e1d2-7b3f-4e8a-9d6c-2f1b0e3a4c5d"
	LabelRestrictedFi = "b8d3f2e1-6a4c-4f9b-8e7d-3a2c1f0b5e6d"
	// CardNumber is a valid (Luhn) test card number some files contain.
	CardNumber = "4111 1111 1111 1111"
)

const (
	domain   = "contoso.com"
	boxRoot  = "0"
	clientID = "labelgate-demo"
	secret   = "demo-secret"
)

var users = []string{"adele", "bob", "carol", "diego", "megan"}

// Tenant is a generated organisation served by three running emulators.
type Tenant struct {
	Graph *graphemu.Server
	Drive *gdriveemu.Server
	Box   *boxemu.Emulator

	// Seeded counts files per app as generated.
	Seeded map[connectors.App]int

	mu       sync.Mutex
	rng      *mrand.Rand
	graphIDs []string // SharePoint and OneDrive file ids, for churn
	driveIDs []string
	boxIDs   []string
	names    map[string]string // file id → name, so edits keep the file's format
}

// labelFor returns an Office label record for a catalog label.
func labelFor(id string) labeltest.Label {
	return labeltest.Label{ID: id, Tenant: labeltest.TenantContoso, Method: "Standard", SetDate: "2026-01-05T09:00:00Z"}
}

// content makes an Office or PDF file; label "" leaves it unlabelled.
func content(name string, label labeltest.Label, text []string, protected bool) []byte {
	var ls []labeltest.Label
	if label.ID != "" {
		ls = []labeltest.Label{label}
	}
	ext := strings.ToLower(filepath.Ext(name))
	if protected {
		return labeltest.Protected(strings.TrimPrefix(ext, "."), ls, 0)
	}
	o := labeltest.Options{LabelInfo: ls, Text: text}
	switch ext {
	case ".xlsx":
		return labeltest.Xlsx(o)
	case ".pptx":
		return labeltest.Pptx(o)
	case ".pdf":
		return labeltest.PDF(labeltest.PDFOptions{Info: ls, Text: text})
	}
	return labeltest.Docx(o)
}

// fileSpec is one generated file before it is placed in an emulator.
type fileSpec struct {
	name      string
	folder    string
	owner     string
	label     labeltest.Label
	protected bool
	text      []string
	access    connectors.AccessLevel
}

var (
	stems   = []string{"budget", "roadmap", "contract", "payroll", "forecast", "pitch", "minutes", "invoice", "design", "audit", "offer", "plan"}
	exts    = []string{".docx", ".xlsx", ".pptx", ".pdf"}
	folders = []string{"/Finance", "/Finance/Reports", "/Engineering", "/Sales", "/Legal", "/HR", "/Marketing"}
	labels  = []string{"", "", LabelPublic, LabelGeneral, LabelGeneral, LabelConfidential, LabelConfidential, LabelRestricted}
	access  = []connectors.AccessLevel{connectors.AccessPrivate, connectors.AccessPrivate, connectors.AccessInternal, connectors.AccessInternal, connectors.AccessExternal, connectors.AccessPublic}
)

// generate makes n file specs deterministically from rng. The first files are the
// demo's set pieces: an external tenant's label, a protected file and card numbers.
func generate(rng *mrand.Rand, n int) []fileSpec {
	out := make([]fileSpec, 0, n)
	for i := 0; i < n; i++ {
		f := fileSpec{
			name:   fmt.Sprintf("%s-%03d%s", stems[rng.IntN(len(stems))], i, exts[rng.IntN(len(exts))]),
			folder: folders[rng.IntN(len(folders))],
			owner:  users[rng.IntN(len(users))] + "@" + domain,
			access: access[rng.IntN(len(access))],
			text:   []string{"Contoso internal document."},
		}
		if id := labels[rng.IntN(len(labels))]; id != "" {
			f.label = labelFor(id)
		}
		switch {
		case i%23 == 3:
			f.label = labeltest.Label{ID: "c3d4e5f6-1111-4222-8333-944455556666", Tenant: labeltest.TenantFabrikam, Method: "Standard"}
		case i%29 == 5:
			f.name = fmt.Sprintf("board-minutes-%03d.docx", i)
			f.label, f.protected = labelFor(LabelConfidential), true
		case i%7 == 1:
			// Unlabelled files with card numbers: the auto-labelling policy's targets.
			f.label = labeltest.Label{}
			f.text = []string{"Customer payment details", "Card: " + CardNumber, "Exp 12/29"}
		}
		out = append(out, f)
	}
	return out
}

// NewTenant generates n files spread over SharePoint, OneDrive, Google Drive and Box and
// starts the three emulators serving them.
func NewTenant(n int, seed uint64, log *slog.Logger) (*Tenant, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rng := mrand.New(mrand.NewPCG(seed, seed^0x5eed))
	t := &Tenant{rng: rng, Seeded: map[connectors.App]int{}, names: map[string]string{}}
	specs := generate(rng, n)
	var gm graphemu.Manifest
	gm.Tenant = graphemu.Tenant{ID: labeltest.TenantContoso, Domains: []string{domain}}
	for _, u := range users {
		gm.Users = append(gm.Users, graphemu.User{ID: "u-" + u, UPN: u + "@" + domain, DisplayName: strings.ToUpper(u[:1]) + u[1:], Drive: "b!onedrive-" + u})
	}
	gm.Sites = []graphemu.Site{
		{ID: "contoso.sharepoint.com,site-finance,web", Name: "finance", WebURL: "https://contoso.sharepoint.com/sites/finance", Libraries: []graphemu.Library{{ID: "b!finance-docs", Name: "Documents"}}},
		{ID: "contoso.sharepoint.com,site-projects,web", Name: "projects", WebURL: "https://contoso.sharepoint.com/sites/projects", Libraries: []graphemu.Library{{ID: "b!projects-docs", Name: "Documents"}}},
	}
	gm.Labels = []graphemu.Label{
		{ID: LabelPublic, Name: "Public", DisplayName: "Public", Priority: 0},
		{ID: LabelGeneral, Name: "General", DisplayName: "General", Priority: 1},
		{ID: LabelConfidential, Name: "Confidential", DisplayName: "Confidential", Priority: 2},
		{ID: LabelRestricted, Name: "Restricted", DisplayName: "Restricted", Priority: 3},
		{ID: LabelRestrictedFi, Name: "Restricted - Finance", DisplayName: "Restricted - Finance", Priority: 4},
	}
	dm := &gdriveemu.Manifest{Domain: domain, SharedDrives: []gdriveemu.SharedDrive{{ID: "sd-sales", Name: "Sales", Members: []string{"admin@" + domain, "megan@" + domain}}}}
	// The Workspace's published Drive label "Sensitivity" with one selection field, its
	// choices least to most sensitive (the connector takes a choice's position as its
	// priority). labelgate writes these with files.modifyLabels through driveLabelMap.
	dm.Labels = []gdriveemu.LabelSpec{{ID: driveLabelID, Title: "Sensitivity", Fields: []gdriveemu.FieldSpec{{ID: driveFieldID, Name: "Level",
		Choices: []gdriveemu.ChoiceSpec{{ID: "public", Name: "Public"}, {ID: "general", Name: "General"},
			{ID: "confidential", Name: "Confidential"}, {ID: "restricted", Name: "Restricted"}}}}}}
	dm.Users = append(dm.Users, gdriveemu.User{Email: "admin@" + domain})
	for _, u := range users {
		dm.Users = append(dm.Users, gdriveemu.User{Email: u + "@" + domain})
	}
	bm := &boxemu.Manifest{Classifications: []boxemu.ManifestClassification{{Key: "Public"}, {Key: "General"}, {Key: "Confidential"}, {Key: "Restricted"}}}
	for i, u := range users {
		bm.Users = append(bm.Users, boxemu.ManifestUser{ID: fmt.Sprint(2001 + i), Login: u + "@" + domain, Name: u})
	}
	bm.Users = append(bm.Users, boxemu.ManifestUser{ID: "3001", Login: "eve@partner.org", Name: "Eve (partner)"})
	var boxFiles []fileSpec
	var graphFiles []graphFile
	boxExposed := false
	for i, f := range specs {
		data := content(f.name, f.label, f.text, f.protected)
		switch i % 4 {
		case 0: // SharePoint
			drive := gm.Sites[i/4%2].Libraries[0].ID
			graphFiles = append(graphFiles, graphFile{drive: drive, folder: f.folder, spec: f, data: data})
			t.Seeded[connectors.AppSharePoint]++
		case 1: // OneDrive
			u := strings.TrimSuffix(f.owner, "@"+domain)
			graphFiles = append(graphFiles, graphFile{drive: "b!onedrive-" + u, folder: "/Documents", spec: f, data: data})
			t.Seeded[connectors.AppOneDrive]++
		case 2: // Google Drive
			spec := gdriveemu.FileSpec{ID: fmt.Sprintf("g%04d", i), Name: f.name, Owner: f.owner, Data: data, Permissions: drivePerms(f.access)}
			if i%3 == 0 {
				spec.Drive, spec.Owner = "sd-sales", ""
			}
			dm.Files = append(dm.Files, spec)
			t.driveIDs = append(t.driveIDs, spec.ID)
			t.names[spec.ID] = f.name
			t.Seeded[connectors.AppGDrive]++
		default:
			// Set piece: the first confidential Box file is shared outside the company, so the
			// "Confidential data externally shared on Box" policy has a target from the first
			// rescan on, not only when the live phase's random changes happen to make one.
			if !boxExposed && f.label.ID == LabelConfidential && !f.protected {
				f.access, boxExposed = connectors.AccessExternal, true
			}
			boxFiles = append(boxFiles, f)
		}
	}
	exposePublicly(boxFiles)
	var err error
	if t.Graph, err = graphemu.New(graphemu.Options{Manifest: &gm, ClientID: clientID, ClientSecret: secret, MeteredBilling: true, Logger: log}); err != nil {
		return nil, fmt.Errorf("graph emulator: %w", err)
	}
	if t.Drive, err = gdriveemu.New(gdriveemu.Options{Manifest: dm, Logger: log}); err != nil {
		t.Close()
		return nil, fmt.Errorf("drive emulator: %w", err)
	}
	if t.Box, err = boxemu.New(boxemu.Options{ClientID: clientID, ClientSecret: secret, Seed: bm, Logger: log}); err != nil {
		t.Close()
		return nil, fmt.Errorf("box emulator: %w", err)
	}
	if err := t.seedGraph(graphFiles); err != nil {
		t.Close()
		return nil, err
	}
	if err := t.seedBox(boxFiles); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// exposePublicly is a set piece for sharing governance (issue 24): one Confidential Box file
// has an open (anyone) shared link from the start, so the demo's removePublicLinks policy
// has a target on the first rescan. An existing one is kept; otherwise a plain Box file (not
// a Confidential one shared externally, which the Box alert policy wants, not protected, not
// another tenant's, no card numbers) is made one.
func exposePublicly(files []fileSpec) {
	for _, f := range files {
		if f.label.ID == LabelConfidential && !f.protected && f.access == connectors.AccessPublic {
			return
		}
	}
	for i := len(files) - 1; i >= 0; i-- {
		f := &files[i]
		if f.protected || (f.label.ID == LabelConfidential && f.access == connectors.AccessExternal) || (f.label.ID != "" && f.label.Tenant != labeltest.TenantContoso) ||
			strings.Contains(strings.Join(f.text, " "), CardNumber) {
			continue
		}
		f.label, f.access = labelFor(LabelConfidential), connectors.AccessPublic
		return
	}
}

type graphFile struct {
	drive, folder string
	spec          fileSpec
	data          []byte
}

// seedGraph adds files through the emulator's controls: manifest content can only come
// from files on disk.
func (t *Tenant) seedGraph(files []graphFile) error {
	for _, f := range files {
		id, err := t.Graph.AddFile(f.drive, f.folder, f.spec.name, f.spec.owner, f.data)
		if err == nil {
			if sh := graphShares(f.spec.access); sh != nil {
				err = t.Graph.SetSharing(id, sh...)
			}
		}
		if err == nil && f.spec.label.ID != "" {
			err = t.Graph.SetLabel(id, f.spec.label.ID, f.spec.protected)
		}
		if err != nil {
			return fmt.Errorf("graph seed: %w", err)
		}
		t.graphIDs = append(t.graphIDs, id)
	}
	return nil
}

func (t *Tenant) seedBox(files []fileSpec) error {
	for _, f := range files {
		parent, err := t.Box.EnsureFolder(boxRoot, strings.TrimPrefix(f.folder, "/"))
		if err != nil {
			return fmt.Errorf("box seed: %w", err)
		}
		id, err := t.Box.AddFile(parent, f.name, content(f.name, f.label, f.text, f.protected), f.owner)
		if err != nil {
			return fmt.Errorf("box seed: %w", err)
		}
		switch f.access {
		case connectors.AccessPublic:
			err = t.Box.SetSharedLink(id, "open")
		case connectors.AccessExternal:
			err = t.Box.AddCollaborator(id, "eve@partner.org", "viewer")
		case connectors.AccessInternal:
			err = t.Box.SetSharedLink(id, "company")
		}
		if err == nil && f.label.ID != "" && f.label.Tenant == labeltest.TenantContoso {
			err = t.Box.SetClassification(id, boxKey(f.label.ID))
		}
		if err != nil {
			return fmt.Errorf("box seed: %w", err)
		}
		t.boxIDs = append(t.boxIDs, id)
		t.names[id] = f.name
		t.Seeded[connectors.AppBox]++
	}
	return nil
}

func boxKey(id string) string {
	switch id {
	case LabelPublic:
		return "Public"
	case LabelGeneral:
		return "General"
	case LabelConfidential:
		return "Confidential"
	}
	return "Restricted"
}

func graphShares(a connectors.AccessLevel) []graphemu.Share {
	switch a {
	case connectors.AccessPublic:
		return []graphemu.Share{{Link: "anonymous"}}
	case connectors.AccessExternal:
		return []graphemu.Share{{Email: "eve@partner.org", Guest: true}}
	case connectors.AccessInternal:
		return []graphemu.Share{{Link: "organization"}}
	}
	return nil
}

func drivePerms(a connectors.AccessLevel) []gdriveemu.Permission {
	switch a {
	case connectors.AccessPublic:
		return []gdriveemu.Permission{{Type: "anyone", Role: "reader"}}
	case connectors.AccessExternal:
		return []gdriveemu.Permission{{Type: "user", Role: "reader", Email: "eve@partner.org"}}
	case connectors.AccessInternal:
		return []gdriveemu.Permission{{Type: "domain", Role: "reader", Domain: domain}}
	}
	return nil
}

// Connectors configures the gateway's four connectors against the emulators; the Drive
// service-account key is written under dir.
func (t *Tenant) Connectors(dir string) ([]config.Connector, error) {
	keyPath := filepath.Join(dir, "demo-gdrive-key.json")
	key, err := gdriveemu.ServiceAccountKey("labelgate-demo")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(keyPath, key, 0o600); err != nil {
		return nil, fmt.Errorf("demo key: %w", err)
	}
	g := config.Connector{App: "sharepoint", Tenant: t.Graph.TenantID(), BaseURL: t.Graph.GraphURL(), AuthURL: t.Graph.URL(),
		ClientID: clientID, ClientSecret: secret, Domains: []string{domain}}
	sp, od := g, g
	sp.Name, od.Name, od.App = "sharepoint", "onedrive", "onedrive"
	var names []string
	for _, u := range users {
		names = append(names, u+"@"+domain)
	}
	gd := config.Connector{Name: "gdrive", App: "gdrive", Tenant: domain, Domains: []string{domain}, Users: names, AdminEmail: "admin@" + domain,
		ServiceAccountKey: keyPath, BaseURL: t.Drive.URL(), AuthURL: t.Drive.TokenURL(), LabelMode: "native", LabelMap: driveLabelMap()}
	bx := config.Connector{Name: "box", App: "box", Tenant: t.Box.EnterpriseID(), ClientID: clientID, ClientSecret: secret,
		BaseURL: t.Box.APIURL(), UploadURL: t.Box.UploadURL(), AuthURL: t.Box.TokenURL(), Domains: []string{domain},
		PrimaryKey: "primary-key", SecondaryKey: "secondary-key",
		LabelMap: map[string]string{LabelPublic: "Public", LabelGeneral: "General", LabelConfidential: "Confidential", LabelRestricted: "Restricted"},
		// As on a real tenant: Box takes no webhook on "0", so the connector hooks each
		// top-level folder and reads the event stream for the rest; polled often here, since
		// the demo lasts seconds.
		Roots: []string{boxRoot}, EventPoll: 5 * time.Second}
	return []config.Connector{sp, od, gd, bx}, nil
}

// Close stops the emulators.
func (t *Tenant) Close() {
	if t.Graph != nil {
		t.Graph.Close()
	}
	if t.Drive != nil {
		t.Drive.Close()
	}
	if t.Box != nil {
		t.Box.Close()
	}
}

// The demo's Drive label and field ids (Drive label ids are opaque strings in Workspace).
const (
	driveLabelID = "sensitivity-0a1b2c3d"
	driveFieldID = "level"
)

// driveLabelMap maps the organisation's MIP labels to the Drive label's choices, so Drive
// files get Drive labels written like Box files get classifications (issue 23: in embedded
// mode with no Drive catalog every Drive action waited for a catalog that never came). The
// catalog then lists the MIP ids with the choices' names, and policies naming
// "Confidential" resolve on Drive as elsewhere.
func driveLabelMap() map[string]string {
	return map[string]string{
		LabelPublic:       driveLabelID + "/" + driveFieldID + "/public",
		LabelGeneral:      driveLabelID + "/" + driveFieldID + "/general",
		LabelConfidential: driveLabelID + "/" + driveFieldID + "/confidential",
		LabelRestricted:   driveLabelID + "/" + driveFieldID + "/restricted",
	}
}
