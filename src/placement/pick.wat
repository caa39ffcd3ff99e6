;; The inner loops of a pick, four servers at a time (WebAssembly SIMD). Source of pick-wasm.ts, which holds
;; these functions compiled (npm run build:wasm; a test checks that the two agree). Both decide from lane A of
;; the key's digest and the top 21 bits of each draw, exactly as table.ts does, and answer -1 whenever those
;; cannot decide: the caller then runs the exact loops in JavaScript.
;;
;; `uniform` and `weighted` read the n server digests (i32) at $sa, and `weighted` n factors (f32) at $iw; both
;; may read up to 12 bytes past the end of either array, and those lanes are masked out. Bytes 0 to 47 of the
;; memory are scratch for `lanes`, and `close` writes where it is told (simd.ts gives it the bytes after them);
;; blocks are allocated after those.
(module
  (memory (export "memory") 1)

  ;; The largest (returned) and second largest (left in $second), unsigned, of the lanes of $a and $b, where
  ;; each lane of $b is at most the same lane of $a (the running largest and second largest of four lanes).
  (global $second (mut i32) (i32.const 0))
  ;; The largest (uniform) or smallest (weighted) packed value of the last pick, for the wide picks.
  (global $first (mut i32) (i32.const 0))
  ;; When $bound cannot decide: an upper bound, in the units of `weighted`'s lower bounds, of the winner's
  ;; 2^21 * e * wmax / w (+Infinity when there is none), for `close`.
  (global $limit (mut f32) (f32.const inf))
  (func $top2 (param $a v128) (param $b v128) (result i32)
    (local $s v128) (local $hi v128) (local $lo v128) (local $x v128)
    ;; pairs (0,1) and (2,3): largest and smallest of each pair in every lane of the pair
    (local.set $s (i8x16.shuffle 4 5 6 7 0 1 2 3 12 13 14 15 8 9 10 11 (local.get $a) (local.get $a)))
    (local.set $hi (i32x4.max_u (local.get $a) (local.get $s)))
    (local.set $lo (i32x4.min_u (local.get $a) (local.get $s)))
    ;; across the pairs: the largest; the second is the larger of (smaller pair maximum, larger pair minimum)
    (local.set $s (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $hi) (local.get $hi)))
    (local.set $x (i32x4.max_u
      (i32x4.min_u (local.get $hi) (local.get $s))
      (i32x4.max_u (local.get $lo)
        (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $lo) (local.get $lo)))))
    (local.set $hi (i32x4.max_u (local.get $hi) (local.get $s)))
    ;; the largest lane of $b
    (local.set $s (i32x4.max_u (local.get $b)
      (i8x16.shuffle 4 5 6 7 0 1 2 3 12 13 14 15 8 9 10 11 (local.get $b) (local.get $b))))
    (local.set $s (i32x4.max_u (local.get $s)
      (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $s) (local.get $s))))
    (global.set $second (i32x4.extract_lane 0 (i32x4.max_u (local.get $x) (local.get $s))))
    (i32x4.extract_lane 0 (local.get $hi)))

  ;; Equal weights: the offset in [0, n) of the server with the largest draw, or -1 when its top 21 bits were
  ;; seen twice (lane B decides). Each server packs (top 21 bits << 10) | offset; n is 1 to 1024.
  (func $uniform (export "uniform") (param $ka i32) (param $sa i32) (param $n i32) (result i32)
    (local $kav v128) (local $nv v128) (local $idx v128) (local $m1 v128) (local $m2 v128) (local $p v128)
    (local $t v128) (local $end i32) (local $full i32) (local $best i32)
    (if (i32.gt_u (local.get $n) (i32.const 1024))
      (then (return (call $uniformWide (local.get $ka) (local.get $sa) (local.get $n)))))
    (local.set $kav (i32x4.splat (local.get $ka)))
    (local.set $nv (i32x4.splat (local.get $n)))
    (local.set $idx (v128.const i32x4 0 1 2 3))
    (local.set $end (i32.add (local.get $sa) (i32.shl (local.get $n) (i32.const 2))))
    ;; whole vectors, then the last one with its lanes past the end masked
    (local.set $full (i32.add (local.get $sa) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (if (i32.lt_u (local.get $sa) (local.get $full)) (then (loop $next
      ;; fmix32, written out (a call here is not inlined)
      (local.set $p (v128.xor (v128.load (local.get $sa)) (local.get $kav)))
      (local.set $p (v128.xor (local.get $p) (i32x4.shr_u (local.get $p) (i32.const 16))))
      (local.set $p (i32x4.mul (local.get $p) (v128.const i32x4 0x85ebca6b 0x85ebca6b 0x85ebca6b 0x85ebca6b)))
      (local.set $p (v128.xor (local.get $p) (i32x4.shr_u (local.get $p) (i32.const 13))))
      (local.set $p (i32x4.mul (local.get $p) (v128.const i32x4 0xc2b2ae35 0xc2b2ae35 0xc2b2ae35 0xc2b2ae35)))
      (local.set $p (v128.xor (local.get $p) (i32x4.shr_u (local.get $p) (i32.const 16))))
      (local.set $p (v128.or (i32x4.shl (i32x4.shr_u (local.get $p) (i32.const 11)) (i32.const 10))
        (local.get $idx)))
      (local.set $t (i32x4.min_u (local.get $m1) (local.get $p)))
      (local.set $m1 (i32x4.max_u (local.get $m1) (local.get $p)))
      (local.set $m2 (i32x4.max_u (local.get $m2) (local.get $t)))
      (local.set $idx (i32x4.add (local.get $idx) (v128.const i32x4 4 4 4 4)))
      (local.set $sa (i32.add (local.get $sa) (i32.const 16)))
      (br_if $next (i32.lt_u (local.get $sa) (local.get $full))))))
    (if (i32.lt_u (local.get $sa) (local.get $end)) (then
      ;; fmix32, written out (a call here is not inlined)
      (local.set $p (v128.xor (v128.load (local.get $sa)) (local.get $kav)))
      (local.set $p (v128.xor (local.get $p) (i32x4.shr_u (local.get $p) (i32.const 16))))
      (local.set $p (i32x4.mul (local.get $p) (v128.const i32x4 0x85ebca6b 0x85ebca6b 0x85ebca6b 0x85ebca6b)))
      (local.set $p (v128.xor (local.get $p) (i32x4.shr_u (local.get $p) (i32.const 13))))
      (local.set $p (i32x4.mul (local.get $p) (v128.const i32x4 0xc2b2ae35 0xc2b2ae35 0xc2b2ae35 0xc2b2ae35)))
      (local.set $p (v128.xor (local.get $p) (i32x4.shr_u (local.get $p) (i32.const 16))))
      (local.set $p (v128.or (i32x4.shl (i32x4.shr_u (local.get $p) (i32.const 11)) (i32.const 10))
        (local.get $idx)))
      ;; lanes past the end count as 0
      (local.set $p (v128.and (local.get $p) (i32x4.lt_u (local.get $idx) (local.get $nv))))
      (local.set $t (i32x4.min_u (local.get $m1) (local.get $p)))
      (local.set $m1 (i32x4.max_u (local.get $m1) (local.get $p)))
      (local.set $m2 (i32x4.max_u (local.get $m2) (local.get $t)))))
    (local.set $best (call $top2 (local.get $m1) (local.get $m2)))
    (global.set $first (local.get $best))
    ;; a tie on the top bits (or a winner whose top bits are 0, which masked lanes share: rare and harmless)
    (if (i32.eq (i32.shr_u (local.get $best) (i32.const 10)) (i32.shr_u (global.get $second) (i32.const 10)))
      (then (return (i32.const -1))))
    (i32.and (local.get $best) (i32.const 1023)))

  ;; Equal weights in a group of a hierarchical table, laid out as its n digests then its n server indices (each
  ;; run padded to a multiple of four): the winner's server index, or -1 as `uniform`. The server index sits next
  ;; to the digests just read, where looking it up in a table of its own cost a cache miss.
  (func (export "group") (param $ka i32) (param $sa i32) (param $n i32) (result i32)
    (local $r i32)
    (local.set $r (call $uniform (local.get $ka) (local.get $sa) (local.get $n)))
    (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (i32.const -1))))
    (i32.load (i32.add
      (i32.add (local.get $sa) (i32.shl (i32.and (i32.add (local.get $n) (i32.const 3)) (i32.const -4)) (i32.const 2)))
      (i32.shl (local.get $r) (i32.const 2)))))

  ;; `uniform` over more than 1024 servers: over blocks of 1024, the blocks' largest and second largest merged,
  ;; and the same decision: the winner's offset in [0, n), or -1.
  (func $uniformWide (param $ka i32) (param $sa i32) (param $n i32) (result i32)
    (local $best i32) (local $second i32) (local $block i32) (local $bestBlock i32)
    (loop $blocks
      (drop (call $uniform (local.get $ka) (local.get $sa)
        (select (local.get $n) (i32.const 1024) (i32.lt_u (local.get $n) (i32.const 1024)))))
      (if (i32.gt_u (global.get $first) (local.get $best))
        (then
          (local.set $second (select (local.get $best) (global.get $second)
            (i32.gt_u (local.get $best) (global.get $second))))
          (local.set $best (global.get $first))
          (local.set $bestBlock (local.get $block)))
        (else (local.set $second (select (global.get $first) (local.get $second)
          (i32.gt_u (global.get $first) (local.get $second))))))
      (local.set $block (i32.add (local.get $block) (i32.const 1)))
      (local.set $sa (i32.add (local.get $sa) (i32.const 4096)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1024)))
      (br_if $blocks (i32.gt_s (local.get $n) (i32.const 0))))
    (if (i32.eq (i32.shr_u (local.get $best) (i32.const 10)) (i32.shr_u (local.get $second) (i32.const 10)))
      (then (return (i32.const -1))))
    (i32.or (i32.shl (local.get $bestBlock) (i32.const 10)) (i32.and (local.get $best) (i32.const 1023))))

  ;; Unequal weights: the offset in [0, n) of the server with the smallest ratio e / w (e = -ln u), or -1 when
  ;; bounds from the top 21 bits cannot tell. $iw holds wmax / w per server as f32, rounded down. With D the
  ;; count of 21-bit steps from the draw's top bits to 1, v = 1 - u is at least (D - 1) / 2^21, and e = -ln(1 - v)
  ;; at least v (with $tight, at least v + v^2/2 + v^3/3): each server packs the f32 bits of that lower bound times
  ;; 2^21 * iw (rounded down, as iw is: f32 rounding costs far less than iw's margin), low 10 bits replaced by its
  ;; offset (positive floats order as their bits). The server with the smallest wins when the second smallest
  ;; lower bound is above its upper bound, with a relative margin far above the rounding of the spec's scores.
  (func $weighted (export "weighted") (param $ka i32) (param $sa i32) (param $iw i32) (param $n i32) (param $tight i32)
    (param $kt i32) (result i32)
    (local $kav v128) (local $nv v128) (local $idx v128) (local $m1 v128) (local $m2 v128) (local $p v128)
    (local $t v128) (local $end i32) (local $full i32) (local $sa0 i32) (local $iw0 i32) (local $best i32) (local $a i32)
    (local $ab i32) (local $e i32)
    (if (i32.gt_u (local.get $n) (i32.const 1024)) (then (return
      (call $weightedWide (local.get $ka) (local.get $sa) (local.get $iw) (local.get $n) (local.get $tight)))))
    (local.set $kav (i32x4.splat (local.get $ka)))
    (local.set $nv (i32x4.splat (local.get $n)))
    (local.set $idx (v128.const i32x4 0 1 2 3))
    (local.set $m1 (v128.const i32x4 -1 -1 -1 -1))
    (local.set $m2 (v128.const i32x4 -1 -1 -1 -1))
    (local.set $sa0 (local.get $sa))
    (local.set $iw0 (local.get $iw))
    (local.set $end (i32.add (local.get $sa) (i32.shl (local.get $n) (i32.const 2))))
    ;; whole vectors, then the last one with its lanes past the end masked
    (local.set $full (i32.add (local.get $sa) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (if (i32.lt_u (local.get $sa) (local.get $full)) (then (loop $next
      ;; fmix32, written out (a call here is not inlined)
      (local.set $p (v128.xor (v128.load (local.get $sa)) (local.get $kav)))
      (local.set $p (v128.xor (local.get $p) (i32x4.shr_u (local.get $p) (i32.const 16))))
      (local.set $p (i32x4.mul (local.get $p) (v128.const i32x4 0x85ebca6b 0x85ebca6b 0x85ebca6b 0x85ebca6b)))
      (local.set $p (v128.xor (local.get $p) (i32x4.shr_u (local.get $p) (i32.const 13))))
      (local.set $p (i32x4.mul (local.get $p) (v128.const i32x4 0xc2b2ae35 0xc2b2ae35 0xc2b2ae35 0xc2b2ae35)))
      (local.set $p (v128.xor (local.get $p) (i32x4.shr_u (local.get $p) (i32.const 16))))
      ;; D - 1 = 2^21 - 1 - top21
      (local.set $p (i32x4.sub (v128.const i32x4 0x1fffff 0x1fffff 0x1fffff 0x1fffff)
        (i32x4.shr_u (local.get $p) (i32.const 11))))
      ;; 2^21 times a lower bound of e: with x = D - 1, x (v at its smallest), or with $tight
      ;; x + x^2 / 2^22 + x^3 / (3 * 2^42) (v + v^2/2 + v^3/3), which settles more keys but costs more
      (local.set $p (f32x4.convert_i32x4_s (local.get $p)))
      (if (local.get $tight) (then (local.set $p (f32x4.add (local.get $p)
        (f32x4.mul (f32x4.mul (local.get $p) (local.get $p))
          (f32x4.add (v128.const f32x4 0x1p-22 0x1p-22 0x1p-22 0x1p-22)
            (f32x4.mul (local.get $p) (v128.const f32x4 0x1.555554p-44 0x1.555554p-44 0x1.555554p-44 0x1.555554p-44))))))))
      (local.set $p (f32x4.mul (local.get $p) (v128.load (local.get $iw))))
      (local.set $p (v128.or (v128.and (local.get $p) (v128.const i32x4 -1024 -1024 -1024 -1024))
        (local.get $idx)))
      (local.set $t (i32x4.max_u (local.get $m1) (local.get $p)))
      (local.set $m1 (i32x4.min_u (local.get $m1) (local.get $p)))
      (local.set $m2 (i32x4.min_u (local.get $m2) (local.get $t)))
      (local.set $idx (i32x4.add (local.get $idx) (v128.const i32x4 4 4 4 4)))
      (local.set $sa (i32.add (local.get $sa) (i32.const 16)))
      (local.set $iw (i32.add (local.get $iw) (i32.const 16)))
      (br_if $next (i32.lt_u (local.get $sa) (local.get $full))))))
    (if (i32.lt_u (local.get $sa) (local.get $end)) (then
      ;; fmix32, written out (a call here is not inlined)
      (local.set $p (v128.xor (v128.load (local.get $sa)) (local.get $kav)))
      (local.set $p (v128.xor (local.get $p) (i32x4.shr_u (local.get $p) (i32.const 16))))
      (local.set $p (i32x4.mul (local.get $p) (v128.const i32x4 0x85ebca6b 0x85ebca6b 0x85ebca6b 0x85ebca6b)))
      (local.set $p (v128.xor (local.get $p) (i32x4.shr_u (local.get $p) (i32.const 13))))
      (local.set $p (i32x4.mul (local.get $p) (v128.const i32x4 0xc2b2ae35 0xc2b2ae35 0xc2b2ae35 0xc2b2ae35)))
      (local.set $p (v128.xor (local.get $p) (i32x4.shr_u (local.get $p) (i32.const 16))))
      ;; D - 1 = 2^21 - 1 - top21
      (local.set $p (i32x4.sub (v128.const i32x4 0x1fffff 0x1fffff 0x1fffff 0x1fffff)
        (i32x4.shr_u (local.get $p) (i32.const 11))))
      ;; 2^21 times a lower bound of e: with x = D - 1, x (v at its smallest), or with $tight
      ;; x + x^2 / 2^22 + x^3 / (3 * 2^42) (v + v^2/2 + v^3/3), which settles more keys but costs more
      (local.set $p (f32x4.convert_i32x4_s (local.get $p)))
      (if (local.get $tight) (then (local.set $p (f32x4.add (local.get $p)
        (f32x4.mul (f32x4.mul (local.get $p) (local.get $p))
          (f32x4.add (v128.const f32x4 0x1p-22 0x1p-22 0x1p-22 0x1p-22)
            (f32x4.mul (local.get $p) (v128.const f32x4 0x1.555554p-44 0x1.555554p-44 0x1.555554p-44 0x1.555554p-44))))))))
      (local.set $p (f32x4.mul (local.get $p) (v128.load (local.get $iw))))
      (local.set $p (v128.or (v128.and (local.get $p) (v128.const i32x4 -1024 -1024 -1024 -1024))
        (local.get $idx)))
      ;; lanes past the end count as the largest value
      (local.set $p (v128.bitselect (local.get $p) (v128.const i32x4 -1 -1 -1 -1)
        (i32x4.lt_u (local.get $idx) (local.get $nv))))
      (local.set $t (i32x4.max_u (local.get $m1) (local.get $p)))
      (local.set $m1 (i32x4.min_u (local.get $m1) (local.get $p)))
      (local.set $m2 (i32x4.min_u (local.get $m2) (local.get $t)))))
    ;; smallest and second smallest: the largest two of the complements
    (local.set $best (i32.xor (call $top2 (v128.not (local.get $m1)) (v128.not (local.get $m2))) (i32.const -1)))
    (global.set $first (local.get $best))
    (global.set $second (i32.xor (global.get $second) (i32.const -1)))
    ;; a block of `weightedWide`: the decision is taken on the merged blocks
    (if (i32.lt_s (local.get $kt) (i32.const 0)) (then (return (i32.const -1))))
    (local.set $a (i32.and (local.get $best) (i32.const 1023)))
    (if (i32.eq (global.get $second) (i32.const -1)) (then (return (local.get $a))))
    ;; Most keys are decided from the two packed lower bounds alone, A (the winner's) and B, in integer steps: for
    ;; positive floats, B's bits at least k above A's mean B >= A (1 + k / 2^24). The table at $kt holds for each
    ;; eighth of a binary order of A from 1 to 2^21 (A's exponent and top 3 mantissa bits: 168 of them, loose bound
    ;; first, then tight) the k at which B is above the winner's upper bound for any server with such an A
    ;; (ScoreTable works it out from the largest factor); keys it cannot settle go to $bound, which recomputes
    ;; the winner's draw.
    (local.set $ab (i32.and (local.get $best) (i32.const -1024)))
    (local.set $e (i32.sub (i32.shr_u (local.get $ab) (i32.const 20)) (i32.const 1016)))
    (if (i32.lt_u (local.get $e) (i32.const 168)) (then
      (if (i32.gt_u (i32.sub (i32.and (global.get $second) (i32.const -1024)) (local.get $ab))
            (i32.load (i32.add (local.get $kt) (i32.shl
              (i32.add (local.get $e) (select (i32.const 168) (i32.const 0) (local.get $tight))) (i32.const 2)))))
        (then (return (local.get $a))))))
    (call $bound (local.get $ka) (local.get $sa0) (local.get $iw0) (local.get $a) (global.get $second)))

  ;; An upper bound of 2^21 * e * w for a server with top 21 bits $top (not 0) and factor $w, in the units of
  ;; the lower bounds: with v = D / 2^21 (at least 1 - u) and 1 - v = top21 / 2^21, e = -ln(1 - v) = v + v^2/2 +
  ;; v^3/3 + ... <= v + v^2/2 + v^3/3 + v^4 / (4(1 - v)). Times 2^21 * 4(1 - v) = t4 = 4 * top21, with d = D
  ;; (integers, exact in f64): d t4 + d^2 t4 / 2^22 + d^3 t4 / (3 * 2^42) + d^4 / 2^42, then divided by t4, with a
  ;; margin far above the rounding of the spec's scores and of the factors.
  (func $upper (param $top i32) (param $w f32) (result f64)
    (local $d f64) (local $t4 f64) (local $sq f64)
    (local.set $d (f64.convert_i32_u (i32.sub (i32.const 0x200000) (local.get $top))))
    (local.set $t4 (f64.convert_i32_u (i32.shl (local.get $top) (i32.const 2))))
    (local.set $sq (f64.mul (local.get $d) (local.get $d)))
    (f64.mul
      (f64.div
        (f64.add
          (f64.add (f64.mul (local.get $d) (local.get $t4))
            (f64.mul (local.get $sq) (f64.mul (local.get $t4) (f64.const 0x1p-22))))
          (f64.mul (f64.mul (local.get $sq) (local.get $d))
            (f64.add (f64.mul (local.get $t4) (f64.const 0x1.5555555555555p-44))
              (f64.mul (local.get $d) (f64.const 0x1p-42)))))
        (local.get $t4))
      (f64.mul (f64.promote_f32 (local.get $w)) (f64.const 1.000004))))

  ;; Whether server $a of a weighted pick (digests at $sa0, factors at $iw0) wins for sure against $second, the
  ;; packed lower bound of the runner-up: $a, or -1 (then $limit is the winner's upper bound, for `close`).
  (func $bound (param $ka i32) (param $sa0 i32) (param $iw0 i32) (param $a i32) (param $second i32) (result i32)
    (local $top i32) (local $hi f64)
    ;; fmix32 of the winner's draw, in scalar code
    (local.set $top (i32.xor (local.get $ka) (i32.load (i32.add (local.get $sa0) (i32.shl (local.get $a) (i32.const 2))))))
    (local.set $top (i32.xor (local.get $top) (i32.shr_u (local.get $top) (i32.const 16))))
    (local.set $top (i32.mul (local.get $top) (i32.const 0x85ebca6b)))
    (local.set $top (i32.xor (local.get $top) (i32.shr_u (local.get $top) (i32.const 13))))
    (local.set $top (i32.mul (local.get $top) (i32.const 0xc2b2ae35)))
    (local.set $top (i32.shr_u (i32.xor (local.get $top) (i32.shr_u (local.get $top) (i32.const 16))) (i32.const 11)))
    (if (i32.eqz (local.get $top)) (then
      (global.set $limit (f32.const inf))
      (return (i32.const -1))))
    (local.set $hi (call $upper (local.get $top)
      (f32.load (i32.add (local.get $iw0) (i32.shl (local.get $a) (i32.const 2))))))
    (if (f64.gt (f64.promote_f32 (f32.reinterpret_i32 (i32.and (local.get $second) (i32.const -1024))))
          (local.get $hi))
      (then (return (local.get $a))))
    ;; rounded up (a relative 2^-20, far above f32 rounding)
    (global.set $limit (f32.demote_f64 (f64.mul (local.get $hi) (f64.const 1.000001))))
    (i32.const -1))

  ;; For keys `weighted` cannot decide (close calls): the servers that may still win. Runs `weighted` (e bounded by
  ;; v), then keeps the servers whose lower bound (the same) is at most the winner's upper bound $limit: the
  ;; winner is among them. Writes their offsets in [0, n), ascending, at $out and answers how many (1 when
  ;; `weighted` decides), or -1 when more than $cap. Reads whole vectors; lanes past n are left out.
  (func (export "close") (param $ka i32) (param $sa i32) (param $iw i32) (param $kt i32) (param $n i32)
    (param $out i32) (param $cap i32) (result i32)
    (local $kav v128) (local $lim v128) (local $p v128) (local $m i32) (local $k i32) (local $count i32)
    (local $lane i32)
    (local.set $m (call $weighted (local.get $ka) (local.get $sa) (local.get $iw) (local.get $n) (i32.const 0)
      (local.get $kt)))
    (if (i32.ge_s (local.get $m) (i32.const 0)) (then
      (i32.store (local.get $out) (local.get $m))
      (return (i32.const 1))))
    (local.set $kav (i32x4.splat (local.get $ka)))
    (local.set $lim (f32x4.splat (global.get $limit)))
    (loop $next
      ;; fmix32, written out (a call here is not inlined)
      (local.set $p (v128.xor (v128.load (local.get $sa)) (local.get $kav)))
      (local.set $p (v128.xor (local.get $p) (i32x4.shr_u (local.get $p) (i32.const 16))))
      (local.set $p (i32x4.mul (local.get $p) (v128.const i32x4 0x85ebca6b 0x85ebca6b 0x85ebca6b 0x85ebca6b)))
      (local.set $p (v128.xor (local.get $p) (i32x4.shr_u (local.get $p) (i32.const 13))))
      (local.set $p (i32x4.mul (local.get $p) (v128.const i32x4 0xc2b2ae35 0xc2b2ae35 0xc2b2ae35 0xc2b2ae35)))
      (local.set $p (v128.xor (local.get $p) (i32x4.shr_u (local.get $p) (i32.const 16))))
      (local.set $p (f32x4.mul
        (f32x4.convert_i32x4_s (i32x4.sub (v128.const i32x4 0x1fffff 0x1fffff 0x1fffff 0x1fffff)
          (i32x4.shr_u (local.get $p) (i32.const 11))))
        (v128.load (local.get $iw))))
      (local.set $m (i32x4.bitmask (f32x4.le (local.get $p) (local.get $lim))))
      (if (local.get $m) (then
        (local.set $lane (i32.const 0))
        (loop $lanes
          (if (i32.and (i32.shr_u (local.get $m) (local.get $lane))
                (i32.lt_u (i32.add (local.get $k) (local.get $lane)) (local.get $n)))
            (then
              (if (i32.ge_u (local.get $count) (local.get $cap)) (then (return (i32.const -1))))
              (i32.store (i32.add (local.get $out) (i32.shl (local.get $count) (i32.const 2)))
                (i32.add (local.get $k) (local.get $lane)))
              (local.set $count (i32.add (local.get $count) (i32.const 1)))))
          (local.set $lane (i32.add (local.get $lane) (i32.const 1)))
          (br_if $lanes (i32.lt_u (local.get $lane) (i32.const 4))))))
      (local.set $k (i32.add (local.get $k) (i32.const 4)))
      (local.set $sa (i32.add (local.get $sa) (i32.const 16)))
      (local.set $iw (i32.add (local.get $iw) (i32.const 16)))
      (br_if $next (i32.lt_u (local.get $k) (local.get $n))))
    (local.get $count))


  ;; `weighted` over more than 1024 servers: over blocks of 1024, the blocks' smallest and second smallest
  ;; merged, and the same bound check: the winner's offset in [0, n), or -1.
  (func $weightedWide (param $ka i32) (param $sa i32) (param $iw i32) (param $n i32) (param $tight i32)
    (result i32)
    (local $best i32) (local $second i32) (local $block i32) (local $bestBlock i32) (local $sa0 i32) (local $iw0 i32)
    (local.set $sa0 (local.get $sa))
    (local.set $iw0 (local.get $iw))
    (local.set $best (i32.const -1))
    (local.set $second (i32.const -1))
    (loop $blocks
      (drop (call $weighted (local.get $ka) (local.get $sa) (local.get $iw)
        (select (local.get $n) (i32.const 1024) (i32.lt_u (local.get $n) (i32.const 1024))) (local.get $tight)
        (i32.const -1)))
      (if (i32.lt_u (global.get $first) (local.get $best))
        (then
          (local.set $second (select (local.get $best) (global.get $second)
            (i32.lt_u (local.get $best) (global.get $second))))
          (local.set $best (global.get $first))
          (local.set $bestBlock (local.get $block)))
        (else (local.set $second (select (global.get $first) (local.get $second)
          (i32.lt_u (global.get $first) (local.get $second))))))
      (local.set $block (i32.add (local.get $block) (i32.const 1)))
      (local.set $sa (i32.add (local.get $sa) (i32.const 4096)))
      (local.set $iw (i32.add (local.get $iw) (i32.const 4096)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1024)))
      (br_if $blocks (i32.gt_s (local.get $n) (i32.const 0))))
    (call $bound (local.get $ka) (local.get $sa0) (local.get $iw0)
      (i32.or (i32.shl (local.get $bestBlock) (i32.const 10)) (i32.and (local.get $best) (i32.const 1023)))
      (local.get $second)))

  ;; Unequal weights in at most four classes of equal weight, each class given lanes of its own: row r holds in
  ;; lane l the digest (at $sa) of its class's next server, so that each lane keeps the largest draw of one class
  ;; as `uniform` does. Rows [0, $full) are whole; past them lane l holds servers up to its own count (the i32 at
  ;; $liw + 16 + 4l) and later rows of it are masked out. $liw holds each lane's wmax / w (f32, rounded down),
  ;; and $ix the slot index of each (row, lane), read for the winner alone. Rows go in blocks of 1024, each lane
  ;; packing (top21 << 10) | row in the block; per lane, the blocks' largest and second largest are merged, with
  ;; the block of the largest. The lanes' winners are then bounded as in `weighted`. Answers the winner's slot
  ;; index or -1 (a tie on the top bits in the winner's lane, or winners too close to tell). Uses bytes 0 to 47
  ;; of the memory as scratch.
  (func (export "lanes") (param $ka i32) (param $sa i32) (param $ix i32) (param $liw i32) (param $kt i32)
    (param $full i32) (param $rows i32) (result i32)
    (local $kav v128) (local $m1 v128) (local $m2 v128) (local $p v128) (local $t v128) (local $row v128)
    (local $rm1 v128) (local $rm2 v128) (local $rb v128) (local $blk v128) (local $cnt v128)
    (local $sa0 i32) (local $end i32) (local $fullEnd i32) (local $blockEnd i32) (local $stop i32)
    (local $lane i32) (local $best i32) (local $aTop i32) (local $ab i32) (local $bb i32) (local $e i32)
    (local.set $kav (i32x4.splat (local.get $ka)))
    (local.set $sa0 (local.get $sa))
    (local.set $end (i32.add (local.get $sa) (i32.shl (local.get $rows) (i32.const 4))))
    (local.set $fullEnd (i32.add (local.get $sa) (i32.shl (local.get $full) (i32.const 4))))
    (local.set $cnt (v128.load offset=16 (local.get $liw)))
    (loop $blocks
      (local.set $m1 (v128.const i32x4 0 0 0 0))
      (local.set $m2 (v128.const i32x4 0 0 0 0))
      (local.set $row (v128.const i32x4 0 0 0 0))
      ;; up to 1024 rows, 16 kB
      (local.set $blockEnd (i32.add (local.get $sa) (i32.const 16384)))
      (if (i32.gt_u (local.get $blockEnd) (local.get $end)) (then (local.set $blockEnd (local.get $end))))
      (local.set $stop (select (local.get $fullEnd) (local.get $blockEnd)
        (i32.lt_u (local.get $fullEnd) (local.get $blockEnd))))
      (if (i32.lt_u (local.get $sa) (local.get $stop)) (then (loop $next
      ;; fmix32, written out (a call here is not inlined)
      (local.set $p (v128.xor (v128.load (local.get $sa)) (local.get $kav)))
      (local.set $p (v128.xor (local.get $p) (i32x4.shr_u (local.get $p) (i32.const 16))))
      (local.set $p (i32x4.mul (local.get $p) (v128.const i32x4 0x85ebca6b 0x85ebca6b 0x85ebca6b 0x85ebca6b)))
      (local.set $p (v128.xor (local.get $p) (i32x4.shr_u (local.get $p) (i32.const 13))))
      (local.set $p (i32x4.mul (local.get $p) (v128.const i32x4 0xc2b2ae35 0xc2b2ae35 0xc2b2ae35 0xc2b2ae35)))
      (local.set $p (v128.xor (local.get $p) (i32x4.shr_u (local.get $p) (i32.const 16))))
      (local.set $p (v128.or (i32x4.shl (i32x4.shr_u (local.get $p) (i32.const 11)) (i32.const 10))
        (local.get $row)))
      (local.set $t (i32x4.min_u (local.get $m1) (local.get $p)))
      (local.set $m1 (i32x4.max_u (local.get $m1) (local.get $p)))
      (local.set $m2 (i32x4.max_u (local.get $m2) (local.get $t)))
      (local.set $row (i32x4.add (local.get $row) (v128.const i32x4 1 1 1 1)))
      (local.set $sa (i32.add (local.get $sa) (i32.const 16)))
      (br_if $next (i32.lt_u (local.get $sa) (local.get $stop))))))
      ;; rows past $full: lanes past their count count as 0
      (if (i32.lt_u (local.get $sa) (local.get $blockEnd)) (then (loop $tail
      (local.set $p (v128.xor (v128.load (local.get $sa)) (local.get $kav)))
      (local.set $p (v128.xor (local.get $p) (i32x4.shr_u (local.get $p) (i32.const 16))))
      (local.set $p (i32x4.mul (local.get $p) (v128.const i32x4 0x85ebca6b 0x85ebca6b 0x85ebca6b 0x85ebca6b)))
      (local.set $p (v128.xor (local.get $p) (i32x4.shr_u (local.get $p) (i32.const 13))))
      (local.set $p (i32x4.mul (local.get $p) (v128.const i32x4 0xc2b2ae35 0xc2b2ae35 0xc2b2ae35 0xc2b2ae35)))
      (local.set $p (v128.xor (local.get $p) (i32x4.shr_u (local.get $p) (i32.const 16))))
      (local.set $p (v128.and
        (v128.or (i32x4.shl (i32x4.shr_u (local.get $p) (i32.const 11)) (i32.const 10)) (local.get $row))
        (i32x4.lt_s (i32x4.splat (i32.shr_u (i32.sub (local.get $sa) (local.get $sa0)) (i32.const 4)))
          (local.get $cnt))))
      (local.set $t (i32x4.min_u (local.get $m1) (local.get $p)))
      (local.set $m1 (i32x4.max_u (local.get $m1) (local.get $p)))
      (local.set $m2 (i32x4.max_u (local.get $m2) (local.get $t)))
      (local.set $row (i32x4.add (local.get $row) (v128.const i32x4 1 1 1 1)))
      (local.set $sa (i32.add (local.get $sa) (i32.const 16)))
      (br_if $tail (i32.lt_u (local.get $sa) (local.get $blockEnd))))))
      ;; merged with the blocks before, per lane: the largest with its block, and the second largest
      (local.set $rb (v128.bitselect (local.get $blk) (local.get $rb) (i32x4.gt_u (local.get $m1) (local.get $rm1))))
      (local.set $rm2 (i32x4.max_u (i32x4.max_u (local.get $rm2) (local.get $m2))
        (i32x4.min_u (local.get $rm1) (local.get $m1))))
      (local.set $rm1 (i32x4.max_u (local.get $rm1) (local.get $m1)))
      (local.set $blk (i32x4.add (local.get $blk) (v128.const i32x4 1 1 1 1)))
      (br_if $blocks (i32.lt_u (local.get $sa) (local.get $end))))
    ;; each lane's winner: a lower bound of 2^21 * e * iw as in `weighted` (v at least (D - 1) / 2^21, e at least
    ;; v + v^2/2 + v^3/3), in f32 rounded down, with the lane's number in the low 2 bits
    (local.set $p (f32x4.convert_i32x4_s (i32x4.sub (v128.const i32x4 0x1fffff 0x1fffff 0x1fffff 0x1fffff)
      (i32x4.shr_u (local.get $rm1) (i32.const 10)))))
    (local.set $p (f32x4.add (local.get $p)
      (f32x4.mul (f32x4.mul (local.get $p) (local.get $p))
        (f32x4.add (v128.const f32x4 0x1p-22 0x1p-22 0x1p-22 0x1p-22)
          (f32x4.mul (local.get $p) (v128.const f32x4 0x1.555554p-44 0x1.555554p-44 0x1.555554p-44 0x1.555554p-44))))))
    (local.set $p (f32x4.mul (local.get $p) (v128.load (local.get $liw))))
    (local.set $p (v128.or (v128.and (local.get $p) (v128.const i32x4 -4 -4 -4 -4)) (v128.const i32x4 0 1 2 3)))
    ;; the smallest and the second smallest (the largest two of the complements)
    (local.set $ab (i32.xor (call $top2 (v128.not (local.get $p)) (v128.const i32x4 0 0 0 0)) (i32.const -1)))
    (local.set $lane (i32.and (local.get $ab) (i32.const 3)))
    (local.set $ab (i32.and (local.get $ab) (i32.const -4)))
    (local.set $bb (i32.and (i32.xor (global.get $second) (i32.const -1)) (i32.const -4)))
    ;; the winning lane's largest, second largest and block, through the scratch bytes at 0
    (v128.store (i32.const 0) (local.get $rm1))
    (v128.store offset=16 (i32.const 0) (local.get $rm2))
    (v128.store offset=32 (i32.const 0) (local.get $rb))
    (local.set $best (i32.load (i32.shl (local.get $lane) (i32.const 2))))
    (local.set $aTop (i32.shr_u (local.get $best) (i32.const 10)))
    ;; a tie on the top bits within the lane (or a lane that saw no server)
    (if (i32.or (i32.eqz (local.get $aTop)) (i32.eq (local.get $aTop)
          (i32.shr_u (i32.load offset=16 (i32.shl (local.get $lane) (i32.const 2))) (i32.const 10))))
      (then (return (i32.const -1))))
    ;; the quick decision of `weighted` (tight bound's steps), else the winner's upper bound against the second;
    ;; written out again, as in `weighted`: a function of its own here cost 1.5 to 3 ns a pick at 10 servers
    (local.set $e (i32.sub (i32.shr_u (local.get $ab) (i32.const 20)) (i32.const 1016)))
    (block $decided
      (if (i32.lt_u (local.get $e) (i32.const 168)) (then
        (br_if $decided (i32.gt_u (i32.sub (local.get $bb) (local.get $ab))
          (i32.load offset=672 (i32.add (local.get $kt) (i32.shl (local.get $e) (i32.const 2))))))))
      (if (i32.eqz (f64.gt (f64.promote_f32 (f32.reinterpret_i32 (local.get $bb)))
            (call $upper (local.get $aTop)
              (f32.load (i32.add (local.get $liw) (i32.shl (local.get $lane) (i32.const 2)))))))
        (then (return (i32.const -1)))))

    ;; the slot at (row, lane): row = block * 1024 + row in block
    (i32.load (i32.add (local.get $ix) (i32.shl (i32.or (i32.shl (i32.or
      (i32.shl (i32.load offset=32 (i32.shl (local.get $lane) (i32.const 2))) (i32.const 10))
      (i32.and (local.get $best) (i32.const 1023))) (i32.const 2)) (local.get $lane)) (i32.const 2)))))
)
