;; Refused: an f32 local.
(module
  (memory (export "memory") 1)
  (func (export "f") (local f32)))
