// CPU feature detection and the ACCTSNE_SIMD override; see acctsne/simd.h.
#include "acctsne/simd.h"

#include <algorithm>
#include <cstdlib>

#include "acctsne/common.h"

namespace acctsne {
namespace {

bool CpuSupports(SimdLevel level) {
  switch (level) {
    case SimdLevel::kBaseline:
      return true;
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    case SimdLevel::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case SimdLevel::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
#endif
    default:
      return false;
  }
}

}  // namespace

const char* SimdLevelName(SimdLevel level) {
  switch (level) {
    case SimdLevel::kBaseline:
      return "baseline";
    case SimdLevel::kAvx2:
      return "avx2";
    case SimdLevel::kAvx512:
      return "avx512";
  }
  return "unknown";
}

SimdLevel ParseSimdLevel(const std::string& name) {
  // The baseline level's name before it was renamed (it was never scalar code); kept so
  // that ACCTSNE_SIMD=scalar and simd_level="scalar" in existing scripts still work.
  if (name == "scalar") return SimdLevel::kBaseline;
  for (SimdLevel level : {SimdLevel::kBaseline, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    if (name == SimdLevelName(level)) return level;
  }
  throw InvalidArgument(StrCat("unknown SIMD level '", name,
                               "'; expected one of 'baseline' (alias 'scalar'), 'avx2', 'avx512'"));
}

std::vector<SimdLevel> CompiledSimdLevels() {
  std::vector<SimdLevel> levels{SimdLevel::kBaseline};
#ifdef ACCTSNE_HAVE_AVX2
  levels.push_back(SimdLevel::kAvx2);
#endif
#ifdef ACCTSNE_HAVE_AVX512
  levels.push_back(SimdLevel::kAvx512);
#endif
  return levels;
}

std::vector<SimdLevel> SupportedSimdLevels() {
  std::vector<SimdLevel> levels;
  for (SimdLevel level : CompiledSimdLevels()) {
    if (CpuSupports(level)) levels.push_back(level);
  }
  return levels;
}

void RequireSupported(SimdLevel level) {
  auto supported = SupportedSimdLevels();
  if (std::find(supported.begin(), supported.end(), level) == supported.end()) {
    throw InvalidArgument(StrCat("SIMD level '", SimdLevelName(level),
                                 "' is not compiled in or not supported by this CPU"));
  }
}

SimdLevel DefaultSimdLevel() {
  const char* forced = std::getenv("ACCTSNE_SIMD");
  if (forced != nullptr && forced[0] != '\0') {
    SimdLevel level = ParseSimdLevel(forced);
    RequireSupported(level);
    return level;
  }
  return SupportedSimdLevels().back();
}

}  // namespace acctsne
