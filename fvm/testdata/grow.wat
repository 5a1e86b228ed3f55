;; Grows memory until refused, then stores how many pages it got: the
;; grow past the limit returns -1, deterministically.
(module
  (import "env" "set" (func $set (param i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "pages")
  (func (export "run") (local i32)
    (block $done
      (loop $more
        (br_if $done (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
        (br $more)))
    (i32.store (i32.const 8) (memory.size))
    (call $set (i32.const 0) (i32.const 5) (i32.const 8) (i32.const 4))))
