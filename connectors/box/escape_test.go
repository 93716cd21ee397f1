package box

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// phpEscape must produce the encoding Box signs (non-ASCII as \uXXXX, "/" as "\/") without
// changing what the JSON says.
func TestPHPEscapeKeepsMeaning(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		`{"name":"スクリーン 2020.txt"}`:         `{"name":"\u30b9\u30af\u30ea\u30fc\u30f3 2020.txt"}`,
		`{"name":"😀"}`:                      `{"name":"\ud83d\ude00"}`,
		`{"url":"https://a.example/s/1"}`:   `{"url":"https:\/\/a.example\/s\/1"}`,
		`{"url":"https:\/\/already"}`:       ``,
		`{"q":"say \"/\" \\/ done"}`:        `{"q":"say \"\/\" \\\/ done"}`,
		`{"type":"webhook_event","id":"1"}`: ``,
	}
	for in, want := range cases {
		got, changed := phpEscape([]byte(in))
		if want == "" {
			require.False(t, changed, in)
			continue
		}
		require.True(t, changed, in)
		require.Equal(t, want, string(got), in)
		var a, b any
		require.NoError(t, json.Unmarshal([]byte(in), &a))
		require.NoError(t, json.Unmarshal(got, &b))
		require.Equal(t, a, b, in)
	}
	_, changed := phpEscape([]byte{'"', 0xff, '/', '"'})
	require.False(t, changed, "invalid UTF-8 is left alone")
}

func FuzzPHPEscape(f *testing.F) {
	f.Add([]byte(`{"name":"スクリーン/😀"}`))
	f.Add([]byte(`{"a":"\\/\"/"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, changed := phpEscape(b)
		var a any
		if !changed || json.Unmarshal(b, &a) != nil {
			return
		}
		var c any
		require.NoError(t, json.Unmarshal(out, &c), "%q → %q", b, out)
		require.Equal(t, a, c)
	})
}
