package replica_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/verify"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/replica"
)

// poolFixture is a four-member chain's verifier and keys.
func poolFixture(t *testing.T) (*verify.Verifier, []crypto.PrivateKey, *committee.Committee, model.ChainID) {
	t.Helper()
	var (
		members []committee.Member
		keys    []crypto.PrivateKey
	)
	for i := 0; i < 4; i++ {
		seed := make([]byte, 32)
		seed[0] = byte(i + 1)
		key, err := crypto.Fast().KeyFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		pop, err := key.ProvePossession()
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, committee.Member{ID: crypto.Sum(key.PublicKey().Bytes()), Weight: 1, StakingKey: key.PublicKey(), Possession: pop})
		keys = append(keys, key)
	}
	com, err := committee.New(members, [32]byte{1})
	if err != nil {
		t.Fatal(err)
	}
	chain := model.MainChain("pool")
	root, err := model.NewRootBlock(chain, 0, 0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	rootQC, err := model.NewRootQC(0, root.ID(), 4)
	if err != nil {
		t.Fatal(err)
	}
	return verify.New(chain, com, crypto.Fast(), rootQC), keys, com, chain
}

// collector records what a pool delivers and rejects.
type collector struct {
	mu        sync.Mutex
	delivered []consensus.Event
	rejected  []error
}

func (c *collector) counts() (int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.delivered), len(c.rejected)
}

// A batch of votes with one forged signature delivers the three good ones
// and rejects the forged one alone; work jobs deliver their event or are
// rejected with their error; an empty message is rejected; nothing is
// delivered twice.
func TestPoolChecksBeforeDelivering(t *testing.T) {
	v, keys, _, chain := poolFixture(t)
	c := &collector{}
	p := replica.NewPool(replica.PoolConfig{Workers: 2, Verifier: func() *verify.Verifier { return v },
		Deliver: func(_ context.Context, _ model.NodeID, ev consensus.Event) {
			c.mu.Lock()
			c.delivered = append(c.delivered, ev)
			c.mu.Unlock()
		},
		Rejected: func(_ model.NodeID, err error) {
			c.mu.Lock()
			c.rejected = append(c.rejected, err)
			c.mu.Unlock()
		}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()

	block := model.Identifier{7}
	var votes []*model.Vote
	for i, k := range keys {
		sig, err := k.Sign(crypto.DomainVote, model.VoteMessage(chain, 3, block))
		if err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			sig, _ = k.Sign(crypto.DomainVote, model.VoteMessage(chain, 3, model.Identifier{8})) // signed another block
		}
		votes = append(votes, &model.Vote{View: 3, BlockID: block, SignerID: crypto.Sum(k.PublicKey().Bytes()), Signature: sig})
	}
	errWork := errors.New("bad sync answer")
	jobs := []replica.Job{
		{Votes: votes},
		{Work: func() (consensus.Event, error) { return consensus.TimerEvent{}, nil }},
		{Work: func() (consensus.Event, error) { return nil, errWork }},
		{Work: func() (consensus.Event, error) { return nil, nil }},
		{},
	}
	for _, j := range jobs {
		if !p.Submit(j) {
			t.Fatal("queue refused a job below its bound")
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		d, r := c.counts()
		if d == 4 && r == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivered %d (want 3 votes + 1 event), rejected %d (want forged vote, work error, empty message): %v", d, r, c.rejected)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	good := 0
	for _, ev := range c.delivered {
		if ve, ok := ev.(consensus.VoteEvent); ok {
			if ve.Vote == votes[2] {
				t.Fatal("the forged vote was delivered")
			}
			good++
		}
	}
	if good != 3 {
		t.Fatalf("%d votes delivered, want 3", good)
	}
	var sawWork, sawEmpty bool
	for _, err := range c.rejected {
		sawWork = sawWork || errors.Is(err, errWork)
		sawEmpty = sawEmpty || errors.Is(err, replica.ErrEmptyMessage)
	}
	if !sawWork || !sawEmpty {
		t.Fatalf("rejections %v", c.rejected)
	}
}

// The queue is bounded: a full one refuses at once instead of blocking
// the receive path.
func TestPoolQueueIsBounded(t *testing.T) {
	v, _, _, _ := poolFixture(t)
	p := replica.NewPool(replica.PoolConfig{Queue: 2, Verifier: func() *verify.Verifier { return v },
		Deliver: func(context.Context, model.NodeID, consensus.Event) {}})
	for i := 0; i < 2; i++ {
		if !p.Submit(replica.Job{}) {
			t.Fatalf("job %d refused", i)
		}
	}
	if p.Submit(replica.Job{}) {
		t.Fatal("a third job fit a queue of two")
	}
	if p.Len() != 2 {
		t.Fatalf("Len %d", p.Len())
	}
}
