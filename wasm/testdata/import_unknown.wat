;; Refused: a host function that is not registered.
(module
  (import "env" "clock" (func (result i64)))
  (memory (export "memory") 1))
