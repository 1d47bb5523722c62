// Row entry points of the fast paths: parameters per Format, the explicit-SIMD kernels
// (fast_simd.cpp) for every full block whose size is a multiple of the vector width, the reference
// codec for the blocks they decline and for partial blocks, and table decode for 4-bit codes and
// odd block sizes. The reference block codec (block.cpp) stays the definition; tests compare both
// on millions of random blocks.
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

inline uint32_t f2u(float x) { return std::bit_cast<uint32_t>(x); }

using simd::FpParams;

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
  simd::EncodeArgs A;
  A.kind = f.codec == Codec::PlenaHwMxfp ? simd::EncodeKind::Plena
           : f.codec == Codec::MaseBfp   ? simd::EncodeKind::Mase
           : es.is_int                   ? simd::EncodeKind::OcpInt
                                         : simd::EncodeKind::OcpFp;
  A.ties_away = f.rounding == Rounding::TiesAway;
  A.block = B;
  A.emax = es.emax;
  A.int_frac = es.int_frac;
  A.kmax = int32_t(es.max_mag_code);
  A.mask = (1u << es.width) - 1;
  if (!es.is_int) {
    FpParams& P = A.fp;
    P.sh = uint32_t(23 - es.mbits);
    P.half = 1u << (P.sh - 1);
    P.code_off = uint32_t(126 + es.emin) << es.mbits;
    P.max_code = es.max_mag_code;
    P.min_norm = std::ldexp(1.0f, es.emin);
    P.c_sub = std::ldexp(1.0f, es.emin - es.mbits + 23);
    P.c_sub_bits = f2u(P.c_sub);
    P.half_sub = std::ldexp(1.0f, es.emin - es.mbits - 1);
    P.sign_shift = uint32_t(es.width - 1);
  }
  std::vector<size_t> slow;
  uint8_t* sc = scale_out.data();
  if (B % simd::lanes() == 0) {
    simd::encode_blocks(A, in.data(), codes, sc, full, slow);
  } else {  // odd block sizes: the reference codec block by block
    slow.reserve(full);
    for (size_t b = 0; b < full; ++b) slow.push_back(b);
  }
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
