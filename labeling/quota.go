package labeling

import (
	"time"

	"github.com/labelgate/labelgate/internal/store"
)

// Built-in daily allowances, per app per tenant.
const (
	DefaultDailyQuota   = 100 // policy (automatic) label writes
	DefaultManualQuota  = 50  // admins' manual label writes
	DefaultSharingQuota = 100 // each sharing action kind (issue 24), policies' and admins' alike
)

// QuotaConfig sets the daily label-write allowances. It has the shape of the configuration
// file's quota section, so config.Quota converts to it directly. Windows reset at 12:00 UTC.
// A negative limit means unlimited; the zero QuotaConfig means the built-in defaults.
type QuotaConfig struct {
	Default   int            `yaml:"default" json:"default"`     // per app per tenant per day
	Manual    int            `yaml:"manual" json:"manual"`       // admins' own allowance per app per tenant per day
	PerApp    map[string]int `yaml:"perApp" json:"perApp"`       // app → limit
	PerTenant map[string]int `yaml:"perTenant" json:"perTenant"` // "tenant/app" or "tenant" → limit
	// Sharing sets the sharing actions' allowances (config key quota.sharing).
	Sharing SharingQuota `yaml:"sharing" json:"sharing"`
}

// SharingQuota sets the daily allowances of the sharing actions (issue 24). Each kind —
// remove_public_links, remove_external_access, make_private and restore_sharing (undo) —
// has its own allowance per app per tenant, named like the kind (store.ActionAllowance), in
// the same 12:00 UTC windows as label writes. The most specific of "tenant/app", "tenant",
// app, kind, default applies; the zero value means DefaultSharingQuota.
//
// It is an alias of an unnamed struct type so that config.Quota, which holds one of the same
// shape, still converts to QuotaConfig with a plain conversion (as cmd and gateway do).
type SharingQuota = struct {
	Default   int            `yaml:"default" json:"default"`
	PerApp    map[string]int `yaml:"perApp" json:"perApp"`       // app → limit
	PerTenant map[string]int `yaml:"perTenant" json:"perTenant"` // "tenant/app" or "tenant" → limit
	// PerKind: kind → limit, the kind as stored (make_private) or as in policies (makePrivate).
	PerKind map[string]int `yaml:"perKind" json:"perKind"`
}

// sharingKindNames maps the policy spelling of each sharing kind to the stored one.
var sharingKindNames = map[string]string{
	"removePublicLinks":    store.ActionRemovePublicLinks,
	"removeExternalAccess": store.ActionRemoveExternalAccess,
	"makePrivate":          store.ActionMakePrivate,
	"restoreSharing":       store.ActionRestoreSharing,
}

// SharingKindName returns the stored kind of a sharing kind spelt either way, "" when it
// is none.
func SharingKindName(k string) string {
	if store.SharingKind(k) {
		return k
	}
	return sharingKindNames[k]
}

// SharingLimit returns the daily allowance of one sharing action kind of an app in a tenant.
func (q QuotaConfig) SharingLimit(kind, app, tenant string) int {
	s := q.Sharing
	if v, ok := s.PerTenant[tenant+"/"+app]; ok {
		return v
	}
	if v, ok := s.PerTenant[tenant]; ok {
		return v
	}
	if v, ok := s.PerApp[app]; ok {
		return v
	}
	for k, v := range s.PerKind {
		if SharingKindName(k) == kind {
			return v
		}
	}
	if s.Default == 0 {
		return DefaultSharingQuota
	}
	return s.Default
}

// LimitOf returns the allowance an action of kind counts against: its sharing kind's, or the
// label writes' (manual or auto).
func (q QuotaConfig) LimitOf(kind, app, tenant string, manual bool) int {
	if store.SharingKind(kind) {
		return q.SharingLimit(kind, app, tenant)
	}
	return q.Limit(app, tenant, manual)
}

// DefaultQuota is 100 automatic and 50 manual label writes per app per tenant per day.
func DefaultQuota() QuotaConfig {
	return QuotaConfig{Default: DefaultDailyQuota, Manual: DefaultManualQuota}
}

// isZero reports whether the label-write part is unset (the sharing part has its own default).
func (q QuotaConfig) isZero() bool {
	return q.Default == 0 && q.Manual == 0 && len(q.PerApp) == 0 && len(q.PerTenant) == 0
}

// Limit returns the daily allowance of an app in a tenant: the manual allowance for admins'
// actions, else the most specific of "tenant/app", "tenant", app, default.
func (q QuotaConfig) Limit(app, tenant string, manual bool) int {
	if q.isZero() {
		q = DefaultQuota()
	}
	if manual {
		return q.Manual
	}
	if v, ok := q.PerTenant[tenant+"/"+app]; ok {
		return v
	}
	if v, ok := q.PerTenant[tenant]; ok {
		return v
	}
	if v, ok := q.PerApp[app]; ok {
		return v
	}
	return q.Default
}

// QuotaWindow returns the start of the quota window holding t: the latest 12:00 UTC at or
// before it.
func QuotaWindow(t time.Time) time.Time { return store.QuotaWindow(t) }

// NextQuotaReset returns when the window holding t ends.
func NextQuotaReset(t time.Time) time.Time { return store.NextQuotaReset(t) }
