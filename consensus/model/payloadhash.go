package model

import (
	"crypto/sha256"
	"encoding/binary"
)

// Payload commitment. Consensus treats a payload as opaque except for its
// framing: a format byte, then sections, each a kind byte, a 4-byte
// big-endian length and that many bytes (what each kind holds is the
// payload package's business). The header commits to the hash of every
// section rather than to the bytes in one run, so a reader can check one
// section against a header without the others: a light client reads a
// block's execution result without downloading its transactions, as Flow's
// payload hash commits to its parts separately.

// SectionDigest is one section of a payload as the commitment sees it.
type SectionDigest struct {
	Kind uint8
	Hash Identifier // SHA-256 of the section's bytes
}

// Domain tags keep the three kinds of input apart: a framed payload, bytes
// that are not framed (payload rules reject them; they still need a hash to
// be named in a header), and the empty payload (genesis).
const (
	framedTag = "floe/payload/sections\x00"
	rawTag    = "floe/payload/raw\x00"
)

// PayloadHash is the hash a header commits its payload with. It is defined
// for any bytes: a framed payload hashes its sections' digests
// (PayloadHashOf), anything else hashes under another domain, so the two
// never collide.
func PayloadHash(payload []byte) Identifier {
	if len(payload) == 0 {
		return sha256.Sum256(nil)
	}
	format, digests, ok := sectionDigests(payload)
	if !ok {
		h := sha256.New()
		h.Write([]byte(rawTag))
		h.Write(payload)
		return Identifier(h.Sum(nil))
	}
	return PayloadHashOf(format, digests)
}

// PayloadHashOf is the hash of a framed payload of the given format whose
// sections, in order, have the given digests.
func PayloadHashOf(format uint8, digests []SectionDigest) Identifier {
	h := sha256.New()
	h.Write([]byte(framedTag))
	h.Write([]byte{format})
	for _, d := range digests {
		h.Write([]byte{d.Kind})
		h.Write(d.Hash[:])
	}
	return Identifier(h.Sum(nil))
}

// SectionHeader is the framing before each section's bytes.
const SectionHeader = 1 + 4

// Sections splits a framed payload into its format byte and sections
// (kind, bytes aliasing payload). ok is false for bytes that are not a
// framed payload: empty, or a length that runs past the end.
func Sections(payload []byte, visit func(kind uint8, body []byte)) (format uint8, ok bool) {
	if len(payload) == 0 {
		return 0, false
	}
	rest := payload[1:]
	for len(rest) > 0 {
		if len(rest) < SectionHeader {
			return 0, false
		}
		n := binary.BigEndian.Uint32(rest[1:])
		if uint64(n) > uint64(len(rest)-SectionHeader) {
			return 0, false
		}
		if visit != nil {
			visit(rest[0], rest[SectionHeader:SectionHeader+int(n)])
		}
		rest = rest[SectionHeader+int(n):]
	}
	return payload[0], true
}

func sectionDigests(payload []byte) (uint8, []SectionDigest, bool) {
	if _, ok := Sections(payload, nil); !ok {
		return 0, nil, false
	}
	digests := make([]SectionDigest, 0, 4)
	format, _ := Sections(payload, func(kind uint8, body []byte) {
		digests = append(digests, SectionDigest{Kind: kind, Hash: sha256.Sum256(body)})
	})
	return format, digests, true
}
