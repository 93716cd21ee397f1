package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// childEnv makes the test binary act as the labelgate binary: TestMain hands the process to
// main, so the crash tests run the real command (flags, signals, exit codes) without a
// separate `go build` — and under -race the child is race-checked too.
const childEnv = "LABELGATE_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// crashToken is the admin token the crash tests configure.
const crashToken = "crash-admin-token-0123456789abcdef"

// freePort reserves a loopback port number and releases it, so a server restarted on it
// keeps its address: the queue's worker id (and with it the reclaim of its own jobs after a
// restart) is derived from the public address.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

// serveProc is one `labelgate serve` process.
type serveProc struct {
	name  string
	cmd   *exec.Cmd
	admin string // admin base URL
	log   string // file collecting its stdout and stderr
	done  chan struct{}
	err   error // Wait's result, once done is closed
}

// startServe runs `labelgate serve -config cfg` and waits until its admin API answers.
func startServe(t *testing.T, name, cfg string, adminPort int, logPath string) *serveProc {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	require.NoError(t, err)
	fmt.Fprintf(logf, "\n===== %s starting at %s =====\n", name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(exe, "serve", "-config", cfg)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(t, cmd.Start())
	p := &serveProc{name: name, cmd: cmd, admin: fmt.Sprintf("http://127.0.0.1:%d", adminPort), log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-p.done:
			t.Fatalf("%s exited before it was ready (%v):\n%s", name, p.err, tail(logPath, 40))
		default:
		}
		var st map[string]any
		if code, _ := p.get("/api/v1/queue/stats", &st); code == http.StatusOK {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after 30s:\n%s", name, tail(logPath, 40))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill sends SIGKILL — no shutdown, no deferred writes — and waits for the process to go.
func (p *serveProc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// alive reports whether the process still runs.
func (p *serveProc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// get calls the admin API and decodes the JSON answer into out.
func (p *serveProc) get(path string, out any) (int, error) {
	return p.call(http.MethodGet, path, "", nil, out)
}

// call sends a request with the admin token; body is JSON-encoded unless it is a string.
func (p *serveProc) call(method, path, contentType string, body any, out any) (int, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return 0, err
		}
		rd, contentType = bytes.NewReader(raw), "application/json"
	}
	req, err := http.NewRequest(method, p.admin+path, rd)
	if err != nil {
		return 0, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+crashToken)
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(raw))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// mustCall is call that fails the test on any error.
func (p *serveProc) mustCall(t *testing.T, method, path string, body any, out any) {
	t.Helper()
	_, err := p.call(method, path, "", body, out)
	require.NoError(t, err, "%s: %s", p.name, errTail(p.log))
}

func errTail(path string) string { return tail(path, 30) }

// tail returns the last n lines of a file, for failure messages.
func tail(path string, n int) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// queueStats is the admin API's view of the scan queue.
type queueStats struct {
	ByState map[string]int64 `json:"byState"`
	ByKind  map[string]int64 `json:"byKind"`
	Dead    int64            `json:"dead"`
}

// busy reports whether jobs are due, running or retrying. Scheduled jobs are not counted:
// label jobs of quota-paused actions sleep until the next reset.
func (s queueStats) busy() bool {
	return s.ByState["available"]+s.ByState["running"]+s.ByState["retryable"]+s.ByState["pending"] > 0
}
