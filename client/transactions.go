package client

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/transaction"
)

// Signed transactions (package transaction) sent to an access node of a
// pipeline network: Prepare builds and signs one against the node's view
// of the chain and the accounts, SendTransaction submits it in its
// pipeline envelope, WaitExecuted follows it until it executed.

// Wallet is one account key a client signs with: the account, the key's
// index in it, and the signer holding its private half.
type Wallet struct {
	Address  account.Address
	KeyIndex uint32
	Key      account.Signer
}

// Gas limits Prepare uses when TxOptions gives none. The fee is the gas
// used (the rest of the reservation is refunded), but the payer must hold
// the whole limit times the gas price, so the default is generous for
// the VM's own operations and a short program call, not unlimited.
const (
	// DefaultGasLimit is the limit of every operation but Deploy.
	DefaultGasLimit = 100_000
	// DeployGasPerByte is added per byte of code for a Deploy: the VM
	// charges about 31 per byte (validation, storage, the transaction's
	// bytes), so the default leaves room for the per-call costs.
	DeployGasPerByte = 32
)

// DefaultGas is the gas limit Prepare gives op when TxOptions has none.
func DefaultGas(op transaction.Operation) uint64 {
	if d, ok := op.(transaction.Deploy); ok {
		return DefaultGasLimit + DeployGasPerByte*uint64(len(d.Code))
	}
	return DefaultGasLimit
}

// TxOptions are Prepare's optional settings.
type TxOptions struct {
	// GasLimit caps the transaction's computation; 0 means DefaultGas.
	GasLimit uint64
}

// ChainInfo is what a transaction needs from the network: the chain it is
// signed for and the block it references.
type ChainInfo struct {
	// Name is the chain name of the genesis file, Chain its main chain ID.
	Name  string
	Chain model.ChainID
	// Ref is a recent finalized block (the transaction expires some blocks
	// after it), RefHeight its height.
	Ref       model.Identifier
	RefHeight uint64
}

// ChainInfo reads the node's chain and latest finalized block from
// GET /v1/status.
func (c *Client) ChainInfo(ctx context.Context) (ChainInfo, error) {
	st, err := c.Status(ctx)
	if err != nil {
		return ChainInfo{}, fmt.Errorf("node status: %w", err)
	}
	if st.ChainID == "" {
		return ChainInfo{}, fmt.Errorf("%w: status without a chain name", ErrBadAnswer)
	}
	ref, err := model.ParseIdentifier(st.FinalizedID)
	if err != nil {
		return ChainInfo{}, fmt.Errorf("%w: finalized block ID %q: %v", ErrBadAnswer, st.FinalizedID, err)
	}
	if ref == model.ZeroID {
		return ChainInfo{}, fmt.Errorf("%w: the node has no finalized block yet", ErrBadAnswer)
	}
	return ChainInfo{Name: st.ChainID, Chain: model.MainChain(st.ChainID), Ref: ref, RefHeight: st.FinalizedHeight}, nil
}

// Prepare is PrepareWith with default options.
func (c *Client) Prepare(ctx context.Context, op transaction.Operation, proposer, payer Wallet, authorizers ...Wallet) (*transaction.Transaction, error) {
	return c.PrepareWith(ctx, TxOptions{}, op, proposer, payer, authorizers...)
}

// PrepareWith builds op as a signed transaction ready for
// SendTransaction. It reads the chain and a recent finalized reference
// block from the node, and every account a wallet names: the proposal
// key's sequence number comes from there, and each wallet's key is
// checked against the account (it exists, is not revoked, has the
// wallet's public key) and the payer's and each authorizer's wallets
// against the threshold, so a transaction the network would refuse for
// those reasons fails here with ErrKeyMismatch or ErrInsufficientWeight
// instead.
//
// The authorizers are the distinct addresses of the authorizer wallets,
// in order: two wallets of one account are two of its keys signing
// (weights add up). Signing follows package transaction: every wallet of
// the payer's account signs the envelope, the others the payload.
func (c *Client) PrepareWith(ctx context.Context, opts TxOptions, op transaction.Operation, proposer, payer Wallet, authorizers ...Wallet) (*transaction.Transaction, error) {
	if op == nil {
		return nil, fmt.Errorf("%w: no operation", transaction.ErrMalformed)
	}
	wallets := append([]Wallet{proposer, payer}, authorizers...)
	for _, w := range wallets {
		if w.Key == nil {
			return nil, fmt.Errorf("%w: wallet of %s has no signer", ErrKeyMismatch, w.Address)
		}
	}
	info, err := c.ChainInfo(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := c.walletKeys(ctx, info.Chain, wallets)
	if err != nil {
		return nil, err
	}
	var auths []account.Address
	for _, w := range authorizers {
		if !containsAddr(auths, w.Address) {
			auths = append(auths, w.Address)
		}
	}
	if err := checkWeights(payer.Address, auths, wallets, keys); err != nil {
		return nil, err
	}
	gas := opts.GasLimit
	if gas == 0 {
		gas = DefaultGas(op)
	}
	tx := &transaction.Transaction{
		Ref:      info.Ref,
		GasLimit: gas,
		ProposalKey: transaction.ProposalKey{Address: proposer.Address, KeyIndex: proposer.KeyIndex,
			SeqNum: keys[keyRef{proposer.Address, proposer.KeyIndex}].SeqNum},
		Payer:       payer.Address,
		Authorizers: auths,
		Op:          op,
	}
	if err := SignTransaction(tx, info.Chain, wallets...); err != nil {
		return nil, err
	}
	return tx, nil
}

// keyRef names one key of one account.
type keyRef struct {
	addr  account.Address
	index uint32
}

// walletKeys reads each account the wallets name once and returns the
// account keys they use, refusing a wallet whose key is not the
// account's.
func (c *Client) walletKeys(ctx context.Context, chain model.ChainID, wallets []Wallet) (map[keyRef]account.Key, error) {
	accounts := map[account.Address]api.AccountResponse{}
	keys := map[keyRef]account.Key{}
	for _, w := range wallets {
		if !w.Address.Valid(chain) {
			return nil, fmt.Errorf("%w: %s is not an address of this chain", account.ErrInvalidAddress, w.Address)
		}
		resp, ok := accounts[w.Address]
		if !ok {
			var err error
			if resp, err = c.RequireAccount(ctx, w.Address); err != nil {
				return nil, err
			}
			accounts[w.Address] = resp
		}
		k, err := AccountKeyOf(resp, w.KeyIndex)
		if err != nil {
			return nil, err
		}
		mine := w.Key.PublicKey()
		switch {
		case k.Revoked:
			return nil, fmt.Errorf("%w: key %d of %s is revoked", ErrKeyMismatch, w.KeyIndex, w.Address)
		case !bytes.Equal(k.PublicKey, mine.PublicKey) || k.SigAlgo != mine.SigAlgo || k.HashAlgo != mine.HashAlgo:
			return nil, fmt.Errorf("%w: key %d of %s is %s/%s %x, the signer's is %s/%s %x", ErrKeyMismatch,
				w.KeyIndex, w.Address, k.SigAlgo, k.HashAlgo, k.PublicKey, mine.SigAlgo, mine.HashAlgo, mine.PublicKey)
		}
		keys[keyRef{w.Address, w.KeyIndex}] = k
	}
	return keys, nil
}

// checkWeights refuses a payer or an authorizer whose distinct wallet
// keys weigh less than account.Threshold.
func checkWeights(payer account.Address, auths []account.Address, wallets []Wallet, keys map[keyRef]account.Key) error {
	weight := func(a account.Address) uint64 {
		seen := map[uint32]bool{}
		var sum uint64
		for _, w := range wallets {
			if w.Address == a && !seen[w.KeyIndex] {
				seen[w.KeyIndex] = true
				sum += uint64(keys[keyRef{a, w.KeyIndex}].Weight)
			}
		}
		return sum
	}
	for _, a := range append([]account.Address{payer}, auths...) {
		if w := weight(a); w < account.Threshold {
			return fmt.Errorf("%w: the keys given for %s weigh %d, %d needed", ErrInsufficientWeight, a, w, account.Threshold)
		}
	}
	return nil
}

func containsAddr(list []account.Address, a account.Address) bool {
	for _, b := range list {
		if b == a {
			return true
		}
	}
	return false
}

// SignTransaction signs tx for chain with each wallet, once per distinct
// key: first the payload, by every wallet not of the payer's account,
// then the envelope by the payer's (package transaction: the payer signs
// the envelope only, which covers the payload signatures). tx must have
// no envelope signature yet; the result passes Validate or the error says
// why not.
func SignTransaction(tx *transaction.Transaction, chain model.ChainID, wallets ...Wallet) error {
	seen := map[keyRef]bool{}
	var payload, envelope []Wallet
	for _, w := range wallets {
		r := keyRef{w.Address, w.KeyIndex}
		if seen[r] {
			continue
		}
		seen[r] = true
		if w.Key == nil {
			return fmt.Errorf("%w: wallet of %s has no signer", ErrKeyMismatch, w.Address)
		}
		if w.Address == tx.Payer {
			envelope = append(envelope, w)
		} else {
			payload = append(payload, w)
		}
	}
	for _, w := range payload {
		if err := tx.SignPayload(chain, w.Address, w.KeyIndex, w.Key); err != nil {
			return fmt.Errorf("payload signature of key %d of %s: %w", w.KeyIndex, w.Address, err)
		}
	}
	for _, w := range envelope {
		if err := tx.SignEnvelope(chain, w.Address, w.KeyIndex, w.Key); err != nil {
			return fmt.Errorf("envelope signature of key %d of %s: %w", w.KeyIndex, w.Address, err)
		}
	}
	return tx.Validate()
}

// TxID is the ID an access node tracks a signed transaction under: the ID
// of its pipeline envelope (collection.Tx, reference block and body), not
// transaction.Transaction.ID.
func TxID(tx *transaction.Transaction) model.Identifier {
	return collection.Tx{Ref: tx.Ref, Body: tx.Encode()}.ID()
}

// SendTransaction submits tx to an access node in its pipeline envelope
// and returns the ID the node tracks it under (TxID). A transaction that
// breaks a structural rule is refused here, before anything is sent; the
// node's refusal (its admission checks: signatures, reference block,
// size, a full queue) is a *RejectedError carrying the node's reason.
func (c *Client) SendTransaction(ctx context.Context, tx *transaction.Transaction) (model.Identifier, error) {
	if tx == nil {
		return model.ZeroID, fmt.Errorf("%w: nil transaction", transaction.ErrMalformed)
	}
	if err := tx.Validate(); err != nil {
		return model.ZeroID, err
	}
	env := collection.Tx{Ref: tx.Ref, Body: tx.Encode()}
	id := env.ID()
	resp, err := c.SubmitBinary(ctx, [][]byte{env.Encode()})
	for _, r := range resp.Results {
		if r.Error != "" {
			return id, &RejectedError{ID: id.Hex(), Reason: r.Error}
		}
	}
	if err != nil {
		return id, fmt.Errorf("submit: %w", err)
	}
	return id, nil
}

// Bounds of WaitExecuted's polling: it asks again after waitFirst,
// doubling up to waitMax, so a quick transaction is seen quickly and a
// slow one costs the node one request every waitMax.
const (
	waitFirst = 100 * time.Millisecond
	waitMax   = 2 * time.Second
)

// WaitExecuted polls an access node until the transaction executed and
// its outcome is known (TxOutcome), it expired or failed to be collected
// (an error wrapping ErrTxDropped), or ctx ends (an error; wrapping
// ErrOutcomeUnknown if it executed but no execution node reported the
// outcome yet). A transaction that executed and failed is not an error
// here: the answer says so. A 404 is waited out, as WaitStatus does (a
// restarted access node has forgotten what it tracked); ctx bounds the
// wait.
func (c *Client) WaitExecuted(ctx context.Context, id model.Identifier) (api.TxResponse, error) {
	wait := waitFirst
	var last api.TxResponse
	for {
		st, err := c.Tx(ctx, id.Hex())
		if err == nil {
			last = st
		}
		switch {
		case err == nil && st.Status == api.TxExecuted:
			if _, _, known := TxOutcome(st); known {
				return st, nil
			}
		case err == nil && (st.Status == api.TxExpired || st.Status == api.TxFailed):
			reason := ""
			if st.Stages != nil && st.Stages.Error != "" {
				reason = ": " + st.Stages.Error
			}
			return st, fmt.Errorf("%w: %s is %s%s", ErrTxDropped, id, st.Status, reason)
		case err != nil && !IsStatus(err, http.StatusNotFound) && ctx.Err() == nil:
			return last, fmt.Errorf("status of %s: %w", id, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			if last.Status == api.TxExecuted {
				return last, fmt.Errorf("%w: %s: %w", ErrOutcomeUnknown, id, ctx.Err())
			}
			return last, fmt.Errorf("transaction %s not executed (last status %q): %w", id, last.Status, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, waitMax)
	}
}

// TxOutcome is an executed transaction's outcome: whether it succeeded,
// the VM's reason if not, and whether the node knows it yet. An access
// node reports it in the stages (fetched from an execution node), other
// roles in the finalized fields.
func TxOutcome(st api.TxResponse) (ok bool, reason string, known bool) {
	if s := st.Stages; s != nil && s.OK != nil {
		return *s.OK, s.ExecError, true
	}
	if st.OK != nil {
		return *st.OK, st.Error, true
	}
	return false, "", false
}

// Execute is Prepare, SendTransaction and WaitExecuted in one: it returns
// the ID and the executed status, and an error wrapping ErrTxFailed (with
// the VM's reason) if the transaction executed and failed.
func (c *Client) Execute(ctx context.Context, opts TxOptions, op transaction.Operation, proposer, payer Wallet, authorizers ...Wallet) (model.Identifier, api.TxResponse, error) {
	tx, err := c.PrepareWith(ctx, opts, op, proposer, payer, authorizers...)
	if err != nil {
		return model.ZeroID, api.TxResponse{}, err
	}
	id, err := c.SendTransaction(ctx, tx)
	if err != nil {
		return id, api.TxResponse{}, err
	}
	st, err := c.WaitExecuted(ctx, id)
	if err != nil {
		return id, st, err
	}
	if ok, reason, _ := TxOutcome(st); !ok {
		return id, st, fmt.Errorf("%w: %s", ErrTxFailed, reason)
	}
	return id, st, nil
}
