// Vectorizable row kernels for ocp-mx and mase-bfp (encode) and every E8M0 8-bit format (decode).
// Exactness argument (docs/numerics.md "Fast paths"): the block scale is a power of two, so
// a = |x| * 2^-s is exact unless it underflows FP32, and values that small round to zero on every
// element grid anyway. Rounding a to a multiple of 2^q is (a + 2^(q+23)) - 2^(q+23) under the
// default RNE mode (the sum lies in [2^(q+23), 2^(q+24)), whose ulp is 2^q); ties-away adds one
// quantum back when the RNE result sits exactly half a quantum below a. The reference block codec
// (block.cpp) stays the definition; tests compare both on millions of random blocks.
#include "numerics/fast.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <vector>

#include "numerics/block.hpp"
#include "numerics/fast_simd.hpp"
#include "numerics/numerics.hpp"

namespace plena::numerics::fast {
namespace {

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define PLENA_CLONES __attribute__((target_clones("avx2", "avx", "sse4.1", "default")))
#else
#define PLENA_CLONES
#endif

inline float u2f(uint32_t u) { return std::bit_cast<float>(u); }
inline uint32_t f2u(float x) { return std::bit_cast<uint32_t>(x); }

using simd::FpParams;

// Per-element rounding onto a float element grid; returns the element code.
// Normal element range: RNE of the FP32 mantissa to m bits on the bit pattern (a carry moves into
// the exponent field, which is exactly the next element code). Subnormal element range: adding
// c_sub = 2^(emin-m+23) rounds a to a multiple of 2^(emin-m), and the bit distance to c_sub is the
// element mantissa.
template <bool TiesAway>
inline uint8_t fp_code(float xv, float inv, const FpParams& P) {
  uint32_t xb = f2u(xv);
  float a = u2f(xb & 0x7FFFFFFFu) * inv;
  uint32_t ab = f2u(a);
  uint32_t bias = TiesAway ? P.half : P.half - 1 + ((ab >> P.sh) & 1);
  uint32_t normal = ((ab + bias) >> P.sh) - P.code_off;
  float sum = a + P.c_sub;
  uint32_t sub = f2u(sum) - P.c_sub_bits;
  if constexpr (TiesAway) {
    float back = sum - P.c_sub;  // the RNE result; a tie rounded down sits half a quantum below a
    sub += (a - back == P.half_sub) ? 1u : 0u;
  }
  uint32_t code = a < P.min_norm ? sub : normal;
  code = code < P.max_code ? code : P.max_code;
  uint32_t neg = (xb >> 31) & uint32_t(a != 0.0f);  // reference keeps -0 only if x*2^-s != 0
  return uint8_t(code | (neg << P.sign_shift));
}

// Symmetric two's-complement integer code: k = round((|x| + offset) * mul) clamped to kmax.
// `offset` is the mase-bfp 1e-9 artifact (0 for ocp-mx).
template <bool TiesAway>
inline uint8_t int_code(float xv, float mul, float offset, int32_t kmax, uint32_t mask) {
  const float magic = 8388608.0f;  // 2^23: rounds values below 2^23 to integers
  // Clamping far above kmax keeps the magic-number rounding valid (tiny mase-bfp blocks whose
  // 1e-9 offset dominates scale to huge values); it cannot change a saturated result.
  float a = (std::fabs(xv) + offset) * mul;
  a = a < 4194304.0f ? a : 4194304.0f;
  float r = (a + magic) - magic;
  if constexpr (TiesAway) {
    float up = r + 1.0f;
    r = (a - r == 0.5f) ? up : r;
  }
  int32_t k = int32_t(r);
  k = k < kmax ? k : kmax;
  float signed_off = xv + offset;
  k = (xv == 0.0f) | (signed_off == 0.0f) ? 0 : k;
  int32_t v = signed_off < 0.0f ? -k : k;
  return uint8_t(uint32_t(v) & mask);
}

enum class Kind { OcpFp, OcpInt, Mase };

struct EncodeJob {
  FpParams fp;
  int emax = 0, int_frac = 0;
  int32_t kmax = 0;
  uint32_t mask = 0;
};

// Block maximum of |x| as FP32 bits (Inf/NaN compare above every finite value).
template <size_t B>
inline uint32_t amax_bits(const float* xb) {
  uint32_t am = 0;
  for (size_t i = 0; i < B; ++i) {
    uint32_t u = f2u(xb[i]) & 0x7FFFFFFFu;
    am = am > u ? am : u;
  }
  return am;
}

// Encodes the full blocks of a row in chunks of 32 elements (1, 2 or 4 blocks), so the element
// loop always has 32 iterations and vectorizes for every block size. Blocks the fast path cannot
// take (special values, zero blocks, FP32-subnormal maxima, scales outside [-100, 100]) are
// appended to `slow`; the caller re-encodes them with the reference codec.
template <Kind K, bool TiesAway, size_t B>
PLENA_CLONES void encode_blocks(const float* __restrict x, uint8_t* __restrict codes, uint8_t* __restrict scales,
                                size_t nblocks, const EncodeJob& job, std::vector<size_t>& slow) {
  constexpr size_t kChunk = 32, kPer = kChunk / B;
  const EncodeJob J = job;  // a local copy: code stores (uint8_t) could otherwise alias the params
  const FpParams P = job.fp;
  const int32_t kmax = J.kmax;
  const uint32_t mask = J.mask;
  const float offset = K == Kind::Mase ? 1e-9f : 0.0f;
  const size_t nchunks = nblocks / kPer;
  float mul[kChunk];
  for (size_t ch = 0; ch < nchunks; ++ch) {
    const float* xc = x + ch * kChunk;
    uint8_t* cc = codes + ch * kChunk;
    for (size_t j = 0; j < kPer; ++j) {
      const uint32_t am = amax_bits<B>(xc + j * B);
      int fl = int(am >> 23) - 127, s;
      if constexpr (K == Kind::Mase) s = (am & 0x7FFFFFu) == 0 ? fl : fl + 1;
      else s = std::clamp(fl - J.emax, -127, 127);
      const size_t b = ch * kPer + j;
      if (am == 0 || am >= 0x7F800000u || (am >> 23) == 0 || s < -100 || s > 100) {
        slow.push_back(b);
        s = 0;
      }
      scales[b] = uint8_t(s + 127);
      // 2^-s for float elements, 2^(frac-s) for integers; built from bits (no libm call).
      const float m = u2f(uint32_t(127 - s + (K == Kind::OcpFp ? 0 : J.int_frac)) << 23);
      for (size_t i = 0; i < B; ++i) mul[j * B + i] = m;
    }
    if constexpr (K == Kind::OcpFp) {
      for (size_t i = 0; i < kChunk; ++i) cc[i] = fp_code<TiesAway>(xc[i], mul[i], P);
    } else {
      for (size_t i = 0; i < kChunk; ++i) cc[i] = int_code<TiesAway>(xc[i], mul[i], offset, kmax, mask);
    }
  }
  for (size_t b = nchunks * kPer; b < nblocks; ++b) slow.push_back(b);
}

// plena-hw-mxfp element (block.cpp encode_plena_hw, branch-free). `near` is set when t + 1e-9
// lies within 4096 ulps below a power of two, where the reference's float log2 may round up: the
// caller then re-encodes the block with the reference codec.
inline uint8_t plena_code(float xv, float inv, uint8_t& near) {
  float p = xv * inv;
  float t = std::fabs(p);
  uint32_t yb = f2u(t + 1e-9f);
  near = uint8_t((yb & 0x7FFFFFu) >= 0x7FF000u);
  int32_t k = int32_t(yb >> 23) - 127;
  k = k < -7 ? -7 : (k > 7 ? 7 : k);
  float sm_sub = t * 1024.0f;
  float sm_norm = (t * u2f(uint32_t(127 - k) << 23) - 1.0f) * 8.0f;
  float v = (k == -7 ? sm_sub : sm_norm) * 4.0f;
  int32_t q = int32_t(v);
  q -= float(q) > v ? 1 : 0;  // floor
  int32_t ip = q >> 2, rem = q & 3;
  ip += (rem == 3) | ((rem == 2) & (ip & 1)) ? 1 : 0;
  ip = ip < 0 ? 0 : (ip > 7 ? 7 : ip);
  uint32_t sign = p < 0.0f ? 0x80u : 0u;
  return uint8_t(sign | uint32_t((k + 7) << 3) | uint32_t(ip));
}

template <size_t B>
PLENA_CLONES void encode_plena_blocks(const float* __restrict x, uint8_t* __restrict codes,
                                      uint8_t* __restrict scales, size_t nblocks, std::vector<size_t>& slow) {
  constexpr size_t kChunk = 32, kPer = kChunk / B;
  const size_t nchunks = nblocks / kPer;
  float inv[kChunk];
  for (size_t ch = 0; ch < nchunks; ++ch) {
    const float* xc = x + ch * kChunk;
    uint8_t* cc = codes + ch * kChunk;
    for (size_t j = 0; j < kPer; ++j) {
      const uint32_t am = amax_bits<B>(xc + j * B);
      const size_t b = ch * kPer + j;
      int e = 0;
      if (am >= 0x7F800000u) {
        slow.push_back(b);
      } else {
        uint32_t yb = f2u(u2f(am) + 1e-9f);  // >= 1e-9: always a normal float
        e = int(yb >> 23) - 127;
        // Float log2 may round up near a power of two; 2^-e is subnormal for e = 127.
        if ((yb & 0x7FFFFFu) >= 0x7FF000u || e > 126) {
          slow.push_back(b);
          e = 0;
        }
      }
      scales[b] = uint8_t(e + 127);
      const float m = u2f(uint32_t(127 - e) << 23);  // e in [-30, 126]: 2^-e is a normal float
      for (size_t i = 0; i < B; ++i) inv[j * B + i] = m;
    }
    uint8_t near[kChunk];
    for (size_t i = 0; i < kChunk; ++i) cc[i] = plena_code(xc[i], inv[i], near[i]);
    for (size_t j = 0; j < kPer; ++j) {
      uint8_t any = 0;
      for (size_t i = 0; i < B; ++i) any |= near[j * B + i];
      if (any) slow.push_back(ch * kPer + j);
    }
  }
  for (size_t b = nchunks * kPer; b < nblocks; ++b) slow.push_back(b);
}

template <Kind K, bool TiesAway>
void encode_blocks_any(size_t B, const float* x, uint8_t* codes, uint8_t* scales, size_t nblocks, const EncodeJob& J,
                       std::vector<size_t>& slow) {
  switch (B) {
    case 8: return encode_blocks<K, TiesAway, 8>(x, codes, scales, nblocks, J, slow);
    case 16: return encode_blocks<K, TiesAway, 16>(x, codes, scales, nblocks, J, slow);
    case 32: return encode_blocks<K, TiesAway, 32>(x, codes, scales, nblocks, J, slow);
    default: slow.reserve(nblocks); for (size_t b = 0; b < nblocks; ++b) slow.push_back(b);
  }
}

// Decodes n codes whose scale multiplier changes every B elements (exact power-of-two products).
PLENA_CLONES void lut_decode(const uint8_t* __restrict c, const uint8_t* __restrict sbytes, float* __restrict out,
                             size_t n, size_t B, const float* __restrict lut, const float* __restrict scale_lut) {
  size_t b0 = 0, g = 0;
  for (; b0 + B <= n; b0 += B, ++g) {
    const float sv = scale_lut[sbytes[g]];
    for (size_t i = 0; i < B; ++i) out[b0 + i] = lut[c[b0 + i]] * sv;
  }
  if (b0 < n) {
    const float sv = scale_lut[sbytes[g]];
    for (size_t i = b0; i < n; ++i) out[i] = lut[c[i]] * sv;
  }
}

// Width-4 codes: element 0 in the low nibble.
void pack_nibbles(const uint8_t* c, size_t n, uint8_t* out) {
  for (size_t i = 0; i + 1 < n; i += 2) out[i / 2] = uint8_t((c[i] & 15) | (c[i + 1] << 4));
  if (n & 1) out[n / 2] = uint8_t(c[n - 1] & 15);
}
void unpack_nibbles(const uint8_t* in, size_t n, uint8_t* c) {
  for (size_t i = 0; i + 1 < n; i += 2) {
    c[i] = in[i / 2] & 15;
    c[i + 1] = uint8_t(in[i / 2] >> 4);
  }
  if (n & 1) c[n - 1] = in[n / 2] & 15;
}

}  // namespace

bool encode_row(const Format& f, std::span<const float> in, std::span<uint8_t> elem_bytes,
                std::span<uint8_t> scale_out) {
  if (f.codec != Codec::OcpMx && f.codec != Codec::MaseBfp && f.codec != Codec::PlenaHwMxfp) return false;
  const BlockCodec& codec = BlockCodec::cached(f);
  const auto& es = codec.es;
  const size_t n = in.size(), B = size_t(f.block), full = n / B;
  std::vector<uint8_t> tmp(f.width == 8 ? 0 : n);
  uint8_t* codes = f.width == 8 ? elem_bytes.data() : tmp.data();
  EncodeJob J;
  J.emax = es.emax;
  J.int_frac = es.int_frac;
  J.kmax = int32_t(es.max_mag_code);
  J.mask = (1u << es.width) - 1;
  if (!es.is_int) {
    J.fp.sh = uint32_t(23 - es.mbits);
    J.fp.half = 1u << (J.fp.sh - 1);
    J.fp.code_off = uint32_t(126 + es.emin) << es.mbits;
    J.fp.max_code = es.max_mag_code;
    J.fp.min_norm = std::ldexp(1.0f, es.emin);
    J.fp.c_sub = std::ldexp(1.0f, es.emin - es.mbits + 23);
    J.fp.c_sub_bits = f2u(J.fp.c_sub);
    J.fp.half_sub = std::ldexp(1.0f, es.emin - es.mbits - 1);
    J.fp.sign_shift = uint32_t(es.width - 1);
  }
  const bool away = f.rounding == Rounding::TiesAway;
  std::vector<size_t> slow;
  const float* x = in.data();
  uint8_t* sc = scale_out.data();
  if (B % simd::lanes() == 0) {  // explicit-SIMD kernels (fast_simd.cpp)
    simd::EncodeArgs A;
    A.kind = f.codec == Codec::PlenaHwMxfp ? simd::EncodeKind::Plena
             : f.codec == Codec::MaseBfp   ? simd::EncodeKind::Mase
             : es.is_int                   ? simd::EncodeKind::OcpInt
                                           : simd::EncodeKind::OcpFp;
    A.ties_away = away;
    A.block = B;
    A.emax = J.emax;
    A.int_frac = J.int_frac;
    A.kmax = J.kmax;
    A.mask = J.mask;
    A.fp = J.fp;
    simd::encode_blocks(A, x, codes, sc, full, slow);
  } else if (f.codec == Codec::PlenaHwMxfp) {
    if (B == 8) encode_plena_blocks<8>(x, codes, sc, full, slow);
    else if (B == 16) encode_plena_blocks<16>(x, codes, sc, full, slow);
    else if (B == 32) encode_plena_blocks<32>(x, codes, sc, full, slow);
    else for (size_t b = 0; b < full; ++b) slow.push_back(b);
  } else if (f.codec == Codec::MaseBfp) encode_blocks_any<Kind::Mase, false>(B, x, codes, sc, full, J, slow);
  else if (es.is_int && away) encode_blocks_any<Kind::OcpInt, true>(B, x, codes, sc, full, J, slow);
  else if (es.is_int) encode_blocks_any<Kind::OcpInt, false>(B, x, codes, sc, full, J, slow);
  else if (away) encode_blocks_any<Kind::OcpFp, true>(B, x, codes, sc, full, J, slow);
  else encode_blocks_any<Kind::OcpFp, false>(B, x, codes, sc, full, J, slow);
  if (full * B < n) slow.push_back(full);  // partial trailing block
  for (size_t b : slow) {
    size_t b0 = b * B, len = std::min(B, n - b0);
    sc[b] = codec.encode(in.subspan(b0, len), std::span<uint8_t>(codes + b0, len));
  }
  if (f.width == 4) {
    pack_nibbles(tmp.data(), n, elem_bytes.data());
  } else if (f.width != 8) {
    std::vector<uint32_t> wide(tmp.begin(), tmp.end());
    pack_codes(wide, f.width, elem_bytes);
  }
  return true;
}

bool decode_row(const Format& f, std::span<const uint8_t> elem_bytes, std::span<const uint8_t> scale_in,
                std::span<float> out) {
  if (f.width != 8 && f.width != 4) return false;
  const BlockCodec& codec = BlockCodec::cached(f);
  const size_t n = out.size(), B = size_t(f.block);
  if (f.width == 8 && B % simd::lanes() == 0) {  // arithmetic decode (fast_simd.cpp)
    const auto& es = codec.es;
    simd::DecodeArgs A;
    A.block = B;
    if (es.is_int) {
      A.kind = simd::DecodeKind::Int;
      A.int_frac = es.int_frac;
      A.scale_tab = codec.int_scale_lut.data();
    } else {
      A.kind = simd::DecodeKind::Float;
      A.mbits = uint32_t(es.mbits);
      A.normal_off = uint32_t(127 - es.bias) << 23;
      A.scale_tab = codec.scale_lut.data();
      if (f.codec == Codec::PlenaHwMxfp) {  // field 0 is m/8 * 2^-7; field 15 is Inf/NaN
        A.sub_scale = std::ldexp(1.0f, -10);
        A.special_min = A.inf_code = 0x78;
      } else {
        A.sub_scale = std::ldexp(1.0f, es.emin - es.mbits);
        if (es.special == detail::Special::NanAllOnes) A.special_min = es.max_mag_code + 1;
        if (es.special == detail::Special::Ieee) A.special_min = A.inf_code = ((1u << es.ebits) - 1) << es.mbits;
      }
    }
    const size_t full = n / B;
    simd::decode_blocks(A, elem_bytes.data(), scale_in.data(), out.data(), full);
    if (full * B < n)
      codec.decode(scale_in[full], elem_bytes.subspan(full * B), out.subspan(full * B));
    return true;
  }
  const float* scales = codec.scale_lut.data();  // 255 -> NaN: NaN * code = NaN
  const uint8_t* codes = elem_bytes.data();
  std::vector<uint8_t> tmp;
  if (f.width == 4) {
    tmp.resize(n);
    unpack_nibbles(elem_bytes.data(), n, tmp.data());
    codes = tmp.data();
  }
  lut_decode(codes, scale_in.data(), out.data(), n, B, codec.lut.data(), scales);
  return true;
}

}  // namespace plena::numerics::fast
