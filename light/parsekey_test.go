package light_test

import (
	"bytes"
	"testing"

	"github.com/floe-bft/floe/light"
)

func TestParseKey(t *testing.T) {
	for _, tc := range []struct {
		key, hex string
		want     []byte
		ok       bool
	}{
		{"", "", nil, true},
		{"a/b", "", []byte("a/b"), true},
		{"", "0aff", []byte{0x0a, 0xff}, true},
		{"a", "0a", nil, false},
		{"", "zz", nil, false},
	} {
		got, err := light.ParseKey(tc.key, tc.hex)
		if (err == nil) != tc.ok || !bytes.Equal(got, tc.want) {
			t.Errorf("%q %q: %x %v", tc.key, tc.hex, got, err)
		}
	}
}
