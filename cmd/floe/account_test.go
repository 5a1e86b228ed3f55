package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/internal/fakeaccess"
	"github.com/floe-bft/floe/transaction"
)

// keygen runs 'floe account keygen' and returns the key file's path and
// the public key it printed.
func keygen(t *testing.T, dir, name string, extra ...string) (string, string) {
	t.Helper()
	path := filepath.Join(dir, name)
	out, _, err := execute(t, append([]string{"account", "keygen", "--out", path}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`public key: ([0-9a-f]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("keygen printed %q", out)
	}
	return path, m[1]
}

// mustLoad reads a key file's public key.
func mustLoad(t *testing.T, path string) account.Key {
	t.Helper()
	k, err := account.LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return k.PublicKey()
}

func TestAccountKeygen(t *testing.T) {
	dir := t.TempDir()
	path, pub := keygen(t, dir, "a.json")
	if k := mustLoad(t, path); hex.EncodeToString(k.PublicKey) != pub || k.SigAlgo != account.Ed25519 {
		t.Fatalf("printed %s, file holds %+v", pub, k)
	}
	path, _ = keygen(t, dir, "b.json", "--algo", "ecdsa-p256", "--hash", "sha2-256")
	if k := mustLoad(t, path); k.SigAlgo != account.ECDSA_P256 || k.HashAlgo != account.SHA2_256 {
		t.Fatalf("ecdsa key %+v", k)
	}
	before, _ := os.ReadFile(path)
	for args, want := range map[string]string{
		"--out " + path:                                    "exists",
		"--out " + dir + "/c --hash sha3-256":              "--hash is for ecdsa-p256",
		"--out " + dir + "/c --algo rsa":                   "--algo",
		"--out " + dir + "/c --algo ecdsa-p256 --hash md5": "--hash",
		"": "--out is required",
	} {
		_, _, err := execute(t, append([]string{"account", "keygen"}, strings.Fields(args)...)...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("keygen %s: %v, want %q", args, err, want)
		}
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Fatal("keygen overwrote a key file")
	}
}

// The account commands against a fake access node: create an account,
// fund it, show it, add and revoke a key, deploy a program and call it.
func TestAccountCommands(t *testing.T) {
	dir := t.TempDir()
	n := fakeaccess.New()
	srv := httptest.NewServer(n.Handler())
	defer srv.Close()
	svcFile, _ := keygen(t, dir, "svc.json")
	userFile, userPub := keygen(t, dir, "user.json", "--algo", "ecdsa-p256")
	thirdFile, thirdPub := keygen(t, dir, "third.json")
	svc := n.AddAccount(1_000_000, mustLoad(t, svcFile))
	run := func(args ...string) string {
		t.Helper()
		out, _, err := execute(t, append(args, "--node", srv.URL)...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return out
	}

	out := run("account", "create", "--key", userFile, "--payer", svc.Hex(), "--payer-key", svcFile)
	m := regexp.MustCompile(`(?m)^address: (0x[0-9a-f]{16})$`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "submitted ") || !strings.Contains(out, "result:   ok") {
		t.Fatalf("create printed:\n%s", out)
	}
	user, err := account.ParseAddress(m[1], fakeaccess.Chain)
	if err != nil {
		t.Fatal(err)
	}
	if keys := n.Keys(user); len(keys) != 1 || hex.EncodeToString(keys[0].PublicKey) != userPub || keys[0].Weight != 1000 {
		t.Fatalf("created account's keys %+v", keys)
	}

	out = run("account", "transfer", "--from", svc.Hex(), "--key", svcFile, user.Hex(), "5000")
	if n.Balance(user) != 5000 || !strings.Contains(out, "token.transfer "+svc.Hex()+" -> "+user.Hex()+" amount 5000") {
		t.Fatalf("transfer: balance %d\n%s", n.Balance(user), out)
	}

	out = run("account", "keys", "add", user.Hex(), "--key", userFile, "--new-key", thirdFile, "--weight", "500")
	if keys := n.Keys(user); len(keys) != 2 || hex.EncodeToString(keys[1].PublicKey) != thirdPub || keys[1].Weight != 500 ||
		!strings.Contains(out, "account.key_added "+user.Hex()+" key 1") {
		t.Fatalf("add key: %+v\n%s", n.Keys(user), out)
	}
	run("account", "keys", "revoke", user.Hex(), "1", "--key", userFile)
	if keys := n.Keys(user); !keys[1].Revoked || keys[0].Revoked {
		t.Fatalf("revoke: %+v", keys)
	}

	code, err := os.ReadFile(filepath.Join("..", "..", "examples", "token", "token.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	hash := sha256.Sum256(code)
	out = run("program", "deploy", filepath.Join("..", "..", "examples", "token", "token.wasm"), "--account", user.Hex(), "--key", userFile)
	if !strings.Contains(out, "program.deployed "+user.Hex()+" code "+hex.EncodeToString(hash[:])) {
		t.Fatalf("deploy printed:\n%s", out)
	}
	if tx := n.Sent()[len(n.Sent())-1]; tx.GasLimit != client.DefaultGas(transaction.Deploy{Code: code}) {
		t.Fatalf("deploy gas %d", tx.GasLimit)
	}

	out = run("tx", "call", user.Hex()+".mint", svc.Hex(), "u64:1000", "7", "hex:0aff", "str:hi", "--account", user.Hex(), "--key", userFile, "--gas", "4242")
	tx := n.Sent()[len(n.Sent())-1]
	call, ok := tx.Op.(transaction.Call)
	if !ok || call.Program != user || call.Function != "mint" || tx.GasLimit != 4242 || len(tx.Authorizers) != 1 || tx.Authorizers[0] != user {
		t.Fatalf("call sent %+v", tx)
	}
	wantArgs := []string{string(svc[:]), "\xe8\x03\x00\x00\x00\x00\x00\x00", "\x07\x00\x00\x00\x00\x00\x00\x00", "\x0a\xff", "hi"}
	for i, a := range call.Args {
		if string(a) != wantArgs[i] {
			t.Fatalf("argument %d is %x, want %x", i, a, wantArgs[i])
		}
	}
	for _, want := range []string{"result:   ok", "gas used: 1234", strings.TrimPrefix(user.Hex(), "0x") + ".mint payload "} {
		if !strings.Contains(out, want) {
			t.Fatalf("call output lacks %q:\n%s", want, out)
		}
	}

	out = run("account", "show", user.Hex())
	for _, want := range []string{"balance: 5000", "program: " + hex.EncodeToString(hash[:]), "keys:    2",
		"0: ECDSA_P256/SHA3_256 weight 1000 seq 4 " + userPub, "1: Ed25519/NONE weight 500 seq 0 REVOKED"} {
		if !strings.Contains(out, want) {
			t.Fatalf("show lacks %q:\n%s", want, out)
		}
	}
	var resp api.AccountResponse
	if err := json.Unmarshal([]byte(run("account", "show", user.Hex(), "--json")), &resp); err != nil || resp.Balance != 5000 || len(resp.Keys) != 2 {
		t.Fatalf("show --json: %+v %v", resp, err)
	}
}

// Mistakes are refused with a clear reason, before anything is sent when
// they are the caller's; the node's refusal and a failed execution come
// back with theirs, and exit non-zero.
func TestAccountCommandErrors(t *testing.T) {
	dir := t.TempDir()
	n := fakeaccess.New()
	srv := httptest.NewServer(n.Handler())
	defer srv.Close()
	keyFile, _ := keygen(t, dir, "k.json")
	otherFile, _ := keygen(t, dir, "other.json")
	a := n.AddAccount(100, mustLoad(t, keyFile))
	typo := a
	typo[0] ^= 0x10
	notWasm := filepath.Join(dir, "prog.wat")
	if err := os.WriteFile(notWasm, []byte("(module)"), 0o644); err != nil {
		t.Fatal(err)
	}
	node := "--node=" + srv.URL
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"account", "transfer", "--from", a.Hex(), "--key", keyFile, typo.Hex(), "1", node}, "recipient: invalid address"},
		{[]string{"account", "transfer", "--from", typo.Hex(), "--key", keyFile, a.Hex(), "1", node}, "--from: invalid address"},
		{[]string{"account", "transfer", "--from", a.Hex(), "--key", dir + "/missing.json", a.Hex(), "1", node}, "missing.json does not exist"},
		{[]string{"account", "transfer", "--from", a.Hex(), a.Hex(), "1", node}, "--key is required"},
		{[]string{"account", "transfer", "--from", a.Hex(), "--key", keyFile, a.Hex(), "0", node}, "transfer of 0"},
		{[]string{"account", "transfer", "--from", a.Hex(), "--key", keyFile, a.Hex(), "-1", node}, "unknown shorthand flag"},
		{[]string{"account", "transfer", "--from", a.Hex(), "--key", otherFile, a.Hex(), "1", node}, client.ErrKeyMismatch.Error()},
		{[]string{"account", "transfer", "--from", a.Hex(), "--key", keyFile, "--key-index", "3", a.Hex(), "1", node}, "no key 3"},
		{[]string{"account", "keys", "revoke", a.Hex(), "x", "--key", keyFile, node}, "key index"},
		{[]string{"account", "show", typo.Hex(), node}, "invalid address"},
		{[]string{"program", "deploy", notWasm, "--account", a.Hex(), "--key", keyFile, node}, "not a WebAssembly binary"},
		{[]string{"tx", "call", a.Hex() + "mint", "--account", a.Hex(), "--key", keyFile, node}, "PROGRAM_ADDRESS.FUNCTION"},
		{[]string{"tx", "call", a.Hex() + ".mint", "five", "--account", a.Hex(), "--key", keyFile, node}, "str:TEXT"},
		{[]string{"tx", "call", a.Hex() + ".mint", typo.Hex(), "--account", a.Hex(), "--key", keyFile, node}, "invalid address"},
	} {
		out, _, err := execute(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q\n%s", tc.args, err, tc.want, out)
		}
	}
	if len(n.Sent()) != 0 {
		t.Fatalf("refused commands sent %d transactions", len(n.Sent()))
	}

	missing, _ := account.AddressAt(fakeaccess.Chain, 50)
	if _, _, err := execute(t, "account", "show", missing.Hex(), node); !errors.Is(err, client.ErrNoAccount) {
		t.Fatalf("show of no account: %v", err)
	}
	// A failed execution: the VM's reason, exit status 1.
	out, _, err := execute(t, "account", "transfer", "--from", a.Hex(), "--key", keyFile, a.Hex(), "101", node)
	if !errors.Is(err, client.ErrTxFailed) || !strings.Contains(out, "result:   failed: insufficient balance") {
		t.Fatalf("failed transfer: %v\n%s", err, out)
	}
	// The node's refusal, with its reason.
	n.Reject = "reference block expired"
	_, _, err = execute(t, "account", "transfer", "--from", a.Hex(), "--key", keyFile, a.Hex(), "1", node)
	var re *client.RejectedError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "rejected: reference block expired") {
		t.Fatalf("refusal: %v", err)
	}
}
