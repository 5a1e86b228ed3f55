package safety_test

import (
	"errors"
	"testing"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/safety"
	"github.com/floe-bft/floe/crypto"
)

var self = model.NodeID{1}

func key(t testing.TB) crypto.PrivateKey {
	t.Helper()
	k, err := crypto.Fast().KeyFromSeed(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Certificates here are shapes only: the rules never check signatures
// (verification happens before messages reach the core).
func qc(v model.View) *model.QC {
	s, _ := model.NewSignerSet(4)
	s.Set(0)
	return &model.QC{View: v, BlockID: model.Identifier{byte(v), 0xc0}, Signers: s, Signature: []byte{1}}
}

func tc(v, newest model.View) *model.TC {
	s, _ := model.NewSignerSet(4)
	s.Set(0)
	return &model.TC{View: v, NewestQC: qc(newest), NewestQCViews: []model.View{newest}, Signers: s, Signature: []byte{1}}
}

func block(t *testing.T, view model.View, q *model.QC, c *model.TC) *model.Block {
	t.Helper()
	b, err := model.NewBlock(model.Header{ChainID: testChain, View: view, Height: 1, ParentID: q.BlockID, QC: q, TC: c, ProposerID: self,
		PayloadHash: model.PayloadHash(nil)}, nil)
	if err != nil {
		t.Fatalf("block for view %d: %v", view, err)
	}
	return b
}

// The voting rule, one row per sentence of it.
func TestVotingRule(t *testing.T) {
	cases := []struct {
		name    string
		data    safety.Data
		cur     model.View
		block   func(t *testing.T) *model.Block
		allowed bool
	}{
		{"QC for the previous view", safety.Data{}, 5, func(t *testing.T) *model.Block { return block(t, 5, qc(4), nil) }, true},
		{"block for a past view", safety.Data{}, 6, func(t *testing.T) *model.Block { return block(t, 5, qc(4), nil) }, false},
		{"block for a future view", safety.Data{}, 4, func(t *testing.T) *model.Block { return block(t, 5, qc(4), nil) }, false},
		{"already voted in the view", safety.Data{HighestAcknowledgedView: 5}, 5, func(t *testing.T) *model.Block { return block(t, 5, qc(4), nil) }, false},
		{"acted in a later view", safety.Data{HighestAcknowledgedView: 7}, 5, func(t *testing.T) *model.Block { return block(t, 5, qc(4), nil) }, false},
		{"TC for previous view, QC as new as the TC's", safety.Data{}, 5, func(t *testing.T) *model.Block { return block(t, 5, qc(2), tc(4, 2)) }, true},
		{"TC for previous view, QC newer than the TC's", safety.Data{}, 5, func(t *testing.T) *model.Block { return block(t, 5, qc(3), tc(4, 2)) }, true},
		{"TC for previous view, QC older than the TC's", safety.Data{}, 5, func(t *testing.T) *model.Block { return block(t, 5, qc(1), tc(4, 2)) }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := safety.New(testChain, self, key(t), tc.data, safety.Faults{})
			b := tc.block(t)
			vote, err := r.ProduceVote(b, tc.cur)
			if tc.allowed {
				if err != nil {
					t.Fatalf("vote refused: %v", err)
				}
				if vote.View != b.View || vote.BlockID != b.ID() || vote.SignerID != self {
					t.Fatalf("vote %+v does not match block", vote)
				}
				d := r.Data()
				if d.HighestAcknowledgedView != b.View || d.LockedView < b.QC.View {
					t.Fatalf("after voting: acknowledged %d locked %d, want %d and ≥ %d", d.HighestAcknowledgedView, d.LockedView, b.View, b.QC.View)
				}
				if err := key(t).PublicKey().Verify(crypto.DomainVote, model.VoteMessage(testChain, b.View, b.ID()), vote.Signature); err != nil {
					t.Fatalf("vote signature: %v", err)
				}
				return
			}
			if !errors.Is(err, safety.ErrRefused) {
				t.Fatalf("want ErrRefused, got vote=%v err=%v", vote, err)
			}
			if r.Data() != tc.data {
				t.Fatalf("a refused vote changed the safety data: %+v", r.Data())
			}
		})
	}
}

func TestSafeToExtendWithoutTC(t *testing.T) {
	if err := safety.SafeToExtend(5, qc(3), nil); !errors.Is(err, safety.ErrRefused) {
		t.Fatalf("skipping a view without a TC must be refused, got %v", err)
	}
	if err := safety.SafeToExtend(5, qc(3), tc(3, 2)); !errors.Is(err, safety.ErrRefused) {
		t.Fatalf("a TC for the wrong view must be refused, got %v", err)
	}
}

func TestTimeoutRule(t *testing.T) {
	t.Run("times out and then never votes in the view", func(t *testing.T) {
		r := safety.New(testChain, self, key(t), safety.Data{}, safety.Faults{})
		to, err := r.ProduceTimeout(5, qc(4), nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Data().HighestAcknowledgedView != 5 || r.Data().LastTimeout != to {
			t.Fatalf("timeout not recorded: %+v", r.Data())
		}
		if _, err := r.ProduceVote(block(t, 5, qc(4), nil), 5); !errors.Is(err, safety.ErrRefused) {
			t.Fatalf("voted after timing out: %v", err)
		}
	})
	t.Run("a second timeout in the view is the same object", func(t *testing.T) {
		r := safety.New(testChain, self, key(t), safety.Data{}, safety.Faults{})
		first, _ := r.ProduceTimeout(5, qc(3), tc(4, 3))
		again, err := r.ProduceTimeout(5, qc(4), nil) // a newer QC arrived meanwhile
		if err != nil || again != first {
			t.Fatalf("re-broadcast must resend the signed timeout, got %v %v", again, err)
		}
	})
	t.Run("may time out after voting in the view", func(t *testing.T) {
		r := safety.New(testChain, self, key(t), safety.Data{}, safety.Faults{})
		if _, err := r.ProduceVote(block(t, 5, qc(4), nil), 5); err != nil {
			t.Fatal(err)
		}
		if _, err := r.ProduceTimeout(5, qc(4), nil); err != nil {
			t.Fatalf("timing out after voting is allowed: %v", err)
		}
	})
	t.Run("no timeout for a view below one acted in", func(t *testing.T) {
		r := safety.New(testChain, self, key(t), safety.Data{HighestAcknowledgedView: 6}, safety.Faults{})
		if _, err := r.ProduceTimeout(5, qc(4), nil); !errors.Is(err, safety.ErrRefused) {
			t.Fatalf("want refusal, got %v", err)
		}
	})
	t.Run("newest QC below the locked view", func(t *testing.T) {
		r := safety.New(testChain, self, key(t), safety.Data{LockedView: 4}, safety.Faults{})
		if _, err := r.ProduceTimeout(6, qc(3), tc(5, 3)); !errors.Is(err, safety.ErrRefused) {
			t.Fatalf("want refusal, got %v", err)
		}
	})
	t.Run("TC dropped when the QC is for the previous view", func(t *testing.T) {
		r := safety.New(testChain, self, key(t), safety.Data{}, safety.Faults{})
		to, err := r.ProduceTimeout(5, qc(4), tc(4, 3))
		if err != nil || to.LastViewTC != nil {
			t.Fatalf("want timeout without TC, got %+v %v", to, err)
		}
	})
}

func TestProposalSignedOncePerViewEvenAfterRestart(t *testing.T) {
	r := safety.New(testChain, self, key(t), safety.Data{}, safety.Faults{})
	if _, err := r.SignProposal(block(t, 5, qc(4), nil)); err != nil {
		t.Fatal(err)
	}
	persisted := r.Data()
	restarted := safety.New(testChain, self, key(t), persisted, safety.Faults{})
	other, err := model.NewBlock(model.Header{ChainID: testChain, View: 5, Height: 2, ParentID: qc(4).BlockID, QC: qc(4), ProposerID: self,
		PayloadHash: model.PayloadHash([]byte("x"))}, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := restarted.SignProposal(other); !errors.Is(err, safety.ErrRefused) {
		t.Fatalf("second proposal for view 5 after restart: %v", err)
	}
}

func TestDataRoundTrip(t *testing.T) {
	r := safety.New(testChain, self, key(t), safety.Data{LockedView: 2}, safety.Faults{})
	if _, err := r.ProduceTimeout(5, qc(3), tc(4, 3)); err != nil {
		t.Fatal(err)
	}
	d := r.Data()
	got, err := safety.DecodeData(d.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if got.LockedView != d.LockedView || got.HighestAcknowledgedView != d.HighestAcknowledgedView ||
		!got.LastTimeout.Equal(d.LastTimeout) {
		t.Fatalf("round trip: %+v != %+v", got, d)
	}
	enc := d.Encode()
	for _, bad := range [][]byte{nil, enc[:10], append(append([]byte(nil), enc...), 0)} {
		if _, err := safety.DecodeData(bad); err == nil {
			t.Fatalf("corrupt safety data %x decoded", bad)
		}
	}
}

// FuzzDecodeData: persisted safety data read back from a corrupt file must
// give an error, never a panic, and anything accepted re-encodes canonically.
func FuzzDecodeData(f *testing.F) {
	r := safety.New(testChain, self, key(f), safety.Data{LockedView: 2}, safety.Faults{})
	r.ProduceTimeout(5, qc(3), tc(4, 3))
	f.Add(r.Data().Encode())
	f.Add(safety.Data{HighestAcknowledgedView: 9}.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := safety.DecodeData(b)
		if err != nil {
			return
		}
		again, err := safety.DecodeData(d.Encode())
		if err != nil || again.HighestAcknowledgedView != d.HighestAcknowledgedView || again.LockedView != d.LockedView {
			t.Fatalf("re-decoding accepted data failed: %v", err)
		}
	})
}

// testChain is the chain these tests' blocks and messages belong to.
var testChain = model.MainChain("test")

// TestRulesSignOnlyForTheirChain: rules built for one chain refuse to vote
// for or propose a block of another, and what they sign names their chain.
func TestRulesSignOnlyForTheirChain(t *testing.T) {
	r := safety.New(testChain, self, key(t), safety.Data{}, safety.Faults{})
	foreign, err := model.NewBlock(model.Header{ChainID: model.MainChain("other"), View: 5, Height: 1, ParentID: qc(4).BlockID,
		QC: qc(4), ProposerID: self, PayloadHash: model.PayloadHash(nil)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.ProduceVote(foreign, 5); !errors.Is(err, safety.ErrRefused) {
		t.Fatalf("vote for a block of another chain: %v", err)
	}
	if _, err := r.SignProposal(foreign); !errors.Is(err, safety.ErrRefused) {
		t.Fatalf("proposal of a block of another chain: %v", err)
	}
	if r.Data() != (safety.Data{}) {
		t.Fatalf("refusals changed the safety data: %+v", r.Data())
	}
	to, err := r.ProduceTimeout(5, qc(4), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := key(t).PublicKey().Verify(crypto.DomainTimeout, model.TimeoutMessage(testChain, 5, 4), to.Signature); err != nil {
		t.Fatalf("timeout does not verify for its chain: %v", err)
	}
	if err := key(t).PublicKey().Verify(crypto.DomainTimeout, model.TimeoutMessage(model.MainChain("other"), 5, 4), to.Signature); err == nil {
		t.Fatal("timeout verifies for another chain")
	}
}
