// Bindings of the blocked exact kNN search (acctsne/knn_blocks.h), the kernel that
// acctsne.dask runs inside the workers: the centring's two reductions and one block step.
// Arrays of a step's state are updated in place.
#include <optional>
#include <string>

#include <pybind11/stl.h>

#include "acctsne/knn_blocks.h"
#include "acctsne/simd.h"
#include "binding_support.h"

namespace acctsne_bindings {
namespace {

using acctsne::ThreadPool;

// X as float32 or float64, C-contiguous (other dtypes are converted to float64).
py::array RowsOf(const py::array& X_any, const char* name) {
  const bool is_float = X_any.dtype().equal(py::dtype::of<float>());
  py::array X = is_float ? py::array(CArray<float>::ensure(X_any))
                         : py::array(CArray<double>::ensure(X_any));
  if (!X || X.ndim() != 2)
    throw acctsne::InvalidArgument(acctsne::StrCat(name, " must be a 2-D numeric array"));
  return X;
}

bool IsFloat(const py::array& X) { return X.dtype().equal(py::dtype::of<float>()); }

// A writable C-contiguous array of the given dtype and shape, or ValueError.
template <typename T>
T* StateArray(py::array& a, const char* name, int64_t rows, int64_t cols) {
  if (!a.dtype().equal(py::dtype::of<T>()) || a.ndim() != 2 || a.shape(0) != rows ||
      a.shape(1) != cols || !(a.flags() & py::array::c_style) || !a.writeable())
    throw acctsne::InvalidArgument(acctsne::StrCat(
        name, " must be a writable C-contiguous ", rows, " x ", cols, " array of ",
        py::str(py::dtype::of<T>()).cast<std::string>()));
  return static_cast<T*>(a.mutable_data());
}

void ColumnSums(const py::array& X_any, py::array sums) {
  py::array X = RowsOf(X_any, "X");
  const int64_t n = X.shape(0), d = X.shape(1);
  if (!sums.dtype().equal(py::dtype::of<double>()) || sums.ndim() != 1 || sums.shape(0) != d ||
      !(sums.flags() & py::array::c_style) || !sums.writeable())
    throw acctsne::InvalidArgument("sums must be a writable float64 array of n_features");
  double* out = static_cast<double*>(sums.mutable_data());
  const void* x = X.data();
  const bool is_float = IsFloat(X);
  py::gil_scoped_release release;
  if (is_float) {
    acctsne::KnnColumnSums(static_cast<const float*>(x), n, d, out);
  } else {
    acctsne::KnnColumnSums(static_cast<const double*>(x), n, d, out);
  }
}

double MaxAbsDeviation(const py::array& X_any, const CArray<double>& mean) {
  py::array X = RowsOf(X_any, "X");
  const int64_t n = X.shape(0), d = X.shape(1);
  if (mean.ndim() != 1 || mean.shape(0) != d)
    throw acctsne::InvalidArgument("mean must have n_features entries");
  const void* x = X.data();
  const double* m = mean.data();
  const bool is_float = IsFloat(X);
  py::gil_scoped_release release;
  return is_float ? acctsne::KnnMaxAbsDeviation(static_cast<const float*>(x), n, d, m)
                  : acctsne::KnnMaxAbsDeviation(static_cast<const double*>(x), n, d, m);
}

void BlockStep(const py::array& queries_any, int64_t query_start, const py::array& reference_any,
               int64_t reference_start, int64_t k, const CArray<double>& mean, double max_abs,
               py::array values, py::array ids, py::array exact, const py::object& n_threads,
               const std::optional<std::string>& simd_level) {
  const acctsne::SimdLevel level =
      simd_level ? acctsne::ParseSimdLevel(*simd_level) : acctsne::DefaultSimdLevel();
  if (simd_level) acctsne::RequireSupported(level);
  py::array Q = RowsOf(queries_any, "queries");
  py::array R = RowsOf(reference_any, "reference");
  if (IsFloat(Q) != IsFloat(R))
    throw acctsne::InvalidArgument("queries and reference must have the same dtype");
  const int64_t nq = Q.shape(0), nr = R.shape(0), d = Q.shape(1);
  RequireShape(R, "reference", nr, d);
  if (mean.ndim() != 1 || mean.shape(0) != d)
    throw acctsne::InvalidArgument("mean must have n_features entries");
  float* v = StateArray<float>(values, "values", nq, k);
  int32_t* j = StateArray<int32_t>(ids, "ids", nq, k);
  double* e = StateArray<double>(exact, "exact", nq, k);
  const void* q = Q.data();
  const void* r = R.data();
  const double* m = mean.data();
  const bool is_float = IsFloat(Q);
  RunWithoutGil(n_threads, [&](ThreadPool& pool) {
    if (is_float) {
      acctsne::BlockKnnStep(static_cast<const float*>(q), nq, query_start,
                            static_cast<const float*>(r), nr, reference_start, d, k, m, max_abs,
                            level, pool, v, j, e);
    } else {
      acctsne::BlockKnnStep(static_cast<const double*>(q), nq, query_start,
                            static_cast<const double*>(r), nr, reference_start, d, k, m, max_abs,
                            level, pool, v, j, e);
    }
  });
}

}  // namespace

void RegisterKnnBlocks(py::module_& m) {
  m.def("knn_column_sums", &ColumnSums, py::arg("X"), py::arg("sums"),
        "Adds X's rows, in order, to the float64 running sums (in place).");
  m.def("knn_max_abs_deviation", &MaxAbsDeviation, py::arg("X"), py::arg("mean"),
        "max |x - mean| over X (FloatingPointError for non-finite input).");
  m.def("knn_block_step", &BlockStep, py::arg("queries"), py::arg("query_start"),
        py::arg("reference"), py::arg("reference_start"), py::arg("k"), py::arg("mean"),
        py::arg("max_abs"), py::arg("values"), py::arg("ids"), py::arg("exact"),
        py::arg("n_threads") = 1, py::arg("simd_level") = py::none(),
        "One step of the blocked exact kNN: folds a reference block into the queries' "
        "state (values float32, ids int32, exact float64; in place).");
}

}  // namespace acctsne_bindings
