package consensus_test

import (
	"strings"
	"testing"
	"time"

	node "github.com/floe-bft/floe/role/consensus"
)

func TestFaultsFromEnv(t *testing.T) {
	env := func(kv map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
	}
	for _, tc := range []struct {
		flag bool
		env  map[string]string
		want node.Faults
		err  string
	}{
		{false, nil, node.Faults{}, ""},
		{true, nil, node.Faults{ForgetSafetyData: true}, ""},
		{false, map[string]string{node.EnvForgetSafetyData: "true"}, node.Faults{ForgetSafetyData: true}, ""},
		{true, map[string]string{node.EnvForgetSafetyData: "false"}, node.Faults{ForgetSafetyData: true}, ""},
		{false, map[string]string{node.EnvForgetSafetyData: ""}, node.Faults{}, ""},
		{false, map[string]string{node.EnvClockOffset: "-3s"}, node.Faults{ClockOffset: -3 * time.Second}, ""},
		{false, map[string]string{node.EnvForgetSafetyData: "yes please"}, node.Faults{}, node.EnvForgetSafetyData},
		{false, map[string]string{node.EnvClockOffset: "soon"}, node.Faults{}, "want a duration"},
		{false, map[string]string{node.EnvClockOffset: "30h"}, node.Faults{}, "at most"},
	} {
		got, err := node.FaultsFromEnv(tc.flag, env(tc.env))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v %v: %v, want an error with %q", tc.flag, tc.env, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%v %v: %+v %v, want %+v", tc.flag, tc.env, got, err, tc.want)
		}
	}
}
