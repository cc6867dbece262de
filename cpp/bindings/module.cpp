// The only file that sees Python: numpy arrays in and out, the GIL released around all
// core work, Ctrl-C polling through an InterruptHook, and C++ errors mapped to Python
// exceptions (InvalidArgument -> ValueError, NumericalError -> FloatingPointError,
// std::bad_alloc -> MemoryError, Interrupted -> the pending KeyboardInterrupt).
// Validation that users see lives in python/acctsne; the checks here guard the core.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "acctsne/affinity.h"
#include "acctsne/common.h"
#include "acctsne/exact.h"
#include "acctsne/knn.h"
#include "acctsne/optimizer.h"
#include "acctsne/parallel.h"
#include "acctsne/quadtree.h"
#include "acctsne/repulsion.h"
#include "acctsne/simd.h"
#include "kernel_checks.h"

namespace py = pybind11;
using acctsne::ThreadPool;

namespace {

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

// Runs `work` with the GIL released on a fresh per-call pool; re-raises interrupts.
template <typename Fn>
void RunWithoutGil(int n_threads, Fn&& work) {
  PythonInterruptHook hook;
  try {
    py::gil_scoped_release release;
    ThreadPool pool(n_threads, &hook);
    work(pool);
  } catch (const acctsne::Interrupted&) {
    if (!PyErr_Occurred()) PyErr_SetNone(PyExc_KeyboardInterrupt);
    throw py::error_already_set();
  }
}

void RequireShape(const py::array& a, const char* name, py::ssize_t rows, py::ssize_t cols) {
  if (a.ndim() != 2 || a.shape(0) != rows || (cols >= 0 && a.shape(1) != cols)) {
    throw acctsne::InvalidArgument(acctsne::StrCat(name, " has the wrong shape"));
  }
}

acctsne::SimdLevel ResolveLevel(const std::optional<std::string>& name) {
  if (!name) return acctsne::DefaultSimdLevel();
  acctsne::SimdLevel level = acctsne::ParseSimdLevel(*name);
  acctsne::RequireSupported(level);
  return level;
}

py::tuple KnnExact(const py::array& X_any, int64_t k, int n_threads,
                   const std::optional<std::string>& simd_level) {
  const acctsne::SimdLevel level = ResolveLevel(simd_level);
  const bool is_double = X_any.dtype().is(py::dtype::of<double>());
  py::array X = is_double ? py::array(CArray<double>::ensure(X_any))
                          : py::array(CArray<float>::ensure(X_any));
  if (!X || X.ndim() != 2) throw acctsne::InvalidArgument("X must be a 2-D numeric array");
  const int64_t n = X.shape(0), d = X.shape(1);
  py::array_t<int32_t> indices({n, k});
  py::array_t<float> sq_dist({n, k});
  int32_t* idx_ptr = indices.mutable_data();
  float* dist_ptr = sq_dist.mutable_data();
  const void* x_ptr = X.data();
  RunWithoutGil(n_threads, [&](ThreadPool& pool) {
    if (is_double) {
      acctsne::ExactKnn(static_cast<const double*>(x_ptr), n, d, k, level, pool, idx_ptr, dist_ptr);
    } else {
      acctsne::ExactKnn(static_cast<const float*>(x_ptr), n, d, k, level, pool, idx_ptr, dist_ptr);
    }
  });
  return py::make_tuple(indices, sq_dist);
}

py::tuple RefineNeighbors(const py::array& X_any, const CArray<int32_t>& neighbors,
                          int n_threads) {
  const bool is_double = X_any.dtype().is(py::dtype::of<double>());
  py::array X = is_double ? py::array(CArray<double>::ensure(X_any))
                          : py::array(CArray<float>::ensure(X_any));
  if (!X || X.ndim() != 2) throw acctsne::InvalidArgument("X must be a 2-D numeric array");
  const int64_t n = X.shape(0), d = X.shape(1);
  RequireShape(neighbors, "neighbors", n, -1);
  const int64_t k = neighbors.shape(1);
  py::array_t<int32_t> indices({n, k});
  std::memcpy(indices.mutable_data(), neighbors.data(), static_cast<size_t>(n * k) * 4);
  py::array_t<float> sq_dist({n, k});
  int32_t* idx_ptr = indices.mutable_data();
  float* dist_ptr = sq_dist.mutable_data();
  const void* x_ptr = X.data();
  const acctsne::SimdLevel level = acctsne::DefaultSimdLevel();
  RunWithoutGil(n_threads, [&](ThreadPool& pool) {
    if (is_double) {
      acctsne::RefineNeighbors(static_cast<const double*>(x_ptr), n, d, k, level, pool, idx_ptr,
                               dist_ptr);
    } else {
      acctsne::RefineNeighbors(static_cast<const float*>(x_ptr), n, d, k, level, pool, idx_ptr,
                               dist_ptr);
    }
  });
  return py::make_tuple(indices, sq_dist);
}

// Hands a vector's buffer to NumPy without a copy (the array owns the vector): at a
// million points P is ~1 GB, which a copy would briefly double.
template <typename T>
py::array_t<T> MoveToArray(std::vector<T>&& v) {
  auto* owned = new std::vector<T>(std::move(v));
  py::capsule owner(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(static_cast<py::ssize_t>(owned->size()), owned->data(), owner);
}

py::tuple ConditionalProbabilities(const CArray<float>& sq_dist, float perplexity, bool exact,
                                   int n_threads) {
  if (sq_dist.ndim() != 2) throw acctsne::InvalidArgument("distances must be 2-D");
  const int64_t n = sq_dist.shape(0), k = sq_dist.shape(1);
  py::array_t<double> P({n, k});
  py::array_t<double> betas(n);
  double* p_ptr = P.mutable_data();
  double* b_ptr = betas.mutable_data();
  const float* d_ptr = sq_dist.data();
  const acctsne::SimdLevel level = acctsne::DefaultSimdLevel();
  RunWithoutGil(n_threads, [&](ThreadPool& pool) {
    acctsne::ConditionalProbabilities(d_ptr, n, k, exact, perplexity, level, pool, p_ptr, b_ptr);
  });
  return py::make_tuple(P, betas);
}

py::tuple JointProbabilitiesNN(const CArray<int32_t>& neighbors, const CArray<float>& sq_dist,
                               float perplexity, int n_threads) {
  if (sq_dist.ndim() != 2) throw acctsne::InvalidArgument("distances must be 2-D");
  const int64_t n = sq_dist.shape(0), k = sq_dist.shape(1);
  RequireShape(neighbors, "neighbors", n, k);
  std::vector<float> cond(static_cast<size_t>(n * k));
  py::array_t<double> betas(n);
  double* b_ptr = betas.mutable_data();
  acctsne::SparseP P;
  const float* d_ptr = sq_dist.data();
  const int32_t* nb_ptr = neighbors.data();
  const acctsne::SimdLevel level = acctsne::DefaultSimdLevel();
  RunWithoutGil(n_threads, [&](ThreadPool& pool) {
    acctsne::ConditionalProbabilities(d_ptr, n, k, false, perplexity, level, pool, cond.data(),
                                      b_ptr);
    P = acctsne::SymmetrizeKnn(nb_ptr, std::move(cond), n, k, pool);
  });
  return py::make_tuple(MoveToArray(std::move(P.indptr)), MoveToArray(std::move(P.indices)),
                        MoveToArray(std::move(P.data)), betas);
}

py::tuple JointProbabilitiesExact(const CArray<float>& sq_dist, float perplexity, int n_threads) {
  if (sq_dist.ndim() != 2 || sq_dist.shape(0) != sq_dist.shape(1))
    throw acctsne::InvalidArgument("exact affinities need a square distance matrix");
  const int64_t n = sq_dist.shape(0);
  py::array_t<double> P({n, n});
  py::array_t<double> betas(n);
  double* p_ptr = P.mutable_data();
  double* b_ptr = betas.mutable_data();
  const float* d_ptr = sq_dist.data();
  const acctsne::SimdLevel level = acctsne::DefaultSimdLevel();
  RunWithoutGil(n_threads, [&](ThreadPool& pool) {
    acctsne::ConditionalProbabilities(d_ptr, n, n, true, perplexity, level, pool, p_ptr, b_ptr);
    acctsne::SymmetrizeDense(p_ptr, n, pool);
  });
  return py::make_tuple(P, betas);
}

acctsne::CsrView MakeCsr(const CArray<int64_t>& indptr, const CArray<int32_t>& indices,
                         const CArray<float>& data, int64_t n) {
  if (indptr.ndim() != 1 || indptr.shape(0) != n + 1)
    throw acctsne::InvalidArgument("P.indptr must have n_samples + 1 entries");
  const int64_t nnz = indptr.at(n);
  if (indptr.at(0) != 0 || indices.ndim() != 1 || data.ndim() != 1 ||
      indices.shape(0) != nnz || data.shape(0) != nnz)
    throw acctsne::InvalidArgument("P.indices / P.data do not match P.indptr");
  acctsne::CsrView P;
  P.n_rows = n;
  P.indptr = indptr.data();
  P.indices = indices.data();
  P.data = data.data();
  return P;
}

py::tuple GradientBH(const CArray<float>& Y, const CArray<int64_t>& indptr,
                     const CArray<int32_t>& indices, const CArray<float>& data, float angle,
                     int dof, bool compute_error, int n_threads,
                     const std::optional<std::string>& simd_level) {
  const acctsne::SimdLevel level = ResolveLevel(simd_level);
  if (Y.ndim() != 2) throw acctsne::InvalidArgument("Y must be 2-D");
  const int64_t n = Y.shape(0);
  const int dims = static_cast<int>(Y.shape(1));
  acctsne::CsrView P = MakeCsr(indptr, indices, data, n);
  py::array_t<float> grad({n, static_cast<int64_t>(dims)});
  float* g_ptr = grad.mutable_data();
  const float* y_ptr = Y.data();
  double kl = 0.0;
  RunWithoutGil(n_threads, [&](ThreadPool& pool) {
    acctsne::BarnesHutEngine engine(P, 1.0f, dims, angle, dof, level, pool);
    kl = engine.Compute(y_ptr, compute_error, g_ptr);
  });
  return py::make_tuple(kl, grad);
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

acctsne::InterpolationParams MakeInterpolationParams(int n_interpolation_points,
                                                     int min_intervals,
                                                     double intervals_per_unit,
                                                     int max_intervals) {
  acctsne::InterpolationParams p;
  p.n_interpolation_points = n_interpolation_points;
  p.min_intervals = min_intervals;
  p.intervals_per_unit = intervals_per_unit;
  p.max_intervals = max_intervals;
  return p;
}

py::tuple GradientFft(const CArray<float>& Y, const CArray<int64_t>& indptr,
                      const CArray<int32_t>& indices, const CArray<float>& data,
                      const py::function& convolve, int n_interpolation_points,
                      int min_intervals, double intervals_per_unit, int max_intervals,
                      bool compute_error, int n_threads) {
  if (Y.ndim() != 2) throw acctsne::InvalidArgument("Y must be 2-D");
  const int64_t n = Y.shape(0);
  const int dims = static_cast<int>(Y.shape(1));
  acctsne::CsrView P = MakeCsr(indptr, indices, data, n);
  const auto params = MakeInterpolationParams(n_interpolation_points, min_intervals,
                                              intervals_per_unit, max_intervals);
  PythonConvolver convolver(convolve);
  py::array_t<float> grad({n, static_cast<int64_t>(dims)});
  float* g_ptr = grad.mutable_data();
  const float* y_ptr = Y.data();
  double kl = 0.0;
  const acctsne::SimdLevel level = acctsne::DefaultSimdLevel();
  RunWithoutGil(n_threads, [&](ThreadPool& pool) {
    acctsne::FftEngine engine(P, 1.0f, dims, params, convolver, level, pool);
    kl = engine.Compute(y_ptr, compute_error, g_ptr);
  });
  return py::make_tuple(kl, grad);
}

py::tuple GradientExact(const CArray<float>& Y, const CArray<double>& P, int dof,
                        bool compute_error, int n_threads) {
  if (Y.ndim() != 2) throw acctsne::InvalidArgument("Y must be 2-D");
  const int64_t n = Y.shape(0);
  const int dims = static_cast<int>(Y.shape(1));
  RequireShape(P, "P", n, n);
  py::array_t<double> grad({n, static_cast<int64_t>(dims)});
  double* g_ptr = grad.mutable_data();
  const float* y_ptr = Y.data();
  const double* p_ptr = P.data();
  double kl = 0.0;
  RunWithoutGil(n_threads, [&](ThreadPool& pool) {
    kl = acctsne::ExactGradient(p_ptr, 1.0, y_ptr, n, dims, dof, compute_error, pool, g_ptr);
  });
  return py::make_tuple(compute_error ? kl : std::numeric_limits<double>::quiet_NaN(), grad);
}

template <typename T>
py::array_t<T> ToArray(const std::vector<T>& v) {
  py::array_t<T> out(static_cast<py::ssize_t>(v.size()));
  if (!v.empty()) std::memcpy(out.mutable_data(), v.data(), v.size() * sizeof(T));
  return out;
}

py::dict BuildTree(const CArray<float>& Y, int n_threads) {
  if (Y.ndim() != 2) throw acctsne::InvalidArgument("Y must be 2-D");
  const int64_t n = Y.shape(0);
  const int dims = static_cast<int>(Y.shape(1));
  acctsne::QuadTree tree;
  const float* y_ptr = Y.data();
  RunWithoutGil(n_threads, [&](ThreadPool& pool) { tree.Build(y_ptr, n, dims, pool); });
  py::dict out;
  const std::vector<acctsne::PackedNode>& nodes = tree.packed_nodes();
  const py::ssize_t n_nodes = static_cast<py::ssize_t>(nodes.size());
  py::array_t<float> com({n_nodes, static_cast<py::ssize_t>(dims)});
  py::array_t<int32_t> counts(n_nodes), begins(n_nodes), first_children(n_nodes);
  py::array_t<int16_t> n_children(n_nodes), depths(n_nodes);
  auto com_out = com.mutable_unchecked<2>();
  for (py::ssize_t v = 0; v < n_nodes; ++v) {
    for (int a = 0; a < dims; ++a) com_out(v, a) = nodes[v].com[a];
    counts.mutable_at(v) = nodes[v].count;
    begins.mutable_at(v) = nodes[v].begin;
    first_children.mutable_at(v) = nodes[v].first_child;
    n_children.mutable_at(v) = nodes[v].n_children;
    depths.mutable_at(v) = nodes[v].depth;
  }
  out["order"] = ToArray(tree.order());
  out["centers_of_mass"] = com;
  out["counts"] = counts;
  out["begins"] = begins;
  out["first_children"] = first_children;
  out["n_children"] = n_children;
  out["depths"] = depths;
  out["squared_widths"] = ToArray(tree.squared_widths());
  out["lower_bounds"] = std::vector<float>(tree.lower_bounds(), tree.lower_bounds() + dims);
  out["upper_bounds"] = std::vector<float>(tree.upper_bounds(), tree.upper_bounds() + dims);
  out["leaf_capacity"] = acctsne::QuadTree::kLeafCapacity;
  return out;
}

py::array_t<float, py::array::c_style> RequireEmbedding(const py::array& Y) {
  if (!Y.dtype().is(py::dtype::of<float>()) || !(Y.flags() & py::array::c_style) ||
      !Y.writeable() || Y.ndim() != 2)
    throw acctsne::InvalidArgument("Y must be a writeable C-contiguous float32 2-D array");
  return py::reinterpret_borrow<py::array_t<float, py::array::c_style>>(Y);
}

acctsne::PhaseParams MakePhaseParams(int start_iter, int max_iter, int n_iter_check,
                                     int n_iter_without_progress, double momentum,
                                     double learning_rate, double min_grad_norm,
                                     int n_iter_report) {
  if (n_iter_report < 0)
    throw acctsne::InvalidArgument(acctsne::StrCat("n_iter_report must be >= 0, got ", n_iter_report));
  acctsne::PhaseParams p;
  p.start_iter = start_iter;
  p.max_iter = max_iter;
  p.n_iter_check = n_iter_check;
  p.n_iter_report = n_iter_report;
  p.n_iter_without_progress = n_iter_without_progress;
  p.momentum = momentum;
  p.learning_rate = learning_rate;
  p.min_grad_norm = min_grad_norm;
  return p;
}

py::dict PhaseResultToDict(const acctsne::PhaseResult& r, const acctsne::PhaseTimes& t) {
  py::dict out;
  out["last_iter"] = r.last_iter;
  out["error"] = r.error;
  out["grad_norm"] = r.grad_norm;
  out["stop_reason"] = r.reason == acctsne::StopReason::kNoProgress      ? "no_progress"
                       : r.reason == acctsne::StopReason::kSmallGradient ? "small_gradient"
                       : r.reason == acctsne::StopReason::kStopRequested ? "stop_requested"
                                                                         : "max_iter";
  py::dict times;
  times["tree_build"] = t.tree_build;
  times["repulsion"] = t.repulsion;
  times["attraction"] = t.attraction;
  times["exact_gradient"] = t.exact_gradient;
  times["update"] = t.update;
  out["times"] = times;
  return out;
}

// Wraps an optional Python callable as a ProgressFn that takes the GIL to call it.
acctsne::ProgressFn MakeProgress(const std::optional<py::function>& callback) {
  if (!callback) return {};
  py::function fn = *callback;
  return [fn](int iteration, double error, double grad_norm, double seconds) {
    py::gil_scoped_acquire gil;
    const py::object stop = fn(iteration, error, grad_norm, seconds);
    const int truth = PyObject_IsTrue(stop.ptr());  // None, False -> continue
    if (truth < 0) throw py::error_already_set();
    return truth == 1;
  };
}

// Runs one optimisation phase on Y (in place) with the engine made by make_engine(pool).
template <typename MakeEngine>
py::dict RunPhase(const py::array& Y_any, int start_iter, int max_iter, int n_iter_check,
                  int n_iter_without_progress, double momentum, double learning_rate,
                  double min_grad_norm, int n_threads,
                  const std::optional<py::function>& progress, int n_iter_report,
                  MakeEngine&& make_engine) {
  auto Y = RequireEmbedding(Y_any);
  const int64_t n = Y.shape(0);
  const int dims = static_cast<int>(Y.shape(1));
  const auto params = MakePhaseParams(start_iter, max_iter, n_iter_check, n_iter_without_progress,
                                      momentum, learning_rate, min_grad_norm, n_iter_report);
  auto progress_fn = MakeProgress(progress);
  float* y_ptr = Y.mutable_data();
  acctsne::PhaseResult result;
  acctsne::PhaseTimes times;
  RunWithoutGil(n_threads, [&](ThreadPool& pool) {
    auto engine = make_engine(n, dims, pool);
    result = acctsne::GradientDescent(*engine, y_ptr, n, dims, params, pool, progress_fn);
    times = engine->times;
  });
  return PhaseResultToDict(result, times);
}

py::dict OptimizeBH(const py::array& Y, const CArray<int64_t>& indptr,
                    const CArray<int32_t>& indices, const CArray<float>& data,
                    float exaggeration, float angle, int dof, int start_iter, int max_iter,
                    int n_iter_check, int n_iter_without_progress, double momentum,
                    double learning_rate, double min_grad_norm, int n_threads,
                    const std::optional<py::function>& progress, int n_iter_report) {
  const acctsne::CsrView P = MakeCsr(indptr, indices, data, Y.ndim() == 2 ? Y.shape(0) : -1);
  const acctsne::SimdLevel level = acctsne::DefaultSimdLevel();
  return RunPhase(Y, start_iter, max_iter, n_iter_check, n_iter_without_progress, momentum,
                  learning_rate, min_grad_norm, n_threads, progress, n_iter_report,
                  [&](int64_t, int dims, ThreadPool& pool) {
                    return std::make_unique<acctsne::BarnesHutEngine>(
                        P, exaggeration, dims, angle, dof, level, pool);
                  });
}

py::dict OptimizeFft(const py::array& Y, const CArray<int64_t>& indptr,
                     const CArray<int32_t>& indices, const CArray<float>& data,
                     float exaggeration, const py::function& convolve,
                     int n_interpolation_points, int min_intervals, double intervals_per_unit,
                     int max_intervals, int start_iter, int max_iter, int n_iter_check,
                     int n_iter_without_progress, double momentum, double learning_rate,
                     double min_grad_norm, int n_threads,
                     const std::optional<py::function>& progress, int n_iter_report) {
  const acctsne::CsrView P = MakeCsr(indptr, indices, data, Y.ndim() == 2 ? Y.shape(0) : -1);
  const acctsne::SimdLevel level = acctsne::DefaultSimdLevel();
  const auto params = MakeInterpolationParams(n_interpolation_points, min_intervals,
                                              intervals_per_unit, max_intervals);
  PythonConvolver convolver(convolve);
  return RunPhase(Y, start_iter, max_iter, n_iter_check, n_iter_without_progress, momentum,
                  learning_rate, min_grad_norm, n_threads, progress, n_iter_report,
                  [&](int64_t, int dims, ThreadPool& pool) {
                    return std::make_unique<acctsne::FftEngine>(P, exaggeration, dims, params,
                                                                convolver, level, pool);
                  });
}

py::dict OptimizeExact(const py::array& Y, const CArray<double>& P, double exaggeration,
                       int dof, int start_iter, int max_iter, int n_iter_check,
                       int n_iter_without_progress, double momentum, double learning_rate,
                       double min_grad_norm, int n_threads,
                       const std::optional<py::function>& progress, int n_iter_report) {
  RequireShape(P, "P", Y.ndim() == 2 ? Y.shape(0) : -1, Y.ndim() == 2 ? Y.shape(0) : -1);
  const double* p_ptr = P.data();
  return RunPhase(Y, start_iter, max_iter, n_iter_check, n_iter_without_progress, momentum,
                  learning_rate, min_grad_norm, n_threads, progress, n_iter_report,
                  [&](int64_t n, int dims, ThreadPool& pool) {
                    return std::make_unique<acctsne::ExactEngine>(p_ptr, n, exaggeration, dims,
                                                                  dof, pool);
                  });
}

py::dict SimdInfo() {
  py::dict out;
  py::list compiled, supported;
  for (auto level : acctsne::CompiledSimdLevels()) compiled.append(acctsne::SimdLevelName(level));
  for (auto level : acctsne::SupportedSimdLevels()) supported.append(acctsne::SimdLevelName(level));
  out["compiled"] = compiled;
  out["supported"] = supported;
  out["default"] = acctsne::SimdLevelName(acctsne::DefaultSimdLevel());
  return out;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "acctsne native core (private; use acctsne.TSNE)";
#ifdef ACCTSNE_VERSION
  m.attr("__version__") = ACCTSNE_VERSION;
#endif
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const acctsne::NumericalError& e) {
      PyErr_SetString(PyExc_FloatingPointError, e.what());
    }
  });

  m.def("knn_exact", &KnnExact, py::arg("X"), py::arg("k"), py::arg("n_threads") = 1,
        py::arg("simd_level") = py::none(), "Exact kNN: (indices int32, squared distances float32).");
  m.def("refine_neighbors", &RefineNeighbors, py::arg("X"), py::arg("neighbors"),
        py::arg("n_threads") = 1,
        "Exact distances for a given kNN graph, rows sorted: (indices int32, sq distances).");
  m.def("conditional_probabilities", &ConditionalProbabilities, py::arg("sq_distances"),
        py::arg("perplexity"), py::arg("exact") = false, py::arg("n_threads") = 1,
        "Perplexity binary search: (conditional P float64, betas).");
  m.def("joint_probabilities_nn", &JointProbabilitiesNN, py::arg("neighbors"),
        py::arg("sq_distances"), py::arg("perplexity"), py::arg("n_threads") = 1,
        "Symmetric normalised P from a kNN graph: (indptr, indices, data, betas).");
  m.def("joint_probabilities_exact", &JointProbabilitiesExact, py::arg("sq_distances"),
        py::arg("perplexity"), py::arg("n_threads") = 1, "Dense exact-method P: (P, betas).");
  m.def("gradient_bh", &GradientBH, py::arg("Y"), py::arg("indptr"), py::arg("indices"),
        py::arg("data"), py::arg("angle") = 0.5f, py::arg("dof") = 1,
        py::arg("compute_error") = true, py::arg("n_threads") = 1,
        py::arg("simd_level") = py::none(), "Barnes-Hut KL gradient: (kl, grad float32).");
  m.def("gradient_fft", &GradientFft, py::arg("Y"), py::arg("indptr"), py::arg("indices"),
        py::arg("data"), py::arg("convolve"), py::arg("n_interpolation_points") = 3,
        py::arg("min_intervals") = 50, py::arg("intervals_per_unit") = 1.0,
        py::arg("max_intervals") = 200, py::arg("compute_error") = true,
        py::arg("n_threads") = 1, "FFT-interpolation KL gradient: (kl, grad float32).");
  m.def("optimize_fft", &OptimizeFft, py::arg("Y"), py::arg("indptr"), py::arg("indices"),
        py::arg("data"), py::arg("exaggeration"), py::arg("convolve"),
        py::arg("n_interpolation_points"), py::arg("min_intervals"),
        py::arg("intervals_per_unit"), py::arg("max_intervals"), py::arg("start_iter"),
        py::arg("max_iter"), py::arg("n_iter_check"), py::arg("n_iter_without_progress"),
        py::arg("momentum"), py::arg("learning_rate"), py::arg("min_grad_norm"),
        py::arg("n_threads"), py::arg("progress") = py::none(), py::arg("n_iter_report") = 0,
        "One phase of gradient descent with the FFT-interpolation gradient (Y in place).");
  m.def("gradient_exact", &GradientExact, py::arg("Y"), py::arg("P"), py::arg("dof") = 1,
        py::arg("compute_error") = true, py::arg("n_threads") = 1,
        "Exact KL gradient in float64: (kl, grad).");
  m.def("build_tree", &BuildTree, py::arg("Y"), py::arg("n_threads") = 1,
        "Build the Morton-ordered tree and return its arrays (for tests).");
  m.def("optimize_barnes_hut", &OptimizeBH, py::arg("Y"), py::arg("indptr"), py::arg("indices"),
        py::arg("data"), py::arg("exaggeration"), py::arg("angle"), py::arg("dof"),
        py::arg("start_iter"), py::arg("max_iter"), py::arg("n_iter_check"),
        py::arg("n_iter_without_progress"), py::arg("momentum"), py::arg("learning_rate"),
        py::arg("min_grad_norm"), py::arg("n_threads"), py::arg("progress") = py::none(), py::arg("n_iter_report") = 0,
        "One phase of gradient descent with the Barnes-Hut gradient (Y updated in place).");
  m.def("optimize_exact", &OptimizeExact, py::arg("Y"), py::arg("P"), py::arg("exaggeration"),
        py::arg("dof"), py::arg("start_iter"), py::arg("max_iter"), py::arg("n_iter_check"),
        py::arg("n_iter_without_progress"), py::arg("momentum"), py::arg("learning_rate"),
        py::arg("min_grad_norm"), py::arg("n_threads"), py::arg("progress") = py::none(), py::arg("n_iter_report") = 0,
        "One phase of gradient descent with the exact gradient (Y updated in place).");
  m.def("simd_info", &SimdInfo, "Compiled, supported and default SIMD levels.");
  RegisterKernelChecks(m);
}
