package api

// FDReserve is how many file descriptors the API leaves to the rest of the
// process: peer connections (two per peer), the databases' files (Pebble
// keeps up to 256 open per database, two databases) and the process's
// own. Without a reserve, held API connections once exhausted the limit
// and the P2P listener could no longer accept its peers.
const FDReserve = 768

// minAPIConns is the least the API gets however low the limit: below it
// the node is misconfigured, and the operator sees the warning Host logs.
const minAPIConns = 32

// apiConnBudget is the number of API connections allowed: the configured
// cap, lowered to what the file limit leaves after FDReserve (limit 0:
// unknown, the configured cap stands).
func apiConnBudget(configured int, fileLimit uint64) int {
	if fileLimit == 0 {
		return configured
	}
	avail := minAPIConns
	if fileLimit > FDReserve+minAPIConns {
		avail = int(min(fileLimit-FDReserve, 1<<30))
	}
	if configured == 0 || configured > avail {
		return avail
	}
	return configured
}
