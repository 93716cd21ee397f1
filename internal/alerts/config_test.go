package alerts_test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/internal/alerts"
	"github.com/labelgate/labelgate/internal/store/storetest"
)

func TestSampleConfigParsesWithEnvSecrets(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../testdata/alerts/alerts.yaml")
	require.NoError(t, err)
	// Without secrets the webhook is invalid, and the error names the variable to set.
	_, err = alerts.ParseConfig(raw)
	require.ErrorContains(t, err, "alerts.sinks.webhooks[0].secret: required (or $LABELGATE_ALERTS_WEBHOOK_SOC_SIEM_SECRET)")

	env := map[string]string{
		"LABELGATE_ALERTS_WEBHOOK_SOC_SIEM_SECRET": "from-env",
		"LABELGATE_ALERTS_SMTP_USERNAME":           "relay",
		"LABELGATE_ALERTS_SMTP_PASSWORD":           "pw",
	}
	cfg, _ := alerts.ParseConfig(raw) // the parsed config comes back with its problems
	alerts.ApplyEnv(&cfg, func(k string) string { return env[k] })
	require.NoError(t, cfg.Validate())
	require.Equal(t, "from-env", cfg.Sinks.Webhooks[0].Secret)
	require.Equal(t, "relay", cfg.Sinks.SMTP.Username)
	require.Equal(t, "pw", cfg.Sinks.SMTP.Password)
	require.Equal(t, time.Hour, cfg.Sinks.SMTP.DigestInterval)
	require.Equal(t, 24*time.Hour, cfg.OwnerDigest.Interval)
	require.Equal(t, []string{"/Finance", "/HR"}, cfg.Rules[0].Filter.Folder)
	require.False(t, *cfg.Rules[1].Enabled)
	require.Equal(t, 25, cfg.Rules[3].Threshold)
	require.Equal(t, 4*time.Hour, cfg.Rules[4].Window)

	_, err = alerts.New(cfg, storetest.OpenSQLite(t), alerts.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
}

func TestConfigErrorsNameTheField(t *testing.T) {
	t.Parallel()
	_, err := alerts.ParseConfig([]byte("groupWindw: 1h\n"))
	require.ErrorContains(t, err, "field groupWindw not found")
	_, err = alerts.ParseConfig([]byte(`
sinks:
  webhooks:
    - {name: smtp, url: "ftp://x", secret: s, minSeverity: urgent}
  smtp: {host: "", from: nobody, password: x, startTLS: false}
  jsonl: {path: ""}
routes: {severe: [nowhere]}
rules:
  - {name: label_vanished}
  - {name: label_removed, severity: huge, sinks: [pager], filter: {folder: [Finance]}}
  - {name: label_removed}
`))
	require.Error(t, err)
	for _, want := range []string{
		`alerts.sinks.webhooks[0].name: "smtp" is taken`,
		`alerts.sinks.webhooks[0].url: want an http(s) URL`,
		`alerts.sinks.webhooks[0].minSeverity: unknown severity "urgent"`,
		"alerts.sinks.smtp.host: required",
		`alerts.sinks.smtp.from: want an address`,
		"alerts.sinks.smtp.startTLS: a password is never sent without STARTTLS",
		"alerts.sinks.jsonl.path: required",
		`alerts.routes: unknown severity "severe"`,
		`alerts.rules[0].name: unknown rule "label_vanished"`,
		`alerts.rules[1].severity: unknown severity "huge"`,
		`alerts.rules[1].sinks: no sink named "pager"`,
		`alerts.rules[1].filter.folder: "Finance" must start with /`,
		`alerts.rules[2].name: rule "label_removed" configured twice`,
	} {
		require.ErrorContains(t, err, want)
	}
}

func TestEnvName(t *testing.T) {
	t.Parallel()
	require.Equal(t, "SOC_SIEM_2", alerts.EnvName("soc-siem.2"))
}

// TestRunDeliversInTheBackground runs the engine as the gateway does, on the real clock.
func TestRunDeliversInTheBackground(t *testing.T) {
	t.Parallel()
	st := storetest.OpenSQLite(t)
	clk := &clock{now: time.Now()}
	hook := newReceiver(t, clk)
	eng, err := alerts.New(alerts.Config{PollInterval: 20 * time.Millisecond,
		Sinks: alerts.Sinks{Webhooks: []alerts.WebhookSink{{Name: "soc", URL: hook.srv.URL, Secret: hookSecret}}}},
		st, alerts.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()

	file := spFile("a", "/", "a.docx", "")
	f := &fixture{ctx: ctx, st: st, clk: clk}
	f.scan(t, file, "L1")
	f.scan(t, file, "")
	require.Eventually(t, func() bool {
		bodies, _ := hook.got()
		return len(bodies) == 1
	}, 10*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
}
