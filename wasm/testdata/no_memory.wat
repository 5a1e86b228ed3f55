;; Refused: no memory.
(module
  (func (export "f")))
