// Package logging builds labelgate's slog logger: text on a terminal, JSON otherwise, with
// every configured secret scrubbed from messages and attributes.
package logging

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
)

// New returns a logger writing to w. format is auto, text or json; level debug, info, warn, error.
// secrets are replaced by "***" wherever they appear in a message or a string attribute.
func New(w io.Writer, format, level string, secrets []string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "auto" || format == "" {
		format = "json"
		if f, ok := w.(*os.File); ok && isTerminal(f) {
			format = "text"
		}
	}
	var h slog.Handler
	if format == "text" {
		h = slog.NewTextHandler(w, opts)
	} else {
		h = slog.NewJSONHandler(w, opts)
	}
	var keep []string
	for _, s := range secrets {
		if len(s) >= 4 { // scrubbing very short strings would mangle ordinary words
			keep = append(keep, s)
		}
	}
	if len(keep) > 0 {
		h = &scrubber{next: h, r: strings.NewReplacer(pairs(keep)...)}
	}
	return slog.New(h)
}

func pairs(secrets []string) []string {
	out := make([]string, 0, 2*len(secrets))
	for _, s := range secrets {
		out = append(out, s, "***")
	}
	return out
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// scrubber removes secrets from records before they reach the real handler.
type scrubber struct {
	next slog.Handler
	r    *strings.Replacer
}

func (s *scrubber) Enabled(ctx context.Context, l slog.Level) bool { return s.next.Enabled(ctx, l) }

func (s *scrubber) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, s.r.Replace(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(s.scrub(a))
		return true
	})
	return s.next.Handle(ctx, out)
}

func (s *scrubber) scrub(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, s.r.Replace(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]any, len(g))
		for i, x := range g {
			out[i] = s.scrub(x)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, s.r.Replace(err.Error()))
		}
		return slog.String(a.Key, s.r.Replace(v.String()))
	}
	return a
}

func (s *scrubber) WithAttrs(as []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(as))
	for i, a := range as {
		clean[i] = s.scrub(a)
	}
	return &scrubber{next: s.next.WithAttrs(clean), r: s.r}
}

func (s *scrubber) WithGroup(name string) slog.Handler {
	return &scrubber{next: s.next.WithGroup(name), r: s.r}
}
