package account

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeyFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for i, c := range algos {
		k := testKey(t, c, uint64(60+i))
		path := filepath.Join(dir, c.name+".json")
		if err := SaveKeyFile(path, k); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("mode %v", st.Mode().Perm())
		}
		got, err := LoadKeyFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Bytes()) != string(k.Bytes()) || !got.PublicKey().Equal(k.PublicKey()) {
			t.Fatalf("%s: loaded a different key", c.name)
		}
		if err := SaveKeyFile(path, k); !errors.Is(err, ErrKeyFile) || !errors.Is(err, fs.ErrExist) {
			t.Fatalf("overwrite: %v", err)
		}
	}
}

func TestKeyFileRefusals(t *testing.T) {
	dir := t.TempDir()
	k := testKey(t, algos[0], 70)
	good := filepath.Join(dir, "good.json")
	if err := SaveKeyFile(good, k); err != nil {
		t.Fatal(err)
	}
	content, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, body string, perm os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, perm); err != nil { // umask-proof
			t.Fatal(err)
		}
		return p
	}
	other := testKey(t, algos[0], 71)
	cases := map[string]string{
		"world readable": write("open.json", string(content), 0o644),
		"group readable": write("group.json", string(content), 0o640),
		"bad json":       write("bad.json", "{", 0o600),
		"unknown field":  write("extra.json", strings.Replace(string(content), "{", `{"x":1,`, 1), 0o600),
		"bad hex":        write("hex.json", strings.Replace(string(content), `"private_key": "`, `"private_key": "zz`, 1), 0o600),
		"wrong algo":     write("algo.json", strings.Replace(string(content), "ECDSA_P256", "RSA", 1), 0o600),
		"wrong hash":     write("hash.json", strings.Replace(string(content), "SHA2_256", "NONE", 1), 0o600),
		"mismatched public key": write("pub.json", strings.Replace(string(content),
			hexOf(k.PublicKey().PublicKey), hexOf(other.PublicKey().PublicKey), 1), 0o600),
		"too large": write("big.json", strings.Repeat(" ", maxKeyFileSize+1), 0o600),
		"directory": dir,
	}
	for name, path := range cases {
		if _, err := LoadKeyFile(path); !errors.Is(err, ErrKeyFile) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := LoadKeyFile(filepath.Join(dir, "missing.json")); !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, ErrKeyFile) {
		t.Fatal(err)
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
