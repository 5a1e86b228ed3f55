package model_test

import (
	"crypto/sha256"
	"testing"

	"github.com/floe-bft/floe/consensus/model"
)

// TestPayloadHashCommitsSectionBySection: a framed payload's hash is the
// hash of its sections' digests, so a section can be checked from the
// others' digests alone; unframed bytes hash under another domain.
func TestPayloadHashCommitsSectionBySection(t *testing.T) {
	framed := []byte{2, 1, 0, 0, 0, 2, 'a', 'b', 2, 0, 0, 0, 1, 'c'}
	want := model.PayloadHashOf(2, []model.SectionDigest{
		{Kind: 1, Hash: sha256.Sum256([]byte("ab"))},
		{Kind: 2, Hash: sha256.Sum256([]byte("c"))},
	})
	if got := model.PayloadHash(framed); got != want {
		t.Fatalf("framed payload hashes to %v, its sections' digests to %v", got, want)
	}
	// Moving a byte across a section boundary changes the hash although
	// the concatenated bodies are the same.
	moved := []byte{2, 1, 0, 0, 0, 1, 'a', 2, 0, 0, 0, 2, 'b', 'c'}
	if model.PayloadHash(moved) == model.PayloadHash(framed) {
		t.Fatal("two framings of the same bytes share a hash")
	}
	unframed := []byte{2, 1, 0, 0, 0, 9, 'a'} // the length runs past the end
	if _, ok := model.Sections(unframed, nil); ok {
		t.Fatal("an overrunning section was accepted as framing")
	}
	if model.PayloadHash(unframed) == sha256.Sum256(unframed) || model.PayloadHash(unframed) == model.PayloadHash(framed) {
		t.Fatal("unframed bytes are not hashed under their own domain")
	}
	if model.PayloadHash(nil) != sha256.Sum256(nil) {
		t.Fatal("the empty payload's hash changed")
	}
}
