// Package labeling reads, writes and governs Microsoft Information Protection labels in files.
package labeling

import (
	"errors"
	"time"
)

// FileType is the family a file belongs to, decided from its name and confirmed by its bytes.
type FileType string

// File types the label engine understands.
const (
	TypeWord        FileType = "word"
	TypeExcel       FileType = "excel"
	TypePowerPoint  FileType = "powerpoint"
	TypePDF         FileType = "pdf"
	TypeUnsupported FileType = "unsupported"
)

// MaxLabelSize is the largest file labelgate will write a label into (50 MB).
const MaxLabelSize = 50 << 20

// Label is one label record found in a file.
type Label struct {
	ID          string    `json:"id"`     // lowercase GUID without braces
	Tenant      string    `json:"tenant"` // SiteId, lowercase GUID without braces
	Method      string    `json:"method"` // standard, privileged or auto ("" when unrecorded)
	SetDate     time.Time `json:"setDate,omitempty"`
	ContentBits int       `json:"contentBits"`
	Name        string    `json:"name,omitempty"`
	Enabled     bool      `json:"enabled"`
	Removed     bool      `json:"removed,omitempty"`
	Source      string    `json:"source"` // "labelinfo", "custom", "pdf-info", "pdf-xmp", "cfb-labelinfo"
	// ParentID is the parent label of a sublabel (the AIP/MIP `_Parent` property), "" for a
	// top-level label.
	ParentID string `json:"parentId,omitempty"`
}

// Result is what a scan found.
type Result struct {
	Type      FileType `json:"type"`
	Label     *Label   `json:"label,omitempty"`  // the effective label after precedence rules; nil = none
	Labels    []Label  `json:"labels,omitempty"` // every label record found, removed ones included
	Protected bool     `json:"protected"`        // encrypted: rights management or password
	// ProtectionKind is "rms" (rights management), "password" or "" when not protected.
	ProtectionKind string `json:"protectionKind,omitempty"`
	BytesRead      int64  `json:"bytesRead"`
	RoundTrips     int    `json:"roundTrips"`
}

// Errors callers branch on.
var (
	ErrUnsupported = errors.New("unsupported file type")
	ErrProtected   = errors.New("file is protected: its label cannot change without the protection keys")
	ErrTooLarge    = errors.New("file is over 50 MB: not labelled")
	ErrMalformed   = errors.New("malformed file")
)
