package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/labelgate/labelgate/connectors"
	boxemu "github.com/labelgate/labelgate/connectors/box/emulator"
	gdriveemu "github.com/labelgate/labelgate/connectors/gdrive/emulator"
	graphemu "github.com/labelgate/labelgate/connectors/graph/emulator"
	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/labeling/labeltest"
)

// The benchmark tenant: Contoso's SharePoint libraries and OneDrives, Google Drive (users' My
// Drives and one shared drive) and Box, with files spread evenly over the chosen apps and
// over folders of filesPerFolder files.
const (
	benchDomain    = "contoso.com"
	benchClient    = "labelgate-bench"
	benchSecret    = "bench-secret"
	filesPerFolder = 500
)

var benchUsers = []string{"adele", "bob", "carol", "diego", "megan"}

// allApps are the apps the benchmark can emulate, in the order files are dealt to them.
var allApps = []connectors.App{connectors.AppSharePoint, connectors.AppOneDrive, connectors.AppGDrive, connectors.AppBox}

// contents are the few generated files every emulated file shares, picked by the file's
// number: a million files cost the memory of a handful (issue 21: content generated from a
// seed, not stored per file). Four formats × four label states.
type contents struct {
	byIndex [][]byte
	names   []string // extension per content
}

func newContents() *contents {
	c := &contents{}
	labels := []labeltest.Label{
		{},
		{ID: labeltest.LabelGeneral, Tenant: labeltest.TenantContoso, Method: "Standard", SetDate: "2026-01-05T09:00:00Z"},
		{ID: labeltest.LabelConfidential, Tenant: labeltest.TenantContoso, Method: "Privileged", SetDate: "2026-01-05T09:00:00Z"},
		{ID: "c3d4e5f6-1111-4222-8333-944455556666", Tenant: labeltest.TenantFabrikam, Method: "Standard"},
	}
	for _, ext := range []string{".docx", ".xlsx", ".pptx", ".pdf"} {
		for _, l := range labels {
			var ls []labeltest.Label
			if l.ID != "" {
				ls = []labeltest.Label{l}
			}
			text := []string{"Contoso quarterly figures.", "Prepared for the board."}
			var b []byte
			switch ext {
			case ".xlsx":
				b = labeltest.Xlsx(labeltest.Options{LabelInfo: ls, Text: text})
			case ".pptx":
				b = labeltest.Pptx(labeltest.Options{LabelInfo: ls, Text: text})
			case ".pdf":
				b = labeltest.PDF(labeltest.PDFOptions{Info: ls, Text: text})
			default:
				b = labeltest.Docx(labeltest.Options{LabelInfo: ls, Text: text})
			}
			c.byIndex = append(c.byIndex, b)
			c.names = append(c.names, ext)
		}
	}
	return c
}

// pick returns the content, file extension and label id (of the organisation's own labels;
// "" for none or another tenant's) of file i.
func (c *contents) pick(i int) ([]byte, string, string) {
	// A multiplicative hash spreads formats and labels over the files deterministically.
	k := int((uint64(i)*0x9e3779b97f4a7c15)>>32) % len(c.byIndex)
	label := ""
	switch k % 4 {
	case 1:
		label = labeltest.LabelGeneral
	case 2:
		label = labeltest.LabelConfidential
	}
	return c.byIndex[k], c.names[k], label
}

func benchAccess(i int) connectors.AccessLevel {
	return []connectors.AccessLevel{connectors.AccessPrivate, connectors.AccessPrivate, connectors.AccessInternal,
		connectors.AccessExternal, connectors.AccessPublic}[i%5]
}

// benchTenant is the running emulators and what was seeded in them.
type benchTenant struct {
	graph  *graphemu.Server
	drive  *gdriveemu.Server
	box    *boxemu.Emulator
	seeded map[connectors.App]int
}

func (t *benchTenant) Close() {
	if t.graph != nil {
		t.graph.Close()
	}
	if t.drive != nil {
		t.drive.Close()
	}
	if t.box != nil {
		t.box.Close()
	}
}

// newBenchTenant starts the emulators the chosen apps need, faults off, and seeds n files
// dealt round-robin over the apps.
func newBenchTenant(n int, apps []connectors.App, log *slog.Logger) (*benchTenant, error) {
	t := &benchTenant{seeded: map[connectors.App]int{}}
	ct := newContents()
	want := map[connectors.App]bool{}
	for _, a := range apps {
		want[a] = true
	}
	per := map[connectors.App]int{}
	for i := 0; i < n; i++ {
		per[apps[i%len(apps)]]++
	}
	folder := func(i int) string { return fmt.Sprintf("/F%05d", i/filesPerFolder) }
	if want[connectors.AppSharePoint] || want[connectors.AppOneDrive] {
		var gm graphemu.Manifest
		gm.Tenant = graphemu.Tenant{ID: labeltest.TenantContoso, Domains: []string{benchDomain}}
		for _, u := range benchUsers {
			gm.Users = append(gm.Users, graphemu.User{ID: "u-" + u, UPN: u + "@" + benchDomain, DisplayName: u, Drive: "b!onedrive-" + u})
		}
		gm.Sites = []graphemu.Site{
			{ID: "contoso.sharepoint.com,site-finance,web", Name: "finance", WebURL: "https://contoso.sharepoint.com/sites/finance",
				Libraries: []graphemu.Library{{ID: "b!finance-docs", Name: "Documents"}}},
			{ID: "contoso.sharepoint.com,site-projects,web", Name: "projects", WebURL: "https://contoso.sharepoint.com/sites/projects",
				Libraries: []graphemu.Library{{ID: "b!projects-docs", Name: "Documents"}}},
		}
		gm.Labels = []graphemu.Label{
			{ID: labeltest.LabelPublic, Name: "Public", DisplayName: "Public", Priority: 0},
			{ID: labeltest.LabelGeneral, Name: "General", DisplayName: "General", Priority: 1},
			{ID: labeltest.LabelConfidential, Name: "Confidential", DisplayName: "Confidential", Priority: 2},
		}
		// The bench app holds Sites.FullControl.All besides the README's set, so its walks use
		// hierarchical sharing (one permissions read per shared hierarchy root, not per file).
		g, err := graphemu.New(graphemu.Options{Manifest: &gm, ClientID: benchClient, ClientSecret: benchSecret, Logger: log,
			Roles: append(graphemu.DefaultRoles(), graphemu.RoleSitesFullControl)})
		if err != nil {
			return nil, fmt.Errorf("graph emulator: %w", err)
		}
		t.graph = g
		var files []graphemu.SeedFile
		for _, app := range []connectors.App{connectors.AppSharePoint, connectors.AppOneDrive} {
			for i := 0; i < per[app]; i++ {
				data, ext, label := ct.pick(i)
				f := graphemu.SeedFile{Folder: folder(i), Name: fmt.Sprintf("doc-%07d%s", i, ext), Content: data, Label: label}
				u := benchUsers[i%len(benchUsers)]
				f.Owner = u + "@" + benchDomain
				if app == connectors.AppSharePoint {
					f.Drive = gm.Sites[i%2].Libraries[0].ID
				} else {
					f.Drive = "b!onedrive-" + u
				}
				switch benchAccess(i) {
				case connectors.AccessPublic:
					f.Shares = []graphemu.Share{{Link: "anonymous"}}
				case connectors.AccessExternal:
					f.Shares = []graphemu.Share{{Email: "eve@partner.org", Guest: true}}
				case connectors.AccessInternal:
					f.Shares = []graphemu.Share{{Link: "organization"}}
				}
				files = append(files, f)
			}
			t.seeded[app] = per[app]
		}
		if _, err := g.SeedFiles(files); err != nil {
			t.Close()
			return nil, err
		}
	}
	if want[connectors.AppGDrive] {
		dm := &gdriveemu.Manifest{Domain: benchDomain, SharedDrives: []gdriveemu.SharedDrive{{ID: "sd-sales", Name: "Sales",
			Members: []string{"admin@" + benchDomain}}}}
		dm.Users = append(dm.Users, gdriveemu.User{Email: "admin@" + benchDomain})
		for _, u := range benchUsers {
			dm.Users = append(dm.Users, gdriveemu.User{Email: u + "@" + benchDomain})
		}
		d, err := gdriveemu.New(gdriveemu.Options{Manifest: dm, Logger: log})
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("drive emulator: %w", err)
		}
		t.drive = d
		for i := 0; i < per[connectors.AppGDrive]; i++ {
			data, ext, _ := ct.pick(i)
			spec := gdriveemu.FileSpec{ID: fmt.Sprintf("g%07d", i), Name: fmt.Sprintf("doc-%07d%s", i, ext), Data: data,
				Owner: benchUsers[i%len(benchUsers)] + "@" + benchDomain}
			if i%6 == 0 {
				spec.Drive, spec.Owner = "sd-sales", ""
			}
			switch benchAccess(i) {
			case connectors.AccessPublic:
				spec.Permissions = []gdriveemu.Permission{{Type: "anyone", Role: "reader"}}
			case connectors.AccessExternal:
				spec.Permissions = []gdriveemu.Permission{{Type: "user", Role: "reader", Email: "eve@partner.org"}}
			case connectors.AccessInternal:
				spec.Permissions = []gdriveemu.Permission{{Type: "domain", Role: "reader", Domain: benchDomain}}
			}
			if _, err := d.AddFile(spec); err != nil {
				t.Close()
				return nil, fmt.Errorf("drive seed: %w", err)
			}
		}
		t.seeded[connectors.AppGDrive] = per[connectors.AppGDrive]
	}
	if want[connectors.AppBox] {
		bm := &boxemu.Manifest{Classifications: []boxemu.ManifestClassification{{Key: "Public"}, {Key: "General"}, {Key: "Confidential"}}}
		for i, u := range benchUsers {
			bm.Users = append(bm.Users, boxemu.ManifestUser{ID: fmt.Sprint(2001 + i), Login: u + "@" + benchDomain, Name: u})
		}
		b, err := boxemu.New(boxemu.Options{ClientID: benchClient, ClientSecret: benchSecret, Seed: bm, Logger: log})
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("box emulator: %w", err)
		}
		t.box = b
		files := make([]boxemu.SeedFile, 0, per[connectors.AppBox])
		for i := 0; i < per[connectors.AppBox]; i++ {
			data, ext, label := ct.pick(i)
			f := boxemu.SeedFile{Folder: folder(i), Name: fmt.Sprintf("doc-%07d%s", i, ext), Content: data,
				Owner: benchUsers[i%len(benchUsers)] + "@" + benchDomain}
			switch label {
			case labeltest.LabelGeneral:
				f.Classification = "General"
			case labeltest.LabelConfidential:
				f.Classification = "Confidential"
			}
			switch benchAccess(i) {
			case connectors.AccessPublic:
				f.SharedLink = "open"
			case connectors.AccessExternal:
				f.Collaborators = []string{"eve@partner.org"}
			case connectors.AccessInternal:
				f.SharedLink = "company"
			}
			files = append(files, f)
		}
		if _, err := b.SeedFiles(files); err != nil {
			t.Close()
			return nil, fmt.Errorf("box seed: %w", err)
		}
		t.seeded[connectors.AppBox] = per[connectors.AppBox]
	}
	return t, nil
}

// connectors configures the gateway's connectors for the seeded apps; the Drive service
// account key is written under dir.
func (t *benchTenant) connectors(dir string, apps []connectors.App) ([]config.Connector, error) {
	var out []config.Connector
	for _, app := range apps {
		switch app {
		case connectors.AppSharePoint, connectors.AppOneDrive:
			out = append(out, config.Connector{Name: string(app), App: string(app), Tenant: t.graph.TenantID(), BaseURL: t.graph.GraphURL(),
				AuthURL: t.graph.URL(), ClientID: benchClient, ClientSecret: benchSecret, Domains: []string{benchDomain}})
		case connectors.AppGDrive:
			keyPath := filepath.Join(dir, "gdrive-key.json")
			key, err := gdriveemu.ServiceAccountKey("labelgate-bench")
			if err != nil {
				return nil, err
			}
			if err := os.WriteFile(keyPath, key, 0o600); err != nil {
				return nil, err
			}
			var users []string
			for _, u := range benchUsers {
				users = append(users, u+"@"+benchDomain)
			}
			out = append(out, config.Connector{Name: "gdrive", App: "gdrive", Tenant: benchDomain, Domains: []string{benchDomain},
				Users: users, AdminEmail: "admin@" + benchDomain, ServiceAccountKey: keyPath, BaseURL: t.drive.URL(),
				AuthURL: t.drive.TokenURL(), LabelMode: "embedded"})
		case connectors.AppBox:
			out = append(out, config.Connector{Name: "box", App: "box", Tenant: t.box.EnterpriseID(), ClientID: benchClient,
				ClientSecret: benchSecret, BaseURL: t.box.APIURL(), UploadURL: t.box.UploadURL(), AuthURL: t.box.TokenURL(),
				Domains: []string{benchDomain}, PrimaryKey: "primary-key", SecondaryKey: "secondary-key",
				LabelMap: map[string]string{labeltest.LabelGeneral: "General", labeltest.LabelConfidential: "Confidential"}})
		}
	}
	return out, nil
}

// parseApps reads -apps: "all" or a comma-separated list.
func parseApps(s string) ([]connectors.App, error) {
	if s == "" || s == "all" {
		return allApps, nil
	}
	var out []connectors.App
	for _, p := range strings.Split(s, ",") {
		a := connectors.App(strings.TrimSpace(p))
		ok := false
		for _, k := range allApps {
			ok = ok || k == a
		}
		if !ok {
			return nil, fmt.Errorf("-apps: unknown app %q (want sharepoint, onedrive, gdrive, box or all)", p)
		}
		out = append(out, a)
	}
	return out, nil
}
