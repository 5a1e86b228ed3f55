package genesis

import "testing"

// A member's API entry must be an http(s) base URL; absent is allowed.
func TestCheckAPI(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"", true},
		{"http://127.0.0.1:8080", true},
		{"https://node.example:443/", true},
		{"127.0.0.1:8080", false},
		{"ftp://host:1", false},
		{"http://", false},
		{"http://host:1/?q=1", false},
	} {
		if err := checkAPI(c.in); (err == nil) != c.ok {
			t.Errorf("checkAPI(%q) = %v, want ok=%v", c.in, err, c.ok)
		}
	}
}
