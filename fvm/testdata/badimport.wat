;; Imports something the host does not offer.
(module
  (import "env" "clock" (func $clock (result i64)))
  (memory (export "memory") 1)
  (func (export "run") (drop (call $clock))))
