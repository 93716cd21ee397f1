package policies

import (
	"context"
	"io"
	"path"
	"strings"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
)

// ContentSource opens a file's content for inspection; it is called at most once per
// evaluation, and only when a content condition is reached.
type ContentSource func(ctx context.Context) (io.ReaderAt, int64, error)

// Facts is what a policy sees of one file: the connector's facts and the scanned label.
type Facts struct {
	File connectors.File
	// Ext is the lowercase extension without the dot.
	Ext string
	// LabelID is the file's label for labelgate ("" = none): the organisation's tenant's label
	// when the file carries one, else the label it carries (another tenant's). LabelTenant is
	// the tenant that owns it. `label.is`, `isNot` and `none` test this label.
	LabelID, LabelTenant string
	// LabelExternal is true when the file carries a label of another tenant than the
	// organisation's, whether or not it also carries one of its own (issue 20: the inventory's
	// files.label_external, set by the scanner from every label in the file). `label.external`
	// tests it, so a file with both tenants' labels matches `label.is: [own]` and
	// `label.external: true` alike.
	LabelExternal bool
	// LabelName, LabelParent and LabelPriority come from the catalog; priority is -1 when
	// the file has no label or the catalog does not know it.
	LabelName, LabelParent string
	LabelPriority          int
	Protected              bool
	Content                ContentSource
}

// NewFacts builds facts from a connector file and its scanned label. It can only tell the one
// label's tenant from the connector's; callers that read every label of the file (the one-shot
// scan) set LabelExternal from all of them.
func NewFacts(f connectors.File, ls connectors.LabelState, cat Catalog) Facts {
	fa := Facts{File: f, Ext: extOf(f.Name), LabelID: ls.LabelID, LabelTenant: ls.Tenant, Protected: ls.Protected}
	fa.LabelExternal = ls.LabelID != "" && ls.Tenant != "" && !strings.EqualFold(ls.Tenant, f.Ref.Tenant)
	fa.fillLabel(cat)
	return fa
}

// FactsFromRecord builds facts from an inventory row.
func FactsFromRecord(r store.FileRecord, cat Catalog) Facts {
	fa := Facts{File: r.File, Ext: r.Ext, LabelID: r.LabelID, LabelTenant: r.LabelTenant,
		LabelExternal: r.LabelExternal, Protected: r.Protected}
	if fa.Ext == "" {
		fa.Ext = extOf(r.Name)
	}
	fa.fillLabel(cat)
	return fa
}

func (fa *Facts) fillLabel(cat Catalog) {
	fa.LabelPriority = -1
	// Label ids compare exactly, in lower case, so evaluation needs no case folding.
	fa.LabelID = lowerIfNeeded(fa.LabelID)
	if fa.LabelID == "" || cat == nil {
		return
	}
	if l, ok := cat.Lookup(fa.LabelID); ok {
		fa.LabelName, fa.LabelParent, fa.LabelPriority = l.Name, lowerIfNeeded(l.Parent), l.Priority
	}
}

func lowerIfNeeded(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

func extOf(name string) string {
	e := strings.TrimPrefix(path.Ext(name), ".")
	for i := 0; i < len(e); i++ {
		if c := e[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(e)
		}
	}
	return e
}

// Family bits of file types.
const (
	famWord = 1 << iota
	famExcel
	famPowerPoint
	famPDF
	famOffice = famWord | famExcel | famPowerPoint
)

var families = map[string]int{"word": famWord, "excel": famExcel, "powerpoint": famPowerPoint, "pdf": famPDF, "office": famOffice}

func familyOf(ext string) int {
	switch ext {
	case "doc", "docx", "docm", "dot", "dotx", "dotm", "rtf":
		return famWord
	case "xls", "xlsx", "xlsm", "xlsb", "xlt", "xltx", "xltm", "xlam":
		return famExcel
	case "ppt", "pptx", "pptm", "pot", "potx", "potm", "pps", "ppsx", "ppsm":
		return famPowerPoint
	case "pdf":
		return famPDF
	}
	return 0
}
