;; Hot loops of LTX restore in WebAssembly: LZ4 block decompression and CRC-64/ISO.
;; Build: deno run --no-lock -A lib/ltx/_kernels_build.ts (rewrites _kernels_wasm.ts).
;;
;; Memory (4 pages = 256 KiB), laid out by the JS side (_kernels.ts):
;;   0      .. 32767   16 CRC tables of 256 little-endian u64 (table k at k*2048), filled from JS
;;   32768  .. 98591   source (compressed) buffer, 65824 bytes
;;   98592  .. 164127  destination buffer, 65536 bytes
;;   164128 ..         slack: wild copies may write up to 16 bytes past the destination
;;
;; Both functions only read and write inside the regions the caller passes, plus the slack.
(module
  (memory (export "memory") 4)
  (global $crcHi (export "crcHi") (mut i32) (i32.const 0))

  ;; Decompresses the LZ4 block at [src, src+srcLen) into [dst, dst+dstCap).
  ;; Returns the number of bytes written, or -1 when the block is malformed or does not fit.
  (func (export "decompress") (param $src i32) (param $srcLen i32) (param $dst i32) (param $dstCap i32) (result i32)
    (local $si i32) (local $srcEnd i32) (local $di i32) (local $dstEnd i32)
    (local $token i32) (local $len i32) (local $b i32) (local $off i32) (local $from i32) (local $end i32)
    (local $step i32)
    (if (i32.eqz (local.get $srcLen)) (then (return (i32.const 0))))
    (local.set $si (local.get $src))
    (local.set $srcEnd (i32.add (local.get $src) (local.get $srcLen)))
    (local.set $di (local.get $dst))
    (local.set $dstEnd (i32.add (local.get $dst) (local.get $dstCap)))
    (loop $sequence
      (local.set $token (i32.load8_u (local.get $si)))
      (local.set $si (i32.add (local.get $si) (i32.const 1)))
      ;; Literal length.
      (local.set $len (i32.shr_u (local.get $token) (i32.const 4)))
      (if (i32.eq (local.get $len) (i32.const 15))
        (then
          (loop $more
            (if (i32.ge_u (local.get $si) (local.get $srcEnd)) (then (return (i32.const -1))))
            (local.set $b (i32.load8_u (local.get $si)))
            (local.set $si (i32.add (local.get $si) (i32.const 1)))
            (local.set $len (i32.add (local.get $len) (local.get $b)))
            (br_if $more (i32.eq (local.get $b) (i32.const 255))))))
      (if (i32.gt_u (local.get $len) (i32.sub (local.get $srcEnd) (local.get $si))) (then (return (i32.const -1))))
      (if (i32.gt_u (local.get $len) (i32.sub (local.get $dstEnd) (local.get $di))) (then (return (i32.const -1))))
      ;; Literals: one 16-byte wild copy when short, else a bulk copy.
      (if (i32.le_u (local.get $len) (i32.const 16))
        (then
          (i64.store (local.get $di) (i64.load (local.get $si)))
          (i64.store offset=8 (local.get $di) (i64.load offset=8 (local.get $si))))
        (else (memory.copy (local.get $di) (local.get $si) (local.get $len))))
      (local.set $si (i32.add (local.get $si) (local.get $len)))
      (local.set $di (i32.add (local.get $di) (local.get $len)))
      ;; The last sequence has literals only, so its match length must be 0 (as pierrec/lz4).
      (if (i32.eq (local.get $si) (local.get $srcEnd))
        (then
          (if (i32.and (local.get $token) (i32.const 15)) (then (return (i32.const -1))))
          (return (i32.sub (local.get $di) (local.get $dst)))))
      ;; Match offset.
      (if (i32.gt_u (i32.add (local.get $si) (i32.const 2)) (local.get $srcEnd)) (then (return (i32.const -1))))
      (local.set $off (i32.load16_u (local.get $si)))
      (local.set $si (i32.add (local.get $si) (i32.const 2)))
      (if (i32.eqz (local.get $off)) (then (return (i32.const -1))))
      (if (i32.gt_u (local.get $off) (i32.sub (local.get $di) (local.get $dst))) (then (return (i32.const -1))))
      ;; Match length.
      (local.set $len (i32.add (i32.and (local.get $token) (i32.const 15)) (i32.const 4)))
      (if (i32.eq (local.get $len) (i32.const 19))
        (then
          (loop $more
            (if (i32.ge_u (local.get $si) (local.get $srcEnd)) (then (return (i32.const -1))))
            (local.set $b (i32.load8_u (local.get $si)))
            (local.set $si (i32.add (local.get $si) (i32.const 1)))
            (local.set $len (i32.add (local.get $len) (local.get $b)))
            (br_if $more (i32.eq (local.get $b) (i32.const 255))))))
      (if (i32.gt_u (local.get $len) (i32.sub (local.get $dstEnd) (local.get $di))) (then (return (i32.const -1))))
      (local.set $from (i32.sub (local.get $di) (local.get $off)))
      (local.set $end (i32.add (local.get $di) (local.get $len)))
      (if (i32.ge_u (local.get $off) (i32.const 8))
        (then
          ;; Each 8-byte chunk reads bytes at least 8 behind the ones it writes: safe while overlapping.
          (loop $copy8
            (i64.store (local.get $di) (i64.load (local.get $from)))
            (local.set $di (i32.add (local.get $di) (i32.const 8)))
            (local.set $from (i32.add (local.get $from) (i32.const 8)))
            (br_if $copy8 (i32.lt_u (local.get $di) (local.get $end)))))
        (else
          ;; Short period: copy the first 8 bytes one by one, then copy 8 at a time from a whole
          ;; number of periods back (step = off * ceil(8 / off), between 8 and 14).
          (local.set $b (i32.const 0))
          (loop $copy1
            (i32.store8 (local.get $di) (i32.load8_u (local.get $from)))
            (local.set $di (i32.add (local.get $di) (i32.const 1)))
            (local.set $from (i32.add (local.get $from) (i32.const 1)))
            (local.set $b (i32.add (local.get $b) (i32.const 1)))
            (br_if $copy1 (i32.and (i32.lt_u (local.get $b) (i32.const 8)) (i32.lt_u (local.get $di) (local.get $end)))))
          (if (i32.lt_u (local.get $di) (local.get $end))
            (then
              (local.set $step (i32.mul (local.get $off)
                (i32.div_u (i32.add (local.get $off) (i32.const 7)) (local.get $off))))
              (local.set $from (i32.sub (local.get $di) (local.get $step)))
              (loop $copyp
                (i64.store (local.get $di) (i64.load (local.get $from)))
                (local.set $di (i32.add (local.get $di) (i32.const 8)))
                (local.set $from (i32.add (local.get $from) (i32.const 8)))
                (br_if $copyp (i32.lt_u (local.get $di) (local.get $end))))))))
      (local.set $di (local.get $end))
      ;; A block cannot end with a match.
      (if (i32.ge_u (local.get $si) (local.get $srcEnd)) (then (return (i32.const -1))))
      (br $sequence))
    (i32.const -1))

  ;; Continues CRC-64/ISO over [p, p+n) from the inverted state (hi:lo), slicing by 16: bytes 0..7 are
  ;; xored into the state (as two i32 halves), bytes 8..15 index their tables directly.
  ;; Returns the new low half; the new high half is left in the global crcHi.
  (func (export "crc") (param $p i32) (param $n i32) (param $lo i32) (param $hi i32) (result i32)
    (local $crc i64) (local $end i32)
    (local.set $end (i32.add (local.get $p) (i32.and (local.get $n) (i32.const -16))))
    (block $done
      (loop $by16
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $lo (i32.xor (local.get $lo) (i32.load (local.get $p))))
        (local.set $hi (i32.xor (local.get $hi) (i32.load offset=4 (local.get $p))))
        (local.set $crc
          (i64.xor
            (i64.xor
              (i64.xor
                (i64.xor
                  (i64.load offset=30720 (i32.shl (i32.and (local.get $lo) (i32.const 255)) (i32.const 3)))
                  (i64.load offset=28672 (i32.shl (i32.and (i32.shr_u (local.get $lo) (i32.const 8)) (i32.const 255)) (i32.const 3))))
                (i64.xor
                  (i64.load offset=26624 (i32.shl (i32.and (i32.shr_u (local.get $lo) (i32.const 16)) (i32.const 255)) (i32.const 3)))
                  (i64.load offset=24576 (i32.shl (i32.shr_u (local.get $lo) (i32.const 24)) (i32.const 3)))))
              (i64.xor
                (i64.xor
                  (i64.load offset=22528 (i32.shl (i32.and (local.get $hi) (i32.const 255)) (i32.const 3)))
                  (i64.load offset=20480 (i32.shl (i32.and (i32.shr_u (local.get $hi) (i32.const 8)) (i32.const 255)) (i32.const 3))))
                (i64.xor
                  (i64.load offset=18432 (i32.shl (i32.and (i32.shr_u (local.get $hi) (i32.const 16)) (i32.const 255)) (i32.const 3)))
                  (i64.load offset=16384 (i32.shl (i32.shr_u (local.get $hi) (i32.const 24)) (i32.const 3))))))
            (i64.xor
              (i64.xor
                (i64.xor
                  (i64.load offset=14336 (i32.shl (i32.load8_u offset=8 (local.get $p)) (i32.const 3)))
                  (i64.load offset=12288 (i32.shl (i32.load8_u offset=9 (local.get $p)) (i32.const 3))))
                (i64.xor
                  (i64.load offset=10240 (i32.shl (i32.load8_u offset=10 (local.get $p)) (i32.const 3)))
                  (i64.load offset=8192 (i32.shl (i32.load8_u offset=11 (local.get $p)) (i32.const 3)))))
              (i64.xor
                (i64.xor
                  (i64.load offset=6144 (i32.shl (i32.load8_u offset=12 (local.get $p)) (i32.const 3)))
                  (i64.load offset=4096 (i32.shl (i32.load8_u offset=13 (local.get $p)) (i32.const 3))))
                (i64.xor
                  (i64.load offset=2048 (i32.shl (i32.load8_u offset=14 (local.get $p)) (i32.const 3)))
                  (i64.load offset=0 (i32.shl (i32.load8_u offset=15 (local.get $p)) (i32.const 3))))))))
        (local.set $lo (i32.wrap_i64 (local.get $crc)))
        (local.set $hi (i32.wrap_i64 (i64.shr_u (local.get $crc) (i64.const 32))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $by16)))
    (local.set $crc (i64.or (i64.extend_i32_u (local.get $lo)) (i64.shl (i64.extend_i32_u (local.get $hi)) (i64.const 32))))
    (local.set $end (i32.add (local.get $end) (i32.and (local.get $n) (i32.const 15))))
    (block $done1
      (loop $by1
        (br_if $done1 (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $crc
          (i64.xor
            (i64.load (i32.shl (i32.and (i32.xor (i32.wrap_i64 (local.get $crc)) (i32.load8_u (local.get $p))) (i32.const 255)) (i32.const 3)))
            (i64.shr_u (local.get $crc) (i64.const 8))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $by1)))
    (global.set $crcHi (i32.wrap_i64 (i64.shr_u (local.get $crc) (i64.const 32))))
    (i32.wrap_i64 (local.get $crc))))
