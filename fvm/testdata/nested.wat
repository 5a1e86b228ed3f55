;; Called by another program, tries to act for the transaction's
;; authorizer: refused (only the top-level call carries the authority).
;; "debit" tries to take 10 tokens from arg 0 without an allowance.
(module
  (import "env" "auth_set" (func $auth_set (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "auth_count" (func $auth_count (result i32)))
  (import "env" "debit" (func $debit (param i32 i64) (result i32)))
  (import "env" "arg" (func $arg (param i32 i32) (result i32)))
  (import "env" "ret" (func $ret (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "k")
  (func (export "steal")
    (drop (call $auth_set (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 1))))
  (func (export "count")
    (i32.store (i32.const 16) (call $auth_count))
    (call $ret (i32.const 16) (i32.const 4)))
  (func (export "debit")
    (drop (call $arg (i32.const 0) (i32.const 32)))
    (i32.store (i32.const 16) (call $debit (i32.const 32) (i64.const 10)))
    (call $ret (i32.const 16) (i32.const 4))))
