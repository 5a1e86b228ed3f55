;; An unbounded loop: ends out of gas.
(module
  (memory (export "memory") 1)
  (func (export "run")
    (loop $l (br $l))))
