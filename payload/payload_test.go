package payload_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/payload"
)

var lim = payload.Limits{MaxTxs: 100}

func commitEvent(t testing.TB) *epoch.Event {
	t.Helper()
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	spec := epoch.Spec{Counter: 1, FirstView: 10, FinalView: 20, Identities: []epoch.Identity{
		{Name: "a", Weight: 1, StakingKey: []byte{1, 2, 3}},
		{Name: "b", Weight: 1, StakingKey: []byte{4, 5, 6}},
	}}
	return epoch.NewCommit(model.Identifier{9}, &spec, key)
}

func TestRoundTrip(t *testing.T) {
	ev := commitEvent(t)
	for name, p := range map[string]*payload.Payload{
		"empty":        {},
		"transactions": {Transactions: [][]byte{[]byte("a=1"), {}, bytes.Repeat([]byte{7}, 300)}},
		"events":       {ServiceEvents: []*epoch.Event{ev}},
		"both":         {Transactions: [][]byte{[]byte("k=v")}, ServiceEvents: []*epoch.Event{ev, ev}},
	} {
		enc := p.Encode()
		if p.Empty() != (enc == nil) {
			t.Fatalf("%s: empty %v but encoding %x", name, p.Empty(), enc)
		}
		got, err := payload.Decode(enc, lim)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got.Encode(), enc) || len(got.Transactions) != len(p.Transactions) || len(got.ServiceEvents) != len(p.ServiceEvents) {
			t.Fatalf("%s: round trip changed the payload", name)
		}
		for i := range p.ServiceEvents {
			if got.ServiceEvents[i].ID() != p.ServiceEvents[i].ID() {
				t.Fatalf("%s: event %d changed", name, i)
			}
		}
		if len(p.ServiceEvents) == 0 && len(enc) != payload.TxSize(p.Transactions) {
			t.Fatalf("%s: TxSize %d, encoding %d bytes", name, payload.TxSize(p.Transactions), len(enc))
		}
	}
}

// TestRejectsNonCanonical: every other encoding of a payload, and every
// payload beyond the limits, is refused with model.ErrInvalid.
func TestRejectsNonCanonical(t *testing.T) {
	good := payload.Transactions([][]byte{[]byte("a"), []byte("b")})
	events := payload.ServiceEvents([]*epoch.Event{commitEvent(t)})
	section := func(kind byte, count uint32, entries ...[]byte) []byte {
		b := []byte{kind}
		b = binary.BigEndian.AppendUint32(b, count)
		for _, e := range entries {
			b = binary.BigEndian.AppendUint32(b, uint32(len(e)))
			b = append(b, e...)
		}
		return b
	}
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	many := make([][]byte, 101)
	for i := range many {
		many[i] = []byte{byte(i)}
	}
	cases := map[string][]byte{
		"version 0":              append([]byte{0}, good[1:]...),
		"version 2":              append([]byte{2}, good[1:]...),
		"version byte only":      {payload.Version},
		"trailing byte":          append(append([]byte(nil), good...), 0),
		"truncated":              good[:len(good)-1],
		"empty section":          join([]byte{payload.Version}, section(1, 0)),
		"sections out of order":  join([]byte{payload.Version}, events[1:], good[1:]),
		"section twice":          join([]byte{payload.Version}, good[1:], good[1:]),
		"unknown section":        join([]byte{payload.Version}, section(9, 1, []byte("x"))),
		"count beyond the bytes": join([]byte{payload.Version}, section(1, 1<<30)),
		"too many transactions":  payload.Transactions(many),
		"malformed event":        join([]byte{payload.Version}, section(2, 1, []byte("not an event"))),
	}
	for name, b := range cases {
		if _, err := payload.Decode(b, lim); !errors.Is(err, model.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestServiceEventsOf: events are found behind transactions without
// decoding them, and a payload of transactions only has none.
func TestServiceEventsOf(t *testing.T) {
	ev := commitEvent(t)
	both := (&payload.Payload{Transactions: [][]byte{[]byte("a"), []byte("bb")}, ServiceEvents: []*epoch.Event{ev}}).Encode()
	for name, c := range map[string]struct {
		raw  []byte
		want int
	}{"empty": {nil, 0}, "transactions": {payload.Transactions([][]byte{[]byte("a")}), 0},
		"events": {payload.ServiceEvents([]*epoch.Event{ev, ev}), 2}, "both": {both, 1}} {
		got, err := payload.ServiceEventsOf(c.raw)
		if err != nil || len(got) != c.want {
			t.Errorf("%s: %d events, %v (want %d)", name, len(got), err, c.want)
		}
	}
	if _, err := payload.ServiceEventsOf(both[:len(both)-3]); !errors.Is(err, model.ErrInvalid) {
		t.Errorf("truncated payload: %v", err)
	}
}

func TestCacheDecodesOnce(t *testing.T) {
	one := len(payload.Transactions([][]byte{{0}})) + 1
	c := payload.NewCache(2*one, lim) // room for two blocks
	blocks := make([]*model.Block, 3)
	for i := range blocks {
		p := payload.Transactions([][]byte{{byte(i)}})
		b, err := model.NewRootBlock(model.MainChain("cache"), model.View(i), 0, 0, p)
		if err != nil {
			t.Fatal(err)
		}
		blocks[i] = b
	}
	for range 3 {
		if _, err := c.Get(blocks[0]); err != nil {
			t.Fatal(err)
		}
	}
	if c.Hits() != 2 {
		t.Fatalf("three reads of one block: %d hits, want 2", c.Hits())
	}
	c.Get(blocks[1])
	c.Get(blocks[2]) // evicts block 0
	c.Get(blocks[0])
	if c.Hits() != 2 {
		t.Fatalf("a cache of 2 kept 3 blocks (%d hits)", c.Hits())
	}
	bad, _ := model.NewRootBlock(model.MainChain("cache"), 9, 0, 0, []byte{payload.Version})
	if _, err := c.Get(bad); !errors.Is(err, model.ErrInvalid) {
		t.Fatalf("a malformed payload through the cache: %v", err)
	}
}

// FuzzDecode: no input panics, and whatever decodes re-encodes to the same
// bytes (one encoding per payload).
func FuzzDecode(f *testing.F) {
	f.Add(payload.Transactions([][]byte{[]byte("a=1"), []byte("b=2")}))
	f.Add(payload.ServiceEvents([]*epoch.Event{commitEvent(f)}))
	f.Add([]byte{payload.Version, 1, 0, 0, 0, 1, 0, 0, 0, 0})
	f.Add((&payload.Payload{Transactions: [][]byte{[]byte("x")}, ServiceEvents: []*epoch.Event{commitEvent(f)}}).Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		events, everr := payload.ServiceEventsOf(b)
		p, err := payload.Decode(b, lim)
		if err != nil {
			return
		}
		if everr != nil || len(events) != len(p.ServiceEvents) {
			t.Fatalf("%x decodes with %d events; ServiceEventsOf gives %d (%v)", b, len(p.ServiceEvents), len(events), everr)
		}
		if enc := p.Encode(); !bytes.Equal(enc, b) && !(len(b) == 0 && enc == nil) {
			t.Fatalf("%x decodes but re-encodes as %x", b, enc)
		}
	})
}
