// Randomized equivalence of the explicit-SIMD row kernels (src/numerics/fast_simd.cpp) with the
// reference block codecs: encode (scale byte + every code) and decode (every output bit, NaN
// payloads included) over > 1 M elements per direction, with ties, FP32 subnormals, saturating
// maxima, zero blocks, Inf/NaN, near-power-of-two values (plena-hw float log2) and random bytes.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <random>
#include <vector>

#include "hwy_targets.hpp"
#include "numerics/fast.hpp"
#include "numerics/fast_avx512.hpp"
#include "numerics/fast_simd.hpp"
#include "numerics/numerics.hpp"

using namespace plena::numerics;

namespace {

// Block sizes: multiples of 8 take the compile-time vectors-per-block kernels, 24 the run-time
// one, 12 the SIMD kernel only with 4 lanes (else the auto-vectorized path); all must agree.
const char* kFormats[] = {
    "ocp-mx:fp8_e4m3:b32:rne", "ocp-mx:fp8_e4m3:b32:ties-away", "ocp-mx:fp8_e4m3:b8:rne",
    "ocp-mx:fp8_e4m3:b16:ties-away", "ocp-mx:fp8_e4m3:b24:rne", "ocp-mx:fp8_e4m3:b64:rne",
    "ocp-mx:fp8_e5m2:b32:rne", "ocp-mx:fp8_e5m2:b8:ties-away", "ocp-mx:int8:b32:rne", "ocp-mx:int8:b8:ties-away",
    "ocp-mx:int8:b12:rne", "ocp-mx:fp6_e3m2:b32:rne", "ocp-mx:fp6_e2m3:b16:ties-away", "ocp-mx:fp4_e2m1:b32:rne",
    "mase-bfp:int8:b16", "mase-bfp:int8:b32", "mase-bfp:int8:b8", "mase-bfp:int4:b16", "mase-bfp:int2:b24",
    "plena-hw-mxfp:fp8_e4m3:b8", "plena-hw-mxfp:fp8_e4m3:b16", "plena-hw-mxfp:fp8_e4m3:b32"};

struct Gen {
  std::mt19937_64 rng{20261127};
  std::normal_distribution<float> nd{0.0f, 1.0f};

  float gaussian(int e) { return nd(rng) * std::ldexp(1.0f, e); }

  void block(std::vector<float>& b) {
    const int kind = int(rng() % 13);
    const int e = int(rng() % 240) - 130;  // block magnitude 2^-130 .. 2^110
    const int em = std::clamp(e / 3, -40, 40);
    for (auto& x : b) {
      switch (kind) {
        case 0: x = std::ldexp(float(int(rng() % 512) - 256), e - 8); break;  // short mantissas: ties everywhere
        case 1: x = (rng() % 3 == 0) ? 0.0f : gaussian(em); break;            // zeros (signed below)
        case 2: x = std::bit_cast<float>(uint32_t(rng()) & 0x807FFFFFu); break;  // FP32 subnormals
        case 3: x = std::bit_cast<float>(uint32_t(rng()) & 0xFF7FFFFFu); break;  // any finite bit pattern
        case 4: x = 0.0f; break;                                                 // zero block
        case 5:  // saturating: every element near the top of the max's binade
          x = std::ldexp(2.0f - std::ldexp(1.0f, -int(rng() % 22)), em) * ((rng() & 1) ? 1.0f : -1.0f);
          break;
        case 6:  // just below / above powers of two (plena-hw float log2, mase ceil exponent)
          x = std::ldexp(1.0f + std::ldexp(float(int(rng() % 64) - 32), -23), em - int(rng() % 12));
          break;
        case 7: x = gaussian(-int(rng() % 30)); break;  // tiny: the 1e-9 offsets matter
        case 11: {  // mase's 1e-9 artifact: zeros of both signs and -1e-9 (x + 1e-9 = 0) among ordinary values
          const float special[] = {0.0f, -0.0f, -1e-9f, 1e-9f};
          x = rng() % 2 ? special[rng() % 4] : gaussian(em - int(rng() % 4));
          break;
        }
        case 10:  // the plena-hw log2 hazard band edges: mantissa just outside / inside 0x7FF000
          x = std::bit_cast<float>((uint32_t(127 + em - int(rng() % 9)) << 23) | uint32_t(0x7FF000 + int(rng() % 9) - 4));
          break;
        case 8:  // one large element sets the scale, the rest are odd multiples deep below it:
                 // ties on the element-subnormal grids
          x = &x == &b[0] ? std::ldexp(1.5f, em) : std::ldexp(float(2 * int(rng() % 8) + 1), em - 4 - int(rng() % 32));
          break;
        default: x = gaussian(em); break;
      }
      if (rng() % 16 == 0) x = -x;
      if (rng() % 64 == 0) x = (rng() & 1) ? 0.0f : -0.0f;
    }
    if (rng() % 40 == 0) b[rng() % b.size()] = (rng() & 1) ? INFINITY : (rng() & 1) ? -INFINITY : NAN;
  }
};

}  // namespace

void encode_decode_match_reference() {
  Gen g;
  size_t enc_elements = 0, dec_elements = 0;
  for (const char* name : kFormats) {
    const Format f = parse_format(name);
    const size_t B = size_t(f.block), n = (4096 / B) * B + B / 2 + 1;  // partial trailing block
    std::vector<float> row(n), blk, ref(n), got(n);
    std::vector<uint8_t> elems(packed_element_bytes(f, n)), scales(scale_bytes(f, n));
    std::vector<uint32_t> codes(n);
    size_t nonzero = 0;
    for (int rep = 0; rep < 12; ++rep) {
      for (size_t b0 = 0; b0 < n; b0 += B) {
        blk.resize(std::min(B, n - b0));
        g.block(blk);
        std::copy(blk.begin(), blk.end(), row.begin() + long(b0));
      }
      encode_row(f, row, elems, scales);
      decode_row(f, elems, scales, got);
      unpack_codes(elems, f.width, codes);
      for (size_t b0 = 0, gi = 0; b0 < n; b0 += B, ++gi) {
        const size_t len = std::min(B, n - b0);
        std::vector<uint8_t> rc(len);
        const uint8_t sb = encode_block(f, std::span<const float>(row).subspan(b0, len), rc);
        ASSERT_EQ(sb, scales[gi]) << name << " block " << gi;
        for (size_t i = 0; i < len; ++i)
          ASSERT_EQ(rc[i], codes[b0 + i]) << name << " element " << b0 + i << " input bits 0x" << std::hex
                                           << std::bit_cast<uint32_t>(row[b0 + i]) << " scale " << std::dec << int(sb);
        decode_block(f, sb, rc, std::span<float>(ref).subspan(b0, len));
      }
      for (size_t i = 0; i < n; ++i) {
        ASSERT_EQ(std::bit_cast<uint32_t>(ref[i]), std::bit_cast<uint32_t>(got[i])) << name << " element " << i;
        nonzero += got[i] != 0;
      }
      enc_elements += n;
    }
    EXPECT_GT(nonzero, n) << name;  // not trivially all zeros

    // Decode of arbitrary bytes: every code (NaN/Inf codes, subnormal fields) under every scale
    // byte class (0: plena decodes it as 0.0, 255: NaN block, extremes: subnormal/huge outputs).
    std::uniform_int_distribution<int> byte(0, 255);
    for (int rep = 0; rep < 16; ++rep) {
      for (auto& c : elems) c = uint8_t(byte(g.rng));
      for (size_t gi = 0; gi < scales.size(); ++gi)
        scales[gi] = gi < 256 ? uint8_t((gi * 37 + size_t(rep)) & 255) : uint8_t(byte(g.rng));
      decode_row(f, elems, scales, got);
      unpack_codes(elems, f.width, codes);
      const std::vector<uint8_t> narrow(codes.begin(), codes.end());
      for (size_t b0 = 0, gi = 0; b0 < n; b0 += B, ++gi) {
        const size_t len = std::min(B, n - b0);
        decode_block(f, scales[gi], std::span<const uint8_t>(narrow).subspan(b0, len),
                     std::span<float>(ref).subspan(b0, len));
      }
      for (size_t i = 0; i < n; ++i)
        ASSERT_EQ(std::bit_cast<uint32_t>(ref[i]), std::bit_cast<uint32_t>(got[i]))
            << name << " element " << i << " code 0x" << std::hex << int(narrow[i]) << " scale 0x"
            << int(scales[i / B]);
      dec_elements += n;
    }
  }
  EXPECT_GT(enc_elements, 1000000u);
  EXPECT_GT(dec_elements, 1000000u);
}

TEST(FastSimd, EncodeDecodeMatchReference) {
  for_each_target([](int64_t t) {
    const size_t L = fast::simd::lanes();
    EXPECT_EQ(L, t == HWY_AVX2 ? 8u : t == HWY_SSE4 ? 4u : 1u);
    encode_decode_match_reference();
  });
}

// The kernels must take the ordinary blocks themselves (a kernel that sent everything to the
// reference would pass the equivalence test): Gaussian rows leave almost nothing to `slow`.
void kernels_take_ordinary_blocks() {
  const size_t L = fast::simd::lanes();
  ASSERT_GE(L, 1u);
  ASSERT_LE(L, 8u);
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  std::vector<float> x(8192);
  for (auto& v : x) v = nd(rng);
  using fast::simd::EncodeKind;
  for (EncodeKind kind : {EncodeKind::OcpFp, EncodeKind::OcpInt, EncodeKind::Mase, EncodeKind::Plena}) {
    fast::simd::EncodeArgs a;
    a.kind = kind;
    a.block = 8 * L;
    a.emax = kind == EncodeKind::OcpFp ? 8 : 0;  // fp8_e4m3 / int8 parameters
    a.int_frac = kind == EncodeKind::Mase ? 7 : 6;
    a.kmax = 127;
    a.mask = 0xFF;
    a.fp = {20, 1u << 19, uint32_t(126 - 6) << 3, 0x7E, std::ldexp(1.0f, -6), std::ldexp(1.0f, 14),
            std::bit_cast<uint32_t>(std::ldexp(1.0f, 14)), std::ldexp(1.0f, -10), 7};
    const size_t nblocks = x.size() / a.block;
    std::vector<uint8_t> codes(x.size()), scales(nblocks);
    std::vector<size_t> slow;
    fast::simd::encode_blocks(a, x.data(), codes.data(), scales.data(), nblocks, slow);
    EXPECT_LT(slow.size(), nblocks / 8) << int(kind);  // plena-hw: ~2^-11 of elements per block are near
    EXPECT_TRUE(std::is_sorted(slow.begin(), slow.end()));
  }
}

TEST(FastSimd, KernelsTakeOrdinaryBlocks) {
  for_each_target([](int64_t) { kernels_take_ordinary_blocks(); });
}

// The DMA's row decoder (dispatch once, many rows) gives decode_row's bits for every format,
// whole-block rows and rows with a partial last block alike (the latter take decode_row itself).
TEST(FastSimd, RowDecoderIsDecodeRow) {
  std::mt19937_64 rng(99);
  std::vector<std::string> names(std::begin(kFormats), std::end(kFormats));
  for (const char* p : {"fp32", "bf16", "fp16", "fp8_e4m3", "asym-int:uint4:g32"}) names.push_back(p);
  size_t rows = 0;
  for (const auto& name : names) {
    const Format f = parse_format(name);
    const plena::numerics::fast::RowDecoder decode(f);
    const size_t B = f.is_block() ? size_t(f.block) : 1;
    for (size_t n : {B * 8, B * 3 + (B > 1 ? B / 2 : 0), size_t(64)}) {
      if (packed_element_bytes(f, n) * 8 != n * size_t(f.width)) continue;  // sub-byte rows end on a byte
      std::vector<uint8_t> e(packed_element_bytes(f, n)), s(scale_bytes(f, n));
      for (auto& b : e) b = uint8_t(rng());
      for (auto& b : s) b = uint8_t(rng());
      std::vector<float> want(n), got(n);
      decode_row(f, e, s, want);
      decode(e, s, got);
      ++rows;
      for (size_t i = 0; i < n; ++i)
        ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(want[i])) << name << " n=" << n << " i=" << i;
    }
  }
  EXPECT_GE(rows, 2 * names.size());  // every format checked on at least two row lengths
}

// The AVX-512 encoders (plena-hw b8, ocp-mx float RNE b8 / b32; groups of 16 blocks, the rest by
// the AVX2 kernel) against the reference, for rows whose block counts leave every remainder, and
// with slow blocks in the groups; packed formats compare the packed bytes.
TEST(FastSimd, Avx512EncodersMatchReference) {
  if (!fast::simd::avx512_kernels()) GTEST_SKIP() << "no AVX-512 on this CPU";
  Gen g;
  size_t checked = 0;
  for (const char* name : {"plena-hw-mxfp:fp8_e4m3:b8", "ocp-mx:fp8_e4m3:b8:rne", "ocp-mx:fp8_e5m2:b8:rne",
                           "ocp-mx:fp8_e4m3:b32:rne", "ocp-mx:fp6_e3m2:b32:rne", "ocp-mx:fp4_e2m1:b32:rne"}) {
    const Format f = parse_format(name);
    const size_t B = size_t(f.block);
    std::vector<float> blk(B);
    for (size_t nblocks : {1, 15, 16, 17, 31, 33, 64, 250}) {
      for (int rep = 0; rep < 6; ++rep) {
        const size_t n = nblocks * B;
        std::vector<float> row(n);
        for (size_t b = 0; b < nblocks; ++b) {
          g.block(blk);
          std::copy(blk.begin(), blk.end(), row.begin() + long(b * B));
        }
        std::vector<uint8_t> e(packed_element_bytes(f, n)), scales(nblocks), rc(B);
        encode_row(f, row, e, scales);
        std::vector<uint32_t> want(n);
        for (size_t b = 0; b < nblocks; ++b) {
          const uint8_t sb = encode_block(f, std::span<const float>(row).subspan(b * B, B), rc);
          ASSERT_EQ(sb, scales[b]) << name << " blocks " << nblocks << " block " << b;
          std::copy(rc.begin(), rc.end(), want.begin() + long(b * B));
        }
        std::vector<uint8_t> packed(e.size());
        pack_codes(want, f.width, packed);
        ASSERT_EQ(packed, e) << name << " blocks " << nblocks;
        checked += nblocks;
      }
    }
  }
  EXPECT_GT(checked, 10000u);
}

// The AVX-512 8-bit decoder of blocks of 8 (groups of 8 blocks while their scale bytes allow,
// the rest by the AVX2 kernel): random codes (NaN / Inf / field 0 included) and scale bytes,
// every output bit.
TEST(FastSimd, Avx512Decode8MatchesReference) {
  if (!fast::simd::avx512_kernels()) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::mt19937_64 rng(31);
  size_t checked = 0;
  for (const char* name : {"plena-hw-mxfp:fp8_e4m3:b8", "ocp-mx:fp8_e4m3:b8:rne", "ocp-mx:fp8_e5m2:b8:rne"}) {
    const Format f = parse_format(name);
    for (size_t nblocks : {1, 8, 9, 16, 17, 48, 250}) {
      for (int rep = 0; rep < 4; ++rep) {
        const size_t n = nblocks * 8;
        std::vector<uint8_t> e(n), s(nblocks);
        for (auto& b : e) b = uint8_t(rng());
        // Mostly in-range scales (the group path), sometimes 0 / 255 / extremes (the fallback).
        for (auto& b : s) b = rep == 3 ? uint8_t(rng()) : uint8_t(100 + rng() % 50);
        std::vector<float> got(n), want(n);
        decode_row(f, e, s, got);
        for (size_t b = 0; b < nblocks; ++b)
          decode_block(f, s[b], std::span<const uint8_t>(e).subspan(b * 8, 8), std::span<float>(want).subspan(b * 8, 8));
        for (size_t i = 0; i < n; ++i)
          ASSERT_EQ(std::bit_cast<uint32_t>(want[i]), std::bit_cast<uint32_t>(got[i]))
              << name << " element " << i << " scale " << int(s[i / 8]) << " code " << int(e[i]);
        checked += nblocks;
      }
    }
  }
  EXPECT_GT(checked, 3000u);
}

// ... and it takes ordinary (Gaussian) blocks itself.
TEST(FastSimd, Avx512PlenaTakesOrdinaryBlocks) {
  if (!fast::simd::avx512_kernels()) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::mt19937 rng(5);
  std::normal_distribution<float> nd;
  std::vector<float> x(8192);
  for (auto& v : x) v = nd(rng);
  fast::simd::EncodeArgs a;
  a.kind = fast::simd::EncodeKind::Plena;
  a.block = 8;
  const size_t nblocks = x.size() / 8;
  std::vector<uint8_t> codes(x.size()), scales(nblocks);
  std::vector<size_t> slow;
  fast::simd::encode_blocks(a, x.data(), codes.data(), scales.data(), nblocks, slow);
  EXPECT_LT(slow.size(), nblocks / 8);
  EXPECT_TRUE(std::is_sorted(slow.begin(), slow.end()));
}

// The AVX-512 fp6 decoder reads the bit stream in place, 64 codes (48 bytes) per load: rows of
// every vector count modulo 4, blocks of one to four vectors, random codes and scale bytes
// (0, 255 and the subnormal-result range included), a partial last block after the full ones.
TEST(FastSimd, Avx512Fp6DecodeMatchesReference) {
  if (!fast::simd::avx512_kernels() || !fast::simd::avx512::supported_vbmi()) GTEST_SKIP() << "no AVX-512 VBMI";
  std::mt19937_64 rng(12);
  size_t checked = 0;
  for (const char* name : {"ocp-mx:fp6_e3m2:b32:rne", "ocp-mx:fp6_e2m3:b16:rne", "ocp-mx:fp6_e3m2:b48:rne",
                           "ocp-mx:fp6_e2m3:b64:rne"}) {
    const Format f = parse_format(name);
    const size_t B = size_t(f.block);
    for (size_t n : {B, 2 * B, 3 * B, 5 * B, 7 * B + B / 2, 33 * B}) {
      std::vector<uint8_t> e(packed_element_bytes(f, n)), s(scale_bytes(f, n));
      for (auto& b : e) b = uint8_t(rng());
      for (size_t i = 0; i < s.size(); ++i) s[i] = i % 5 == 0 ? uint8_t(rng() % 4 * 85) : uint8_t(rng());
      std::vector<float> got(n), want(n);
      decode_row(f, e, s, got);
      std::vector<uint32_t> codes(n);
      unpack_codes(e, f.width, codes);
      const std::vector<uint8_t> narrow(codes.begin(), codes.end());
      for (size_t b0 = 0; b0 < n; b0 += B) {
        const size_t len = std::min(B, n - b0);
        decode_block(f, s[b0 / B], std::span<const uint8_t>(narrow).subspan(b0, len),
                     std::span<float>(want).subspan(b0, len));
      }
      for (size_t i = 0; i < n; ++i)
        ASSERT_EQ(std::bit_cast<uint32_t>(want[i]), std::bit_cast<uint32_t>(got[i]))
            << name << " n " << n << " element " << i << " scale " << int(s[i / B]);
      checked += n;
    }
  }
  EXPECT_GT(checked, 5000u);
}
