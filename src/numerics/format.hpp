// Number-format descriptors shared by config, simulator and compiler.
// A Format names how a tensor is stored: a codec (plain scalar or a block codec), an element
// type, a block size and a rounding mode. Text form (used in TOML configs and run specs):
//   plain scalars:  "fp32" "bf16" "fp16" "fp8_e4m3" "fp8_e5m2" "fp6_e3m2" "fp6_e2m3" "fp4_e2m1"
//                   "minifloat_e<E>m<M>" (IEEE-like, with Inf/NaN) "minifloat_e<E>m<M>fn" (finite only)
//   block codecs:   "<codec>:<element>:b<block>[:<rounding>]"
//                   codec   = ocp-mx | mase-bfp | plena-hw-mxfp
//                   element = fp8_e4m3 fp8_e5m2 fp6_e3m2 fp6_e2m3 fp4_e2m1 int8 (ocp-mx)
//                             int2..int8 (mase-bfp), fp8_e4m3 (plena-hw-mxfp)
//                   rounding = rne (default) | ties-away (ocp-mx only)
//   asymmetric int groups (BitDecoding-style KV): "asym-int:uint<W>:g<group>" (W in 2,4,8)
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace plena::numerics {

enum class Codec : uint8_t { Plain, OcpMx, MaseBfp, PlenaHwMxfp, AsymInt };
enum class Rounding : uint8_t { Rne, TiesAway };

struct Format {
  Codec codec = Codec::Plain;
  std::string element = "fp32";  // canonical element name
  bool is_int = false;           // element is an integer (two's complement, sign-magnitude or unsigned)
  int ebits = 8;                 // float elements: exponent bits
  int mbits = 23;                // float elements: stored mantissa bits
  bool finite_only = false;      // float elements without Inf/NaN encodings (OCP fn formats)
  int width = 32;                // total element bits (sign included)
  int block = 1;                 // elements sharing one scale (1 for plain)
  int scale_bits = 0;            // bits of the shared scale per block (8 for E8M0; 32 for asym-int fp16 scale+zero)
  Rounding rounding = Rounding::Rne;

  bool is_block() const { return codec != Codec::Plain; }
  // Average storage bits per element, including the amortised shared scale.
  double bits_per_element() const { return width + double(scale_bits) / block; }
  std::string name() const;  // canonical text; parse_format(name()) == *this
  bool operator==(const Format&) const = default;
};

// Throws plena::InputError with a message naming the offending text and the accepted forms.
Format parse_format(std::string_view text);
std::string_view codec_name(Codec c);

}  // namespace plena::numerics
