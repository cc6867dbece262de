// Private entry points that run one SIMD kernel at a chosen level on numpy inputs, so
// that tests/test_kernels.py can compare every level with the baseline and with numpy.
#pragma once

#include <pybind11/pybind11.h>

// Adds _core._kernel_<name>(level, ...) for every member of kernels::KernelTable.
void RegisterKernelChecks(pybind11::module_& m);
