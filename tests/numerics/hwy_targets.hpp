// Test helper: runs a body once per Highway target the library compiled that this CPU supports.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>

#include "hwy/targets.h"
#include "numerics/fast_simd.hpp"

// Runs `body` once per SIMD target (AVX2, SSE4 and the portable scalar fallback), AVX2 once more
// with the hand-written AVX-512 kernels where the CPU has them, then restores the normal dispatch.
template <class Body>
void for_each_target(Body body) {
  const int64_t supported = hwy::SupportedTargets();
  const bool avx512 = plena::numerics::fast::simd::avx512_kernels();
  size_t ran = 0;
  if ((supported & HWY_AVX2) && avx512) {
    hwy::SetSupportedTargetsForTest(HWY_AVX2);
    hwy::GetChosenTarget().Update(hwy::SupportedTargets());
    SCOPED_TRACE("AVX2 + AVX-512 kernels");
    body(int64_t(HWY_AVX2));
  }
  plena::numerics::fast::simd::use_avx512_kernels(false);
  for (int64_t t : {int64_t(HWY_AVX2), int64_t(HWY_SSE4), int64_t(HWY_SCALAR)}) {
    if (!(supported & t) && t != HWY_SCALAR) continue;
    hwy::SetSupportedTargetsForTest(t);
    hwy::GetChosenTarget().Update(hwy::SupportedTargets());
    SCOPED_TRACE(hwy::TargetName(t));
    body(t);
    ++ran;
  }
  hwy::SetSupportedTargetsForTest(0);
  hwy::GetChosenTarget().Update(hwy::SupportedTargets());
  plena::numerics::fast::simd::use_avx512_kernels(avx512);
  EXPECT_GE(ran, 2u);
}
