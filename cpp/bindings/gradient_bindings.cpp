// Bindings of the optimisation: one gradient engine for every method (built from typed
// GradientParams), one descent entry point (optimize) driven by typed PhaseParams and
// returning a PhaseResult with a typed StopReason, and the float64 exact gradient that
// the tests use as an oracle.
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "acctsne/exact_gradient.h"
#include "acctsne/gradient_descent.h"
#include "acctsne/gradient_engine.h"
#include "acctsne/simd.h"
#include "binding_support.h"

namespace acctsne_bindings {
namespace {

using acctsne::GradientParams;
using acctsne::PhaseParams;
using acctsne::PhaseResult;
using acctsne::StopReason;
using acctsne::ThreadPool;

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

py::array_t<float, py::array::c_style> RequireEmbedding(const py::array& Y) {
  if (!Y.dtype().equal(py::dtype::of<float>()) || !(Y.flags() & py::array::c_style) ||
      !Y.writeable() || Y.ndim() != 2)
    throw acctsne::InvalidArgument("Y must be a writeable C-contiguous float32 2-D array");
  return py::reinterpret_borrow<py::array_t<float, py::array::c_style>>(Y);
}

// _core.GradientEngine: the gradient of one fit for any method, with the fit's pool.
// P is kept alive and borrowed: a sparse P's column indices are relabelled in place while
// the engine lives (restored by close() or when the engine is collected), unless the
// given indices are not a writeable C-contiguous int32 array (then a private copy).
class Engine {
 public:
  Engine(const GradientParams& params, const py::object& P, const py::object& n_threads,
         const std::optional<py::function>& convolve)
      : pool_(PoolFor(n_threads)) {
    acctsne::RepulsionContext context;
    if (convolve) {
      convolver_ = std::make_unique<PythonConvolver>(*convolve);
      context.convolver = convolver_.get();
    }
    acctsne::BorrowedCsr csr;
    const double* dense = nullptr;
    int64_t n = 0;
    if (py::isinstance<py::tuple>(P)) {  // (indptr, indices, data)
      const py::tuple t = P.cast<py::tuple>();
      if (t.size() != 3) throw acctsne::InvalidArgument("P must be (indptr, indices, data)");
      auto indptr = CArray<int64_t>::ensure(t[0]);
      auto data = CArray<float>::ensure(t[2]);
      py::array indices_in = py::array::ensure(t[1]);
      const bool borrow = indices_in && indices_in.dtype().equal(py::dtype::of<int32_t>()) &&
                          (indices_in.flags() & py::array::c_style) && indices_in.writeable();
      auto indices = borrow ? py::reinterpret_borrow<py::array_t<int32_t>>(indices_in)
                            : py::array_t<int32_t>(CArray<int32_t>::ensure(t[1]));
      if (!indptr || !indices || !data || indptr.ndim() != 1 || indptr.shape(0) < 1)
        throw acctsne::InvalidArgument("P must be (indptr, indices, data) arrays");
      n = indptr.shape(0) - 1;
      const int64_t nnz = indptr.at(n);
      if (indptr.at(0) != 0 || indices.ndim() != 1 || data.ndim() != 1 ||
          indices.shape(0) != nnz || data.shape(0) != nnz)
        throw acctsne::InvalidArgument("P.indices / P.data do not match P.indptr");
      csr.n_rows = n;
      csr.indptr = indptr.data();
      csr.indices = indices.mutable_data();
      csr.data = data.data();
      keep_alive_ = py::make_tuple(indptr, indices, data);
    } else {
      auto dense_P = CArray<double>::ensure(P);
      if (!dense_P || dense_P.ndim() != 2 || dense_P.shape(0) != dense_P.shape(1))
        throw acctsne::InvalidArgument("a dense P must be a square 2-D array");
      n = dense_P.shape(0);
      dense = dense_P.data();
      keep_alive_ = dense_P;
    }
    pool_->Run([&](ThreadPool& pool) {
      engine_ = acctsne::MakeGradientEngine(params, n, dense ? nullptr : &csr, dense, context,
                                            pool);
    });
  }

  acctsne::GradientEngine& get() {
    if (!engine_) throw acctsne::InvalidArgument("the gradient engine was closed");
    return *engine_;
  }

  py::tuple Gradient(const CArray<float>& Y, bool compute_error) {
    acctsne::GradientEngine& engine = get();
    RequireShape(Y, "Y", engine.n_points(), engine.dims());
    py::array_t<float> grad({engine.n_points(), static_cast<int64_t>(engine.dims())});
    float* g_ptr = grad.mutable_data();
    const float* y_ptr = Y.data();
    double kl = 0.0;
    pool_->Run([&](ThreadPool&) { kl = engine.Compute(y_ptr, compute_error, g_ptr); });
    return py::make_tuple(kl, grad);
  }

  PhaseResult Optimize(const py::array& Y_any, const PhaseParams& params,
                       const std::optional<py::function>& progress) {
    acctsne::GradientEngine& engine = get();
    auto Y = RequireEmbedding(Y_any);
    RequireShape(Y, "Y", engine.n_points(), engine.dims());
    auto progress_fn = MakeProgress(progress);
    float* y_ptr = Y.mutable_data();
    PhaseResult result;
    pool_->Run([&](ThreadPool& pool) {
      result = acctsne::GradientDescent(engine, y_ptr, engine.n_points(), engine.dims(), params,
                                        pool, progress_fn);
    });
    return result;
  }

  void SetExaggeration(double exaggeration) { get().SetExaggeration(exaggeration); }
  double exaggeration() { return get().exaggeration(); }

  py::dict Times() {
    const acctsne::PhaseTimes& t = get().times;
    py::dict times;
    times["tree_build"] = t.tree_build;
    times["repulsion"] = t.repulsion;
    times["attraction"] = t.attraction;
    times["exact_gradient"] = t.exact_gradient;
    times["update"] = t.update;
    return times;
  }

  void Close() {
    engine_.reset();  // restores P's labels
    keep_alive_ = py::none();
  }

 private:
  std::shared_ptr<FitPool> pool_;
  std::unique_ptr<PythonConvolver> convolver_;
  py::object keep_alive_;
  std::unique_ptr<acctsne::GradientEngine> engine_;  // last: destroyed first
};

py::tuple ExactGradient(const CArray<float>& Y, const CArray<double>& P, int dof,
                        bool compute_error, const py::object& n_threads, double heavy_tail_dof) {
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
    kl = acctsne::ExactGradient(p_ptr, 1.0, y_ptr, n, dims, dof, heavy_tail_dof, compute_error,
                                pool, g_ptr);
  });
  return py::make_tuple(compute_error ? kl : std::numeric_limits<double>::quiet_NaN(), grad);
}

GradientParams MakeGradientParams(const std::string& method, int dims, int dof,
                                  double heavy_tail_dof, float angle, int n_interpolation_points,
                                  int min_intervals, double intervals_per_unit,
                                  int max_intervals,
                                  const std::optional<std::string>& simd_level,
                                  bool keep_caller_order) {
  acctsne::CheckHeavyTailDof(heavy_tail_dof);  // (again by the engine; here it fails early)
  GradientParams p;
  p.method = method;
  p.dims = dims;
  p.dof = dof;
  p.heavy_tail_dof = heavy_tail_dof;
  p.angle = angle;
  p.interpolation.n_interpolation_points = n_interpolation_points;
  p.interpolation.min_intervals = min_intervals;
  p.interpolation.intervals_per_unit = intervals_per_unit;
  p.interpolation.max_intervals = max_intervals;
  p.keep_caller_order = keep_caller_order;
  if (simd_level) {
    p.level = acctsne::ParseSimdLevel(*simd_level);
    acctsne::RequireSupported(p.level);
  } else {
    p.level = acctsne::DefaultSimdLevel();
  }
  return p;
}

PhaseParams MakePhaseParams(double exaggeration, int start_iter, int max_iter, int n_iter_check,
                            int n_iter_report, int n_iter_without_progress, double momentum,
                            double learning_rate, double min_grad_norm) {
  PhaseParams p;
  p.exaggeration = exaggeration;
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

}  // namespace

void RegisterGradient(py::module_& m) {
  const GradientParams g;
  py::class_<GradientParams>(m, "GradientParams",
                             "Method and settings of a gradient engine (keyword-only).")
      .def(py::init(&MakeGradientParams), py::kw_only(), py::arg("method") = g.method,
           py::arg("dims") = g.dims, py::arg("dof") = g.dof,
           py::arg("heavy_tail_dof") = g.heavy_tail_dof, py::arg("angle") = g.angle,
           py::arg("n_interpolation_points") = g.interpolation.n_interpolation_points,
           py::arg("min_intervals") = g.interpolation.min_intervals,
           py::arg("intervals_per_unit") = g.interpolation.intervals_per_unit,
           py::arg("max_intervals") = g.interpolation.max_intervals,
           py::arg("simd_level") = py::none(),
           py::arg("keep_caller_order") = g.keep_caller_order)
      .def_readonly("method", &GradientParams::method)
      .def_readonly("dims", &GradientParams::dims)
      .def_readonly("dof", &GradientParams::dof)
      .def_readonly("heavy_tail_dof", &GradientParams::heavy_tail_dof)
      .def_readonly("angle", &GradientParams::angle);

  const PhaseParams ph;
  py::class_<PhaseParams>(m, "PhaseParams", "One phase of the descent schedule (keyword-only).")
      .def(py::init(&MakePhaseParams), py::kw_only(), py::arg("exaggeration") = ph.exaggeration,
           py::arg("start_iter") = ph.start_iter, py::arg("max_iter") = ph.max_iter,
           py::arg("n_iter_check") = ph.n_iter_check, py::arg("n_iter_report") = ph.n_iter_report,
           py::arg("n_iter_without_progress") = ph.n_iter_without_progress,
           py::arg("momentum") = ph.momentum, py::arg("learning_rate") = ph.learning_rate,
           py::arg("min_grad_norm") = ph.min_grad_norm)
      .def_readonly("exaggeration", &PhaseParams::exaggeration)
      .def_readonly("start_iter", &PhaseParams::start_iter)
      .def_readonly("max_iter", &PhaseParams::max_iter)
      .def_readonly("n_iter_without_progress", &PhaseParams::n_iter_without_progress)
      .def_readonly("momentum", &PhaseParams::momentum);

  py::enum_<StopReason>(m, "StopReason", "Why a descent phase ended.")
      .value("max_iter", StopReason::kMaxIter)
      .value("no_progress", StopReason::kNoProgress)
      .value("small_gradient", StopReason::kSmallGradient)
      .value("stop_requested", StopReason::kStopRequested);

  py::class_<PhaseResult>(m, "PhaseResult", "The outcome of one descent phase.")
      .def_readonly("last_iter", &PhaseResult::last_iter)
      .def_readonly("error", &PhaseResult::error)
      .def_readonly("grad_norm", &PhaseResult::grad_norm)
      .def_readonly("stop_reason", &PhaseResult::reason);

  py::class_<Engine>(m, "GradientEngine",
                     "The t-SNE gradient of one fit, for any method; P is borrowed.")
      .def(py::init<const GradientParams&, const py::object&, const py::object&,
                    const std::optional<py::function>&>(),
           py::arg("params"), py::arg("P"), py::arg("n_threads") = 1,
           py::arg("convolve") = py::none())
      .def("gradient", &Engine::Gradient, py::arg("Y"), py::arg("compute_error") = true,
           "(KL or NaN, dKL/dY float32) at Y, with P multiplied by `exaggeration`.")
      .def_property("exaggeration", &Engine::exaggeration, &Engine::SetExaggeration,
                    "Factor on P (each optimize call sets its phase's).")
      .def_property_readonly("times", &Engine::Times, "Seconds per phase, summed over calls.")
      .def_property_readonly("n_points", [](Engine& e) { return e.get().n_points(); })
      .def("close", &Engine::Close, "Release P (its labels restored) and the engine's memory.");

  m.def(
      "optimize",
      [](Engine& engine, const py::array& Y, const PhaseParams& phase,
         const std::optional<py::function>& progress) {
        return engine.Optimize(Y, phase, progress);
      },
      py::arg("engine"), py::arg("Y"), py::arg("phase"), py::arg("progress") = py::none(),
      "One phase of gradient descent on Y (float32, updated in place).");
  m.def("repulsion_methods", &acctsne::RepulsionMethodNames,
        "Names of the registered repulsion methods (TSNE's method options besides 'exact').");
  m.def("exact_gradient", &ExactGradient, py::arg("Y"), py::arg("P"), py::arg("dof") = 1,
        py::arg("compute_error") = true, py::arg("n_threads") = 1,
        py::arg("heavy_tail_dof") = 0.0,
        "Exact KL gradient in float64 (the oracle of the tests): (kl, grad). heavy_tail_dof "
        "a > 0: the kernel (1 + d^2 / a)^-a instead of dof's.");
}

}  // namespace acctsne_bindings
