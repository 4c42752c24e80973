;; Hot loops of LTX files in WebAssembly: LZ4 block decompression and compression, and CRC-64/ISO.
;; Build: deno run --no-lock -A lib/ltx/_kernels_build.ts (rewrites _kernels_wasm.ts).
;;
;; Memory (11 pages = 704 KiB), laid out by the JS side (_kernels.ts):
;;   0      .. 32767   16 CRC tables of 256 little-endian u64 (table k at k*2048), filled from JS
;;   32768  .. 98591   source (compressed) buffer, 65824 bytes
;;   98592  .. 164127  destination buffer, 65536 bytes
;;   164128 .. 262143  slack: wild copies may write up to 16 bytes past the destination
;;   262144 .. 524287  compressor hash table: 65536 i32 positions (fixed address, offset=262144 below)
;;   524288 .. 589823  compressor input, 65536 bytes
;;   589824 .. 655632  compressor output, the LZ4 bound of 64 KiB (65809 bytes)
;;   655633 ..         slack: the compressor's 16-byte wild literal copies may write past its output
;;
;; Every function only reads and writes inside the regions the caller passes, plus the slack; the
;; compressor also uses its hash table, and reads up to 16 bytes past its input (inside memory).
(module
  (memory (export "memory") 11)
  (global $crcHi (export "crcHi") (mut i32) (i32.const 0))
  ;; Base tag of the next compress call's hash entries (see lz4_block.ts: no table reset per call).
  (global $tableNext (export "tableNext") (mut i32) (i32.const 1))

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

  ;; pierrec/lz4 v4 blockHash of the low 6 bytes of x: bits 48..63 of (x << 16) * prime6bytes.
  (func $hash6 (param $x i64) (result i32)
    (i32.wrap_i64
      (i64.shr_u (i64.mul (i64.shl (local.get $x) (i64.const 16)) (i64.const 227718039650203)) (i64.const 48))))

  ;; pierrec's table get (lz4_block.ts tableGet), simplified for inputs of at most 64 KiB: an entry
  ;; tagged below base is unused and reads as position 0; every used entry is below the position asked.
  (func $tableGet (param $h i32) (param $base i32) (result i32)
    (local $stored i32)
    (local.set $stored (i32.load offset=262144 (i32.shl (local.get $h) (i32.const 2))))
    (select (i32.sub (local.get $stored) (local.get $base)) (i32.const 0)
      (i32.ge_s (local.get $stored) (local.get $base))))

  ;; Copies literals: short runs as one 16-byte wild copy (the output region has slack after the
  ;; LZ4 bound, and later writes overwrite the excess), long ones in bulk.
  (func $copyLiterals (param $dst i32) (param $src i32) (param $n i32)
    (if (i32.le_u (local.get $n) (i32.const 16))
      (then
        (i64.store (local.get $dst) (i64.load (local.get $src)))
        (i64.store offset=8 (local.get $dst) (i64.load offset=8 (local.get $src))))
      (else (memory.copy (local.get $dst) (local.get $src) (local.get $n)))))

  ;; Writes the extra length bytes of an LZ4 length >= 15 at di; returns the new di.
  (func $putLength (param $di i32) (param $length i32) (result i32)
    (local.set $length (i32.sub (local.get $length) (i32.const 15)))
    (block $done
      (loop $more
        (br_if $done (i32.lt_s (local.get $length) (i32.const 255)))
        (i32.store8 (local.get $di) (i32.const 255))
        (local.set $di (i32.add (local.get $di) (i32.const 1)))
        (local.set $length (i32.sub (local.get $length) (i32.const 255)))
        (br $more)))
    (i32.store8 (local.get $di) (local.get $length))
    (i32.add (local.get $di) (i32.const 1)))

  ;; Compresses [src, src+n) (n <= 65536) into dst, which must hold the LZ4 bound of n; returns the
  ;; compressed length. A line-by-line port of compressBlockInto in lz4_block.ts (pierrec/lz4 v4's
  ;; CompressBlock): same hash, probes, skip heuristic and match extension, so the same bytes.
  (func (export "compress") (param $src i32) (param $n i32) (param $dst i32) (result i32)
    (local $base i32) (local $si i32) (local $di i32) (local $anchor i32) (local $sn i32)
    (local $x i64) (local $h i32) (local $h2 i32) (local $h3 i32)
    (local $ref i32) (local $ref2 i32) (local $ref3 i32) (local $offset i32)
    (local $literals i32) (local $matchStart i32) (local $back i32) (local $diff i64) (local $matchLength i32)
    (if (i32.gt_s (global.get $tableNext) (i32.sub (i32.const 0x7ffffffe) (local.get $n)))
      (then
        (memory.fill (i32.const 262144) (i32.const 0) (i32.const 262144))
        (global.set $tableNext (i32.const 1))))
    (local.set $base (global.get $tableNext))
    (global.set $tableNext (i32.add (local.get $base) (i32.add (local.get $n) (i32.const 1))))
    (local.set $di (local.get $dst))
    (local.set $sn (i32.sub (local.get $n) (i32.const 14)))
    (block $done
      (loop $main
        (br_if $done (i32.ge_s (local.get $si) (local.get $sn)))
        ;; The 8 bytes at si give the 6-byte hashes at si, si+1 and si+2.
        (local.set $x (i64.load (i32.add (local.get $src) (local.get $si))))
        (local.set $h (call $hash6 (local.get $x)))
        (local.set $h2 (call $hash6 (i64.shr_u (local.get $x) (i64.const 8))))
        (local.set $ref (call $tableGet (local.get $h) (local.get $base)))
        (local.set $ref2 (call $tableGet (local.get $h2) (local.get $base)))
        (i32.store offset=262144 (i32.shl (local.get $h) (i32.const 2)) (i32.add (local.get $base) (local.get $si)))
        (i32.store offset=262144 (i32.shl (local.get $h2) (i32.const 2))
          (i32.add (i32.add (local.get $base) (local.get $si)) (i32.const 1)))
        (local.set $offset (i32.sub (local.get $si) (local.get $ref)))
        (block $found
          ;; Probe si, then si+1, then si+2 (whose entry is stored before its check, as pierrec). An
          ;; offset is usable when 0 < offset < 64 KiB: one unsigned compare of offset - 1.
          (if (i32.lt_u (i32.sub (local.get $offset) (i32.const 1)) (i32.const 0xffff))
            (then
              (br_if $found
                (i32.eq (i32.wrap_i64 (local.get $x)) (i32.load (i32.add (local.get $src) (local.get $ref)))))))
          (local.set $h3 (call $hash6 (i64.shr_u (local.get $x) (i64.const 16))))
          (local.set $ref3 (call $tableGet (local.get $h3) (local.get $base)))
          (local.set $si (i32.add (local.get $si) (i32.const 1)))
          (local.set $offset (i32.sub (local.get $si) (local.get $ref2)))
          (if (i32.lt_u (i32.sub (local.get $offset) (i32.const 1)) (i32.const 0xffff))
            (then
              (br_if $found
                (i32.eq (i32.wrap_i64 (i64.shr_u (local.get $x) (i64.const 8)))
                  (i32.load (i32.add (local.get $src) (local.get $ref2)))))))
          (local.set $si (i32.add (local.get $si) (i32.const 1)))
          (local.set $offset (i32.sub (local.get $si) (local.get $ref3)))
          (i32.store offset=262144 (i32.shl (local.get $h3) (i32.const 2)) (i32.add (local.get $base) (local.get $si)))
          (if (i32.lt_u (i32.sub (local.get $offset) (i32.const 1)) (i32.const 0xffff))
            (then
              (br_if $found
                (i32.eq (i32.wrap_i64 (i64.shr_u (local.get $x) (i64.const 16)))
                  (i32.load (i32.add (local.get $src) (local.get $ref3)))))))
          ;; No match: skip ahead, faster the longer the run of literals.
          (local.set $si
            (i32.add (local.get $si)
              (i32.add (i32.const 2) (i32.shr_s (i32.sub (local.get $si) (local.get $anchor)) (i32.const 7)))))
          (br $main))
        ;; Extend the match backwards over pending literals.
        (local.set $literals (i32.sub (local.get $si) (local.get $anchor)))
        (local.set $matchStart (local.get $si))
        (local.set $back (i32.sub (i32.sub (local.get $si) (local.get $offset)) (i32.const 1)))
        (block $backDone
          (loop $backMore
            (br_if $backDone (i32.le_s (local.get $literals) (i32.const 0)))
            (br_if $backDone (i32.lt_s (local.get $back) (i32.const 0)))
            (br_if $backDone
              (i32.ne
                (i32.load8_u (i32.sub (i32.add (local.get $src) (local.get $matchStart)) (i32.const 1)))
                (i32.load8_u (i32.add (local.get $src) (local.get $back)))))
            (local.set $matchStart (i32.sub (local.get $matchStart) (i32.const 1)))
            (local.set $back (i32.sub (local.get $back) (i32.const 1)))
            (local.set $literals (i32.sub (local.get $literals) (i32.const 1)))
            (br $backMore)))
        ;; Extend forwards 8 bytes at a time, never past sn (as pierrec).
        (local.set $si (i32.add (local.get $si) (i32.const 4)))
        (block $fwdDone
          (loop $fwdMore
            (br_if $fwdDone (i32.gt_s (i32.add (local.get $si) (i32.const 8)) (local.get $sn)))
            (local.set $diff
              (i64.xor
                (i64.load (i32.add (local.get $src) (local.get $si)))
                (i64.load (i32.add (local.get $src) (i32.sub (local.get $si) (local.get $offset))))))
            (if (i64.ne (local.get $diff) (i64.const 0))
              (then
                (local.set $si
                  (i32.add (local.get $si) (i32.shr_u (i32.wrap_i64 (i64.ctz (local.get $diff))) (i32.const 3))))
                (br $fwdDone)))
            (local.set $si (i32.add (local.get $si) (i32.const 8)))
            (br $fwdMore)))
        (local.set $matchLength (i32.sub (i32.sub (local.get $si) (local.get $matchStart)) (i32.const 4)))
        ;; Sequence: token, literal length, literals, offset, match length.
        (i32.store8 (local.get $di)
          (i32.or
            (select (local.get $matchLength) (i32.const 15) (i32.lt_s (local.get $matchLength) (i32.const 15)))
            (select (i32.shl (local.get $literals) (i32.const 4)) (i32.const 0xf0)
              (i32.lt_s (local.get $literals) (i32.const 15)))))
        (local.set $di (i32.add (local.get $di) (i32.const 1)))
        (if (i32.ge_s (local.get $literals) (i32.const 15))
          (then (local.set $di (call $putLength (local.get $di) (local.get $literals)))))
        (call $copyLiterals (local.get $di) (i32.add (local.get $src) (local.get $anchor)) (local.get $literals))
        (local.set $di (i32.add (local.get $di) (local.get $literals)))
        (i32.store16 (local.get $di) (local.get $offset))
        (local.set $di (i32.add (local.get $di) (i32.const 2)))
        (if (i32.ge_s (local.get $matchLength) (i32.const 15))
          (then (local.set $di (call $putLength (local.get $di) (local.get $matchLength)))))
        (local.set $anchor (local.get $si))
        (br_if $done (i32.ge_s (local.get $si) (local.get $sn)))
        (i32.store offset=262144
          (i32.shl (call $hash6 (i64.load (i32.sub (i32.add (local.get $src) (local.get $si)) (i32.const 2))))
            (i32.const 2))
          (i32.sub (i32.add (local.get $base) (local.get $si)) (i32.const 2)))
        (br $main)))
    ;; The last literals.
    (local.set $literals (i32.sub (local.get $n) (local.get $anchor)))
    (i32.store8 (local.get $di)
      (select (i32.shl (local.get $literals) (i32.const 4)) (i32.const 0xf0)
        (i32.lt_s (local.get $literals) (i32.const 15))))
    (local.set $di (i32.add (local.get $di) (i32.const 1)))
    (if (i32.ge_s (local.get $literals) (i32.const 15))
      (then (local.set $di (call $putLength (local.get $di) (local.get $literals)))))
    (memory.copy (local.get $di) (i32.add (local.get $src) (local.get $anchor)) (local.get $literals))
    (i32.sub (i32.add (local.get $di) (local.get $literals)) (local.get $dst)))

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
