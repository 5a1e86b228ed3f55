package access

import (
	"container/list"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/app"
	"github.com/floe-bft/floe/app/merkle"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/fvm"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/state"
	"github.com/floe-bft/floe/transaction"
)

// Accounts turns on what an access node does in a network of accounts
// (genesis accounts section): it checks every signed transaction at
// ingress against the accounts' keys and balances, proven from the
// execution nodes, and serves GET /v1/accounts/{address}.
type Accounts struct {
	Chain    model.ChainID
	GasPrice uint64 // 0: fvm.DefaultGasPrice
	// CacheAccounts bounds the accounts whose keys and balance are kept
	// for ingress checks (default 10,000); CacheTTL is how long one is
	// used before it is read again (default 5s).
	CacheAccounts int
	CacheTTL      time.Duration
	// Workers verify a transaction's signatures (default 2).
	Workers int
}

// Refusals of signed transactions at ingress; each says why, and is the
// transaction's fault (400).
var (
	// ErrUnauthorizedTx: a signature, key, weight or sequence number rule
	// of transaction.Check fails (the reason follows).
	ErrUnauthorizedTx = fmt.Errorf("%w: not authorized", app.ErrInvalidTx)
	// ErrCannotPay: the payer's proven balance does not cover the gas
	// limit at the gas price.
	ErrCannotPay = fmt.Errorf("%w: the payer cannot pay for the gas limit", app.ErrInvalidTx)
	// ErrAccountsUnavailable: the accounts a transaction names could not
	// be read with a valid proof (no executed result yet, executors
	// unreachable); retry later.
	ErrAccountsUnavailable = fmt.Errorf("%w: accounts not readable", api.ErrStateUnavailable)
)

// accountState is what ingress needs of an account.
type accountState struct {
	exists  bool
	keys    []account.Key
	balance uint64
	code    []byte // the code header register (nil: no program)
	height  uint64 // executed height read
	root    model.Identifier
	block   uint64
}

// proveRegisters reads ids at the Result finalized block b carries from
// the epoch's execution nodes, one batch proof per request, and returns
// the values of the first answer whose proof verifies against the
// Result's root (ErrUnproven if none does, ErrNoResult before any).
func (s *Service) proveRegisters(ctx context.Context, ids []state.RegisterID, b *model.Block) (map[state.RegisterID][]byte, payload.Result, error) {
	result, err := payload.ResultOf(b.Payload)
	if err != nil {
		return nil, payload.Result{}, fmt.Errorf("access: finalized block %d: %w", b.Height, err)
	}
	if result == nil || result.Height == 0 {
		return nil, payload.Result{}, ErrNoResult
	}
	res := *result
	ep, err := s.cfg.Directory.EpochOf(b.View)
	if err != nil {
		return nil, res, fmt.Errorf("access: epoch of finalized block %d: %w", b.Height, err)
	}
	var errs []error
	for _, url := range s.cfg.Directory.Executors(ep) {
		rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
		ans, err := s.apiClient(url).ExecutionRegisters(rctx, res.Height, ids)
		cancel()
		var values map[state.RegisterID][]byte
		if err == nil {
			values, err = verifyRegisters(res, ids, ans)
		}
		if err != nil {
			outcome := "error"
			if errors.Is(err, ErrBadProof) {
				outcome = "bad_proof"
				s.log.Warn("access: execution node served a batch proof that does not verify", "executor", url, "height", res.Height, "err", err)
			}
			s.m.stateAnswers.WithLabelValues(outcome).Inc()
			errs = append(errs, fmt.Errorf("%s: %w", url, err))
			continue
		}
		s.m.stateAnswers.WithLabelValues("ok").Inc()
		return values, res, nil
	}
	return nil, res, fmt.Errorf("%w (height %d, root %v): %w", ErrUnproven, res.Height, res.Root, errors.Join(errs...))
}

// verifyRegisters checks a batch answer against res and reads ids from it.
func verifyRegisters(res payload.Result, ids []state.RegisterID, ans api.ExecutionRegistersResponse) (map[state.RegisterID][]byte, error) {
	if ans.Height != res.Height {
		return nil, fmt.Errorf("%w: answer for height %d, asked %d", ErrBadProof, ans.Height, res.Height)
	}
	if len(ans.Proof) > 2*state.MaxBatchProofSize {
		return nil, fmt.Errorf("%w: proof too large", ErrBadProof)
	}
	raw, err := hex.DecodeString(ans.Proof)
	if err != nil {
		return nil, fmt.Errorf("%w: proof is not hex", ErrBadProof)
	}
	p, err := state.DecodeBatchProof(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadProof, err)
	}
	if _, err := state.VerifyBatch(merkle.Hash(res.Root), p); err != nil {
		return nil, fmt.Errorf("%w: against the end state %v of height %d: %v", ErrBadProof, res.Root, res.Height, err)
	}
	out := make(map[state.RegisterID][]byte, len(ids))
	for _, id := range ids {
		v, err := p.Get(id)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadProof, err)
		}
		out[id] = v
	}
	return out, nil
}

// resultTries is how many distinct Results of recent finalized blocks a
// proven read tries, newest first.
const resultTries = 8

// proveRecent reads ids proven against the Result of the newest
// finalized block, or, when no execution node proves them against it,
// of an earlier one (at most resultTries distinct Results). Until
// sealing, a block's Result is the claim of the executor whose receipt
// came first: a byzantine executor's wrong end state can be it, and
// nothing verifies against a root no honest executor computed. Falling
// back to an older Result keeps reads (and ingress) going; what is
// trusted is still a Result a finalized block carries.
func (s *Service) proveRecent(ctx context.Context, ids []state.RegisterID) (map[state.RegisterID][]byte, payload.Result, *model.Block, error) {
	b, err := s.cfg.Chain.LatestBlock()
	if err != nil {
		return nil, payload.Result{}, nil, fmt.Errorf("access: newest finalized block: %w", err)
	}
	var tried []payload.Result
	var firstErr error
	for h := b.Height; ; h-- {
		if h != b.Height {
			if b, err = s.cfg.Chain.BlockByHeight(h); err != nil {
				break
			}
		}
		res, err := payload.ResultOf(b.Payload)
		if err != nil || res == nil || res.Height == 0 || slices.Contains(tried, *res) {
			if h == 0 || err != nil {
				break
			}
			continue
		}
		tried = append(tried, *res)
		vals, got, err := s.proveRegisters(ctx, ids, b)
		if err == nil {
			return vals, got, b, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if !errors.Is(err, ErrUnproven) || len(tried) >= resultTries || h == 0 || ctx.Err() != nil {
			break
		}
	}
	if firstErr == nil {
		firstErr = ErrNoResult
	}
	return nil, payload.Result{}, nil, firstErr
}

// readAccount reads account a, proven, at the newest finalized block's
// Result that an execution node proves it against (proveRecent): its key
// count, balance and code header, then its keys.
func (s *Service) readAccount(ctx context.Context, a account.Address) (accountState, error) {
	head := []state.RegisterID{fvm.KeysRegister(a), fvm.BalanceRegister(a), fvm.CodeRegister(a)}
	vals, res, b, err := s.proveRecent(ctx, head)
	if err != nil {
		return accountState{}, err
	}
	st := accountState{height: res.Height, root: res.Root, block: b.Height, code: vals[head[2]]}
	if st.balance, err = fvm.DecodeBalance(vals[head[1]]); err != nil {
		return accountState{}, fmt.Errorf("%w: %v", ErrBadProof, err)
	}
	if vals[head[0]] == nil {
		return st, nil
	}
	n, err := fvm.DecodeKeyCount(vals[head[0]])
	if err != nil || n > api.MaxRegistersPerRequest {
		return accountState{}, fmt.Errorf("%w: key count of %v", ErrBadProof, a)
	}
	st.exists = true
	if n == 0 {
		return st, nil
	}
	ids := make([]state.RegisterID, n)
	for i := range ids {
		ids[i] = fvm.KeyRegister(a, uint32(i))
	}
	// The keys at the same height as the head: a block ahead could have
	// changed them.
	kv, kres, err := s.proveRegisters(ctx, ids, b)
	if err != nil {
		return accountState{}, err
	}
	if kres.Height != res.Height {
		return accountState{}, fmt.Errorf("%w: keys read at height %d, the account at %d", ErrUnproven, kres.Height, res.Height)
	}
	st.keys = make([]account.Key, n)
	for i, id := range ids {
		if st.keys[i], err = account.DecodeKey(kv[id]); err != nil {
			return accountState{}, fmt.Errorf("%w: key %d of %v: %v", ErrBadProof, i, a, err)
		}
	}
	return st, nil
}

// Account answers GET /v1/accounts/{address}: a fresh proven read.
func (s *Service) Account(ctx context.Context, a account.Address) (api.AccountResponse, error) {
	st, err := s.readAccount(ctx, a)
	if err != nil {
		return api.AccountResponse{}, err
	}
	s.accounts.put(a, st)
	resp := api.AccountResponse{Address: a.Hex(), Exists: st.exists, Balance: st.balance,
		Height: st.height, Root: st.root.Hex(), BlockHeight: st.block}
	for i, k := range st.keys {
		resp.Keys = append(resp.Keys, api.AccountKey{Index: uint32(i), PublicKey: hex.EncodeToString(k.PublicKey),
			SigAlgo: k.SigAlgo.String(), HashAlgo: k.HashAlgo.String(), Weight: k.Weight, Revoked: k.Revoked, SeqNum: k.SeqNum})
	}
	if len(st.code) >= 36 {
		resp.CodeHash = hex.EncodeToString(st.code[:32])
		resp.CodeSize = binary.BigEndian.Uint32(st.code[32:36])
	}
	return resp, nil
}

func (s *Service) handleAccount(w http.ResponseWriter, r *http.Request) {
	a, err := account.ParseAddress(r.PathValue("address"), s.cfg.Accounts.Chain)
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	resp, err := s.Account(r.Context(), a)
	switch {
	case err == nil:
		api.WriteJSON(w, http.StatusOK, resp)
	case errors.Is(err, api.ErrStateUnavailable):
		api.WriteError(w, http.StatusServiceUnavailable, err.Error())
	default:
		api.WriteError(w, http.StatusInternalServerError, err.Error())
	}
}

// checkSigned is the ingress check of a signed transaction: it decodes,
// names the envelope's reference block, and is authorized by the keys
// of its accounts as last proven (a sequence number ahead of the proven
// one is let through: the account may have transactions in flight; one
// behind is a replay), and its payer can pay for its gas limit.
func (s *Service) checkSigned(ctx context.Context, ref model.Identifier, body []byte) error {
	tx, err := transaction.Decode(body)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if tx.Ref != ref {
		return fmt.Errorf("%w: the signed reference block %v is not the envelope's %v", ErrMalformed, tx.Ref, ref)
	}
	cfg := s.cfg.Accounts
	var readErr error
	states := map[account.Address]accountState{}
	lookup := func(a account.Address) ([]account.Key, error) {
		st, err := s.accountFor(ctx, a)
		if err != nil {
			readErr = err
			return nil, err
		}
		if !st.exists {
			return nil, fmt.Errorf("%w: %v", account.ErrUnknownAccount, a)
		}
		states[a] = st
		keys := st.keys
		if pk := tx.ProposalKey; a == pk.Address && int(pk.KeyIndex) < len(keys) {
			k := keys[pk.KeyIndex]
			if pk.SeqNum < k.SeqNum {
				return nil, fmt.Errorf("%w: proposal key %d of %v is at sequence number %d, the transaction has %d (a replay)",
					transaction.ErrSequenceNumber, pk.KeyIndex, a, k.SeqNum, pk.SeqNum)
			}
			keys = append([]account.Key(nil), keys...)
			keys[pk.KeyIndex].SeqNum = pk.SeqNum
		}
		return keys, nil
	}
	v := transaction.Check(tx, cfg.Chain, lookup, cfg.Workers)
	if readErr != nil {
		return fmt.Errorf("%w: %v", ErrAccountsUnavailable, readErr)
	}
	if !v.Authorized() {
		return fmt.Errorf("%w: %s: %v", ErrUnauthorizedTx, v.Role, v.Err)
	}
	price := cfg.GasPrice
	if price == 0 {
		price = fvm.DefaultGasPrice
	}
	cost, ok := mulOK(tx.GasLimit, price)
	if payer := states[tx.Payer]; !ok || payer.balance < cost {
		return fmt.Errorf("%w: %v holds %d (proven at height %d), the gas limit %d costs %d", ErrCannotPay, tx.Payer, payer.balance, payer.height, tx.GasLimit, cost)
	}
	return nil
}

func mulOK(a, b uint64) (uint64, bool) {
	if a != 0 && b > ^uint64(0)/a {
		return 0, false
	}
	return a * b, true
}

// accountFor is account a for ingress: from the cache while fresh, else
// read (and cached).
func (s *Service) accountFor(ctx context.Context, a account.Address) (accountState, error) {
	if st, ok := s.accounts.get(a, s.cfg.Now()); ok {
		return st, nil
	}
	st, err := s.readAccount(ctx, a)
	if err != nil {
		return accountState{}, err
	}
	s.accounts.put(a, st)
	return st, nil
}

// accountCache keeps accounts' proven states for ingress, at most max of
// them (least recently used first out), each for ttl.
type accountCache struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	now   func() time.Time
	order *list.List // front: most recently used; values *cachedAccount
	byKey map[account.Address]*list.Element
}

type cachedAccount struct {
	addr account.Address
	st   accountState
	at   time.Time
}

func newAccountCache(max int, ttl time.Duration, now func() time.Time) *accountCache {
	return &accountCache{max: max, ttl: ttl, now: now, order: list.New(), byKey: map[account.Address]*list.Element{}}
}

func (c *accountCache) get(a account.Address, now time.Time) (accountState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[a]
	if !ok {
		return accountState{}, false
	}
	ca := e.Value.(*cachedAccount)
	if now.Sub(ca.at) > c.ttl {
		c.order.Remove(e)
		delete(c.byKey, a)
		return accountState{}, false
	}
	c.order.MoveToFront(e)
	return ca.st, true
}

func (c *accountCache) put(a account.Address, st accountState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[a]; ok {
		e.Value = &cachedAccount{addr: a, st: st, at: c.now()}
		c.order.MoveToFront(e)
		return
	}
	c.byKey[a] = c.order.PushFront(&cachedAccount{addr: a, st: st, at: c.now()})
	for c.order.Len() > c.max {
		old := c.order.Back()
		c.order.Remove(old)
		delete(c.byKey, old.Value.(*cachedAccount).addr)
	}
}
