;; Calls host functions: charging gas, reading and writing memory, and a
;; nested call into another program.
(module
  (import "env" "charge" (func $charge (param i64)))
  (import "env" "nested" (func $nested (param i32) (result i32)))
  (import "env" "echo" (func $echo (param i32 i32)))
  (import "env" "poke" (func $poke))
  (import "env" "boom" (func $boom))
  (memory (export "memory") 1)
  ;; A re-exported import is not a function of the program.
  (export "charge" (func $charge))
  (data (i32.const 16) "hello")

  (func (export "pay") (param i64)
    (call $charge (local.get 0)))

  (func (export "call_other") (param i32) (result i32)
    (i32.add (call $nested (local.get 0)) (i32.const 1)))

  ;; Lets the host act (the tests cancel the context), then never ends.
  (func (export "poke_then_spin")
    (call $poke)
    (loop $l (br $l)))

  ;; The host function panics: the call fails with ErrHost.
  (func (export "boom") (call $boom))

  ;; Asks the host to copy memory[ptr..ptr+len) to memory[256..).
  (func (export "echo") (param i32 i32) (result i32)
    (call $echo (local.get 0) (local.get 1))
    (i32.load8_u (i32.const 256))))
