;; Refused: a data segment past the initial memory (every instantiation
;; would fail).
(module
  (memory (export "memory") 1)
  (data (i32.const 65534) "hello"))
