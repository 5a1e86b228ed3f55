package reputation

import (
	"encoding/binary"
	"testing"

	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

func sevenMembers(t *testing.T) *committee.Committee {
	t.Helper()
	ms := make([]committee.Member, 7)
	for i := range ms {
		seed := make([]byte, 32)
		binary.BigEndian.PutUint64(seed, uint64(i)+1)
		k, err := crypto.Fast().KeyFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		pop, err := k.ProvePossession()
		if err != nil {
			t.Fatal(err)
		}
		ms[i] = committee.Member{ID: crypto.Sum(k.PublicKey().Bytes()), Weight: 1, StakingKey: k.PublicKey(), Possession: pop}
	}
	c, err := committee.New(ms, [32]byte{5})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// When every member failed a view of an older gap in the window (a
// member that withholds the QCs it aggregates can bring that about), the
// older failures no longer exclude anyone, but a member with more of them
// weighs less: the withholder (five failures) leads far less than its
// share, and every member still leads. The failures of the current gap
// still exclude.
func TestEveryoneBlamedWeighsByFailures(t *testing.T) {
	com := sevenMembers(t)
	p := Default()
	const withholder, draws = 3, 7000
	led := make([]int, com.Size())
	for k := 0; k < draws; k++ {
		u := model.View(1000 + k)
		h := &history{com: com, p: p, seen: make([][]model.View, 7), failedAt: make([][]model.View, 7)}
		for i := range h.failedAt {
			h.failedAt[i] = []model.View{u - 3}
		}
		h.failedAt[withholder] = []model.View{u - 1, u - 2, u - 5, u - 8, u - 13}
		marked := make([]bool, 7)
		marked[0] = true // led a view of this gap
		i, err := com.Index(h.draw(u, marked))
		if err != nil {
			t.Fatal(err)
		}
		led[i]++
	}
	if led[0] != 0 {
		t.Fatalf("a member marked in this gap led %d views", led[0])
	}
	fair := draws / 6
	if led[withholder] > fair/2 {
		t.Fatalf("the member with the most failures led %d of %d views (a fair share is %d): %v", led[withholder], draws, fair, led)
	}
	for i := 1; i < 7; i++ {
		if led[i] == 0 {
			t.Fatalf("member %d never leads: %v", i, led)
		}
	}
}
