package client

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/api"
)

// Account reads GET /v1/accounts/{address} from an access node: the
// account's balance, keys (with their sequence numbers) and program, as
// of the newest execution result a finalized block carries. An account
// that does not exist is an answer with Exists false (or an *Error with
// status 404, if the node answers so); RequireAccount turns both into
// ErrNoAccount.
func (c *Client) Account(ctx context.Context, addr account.Address) (api.AccountResponse, error) {
	var resp api.AccountResponse
	err := c.get(ctx, "/v1/accounts/"+addr.Hex(), &resp)
	return resp, err
}

// RequireAccount is Account for an account that must exist: a missing
// one (Exists false or a 404) is an error wrapping ErrNoAccount.
func (c *Client) RequireAccount(ctx context.Context, addr account.Address) (api.AccountResponse, error) {
	resp, err := c.Account(ctx, addr)
	switch {
	case err != nil && IsStatus(err, 404):
		return resp, fmt.Errorf("%w: %s (%v)", ErrNoAccount, addr, err)
	case err != nil:
		return resp, fmt.Errorf("account %s: %w", addr, err)
	case !resp.Exists:
		return resp, fmt.Errorf("%w: %s", ErrNoAccount, addr)
	}
	return resp, nil
}

// AccountKeyOf decodes key i of an account answer into an account.Key
// (the node's JSON names the algorithms and hex-encodes the public key).
func AccountKeyOf(resp api.AccountResponse, i uint32) (account.Key, error) {
	if int64(i) >= int64(len(resp.Keys)) {
		return account.Key{}, fmt.Errorf("%w: account %s has %d keys, no key %d", ErrKeyMismatch, resp.Address, len(resp.Keys), i)
	}
	k := resp.Keys[i]
	if k.Index != i {
		return account.Key{}, fmt.Errorf("%w: account %s lists key %d at position %d", ErrBadAnswer, resp.Address, k.Index, i)
	}
	pk, err := hex.DecodeString(k.PublicKey)
	if err != nil {
		return account.Key{}, fmt.Errorf("%w: key %d of %s: public key: %v", ErrBadAnswer, i, resp.Address, err)
	}
	sig, err := account.ParseSigAlgo(k.SigAlgo)
	if err != nil {
		return account.Key{}, fmt.Errorf("%w: key %d of %s: %v", ErrBadAnswer, i, resp.Address, err)
	}
	hash, err := account.ParseHashAlgo(k.HashAlgo)
	if err != nil {
		return account.Key{}, fmt.Errorf("%w: key %d of %s: %v", ErrBadAnswer, i, resp.Address, err)
	}
	return account.Key{PublicKey: pk, SigAlgo: sig, HashAlgo: hash, Weight: k.Weight, Revoked: k.Revoked, SeqNum: k.SeqNum}, nil
}
