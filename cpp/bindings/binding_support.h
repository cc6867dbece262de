// What every binding file shares: array aliases, the fit's thread pool as a Python object,
// and running core work with the GIL released (Ctrl-C polled through an InterruptHook and
// re-raised as the pending KeyboardInterrupt).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "acctsne/common.h"
#include "acctsne/parallel.h"
#include "acctsne/repulsion_method.h"

namespace acctsne_bindings {

namespace py = pybind11;

template <typename T>
using CArray = py::array_t<T, py::array::c_style | py::array::forcecast>;

// Takes the GIL briefly and asks Python whether a signal (Ctrl-C) is pending. On true,
// the KeyboardInterrupt stays set as this thread's error indicator until re-raised.
class PythonInterruptHook : public acctsne::InterruptHook {
 public:
  bool poll() override {
    py::gil_scoped_acquire gil;
    return PyErr_CheckSignals() != 0;
  }
};

// _core.ThreadPool: the threads of one fit, started once and reused by every call of the
// fit (neighbours, affinities, the gradient engine). One call at a time: a second Python
// thread using the same pool waits for the first (without the GIL).
class FitPool {
 public:
  explicit FitPool(int n_threads) : pool_(n_threads, &hook_) {}
  int n_threads() const { return pool_.n_threads(); }

  // Runs work(pool) with the GIL released; re-raises interrupts as KeyboardInterrupt.
  template <typename Fn>
  void Run(Fn&& work) {
    try {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      pool_.clear_interrupt();
      work(pool_);
    } catch (const acctsne::Interrupted&) {
      if (!PyErr_Occurred()) PyErr_SetNone(PyExc_KeyboardInterrupt);
      throw py::error_already_set();
    }
  }

 private:
  PythonInterruptHook hook_;
  std::mutex mutex_;
  acctsne::ThreadPool pool_;
};

// A call's `n_threads` argument: an int (a pool for this call only) or a _core.ThreadPool.
inline std::shared_ptr<FitPool> PoolFor(const py::object& n_threads) {
  if (py::isinstance<FitPool>(n_threads)) return n_threads.cast<std::shared_ptr<FitPool>>();
  return std::make_shared<FitPool>(n_threads.cast<int>());
}

template <typename Fn>
void RunWithoutGil(const py::object& n_threads, Fn&& work) {
  PoolFor(n_threads)->Run(std::forward<Fn>(work));
}

// The FFT of the interpolation method, delegated to a Python callable
// convolve(kernel, grids) that overwrites grids (n_charges x n^dims) with their linear
// convolutions by the kernel given at offsets [0, n]^dims (acctsne._fft.convolve:
// scipy.fft). The arrays are views of the C++ buffers.
class PythonConvolver : public acctsne::GridConvolver {
 public:
  explicit PythonConvolver(py::function fn) : fn_(std::move(fn)) {}
  void Convolve(int dims, int64_t n, const double* kernel, int n_charges,
                double* grids) override {
    py::gil_scoped_acquire gil;
    std::vector<py::ssize_t> kshape(static_cast<size_t>(dims), n + 1);
    std::vector<py::ssize_t> gshape(static_cast<size_t>(dims) + 1, n);
    gshape[0] = n_charges;
    py::capsule no_owner(grids, [](void*) {});  // views: C++ owns the memory
    py::array_t<double> k(kshape, kernel, no_owner);
    py::array_t<double> g(gshape, grids, no_owner);
    fn_(k, g);
  }

 private:
  py::function fn_;
};

void RequireShape(const py::array& a, const char* name, py::ssize_t rows, py::ssize_t cols);

// Registers _core.ReferenceField and embed_new_points (transform_bindings.cpp).
void RegisterTransform(py::module_& m);
void RegisterKnnBlocks(py::module_& m);

// Registers _core.GradientParams, PhaseParams, StopReason, PhaseResult, GradientEngine,
// optimize and exact_gradient (gradient_bindings.cpp).
void RegisterGradient(py::module_& m);

}  // namespace acctsne_bindings
