;; Asks for far more memory than a program may have at deploy.
(module
  (memory (export "memory") 4096)
  (func (export "run")))
