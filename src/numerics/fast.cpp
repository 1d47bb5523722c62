// Row entry points of the fast paths: parameters per Format, the explicit-SIMD kernels
// (fast_simd.cpp) for every full block whose size is a multiple of the vector width, the reference
// codec for the blocks they decline and for partial blocks, and table decode for 4-bit codes and
// odd block sizes. The reference block codec (block.cpp) stays the definition; tests compare both
// on millions of random blocks.
#include "numerics/fast.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <vector>

#include "numerics/block.hpp"
#include "numerics/fast_avx512.hpp"
#include "numerics/fast_pack.hpp"
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

// plena-hw-mxfp elements take k = floor(log2f(y)) for y = t + 1e-9, t = |x| * 2^-e < 2; only y's
// exponents 120..127 matter (below, k clamps to -7 whatever the log2). The reference calls libm
// for mantissas >= 0x7FF000; every such value is tried once per process (no assumption on libm
// accuracy) for the smallest mantissa where the result is not the bit exponent. The kernel
// sends elements within 2 ulps of it (t + 1e-9 adds at most 2 ulps) to the reference.
uint32_t plena_band() {
  static const uint32_t band = [] {
    uint32_t first = 0x800000;
    for (uint32_t E = 120; E <= 127; ++E)
      for (uint32_t m = 0x7FF000; m < first; ++m)
        if (floor_log2f_ref(std::bit_cast<float>(E << 23 | m)) != int(E) - 127) first = m;
    return first - 3;  // the kernel flags mantissas above this
  }();
  return band;
}

// Elements per chunk of the packed (width < 8) paths: whole blocks, a multiple of 8 elements (so
// every chunk starts on a byte of the bit stream), about 4 Ki codes (an L1-resident buffer).
size_t chunk_elements(size_t B) { return 8 * B * std::max<size_t>(1, 512 / B); }

// Packs codes into the bit stream at element c0 (a multiple of 8).
void pack_chunk(const uint8_t* codes, size_t c0, size_t len, int width, std::span<uint8_t> out) {
  uint8_t* dst = out.data() + c0 * size_t(width) / 8;
  if (width == 4 || width == 6) return simd::pack_codes(codes, len, width, dst);
  std::vector<uint32_t> wide(codes, codes + len);
  numerics::pack_codes(wide, width, std::span<uint8_t>(dst, (len * size_t(width) + 7) / 8));
}

}  // namespace

bool encode_row(const Format& f, std::span<const float> in, std::span<uint8_t> elem_bytes,
                std::span<uint8_t> scale_out) {
  if (f.codec != Codec::OcpMx && f.codec != Codec::MaseBfp && f.codec != Codec::PlenaHwMxfp) return false;
  const BlockCodec& codec = BlockCodec::cached(f);
  const auto& es = codec.es;
  const size_t n = in.size(), B = size_t(f.block);
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
  if (A.kind == simd::EncodeKind::Plena) A.plena_band = plena_band();
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
  uint8_t* sc = scale_out.data();
  const bool kernel = B % simd::lanes() == 0;  // else (odd block sizes) the reference block by block
  std::vector<size_t> slow;
  // Codes of the elements [c0, c0 + len) (whole blocks but a partial last one) into `codes`.
  auto encode_range = [&](size_t c0, size_t len, uint8_t* codes) {
    const size_t b_first = c0 / B, full = len / B;
    slow.clear();
    if (kernel) {
      simd::encode_blocks(A, in.data() + c0, codes, sc + b_first, full, slow);
    } else {
      for (size_t b = 0; b < full; ++b) slow.push_back(b);
    }
    if (full * B < len) slow.push_back(full);  // partial trailing block
    for (size_t b : slow) {
      const size_t b0 = b * B, blen = std::min(B, len - b0);
      sc[b_first + b] = codec.encode(in.subspan(c0 + b0, blen), std::span<uint8_t>(codes + b0, blen));
    }
  };
  if (f.width == 8) {
    encode_range(0, n, elem_bytes.data());
    return true;
  }
  const size_t C = chunk_elements(B);
  std::vector<uint8_t> buf(std::min(C, n));
  for (size_t c0 = 0; c0 < n; c0 += C) {
    const size_t len = std::min(C, n - c0);
    encode_range(c0, len, buf.data());
    pack_chunk(buf.data(), c0, len, f.width, elem_bytes);
  }
  return true;
}

namespace {

// Arguments of the arithmetic decode kernel for codes in the 8-bit layout (sign in bit 7 for
// float elements, sign-extended for integers; see byte_layout_map).
simd::DecodeArgs decode_args(const Format& f, const BlockCodec& codec) {
  const auto& es = codec.es;
  simd::DecodeArgs A;
  A.block = size_t(f.block);
  if (es.is_int) {
    A.kind = simd::DecodeKind::Int;
    A.int_frac = es.int_frac;
    A.scale_tab = codec.int_scale_lut.data();
    return A;
  }
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
  return A;
}

// Narrow code -> the same element in the 8-bit layout: the sign moves from bit w-1 to bit 7
// (float) or is extended (int); magnitudes keep their bits, so decode_args applies unchanged.
std::array<uint8_t, 64> byte_layout_map(const detail::ElemSpec& es) {
  std::array<uint8_t, 64> m{};
  const uint32_t sign = 1u << (es.width - 1);
  for (uint32_t c = 0; c < (1u << es.width); ++c)
    m[c] = uint8_t(es.is_int ? uint32_t(int32_t(c << (32 - es.width)) >> (32 - es.width))
                             : (c & (sign - 1)) | ((c & sign) ? 0x80u : 0u));
  return m;
}

// Width-6 float rows by the AVX-512 kernel, which reads the bit stream in place: its full blocks
// when the kernel applies (see simd::avx512::decode6), returning how many elements it decoded.
size_t decode6_avx512(const Format& f, const BlockCodec& codec, std::span<const uint8_t> elem_bytes,
                      std::span<const uint8_t> scale_in, std::span<float> out) {
  const size_t B = size_t(f.block);
  static const bool vbmi = simd::avx512::supported_vbmi();
  if (f.width != 6 || codec.es.is_int || B % 16 != 0 || !vbmi || !simd::avx512_kernels() || simd::lanes() != 8)
    return 0;
  std::array<float, 32> mag{};
  for (uint32_t c = 0; c < 32; ++c) {
    if (std::isnan(codec.lut[c]) || f2u(codec.lut[c | 32]) != (f2u(codec.lut[c]) ^ 0x80000000u)) return 0;
    mag[c] = codec.lut[c];
  }
  const size_t full = out.size() / B;
  simd::avx512::decode6(elem_bytes.data(), full, B, mag.data(), scale_in.data(), codec.scale_lut.data(), out.data());
  return full * B;
}

// Width 4 / 6 rows: unpack a chunk into the 8-bit layout (L1 buffer), then the 8-bit kernel.
void decode_narrow(const Format& f, const BlockCodec& codec, std::span<const uint8_t> elem_bytes,
                   std::span<const uint8_t> scale_in, std::span<float> out) {
  const size_t n = out.size(), B = size_t(f.block), C = chunk_elements(B);
  const size_t done = decode6_avx512(f, codec, elem_bytes, scale_in, out);
  if (done == n) return;
  const simd::DecodeArgs A = decode_args(f, codec);
  const auto map = byte_layout_map(codec.es);
  std::vector<uint8_t> buf(std::min(C, n));
  for (size_t c0 = done; c0 < n; c0 += C) {
    const size_t len = std::min(C, n - c0), full = len / B;
    simd::unpack_codes(elem_bytes.data() + c0 * size_t(f.width) / 8, len, f.width, map.data(), buf.data());
    simd::decode_blocks(A, buf.data(), scale_in.data() + c0 / B, out.data() + c0, full);
    if (full * B == len) continue;
    const size_t b0 = full * B;  // partial trailing block: back to the element's own code
    for (size_t i = b0; i < len; ++i)
      buf[i] = uint8_t(std::find(map.begin(), map.end(), buf[i]) - map.begin());
    codec.decode(scale_in[(c0 + b0) / B], std::span<const uint8_t>(buf).subspan(b0, len - b0),
                 out.subspan(c0 + b0, len - b0));
  }
}

}  // namespace

bool decode_row(const Format& f, std::span<const uint8_t> elem_bytes, std::span<const uint8_t> scale_in,
                std::span<float> out) {
  if (f.width != 8 && f.width != 4 && f.width != 6) return false;
  const BlockCodec& codec = BlockCodec::cached(f);
  const size_t n = out.size(), B = size_t(f.block);
  if (B % simd::lanes() == 0) {
    if (f.width != 8) {
      decode_narrow(f, codec, elem_bytes, scale_in, out);
      return true;
    }
    const size_t full = n / B;
    simd::decode_blocks(decode_args(f, codec), elem_bytes.data(), scale_in.data(), out.data(), full);
    if (full * B < n) codec.decode(scale_in[full], elem_bytes.subspan(full * B), out.subspan(full * B));
    return true;
  }
  if (f.width == 6) return false;
  const float* scales = codec.scale_lut.data();  // 255 -> NaN: NaN * code = NaN
  const uint8_t* codes = elem_bytes.data();
  std::vector<uint8_t> tmp;
  if (f.width == 4) {
    static constexpr uint8_t kIdentity[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    tmp.resize(n);
    simd::unpack_codes(elem_bytes.data(), n, 4, kIdentity, tmp.data());
    codes = tmp.data();
  }
  lut_decode(codes, scale_in.data(), out.data(), n, B, codec.lut.data(), scales);
  return true;
}

RowDecoder::RowDecoder(const Format& f) : f_(f) {
  blocks8_ = f.is_block() && f.codec != Codec::AsymInt && f.width == 8 && size_t(f.block) % simd::lanes() == 0;
  if (!blocks8_) return;
  args_ = decode_args(f, BlockCodec::cached(f));
  std::copy_n(args_.scale_tab, scales_.size(), scales_.begin());
  args_.scale_tab = scales_.data();
}

void RowDecoder::operator()(std::span<const uint8_t> elem_bytes, std::span<const uint8_t> scale_in,
                            std::span<float> out) const {
  const size_t B = size_t(f_.block);
  if (blocks8_ && out.size() % B == 0 && elem_bytes.size() == out.size() && scale_in.size() == out.size() / B)
    simd::decode_blocks(args_, elem_bytes.data(), scale_in.data(), out.data(), out.size() / B);
  else
    numerics::decode_row(f_, elem_bytes, scale_in, out);
}

bool encode_plain16(const Format& f, std::span<const float> in, std::span<uint8_t> elem_bytes) {
  if (f.is_block() || f.width != 16 || (f.element != "bf16" && f.element != "fp16")) return false;
  if (f.element == "bf16") simd::f32_to_bf16_row(in.data(), in.size(), elem_bytes.data());
  else simd::f32_to_fp16_row(in.data(), in.size(), elem_bytes.data());
  return true;
}

bool decode_plain16(const Format& f, std::span<const uint8_t> elem_bytes, std::span<float> out) {
  if (f.is_block() || f.width != 16 || (f.element != "bf16" && f.element != "fp16")) return false;
  if (f.element == "bf16") simd::bf16_to_f32_row(elem_bytes.data(), out.size(), out.data());
  else simd::fp16_to_f32_row(elem_bytes.data(), out.size(), out.data());
  return true;
}

bool encode_asym(const Format& f, std::span<const float> in, std::span<uint8_t> elem_bytes,
                 std::span<uint8_t> scale_out) {
  if (f.codec != Codec::AsymInt || (f.width != 4 && f.width != 8)) return false;
  const size_t n = in.size(), G = size_t(f.block), C = chunk_elements(G), groups = C / G;
  std::vector<uint8_t> buf(std::min(C, n));
  std::vector<uint16_t> sc(groups), zp(groups);
  std::vector<size_t> slow(groups);
  for (size_t c0 = 0; c0 < n; c0 += C) {
    const size_t len = std::min(C, n - c0), g0 = c0 / G;
    const size_t ns = simd::asym_encode_groups(in.data() + c0, len, G, f.width, buf.data(), sc.data(), zp.data(),
                                               slow.data());
    for (size_t k = 0; k < ns; ++k) {  // the reference (it throws for Inf/NaN)
      const size_t b0 = slow[k] * G, glen = std::min(G, len - b0);
      asym_quantize_group(in.subspan(c0 + b0, glen), f.width, std::span<uint8_t>(buf).subspan(b0, glen),
                          sc[slow[k]], zp[slow[k]]);
    }
    for (size_t gi = 0; gi * G < len; ++gi) {
      uint8_t* r = scale_out.data() + 4 * (g0 + gi);
      r[0] = uint8_t(sc[gi]), r[1] = uint8_t(sc[gi] >> 8), r[2] = uint8_t(zp[gi]), r[3] = uint8_t(zp[gi] >> 8);
    }
    if (f.width == 8) std::copy(buf.begin(), buf.begin() + long(len), elem_bytes.begin() + long(c0));
    else pack_chunk(buf.data(), c0, len, f.width, elem_bytes);
  }
  return true;
}

bool decode_asym(const Format& f, std::span<const uint8_t> elem_bytes, std::span<const uint8_t> scale_in,
                 std::span<float> out) {
  if (f.codec != Codec::AsymInt || (f.width != 4 && f.width != 8)) return false;
  static constexpr uint8_t kIdentity[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  const size_t n = out.size(), G = size_t(f.block), C = chunk_elements(G);
  std::vector<uint8_t> buf(f.width == 8 ? 0 : std::min(C, n));
  std::vector<size_t> slow(C / G);
  for (size_t c0 = 0; c0 < n; c0 += C) {
    const size_t len = std::min(C, n - c0), g0 = c0 / G;
    const uint8_t* codes = elem_bytes.data() + c0;
    if (f.width == 4) {
      simd::unpack_codes(elem_bytes.data() + c0 / 2, len, 4, kIdentity, buf.data());
      codes = buf.data();
    }
    const uint8_t* rec = scale_in.data() + 4 * g0;
    const size_t ns = simd::asym_decode_groups(codes, len, G, f.width, rec, out.data() + c0, slow.data());
    for (size_t k = 0; k < ns; ++k) {
      const uint8_t* r = rec + 4 * slow[k];
      const uint16_t s = uint16_t(r[0] | (r[1] << 8)), z = uint16_t(r[2] | (r[3] << 8));
      for (size_t i = slow[k] * G; i < std::min(len, (slow[k] + 1) * G); ++i)
        out[c0 + i] = asym_dequant_value(codes[i], s, z);
    }
  }
  return true;
}

}  // namespace plena::numerics::fast
