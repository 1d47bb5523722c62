// Test helper: runs a body once per Highway target the library compiled that this CPU supports.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>

#include "hwy/targets.h"

// Runs `body` once per SIMD target (AVX2, SSE4 and the portable scalar fallback), then restores
// the normal dispatch.
template <class Body>
void for_each_target(Body body) {
  const int64_t supported = hwy::SupportedTargets();
  size_t ran = 0;
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
  EXPECT_GE(ran, 2u);
}
