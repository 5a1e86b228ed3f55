;; Refused: an f64 global.
(module
  (memory (export "memory") 1)
  (global f64 (f64.const 1.5)))
