// Package policies provides file policies: the YAML model, validation against the label
// catalog, a pre-compiled evaluator producing governance actions, and a store-backed manager.
package policies

// Document is a policy file: a `policies:` list. (A single policy mapping, with `id` at the
// top level, is accepted as a document of one.)
type Document struct {
	Policies []Policy `yaml:"policies" json:"policies"`
}

// Severity ranks how serious a policy's findings are.
type Severity string

// Severities, lowest first.
const (
	SeverityLow      Severity = "low"
	SeverityMedium   Severity = "medium"
	SeverityHigh     Severity = "high"
	SeverityCritical Severity = "critical"
)

func (s Severity) valid() bool {
	switch s {
	case SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical:
		return true
	}
	return false
}

// Policy is one admin rule: which files (Filter) get which governance actions.
type Policy struct {
	ID          string   `yaml:"id" json:"id"`
	Name        string   `yaml:"name" json:"name"`
	Description string   `yaml:"description,omitempty" json:"description,omitempty"`
	Severity    Severity `yaml:"severity" json:"severity"`
	Category    string   `yaml:"category,omitempty" json:"category,omitempty"`
	// Enabled defaults to true when absent.
	Enabled *bool `yaml:"enabled,omitempty" json:"enabled,omitempty"`
	// MatchAll must be set for a policy without a filter, so that "every file" is deliberate.
	MatchAll bool     `yaml:"matchAll,omitempty" json:"matchAll,omitempty"`
	Filter   *Node    `yaml:"filter,omitempty" json:"filter,omitempty"`
	Actions  []Action `yaml:"actions" json:"actions"`
}

// IsEnabled reports the enabled flag with its default.
func (p Policy) IsEnabled() bool { return p.Enabled == nil || *p.Enabled }

// Node is one node of a filter tree: exactly one of the combinators (all, any, not) or one
// condition.
type Node struct {
	All []Node `yaml:"all,omitempty" json:"all,omitempty"`
	Any []Node `yaml:"any,omitempty" json:"any,omitempty"`
	Not *Node  `yaml:"not,omitempty" json:"not,omitempty"`

	App                []string     `yaml:"app,omitempty" json:"app,omitempty"`           // sharepoint, onedrive, gdrive, box, fileshare
	Tenant             []string     `yaml:"tenant,omitempty" json:"tenant,omitempty"`     // connector tenant ids
	FileType           []string     `yaml:"fileType,omitempty" json:"fileType,omitempty"` // extensions or word, excel, powerpoint, pdf, office
	Name               []string     `yaml:"name,omitempty" json:"name,omitempty"`         // globs on the file name, case-insensitive
	Folder             *FolderCond  `yaml:"folder,omitempty" json:"folder,omitempty"`
	Owner              *OwnerCond   `yaml:"owner,omitempty" json:"owner,omitempty"`
	Access             *AccessCond  `yaml:"access,omitempty" json:"access,omitempty"`
	SharedWithDomain   []string     `yaml:"sharedWithDomain,omitempty" json:"sharedWithDomain,omitempty"`
	Label              *LabelCond   `yaml:"label,omitempty" json:"label,omitempty"`
	Protected          *bool        `yaml:"protected,omitempty" json:"protected,omitempty"`
	ModifiedWithinDays *int         `yaml:"modifiedWithinDays,omitempty" json:"modifiedWithinDays,omitempty"`
	CreatedWithinDays  *int         `yaml:"createdWithinDays,omitempty" json:"createdWithinDays,omitempty"`
	Size               *SizeCond    `yaml:"size,omitempty" json:"size,omitempty"`
	Content            *ContentCond `yaml:"content,omitempty" json:"content,omitempty"`
}

// FolderCond matches the folder path of a file (without its name). Under takes prefixes on
// folder boundaries ("/Finance" matches /Finance and /Finance/2024, not /FinanceOld); Glob
// takes patterns where * stays inside one folder, ** crosses folders, ? is one character and
// [a-z] a class. The file matches when it is in an included place (or no include is given)
// and in no excluded one. Paths compare case-insensitively except on fileshare.
type FolderCond struct {
	Under        []string `yaml:"under,omitempty" json:"under,omitempty"`
	Glob         []string `yaml:"glob,omitempty" json:"glob,omitempty"`
	ExcludeUnder []string `yaml:"excludeUnder,omitempty" json:"excludeUnder,omitempty"`
	ExcludeGlob  []string `yaml:"excludeGlob,omitempty" json:"excludeGlob,omitempty"`
}

// OwnerCond matches when any listed item matches: the owner's e-mail, a group of the owner,
// or a prefix of the owner's organisational unit (on "/" boundaries). Case-insensitive.
type OwnerCond struct {
	Email    []string `yaml:"email,omitempty" json:"email,omitempty"`
	Group    []string `yaml:"group,omitempty" json:"group,omitempty"`
	OUPrefix []string `yaml:"ouPrefix,omitempty" json:"ouPrefix,omitempty"`
}

// AccessCond matches the sharing level: one of In, or at least AtLeast
// (private < internal < external < public).
type AccessCond struct {
	In      []string `yaml:"in,omitempty" json:"in,omitempty"`
	AtLeast string   `yaml:"atLeast,omitempty" json:"atLeast,omitempty"`
}

// LabelCond matches the file's current label; set exactly one of Is, IsNot, None, External.
// Labels are named by id or catalog name. With IncludeSublabels a label also matches through
// its parent. IsNot matches unlabelled files too.
type LabelCond struct {
	Is               []string `yaml:"is,omitempty" json:"is,omitempty"`
	IsNot            []string `yaml:"isNot,omitempty" json:"isNot,omitempty"`
	IncludeSublabels bool     `yaml:"includeSublabels,omitempty" json:"includeSublabels,omitempty"`
	// None true matches unlabelled files, false labelled ones.
	None *bool `yaml:"none,omitempty" json:"none,omitempty"`
	// External true matches files labelled by another tenant.
	External *bool `yaml:"external,omitempty" json:"external,omitempty"`
}

// SizeCond bounds the file size, inclusive. Sizes are bytes or a number with KB, MB, GB
// (powers of 1000) or KiB, MiB, GiB (powers of 1024).
type SizeCond struct {
	Min string `yaml:"min,omitempty" json:"min,omitempty"`
	Max string `yaml:"max,omitempty" json:"max,omitempty"`
}

// ContentCond matches files whose text holds at least MinCount (default 1) matches of a
// preset (creditCard, ssn, iban, email) or of a custom regular expression. It is evaluated
// last, and the file is read only when the rest of the filter cannot decide.
type ContentCond struct {
	Preset   string `yaml:"preset,omitempty" json:"preset,omitempty"`
	Regex    string `yaml:"regex,omitempty" json:"regex,omitempty"`
	MinCount int    `yaml:"minCount,omitempty" json:"minCount,omitempty"`
}

// Action is one governance action; set exactly one field.
type Action struct {
	ApplyLabel  *ApplyLabelAction  `yaml:"applyLabel,omitempty" json:"applyLabel,omitempty"`
	RemoveLabel *RemoveLabelAction `yaml:"removeLabel,omitempty" json:"removeLabel,omitempty"`
	Alert       *AlertAction       `yaml:"alert,omitempty" json:"alert,omitempty"`
	NotifyOwner *NotifyAction      `yaml:"notifyOwner,omitempty" json:"notifyOwner,omitempty"`
	// Sharing actions (issue 24) close a file's exposure through the provider's native API.
	RemovePublicLinks    *SharingAction `yaml:"removePublicLinks,omitempty" json:"removePublicLinks,omitempty"`
	RemoveExternalAccess *SharingAction `yaml:"removeExternalAccess,omitempty" json:"removeExternalAccess,omitempty"`
	MakePrivate          *SharingAction `yaml:"makePrivate,omitempty" json:"makePrivate,omitempty"`
}

// SharingAction asks the executor to remove grants from a file: removePublicLinks the
// anyone/anonymous/open links, removeExternalAccess every grant reaching outside the
// organisation's domains (public ones included), makePrivate every grant but the owner's.
type SharingAction struct {
	// Justification is recorded with the change and shown in the discovery log.
	Justification string `yaml:"justification,omitempty" json:"justification,omitempty"`
}

// ApplyLabelAction asks the executor to label the file.
type ApplyLabelAction struct {
	Label               string `yaml:"label" json:"label"`
	OnlyIfUnlabelled    bool   `yaml:"onlyIfUnlabelled,omitempty" json:"onlyIfUnlabelled,omitempty"`
	OnlyIfLowerPriority bool   `yaml:"onlyIfLowerPriority,omitempty" json:"onlyIfLowerPriority,omitempty"`
	Justification       string `yaml:"justification,omitempty" json:"justification,omitempty"`
}

// RemoveLabelAction asks the executor to remove the file's label.
type RemoveLabelAction struct {
	Justification string `yaml:"justification,omitempty" json:"justification,omitempty"`
}

// AlertAction raises an alert. Message is a text/template over TemplateData; Severity
// defaults to the policy's.
type AlertAction struct {
	Severity Severity `yaml:"severity,omitempty" json:"severity,omitempty"`
	Message  string   `yaml:"message" json:"message"`
}

// NotifyAction tells the file's owner. Subject and Message are text/templates over
// TemplateData.
type NotifyAction struct {
	Subject string `yaml:"subject,omitempty" json:"subject,omitempty"`
	Message string `yaml:"message" json:"message"`
}

// TemplateData is what alert and notification templates see: {{.Name}}, {{.Path}},
// {{.Label}} and so on.
type TemplateData struct {
	Name, Path, URL, Owner, App, Tenant string
	Label, LabelID                      string // current label's catalog name (or id) and id; "" when none
	Access                              string
	Policy, PolicyName, Severity        string
}
