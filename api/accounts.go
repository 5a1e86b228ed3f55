package api

// AccountKey is one key of an account as GET /v1/accounts/{address}
// shows it.
type AccountKey struct {
	Index     uint32 `json:"index"`
	PublicKey string `json:"public_key"` // hex
	SigAlgo   string `json:"sig_algo"`   // account.SigAlgo.String: "ECDSA_P256" or "Ed25519"
	HashAlgo  string `json:"hash_algo"`  // account.HashAlgo.String: "SHA2_256", "SHA3_256" or "NONE"
	Weight    uint32 `json:"weight"`
	Revoked   bool   `json:"revoked"`
	// SeqNum is the sequence number the next transaction proposed with
	// this key must carry.
	SeqNum uint64 `json:"seq_num"`
}

// AccountResponse answers an access node's GET /v1/accounts/{address}:
// the account in the end state of the newest result a finalized block
// carries, every register of it proven against that result's state root
// (from the execution nodes; the access node checks the proofs before it
// answers). Sealed is false until sealing exists: the result is an
// executor's signed claim.
type AccountResponse struct {
	Address string       `json:"address"` // 0x-prefixed hex
	Exists  bool         `json:"exists"`
	Balance uint64       `json:"balance"`
	Keys    []AccountKey `json:"keys,omitempty"`
	// CodeHash is the SHA-256 of the deployed program (hex), empty
	// without one; CodeSize its size in bytes.
	CodeHash string `json:"code_hash,omitempty"`
	CodeSize uint32 `json:"code_size,omitempty"`
	// Height is the executed height whose end state was read, Root that
	// state's root (hex), BlockHeight the finalized block carrying it.
	Height      uint64 `json:"height"`
	Root        string `json:"root"`
	BlockHeight uint64 `json:"block_height"`
	Sealed      bool   `json:"sealed"`
}
