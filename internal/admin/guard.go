package admin

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Recover turns a panic in h into a 500 and one log line, instead of net/http's dropped
// connection and stack trace: a client sees an answer and a bug does not flood the log.
// http.ErrAbortHandler keeps its meaning (abort the response on purpose).
func Recover(log *slog.Logger, h http.Handler) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &wroteWriter{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			log.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
			if !rw.wrote {
				writeErr(rw, http.StatusInternalServerError, "internal error")
			}
		}()
		h.ServeHTTP(rw, r)
	})
}

// wroteWriter notes whether the header went out, so Recover answers only when it still can.
type wroteWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *wroteWriter) WriteHeader(code int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *wroteWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flush, deadlines).
func (w *wroteWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// NoSniff sets X-Content-Type-Options on every answer, so no browser second-guesses a JSON
// or text answer as HTML.
func NoSniff(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

// AuthLimiter slows down token guessing: each client has a bucket of Burst failed
// authentications that refills one every Every; with the bucket empty the client is locked
// out (429, Retry-After) until it refills — even with a right token, so a guesser learns
// nothing during the lockout. Successful requests cost nothing. One limiter is shared by
// the admin API and the console's login, so guesses do not get two budgets.
type AuthLimiter struct {
	Burst int
	Every time.Duration
	Now   func() time.Time
	// MaxClients bounds memory; beyond it, clients whose buckets are full again are
	// forgotten first.
	MaxClients int

	mu sync.Mutex
	m  map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// NewAuthLimiter returns the default: 10 failures at once, then one every 6 s.
func NewAuthLimiter() *AuthLimiter {
	return &AuthLimiter{Burst: 10, Every: 6 * time.Second, MaxClients: 10000}
}

func (l *AuthLimiter) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// refill brings b up to now; the caller holds mu.
func (l *AuthLimiter) refill(b *bucket, now time.Time) {
	if el := now.Sub(b.at); el > 0 {
		b.tokens = min(float64(l.Burst), b.tokens+float64(el)/float64(l.Every))
		b.at = now
	}
}

// Allow reports whether the client may try to authenticate; when not, how long until it may.
func (l *AuthLimiter) Allow(client string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.m[client]
	if b == nil {
		return true, 0
	}
	l.refill(b, l.now())
	if b.tokens >= 1 {
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) * float64(l.Every))
}

// Fail records a failed authentication by client.
func (l *AuthLimiter) Fail(client string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if l.m == nil {
		l.m = map[string]*bucket{}
	}
	b := l.m[client]
	if b == nil {
		if l.MaxClients > 0 && len(l.m) >= l.MaxClients {
			l.prune(now)
		}
		b = &bucket{tokens: float64(l.Burst), at: now}
		l.m[client] = b
	}
	l.refill(b, now)
	b.tokens = max(b.tokens-1, 0)
}

// prune forgets clients whose buckets are full again, and if that frees nothing, an
// arbitrary half (a flood from many addresses then only shortens lockouts, it never grows
// memory). The caller holds mu.
func (l *AuthLimiter) prune(now time.Time) {
	for k, b := range l.m {
		l.refill(b, now)
		if b.tokens >= float64(l.Burst) {
			delete(l.m, k)
		}
	}
	for k := range l.m {
		if len(l.m) < l.MaxClients/2 {
			break
		}
		delete(l.m, k)
	}
}

// ClientKey is who a request counts against: its peer address (never a forwarded-for
// header, which the client writes), IPv6 by /64 since one host easily holds a /64.
func ClientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}

// TooMany answers 429 with Retry-After.
func TooMany(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
	writeErr(w, http.StatusTooManyRequests, "too many failed authentications; try again later")
}
