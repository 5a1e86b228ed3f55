;; Calls function arg1 of the program at address arg0 and stores its
;; return data under "r"; "grant" lets the program at arg0 debit the
;; first authorizer up to 25.
(module
  (import "env" "arg" (func $arg (param i32 i32) (result i32)))
  (import "env" "call" (func $call (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "set" (func $set (param i32 i32 i32 i32)))
  (import "env" "grant" (func $grant (param i32 i32 i64) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "r")
  (func (export "run") (local $flen i32) (local $n i32)
    (drop (call $arg (i32.const 0) (i32.const 16)))
    (local.set $flen (call $arg (i32.const 1) (i32.const 32)))
    ;; args for the callee: one argument, the caller's own arg 2 if any
    (i32.store (i32.const 100) (i32.const 1))
    (i32.store (i32.const 104) (call $arg (i32.const 2) (i32.const 108)))
    (local.set $n (call $call (i32.const 16) (i32.const 32) (local.get $flen)
      (i32.const 100) (i32.const 16) (i32.const 200) (i32.const 64)))
    (call $set (i32.const 0) (i32.const 1) (i32.const 200) (local.get $n)))
  (func (export "grant")
    (drop (call $arg (i32.const 0) (i32.const 16)))
    (drop (call $grant (i32.const 0) (i32.const 16) (i64.const 25)))))
