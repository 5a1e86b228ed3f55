;; Refused: a start function.
(module
  (memory (export "memory") 1)
  (func $init)
  (start $init))
