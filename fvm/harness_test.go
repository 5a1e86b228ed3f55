package fvm

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/execution"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/state"
	"github.com/floe-bft/floe/transaction"
)

var testChain = model.MainChain("fvm-test")

// chainT executes blocks of signed transactions with the real engine
// over an in-memory state, and checks every chunk of every block from
// its data pack alone (execution.VerifyChunk), as a verifier would.
type chainT struct {
	t       testing.TB
	vm      *VM
	st      *state.Store
	eng     *execution.Engine
	prev    *payload.ExecutionResult
	version uint64
	height  uint64
	signers map[account.Address][]*account.PrivateKey
	seq     map[account.Address]uint64 // key 0's next sequence number
	rng     *rand.ChaCha8
}

// newChain makes a chain whose genesis holds the service account and n
// user accounts (indexes 2..n+1), each with one full-weight key and
// balance tokens; workers is the engine's (1: sequential).
func newChain(t testing.TB, n int, bal uint64, workers int) *chainT {
	t.Helper()
	vm, err := New(context.Background(), Config{Chain: testChain})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vm.Close(context.Background()) })
	st, err := state.OpenMemory()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := &chainT{t: t, vm: vm, st: st, eng: &execution.Engine{State: st, VM: vm, Workers: workers},
		signers: map[account.Address][]*account.PrivateKey{}, seq: map[account.Address]uint64{},
		rng: rand.NewChaCha8([32]byte{7}), version: execution.GenesisVersion}
	var gas []GenesisAccount
	for i := 0; i <= n; i++ {
		k := c.newKey(account.Ed25519, account.HashNone)
		pub := k.PublicKey()
		pub.Weight = account.Threshold
		gas = append(gas, GenesisAccount{Keys: []account.Key{pub}, Balance: bal})
		c.signers[c.addr(i+1)] = []*account.PrivateKey{k}
	}
	writes, err := GenesisWrites(testChain, gas[0], gas[1:])
	if err != nil {
		t.Fatal(err)
	}
	root, err := st.Commit(execution.GenesisVersion, writes)
	if err != nil {
		t.Fatal(err)
	}
	c.prev = payload.GenesisResult(model.Identifier{0xee}, model.Identifier(root))
	return c
}

func (c *chainT) newKey(s account.SigAlgo, h account.HashAlgo) *account.PrivateKey {
	var seed [32]byte
	c.rng.Read(seed[:])
	k, err := account.GenerateKey(s, h, rand.NewChaCha8(seed))
	if err != nil {
		c.t.Fatal(err)
	}
	return k
}

// addr is the address of account index i (1: the service account).
func (c *chainT) addr(i int) account.Address {
	a, err := account.AddressAt(testChain, uint64(i))
	if err != nil {
		c.t.Fatal(err)
	}
	return a
}

// txOpts tunes a transaction built by tx.
type txOpts struct {
	gas       uint64
	keyIndex  uint32 // the signing key of the proposer = payer = authorizers
	seq       *uint64
	noAdvance bool
}

// tx builds op proposed and paid by payer (key 0 unless opts say), with
// the authorizers, everyone signing with their key opts.keyIndex.
func (c *chainT) tx(payer account.Address, op transaction.Operation, opts txOpts, auths ...account.Address) []byte {
	c.t.Helper()
	if opts.gas == 0 {
		opts.gas = 100_000
	}
	seq := c.seq[payer]
	if opts.seq != nil {
		seq = *opts.seq
	} else if !opts.noAdvance {
		c.seq[payer]++
	}
	tx := &transaction.Transaction{Ref: model.Identifier{1}, GasLimit: opts.gas,
		ProposalKey: transaction.ProposalKey{Address: payer, KeyIndex: opts.keyIndex, SeqNum: seq},
		Payer:       payer, Authorizers: auths, Op: op}
	for _, a := range auths {
		if a != payer {
			if err := tx.SignPayload(testChain, a, 0, c.signers[a][0]); err != nil {
				c.t.Fatal(err)
			}
		}
	}
	if err := tx.SignEnvelope(testChain, payer, opts.keyIndex, c.signers[payer][opts.keyIndex]); err != nil {
		c.t.Fatal(err)
	}
	return tx.Encode()
}

// block executes one block of one collection holding bodies, checks
// every chunk from its data pack, and returns the outcomes.
func (c *chainT) block(bodies ...[]byte) []execution.TxOutcome {
	c.t.Helper()
	x := c.execute(bodies...)
	return x.Txs
}

func (c *chainT) execute(bodies ...[]byte) *execution.Executed {
	c.t.Helper()
	c.height++
	txs := make([]collection.Tx, len(bodies))
	for i, b := range bodies {
		txs[i] = collection.Tx{Ref: model.Identifier{1}, Body: b}
	}
	blk := execution.Block{ID: model.Identifier{byte(c.height), byte(c.height >> 8), 0xb1}, Height: c.height}
	if len(txs) > 0 {
		blk.Collections = []*collection.Collection{collection.NewCollection(txs)}
	}
	x, err := c.eng.Execute(context.Background(), blk, c.prev, c.version)
	if err != nil {
		c.t.Fatal(err)
	}
	// A verifier with nothing cached: the pack must hold the code of every
	// program run, too.
	verifier, err := New(context.Background(), Config{Chain: testChain})
	if err != nil {
		c.t.Fatal(err)
	}
	defer verifier.Close(context.Background())
	for i, p := range x.Packs {
		if err := execution.VerifyChunk(verifier, x.Result, i, p); err != nil {
			c.t.Fatalf("height %d chunk %d does not verify from its data pack: %v", c.height, i, err)
		}
	}
	c.prev, c.version = x.Result, x.EndVersion
	return x
}

func (c *chainT) get(id state.RegisterID) []byte {
	c.t.Helper()
	v, err := c.st.Reader(c.version).Get(id)
	if err != nil {
		c.t.Fatal(err)
	}
	return v
}

func (c *chainT) balance(a account.Address) uint64 {
	c.t.Helper()
	b, err := DecodeBalance(c.get(balanceReg(a)))
	if err != nil {
		c.t.Fatal(err)
	}
	return b
}

func (c *chainT) key(a account.Address, i uint32) account.Key {
	c.t.Helper()
	k, err := account.DecodeKey(c.get(keyReg(a, i)))
	if err != nil {
		c.t.Fatal(err)
	}
	return k
}

func u64LE(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// example loads a built example program (examples/build.sh).
func example(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "examples", name, name+".wasm"))
	if err != nil {
		t.Fatalf("example %s: %v (build it with examples/build.sh)", name, err)
	}
	return b
}

func mustOK(t testing.TB, outs []execution.TxOutcome) {
	t.Helper()
	for i, o := range outs {
		if !o.OK {
			t.Fatalf("transaction %d failed: %s", i, o.Error)
		}
	}
}

func describe(o execution.TxOutcome) string {
	return fmt.Sprintf("ok=%v err=%q gas=%d events=%d", o.OK, o.Error, o.Computation, len(o.Events))
}
