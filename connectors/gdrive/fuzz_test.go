package gdrive_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/labelgate/labelgate/connectors"
)

// FuzzReceive feeds arbitrary channel headers to the receiver: it must never panic, and
// anything but the real channel id with its token is rejected as forged or malformed.
func FuzzReceive(f *testing.F) {
	fx := setup(f)
	sub, err := fx.c.Subscribe(fx.ctx, connectors.Drive{ID: aliceDrv}, "http://127.0.0.1:1/unused")
	if err != nil {
		f.Fatal(err)
	}
	fx.subs.Put(connectors.AppGDrive, "example.com", sub)
	f.Add(sub.ID, sub.Secret, sub.Resource, "change", "1")
	f.Add(sub.ID, sub.Secret, sub.Resource, "sync", "1")
	f.Add(sub.ID, "", sub.Resource, "change", "2")
	f.Add("x", sub.Secret, "", "", "-1")
	f.Fuzz(func(t *testing.T, id, token, resource, state, num string) {
		h := http.Header{}
		for k, v := range map[string]string{"X-Goog-Channel-ID": id, "X-Goog-Channel-Token": token,
			"X-Goog-Resource-ID": resource, "X-Goog-Resource-State": state, "X-Goog-Message-Number": num} {
			if v != "" {
				h.Set(k, v)
			}
		}
		_, notices, err := fx.c.Receive(fx.ctx, connectors.Request{Header: h})
		if err != nil {
			if !errors.Is(err, connectors.ErrForged) && !errors.Is(err, connectors.ErrMalformed) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			if len(notices) != 0 {
				t.Fatal("notices with an error")
			}
			return
		}
		if h.Get("X-Goog-Channel-ID") != sub.ID || h.Get("X-Goog-Channel-Token") != sub.Secret {
			t.Fatalf("accepted a forged notification: %q %q", id, token)
		}
	})
}
