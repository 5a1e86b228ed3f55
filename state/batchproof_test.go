package state

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/floe-bft/floe/app/merkle"
)

// buildStore commits random writes over space registers in a few versions
// and returns the store and the model.
func buildStore(t testing.TB, rng *rand.Rand, space, versions int) (*Store, *model) {
	t.Helper()
	s := openMem(t)
	m := newModel()
	for v := 1; v <= versions; v++ {
		ws := randomWrites(rng, space, space, 0.2)
		m.apply(ws)
		if _, err := s.Commit(uint64(v), ws); err != nil {
			t.Fatal(err)
		}
	}
	return s, m
}

func TestBatchProofsVerifyAndApplyLikeCommit(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		rng := rand.New(rand.NewPCG(seed, 11))
		space := []int{1, 2, 5, 50, 400, 3000}[seed%6]
		s, m := buildStore(t, rng, space, 3)
		latest, root := s.Latest()

		// Touched set: present and absent registers (some outside space).
		var ids []RegisterID
		for range 1 + rng.IntN(2*space+3) {
			ids = append(ids, regID(rng.IntN(space+space/4+2)))
		}
		p, err := s.ProveBatch(latest, ids)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := DecodeBatchProof(p.Encode())
		if err != nil {
			t.Fatalf("seed %d: decode: %v", seed, err)
		}
		if !bytes.Equal(dec.Encode(), p.Encode()) {
			t.Fatal("encoding not canonical")
		}
		if p.size() != len(p.Encode()) {
			t.Fatalf("size %d, encoding %d bytes", p.size(), len(p.Encode()))
		}
		got, err := VerifyBatch(root, dec)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		want := map[RegisterID]bool{}
		for _, id := range ids {
			want[id] = true
		}
		if len(got) != len(want) {
			t.Fatalf("seed %d: %d registers covered, want %d", seed, len(got), len(want))
		}
		for _, w := range got {
			if !want[w.ID] || !bytes.Equal(w.Value, m.values[w.ID]) {
				t.Fatalf("seed %d: %v = %x, want %x", seed, w.ID, w.Value, m.values[w.ID])
			}
			if v, err := dec.Get(w.ID); err != nil || !bytes.Equal(v, w.Value) {
				t.Fatalf("Get(%v) = %x %v", w.ID, v, err)
			}
		}
		if _, err := dec.Get(regID(space + 1000)); !errors.Is(err, ErrNotCovered) {
			t.Fatalf("Get of an uncovered register: %v", err)
		}

		// Writes to covered registers only: sets, deletes (many: a proof
		// must show enough to collapse), deletes of absent ones.
		var ws []Write
		for _, id := range ids {
			switch rng.IntN(3) {
			case 0:
				ws = append(ws, Write{ID: id})
			case 1:
				ws = append(ws, Write{ID: id, Value: []byte{byte(rng.Uint32()), 1}})
			}
		}
		if seed%5 == 0 { // delete everything covered
			ws = ws[:0]
			for _, id := range ids {
				ws = append(ws, Write{ID: id})
			}
		}
		newRoot, err := dec.Apply(ws)
		if err != nil {
			t.Fatalf("seed %d: Apply: %v", seed, err)
		}
		full, err := s.Commit(latest+1, ws)
		if err != nil {
			t.Fatal(err)
		}
		if newRoot != full {
			t.Fatalf("seed %d: Apply root %x, Commit root %x", seed, newRoot, full)
		}
		if _, err := dec.Apply([]Write{{ID: regID(space + 1000), Value: []byte{1}}}); !errors.Is(err, ErrNotCovered) {
			t.Fatalf("Apply of an uncovered write: %v", err)
		}
	}
}

func TestBatchProofIsSmallerThanSingleProofs(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	s, _ := buildStore(t, rng, 20000, 1)
	var ids []RegisterID
	single := 0
	for i := range 100 {
		id := regID(i * 97)
		ids = append(ids, id)
		_, p, err := s.Prove(1, id)
		if err != nil {
			t.Fatal(err)
		}
		single += len(p.Encode())
	}
	p, err := s.ProveBatch(1, ids)
	if err != nil {
		t.Fatal(err)
	}
	// Values and IDs are in the batch proof but not in single proofs.
	payload := 0
	for _, id := range ids {
		v, _ := s.Get(1, id)
		payload += len(id.Encode()) + len(v) + 6
	}
	t.Logf("batch of 100: %d bytes (%d of them IDs and values); 100 single proofs: %d bytes", len(p.Encode()), payload, single)
	if len(p.Encode())-payload >= single {
		t.Fatalf("batch proof (%d bytes without values) not smaller than single proofs (%d)", len(p.Encode())-payload, single)
	}
}

func TestTamperedBatchProofsAreRefused(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	s, _ := buildStore(t, rng, 300, 2)
	latest, root := s.Latest()
	ids := []RegisterID{regID(1), regID(2), regID(50), regID(299), regID(5000)}
	p, err := s.ProveBatch(latest, ids)
	if err != nil {
		t.Fatal(err)
	}
	enc := p.Encode()
	refused := 0
	for i := range enc {
		for _, flip := range []byte{0x01, 0x80} {
			b := bytes.Clone(enc)
			b[i] ^= flip
			d, err := DecodeBatchProof(b)
			if err == nil {
				_, err = VerifyBatch(root, d)
			}
			if err == nil {
				// Only a claim that is still true may pass: a flip in an
				// absent register's ID names another absent register.
				got, _ := VerifyBatch(root, d)
				for _, w := range got {
					if v, _ := s.Get(latest, w.ID); !bytes.Equal(v, w.Value) {
						t.Fatalf("byte %d ^ %#x: tampered proof claims %v = %x", i, flip, w.ID, w.Value)
					}
				}
				continue
			}
			if !errors.Is(err, merkle.ErrInvalidProof) {
				t.Fatalf("byte %d: %v does not wrap merkle.ErrInvalidProof", i, err)
			}
			refused++
		}
	}
	if refused < 2*len(enc)*9/10 {
		t.Fatalf("only %d of %d flips refused", refused, 2*len(enc))
	}
	for _, cut := range []int{0, 1, 4, len(enc) / 2, len(enc) - 1} {
		if _, err := DecodeBatchProof(enc[:cut]); !errors.Is(err, merkle.ErrInvalidProof) {
			t.Fatalf("truncated to %d: %v", cut, err)
		}
	}
	if _, err := DecodeBatchProof(append(bytes.Clone(enc), 0)); !errors.Is(err, merkle.ErrInvalidProof) {
		t.Fatalf("trailing byte: %v", err)
	}
	// A proof of an older version does not verify against the latest root.
	if old, err := s.ProveBatch(1, ids); err != nil {
		t.Fatal(err)
	} else if _, err := VerifyBatch(root, old); !errors.Is(err, merkle.ErrInvalidProof) {
		t.Fatalf("proof of version 1 against the latest root: %v", err)
	}
	// Unverified proofs serve nothing.
	if _, err := p.Get(regID(1)); !errors.Is(err, ErrNotVerified) {
		t.Fatalf("Get before verification: %v", err)
	}
	if _, err := p.Apply(nil); !errors.Is(err, ErrNotVerified) {
		t.Fatalf("Apply before verification: %v", err)
	}
}

// An opaque sibling must not be trusted to be an inner node: a prover that
// hides a leaf behind its hash makes Apply refuse rather than compute a
// wrong root.
func TestApplyRefusesToGuessAnUnopenedSibling(t *testing.T) {
	s := openMem(t)
	a, b := regID(1), regID(2)
	if _, err := s.Commit(1, []Write{{ID: a, Value: []byte{1}}, {ID: b, Value: []byte{2}}}); err != nil {
		t.Fatal(err)
	}
	_, root := s.Latest()
	p, err := s.ProveBatch(1, []RegisterID{a})
	if err != nil {
		t.Fatal(err)
	}
	// Turn b's foreign leaf into an opaque hash.
	var hide func(n *pnode)
	hide = func(n *pnode) {
		if n.kind == pForeign {
			n.kind = pOpaque
		}
		if n.kind == pInner {
			hide(n.left)
			hide(n.right)
		}
	}
	hide(p.tree)
	d, err := DecodeBatchProof(p.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyBatch(root, d); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Apply([]Write{{ID: a}}); !errors.Is(err, ErrIncompleteProof) {
		t.Fatalf("Apply deleting beside a hidden leaf: %v, want ErrIncompleteProof", err)
	}
}

func FuzzDecodeBatchProof(f *testing.F) {
	s, err := OpenMemory()
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(4, 4))
	ws := randomWrites(rng, 40, 40, 0)
	if _, err := s.Commit(1, ws); err != nil {
		f.Fatal(err)
	}
	_, root := s.Latest()
	for _, ids := range [][]RegisterID{{regID(1)}, {regID(3), regID(7), regID(100)}, nil} {
		p, err := s.ProveBatch(1, ids)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(p.Encode())
	}
	f.Add([]byte{0, 0, 0, 0, 5, 5, 5})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeBatchProof(b)
		if err != nil {
			if !errors.Is(err, merkle.ErrInvalidProof) {
				t.Fatalf("error not wrapping ErrInvalidProof: %v", err)
			}
			return
		}
		if !bytes.Equal(p.Encode(), b) {
			t.Fatal("accepted a non-canonical encoding")
		}
		got, err := VerifyBatch(root, p)
		if err != nil {
			return
		}
		// Whatever verifies against the root tells the truth.
		for _, w := range got {
			v, err := s.Get(1, w.ID)
			if err != nil || !bytes.Equal(v, w.Value) {
				t.Fatalf("verified %v = %x, store has %x", w.ID, w.Value, v)
			}
		}
		_, _ = p.Apply(got)
	})
}
