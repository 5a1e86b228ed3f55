// Package fakeaccess is a stand-in access node for tests of clients of
// signed transactions (package client, the floe command): it serves the
// endpoints a wallet uses (GET /v1/status, GET /v1/accounts/{address},
// POST /v1/transactions in the binary format, GET /v1/transactions/{id})
// over an in-memory set of accounts, and "executes" what it is sent at
// once. Authorization is real (transaction.Check against the accounts'
// keys, on the chain the status names), so a test fails if a client signs
// wrongly; execution is a sketch of the VM's (the operations' effects and
// events, no fees, no programs: a call succeeds if the program exists
// and is recorded). It is not the VM: end-to-end runs check that.
package fakeaccess

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/mempool"
	"github.com/floe-bft/floe/transaction"
)

// ChainName is the chain the fake node serves.
const ChainName = "floe-fake"

// Chain is ChainName's main chain ID.
var Chain = model.MainChain(ChainName)

// Ref is the fake node's finalized block: the only reference it accepts.
var Ref = model.Identifier{0xfe, 0xed}

// GasUsed is the computation every executed transaction reports.
const GasUsed = 1234

type acct struct {
	keys     []account.Key
	balance  uint64
	code     []byte
	codeHash [32]byte
}

// Node is the fake access node. Its exported fields may be set before
// the first request.
type Node struct {
	// Reject, if set, refuses every submission with this reason.
	Reject string
	// PendingPolls is how many lookups of each transaction answer
	// "pending" before "executed".
	PendingPolls int
	// NoOutcome leaves executed transactions without an outcome (as
	// before an execution node answered).
	NoOutcome bool

	mu       sync.Mutex
	accounts map[account.Address]*acct
	next     uint64
	txs      map[model.Identifier]*record
	sent     []*transaction.Transaction
}

type record struct {
	polls   int
	ok      bool
	err     string
	events  []api.EventInfo
	expired bool
}

// New returns a node without accounts: AddAccount makes them, from the
// service account's index (1) up.
func New() *Node {
	return &Node{accounts: map[account.Address]*acct{}, next: account.ServiceIndex, txs: map[model.Identifier]*record{}}
}

// AddAccount creates an account with keys and balance and returns its
// address (the next index, from 1).
func (n *Node) AddAccount(balance uint64, keys ...account.Key) account.Address {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.create(balance, keys)
}

func (n *Node) create(balance uint64, keys []account.Key) account.Address {
	a, err := account.AddressAt(Chain, n.next)
	if err != nil {
		panic(err) // only after 2^45 accounts: no test gets there
	}
	n.next++
	n.accounts[a] = &acct{keys: append([]account.Key(nil), keys...), balance: balance}
	return a
}

// Keys returns a copy of the account's keys (nil if it does not exist).
func (n *Node) Keys(a account.Address) []account.Key {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ac := n.accounts[a]; ac != nil {
		return append([]account.Key(nil), ac.keys...)
	}
	return nil
}

// Balance returns the account's balance.
func (n *Node) Balance(a account.Address) uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ac := n.accounts[a]; ac != nil {
		return ac.balance
	}
	return 0
}

// Sent returns the transactions submitted so far.
func (n *Node) Sent() []*transaction.Transaction {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]*transaction.Transaction(nil), n.sent...)
}

// Expire makes the transaction's status "expired".
func (n *Node) Expire(id model.Identifier) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if r := n.txs[id]; r != nil {
		r.expired = true
	}
}

// Handler serves the node's API.
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) {
		api.WriteJSON(w, 200, api.StatusResponse{Name: "fake-access", ChainID: ChainName, FinalizedHeight: 5, FinalizedID: Ref.Hex()})
	})
	mux.HandleFunc("GET /v1/accounts/{address}", n.handleAccount)
	mux.HandleFunc("POST /v1/transactions", n.handleSubmit)
	mux.HandleFunc("GET /v1/transactions/{id}", n.handleTx)
	return mux
}

func (n *Node) handleAccount(w http.ResponseWriter, r *http.Request) {
	a, err := account.ParseAddress(r.PathValue("address"), Chain)
	if err != nil {
		api.WriteError(w, 400, err.Error())
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	resp := api.AccountResponse{Address: a.Hex(), Height: 7, Root: hex.EncodeToString(make([]byte, 32)), BlockHeight: 9}
	if ac := n.accounts[a]; ac != nil {
		resp.Exists, resp.Balance = true, ac.balance
		for i, k := range ac.keys {
			resp.Keys = append(resp.Keys, api.AccountKey{Index: uint32(i), PublicKey: hex.EncodeToString(k.PublicKey),
				SigAlgo: k.SigAlgo.String(), HashAlgo: k.HashAlgo.String(), Weight: k.Weight, Revoked: k.Revoked, SeqNum: k.SeqNum})
		}
		if ac.code != nil {
			resp.CodeHash, resp.CodeSize = hex.EncodeToString(ac.codeHash[:]), uint32(len(ac.code))
		}
	}
	api.WriteJSON(w, 200, resp)
}

func (n *Node) handleSubmit(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Content-Type") != api.ContentTypeBinary {
		api.WriteError(w, 400, "the fake access node takes binary batches only")
		return
	}
	body := http.MaxBytesReader(w, r.Body, 2<<20)
	raw, err := io.ReadAll(body)
	if err != nil {
		api.WriteError(w, 400, err.Error())
		return
	}
	batch, err := mempool.DecodePayload(raw, 1)
	if err != nil || len(batch) != 1 {
		api.WriteError(w, 400, fmt.Sprintf("want one transaction: %v", err))
		return
	}
	reject := func(id model.Identifier, why string) {
		api.WriteJSON(w, 400, api.SubmitResponse{Rejected: 1, Error: "all 1 transactions were rejected: " + why,
			Results: []api.SubmitResult{{Index: 0, ID: id.Hex(), Error: why, Code: api.CodeInvalid}}})
	}
	env, err := collection.DecodeTx(batch[0], collection.DefaultLimits())
	if err != nil {
		reject(model.ZeroID, err.Error())
		return
	}
	id := env.ID()
	if n.Reject != "" {
		reject(id, n.Reject)
		return
	}
	if env.Ref != Ref {
		reject(id, "unknown reference block "+env.Ref.Hex())
		return
	}
	tx, err := transaction.Decode(env.Body)
	if err != nil {
		reject(id, err.Error())
		return
	}
	n.mu.Lock()
	n.sent = append(n.sent, tx)
	n.txs[id] = n.execute(tx)
	n.mu.Unlock()
	api.WriteJSON(w, 202, api.SubmitResponse{Accepted: 1})
}

// execute runs tx as the VM would in outline; n.mu is held.
func (n *Node) execute(tx *transaction.Transaction) *record {
	lookup := func(a account.Address) ([]account.Key, error) {
		if ac := n.accounts[a]; ac != nil {
			return ac.keys, nil
		}
		return nil, fmt.Errorf("%w: %s", account.ErrUnknownAccount, a)
	}
	v := transaction.Check(tx, Chain, lookup, 1)
	if v.ProposerValid {
		n.accounts[tx.ProposalKey.Address].keys[tx.ProposalKey.KeyIndex].SeqNum++
	}
	if v.Err != nil {
		return &record{err: fmt.Sprintf("not authorized: %s: %v", v.Role, v.Err)}
	}
	ev := func(typ string, parts ...[]byte) api.EventInfo {
		var p []byte
		for _, b := range parts {
			p = append(p, b...)
		}
		return api.EventInfo{Type: typ, Payload: hex.EncodeToString(p)}
	}
	u32 := func(i uint32) []byte { return binary.BigEndian.AppendUint32(nil, i) }
	fail := func(format string, args ...any) *record { return &record{err: fmt.Sprintf(format, args...)} }
	switch op := tx.Op.(type) {
	case transaction.CreateAccount:
		a := n.create(0, op.Keys)
		return &record{ok: true, events: []api.EventInfo{ev("account.created", a[:])}}
	case transaction.AddKey:
		a := tx.Authorizers[0]
		ac := n.accounts[a]
		ac.keys = append(ac.keys, op.Key)
		return &record{ok: true, events: []api.EventInfo{ev("account.key_added", a[:], u32(uint32(len(ac.keys)-1)))}}
	case transaction.RevokeKey:
		a := tx.Authorizers[0]
		ac := n.accounts[a]
		if int(op.Index) >= len(ac.keys) || ac.keys[op.Index].Revoked {
			return fail("invalid key index: %s has no unrevoked key %d", a, op.Index)
		}
		ac.keys[op.Index].Revoked = true
		return &record{ok: true, events: []api.EventInfo{ev("account.key_revoked", a[:], u32(op.Index))}}
	case transaction.Transfer:
		from, to := n.accounts[tx.Authorizers[0]], n.accounts[op.To]
		switch {
		case to == nil:
			return fail("no such account: %s", op.To)
		case from.balance < op.Amount:
			return fail("insufficient balance: %s holds %d", tx.Authorizers[0], from.balance)
		}
		from.balance -= op.Amount
		to.balance += op.Amount
		return &record{ok: true, events: []api.EventInfo{ev("token.transfer", tx.Authorizers[0][:], op.To[:], binary.BigEndian.AppendUint64(nil, op.Amount))}}
	case transaction.Deploy:
		a := tx.Authorizers[0]
		ac := n.accounts[a]
		ac.code, ac.codeHash = append([]byte(nil), op.Code...), sha256.Sum256(op.Code)
		return &record{ok: true, events: []api.EventInfo{ev("program.deployed", a[:], ac.codeHash[:])}}
	case transaction.Call:
		if ac := n.accounts[op.Program]; ac == nil || ac.code == nil {
			return fail("no program deployed: %s", op.Program)
		}
		var args []byte
		for _, a := range op.Args {
			args = append(args, a...)
		}
		return &record{ok: true, events: []api.EventInfo{ev(fmt.Sprintf("%x.%s", op.Program[:], op.Function), args)}}
	}
	return fail("unknown operation")
}

func (n *Node) handleTx(w http.ResponseWriter, r *http.Request) {
	id, err := model.ParseIdentifier(r.PathValue("id"))
	if err != nil {
		api.WriteError(w, 400, err.Error())
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	rec := n.txs[id]
	if rec == nil {
		api.WriteJSON(w, 404, api.TxResponse{ID: id.Hex(), Status: "unknown", Error: "transaction not known to this node"})
		return
	}
	rec.polls++
	switch {
	case rec.expired:
		api.WriteJSON(w, 200, api.TxResponse{ID: id.Hex(), Status: api.TxExpired, Stages: &api.TxStages{Error: "reference block expired"}})
		return
	case rec.polls <= n.PendingPolls:
		api.WriteJSON(w, 200, api.TxResponse{ID: id.Hex(), Status: api.TxPending, Stages: &api.TxStages{}})
		return
	}
	st := &api.TxStages{FinalizedHeight: 6, ExecutedHeight: 6}
	resp := api.TxResponse{ID: id.Hex(), Status: api.TxExecuted, Stages: st}
	if !n.NoOutcome {
		ok := rec.ok
		st.OK, st.ExecError = &ok, rec.err
		events := rec.events
		if events == nil {
			events = []api.EventInfo{}
		}
		resp.Execution = &api.TxExecution{Result: hex.EncodeToString(make([]byte, 32)), Computation: GasUsed, Events: events}
	}
	api.WriteJSON(w, 200, resp)
}
