package payload_test

import (
	"errors"
	"testing"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/payload"
)

// TestCheckResult: the chain rule on execution results, case by case.
func TestCheckResult(t *testing.T) {
	r := func(h uint64, root byte) *payload.Result {
		return &payload.Result{Height: h, Root: model.Identifier{root}}
	}
	for name, c := range map[string]struct {
		height      uint64
		res, parent *payload.Result
		ok          bool
	}{
		"first block, result 0":        {1, r(0, 0), nil, true},
		"missing":                      {5, nil, r(1, 1), false},
		"missing after genesis":        {1, nil, nil, false},
		"own height":                   {5, r(5, 1), r(1, 1), false},
		"future height":                {5, r(9, 1), nil, false},
		"advances":                     {5, r(3, 3), r(1, 1), true},
		"repeats the parent's":         {5, r(1, 1), r(1, 1), true},
		"goes back":                    {5, r(0, 0), r(1, 1), false},
		"same height, another root":    {5, r(1, 2), r(1, 1), false},
		"first after genesis, any old": {9, r(4, 4), nil, true},
	} {
		err := payload.CheckResult(c.height, 7, c.res, c.parent)
		if (err == nil) != c.ok || err != nil && !errors.Is(err, model.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if got := payload.Newest(*r(3, 3), r(4, 4)); got != *r(4, 4) {
		t.Errorf("Newest took the older own result: %v", got)
	}
	if got := payload.Newest(*r(5, 5), r(4, 4)); got != *r(5, 5) {
		t.Errorf("Newest took the older parent result: %v", got)
	}
}

// TestResultOpening: an opening proves the result against the payload hash
// alone, and any change to what it reveals or summarizes is refused.
func TestResultOpening(t *testing.T) {
	res := payload.Result{Height: 41, Root: model.Identifier{0xaa}}
	full := (&payload.Payload{Result: &res, Transactions: [][]byte{[]byte("a=1"), []byte("b=2")},
		ServiceEvents: []*epoch.Event{commitEvent(t)}}).Encode()
	hash := model.PayloadHash(full)
	o, err := payload.OpenResult(full)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := payload.DecodeResultOpening(o.Encode())
	if err != nil {
		t.Fatal(err)
	}
	got, err := dec.Verify(hash)
	if err != nil || *got != res {
		t.Fatalf("opening proves %v, %v", got, err)
	}
	if len(o.Encode()) > 256 {
		t.Fatalf("an opening of %d bytes: it should not grow with the payload", len(o.Encode()))
	}
	tamper := map[string]func(o *payload.ResultOpening){
		"root":           func(o *payload.ResultOpening) { o.Body[8] ^= 1 },
		"height":         func(o *payload.ResultOpening) { o.Body[7] ^= 1 },
		"other section":  func(o *payload.ResultOpening) { o.Sections[1].Hash[0] ^= 1 },
		"section kind":   func(o *payload.ResultOpening) { o.Sections[1].Kind = 9 },
		"section gone":   func(o *payload.ResultOpening) { o.Sections = o.Sections[:1] },
		"format":         func(o *payload.ResultOpening) { o.Format++ },
		"two results":    func(o *payload.ResultOpening) { o.Sections[1].Kind = uint8(payload.KindResult) },
		"no result kind": func(o *payload.ResultOpening) { o.Sections[0].Kind = uint8(payload.KindTransactions) },
	}
	for name, f := range tamper {
		c, err := payload.DecodeResultOpening(o.Encode())
		if err != nil {
			t.Fatal(err)
		}
		f(c)
		if r, err := c.Verify(hash); !errors.Is(err, model.ErrInvalid) {
			t.Errorf("%s: verified as %v (%v)", name, r, err)
		}
	}
	if _, err := payload.OpenResult(payload.Transactions([][]byte{[]byte("x")})); !errors.Is(err, model.ErrInvalid) {
		t.Errorf("opened a payload without a result: %v", err)
	}
	for name, b := range map[string][]byte{
		"garbage":       []byte("not an opening"),
		"many sections": append([]byte{payload.Version, 200}, make([]byte, 200*33+4)...),
		"long body":     append(append([]byte{payload.Version, 0}, 0, 0, 1, 0), make([]byte, 256)...),
	} {
		if _, err := payload.DecodeResultOpening(b); !errors.Is(err, model.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
