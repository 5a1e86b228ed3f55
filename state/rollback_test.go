package state

import (
	"errors"
	"testing"
)

// After a rollback the store is at the old version (reads, root, latest,
// across a reopen), the forgotten versions are unknown, and committing
// the same versions again with the same writes gives the same roots.
func TestRollbackForgetsLaterVersions(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, b := RegisterID{Key: "a"}, RegisterID{Key: "b"}
	r1, err := s.Commit(1, []Write{{ID: a, Value: []byte("1")}})
	if err != nil {
		t.Fatal(err)
	}
	w2 := []Write{{ID: a, Value: []byte("2")}, {ID: b, Value: []byte("x")}}
	r2, err := s.Commit(2, w2)
	if err != nil {
		t.Fatal(err)
	}
	w3 := []Write{{ID: a}}
	r3, err := s.Commit(3, w3)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Rollback(1); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	check := func(s *Store) {
		t.Helper()
		if v, root := s.Latest(); v != 1 || root != r1 {
			t.Fatalf("latest = %d %x, want 1 %x", v, root, r1)
		}
		if got, err := s.Get(1, a); err != nil || string(got) != "1" {
			t.Fatalf("a at 1 = %q, %v", got, err)
		}
		if _, err := s.Get(2, a); !errors.Is(err, ErrUnknownVersion) {
			t.Fatalf("version 2 after the rollback: %v", err)
		}
	}
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check(s)
	if got, err := s.Commit(2, w2); err != nil || got != r2 {
		t.Fatalf("recommit 2 = %x, %v; want %x", got, err, r2)
	}
	if got, err := s.Commit(3, w3); err != nil || got != r3 {
		t.Fatalf("recommit 3 = %x, %v; want %x", got, err, r3)
	}
	if got, err := s.Get(3, b); err != nil || string(got) != "x" {
		t.Fatalf("b at 3 = %q, %v", got, err)
	}
	if err := s.Rollback(7); !errors.Is(err, ErrUnknownVersion) {
		t.Fatalf("rollback above latest: %v", err)
	}
}
