package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func testdata(name string) string { return filepath.Join("..", "..", "testdata", "config", name) }

func TestDefaultsValid(t *testing.T) {
	t.Parallel()
	cfg, err := Load("")
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:8081", cfg.Admin.Listen, "admin API defaults to loopback")
	require.Equal(t, 100, cfg.Quota.QuotaFor("t", "box"))
}

func TestValidFile(t *testing.T) {
	t.Parallel()
	cfg, err := Load(testdata("valid.yaml"))
	require.NoError(t, err)
	require.Len(t, cfg.Connectors, 2)
	require.Equal(t, 200, cfg.Quota.QuotaFor("fabrikam", "box"))
	require.Equal(t, 50, cfg.Quota.QuotaFor("contoso", "sharepoint"))
	require.Equal(t, 100, cfg.Quota.QuotaFor("contoso", "onedrive"))
}

func TestUnknownKeyNamed(t *testing.T) {
	t.Parallel()
	_, err := Load(testdata("unknown-key.yaml"))
	var es Errors
	require.ErrorAs(t, err, &es)
	require.Len(t, es, 1)
	require.Equal(t, "server.lisen", es[0].Key)
	require.Contains(t, es[0].Problem, "unknown key")
}

func TestBadValuesEachNamed(t *testing.T) {
	t.Parallel()
	_, err := Load(testdata("bad-values.yaml"))
	var es Errors
	require.ErrorAs(t, err, &es)
	keys := map[string]bool{}
	for _, e := range es {
		keys[e.Key] = true
	}
	for _, k := range []string{"log.level", "server.listen", "queue.workers", "rescan.schedule",
		"connectors[0].app", "connectors[1].name", "connectors[1].tenant"} {
		require.True(t, keys[k], "missing error for %s in %v", k, es)
	}
}

func TestNotYAML(t *testing.T) {
	t.Parallel()
	_, err := Load(testdata("not-yaml.yaml"))
	var es Errors
	require.ErrorAs(t, err, &es)
	require.Contains(t, es[0].Problem, "not valid YAML")
}

func TestEnvOverridesSecrets(t *testing.T) {
	t.Parallel()
	cfg := Default()
	cfg.Connectors = []Connector{{Name: "contoso-sp", App: "sharepoint", Tenant: "t"}}
	env := map[string]string{
		"LABELGATE_STORE_URL":               "postgres://u:pw@h/db",
		"LABELGATE_CONTOSO_SP_CLIENTSECRET": "s3cret",
		"LABELGATE_ADMIN_TOKEN":             "0123456789abcdef0123",
	}
	applyEnv(&cfg, func(k string) string { return env[k] })
	require.Empty(t, cfg.Validate())
	require.Equal(t, "s3cret", cfg.Connectors[0].ClientSecret)
	require.Equal(t, "admin", cfg.Admin.Tokens[0].Role)
	secrets := strings.Join(cfg.Secrets(), ",")
	require.Contains(t, secrets, "pw")
	require.Contains(t, secrets, "s3cret")
	require.Contains(t, secrets, "0123456789abcdef0123")
}

func TestMissingFile(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func FuzzLoad(f *testing.F) {
	for _, n := range []string{"valid.yaml", "unknown-key.yaml", "bad-values.yaml", "not-yaml.yaml"} {
		b, err := os.ReadFile(testdata(n))
		require.NoError(f, err)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		cfg := Default()
		if err := decode(raw, &cfg); err != nil {
			require.NotEmpty(t, err.Error())
			return
		}
		_ = cfg.Validate()
	})
}

func TestAdminSecureCookiesDefault(t *testing.T) {
	t.Parallel()
	on, off := true, false
	for _, tc := range []struct {
		listen string
		set    *bool
		want   bool
	}{
		{"127.0.0.1:8081", nil, false},
		{"[::1]:8081", nil, false},
		{"localhost:8081", nil, false},
		{"0.0.0.0:8081", nil, true},
		{":8081", nil, true},
		{"10.1.2.3:8081", nil, true},
		{"admin.example.com:443", nil, true},
		{"127.0.0.1:8081", &on, true},
		{"0.0.0.0:8081", &off, false},
	} {
		a := Admin{Listen: tc.listen, SecureCookies: tc.set}
		if got := a.CookiesSecure(); got != tc.want {
			t.Errorf("listen %s secureCookies %v: got %v, want %v", tc.listen, tc.set, got, tc.want)
		}
	}
	path := filepath.Join(t.TempDir(), "labelgate.yaml")
	require.NoError(t, os.WriteFile(path, []byte("admin:\n  listen: 0.0.0.0:8081\n  secureCookies: false\n"), 0o600))
	cfg, err := Load(path)
	require.NoError(t, err)
	if cfg.Admin.CookiesSecure() {
		t.Error("admin.secureCookies: false is honoured")
	}
}

// console.sensitivePriority defaults to 2, is read from the file, and a negative value is
// refused by key.
func TestConsoleSensitivePriority(t *testing.T) {
	t.Parallel()
	cfg, err := Load("")
	require.NoError(t, err)
	require.Equal(t, 2, cfg.Console.SensitivePriority)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	cfg, err = Load(write("ok.yaml", "console:\n  sensitivePriority: 3\n"))
	require.NoError(t, err)
	require.Equal(t, 3, cfg.Console.SensitivePriority)
	_, err = Load(write("neg.yaml", "console:\n  sensitivePriority: -1\n"))
	var es Errors
	require.ErrorAs(t, err, &es)
	require.Equal(t, "console.sensitivePriority", es[0].Key)
	_, err = Load(write("typo.yaml", "console:\n  sensitivePriorty: 3\n"))
	require.ErrorAs(t, err, &es)
	require.Equal(t, "console.sensitivePriorty", es[0].Key)
}
