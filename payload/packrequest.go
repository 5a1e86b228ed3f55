package payload

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// PackAuthHeader is the HTTP header that carries a signed chunk data pack
// request (PackAuth.Header).
const PackAuthHeader = "Floe-Pack-Authorization"

// PackAuthSkew is how far a pack request's time may be from the serving
// node's clock, either way. A request is a bearer token for one chunk
// within this window; TLS keeps it from onlookers.
const PackAuthSkew = 60 * time.Second

// Expected failures of a pack request's authorization.
var (
	// ErrPackAuthMissing: the request carries no authorization.
	ErrPackAuthMissing = errors.New("chunk data packs are served to staked nodes only: sign the request (" + PackAuthHeader + " header)")
	// ErrPackAuthMalformed: the authorization does not parse.
	ErrPackAuthMalformed = errors.New("malformed pack authorization")
	// ErrPackAuthExpired: its time is outside PackAuthSkew of the node's clock.
	ErrPackAuthExpired = errors.New("pack authorization outside the time window")
	// ErrPackAuthSignature: the signature does not verify under the
	// requester's staking key for this chain and chunk.
	ErrPackAuthSignature = errors.New("pack authorization signature invalid")
)

// PackAuth is a signed request for one chunk's data pack: the requester's
// node ID, the request's time (unix seconds) and the requester's staking
// key's signature under crypto.DomainPackRequest over
// PackRequestMessage. The serving node decides who may ask (a member
// of the current epoch in a role that checks chunks); the signature
// proves who is asking, for which chain and chunk, and recently.
type PackAuth struct {
	Node      model.NodeID
	Unix      int64
	Signature []byte
}

// PackRequestMessage is what a pack request signs: the main chain's ID
// first, like every signed message, then the chunk's ID and the time.
func PackRequestMessage(chain model.ChainID, chunk model.Identifier, unix int64) []byte {
	w := codec.NewWriter(72)
	w.Fixed(chain[:])
	w.Fixed(chunk[:])
	w.Uint64(uint64(unix))
	return w.Bytes()
}

// SignPackRequest signs a request for chunk's data pack as node at time now.
func SignPackRequest(key crypto.PrivateKey, chain model.ChainID, node model.NodeID, chunk model.Identifier, now time.Time) (PackAuth, error) {
	unix := now.Unix()
	sig, err := key.Sign(crypto.DomainPackRequest, PackRequestMessage(chain, chunk, unix))
	if err != nil {
		return PackAuth{}, fmt.Errorf("sign pack request: %w", err)
	}
	return PackAuth{Node: node, Unix: unix, Signature: sig}, nil
}

// Header renders a as the PackAuthHeader value: node ID, time and
// signature, hex and decimal, separated by colons.
func (a PackAuth) Header() string {
	return a.Node.Hex() + ":" + strconv.FormatInt(a.Unix, 10) + ":" + hex.EncodeToString(a.Signature)
}

// ParsePackAuth reads a PackAuthHeader value; "" is ErrPackAuthMissing.
func ParsePackAuth(s string) (PackAuth, error) {
	if s == "" {
		return PackAuth{}, ErrPackAuthMissing
	}
	if len(s) > 2*model.MaxSignatureSize+128 {
		return PackAuth{}, fmt.Errorf("%w: %d bytes", ErrPackAuthMalformed, len(s))
	}
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return PackAuth{}, fmt.Errorf("%w: want node:unix:signature", ErrPackAuthMalformed)
	}
	id, err := model.ParseIdentifier(parts[0])
	if err != nil {
		return PackAuth{}, fmt.Errorf("%w: node id: %v", ErrPackAuthMalformed, err)
	}
	unix, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return PackAuth{}, fmt.Errorf("%w: time: %v", ErrPackAuthMalformed, err)
	}
	sig, err := hex.DecodeString(parts[2])
	if err != nil || len(sig) == 0 || len(sig) > model.MaxSignatureSize {
		return PackAuth{}, fmt.Errorf("%w: signature must be 1 to %d bytes of hex", ErrPackAuthMalformed, model.MaxSignatureSize)
	}
	return PackAuth{Node: id, Unix: unix, Signature: sig}, nil
}

// CheckTime refuses a request whose time is more than PackAuthSkew from
// now: cheap, so it runs before the signature.
func (a PackAuth) CheckTime(now time.Time) error {
	d := now.Sub(time.Unix(a.Unix, 0))
	if d > PackAuthSkew || d < -PackAuthSkew {
		return fmt.Errorf("%w: request time %d is %v from this node's clock (±%v)", ErrPackAuthExpired, a.Unix, d.Round(time.Second), PackAuthSkew)
	}
	return nil
}

// Verify checks a's signature for chunk on chain under the requester's
// staking key.
func (a PackAuth) Verify(chain model.ChainID, chunk model.Identifier, key crypto.PublicKey) error {
	if err := key.Verify(crypto.DomainPackRequest, PackRequestMessage(chain, chunk, a.Unix), a.Signature); err != nil {
		return fmt.Errorf("%w: %v", ErrPackAuthSignature, err)
	}
	return nil
}
