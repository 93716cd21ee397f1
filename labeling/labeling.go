// Package labeling reads, writes and governs Microsoft Information Protection labels in files.
package labeling

import (
	"errors"
	"fmt"
	"time"
)

// FileType is the family a file belongs to: its name gives a hint, its bytes decide.
type FileType string

// File types the label engine understands.
const (
	TypeWord       FileType = "word"
	TypeExcel      FileType = "excel"
	TypePowerPoint FileType = "powerpoint"
	TypePDF        FileType = "pdf"
	// TypeOffice is an encrypted Office container whose application neither its name nor its
	// readable streams tell.
	TypeOffice FileType = "office"
	// TypePFile is an RMS "protected file" (pfile) wrapping a file of no family above.
	TypePFile       FileType = "pfile"
	TypeUnsupported FileType = "unsupported"
)

// Where a label record was found (Label.Source).
const (
	SourceLabelInfo = "labelinfo"     // docMetadata/LabelInfo.xml
	SourceCustom    = "custom"        // docProps/custom.xml
	SourcePDFInfo   = "pdf-info"      // the PDF document information dictionary
	SourcePDFXMP    = "pdf-xmp"       // the PDF XMP metadata packet
	SourceOLEProps  = "ole-props"     // the user-defined OLE properties of \005DocumentSummaryInformation
	SourceDataSpace = "cfb-labelinfo" // the LabelInfo stream under \006DataSpaces\TransformInfo
)

// Protection kinds (Result.ProtectionKind; Result.Protection reports "none" for "").
const (
	ProtectionRMS      = "rms"
	ProtectionPassword = "password"
	ProtectionNone     = "none"
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
	Source      string    `json:"source"` // one of the Source constants
	// ParentID is the parent label of a sublabel (the AIP/MIP `_Parent` property), "" for a
	// top-level label.
	ParentID string `json:"parentId,omitempty"`
}

// Result is what a scan found.
type Result struct {
	Type FileType `json:"type"`
	// Label is the file's label for labelgate: the organisation's tenant's label when the read
	// named a tenant and the file carries one, otherwise the most recently set of Effective
	// (today's precedence); nil = none.
	Label  *Label  `json:"label,omitempty"`
	Labels []Label `json:"labels,omitempty"` // every label record found, removed and superseded ones included
	// Effective holds the labels that apply, at most one per tenant, after the precedence rules
	// (LabelInfo over custom properties of the same tenant, a sublabel over its parent, the
	// newest PDF update over older metadata), in the order first found.
	Effective []Label `json:"effective,omitempty"`
	Protected bool    `json:"protected"` // encrypted: rights management or password
	// ProtectionKind is "rms" (rights management), "password" or "" when not protected.
	ProtectionKind string `json:"protectionKind,omitempty"`
	// Container names what held the content when it is not the plain format, e.g.
	// "encrypted-package", "drm-content", "pdf-irm-wrapper", "pfile", "ole" (a legacy binary file).
	Container string `json:"container,omitempty"`
	// OriginalExt is a pfile's wrapped file's extension (".pdf", ".txt"), when recorded.
	OriginalExt string `json:"originalExt,omitempty"`
	BytesRead   int64  `json:"bytesRead"`
	RoundTrips  int    `json:"roundTrips"`
}

// Protection is ProtectionKind with "none" for an unprotected file.
func (r Result) Protection() string {
	if r.ProtectionKind == "" {
		return ProtectionNone
	}
	return r.ProtectionKind
}

// LabelFor is the file's label as the organisation of tenant sees it: its own tenant's label
// when the file carries one, else the label today's precedence picks (another tenant's: an
// external label). With tenant "" it is today's precedence.
func (r Result) LabelFor(tenant string) *Label {
	return pickLabel(r.Effective, tenant)
}

// External lists the effective labels that belong to another tenant than tenant; none when
// tenant is "" (nothing can be told apart without knowing whose labels are one's own).
func (r Result) External(tenant string) []Label {
	t := normGUID(tenant)
	if t == "" {
		return nil
	}
	var out []Label
	for _, l := range r.Effective {
		if l.Tenant != "" && l.Tenant != t {
			out = append(out, l)
		}
	}
	return out
}

// Errors callers branch on.
var (
	ErrUnsupported = errors.New("unsupported file type")
	ErrProtected   = errors.New("file is protected: its label cannot change without the protection keys")
	ErrTooLarge    = errors.New("file is over 50 MB: not labelled")
	ErrMalformed   = errors.New("malformed file")
)

// UnsupportedError says why a file cannot be handled; it matches ErrUnsupported with errors.Is.
type UnsupportedError struct {
	Name   string // the file's name
	Reason string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("%s: %q: %s", ErrUnsupported, e.Name, e.Reason)
}

// Is makes errors.Is(err, ErrUnsupported) hold.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// WriteUnsupported explains why labels cannot be written into a file named name: legacy binary
// Office files and RMS pfiles are read (discovery, inventory, policies) but never rewritten.
// It returns nil when the name's type is one labelgate writes.
func WriteUnsupported(name string) error {
	if TypeOf(name) != TypeUnsupported {
		return nil
	}
	ext := extOf(name)
	switch t := readTypes[ext]; {
	case t == TypePFile || pfileExts[ext]:
		return &UnsupportedError{Name: name, Reason: "an RMS protected file (pfile): its label is part of the encrypted publishing licence, which only the rights-management service can rewrite"}
	case t != "":
		return &UnsupportedError{Name: name, Reason: "a legacy binary Office file (." + ext + "): labelgate reads its label from the OLE property set but does not write labels into legacy formats; save it as Office Open XML to label it"}
	}
	return &UnsupportedError{Name: name, Reason: "not an Office Open XML or PDF file"}
}
