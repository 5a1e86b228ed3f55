package client

import (
	"bytes"
	"context"
	"errors"
	"math/rand"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/internal/fakeaccess"
	"github.com/floe-bft/floe/transaction"
)

// testKey is a deterministic key of algo (seeded).
func testKey(t *testing.T, algo account.SigAlgo, seed int64) *account.PrivateKey {
	t.Helper()
	hash := account.HashNone
	if algo == account.ECDSA_P256 {
		hash = account.SHA3_256
	}
	k, err := account.GenerateKey(algo, hash, rand.New(rand.NewSource(seed)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func withWeight(k account.Key, w uint32) account.Key { k.Weight = w; return k }

func fakeNode(t *testing.T) (*fakeaccess.Node, *Client) {
	t.Helper()
	n := fakeaccess.New()
	srv := httptest.NewServer(n.Handler())
	t.Cleanup(srv.Close)
	return n, New(srv.URL)
}

// A create-account transaction prepared against the node carries its
// chain's reference block, the proposal key's sequence number and the
// default gas limit, passes the node's authorization, and its executed
// status names the new account; the ID is the pipeline envelope's.
func TestPrepareSendWaitCreateAccount(t *testing.T) {
	n, c := fakeNode(t)
	n.PendingPolls = 1 // one "pending" answer before "executed"
	svcKey := testKey(t, account.Ed25519, 1)
	pub := svcKey.PublicKey()
	pub.SeqNum = 5
	svc := n.AddAccount(1_000_000, pub)
	wallet := Wallet{Address: svc, Key: svcKey}
	newKey := testKey(t, account.ECDSA_P256, 2)
	ctx := context.Background()

	tx, err := c.Prepare(ctx, transaction.CreateAccount{Keys: []account.Key{newKey.PublicKey()}}, wallet, wallet)
	if err != nil {
		t.Fatal(err)
	}
	if tx.Ref != fakeaccess.Ref || tx.ProposalKey.SeqNum != 5 || tx.GasLimit != DefaultGasLimit || tx.Payer != svc ||
		len(tx.PayloadSignatures) != 0 || len(tx.EnvelopeSignatures) != 1 {
		t.Fatalf("prepared %+v", tx)
	}
	id, err := c.SendTransaction(ctx, tx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (collection.Tx{Ref: tx.Ref, Body: tx.Encode()}).ID(); id != want || TxID(tx) != want {
		t.Fatalf("id %s, want the envelope's %s", id, want)
	}
	st, err := c.WaitExecuted(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if ok, reason, known := TxOutcome(st); !ok || !known {
		t.Fatalf("outcome ok=%v known=%v %q", ok, known, reason)
	}
	created, err := CreatedAccount(st)
	if err != nil {
		t.Fatal(err)
	}
	if keys := n.Keys(created); len(keys) != 1 || !keys[0].Equal(newKey.PublicKey()) {
		t.Fatalf("created %s with keys %+v", created, keys)
	}
	if n.Keys(svc)[0].SeqNum != 6 {
		t.Fatal("the proposal key's sequence number did not advance: the transaction was not authorized")
	}
	// The next transaction picks up the advanced sequence number.
	tx2, err := c.Prepare(ctx, transaction.Transfer{To: created, Amount: 7}, wallet, wallet, wallet)
	if err != nil {
		t.Fatal(err)
	}
	if tx2.ProposalKey.SeqNum != 6 {
		t.Fatalf("second transaction's seq %d", tx2.ProposalKey.SeqNum)
	}
}

// Proposer, payer and authorizer are three accounts; the authorizer signs
// with two half-weight keys. The payer signs the envelope only, the
// others the payload, and the node's real authorization check passes.
func TestPrepareSeparateRolesAndWeights(t *testing.T) {
	n, c := fakeNode(t)
	pk, yk := testKey(t, account.Ed25519, 10), testKey(t, account.ECDSA_P256, 11)
	a1, a2 := testKey(t, account.Ed25519, 12), testKey(t, account.ECDSA_P256, 13)
	proposer := n.AddAccount(0, pk.PublicKey())
	payer := n.AddAccount(1_000_000, yk.PublicKey())
	auth := n.AddAccount(500, withWeight(a1.PublicKey(), 500), withWeight(a2.PublicKey(), 500))
	to := n.AddAccount(0, testKey(t, account.Ed25519, 14).PublicKey())
	ctx := context.Background()

	_, st, err := c.Execute(ctx, TxOptions{GasLimit: 777}, transaction.Transfer{To: to, Amount: 300},
		Wallet{Address: proposer, Key: pk}, Wallet{Address: payer, Key: yk},
		Wallet{Address: auth, KeyIndex: 0, Key: a1}, Wallet{Address: auth, KeyIndex: 1, Key: a2})
	if err != nil {
		t.Fatal(err)
	}
	tx := n.Sent()[0]
	if tx.GasLimit != 777 || len(tx.Authorizers) != 1 || tx.Authorizers[0] != auth {
		t.Fatalf("sent %+v", tx)
	}
	if len(tx.PayloadSignatures) != 3 || len(tx.EnvelopeSignatures) != 1 || tx.EnvelopeSignatures[0].Address != payer {
		t.Fatalf("signatures: payload %d, envelope %+v", len(tx.PayloadSignatures), tx.EnvelopeSignatures)
	}
	if n.Balance(to) != 300 || n.Balance(auth) != 200 {
		t.Fatalf("balances %d, %d", n.Balance(to), n.Balance(auth))
	}
	if len(Events(st)) != 1 || DescribeEvent(Events(st)[0]) != auth.Hex()+" -> "+to.Hex()+" amount 300" {
		t.Fatalf("events %+v", Events(st))
	}

	// Proposer and payer one account, two keys: both sign the envelope.
	k0, k1 := testKey(t, account.Ed25519, 20), testKey(t, account.Ed25519, 21)
	both := n.AddAccount(1_000_000, k0.PublicKey(), withWeight(k1.PublicKey(), 0))
	if _, _, err := c.Execute(ctx, TxOptions{}, transaction.Transfer{To: to, Amount: 1},
		Wallet{Address: both, KeyIndex: 1, Key: k1}, Wallet{Address: both, Key: k0}, Wallet{Address: both, Key: k0}); err != nil {
		t.Fatal(err)
	}
	tx = n.Sent()[1]
	if len(tx.PayloadSignatures) != 0 || len(tx.EnvelopeSignatures) != 2 || tx.ProposalKey.KeyIndex != 1 {
		t.Fatalf("signatures: payload %d, envelope %d, proposal key %d", len(tx.PayloadSignatures), len(tx.EnvelopeSignatures), tx.ProposalKey.KeyIndex)
	}
}

// Prepare refuses, before sending anything, a wallet the account does not
// back: unknown account, missing or revoked key, another public key, and
// keys that weigh too little.
func TestPrepareRefusesBadWallets(t *testing.T) {
	n, c := fakeNode(t)
	k, other := testKey(t, account.Ed25519, 30), testKey(t, account.Ed25519, 31)
	half := testKey(t, account.Ed25519, 32)
	a := n.AddAccount(1000, k.PublicKey())
	revoked := k.PublicKey()
	revoked.Revoked = true
	r := n.AddAccount(1000, revoked)
	h := n.AddAccount(1000, withWeight(half.PublicKey(), 999))
	missing, _ := account.AddressAt(fakeaccess.Chain, 99)
	op := transaction.Transfer{To: a, Amount: 1}
	for name, tc := range map[string]struct {
		w    Wallet
		want error
	}{
		"no account":   {Wallet{Address: missing, Key: k}, ErrNoAccount},
		"no such key":  {Wallet{Address: a, KeyIndex: 1, Key: k}, ErrKeyMismatch},
		"other key":    {Wallet{Address: a, Key: other}, ErrKeyMismatch},
		"revoked key":  {Wallet{Address: r, Key: k}, ErrKeyMismatch},
		"light key":    {Wallet{Address: h, Key: half}, ErrInsufficientWeight},
		"no signer":    {Wallet{Address: a}, ErrKeyMismatch},
		"other chain":  {Wallet{Address: account.ServiceAddress(model.MainChain("other")), Key: k}, account.ErrInvalidAddress},
		"zero address": {Wallet{Key: k}, account.ErrInvalidAddress},
	} {
		_, err := c.Prepare(context.Background(), op, tc.w, tc.w, tc.w)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	if len(n.Sent()) != 0 {
		t.Fatal("a refused wallet still sent a transaction")
	}
}

// The node's refusal comes back as a *RejectedError with its reason; a
// structurally invalid transaction is refused before sending.
func TestSendTransactionRefusals(t *testing.T) {
	n, c := fakeNode(t)
	k := testKey(t, account.Ed25519, 40)
	a := n.AddAccount(1000, k.PublicKey())
	w := Wallet{Address: a, Key: k}
	tx, err := c.Prepare(context.Background(), transaction.Transfer{To: a, Amount: 1}, w, w, w)
	if err != nil {
		t.Fatal(err)
	}
	n.Reject = "invalid signature: key 0 of " + a.Hex()
	_, err = c.SendTransaction(context.Background(), tx)
	var re *RejectedError
	if !errors.As(err, &re) || re.Reason != n.Reject || re.ID != TxID(tx).Hex() {
		t.Fatalf("refusal: %v", err)
	}
	tx.EnvelopeSignatures = append(tx.EnvelopeSignatures, tx.EnvelopeSignatures[0]) // duplicated
	if _, err := c.SendTransaction(context.Background(), tx); !errors.Is(err, transaction.ErrMalformed) {
		t.Fatalf("invalid transaction: %v", err)
	}
}

// An executed transaction that failed is reported as such (Execute's
// error wraps ErrTxFailed with the reason); an expired one ends the wait
// with ErrTxDropped; without an outcome the wait lasts until ctx ends.
func TestWaitExecutedOutcomes(t *testing.T) {
	n, c := fakeNode(t)
	k := testKey(t, account.Ed25519, 50)
	a := n.AddAccount(10, k.PublicKey())
	w := Wallet{Address: a, Key: k}
	ctx := context.Background()
	_, st, err := c.Execute(ctx, TxOptions{}, transaction.Transfer{To: a, Amount: 11}, w, w, w)
	if !errors.Is(err, ErrTxFailed) || !strings.Contains(err.Error(), "insufficient balance") {
		t.Fatalf("failed transfer: %v", err)
	}
	if ok, reason, known := TxOutcome(st); ok || !known || !strings.Contains(reason, "insufficient balance") {
		t.Fatalf("outcome %v %q %v", ok, reason, known)
	}

	tx, err := c.Prepare(ctx, transaction.Transfer{To: a, Amount: 1}, w, w, w)
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.SendTransaction(ctx, tx)
	if err != nil {
		t.Fatal(err)
	}
	n.Expire(id)
	if _, err := c.WaitExecuted(ctx, id); !errors.Is(err, ErrTxDropped) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired: %v", err)
	}

	n.NoOutcome = true
	tx, err = c.Prepare(ctx, transaction.Transfer{To: a, Amount: 1}, w, w, w)
	if err != nil {
		t.Fatal(err)
	}
	id, err = c.SendTransaction(ctx, tx)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	defer cancel()
	st, err = c.WaitExecuted(short, id)
	if !errors.Is(err, ErrOutcomeUnknown) || st.Status != api.TxExecuted {
		t.Fatalf("no outcome: %v (status %q)", err, st.Status)
	}
}

func TestParseCallArg(t *testing.T) {
	chain := fakeaccess.Chain
	addr, _ := account.AddressAt(chain, 3)
	typo := addr
	typo[7] ^= 1
	for in, want := range map[string]string{
		addr.Hex():                 string(addr[:]),
		"42":                       "\x2a\x00\x00\x00\x00\x00\x00\x00",
		"u64:258":                  "\x02\x01\x00\x00\x00\x00\x00\x00",
		"u64:18446744073709551615": "\xff\xff\xff\xff\xff\xff\xff\xff",
		"hex:0aff":                 "\x0a\xff",
		"hex:0x01":                 "\x01",
		"hex:":                     "",
		"str:héllo":                "héllo",
		"str:":                     "",
	} {
		got, err := ParseCallArg(in, chain)
		if err != nil || string(got) != want {
			t.Errorf("ParseCallArg(%q) = %x, %v; want %x", in, got, err, want)
		}
	}
	for in, want := range map[string]error{
		typo.Hex():                 account.ErrInvalidAddress,
		"0x1234":                   ErrInvalidArg,
		"u64:18446744073709551616": ErrInvalidArg,
		"u64:-1":                   ErrInvalidArg,
		"-5":                       ErrInvalidArg,
		"hex:zz":                   ErrInvalidArg,
		"str:\xff":                 ErrInvalidArg,
		"":                         ErrInvalidArg,
		"hello":                    ErrInvalidArg,
	} {
		if _, err := ParseCallArg(in, chain); !errors.Is(err, want) {
			t.Errorf("ParseCallArg(%q): %v, want %v", in, err, want)
		}
	}
	if a, fn, err := ParseCallTarget(addr.Hex()+".mint", chain); err != nil || a != addr || fn != "mint" {
		t.Errorf("target: %s %q %v", a, fn, err)
	}
	for _, bad := range []string{addr.Hex(), addr.Hex() + ".", typo.Hex() + ".mint"} {
		if _, _, err := ParseCallTarget(bad, chain); err == nil {
			t.Errorf("ParseCallTarget(%q) accepted", bad)
		}
	}
}

func TestDefaultGas(t *testing.T) {
	if DefaultGas(transaction.Transfer{}) != DefaultGasLimit ||
		DefaultGas(transaction.Deploy{Code: make([]byte, 1000)}) != DefaultGasLimit+1000*DeployGasPerByte {
		t.Fatal("default gas")
	}
}

// WriteExecuted prints the outcome, the gas and the events (the VM's
// decoded) and returns ErrTxFailed for a failed transaction.
func TestWriteExecuted(t *testing.T) {
	addr, _ := account.AddressAt(fakeaccess.Chain, 2)
	yes, no := true, false
	st := api.TxResponse{ID: "ab", Status: api.TxExecuted, Stages: &api.TxStages{OK: &yes, FinalizedHeight: 3, ExecutedHeight: 4},
		Execution: &api.TxExecution{Computation: 4321, Events: []api.EventInfo{
			{Type: EventAccountCreated, Payload: strings.TrimPrefix(addr.Hex(), "0x")},
			{Type: "00000000000000aa.sold", Payload: "0102"},
		}}}
	var out bytes.Buffer
	if err := WriteExecuted(&out, st); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"result:   ok", "gas used: 4321", "events:   2", "account.created " + addr.Hex(), "00000000000000aa.sold payload 0102"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	st.Stages.OK, st.Stages.ExecError = &no, "program failed: sold out"
	out.Reset()
	if err := WriteExecuted(&out, st); !errors.Is(err, ErrTxFailed) || !strings.Contains(out.String(), "failed: program failed: sold out") {
		t.Fatalf("failed: %v\n%s", err, out.String())
	}
}

func TestDescribeEventSizes(t *testing.T) {
	for _, e := range []api.EventInfo{
		{Type: EventAccountCreated, Payload: "00"},
		{Type: EventTransfer, Payload: strings.Repeat("00", 23)},
		{Type: EventKeyAdded, Payload: "zz"},
	} {
		if d := DescribeEvent(e); d != "" {
			t.Errorf("%+v described as %q", e, d)
		}
	}
	if _, err := CreatedAccount(api.TxResponse{Execution: &api.TxExecution{Events: []api.EventInfo{{Type: EventAccountCreated, Payload: "00"}}}}); !errors.Is(err, ErrBadAnswer) {
		t.Fatalf("short created payload: %v", err)
	}
	if _, err := CreatedAccount(api.TxResponse{}); !errors.Is(err, ErrBadAnswer) {
		t.Fatalf("no events: %v", err)
	}
}

func TestAccountKeyOfBadAnswers(t *testing.T) {
	good := api.AccountKey{Index: 0, PublicKey: "00", SigAlgo: "Ed25519", HashAlgo: "NONE", Weight: 1000}
	for name, k := range map[string]api.AccountKey{
		"index":    {Index: 1, PublicKey: "00", SigAlgo: "Ed25519", HashAlgo: "NONE"},
		"hex":      {PublicKey: "zz", SigAlgo: "Ed25519", HashAlgo: "NONE"},
		"sig algo": {PublicKey: "00", SigAlgo: "RSA", HashAlgo: "NONE"},
		"hash":     {PublicKey: "00", SigAlgo: "Ed25519", HashAlgo: "MD5"},
	} {
		if _, err := AccountKeyOf(api.AccountResponse{Keys: []api.AccountKey{k}}, 0); !errors.Is(err, ErrBadAnswer) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if k, err := AccountKeyOf(api.AccountResponse{Keys: []api.AccountKey{good}}, 0); err != nil || k.SigAlgo != account.Ed25519 || k.Weight != 1000 {
		t.Fatalf("good key: %+v %v", k, err)
	}
}
