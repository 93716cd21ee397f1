package logging

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSecretsNeverLogged(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := New(&buf, "json", "debug", []string{"tok-0123456789abcdef", "pw"})
	log = log.With("token", "Bearer tok-0123456789abcdef")
	log.Info("calling with tok-0123456789abcdef", "err", errors.New("auth tok-0123456789abcdef failed"),
		"nested", map[string]string{"k": "tok-0123456789abcdef"})
	out := buf.String()
	require.NotContains(t, out, "tok-0123456789abcdef")
	require.Contains(t, out, "***")
	require.Contains(t, out, `"level":"INFO"`)
}

func TestLevelsAndFormats(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	New(&buf, "text", "warn", nil).Info("hidden")
	require.Empty(t, buf.String())
	New(&buf, "auto", "info", nil).Info("shown")
	require.Contains(t, buf.String(), `"msg":"shown"`, "auto is JSON when not on a terminal")
}
