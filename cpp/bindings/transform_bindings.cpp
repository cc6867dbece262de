// Bindings of TSNE.transform's core: _core.ReferenceField (the fixed map's repulsion,
// prepared once per fitted model) and _core.embed_new_points (the descent of new points).
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include "acctsne/reference_field.h"
#include "acctsne/transform.h"
#include "binding_support.h"

namespace acctsne_bindings {
namespace {

using acctsne::FieldKind;
using acctsne::FieldParams;
using acctsne::ReferenceField;
using acctsne::ThreadPool;

FieldKind ParseFieldKind(const std::string& kind) {
  if (kind == "exact") return FieldKind::kExact;
  if (kind == "tree") return FieldKind::kTree;
  if (kind == "grid") return FieldKind::kGrid;
  throw acctsne::InvalidArgument("field kind must be 'exact', 'tree' or 'grid', got '" + kind +
                                 "'");
}

// The field owns a copy of the reference embedding; the convolver is only used while the
// grid is built.
class Field {
 public:
  Field(const CArray<float>& Y, const std::string& kind, double alpha, double exponent,
        float angle, int n_interpolation_points, int min_intervals, double intervals_per_unit,
        int max_intervals, double grid_margin, const py::object& n_threads,
        const std::optional<py::function>& convolve) {
    if (Y.ndim() != 2) throw acctsne::InvalidArgument("the reference embedding must be 2-D");
    FieldParams params;
    params.kind = ParseFieldKind(kind);
    params.kernel = {alpha, exponent};
    params.angle = angle;
    params.grid.n_interpolation_points = n_interpolation_points;
    params.grid.min_intervals = min_intervals;
    params.grid.intervals_per_unit = intervals_per_unit;
    params.grid.max_intervals = max_intervals;
    params.grid_margin = grid_margin;
    std::optional<PythonConvolver> convolver;
    if (convolve) convolver.emplace(*convolve);
    const float* y = Y.data();
    const int64_t n = Y.shape(0);
    const int dims = static_cast<int>(Y.shape(1));
    RunWithoutGil(n_threads, [&](ThreadPool& pool) {
      field_ = acctsne::MakeReferenceField(y, n, dims, params,
                                           convolver ? &*convolver : nullptr, pool);
    });
  }

  const ReferenceField& get() const { return *field_; }

 private:
  std::unique_ptr<ReferenceField> field_;
};

py::tuple EmbedNewPoints(const Field& field, const CArray<int64_t>& indptr,
                         const CArray<int32_t>& indices, const CArray<double>& data,
                         const py::array& Y_any, const std::vector<std::tuple<int, double, double>>& phases,
                         double learning_rate, double max_grad_norm, int n_iter_report,
                         const py::object& n_threads, const std::optional<py::function>& progress) {
  if (!Y_any.dtype().equal(py::dtype::of<float>()) || !(Y_any.flags() & py::array::c_style) ||
      !Y_any.writeable() || Y_any.ndim() != 2)
    throw acctsne::InvalidArgument("Y must be a writeable C-contiguous float32 2-D array");
  auto Y = py::reinterpret_borrow<py::array_t<float, py::array::c_style>>(Y_any);
  const ReferenceField& f = field.get();
  const int64_t m = Y.shape(0);
  RequireShape(Y, "Y", m, f.dims());
  if (indptr.ndim() != 1 || indptr.shape(0) != m + 1)
    throw acctsne::InvalidArgument(acctsne::StrCat("indptr must have ", m + 1, " entries"));
  const int64_t nnz = m > 0 ? indptr.at(m) : 0;
  if (indices.ndim() != 1 || data.ndim() != 1 || indices.shape(0) < nnz || data.shape(0) < nnz)
    throw acctsne::InvalidArgument("indices and data must be 1-D with indptr[-1] entries");
  acctsne::TransformParams params;
  for (const auto& [n_iter, exaggeration, momentum] : phases)
    params.phases.push_back({n_iter, exaggeration, momentum});
  params.learning_rate = learning_rate;
  params.max_grad_norm = max_grad_norm;
  params.n_iter_report = n_iter_report;
  acctsne::TransformProgressFn report;
  if (progress) {
    py::function fn = *progress;
    report = [fn](int iteration, double kl) {
      py::gil_scoped_acquire gil;
      const py::object stop = fn(iteration, kl);
      const int truth = PyObject_IsTrue(stop.ptr());
      if (truth < 0) throw py::error_already_set();
      return truth == 1;
    };
  }
  const int64_t* ip = indptr.data();
  const int32_t* ix = indices.data();
  const double* dp = data.data();
  float* y = Y.mutable_data();
  acctsne::TransformResult result;
  RunWithoutGil(n_threads, [&](ThreadPool& pool) {
    result = acctsne::EmbedNewPoints(f, ip, ix, dp, m, y, params, pool, report);
  });
  return py::make_tuple(result.n_iter, result.kl, result.stopped);
}

}  // namespace

void RegisterTransform(py::module_& m) {
  const FieldParams d;
  py::class_<Field>(m, "ReferenceField",
                    "The repulsion of a fixed reference embedding on new points (transform).")
      .def(py::init<const CArray<float>&, const std::string&, double, double, float, int, int,
                    double, int, double, const py::object&,
                    const std::optional<py::function>&>(),
           py::arg("Y"), py::kw_only(), py::arg("kind") = "grid", py::arg("alpha") = 1.0,
           py::arg("exponent") = 1.0, py::arg("angle") = d.angle,
           py::arg("n_interpolation_points") = d.grid.n_interpolation_points,
           py::arg("min_intervals") = d.grid.min_intervals,
           py::arg("intervals_per_unit") = d.grid.intervals_per_unit,
           py::arg("max_intervals") = d.grid.max_intervals,
           py::arg("grid_margin") = d.grid_margin, py::arg("n_threads") = 1,
           py::arg("convolve") = py::none())
      .def_property_readonly("n_reference", [](const Field& f) { return f.get().n_reference(); })
      .def_property_readonly("dims", [](const Field& f) { return f.get().dims(); })
      .def_property_readonly("fallback_count",
                             [](const Field& f) { return f.get().fallback_count(); })
      .def(
          "evaluate",
          [](const Field& f, const CArray<float>& Y) {
            const ReferenceField& field = f.get();
            RequireShape(Y, "Y", Y.shape(0), field.dims());
            const int64_t n = Y.shape(0);
            py::array_t<double> z(n), force({n, static_cast<int64_t>(field.dims())});
            for (int64_t i = 0; i < n; ++i)
              field.Evaluate(Y.data() + i * field.dims(), z.mutable_data() + i,
                             force.mutable_data() + i * field.dims());
            return py::make_tuple(z, force);
          },
          py::arg("Y"), "(z, F) at each row of Y: sum_j w and sum_j w u (y - y_j) (tests).");
  m.def("embed_new_points", &EmbedNewPoints, py::arg("field"), py::arg("indptr"),
        py::arg("indices"), py::arg("data"), py::arg("Y"), py::kw_only(), py::arg("phases"),
        py::arg("learning_rate"), py::arg("max_grad_norm") = 0.25,
        py::arg("n_iter_report") = 50, py::arg("n_threads") = 1,
        py::arg("progress") = py::none(),
        "Moves new points Y (float32, in place) in the field: (iterations, mean KL, stopped).");
}

}  // namespace acctsne_bindings
