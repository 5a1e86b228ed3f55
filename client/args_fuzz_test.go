package client

import (
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/internal/fakeaccess"
)

// ParseCallArg never panics, and what it accepts means what the syntax
// says: an address is a valid 8-byte address, a number 8 bytes that read
// back as it, hex and str their bytes.
func FuzzParseCallArg(f *testing.F) {
	addr, _ := account.AddressAt(fakeaccess.Chain, 3)
	for _, s := range []string{addr.Hex(), "0x0000000000000000", "42", "u64:18446744073709551615", "u64:", "hex:0aff",
		"hex:0x", "str:héllo", "str:\xff", "", "0x12", "-1", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseCallArg(s, fakeaccess.Chain)
		if err != nil {
			return
		}
		switch {
		case strings.HasPrefix(s, "u64:"), s != "" && strings.Trim(s, "0123456789") == "":
			n, err := strconv.ParseUint(s[strings.LastIndex(s, ":")+1:], 10, 64)
			if err != nil || len(b) != 8 || binary.LittleEndian.Uint64(b) != n {
				t.Fatalf("%q gave %x", s, b)
			}
		case strings.HasPrefix(s, "hex:"):
			h := strings.TrimPrefix(strings.TrimPrefix(s[4:], "0x"), "0X")
			if !strings.EqualFold(hex.EncodeToString(b), h) {
				t.Fatalf("%q gave %x", s, b)
			}
		case strings.HasPrefix(s, "str:"):
			if string(b) != s[4:] {
				t.Fatalf("%q gave %q", s, b)
			}
		default:
			if len(b) != 8 || !account.Address(b).Valid(fakeaccess.Chain) {
				t.Fatalf("%q accepted as %x", s, b)
			}
		}
	})
}
