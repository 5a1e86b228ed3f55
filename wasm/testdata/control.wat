;; Control flow the instrumentation must keep valid: dead code after br,
;; return, unreachable and br_table (with nested blocks inside it), blocks
;; and ifs with results, br_table with many targets, early returns.
(module
  (memory (export "memory") 1)

  (func (export "dead") (param $x i32) (result i32)
    (block $out (result i32)
      (block $a
        (br_if $a (local.get $x))
        (return (i32.const 7))
        ;; dead: nested blocks, a loop with a result, a call
        (block (result i32) (loop (result i32) (i32.const 1)))
        drop
        (drop (call $id (i32.const 3)))
        unreachable
        (if (result i32) (i32.const 1) (then (i32.const 2)) (else (i32.const 3)))
        (br $out))
      (i32.const 40)
      (br $out)
      i32.const 99
      select)
    (i32.const 2)
    i32.add)

  (func $id (param i32) (result i32) (local.get 0))

  ;; switch(x) over 0..4 via br_table, default 100.
  (func (export "switch") (param $x i32) (result i32)
    (block $d (block $4 (block $3 (block $2 (block $1 (block $0
      (br_table $0 $1 $2 $3 $4 $d (local.get $x)))
      (return (i32.const 10)))
      (return (i32.const 11)))
      (return (i32.const 12)))
      (return (i32.const 13)))
      (return (i32.const 14)))
    (i32.const 100))

  ;; Nested loops with results and branches out of both.
  (func (export "nested") (param $n i32) (result i32) (local $i i32) (local $j i32) (local $acc i32)
    (block $done
      (loop $outer
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $j (i32.const 0))
        (loop $inner
          (local.set $acc (i32.add (local.get $acc)
            (if (result i32) (i32.and (local.get $j) (i32.const 1))
              (then (local.get $i))
              (else (local.get $j)))))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br_if $inner (i32.lt_u (local.get $j) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    (local.get $acc)))
