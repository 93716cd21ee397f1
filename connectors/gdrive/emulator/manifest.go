package emulator

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Manifest seeds an emulator: a Workspace domain with users, shared drives, a Drive label
// catalog and files. It is the JSON document under testdata/gdrive/.
type Manifest struct {
	Domain       string        `json:"domain"`
	Users        []User        `json:"users"`
	SharedDrives []SharedDrive `json:"sharedDrives"`
	Labels       []LabelSpec   `json:"labels"`
	Files        []FileSpec    `json:"files"`
}

// User is a Workspace user; only users listed here can be impersonated.
type User struct {
	Email   string `json:"email"`
	OrgUnit string `json:"orgUnit,omitempty"`
}

// SharedDrive is a shared drive and the users who are members of it.
type SharedDrive struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Members []string `json:"members"`
}

// LabelSpec is a published Drive label with selection fields.
type LabelSpec struct {
	ID     string      `json:"id"`
	Title  string      `json:"title"`
	Fields []FieldSpec `json:"fields"`
}

// FieldSpec is a selection field of a label.
type FieldSpec struct {
	ID      string       `json:"id"`
	Name    string       `json:"name"`
	Choices []ChoiceSpec `json:"choices"`
}

// ChoiceSpec is one choice of a selection field.
type ChoiceSpec struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// FileSpec is a file or folder. Files without Parent live at the root of their drive.
type FileSpec struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	MimeType    string         `json:"mimeType,omitempty"`
	Folder      bool           `json:"folder,omitempty"`
	Owner       string         `json:"owner,omitempty"` // My Drive owner; ignored for shared drives
	Drive       string         `json:"drive,omitempty"` // shared drive id, "" = the owner's My Drive
	Parent      string         `json:"parent,omitempty"`
	Permissions []Permission   `json:"permissions,omitempty"`
	Labels      []AppliedLabel `json:"labels,omitempty"`
	Content     string         `json:"content,omitempty"`     // inline text content
	ContentFile string         `json:"contentFile,omitempty"` // path relative to the manifest
	Data        []byte         `json:"-"`                     // content bytes; wins over Content
}

// Permission is a sharing entry: type user, group, domain or anyone.
type Permission struct {
	// ID is Drive's permission id; "" lets the emulator derive it from the grantee, as Drive
	// does ("a unique identifier for the grantee", drive-api.json Permission.id).
	ID     string `json:"id,omitempty"`
	Type   string `json:"type"`
	Role   string `json:"role"`
	Email  string `json:"email,omitempty"`
	Domain string `json:"domain,omitempty"`
	// AllowFileDiscovery makes a domain or anyone grant findable through search.
	AllowFileDiscovery bool `json:"allowFileDiscovery,omitempty"`
	// Expiration is when a user or group grant ends; zero when never.
	Expiration time.Time `json:"expirationTime,omitzero"`
	// InheritedFrom is the folder (or shared drive) the grant comes from; "" = on the file.
	InheritedFrom string `json:"inheritedFrom,omitempty"`
}

// AppliedLabel is a selection value of a Drive label on a file.
type AppliedLabel struct {
	LabelID  string `json:"labelId"`
	FieldID  string `json:"fieldId"`
	ChoiceID string `json:"choiceId"`
}

// LoadManifest reads a manifest and the content files it names.
func LoadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parsing manifest %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	for i := range m.Files {
		f := &m.Files[i]
		if f.ContentFile == "" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.ContentFile)))
		if err != nil {
			return nil, fmt.Errorf("manifest file %s: %w", f.ID, err)
		}
		f.Data = data
	}
	return &m, nil
}
