package payload_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/floe-bft/floe/collection"
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
		"result":       {Result: &payload.Result{Height: 7, Root: model.Identifier{1, 2}}},
		"all":          {Result: &payload.Result{Height: 1}, Transactions: [][]byte{[]byte("k=v")}, ServiceEvents: []*epoch.Event{ev}},
	} {
		enc := p.Encode()
		if p.Empty() != (enc == nil) {
			t.Fatalf("%s: empty %v but encoding %x", name, p.Empty(), enc)
		}
		got, err := payload.Decode(enc, lim)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got.Encode(), enc) || len(got.Transactions) != len(p.Transactions) || len(got.ServiceEvents) != len(p.ServiceEvents) ||
			(got.Result == nil) != (p.Result == nil) || got.Result != nil && *got.Result != *p.Result {
			t.Fatalf("%s: round trip changed the payload", name)
		}
		for i := range p.ServiceEvents {
			if got.ServiceEvents[i].ID() != p.ServiceEvents[i].ID() {
				t.Fatalf("%s: event %d changed", name, i)
			}
		}
		if len(p.ServiceEvents) == 0 && p.Result == nil && len(enc) != payload.TxSize(p.Transactions) {
			t.Fatalf("%s: TxSize %d, encoding %d bytes", name, payload.TxSize(p.Transactions), len(enc))
		}
	}
}

// TestRejectsNonCanonical: every other encoding of a payload, and every
// payload beyond the limits, is refused with model.ErrInvalid.
func TestRejectsNonCanonical(t *testing.T) {
	good := payload.Transactions([][]byte{[]byte("a"), []byte("b")})
	events := payload.ServiceEvents([]*epoch.Event{commitEvent(t)})
	// section frames entries as a list section (kind, byte length, count,
	// entries); count is what it claims.
	section := func(kind byte, count uint32, entries ...[]byte) []byte {
		body := binary.BigEndian.AppendUint32(nil, count)
		for _, e := range entries {
			body = binary.BigEndian.AppendUint32(body, uint32(len(e)))
			body = append(body, e...)
		}
		return append(binary.BigEndian.AppendUint32([]byte{kind}, uint32(len(body))), body...)
	}
	raw := func(kind byte, body []byte) []byte {
		return append(binary.BigEndian.AppendUint32([]byte{kind}, uint32(len(body))), body...)
	}
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	many := make([][]byte, 101)
	for i := range many {
		many[i] = []byte{byte(i)}
	}
	result := (&payload.Payload{Result: &payload.Result{Height: 3}}).Encode()
	v := []byte{payload.Version}
	cases := map[string][]byte{
		"version 0":              append([]byte{0}, good[1:]...),
		"version 1":              append([]byte{1}, good[1:]...),
		"version byte only":      v,
		"trailing byte":          append(append([]byte(nil), good...), 0),
		"truncated":              good[:len(good)-1],
		"empty section":          join(v, section(2, 0)),
		"sections out of order":  join(v, events[1:], good[1:]),
		"result after txs":       join(v, good[1:], result[1:]),
		"section twice":          join(v, good[1:], good[1:]),
		"unknown section":        join(v, section(9, 1, []byte("x"))),
		"count beyond the bytes": join(v, section(2, 1<<30)),
		"length beyond payload":  join(v, []byte{2, 0, 0, 1, 0}, section(2, 1, []byte("x"))[5:]),
		"entries beyond length":  join(v, raw(2, []byte{0, 0, 0, 2, 0, 0, 0, 1, 'x'}), []byte{0, 0, 0, 1, 'y'}),
		"short result":           join(v, raw(1, make([]byte, 39))),
		"long result":            join(v, raw(1, make([]byte, 41))),
		"too many transactions":  payload.Transactions(many),
		"malformed event":        join(v, section(3, 1, []byte("not an event"))),
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
	f.Add([]byte{payload.Version, 2, 0, 0, 0, 4, 0, 0, 0, 0})
	f.Add((&payload.Payload{Result: &payload.Result{Height: 9}, Transactions: [][]byte{[]byte("x")}}).Encode())
	f.Add((&payload.Payload{Transactions: [][]byte{[]byte("x")}, ServiceEvents: []*epoch.Event{commitEvent(f)}}).Encode())
	f.Add((&payload.Payload{Guarantees: []*collection.Guarantee{testGuarantee(1)}}).Encode())
	r, _ := testReceipt(f)
	f.Add((&payload.Payload{Result: &payload.Result{Height: 7}, Receipts: []*payload.Receipt{r}}).Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		events, everr := payload.ServiceEventsOf(b)
		p, err := payload.Decode(b, lim)
		if err != nil {
			return
		}
		if everr != nil || len(events) != len(p.ServiceEvents) {
			t.Fatalf("%x decodes with %d events; ServiceEventsOf gives %d (%v)", b, len(p.ServiceEvents), len(events), everr)
		}
		if res, err := payload.ResultOf(b); err != nil || (res == nil) != (p.Result == nil) || res != nil && *res != *p.Result {
			t.Fatalf("%x decodes with result %v; ResultOf gives %v (%v)", b, p.Result, res, err)
		}
		if p.Result != nil {
			o, err := payload.OpenResult(b)
			if err != nil {
				t.Fatalf("%x: open result: %v", b, err)
			}
			if res, err := o.Verify(model.PayloadHash(b)); err != nil || *res != *p.Result {
				t.Fatalf("%x: opening proves %v (%v), want %v", b, res, err, p.Result)
			}
		}
		if enc := p.Encode(); !bytes.Equal(enc, b) && !(len(b) == 0 && enc == nil) {
			t.Fatalf("%x decodes but re-encodes as %x", b, enc)
		}
	})
}
