package access

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/fvm"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/state"
	"github.com/floe-bft/floe/transaction"
)

func (f *fakeExecutor) serveRegisters(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	st := f.accounts
	if f.forged != nil {
		st = f.forged
	}
	f.mu.Unlock()
	var req api.ExecutionRegistersRequest
	if st == nil || json.NewDecoder(r.Body).Decode(&req) != nil {
		api.WriteError(w, http.StatusNotFound, "no state")
		return
	}
	ids := make([]state.RegisterID, len(req.Registers))
	for i, ref := range req.Registers {
		o, _ := hex.DecodeString(ref.Owner)
		k, _ := hex.DecodeString(ref.Key)
		ids[i] = state.RegisterID{Owner: string(o), Key: string(k)}
	}
	v, _ := st.Latest()
	p, err := st.ProveBatch(v, ids)
	if err != nil {
		api.WriteError(w, http.StatusInternalServerError, err.Error())
		return
	}
	api.WriteJSON(w, http.StatusOK, api.ExecutionRegistersResponse{Height: req.Height, Proof: hex.EncodeToString(p.Encode())})
}

// accountsWorld is an access node of a network of accounts whose
// executors serve a state of two accounts (a with 1,000,000 tokens, b
// with 100) at the result of the newest finalized block.
type accountsWorld struct {
	h      *harness
	a, b   account.Address
	ka, kb *account.PrivateKey
	st     *state.Store
}

func newAccountsWorld(t *testing.T, executors int) *accountsWorld {
	t.Helper()
	h := newHarness(t, harnessOpts{collectors: 2, k: 1, height: 5, executors: executors, tweak: func(c *Config) {
		c.Accounts = &Accounts{Chain: testMain}
	}})
	w := &accountsWorld{h: h}
	key := func(seed byte) (*account.PrivateKey, account.Key) {
		k, err := account.GenerateKey(account.Ed25519, account.HashNone, rand.NewChaCha8([32]byte{seed}))
		if err != nil {
			t.Fatal(err)
		}
		pub := k.PublicKey()
		pub.Weight = account.Threshold
		return k, pub
	}
	var pa, pb, ps account.Key
	w.ka, pa = key(1)
	w.kb, pb = key(2)
	_, ps = key(3)
	writes, err := fvm.GenesisWrites(testMain, fvm.GenesisAccount{Keys: []account.Key{ps}},
		[]fvm.GenesisAccount{{Keys: []account.Key{pa}, Balance: 1_000_000}, {Keys: []account.Key{pb}, Balance: 100}})
	if err != nil {
		t.Fatal(err)
	}
	// a's key has proposed 3 transactions already.
	pa.SeqNum = 3
	w.a, _ = account.AddressAt(testMain, 2)
	w.b, _ = account.AddressAt(testMain, 3)
	writes = append(writes, state.Write{ID: fvm.KeyRegister(w.a, 0), Value: pa.Encode()})
	if w.st, err = state.OpenMemory(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.st.Close() })
	root, err := w.st.Commit(1, writes)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range h.executors {
		f.accounts = w.st
	}
	h.finalize(&payload.Payload{Result: &payload.Result{Height: 4, Root: [32]byte(root)}})
	return w
}

// signed is a transfer from a to b proposed with sequence number seq,
// signed by key k, as an encoded envelope naming the reference block.
func (w *accountsWorld) signed(t *testing.T, seq, gas uint64, k *account.PrivateKey, mutate func(*transaction.Transaction)) []byte {
	t.Helper()
	ref := w.h.ref(5)
	tx := &transaction.Transaction{Ref: ref, GasLimit: gas, ProposalKey: transaction.ProposalKey{Address: w.a, SeqNum: seq},
		Payer: w.a, Authorizers: []account.Address{w.a}, Op: transaction.Transfer{To: w.b, Amount: 10}}
	if mutate != nil {
		mutate(tx)
	}
	if err := tx.SignEnvelope(testMain, tx.Payer, 0, k); err != nil {
		t.Fatal(err)
	}
	return collection.Tx{Ref: ref, Body: tx.Encode()}.Encode()
}

// At ingress a signed transaction is checked against its accounts as the
// executors prove them: a valid one is accepted, one ahead of the proven
// sequence number too (the account may have transactions in flight);
// each kind of bad one is refused with its reason and never forwarded.
func TestSignedTransactionsCheckedAtIngress(t *testing.T) {
	w := newAccountsWorld(t, 1)
	good := w.signed(t, 3, 10_000, w.ka, nil)
	ahead := w.signed(t, 7, 10_000, w.ka, nil)
	for i, s := range w.h.svc.Submit([][]byte{good, ahead}) {
		if s.Error != nil {
			t.Fatalf("transaction %d refused: %v", i, s.Error)
		}
	}
	forwarded := func() int {
		n := 0
		for _, c := range w.h.collectors {
			n += c.total()
		}
		return n
	}
	w.h.eventually("both forwarded to both members", func() bool { return forwarded() >= 4 })
	before := forwarded()
	cases := map[string]struct {
		tx   []byte
		want error
		why  string
	}{
		"a replay":         {w.signed(t, 2, 10_000, w.ka, nil), ErrUnauthorizedTx, "replay"},
		"the wrong key":    {w.signed(t, 3, 10_000, w.kb, nil), ErrUnauthorizedTx, "signature"},
		"a payer too poor": {w.signed(t, 3, 2_000_000, w.ka, nil), ErrCannotPay, "costs"},
		"an unknown account": {w.signed(t, 3, 10_000, w.ka, func(tx *transaction.Transaction) {
			x, _ := account.AddressAt(testMain, 40)
			tx.Payer, tx.ProposalKey.Address, tx.Authorizers = x, x, []account.Address{x}
		}), ErrUnauthorizedTx, "account"},
		"another reference": {w.signed(t, 3, 10_000, w.ka, func(tx *transaction.Transaction) { tx.Ref = w.h.ref(4) }), ErrMalformed, "reference"},
		"not a transaction": {collection.Tx{Ref: w.h.ref(5), Body: []byte("set k=v")}.Encode(), ErrMalformed, "transaction"},
	}
	for name, c := range cases {
		got := w.h.svc.Submit([][]byte{c.tx})[0].Error
		if !errors.Is(got, c.want) || !strings.Contains(got.Error(), c.why) {
			t.Errorf("%s: %v, want %v (%q)", name, got, c.want, c.why)
		}
	}
	if forwarded() != before {
		t.Fatalf("refused transactions were forwarded: %d, was %d", forwarded(), before)
	}
}

// An executor whose batch proof does not verify is passed over; with no
// honest one the transaction is refused as unavailable (retry), never
// let through unchecked.
func TestIngressNeedsAProvenAccount(t *testing.T) {
	w := newAccountsWorld(t, 2)
	forged, err := state.OpenMemory()
	if err != nil {
		t.Fatal(err)
	}
	defer forged.Close()
	// The same accounts, but b rich: a consistent proof of another state.
	rich := state.Write{ID: fvm.BalanceRegister(w.a), Value: []byte{0xff, 0, 0, 0, 0, 0, 0, 0}}
	if _, err := forged.Commit(1, []state.Write{rich}); err != nil {
		t.Fatal(err)
	}
	w.h.executors[0].forged = forged
	if s := w.h.svc.Submit([][]byte{w.signed(t, 3, 10_000, w.ka, nil)})[0]; s.Error != nil {
		t.Fatalf("with one honest executor: %v", s.Error)
	}
	w.h.executors[1].forged = forged
	w.h.svc.accounts = newAccountCache(10, 0, w.h.svc.cfg.Now) // nothing cached
	if s := w.h.svc.Submit([][]byte{w.signed(t, 3, 10_000, w.ka, nil)})[0]; !errors.Is(s.Error, ErrAccountsUnavailable) {
		t.Fatalf("with no honest executor: %v", s.Error)
	}
}

// GET /v1/accounts/{address} answers the proven account; a mistyped
// address is 400.
func TestAccountEndpoint(t *testing.T) {
	w := newAccountsWorld(t, 1)
	mux := http.NewServeMux()
	w.h.svc.Routes(func(p string, h http.HandlerFunc) { mux.HandleFunc(p, h) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/v1/accounts/" + w.a.Hex())
	if err != nil {
		t.Fatal(err)
	}
	var got api.AccountResponse
	json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !got.Exists || got.Balance != 1_000_000 || len(got.Keys) != 1 || got.Keys[0].SeqNum != 3 ||
		got.Keys[0].Weight != account.Threshold || got.Height != 4 || got.Sealed {
		t.Fatalf("account: %d %+v", resp.StatusCode, got)
	}
	typo := []byte(w.a.Hex())
	typo[len(typo)-1] ^= 1
	resp, err = http.Get(srv.URL + "/v1/accounts/" + string(typo))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a mistyped address: %d", resp.StatusCode)
	}
	got2, err := w.h.svc.Account(context.Background(), func() account.Address { a, _ := account.AddressAt(testMain, 50); return a }())
	if err != nil || got2.Exists {
		t.Fatalf("an account that does not exist: %+v, %v", got2, err)
	}
}

// A block whose Result no executor proves anything against (a byzantine
// executor's wrong end state got incorporated first) does not stop
// reads or ingress: they fall back to the newest earlier Result an
// executor proves.
func TestAccountReadsFallBackPastAnUnprovableResult(t *testing.T) {
	w := newAccountsWorld(t, 2)
	w.h.finalize(&payload.Payload{Result: &payload.Result{Height: 5, Root: [32]byte{0xba, 0xd}}})
	got, err := w.h.svc.Account(context.Background(), w.a)
	if err != nil || !got.Exists || got.Height != 4 || got.Balance != 1_000_000 {
		t.Fatalf("account past a wrong Result: %+v, %v", got, err)
	}
	if s := w.h.svc.Submit([][]byte{w.signed(t, 3, 10_000, w.ka, nil)})[0]; s.Error != nil {
		t.Fatalf("ingress past a wrong Result: %v", s.Error)
	}
}
