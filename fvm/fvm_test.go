package fvm

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/execution"
	"github.com/floe-bft/floe/transaction"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A transfer moves tokens and charges the payer exactly its gas; a
// failed one (to no account) changes nothing but the fee and the
// sequence number; a replay of a transaction already run changes
// nothing at all, not even a fee.
func TestTransferFeesSequenceAndReplay(t *testing.T) {
	c := newChain(t, 3, 1_000_000, 1)
	a, b := c.addr(2), c.addr(3)
	first := c.tx(a, transaction.Transfer{To: b, Amount: 100}, txOpts{}, a)
	outs := c.block(first)
	mustOK(t, outs)
	fee := outs[0].Computation
	if fee < GasTx || c.balance(a) != 1_000_000-100-fee || c.balance(b) != 1_000_000+100 {
		t.Fatalf("after a transfer: %d and %d, fee %d", c.balance(a), c.balance(b), fee)
	}
	if len(outs[0].Events) != 1 || outs[0].Events[0].Type != EventTransfer {
		t.Fatalf("events %+v", outs[0].Events)
	}
	if k := c.key(a, 0); k.SeqNum != 1 {
		t.Fatalf("sequence number %d after one transaction", k.SeqNum)
	}

	nowhere, _ := account.AddressAt(testChain, 99)
	before := c.balance(a)
	outs = c.block(c.tx(a, transaction.Transfer{To: nowhere, Amount: 5}, txOpts{}, a))
	if outs[0].OK || !strings.Contains(outs[0].Error, ErrNoAccount.Error()) {
		t.Fatalf("transfer to no account: %s", describe(outs[0]))
	}
	if c.balance(a) != before-outs[0].Computation || c.key(a, 0).SeqNum != 2 {
		t.Fatalf("a failed transfer: balance %d (was %d, fee %d), seq %d", c.balance(a), before, outs[0].Computation, c.key(a, 0).SeqNum)
	}

	before = c.balance(a)
	outs = c.block(first)
	if outs[0].OK || !strings.Contains(outs[0].Error, transaction.ErrSequenceNumber.Error()) || outs[0].Computation != 0 {
		t.Fatalf("a replay: %s", describe(outs[0]))
	}
	if c.balance(a) != before || c.balance(b) != 1_000_100 || c.key(a, 0).SeqNum != 2 {
		t.Fatal("a replay changed something")
	}
}

// A payer that cannot cover its gas limit pays for what was used and
// nothing runs; an unsigned or badly signed transaction changes nothing.
func TestFeesAndAuthorization(t *testing.T) {
	c := newChain(t, 3, 50_000, 1)
	a, b := c.addr(2), c.addr(3)
	outs := c.block(c.tx(a, transaction.Transfer{To: b, Amount: 1}, txOpts{gas: 60_000}, a))
	if outs[0].OK || !strings.Contains(outs[0].Error, ErrInsufficientBalance.Error()) {
		t.Fatalf("gas limit above the balance: %s", describe(outs[0]))
	}
	if c.balance(b) != 50_000 || c.balance(a) != 50_000-outs[0].Computation || c.key(a, 0).SeqNum != 1 {
		t.Fatalf("balances %d %d", c.balance(a), c.balance(b))
	}
	// Signed by b's key but claiming a: not authorized, nothing changes.
	tx := &transaction.Transaction{Ref: [32]byte{1}, GasLimit: 10_000, ProposalKey: transaction.ProposalKey{Address: a, SeqNum: 1},
		Payer: a, Authorizers: []account.Address{a}, Op: transaction.Transfer{To: b, Amount: 1}}
	if err := tx.SignEnvelope(testChain, a, 0, c.signers[b][0]); err != nil {
		t.Fatal(err)
	}
	before := c.balance(a)
	outs = c.block(tx.Encode(), []byte("not a transaction"))
	for i, o := range outs {
		if o.OK || o.Computation != 0 {
			t.Fatalf("transaction %d: %s", i, describe(o))
		}
	}
	if !strings.Contains(outs[0].Error, ErrUnauthorized.Error()) || !strings.Contains(outs[1].Error, ErrMalformed.Error()) {
		t.Fatalf("errors %q, %q", outs[0].Error, outs[1].Error)
	}
	if c.balance(a) != before || c.key(a, 0).SeqNum != 1 {
		t.Fatal("an unauthorized transaction changed something")
	}
	// Out of gas: the whole limit is the fee, the operation does not run.
	before = c.balance(a)
	outs = c.block(c.tx(a, transaction.Transfer{To: b, Amount: 1}, txOpts{gas: 500}, a))
	if outs[0].OK || !strings.Contains(outs[0].Error, ErrOutOfGas.Error()) || outs[0].Computation != 500 || c.balance(a) != before-500 {
		t.Fatalf("out of gas: %s, balance %d (was %d)", describe(outs[0]), c.balance(a), before)
	}
}

// Create an account, fund it, rotate its key: after the old key is
// revoked, a transaction it signs is refused and changes nothing, and
// the new key works.
func TestCreateAccountAndRotateKey(t *testing.T) {
	c := newChain(t, 2, 1_000_000, 1)
	a := c.addr(2)
	k1 := c.newKey(account.ECDSA_P256, account.SHA3_256)
	pub1 := k1.PublicKey()
	pub1.Weight = account.Threshold
	outs := c.block(c.tx(a, transaction.CreateAccount{Keys: []account.Key{pub1}}, txOpts{}))
	mustOK(t, outs)
	if len(outs[0].Events) != 1 || outs[0].Events[0].Type != EventAccountCreated {
		t.Fatalf("events %+v", outs[0].Events)
	}
	n := account.Address(outs[0].Events[0].Payload)
	if n != c.addr(4) || !n.Valid(testChain) {
		t.Fatalf("new account %v, want the next index %v", n, c.addr(4))
	}
	c.signers[n] = []*account.PrivateKey{k1}
	mustOK(t, c.block(c.tx(a, transaction.Transfer{To: n, Amount: 500_000}, txOpts{}, a)))

	k2 := c.newKey(account.Ed25519, account.HashNone)
	pub2 := k2.PublicKey()
	pub2.Weight = account.Threshold
	mustOK(t, c.block(c.tx(n, transaction.AddKey{Key: pub2}, txOpts{}, n)))
	c.signers[n] = append(c.signers[n], k2)
	mustOK(t, c.block(c.tx(n, transaction.RevokeKey{Index: 0}, txOpts{}, n)))
	if !c.key(n, 0).Revoked || c.key(n, 1).Revoked {
		t.Fatal("key 0 not revoked, or key 1 revoked")
	}
	before := c.balance(n)
	seq := c.key(n, 0).SeqNum
	outs = c.block(c.tx(n, transaction.Transfer{To: a, Amount: 1}, txOpts{seq: &seq}, n))
	if outs[0].OK || !strings.Contains(outs[0].Error, transaction.ErrRevokedKey.Error()) || c.balance(n) != before {
		t.Fatalf("the revoked key: %s, balance %d (was %d)", describe(outs[0]), c.balance(n), before)
	}
	zero := uint64(0)
	mustOK(t, c.block(c.tx(n, transaction.Transfer{To: a, Amount: 1}, txOpts{keyIndex: 1, seq: &zero}, n)))
}

// The token program: its account mints, holders transfer what they hold,
// balances are public storage anyone reads; a transfer beyond the
// balance and a mint by someone else fail and change nothing but fees.
func TestTokenProgram(t *testing.T) {
	c := newChain(t, 4, 10_000_000, 1)
	tok, x, y := c.addr(2), c.addr(3), c.addr(4)
	mustOK(t, c.block(c.tx(tok, transaction.Deploy{Code: example(t, "token")}, txOpts{gas: 5_000_000}, tok)))
	mustOK(t, c.block(c.tx(tok, transaction.Call{Program: tok, Function: "mint", Args: [][]byte{x[:], u64LE(1000)}}, txOpts{}, tok)))
	mustOK(t, c.block(c.tx(x, transaction.Call{Program: tok, Function: "transfer", Args: [][]byte{y[:], u64LE(300)}}, txOpts{}, x)))
	held := func(a account.Address) uint64 {
		v := c.get(PublicRegister(tok, append([]byte("b"), a[:]...)))
		if v == nil {
			return 0
		}
		return leU64(v)
	}
	if held(x) != 700 || held(y) != 300 {
		t.Fatalf("token balances %d, %d", held(x), held(y))
	}
	outs := c.block(
		c.tx(x, transaction.Call{Program: tok, Function: "transfer", Args: [][]byte{y[:], u64LE(701)}}, txOpts{}, x),
		c.tx(y, transaction.Call{Program: tok, Function: "mint", Args: [][]byte{y[:], u64LE(5)}}, txOpts{}, y),
		c.tx(y, transaction.Call{Program: tok, Function: "nope"}, txOpts{}, y),
	)
	for i, want := range []string{"insufficient token balance", "only the token's account mints", "exports no function"} {
		if outs[i].OK || !strings.Contains(outs[i].Error, want) || outs[i].Computation == 0 {
			t.Fatalf("transaction %d: %s, want %q", i, describe(outs[i]), want)
		}
	}
	if held(x) != 700 || held(y) != 300 {
		t.Fatalf("failed calls changed balances: %d, %d", held(x), held(y))
	}
	// The outcome names the program's own reason first, not the runtime's
	// wrapping.
	if !strings.HasPrefix(outs[0].Error, ErrProgram.Error()+": ") {
		t.Fatalf("outcome %q", outs[0].Error)
	}
}

func leU64(b []byte) uint64 {
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// The concert-ticket race: two buyers in one block for the last ticket;
// exactly one gets it and pays the price, the other pays only its fee.
// Sequential and parallel execution agree.
func TestTicketRace(t *testing.T) {
	var results [2]string
	for run, workers := range []int{1, 2} {
		c := newChain(t, 4, 10_000_000, workers)
		sale, b1, b2 := c.addr(2), c.addr(3), c.addr(4)
		mustOK(t, c.block(c.tx(sale, transaction.Deploy{Code: example(t, "tickets")}, txOpts{gas: 5_000_000}, sale)))
		mustOK(t, c.block(c.tx(sale, transaction.Call{Program: sale, Function: "setup", Args: [][]byte{u64LE(1), u64LE(50)}}, txOpts{}, sale)))
		saleBefore := c.balance(sale)
		outs := c.block(
			c.tx(b1, transaction.Call{Program: sale, Function: "buy"}, txOpts{}, b1),
			c.tx(b2, transaction.Call{Program: sale, Function: "buy"}, txOpts{}, b2),
		)
		if !outs[0].OK || outs[1].OK || !strings.Contains(outs[1].Error, "sold out") {
			t.Fatalf("workers %d: %s / %s", workers, describe(outs[0]), describe(outs[1]))
		}
		if c.balance(b1) != 10_000_000-50-outs[0].Computation || c.balance(b2) != 10_000_000-outs[1].Computation ||
			c.balance(sale) != saleBefore+50 {
			t.Fatalf("workers %d: balances %d %d %d", workers, c.balance(b1), c.balance(b2), c.balance(sale))
		}
		if got := c.get(PublicRegister(sale, append([]byte("t"), b1[:]...))); leU64(got) != 1 {
			t.Fatalf("the winner holds %x", got)
		}
		if got := c.get(PublicRegister(sale, append([]byte("t"), b2[:]...))); got != nil {
			t.Fatalf("the loser holds %x", got)
		}
		results[run] = c.prev.ID().Hex()
	}
	if results[0] != results[1] {
		t.Fatalf("sequential and parallel results differ: %s, %s", results[0], results[1])
	}
}

// Modules that break the runtime's rules fail cleanly, each with its own
// error: floats and imports the host does not offer, and too much memory,
// are refused at deploy; an unbounded loop runs out of gas (its whole
// limit is the fee), unbounded recursion hits the depth limit, memory
// growth stops at the limit, a missing function is named.
func TestProgramsFailCleanly(t *testing.T) {
	c := newChain(t, 8, 100_000_000, 1)
	for i, tc := range []struct{ module, want string }{
		{"float", "float"},
		{"badimport", "clock"},
		{"bigmem", "memory"},
	} {
		a := c.addr(2 + i)
		outs := c.block(c.tx(a, transaction.Deploy{Code: fixture(t, tc.module)}, txOpts{}, a))
		if outs[0].OK || !strings.Contains(outs[0].Error, ErrInvalidProgram.Error()) || !strings.Contains(outs[0].Error, tc.want) {
			t.Fatalf("deploy %s: %s", tc.module, describe(outs[0]))
		}
		if c.get(CodeRegister(a)) != nil {
			t.Fatalf("%s was deployed", tc.module)
		}
	}
	loop, rec, grow := c.addr(5), c.addr(6), c.addr(7)
	for a, m := range map[account.Address]string{loop: "loop", rec: "recurse", grow: "grow"} {
		mustOK(t, c.block(c.tx(a, transaction.Deploy{Code: fixture(t, m)}, txOpts{}, a)))
	}
	u := c.addr(8)
	before := c.balance(u)
	outs := c.block(
		c.tx(u, transaction.Call{Program: loop, Function: "run"}, txOpts{gas: 200_000, noAdvance: false}, u),
	)
	if outs[0].OK || !strings.Contains(outs[0].Error, ErrOutOfGas.Error()) || outs[0].Computation != 200_000 || c.balance(u) != before-200_000 {
		t.Fatalf("unbounded loop: %s", describe(outs[0]))
	}
	outs = c.block(
		c.tx(u, transaction.Call{Program: rec, Function: "run"}, txOpts{}, u),
		c.tx(u, transaction.Call{Program: grow, Function: "run"}, txOpts{gas: 10_000_000}, u),
		c.tx(u, transaction.Call{Program: grow, Function: "missing"}, txOpts{}, u),
		c.tx(u, transaction.Call{Program: c.addr(3), Function: "run"}, txOpts{}, u),
	)
	if outs[0].OK || !strings.Contains(outs[0].Error, "depth") {
		t.Fatalf("recursion: %s", describe(outs[0]))
	}
	mustOK(t, outs[1:2])
	pages := c.get(privateReg(grow, []byte("pages")))
	if want := ProgramLimits().MaxMemoryPages; len(pages) != 4 || uint32(leU64(pages)) != want {
		t.Fatalf("memory grew to %x pages, the limit is %d", pages, want)
	}
	if outs[2].OK || !strings.Contains(outs[2].Error, "missing") {
		t.Fatalf("missing function: %s", describe(outs[2]))
	}
	if outs[3].OK || !strings.Contains(outs[3].Error, ErrNoProgram.Error()) {
		t.Fatalf("no program: %s", describe(outs[3]))
	}
}

// Ownership: a program called by another does not act for the
// transaction's authorizers (auth_count 0, auth_set refused), and can
// take another account's tokens only within the allowance it was granted
// (which it consumes).
func TestOwnershipAndCapabilities(t *testing.T) {
	c := newChain(t, 4, 10_000_000, 1)
	top, inner, u := c.addr(2), c.addr(3), c.addr(4)
	mustOK(t, c.block(
		c.tx(top, transaction.Deploy{Code: fixture(t, "caller")}, txOpts{}, top),
		c.tx(inner, transaction.Deploy{Code: fixture(t, "nested")}, txOpts{}, inner),
	))
	call := func(fn string, arg []byte) execution.TxOutcome {
		return c.block(c.tx(u, transaction.Call{Program: top, Function: "run", Args: [][]byte{inner[:], []byte(fn), arg}}, txOpts{}, u))[0]
	}
	o := call("count", u[:])
	if !o.OK || !bytes.Equal(c.get(privateReg(top, []byte("r"))), []byte{0, 0, 0, 0}) {
		t.Fatalf("a nested call sees authorizers: %s, r=%x", describe(o), c.get(privateReg(top, []byte("r"))))
	}
	o = call("steal", u[:])
	if o.OK || !strings.Contains(o.Error, "does not act for") {
		t.Fatalf("a nested call wrote an authorizer's storage: %s", describe(o))
	}
	before := c.balance(u)
	o = call("debit", u[:])
	if !o.OK || leU64(c.get(privateReg(top, []byte("r")))) != 0xfffffffe || c.balance(u) != before-o.Computation {
		t.Fatalf("a debit without an allowance: %s, r=%x", describe(o), c.get(privateReg(top, []byte("r"))))
	}
	// u grants inner 25: two debits of 10 go through, the third is refused.
	mustOK(t, c.block(c.tx(u, transaction.Call{Program: top, Function: "grant", Args: [][]byte{inner[:]}}, txOpts{}, u)))
	innerBefore := c.balance(inner)
	for i, want := range []uint64{0, 0, 0xfffffffe} {
		o = call("debit", u[:])
		if !o.OK || leU64(c.get(privateReg(top, []byte("r")))) != want {
			t.Fatalf("debit %d under the allowance: %s, r=%x", i, describe(o), c.get(privateReg(top, []byte("r"))))
		}
	}
	if c.balance(inner) != innerBefore+20 {
		t.Fatalf("inner gained %d, want 20", c.balance(inner)-innerBefore)
	}
}

// Determinism: the same blocks on a sequential chain, a parallel chain
// and a chain running programs on the interpreter give the same results
// (end states, events, gas).
func TestSameBlocksSameResults(t *testing.T) {
	build := func(workers int, interp bool) *chainT {
		c := newChain(t, 6, 10_000_000, workers)
		if interp {
			vm, err := New(t.Context(), Config{Chain: testChain, Interpreter: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { vm.Close(t.Context()) })
			c.vm, c.eng.VM = vm, vm
		}
		return c
	}
	chains := []*chainT{build(1, false), build(2, false), build(2, true)}
	for _, c := range chains {
		tok := c.addr(2)
		var blk [][]byte
		blk = append(blk, c.tx(tok, transaction.Deploy{Code: example(t, "token")}, txOpts{gas: 5_000_000}, tok))
		for i := 3; i <= 7; i++ {
			blk = append(blk, c.tx(tok, transaction.Call{Program: tok, Function: "mint", Args: [][]byte{addrBytes(c.addr(i)), u64LE(uint64(100 * i))}}, txOpts{}, tok))
		}
		c.block(blk...)
		blk = nil
		for i := 3; i <= 7; i++ {
			a := c.addr(i)
			blk = append(blk,
				c.tx(a, transaction.Call{Program: tok, Function: "transfer", Args: [][]byte{addrBytes(c.addr(3 + (i+1)%5)), u64LE(uint64(10 * i))}}, txOpts{}, a),
				c.tx(a, transaction.Transfer{To: c.addr(3 + i%5), Amount: uint64(i)}, txOpts{}, a))
		}
		c.block(blk...)
	}
	for i, c := range chains[1:] {
		if c.prev.ID() != chains[0].prev.ID() {
			t.Fatalf("chain %d's result %v differs from the sequential chain's %v", i+1, c.prev.ID(), chains[0].prev.ID())
		}
	}
}

func addrBytes(a account.Address) []byte { return a[:] }

// A transaction is atomic: a program that writes its storage, pays
// tokens and emits an event and then aborts leaves none of it; the same
// steps without the abort leave all of it.
func TestFailedProgramLeavesNothing(t *testing.T) {
	c := newChain(t, 3, 10_000_000, 1)
	p, u, to := c.addr(2), c.addr(3), c.addr(4)
	mustOK(t, c.block(
		c.tx(p, transaction.Deploy{Code: fixture(t, "partial")}, txOpts{}, p),
		c.tx(p, transaction.Transfer{To: p, Amount: 100}, txOpts{}, p),
	))
	pb, tb, ub := c.balance(p), c.balance(to), c.balance(u)
	o := c.block(c.tx(u, transaction.Call{Program: p, Function: "run", Args: [][]byte{to[:]}}, txOpts{}, u))[0]
	if o.OK || !strings.Contains(o.Error, "changed my mind") || len(o.Events) != 0 {
		t.Fatalf("aborting program: %s", describe(o))
	}
	if c.get(privateReg(p, []byte("k"))) != nil || c.balance(p) != pb || c.balance(to) != tb || c.balance(u) != ub-o.Computation {
		t.Fatal("an aborted program left changes behind")
	}
	o = c.block(c.tx(u, transaction.Call{Program: p, Function: "ok", Args: [][]byte{to[:]}}, txOpts{}, u))[0]
	if !o.OK || len(o.Events) != 2 || c.get(privateReg(p, []byte("k"))) == nil || c.balance(p) != pb-10 || c.balance(to) != tb+10 {
		t.Fatalf("the same steps without the abort: %s", describe(o))
	}
}
