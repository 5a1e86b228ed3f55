// Package fvm is floe's virtual machine for signed transactions: accounts
// with weighted keys, a native token that pays fees, and user programs
// (WebAssembly modules deployed into accounts, run by package wasm) that
// own their storage and call one another. It implements execution.VM, so
// execution nodes run it under Block-STM and verifiers re-execute chunks
// with it from their data packs: everything it does is a deterministic
// function of the transaction, its TxContext and the registers it reads
// through the blockstm.View, and every register it touches is recorded.
//
// A transaction runs in three layers (run.go): its authorization is
// checked against the keys in the state (transaction.Check); the fee for
// its whole gas limit is reserved from the payer and the proposal key's
// sequence number advances, both straight into the view; its operation
// runs in an overlay that is applied only if it succeeds. So a failed
// transaction changes nothing but the payer's fee and the proposer's
// sequence number, and the fee is the gas actually used: the unused part
// of the reservation is refunded. Fees are burned (nothing is credited
// to a shared fee account, which every transaction would then write:
// Block-STM would gain nothing).
//
// docs/programs.md describes accounts' registers, the gas schedule, the
// host functions and the rules of ownership.
package fvm
