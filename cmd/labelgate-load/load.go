package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labelgate/labelgate/connectors/box"
)

// DefaultWebhook is the Box webhook id the bodies name; the in-process ingress knows it.
const DefaultWebhook = "wh-load"

// Config is one load run.
type Config struct {
	URL      string
	Key      string
	Webhook  string
	Rate     float64
	Duration time.Duration
	Conns    int
}

// Report is what a run measured. String renders it as one parseable key=value line.
type Report struct {
	Target     string
	Sent       int
	OK         int // 2xx answers
	Rejected   int // other HTTP answers
	Errors     int // transport errors
	Elapsed    time.Duration
	Throughput float64 // acknowledged notifications per second
	P50, P90   time.Duration
	P99, Max   time.Duration
}

func (r Report) String() string {
	return fmt.Sprintf("target=%s sent=%d ok=%d rejected=%d errors=%d elapsed=%s throughput=%.1f p50=%s p90=%s p99=%s max=%s",
		r.Target, r.Sent, r.OK, r.Rejected, r.Errors, r.Elapsed.Round(time.Millisecond), r.Throughput,
		r.P50, r.P90, r.P99, r.Max)
}

// ParseReport reads a line written by Report.String.
func ParseReport(line string) (Report, error) {
	var r Report
	seen := 0
	for _, f := range strings.Fields(line) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return r, fmt.Errorf("report field %q", f)
		}
		var err error
		switch k {
		case "target":
			r.Target = v
		case "sent":
			r.Sent, err = strconv.Atoi(v)
		case "ok":
			r.OK, err = strconv.Atoi(v)
		case "rejected":
			r.Rejected, err = strconv.Atoi(v)
		case "errors":
			r.Errors, err = strconv.Atoi(v)
		case "elapsed":
			r.Elapsed, err = time.ParseDuration(v)
		case "throughput":
			r.Throughput, err = strconv.ParseFloat(v, 64)
		case "p50":
			r.P50, err = time.ParseDuration(v)
		case "p90":
			r.P90, err = time.ParseDuration(v)
		case "p99":
			r.P99, err = time.ParseDuration(v)
		case "max":
			r.Max, err = time.ParseDuration(v)
		default:
			return r, fmt.Errorf("unknown report field %q", k)
		}
		if err != nil {
			return r, fmt.Errorf("report field %s: %w", k, err)
		}
		seen++
	}
	if seen != 11 {
		return r, fmt.Errorf("report has %d of 11 fields", seen)
	}
	return r, nil
}

// Run sends Rate×Duration signed notifications, each at its scheduled time (open loop, so a
// slow server shows up as latency rather than as a lower send rate), from Conns workers.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.Rate <= 0 || cfg.Duration <= 0 || cfg.Conns <= 0 {
		return Report{}, errors.New("rate, duration and conns must be positive")
	}
	if cfg.Webhook == "" {
		cfg.Webhook = DefaultWebhook
	}
	total := int(cfg.Rate * cfg.Duration.Seconds())
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        cfg.Conns,
		MaxIdleConnsPerHost: cfg.Conns,
		MaxConnsPerHost:     cfg.Conns,
		IdleConnTimeout:     30 * time.Second,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	lat := make([]time.Duration, total)
	codes := make([]int, total) // 0 = transport error
	var next atomic.Int64
	runID := strconv.FormatInt(time.Now().UnixNano(), 36)
	interval := time.Duration(float64(time.Second) / cfg.Rate)
	start := time.Now()
	var wg sync.WaitGroup
	for range cfg.Conns {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= total || ctx.Err() != nil {
					return
				}
				if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
					select {
					case <-time.After(d):
					case <-ctx.Done():
						return
					}
				}
				t0 := time.Now()
				codes[i] = send(ctx, client, cfg, runID+"-"+strconv.Itoa(i), i)
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	rep := Report{Elapsed: elapsed}
	var acked []time.Duration
	for i := 0; i < total && i < int(next.Load()); i++ {
		if lat[i] == 0 && codes[i] == 0 {
			continue // never sent (cancelled)
		}
		rep.Sent++
		switch c := codes[i]; {
		case c == 0:
			rep.Errors++
		case c >= 200 && c < 300:
			rep.OK++
			acked = append(acked, lat[i])
		default:
			rep.Rejected++
		}
	}
	rep.Throughput = float64(rep.OK) / elapsed.Seconds()
	slices.Sort(acked)
	rep.P50, rep.P90, rep.P99 = pct(acked, 50), pct(acked, 90), pct(acked, 99)
	if len(acked) > 0 {
		rep.Max = acked[len(acked)-1]
	}
	return rep, ctx.Err()
}

func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p+99)/100 - 1
	return sorted[max(i, 0)]
}

// send posts one Box FILE.UPLOADED event signed the way Box signs it and returns the status
// (0 on a transport error).
func send(ctx context.Context, c *http.Client, cfg Config, delivery string, n int) int {
	body := fmt.Sprintf(`{"type":"webhook_event","id":%q,"trigger":"FILE.UPLOADED","webhook":{"type":"webhook","id":%q},"source":{"type":"file","id":"f%d","name":"f%d.docx"}}`,
		delivery, cfg.Webhook, n, n)
	ts := time.Now().UTC().Format(time.RFC3339)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.URL, strings.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(box.HeaderDeliveryID, delivery)
	req.Header.Set(box.HeaderDeliveryTimestamp, ts)
	req.Header.Set(box.HeaderSignatureAlgorithm, "HmacSHA256")
	req.Header.Set(box.HeaderSignatureVersion, "1")
	req.Header.Set(box.HeaderSignaturePrimary, box.Sign(cfg.Key, []byte(body), ts))
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
