;; Floating point: refused at deploy.
(module
  (memory (export "memory") 1)
  (func (export "run") (local f64)
    f64.const 1.5
    local.set 0))
