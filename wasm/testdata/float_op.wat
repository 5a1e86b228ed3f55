;; Refused: a float instruction in an integer-typed function.
(module
  (memory (export "memory") 1)
  (func (export "f") (param i32) (result i32)
    (i32.trunc_f32_s (f32.convert_i32_s (local.get 0)))))
