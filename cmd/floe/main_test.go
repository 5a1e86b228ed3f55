package main

import (
	"os"
	"testing"
)

// envRunMain makes the test binary behave as the floe CLI. The testnet
// starts node processes from its own executable, which under 'go test' is
// the test binary; children inherit this variable and so run 'floe start'
// instead of the tests.
const envRunMain = "FLOE_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envRunMain) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}
