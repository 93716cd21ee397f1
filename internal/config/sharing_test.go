package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// quota.sharing and sharing.exemptOwners (issue 24).
func TestSharingConfig(t *testing.T) {
	t.Parallel()
	load := func(yml string) (Config, error) {
		p := filepath.Join(t.TempDir(), "labelgate.yaml")
		require.NoError(t, os.WriteFile(p, []byte(yml), 0o600))
		return Load(p)
	}
	cfg, err := Load("")
	require.NoError(t, err)
	require.Equal(t, 100, cfg.Quota.Sharing.Default, "100 per sharing kind per app per tenant by default")

	cfg, err = load(`
quota:
  default: 40
  sharing: {perApp: {box: 20}, perKind: {makePrivate: 5}}
sharing:
  exemptOwners: [ceo@contoso.com]
`)
	require.NoError(t, err)
	require.Equal(t, 40, cfg.Quota.Default)
	require.Equal(t, 100, cfg.Quota.Sharing.Default, "the default stays when only some keys are given")
	require.Equal(t, map[string]int{"box": 20}, cfg.Quota.Sharing.PerApp)
	require.Equal(t, map[string]int{"makePrivate": 5}, cfg.Quota.Sharing.PerKind)
	require.Equal(t, []string{"ceo@contoso.com"}, cfg.Sharing.ExemptOwners)

	_, err = load(`
quota:
  sharing: {default: -1, perApp: {dropbox: 1}, perKind: {deleteFile: 3}}
sharing:
  exemptOwners: [ceo]
`)
	var es Errors
	require.ErrorAs(t, err, &es)
	keys := map[string]bool{}
	for _, e := range es {
		keys[e.Key] = true
	}
	for _, k := range []string{"quota.sharing.default", "quota.sharing.perApp.dropbox", "quota.sharing.perKind.deleteFile", "sharing.exemptOwners[0]"} {
		require.True(t, keys[k], "missing error for %s in %v", k, es)
	}
}
