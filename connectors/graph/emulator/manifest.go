package emulator

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Manifest seeds an emulator: one tenant with its users, sites, labels and files.
type Manifest struct {
	Tenant Tenant         `json:"tenant"`
	Users  []User         `json:"users"`
	Sites  []Site         `json:"sites"`
	Labels []Label        `json:"labels"`
	Files  []ManifestFile `json:"files"`
	// Folders carry grants (or unique permissions) on folders, applied after Files.
	Folders []ManifestFolder `json:"folders,omitempty"`
}

// Tenant is the emulated directory.
type Tenant struct {
	ID      string   `json:"id"`
	Domains []string `json:"domains"` // verified domains; the first is the default
}

// User is a directory user; Drive is the id of the user's OneDrive ("" = none provisioned).
type User struct {
	ID          string `json:"id"`
	UPN         string `json:"upn"`
	DisplayName string `json:"displayName"`
	Drive       string `json:"drive"`
}

// Site is a SharePoint site with its document libraries.
type Site struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	WebURL    string    `json:"webUrl"`
	Libraries []Library `json:"libraries"`
}

// Library is a document library (a drive) of a site.
type Library struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Label is a sensitivity label in the tenant's catalog.
type Label struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
	Parent      string `json:"parent,omitempty"`
	Priority    int    `json:"priority"`
	Protection  bool   `json:"protection,omitempty"`
	Disabled    bool   `json:"disabled,omitempty"`
	// UserDefined marks a protecting label whose permissions the user picks when applying it
	// (user-defined permissions): there is no user in an app-only call, so Graph refuses to
	// assign it app-only.
	UserDefined bool `json:"userDefined,omitempty"`
}

// Share is one grant on a file: a sharing link (Link = anonymous, organization or users)
// or a direct grant to Email; Guest marks an invitation to someone outside the tenant.
type Share struct {
	// ID is the permission id; "" = the emulator assigns one. A link created again gets a new
	// id (and with it a new URL), as Graph's does.
	ID    string `json:"id,omitempty"`
	Link  string `json:"link,omitempty"`
	Email string `json:"email,omitempty"` // for a "users" link: the one person it is for
	Role  string `json:"role,omitempty"`  // read (default) or write
	Guest bool   `json:"guest,omitempty"`
	// Expires is the grant's expirationDateTime; zero = none.
	Expires time.Time `json:"expires,omitzero"`
	// InheritedFrom is the id of the folder the grant comes from (permission.inheritedFrom);
	// "" = granted on the item itself.
	InheritedFrom string `json:"inheritedFrom,omitempty"`
}

// ManifestFile is one seeded file. Content comes from Content (text), ContentFile (a
// path relative to the manifest) or Generate (that many deterministic bytes).
type ManifestFile struct {
	Drive       string  `json:"drive"`
	Path        string  `json:"path"` // "/folder/name.docx"
	Owner       string  `json:"owner"`
	Content     string  `json:"content,omitempty"`
	ContentFile string  `json:"contentFile,omitempty"`
	Generate    int     `json:"generate,omitempty"`
	Sharing     []Share `json:"sharing,omitempty"`
	Label       string  `json:"label,omitempty"`
	Protected   bool    `json:"protected,omitempty"`
	Locked      bool    `json:"locked,omitempty"`   // assignSensitivityLabel answers 423 fileDoubleKeyEncrypted
	LockCode    string  `json:"lockCode,omitempty"` // or 423 with this code (fileDecryptionNotSupported, …)

	data []byte
}

// LoadManifest reads a JSON manifest and the content files it names.
func LoadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse manifest %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	for i := range m.Files {
		f := &m.Files[i]
		switch {
		case f.ContentFile != "":
			data, err := os.ReadFile(filepath.Join(dir, f.ContentFile))
			if err != nil {
				return nil, fmt.Errorf("manifest file %s: %w", f.Path, err)
			}
			f.data = data
		case f.Generate > 0:
			f.data = Generate(f.Path, f.Generate)
		default:
			f.data = []byte(f.Content)
		}
	}
	return &m, nil
}

// Generate returns n deterministic bytes derived from seed, so tests can recompute them.
func Generate(seed string, n int) []byte {
	var x uint32 = 2166136261
	for i := 0; i < len(seed); i++ {
		x = (x ^ uint32(seed[i])) * 16777619
	}
	b := make([]byte, n)
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}
