;; Refused: env.charge declared with the wrong signature.
(module
  (import "env" "charge" (func (param i32)))
  (memory (export "memory") 1))
