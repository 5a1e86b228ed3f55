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
		h := &history{com: com, p: p, seen: make([][]model.View, 7), failedAt: make([][]failure, 7)}
		for i := range h.failedAt {
			h.failedAt[i] = []failure{{u - 3, i}}
		}
		h.failedAt[withholder] = []failure{{u - 1, withholder}, {u - 2, withholder}, {u - 5, withholder}, {u - 8, withholder}, {u - 13, withholder}}
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

// Marks that leave less than a third of the stake do not exclude: the
// member they missed may be the byzantine one (it was: a twin that
// withheld every QC it aggregated got the honest leaders blamed for its
// failures and led every view after an honest block). It then leads about
// its penalized share, not every view. Marks that leave a third or more
// still exclude.
func TestMarksLeavingUnderAThirdDoNotExclude(t *testing.T) {
	com := sevenMembers(t)
	p := Default()
	const missed, draws = 3, 7000
	run := func(blamed []int) []int {
		led := make([]int, com.Size())
		for k := 0; k < draws; k++ {
			u := model.View(1000 + k)
			h := &history{com: com, p: p, seen: make([][]model.View, 7), failedAt: make([][]failure, 7)}
			for _, i := range blamed {
				h.failedAt[i] = []failure{{u - 3, i}}
			}
			i, err := com.Index(h.draw(u, make([]bool, 7)))
			if err != nil {
				t.Fatal(err)
			}
			led[i]++
		}
		return led
	}
	// Six of seven blamed: 1/7 of the stake left.
	led := run([]int{0, 1, 2, 4, 5, 6})
	if led[missed] > draws/2 {
		t.Fatalf("the one member the marks missed led %d of %d views: %v", led[missed], draws, led)
	}
	for i, n := range led {
		if n == 0 {
			t.Fatalf("member %d never leads: %v", i, led)
		}
	}
	// Four of seven blamed: 3/7 left, which holds an honest member.
	led = run([]int{0, 1, 2, 4})
	for _, i := range []int{0, 1, 2, 4} {
		if led[i] != 0 {
			t.Fatalf("blamed member %d led %d views with 3/7 of the stake unblamed: %v", i, led[i], led)
		}
	}
}
