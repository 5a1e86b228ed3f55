package payload

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// A signed pack request round-trips through its header and verifies only
// for its chain and chunk, under its signer's key, within the skew.
func TestPackRequestSignParseVerify(t *testing.T) {
	key, err := crypto.BLS().KeyFromSeed(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	other, err := crypto.BLS().KeyFromSeed(bytes.Repeat([]byte{4}, 32))
	if err != nil {
		t.Fatal(err)
	}
	chain, chunk, node := model.MainChain("c"), model.Identifier{7}, model.Identifier{9}
	now := time.Unix(1_800_000_000, 0)
	a, err := SignPackRequest(key, chain, node, chunk, now)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParsePackAuth(a.Header())
	if err != nil || got.Node != node || got.Unix != now.Unix() || !bytes.Equal(got.Signature, a.Signature) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if err := got.Verify(chain, chunk, key.PublicKey()); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"other chunk": got.Verify(chain, model.Identifier{8}, key.PublicKey()),
		"other chain": got.Verify(model.MainChain("d"), chunk, key.PublicKey()),
		"other key":   got.Verify(chain, chunk, other.PublicKey()),
	} {
		if !errors.Is(err, ErrPackAuthSignature) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := got.CheckTime(now.Add(PackAuthSkew)); err != nil {
		t.Errorf("at the edge of the window: %v", err)
	}
	for _, at := range []time.Time{now.Add(PackAuthSkew + time.Second), now.Add(-PackAuthSkew - time.Second)} {
		if err := got.CheckTime(at); !errors.Is(err, ErrPackAuthExpired) {
			t.Errorf("checked at %v: %v", at.Sub(now), err)
		}
	}
	if _, err := ParsePackAuth(""); !errors.Is(err, ErrPackAuthMissing) {
		t.Errorf("empty: %v", err)
	}
}

// FuzzParsePackAuth: any header parses or fails with ErrPackAuthMalformed,
// never panics, and what parses renders back to an equivalent header.
func FuzzParsePackAuth(f *testing.F) {
	f.Add("")
	f.Add(model.Identifier{1}.Hex() + ":1700000000:abcd")
	f.Add("x:y:z")
	f.Add(model.Identifier{1}.Hex() + ":-5:00")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParsePackAuth(s)
		if err != nil {
			if !errors.Is(err, ErrPackAuthMalformed) && !errors.Is(err, ErrPackAuthMissing) {
				t.Fatalf("%q: unexpected error %v", s, err)
			}
			return
		}
		b, err := ParsePackAuth(a.Header())
		if err != nil || b.Node != a.Node || b.Unix != a.Unix || !bytes.Equal(b.Signature, a.Signature) {
			t.Fatalf("%q: re-parse %+v %v", s, b, err)
		}
	})
}
