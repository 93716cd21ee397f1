package labeling

import (
	"time"

	"github.com/labelgate/labelgate/internal/store"
)

// Built-in daily allowances, per app per tenant.
const (
	DefaultDailyQuota  = 100 // policy (automatic) label writes
	DefaultManualQuota = 50  // admins' manual label writes
)

// QuotaConfig sets the daily label-write allowances. It has the shape of the configuration
// file's quota section, so config.Quota converts to it directly. Windows reset at 12:00 UTC.
// A negative limit means unlimited; the zero QuotaConfig means the built-in defaults.
type QuotaConfig struct {
	Default   int            `yaml:"default" json:"default"`     // per app per tenant per day
	Manual    int            `yaml:"manual" json:"manual"`       // admins' own allowance per app per tenant per day
	PerApp    map[string]int `yaml:"perApp" json:"perApp"`       // app → limit
	PerTenant map[string]int `yaml:"perTenant" json:"perTenant"` // "tenant/app" or "tenant" → limit
}

// DefaultQuota is 100 automatic and 50 manual label writes per app per tenant per day.
func DefaultQuota() QuotaConfig {
	return QuotaConfig{Default: DefaultDailyQuota, Manual: DefaultManualQuota}
}

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
