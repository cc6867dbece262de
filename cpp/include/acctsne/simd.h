// Run-time choice of the SIMD instruction set for the hot kernels.
//
// The kernels (src/kernels/) are compiled once per level in separate translation units
// with that level's compiler flags; everything else is compiled for the baseline, so a
// wheel runs on any x86-64 CPU and still uses AVX2/AVX-512 where present. The level is
// chosen once per call (not per element): the best level that was compiled in and that
// the CPU supports, unless the environment variable ACCTSNE_SIMD forces one
// ("baseline", "avx2" or "avx512").
//
// "baseline" is the build for the compiler's default ISA (SSE2 on x86-64, NEON on
// aarch64): 4-float vectors, not scalar code. "scalar", its former name, is still
// accepted as an alias.
#pragma once

#include <string>
#include <vector>

namespace acctsne {

enum class SimdLevel { kBaseline = 0, kAvx2 = 1, kAvx512 = 2 };

const char* SimdLevelName(SimdLevel level);
// Parses "baseline" (or its alias "scalar") / "avx2" / "avx512"; throws InvalidArgument
// otherwise.
SimdLevel ParseSimdLevel(const std::string& name);

// Levels compiled into this binary, lowest first.
std::vector<SimdLevel> CompiledSimdLevels();
// Compiled levels the running CPU supports, lowest first.
std::vector<SimdLevel> SupportedSimdLevels();
// The level used by default: ACCTSNE_SIMD if set (must be supported), else the best
// supported level. Throws InvalidArgument for an unknown or unsupported ACCTSNE_SIMD.
SimdLevel DefaultSimdLevel();
// Throws InvalidArgument if `level` is not compiled in or not supported by this CPU.
void RequireSupported(SimdLevel level);

}  // namespace acctsne
