package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBoxEventStreamKeys(t *testing.T) {
	t.Parallel()
	write := func(body string) string {
		p := filepath.Join(t.TempDir(), "labelgate.yaml")
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	cfg, err := Load(write("connectors:\n  - {name: box, app: box, tenant: \"1234\", roots: [\"0\"], eventStream: admin_logs_streaming, eventPoll: 30s}\n"))
	require.NoError(t, err)
	require.Equal(t, "admin_logs_streaming", cfg.Connectors[0].EventStream)
	require.Equal(t, 30*time.Second, cfg.Connectors[0].EventPoll)

	_, err = Load(write("connectors:\n  - {name: box, app: box, tenant: \"1234\", eventStream: enterprise, eventPoll: -1s}\n"))
	var es Errors
	require.ErrorAs(t, err, &es)
	keys := map[string]bool{}
	for _, e := range es {
		keys[e.Key] = true
	}
	require.True(t, keys["connectors[0].eventStream"], "%v", es)
	require.True(t, keys["connectors[0].eventPoll"], "%v", es)
}
