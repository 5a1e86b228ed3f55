package crypto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// schemes lists every implementation; every behavioural test runs against
// both through the Scheme interface, so the simulator's Fast scheme cannot
// drift from the semantics real nodes get from BLS.
var schemes = []Scheme{BLS(), Fast()}

var signDomains = []Domain{DomainVote, DomainTimeout, DomainProposal, DomainGuarantee, DomainReceipt, DomainPackRequest}

func seed(i int) []byte {
	s := Sum([]byte("floe-test-seed"), binary.BigEndian.AppendUint64(nil, uint64(i)))
	return s[:]
}

func testKeys(t testing.TB, s Scheme, n int) ([]PrivateKey, []PublicKey) {
	t.Helper()
	sks := make([]PrivateKey, n)
	pks := make([]PublicKey, n)
	for i := range n {
		sk, err := s.KeyFromSeed(seed(i))
		if err != nil {
			t.Fatalf("KeyFromSeed(%d): %v", i, err)
		}
		sks[i], pks[i] = sk, sk.PublicKey()
	}
	return sks, pks
}

func mustSign(t testing.TB, sk PrivateKey, d Domain, msg []byte) []byte {
	t.Helper()
	sig, err := sk.Sign(d, msg)
	if err != nil {
		t.Fatalf("Sign(%v): %v", d, err)
	}
	return sig
}

func mustAggregate(t testing.TB, s Scheme, sigs [][]byte) []byte {
	t.Helper()
	agg, err := s.AggregateSignatures(sigs)
	if err != nil {
		t.Fatalf("AggregateSignatures: %v", err)
	}
	return agg
}

func mustAggregateKeys(t testing.TB, s Scheme, keys []PublicKey) PublicKey {
	t.Helper()
	k, err := s.AggregatePublicKeys(keys)
	if err != nil {
		t.Fatalf("AggregatePublicKeys: %v", err)
	}
	return k
}

// wantErr fails unless err wraps target (target nil means success expected).
func wantErr(t testing.TB, what string, err, target error) {
	t.Helper()
	switch {
	case target == nil && err != nil:
		t.Errorf("%s: unexpected error %v", what, err)
	case target != nil && !errors.Is(err, target):
		t.Errorf("%s: got error %v, want %v", what, err, target)
	}
}

func forEachScheme(t *testing.T, f func(t *testing.T, s Scheme)) {
	for _, s := range schemes {
		t.Run(s.Name(), func(t *testing.T) {
			t.Parallel()
			f(t, s)
		})
	}
}

func TestSignVerify(t *testing.T) {
	msgs := map[string][]byte{
		"empty":  nil,
		"short":  []byte("v"),
		"vote":   []byte("view 7, block 0xabcdef"),
		"4KiB":   bytes.Repeat([]byte{0x5a}, 4096),
		"zeroes": make([]byte, 64),
	}
	forEachScheme(t, func(t *testing.T, s Scheme) {
		sks, pks := testKeys(t, s, 2)
		for _, d := range signDomains {
			for name, msg := range msgs {
				sig := mustSign(t, sks[0], d, msg)
				if len(sig) != s.SignatureSize() {
					t.Fatalf("signature size %d, want %d", len(sig), s.SignatureSize())
				}
				again := mustSign(t, sks[0], d, msg)
				if !bytes.Equal(sig, again) {
					t.Errorf("%v/%s: signing is not deterministic", d, name)
				}
				wantErr(t, fmt.Sprintf("%v/%s roundtrip", d, name), pks[0].Verify(d, msg, sig), nil)
				wantErr(t, fmt.Sprintf("%v/%s wrong key", d, name), pks[1].Verify(d, msg, sig), ErrInvalidSignature)
				wrong := append(bytes.Clone(msg), 0)
				wantErr(t, fmt.Sprintf("%v/%s wrong message", d, name), pks[0].Verify(d, wrong, sig), ErrInvalidSignature)
				for _, other := range []Domain{DomainVote, DomainTimeout, DomainProposal, DomainPossession, DomainGuarantee, DomainReceipt, DomainPackRequest} {
					if other != d {
						wantErr(t, fmt.Sprintf("%v/%s verified as %v", d, name, other), pks[0].Verify(other, msg, sig), ErrInvalidSignature)
					}
				}
			}
		}
	})
}

func TestInvalidDomain(t *testing.T) {
	forEachScheme(t, func(t *testing.T, s Scheme) {
		sks, pks := testKeys(t, s, 1)
		sig := mustSign(t, sks[0], DomainVote, []byte("m"))
		for _, d := range []Domain{0, DomainPackRequest + 1, 255} {
			_, err := sks[0].Sign(d, []byte("m"))
			wantErr(t, fmt.Sprintf("Sign(%v)", d), err, ErrInvalidDomain)
			wantErr(t, fmt.Sprintf("Verify(%v)", d), pks[0].Verify(d, []byte("m"), sig), ErrInvalidDomain)
			wantErr(t, fmt.Sprintf("VerifyAggregate(%v)", d), s.VerifyAggregate(d, pks, [][]byte{[]byte("m")}, sig), ErrInvalidDomain)
		}
		// Possession proofs only come from ProvePossession.
		_, err := sks[0].Sign(DomainPossession, pks[0].Bytes())
		wantErr(t, "Sign(possession)", err, ErrInvalidDomain)
	})
}

// badSignatures returns encodings that must be rejected without panicking.
// malformed marks those that must specifically be ErrMalformedSignature.
func badSignatures(s Scheme, good []byte) []struct {
	name      string
	sig       []byte
	malformed bool
} {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, s.SignatureSize())
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)-1] ^= 1
	flippedFlags := bytes.Clone(good)
	flippedFlags[0] ^= 0x80
	cases := []struct {
		name      string
		sig       []byte
		malformed bool
	}{
		{"nil", nil, true},
		{"empty", []byte{}, true},
		{"one byte", []byte{0x80}, true},
		{"short", good[:len(good)-1], true},
		{"long", append(bytes.Clone(good), 0), true},
		{"double", append(bytes.Clone(good), good...), true},
		{"flipped last bit", flipped, false},
		{"flipped first bit", flippedFlags, s.Name() == "bls12-381"},
		{"random", random, false},
		{"zeroes", make([]byte, s.SignatureSize()), s.Name() == "bls12-381"},
		{"ones", bytes.Repeat([]byte{0xff}, s.SignatureSize()), s.Name() == "bls12-381"},
	}
	if s.Name() == "bls12-381" {
		inf := make([]byte, BLSSignatureSize)
		inf[0] = 0xc0
		cases = append(cases,
			struct {
				name      string
				sig       []byte
				malformed bool
			}{"infinity", inf, false},
			struct {
				name      string
				sig       []byte
				malformed bool
			}{"on curve, outside G2", notInG2(), true},
		)
	}
	return cases
}

func TestBadSignatures(t *testing.T) {
	forEachScheme(t, func(t *testing.T, s Scheme) {
		sks, pks := testKeys(t, s, 3)
		msg := []byte("block")
		good := mustSign(t, sks[0], DomainVote, msg)
		for _, c := range badSignatures(s, good) {
			target := ErrInvalidSignature
			if c.malformed {
				target = ErrMalformedSignature
			}
			err := pks[0].Verify(DomainVote, msg, c.sig)
			if err == nil {
				t.Errorf("%s: verified", c.name)
			} else if !errors.Is(err, ErrMalformedSignature) && !errors.Is(err, ErrInvalidSignature) {
				t.Errorf("%s: error %v wraps no sentinel", c.name, err)
			} else if c.malformed {
				wantErr(t, c.name, err, target)
			}
			err = s.VerifyAggregate(DomainVote, pks[:1], [][]byte{msg}, c.sig)
			if err == nil {
				t.Errorf("%s: aggregate verified", c.name)
			} else if c.malformed {
				wantErr(t, c.name+" (aggregate)", err, target)
			}
			err = pks[0].VerifyPossession(c.sig)
			wantErr(t, c.name+" (possession)", err, ErrInvalidPossession)
			if c.malformed && len(c.sig) != s.SignatureSize() {
				_, err = s.AggregateSignatures([][]byte{good, c.sig})
				wantErr(t, c.name+" (aggregation)", err, ErrMalformedSignature)
			}
		}
	})
}

func TestDecodePublicKey(t *testing.T) {
	forEachScheme(t, func(t *testing.T, s Scheme) {
		sks, pks := testKeys(t, s, 1)
		enc := pks[0].Bytes()
		if len(enc) != s.PublicKeySize() {
			t.Fatalf("public key size %d, want %d", len(enc), s.PublicKeySize())
		}
		pk, err := s.DecodePublicKey(enc)
		if err != nil {
			t.Fatalf("DecodePublicKey(Bytes()): %v", err)
		}
		if !bytes.Equal(pk.Bytes(), enc) {
			t.Errorf("re-encoding differs")
		}
		msg := []byte("m")
		wantErr(t, "decoded key verifies", pk.Verify(DomainVote, msg, mustSign(t, sks[0], DomainVote, msg)), nil)

		bad := map[string][]byte{
			"nil":   nil,
			"empty": {},
			"short": enc[:len(enc)-1],
			"long":  append(bytes.Clone(enc), 0),
		}
		if s.Name() == "bls12-381" {
			inf := make([]byte, BLSPublicKeySize)
			inf[0] = 0xc0
			bad["infinity"] = inf
			bad["zeroes"] = make([]byte, BLSPublicKeySize)
			bad["ones"] = bytes.Repeat([]byte{0xff}, BLSPublicKeySize)
			bad["uncompressed flag"] = append([]byte{enc[0] &^ 0x80}, enc[1:]...)
			bad["on curve, outside G1"] = notInG1()
			bad["x not on curve"] = notOnG1Curve()
		}
		for name, b := range bad {
			_, err := s.DecodePublicKey(b)
			wantErr(t, name, err, ErrMalformedKey)
		}
	})
}

func TestProofOfPossession(t *testing.T) {
	forEachScheme(t, func(t *testing.T, s Scheme) {
		sks, pks := testKeys(t, s, 2)
		popA, err := sks[0].ProvePossession()
		if err != nil {
			t.Fatal(err)
		}
		popB, err := sks[1].ProvePossession()
		if err != nil {
			t.Fatal(err)
		}
		again, _ := sks[0].ProvePossession()
		if !bytes.Equal(popA, again) {
			t.Errorf("proof of possession is not deterministic")
		}
		wantErr(t, "A's proof for A", pks[0].VerifyPossession(popA), nil)
		wantErr(t, "B's proof for B", pks[1].VerifyPossession(popB), nil)
		wantErr(t, "A's proof for B", pks[1].VerifyPossession(popA), ErrInvalidPossession)
		wantErr(t, "B's proof for A", pks[0].VerifyPossession(popB), ErrInvalidPossession)

		// Domain separation both ways: a proof is not a vote over the key
		// bytes, and a vote over the key bytes is not a proof.
		wantErr(t, "proof as vote", pks[0].Verify(DomainVote, pks[0].Bytes(), popA), ErrInvalidSignature)
		for _, d := range signDomains {
			sig := mustSign(t, sks[0], d, pks[0].Bytes())
			wantErr(t, fmt.Sprintf("%v over key bytes as proof", d), pks[0].VerifyPossession(sig), ErrInvalidPossession)
		}
		wantErr(t, "proof verified explicitly", pks[0].Verify(DomainPossession, pks[0].Bytes(), popA), nil)

		// A decoded key accepts the proof made by the original.
		dec, err := s.DecodePublicKey(pks[0].Bytes())
		if err != nil {
			t.Fatal(err)
		}
		wantErr(t, "decoded key", dec.VerifyPossession(popA), nil)
	})
}

func TestAggregateOneMessage(t *testing.T) {
	const n = 7
	forEachScheme(t, func(t *testing.T, s Scheme) {
		sks, pks := testKeys(t, s, n+1)
		outsiderSK := sks[n]
		sks, pks = sks[:n], pks[:n]
		msg := []byte("vote for block 42")
		sigs := make([][]byte, n)
		for i, sk := range sks {
			sigs[i] = mustSign(t, sk, DomainVote, msg)
		}
		agg := mustAggregate(t, s, sigs)
		if len(agg) != s.SignatureSize() {
			t.Fatalf("aggregate size %d, want %d", len(agg), s.SignatureSize())
		}
		aggPK := mustAggregateKeys(t, s, pks)

		wantErr(t, "aggregate", aggPK.Verify(DomainVote, msg, agg), nil)
		wantErr(t, "aggregate via VerifyAggregate", s.VerifyAggregate(DomainVote, []PublicKey{aggPK}, [][]byte{msg}, agg), nil)
		wantErr(t, "wrong domain", aggPK.Verify(DomainTimeout, msg, agg), ErrInvalidSignature)
		wantErr(t, "wrong message", aggPK.Verify(DomainVote, []byte("vote for block 43"), agg), ErrInvalidSignature)

		// Order independence of both aggregations.
		rev := make([][]byte, n)
		revPKs := make([]PublicKey, n)
		for i := range n {
			rev[i], revPKs[i] = sigs[n-1-i], pks[n-1-i]
		}
		if !bytes.Equal(mustAggregate(t, s, rev), agg) {
			t.Errorf("signature aggregation depends on order")
		}
		wantErr(t, "reversed key order", mustAggregateKeys(t, s, revPKs).Verify(DomainVote, msg, agg), nil)

		// Aggregating aggregates is the same as aggregating everything.
		nested := mustAggregateKeys(t, s, []PublicKey{mustAggregateKeys(t, s, pks[:3]), mustAggregateKeys(t, s, pks[3:])})
		wantErr(t, "nested key aggregate", nested.Verify(DomainVote, msg, agg), nil)
		nestedSig := mustAggregate(t, s, [][]byte{mustAggregate(t, s, sigs[:2]), mustAggregate(t, s, sigs[2:])})
		wantErr(t, "nested signature aggregate", aggPK.Verify(DomainVote, msg, nestedSig), nil)

		// One signature missing.
		missing := mustAggregate(t, s, sigs[1:])
		wantErr(t, "missing signature", aggPK.Verify(DomainVote, msg, missing), ErrInvalidSignature)
		// One signature by a signer outside the key set.
		wrongSigner := append([][]byte{mustSign(t, outsiderSK, DomainVote, msg)}, sigs[1:]...)
		wantErr(t, "wrong signer", aggPK.Verify(DomainVote, msg, mustAggregate(t, s, wrongSigner)), ErrInvalidSignature)
		// One signature over another message.
		wrongMsg := append([][]byte{mustSign(t, sks[0], DomainVote, []byte("other"))}, sigs[1:]...)
		wantErr(t, "one signer signed another message", aggPK.Verify(DomainVote, msg, mustAggregate(t, s, wrongMsg)), ErrInvalidSignature)
		// One signature in another domain.
		wrongDom := append([][]byte{mustSign(t, sks[0], DomainTimeout, msg)}, sigs[1:]...)
		wantErr(t, "one signer used another domain", aggPK.Verify(DomainVote, msg, mustAggregate(t, s, wrongDom)), ErrInvalidSignature)
		// Key set claims a signer who did not sign.
		wantErr(t, "key set too large", mustAggregateKeys(t, s, pks).Verify(DomainVote, msg, missing), ErrInvalidSignature)
		// A single signature is not an aggregate.
		wantErr(t, "single signature for aggregate key", aggPK.Verify(DomainVote, msg, sigs[0]), ErrInvalidSignature)

		// Aggregating one key or one signature is the identity.
		one := mustAggregateKeys(t, s, pks[:1])
		if !bytes.Equal(one.Bytes(), pks[0].Bytes()) {
			t.Errorf("aggregate of one key differs from the key")
		}
		if !bytes.Equal(mustAggregate(t, s, sigs[:1]), sigs[0]) {
			t.Errorf("aggregate of one signature differs from the signature")
		}
	})
}

func TestAggregateErrors(t *testing.T) {
	forEachScheme(t, func(t *testing.T, s Scheme) {
		sks, pks := testKeys(t, s, 2)
		sig := mustSign(t, sks[0], DomainVote, []byte("m"))
		_, err := s.AggregateSignatures(nil)
		wantErr(t, "no signatures", err, ErrEmptyAggregate)
		_, err = s.AggregatePublicKeys(nil)
		wantErr(t, "no keys", err, ErrEmptyAggregate)
		wantErr(t, "verify with no keys", s.VerifyAggregate(DomainVote, nil, nil, sig), ErrEmptyAggregate)
		if err := s.VerifyAggregate(DomainVote, pks, [][]byte{[]byte("m")}, sig); err == nil {
			t.Errorf("VerifyAggregate accepted 2 keys for 1 message")
		}
		_, err = s.AggregateSignatures([][]byte{sig, nil})
		wantErr(t, "nil signature among others", err, ErrMalformedSignature)

		// Keys from the other scheme (or none at all) are rejected.
		for _, other := range schemes {
			if other.Name() == s.Name() {
				continue
			}
			_, foreign := testKeys(t, other, 1)
			_, err = s.AggregatePublicKeys([]PublicKey{pks[0], foreign[0]})
			wantErr(t, "foreign key", err, ErrMalformedKey)
			_, err = s.AggregatePublicKeys([]PublicKey{foreign[0]})
			wantErr(t, "single foreign key", err, ErrMalformedKey)
			wantErr(t, "foreign key verify", s.VerifyAggregate(DomainVote, foreign, [][]byte{[]byte("m")}, sig), ErrMalformedKey)
		}
		_, err = s.AggregatePublicKeys([]PublicKey{pks[0], nil})
		wantErr(t, "nil key", err, ErrMalformedKey)
	})
}

// TestVerifyAggregateGroups is the TC shape: signers of a timeout are grouped
// by the view of their newest QC, each group signs its own message, and the
// whole certificate is one aggregate signature.
func TestVerifyAggregateGroups(t *testing.T) {
	const n = 10
	views := []uint64{17, 19, 20} // newest-QC views of the groups
	timeoutMsg := func(view, qcView uint64) []byte {
		b := binary.BigEndian.AppendUint64(nil, view)
		return binary.BigEndian.AppendUint64(b, qcView)
	}
	forEachScheme(t, func(t *testing.T, s Scheme) {
		sks, pks := testKeys(t, s, n)
		groupKeys := make([][]PublicKey, len(views))
		msgs := make([][]byte, len(views))
		for g, v := range views {
			msgs[g] = timeoutMsg(21, v)
		}
		var sigs [][]byte
		for i, sk := range sks {
			g := i % len(views)
			groupKeys[g] = append(groupKeys[g], pks[i])
			sigs = append(sigs, mustSign(t, sk, DomainTimeout, msgs[g]))
		}
		agg := mustAggregate(t, s, sigs)
		keys := make([]PublicKey, len(views))
		for g := range views {
			keys[g] = mustAggregateKeys(t, s, groupKeys[g])
		}

		wantErr(t, "TC", s.VerifyAggregate(DomainTimeout, keys, msgs, agg), nil)
		wantErr(t, "TC as votes", s.VerifyAggregate(DomainVote, keys, msgs, agg), ErrInvalidSignature)

		for g := range views {
			altered := make([][]byte, len(msgs))
			copy(altered, msgs)
			altered[g] = timeoutMsg(21, views[g]+1)
			wantErr(t, fmt.Sprintf("group %d message altered", g), s.VerifyAggregate(DomainTimeout, keys, altered, agg), ErrInvalidSignature)

			dropped := append(append([]PublicKey(nil), keys[:g]...), keys[g+1:]...)
			droppedMsgs := append(append([][]byte(nil), msgs[:g]...), msgs[g+1:]...)
			wantErr(t, fmt.Sprintf("group %d dropped", g), s.VerifyAggregate(DomainTimeout, dropped, droppedMsgs, agg), ErrInvalidSignature)
		}
		// Moving a signer to another group (claiming a different QC view).
		moved := make([]PublicKey, len(views))
		moved[0] = mustAggregateKeys(t, s, append(append([]PublicKey(nil), groupKeys[0]...), groupKeys[1][0]))
		moved[1] = mustAggregateKeys(t, s, groupKeys[1][1:])
		moved[2] = keys[2]
		wantErr(t, "signer moved between groups", s.VerifyAggregate(DomainTimeout, moved, msgs, agg), ErrInvalidSignature)
		// Swapping whole groups' keys.
		swapped := []PublicKey{keys[1], keys[0], keys[2]}
		wantErr(t, "groups swapped", s.VerifyAggregate(DomainTimeout, swapped, msgs, agg), ErrInvalidSignature)
		// Missing one signer's signature.
		wantErr(t, "missing signature", s.VerifyAggregate(DomainTimeout, keys, msgs, mustAggregate(t, s, sigs[1:])), ErrInvalidSignature)

		// Un-aggregated keys, one per signer, work as well.
		perSigner := make([][]byte, n)
		for i := range n {
			perSigner[i] = msgs[i%len(views)]
		}
		wantErr(t, "one key per signer", s.VerifyAggregate(DomainTimeout, pks, perSigner, agg), nil)
	})
}

func TestKeyFromSeed(t *testing.T) {
	forEachScheme(t, func(t *testing.T, s Scheme) {
		a, err := s.KeyFromSeed(seed(1))
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.KeyFromSeed(seed(1))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) || !bytes.Equal(a.PublicKey().Bytes(), b.PublicKey().Bytes()) {
			t.Errorf("same seed gave different keys")
		}
		c, err := s.KeyFromSeed(seed(2))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(a.PublicKey().Bytes(), c.PublicKey().Bytes()) {
			t.Errorf("different seeds gave the same key")
		}
		long := append(seed(1), seed(2)...)
		if _, err := s.KeyFromSeed(long); err != nil {
			t.Errorf("64-byte seed: %v", err)
		}
		for _, n := range []int{0, 1, 16, 31} {
			_, err := s.KeyFromSeed(make([]byte, n))
			wantErr(t, fmt.Sprintf("%d-byte seed", n), err, ErrMalformedKey)
		}
		if _, err := s.KeyFromSeed(make([]byte, 32)); err != nil {
			t.Errorf("32-byte zero seed: %v", err)
		}
	})
}

func TestDecodePrivateKey(t *testing.T) {
	forEachScheme(t, func(t *testing.T, s Scheme) {
		sks, _ := testKeys(t, s, 3)
		for i, sk := range sks {
			dec, err := s.DecodePrivateKey(sk.Bytes())
			if err != nil {
				t.Fatalf("key %d: %v", i, err)
			}
			if !bytes.Equal(dec.Bytes(), sk.Bytes()) {
				t.Errorf("key %d: Bytes differ after roundtrip", i)
			}
			if !bytes.Equal(dec.PublicKey().Bytes(), sk.PublicKey().Bytes()) {
				t.Errorf("key %d: public key differs after roundtrip", i)
			}
			msg := []byte("m")
			if !bytes.Equal(mustSign(t, dec, DomainVote, msg), mustSign(t, sk, DomainVote, msg)) {
				t.Errorf("key %d: signatures differ after roundtrip", i)
			}
			// Bytes must be a copy: scribbling on it cannot change the key.
			b := sk.Bytes()
			clear(b)
			if bytes.Equal(sk.Bytes(), b) {
				t.Errorf("key %d: Bytes aliases the key", i)
			}
		}
		bad := map[string][]byte{"nil": nil, "short": make([]byte, 31), "long": make([]byte, 33)}
		if s.Name() == "bls12-381" {
			bad["zero scalar"] = make([]byte, 32)
			bad["above group order"] = bytes.Repeat([]byte{0xff}, 32)
		}
		for name, b := range bad {
			_, err := s.DecodePrivateKey(b)
			wantErr(t, name, err, ErrMalformedKey)
		}
	})
}

func TestPublicKeyBytesIsACopy(t *testing.T) {
	forEachScheme(t, func(t *testing.T, s Scheme) {
		sks, pks := testKeys(t, s, 1)
		b := pks[0].Bytes()
		clear(b)
		msg := []byte("m")
		wantErr(t, "verify after scribbling on Bytes", pks[0].Verify(DomainVote, msg, mustSign(t, sks[0], DomainVote, msg)), nil)
	})
}

func TestBLSAggregateKeyRoundtrip(t *testing.T) {
	s := BLS()
	sks, pks := testKeys(t, s, 4)
	msg := []byte("m")
	var sigs [][]byte
	for _, sk := range sks {
		sigs = append(sigs, mustSign(t, sk, DomainVote, msg))
	}
	agg := mustAggregateKeys(t, s, pks)
	dec, err := s.DecodePublicKey(agg.Bytes())
	if err != nil {
		t.Fatalf("decoding an aggregate key: %v", err)
	}
	wantErr(t, "decoded aggregate key", dec.Verify(DomainVote, msg, mustAggregate(t, s, sigs)), nil)
}

func TestBLSDomainSeparationTags(t *testing.T) {
	seen := map[string]Domain{}
	for d := DomainVote; d <= DomainPackRequest; d++ {
		dst, err := BLSDomainSeparationTag(d)
		if err != nil {
			t.Fatal(err)
		}
		if prev, dup := seen[string(dst)]; dup {
			t.Errorf("%v and %v share DST %q", prev, d, dst)
		}
		seen[string(dst)] = d
		if !bytes.HasPrefix(dst, []byte("FLOE-V01-BLS_")) {
			t.Errorf("%v: DST %q lacks the protocol prefix", d, dst)
		}
	}
	if _, err := BLSDomainSeparationTag(0); !errors.Is(err, ErrInvalidDomain) {
		t.Errorf("DST for domain 0: %v", err)
	}
	for d, want := range map[Domain]string{
		DomainVote:        "FLOE-V01-BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_VOTE_",
		DomainGuarantee:   "FLOE-V01-BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_GUARANTEE_",
		DomainReceipt:     "FLOE-V01-BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_RECEIPT_",
		DomainPackRequest: "FLOE-V01-BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_PACK_REQUEST_",
	} {
		if got, _ := BLSDomainSeparationTag(d); string(got) != want {
			t.Errorf("%v DST %q, want %q (wire format)", d, got, want)
		}
	}
}

// TestConcurrentUse shares keys between goroutines; run under -race it checks
// that keys really are immutable.
func TestConcurrentUse(t *testing.T) {
	forEachScheme(t, func(t *testing.T, s Scheme) {
		sks, pks := testKeys(t, s, 4)
		aggPK := mustAggregateKeys(t, s, pks)
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for g := range 8 {
			wg.Go(func() {
				for i := range 4 {
					msg := []byte(fmt.Sprintf("g%d i%d", g, i))
					var sigs [][]byte
					for _, sk := range sks {
						sig, err := sk.Sign(DomainVote, msg)
						if err != nil {
							errs <- err
							return
						}
						sigs = append(sigs, sig)
					}
					if err := pks[g%len(pks)].Verify(DomainVote, msg, sigs[g%len(pks)]); err != nil {
						errs <- err
					}
					agg, err := s.AggregateSignatures(sigs)
					if err != nil {
						errs <- err
						return
					}
					if err := aggPK.Verify(DomainVote, msg, agg); err != nil {
						errs <- err
					}
					if _, err := s.AggregatePublicKeys(pks); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

func TestSum(t *testing.T) {
	cases := [][][]byte{
		nil,
		{nil},
		{[]byte("a")},
		{[]byte("ab"), []byte("c")},
		{[]byte("a"), nil, []byte("bc")},
		{bytes.Repeat([]byte{1}, 1000), bytes.Repeat([]byte{2}, 77)},
	}
	for i, parts := range cases {
		if got, want := Sum(parts...), Sum(bytes.Join(parts, nil)); got != want {
			t.Errorf("case %d: Sum over parts differs from Sum over the concatenation", i)
		}
	}
	// SHA-256("abc"), FIPS 180-2 test vector.
	const abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := fmt.Sprintf("%x", Sum([]byte("a"), []byte("bc"))); got != abc {
		t.Errorf("Sum(abc) = %s, want %s", got, abc)
	}
}

func TestSumDoesNotAllocate(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("instrumentation changes escape analysis")
	}
	a, b := make([]byte, 40), make([]byte, 300)
	if n := testing.AllocsPerRun(100, func() { _ = Sum(a, b) }); n != 0 {
		t.Errorf("Sum allocates %v times", n)
	}
}

func TestFastVerifyDoesNotAllocate(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("instrumentation changes escape analysis")
	}
	s := Fast()
	sks, pks := testKeys(t, s, 4)
	msg := []byte("view 9 block 0x01")
	var sigs [][]byte
	for _, sk := range sks {
		sigs = append(sigs, mustSign(t, sk, DomainVote, msg))
	}
	agg := mustAggregate(t, s, sigs)
	aggPK := mustAggregateKeys(t, s, pks)
	keys, msgs := []PublicKey{aggPK}, [][]byte{msg}
	if n := testing.AllocsPerRun(100, func() { _ = pks[0].Verify(DomainVote, msg, sigs[0]) }); n != 0 {
		t.Errorf("Verify allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = s.VerifyAggregate(DomainVote, keys, msgs, agg) }); n != 0 {
		t.Errorf("VerifyAggregate allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = sks[0].Sign(DomainVote, msg) }); n > 1 {
		t.Errorf("Sign allocates %v times, want at most the returned signature", n)
	}
}
