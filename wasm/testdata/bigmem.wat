;; Refused under the default limits: 1000 initial pages.
(module
  (memory (export "memory") 1000))
