;; Refused: f64 in a function type.
(module
  (memory (export "memory") 1)
  (func (export "f") (param f64)))
