;; Integer programs exercising loops, recursion, memory growth and traps.
(module
  (memory (export "memory") 1 1000)
  (table 2 funcref)
  (elem (i32.const 0) $fib $double)
  (type $i32_i32 (func (param i32) (result i32)))

  ;; Never ends: only gas stops it.
  (func (export "spin")
    (loop $l (br $l)))

  ;; sum(n) = n + (n-1) + ... + 1. Gas is 1024 + 12(n+1) + 1 (runtime_test.go).
  (func (export "sum") (param $n i64) (result i64) (local $acc i64)
    (block $done
      (loop $top
        local.get $n
        i64.eqz
        br_if $done
        local.get $acc
        local.get $n
        i64.add
        local.set $acc
        local.get $n
        i64.const 1
        i64.sub
        local.set $n
        br $top))
    local.get $acc)

  ;; Recursion without a base case: only the call depth stops it.
  (func $recurse (export "recurse") (param i32) (result i32)
    local.get 0
    i32.const 1
    i32.add
    call $recurse)

  ;; countdown(n) recurses n calls deep: the call depth limit is exact.
  (func $countdown (export "countdown") (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 0))
      (else (i32.add (call $countdown (i32.sub (local.get $n) (i32.const 1))) (i32.const 1)))))

  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else
        (i32.add
          (call $fib (i32.sub (local.get $n) (i32.const 1)))
          (call $fib (i32.sub (local.get $n) (i32.const 2)))))))

  (func $double (param i32) (result i32)
    (i32.shl (local.get 0) (i32.const 1)))

  ;; call_indirect through the table: 0 = fib, 1 = double, else a trap.
  (func (export "indirect") (param $i i32) (param $x i32) (result i32)
    (call_indirect (type $i32_i32) (local.get $x) (local.get $i)))

  ;; Grows one page at a time until memory.grow returns -1, then returns
  ;; the number of pages the memory has: the program handles the refusal.
  (func (export "grow") (result i32)
    (block $full
      (loop $more
        (br_if $full (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
        (br $more)))
    memory.size)

  ;; Asks for more pages than any limit allows: -1, not an error.
  (func (export "grow_huge") (result i32)
    (memory.grow (i32.const 100000)))

  (func (export "div") (param i32 i32) (result i32)
    (i32.div_u (local.get 0) (local.get 1)))

  (func (export "oob") (result i32)
    (i32.load (i32.const 0x7fffffff)))

  (func (export "trap") (unreachable))

  ;; A mix of branches, memory and arithmetic whose gas depends on the
  ;; input: the determinism fuzz target runs it on both engines.
  (func (export "mix") (param $x i64) (result i64) (local $i i32) (local $acc i64)
    (local.set $i (i32.and (i32.wrap_i64 (local.get $x)) (i32.const 63)))
    (local.set $acc (local.get $x))
    (block $done
      (loop $top
        (br_if $done (i32.eqz (local.get $i)))
        (i64.store (i32.and (i32.mul (local.get $i) (i32.const 8)) (i32.const 0xfff))
          (local.get $acc))
        (local.set $acc
          (i64.xor
            (i64.rotl (local.get $acc) (i64.const 7))
            (i64.load (i32.and (i32.mul (local.get $i) (i32.const 24)) (i32.const 0xff8)))))
        (if (i64.eqz (i64.rem_u (local.get $acc) (i64.const 3)))
          (then (local.set $acc (i64.extend32_s (local.get $acc))))
          (else (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_u (call $fib (i32.and (local.get $i) (i32.const 7))))))))
        (local.set $i (i32.sub (local.get $i) (i32.const 1)))
        (br $top)))
    (i64.div_u (local.get $acc) (i64.and (local.get $x) (i64.const 0xff)))))
