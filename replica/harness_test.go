package replica_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/pacemaker"
	"github.com/floe-bft/floe/consensus/verify"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/replica"
)

// bus is an in-memory network shared by every chain of a test: each
// message takes latency to arrive and is verified by the receiver's
// verifier (as a node's verification pool does) before its engine steps
// it. Time moves only in run.
type bus struct {
	t       *testing.T
	now     time.Time
	queue   []parcel
	members []*member
	// rejected counts messages a receiver's verifier refused, by chain of
	// the receiver.
	rejected map[model.ChainID]int
	// crossWired delivers every message to the members of every chain (a
	// node that takes part in several chains, or a replaying attacker).
	crossWired bool
}

type parcel struct {
	at   time.Time
	from *member
	to   *member
	msg  consensus.Message
}

// member is one replica of one chain: an engine with in-memory store,
// transport and observer.
type member struct {
	b        *bus
	chain    model.ChainID
	id       model.NodeID
	eng      *replica.Engine
	verifier *verify.Verifier
	peers    []*member // the chain's members, itself included
	store    *memStore
	final    []*model.Block
	// sendCheck, when set, runs on every Send before delivery.
	sendCheck func(msgs []consensus.Message)
	down      bool
}

const latency = 5 * time.Millisecond

type payloads struct{}

func (payloads) Build(view model.View, _ *model.Block) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(view))
}
func (payloads) Validate(_, _ *model.Block) error { return nil }

// memStore keeps what a member persisted; failAt makes the n-th Persist
// with content fail.
type memStore struct {
	safety  consensus.State
	persist int
	failAt  int
	follow  consensus.Event
}

var errDiskGone = fmt.Errorf("disk gone")

func (s *memStore) Persist(out *consensus.Output) (consensus.Event, error) {
	if out.Empty() {
		return nil, nil
	}
	s.persist++
	if s.failAt > 0 && s.persist == s.failAt {
		return nil, errDiskGone
	}
	if out.Safety != nil {
		s.safety.Safety = *out.Safety
	}
	if out.Liveness != nil {
		s.safety.Liveness = *out.Liveness
	}
	f := s.follow
	s.follow = nil
	return f, nil
}

func newBus(t *testing.T) *bus {
	return &bus{t: t, now: time.Unix(1_700_000_000, 0), rejected: make(map[model.ChainID]int)}
}

// chain starts n replicas of a new chain named name; keySeed picks their
// keys, so two chains can share keys (as collectors do across epochs).
func (b *bus) chain(name string, n int, keySeed byte) []*member {
	b.t.Helper()
	scheme := crypto.Fast()
	var (
		members []committee.Member
		keys    []crypto.PrivateKey
	)
	for i := 0; i < n; i++ {
		seed := make([]byte, 32)
		seed[0], seed[1] = keySeed, byte(i+1)
		key, err := scheme.KeyFromSeed(seed)
		if err != nil {
			b.t.Fatal(err)
		}
		pop, err := key.ProvePossession()
		if err != nil {
			b.t.Fatal(err)
		}
		members = append(members, committee.Member{ID: crypto.Sum(key.PublicKey().Bytes()), Weight: 1, StakingKey: key.PublicKey(), Possession: pop})
		keys = append(keys, key)
	}
	com, err := committee.New(members, [32]byte{7})
	if err != nil {
		b.t.Fatal(err)
	}
	chain := model.MainChain(name)
	root, err := model.NewRootBlock(chain, 0, 0, b.now.UnixMilli(), []byte(name))
	if err != nil {
		b.t.Fatal(err)
	}
	rootQC, err := model.NewRootQC(0, root.ID(), n)
	if err != nil {
		b.t.Fatal(err)
	}
	v := verify.New(chain, com, scheme, rootQC)
	var group []*member
	for i := 0; i < n; i++ {
		m := &member{b: b, chain: chain, id: members[i].ID, verifier: v,
			store: &memStore{safety: consensus.GenesisState(root, rootQC)}}
		core, err := consensus.New(consensus.Config{
			Self: m.id, Key: keys[i], Scheme: scheme, Schedule: com, Payloads: payloads{},
			Timeouts: pacemaker.Config{Min: time.Second, Max: 10 * time.Second, HappyPathFailedViews: 6, Increase: 1.2},
		}, m.store.safety)
		if err != nil {
			b.t.Fatal(err)
		}
		m.eng, err = replica.New(replica.Config{Core: core, Store: m.store, Transport: m, Observer: m})
		if err != nil {
			b.t.Fatal(err)
		}
		group = append(group, m)
	}
	for _, m := range group {
		m.peers = group
		b.members = append(b.members, m)
	}
	return group
}

func (b *bus) startAll(ms []*member) {
	for _, m := range ms {
		if err := m.eng.Start(b.now); err != nil {
			b.t.Fatalf("start: %v", err)
		}
	}
}

// Send is the member's Transport.
func (m *member) Send(msgs []consensus.Message) error {
	if m.sendCheck != nil {
		m.sendCheck(msgs)
	}
	for _, msg := range msgs {
		targets := m.peers
		if m.b.crossWired {
			targets = m.b.members
		}
		for _, p := range targets {
			if (msg.Broadcast && p != m) || (!msg.Broadcast && p.id == msg.To) {
				m.b.queue = append(m.b.queue, parcel{at: m.b.now.Add(latency), from: m, to: p, msg: msg})
			}
		}
	}
	return nil
}

// The member's Observer: it keeps what was finalized.
func (m *member) Stepped(consensus.Event, *consensus.Output, error) {}
func (m *member) Applied(_ consensus.Event, out *consensus.Output) {
	m.final = append(m.final, out.Finalized...)
}
func (m *member) Parked(*model.Block, bool) {}

// deliver verifies msg as the receiver's node would (replica.Check) and
// steps it.
func (b *bus) deliver(to *member, msg consensus.Message) error {
	ev, err := replica.Check(to.verifier, msg)
	if errors.Is(err, replica.ErrEmptyMessage) {
		return nil
	}
	if err != nil {
		b.rejected[to.chain]++
		return nil
	}
	return to.eng.Step(b.now, ev)
}

// run moves time forward by d, delivering messages and timers in order.
func (b *bus) run(d time.Duration) {
	b.t.Helper()
	end := b.now.Add(d)
	for {
		var next *member
		for _, m := range b.members {
			if t := m.eng.NextTimer(); !m.down && !t.IsZero() && !t.After(end) && (next == nil || t.Before(next.eng.NextTimer())) {
				next = m
			}
		}
		k := -1
		for i, p := range b.queue {
			if !p.at.After(end) && (k < 0 || p.at.Before(b.queue[k].at)) {
				k = i
			}
		}
		switch {
		case k >= 0 && (next == nil || !next.eng.NextTimer().Before(b.queue[k].at)):
			p := b.queue[k]
			b.queue = append(b.queue[:k], b.queue[k+1:]...)
			if p.at.After(b.now) {
				b.now = p.at
			}
			if !p.to.down {
				if err := b.deliver(p.to, p.msg); err != nil {
					p.to.down = true
					b.t.Logf("member stopped: %v", err)
				}
			}
		case next != nil:
			if t := next.eng.NextTimer(); t.After(b.now) {
				b.now = t
			}
			before := next.eng.NextTimer()
			if err := next.eng.Step(b.now, consensus.TimerEvent{}); err != nil {
				next.down = true
				b.t.Logf("member stopped: %v", err)
			}
			if next.eng.NextTimer().Equal(before) && !before.After(b.now) {
				// The timer was consumed without a new one: do not spin.
				b.now = b.now.Add(time.Millisecond)
			}
		default:
			b.now = end
			return
		}
	}
}

// checkAgreement: members of one chain finalized the same blocks.
func checkAgreement(t *testing.T, ms []*member) {
	t.Helper()
	byHeight := map[uint64]model.Identifier{}
	for _, m := range ms {
		for _, blk := range m.final {
			if id, ok := byHeight[blk.Height]; ok && id != blk.ID() {
				t.Fatalf("conflicting blocks final at height %d", blk.Height)
			}
			byHeight[blk.Height] = blk.ID()
			if blk.ChainID != m.chain {
				t.Fatalf("a member of chain %v finalized a block of chain %v", m.chain, blk.ChainID)
			}
		}
	}
}
