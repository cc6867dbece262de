// The _core module: numpy arrays in and out, the GIL released around all core work
// (binding_support.h), and C++ errors mapped to Python exceptions (InvalidArgument ->
// ValueError, NumericalError -> FloatingPointError, std::bad_alloc -> MemoryError,
// Interrupted -> the pending KeyboardInterrupt). This file binds the neighbour search,
// the affinities and the tree; gradient_bindings.cpp the gradient engines and descent.
// Validation that users see lives in python/acctsne; the checks here guard the core.
#include <pybind11/stl.h>

#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "acctsne/affinity.h"
#include "acctsne/common.h"
#include "acctsne/knn.h"
#include "acctsne/parallel.h"
#include "acctsne/point_order.h"
#include "acctsne/quadtree.h"
#include "acctsne/simd.h"
#include "binding_support.h"
#include "kernel_checks.h"

namespace acctsne_bindings {

using acctsne::ThreadPool;

void RequireShape(const py::array& a, const char* name, py::ssize_t rows, py::ssize_t cols) {
  if (a.ndim() != 2 || a.shape(0) != rows || (cols >= 0 && a.shape(1) != cols)) {
    throw acctsne::InvalidArgument(acctsne::StrCat(name, " has the wrong shape"));
  }
}

namespace {

acctsne::SimdLevel ResolveLevel(const std::optional<std::string>& name) {
  if (!name) return acctsne::DefaultSimdLevel();
  acctsne::SimdLevel level = acctsne::ParseSimdLevel(*name);
  acctsne::RequireSupported(level);
  return level;
}

py::tuple KnnExact(const py::array& X_any, int64_t k, const py::object& n_threads,
                   const std::optional<std::string>& simd_level) {
  const acctsne::SimdLevel level = ResolveLevel(simd_level);
  const bool is_double = X_any.dtype().equal(py::dtype::of<double>());
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

// The queries take the reference's dtype (float32 or float64).
py::tuple KnnQuery(const py::array& reference_any, const py::array& queries_any, int64_t k,
                   const py::object& n_threads, const std::optional<std::string>& simd_level) {
  const acctsne::SimdLevel level = ResolveLevel(simd_level);
  const bool is_double = reference_any.dtype().equal(py::dtype::of<double>());
  py::array R = is_double ? py::array(CArray<double>::ensure(reference_any))
                          : py::array(CArray<float>::ensure(reference_any));
  py::array Q = is_double ? py::array(CArray<double>::ensure(queries_any))
                          : py::array(CArray<float>::ensure(queries_any));
  if (!R || R.ndim() != 2 || !Q || Q.ndim() != 2)
    throw acctsne::InvalidArgument("reference and queries must be 2-D numeric arrays");
  const int64_t n_ref = R.shape(0), d = R.shape(1), n_q = Q.shape(0);
  RequireShape(Q, "queries", n_q, d);
  py::array_t<int32_t> indices({n_q, k});
  py::array_t<float> sq_dist({n_q, k});
  int32_t* idx_ptr = indices.mutable_data();
  float* dist_ptr = sq_dist.mutable_data();
  const void* r_ptr = R.data();
  const void* q_ptr = Q.data();
  RunWithoutGil(n_threads, [&](ThreadPool& pool) {
    if (is_double) {
      acctsne::QueryKnn(static_cast<const double*>(r_ptr), n_ref, static_cast<const double*>(q_ptr),
                        n_q, d, k, level, pool, idx_ptr, dist_ptr);
    } else {
      acctsne::QueryKnn(static_cast<const float*>(r_ptr), n_ref, static_cast<const float*>(q_ptr),
                        n_q, d, k, level, pool, idx_ptr, dist_ptr);
    }
  });
  return py::make_tuple(indices, sq_dist);
}

py::tuple RefineNeighbors(const py::array& X_any, const CArray<int32_t>& neighbors,
                          const py::object& n_threads) {
  const bool is_double = X_any.dtype().equal(py::dtype::of<double>());
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

// The breadth-first order of a CSR graph (acctsne/point_order.h).
py::array_t<int32_t> GraphOrder(const CArray<int64_t>& indptr, const CArray<int32_t>& indices) {
  const int64_t n = indptr.size() - 1;
  if (n < 0 || indptr.ndim() != 1 || indices.ndim() != 1 ||
      indptr.data()[n] != static_cast<int64_t>(indices.size()))
    throw acctsne::InvalidArgument("graph_order needs a CSR graph: indptr (n + 1), indices");
  std::vector<int32_t> order;
  {
    py::gil_scoped_release release;
    order = acctsne::BreadthFirstOrder(indptr.data(), indices.data(), n);
  }
  py::array_t<int32_t> out(n);
  std::copy(order.begin(), order.end(), out.mutable_data());
  return out;
}

// Rows of a CSR array (int32 indices or float32 data) in a new order, int32 values
// optionally relabelled (acctsne/point_order.h): (indptr, values).
py::tuple PermuteRows(const CArray<int64_t>& indptr, const py::array& values_any,
                      const CArray<int32_t>& order, const std::optional<CArray<int32_t>>& relabel,
                      const py::object& n_threads) {
  const int64_t n = indptr.size() - 1;
  if (n < 0 || order.size() != n || (relabel && relabel->size() != n))
    throw acctsne::InvalidArgument("permute_rows: indptr, order and relabel must match");
  const bool is_int = values_any.dtype().equal(py::dtype::of<int32_t>());
  py::array values = is_int ? py::array(CArray<int32_t>::ensure(values_any))
                            : py::array(CArray<float>::ensure(values_any));
  if (!values || values.size() != indptr.data()[n])
    throw acctsne::InvalidArgument("permute_rows: values must have indptr[-1] entries");
  py::array_t<int64_t> out_indptr(n + 1);
  py::array out_values = is_int ? py::array(py::array_t<int32_t>(values.size()))
                                : py::array(py::array_t<float>(values.size()));
  int64_t* ip = out_indptr.mutable_data();
  void* out_ptr = out_values.mutable_data();
  const void* in_ptr = values.data();
  const int32_t* relabel_ptr = relabel ? relabel->data() : nullptr;
  RunWithoutGil(n_threads, [&](ThreadPool& pool) {
    if (is_int) {
      acctsne::PermuteRows(indptr.data(), static_cast<const int32_t*>(in_ptr), n, order.data(),
                           relabel_ptr, pool, ip, static_cast<int32_t*>(out_ptr));
    } else {
      acctsne::PermuteRows(indptr.data(), static_cast<const float*>(in_ptr), n, order.data(),
                           nullptr, pool, ip, static_cast<float*>(out_ptr));
    }
  });
  return py::make_tuple(out_indptr, out_values);
}

// Hands a vector's buffer to NumPy without a copy (the array owns the vector): at a
// million points P is ~1 GB, which a copy would briefly double.
template <typename T>
py::array_t<T> MoveToArray(std::vector<T>&& v) {
  auto* owned = new std::vector<T>(std::move(v));
  py::capsule owner(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(static_cast<py::ssize_t>(owned->size()), owned->data(), owner);
}

// The perplexity argument of the affinity functions: a number (single scale: betas of
// shape (n,)) or a 1-D sequence of numbers (multiscale: betas of shape (n, S)). Values are
// rounded to float32 as the scalar always was, so [p] and p give the same P; the core
// checks them (non-empty, finite, > 0).
struct Perplexities {
  std::vector<float> values;
  bool multiscale = false;

  int64_t size() const { return static_cast<int64_t>(values.size()); }

  py::array_t<double> MakeBetas(int64_t n) const {
    if (!multiscale) return py::array_t<double>(n);
    return py::array_t<double>({n, size()});
  }
};

Perplexities ToPerplexities(const py::object& perplexity) {
  auto values = CArray<double>::ensure(perplexity);
  if (!values || values.ndim() > 1) {
    throw acctsne::InvalidArgument(acctsne::StrCat(
        "perplexity must be a number or a 1-D sequence of numbers, got ",
        py::str(py::repr(perplexity)).cast<std::string>()));
  }
  Perplexities out;
  out.multiscale = values.ndim() == 1;
  const double* v = values.data();
  for (py::ssize_t s = 0; s < values.size(); ++s) out.values.push_back(static_cast<float>(v[s]));
  return out;
}

py::tuple ConditionalProbabilities(const CArray<float>& sq_dist, const py::object& perplexity,
                                   bool exact, const py::object& n_threads) {
  if (sq_dist.ndim() != 2) throw acctsne::InvalidArgument("distances must be 2-D");
  const Perplexities perplexities = ToPerplexities(perplexity);
  const int64_t n = sq_dist.shape(0), k = sq_dist.shape(1);
  py::array_t<double> P({n, k});
  py::array_t<double> betas = perplexities.MakeBetas(n);
  double* p_ptr = P.mutable_data();
  double* b_ptr = betas.mutable_data();
  const float* d_ptr = sq_dist.data();
  const acctsne::SimdLevel level = acctsne::DefaultSimdLevel();
  RunWithoutGil(n_threads, [&](ThreadPool& pool) {
    acctsne::ConditionalProbabilities(d_ptr, n, k, exact, perplexities.values.data(),
                                      perplexities.size(), level, pool, p_ptr, b_ptr);
  });
  return py::make_tuple(P, betas);
}

// With overwrite_distances, a float32 C-contiguous writeable sq_dist receives the
// conditional probabilities in place of a buffer of its size (the peak memory of a large
// fit is in the symmetrisation: this is 4 bytes per kNN entry less). Multiscale rows are
// averaged in a buffer of one row per block of the search, so it stays in place too.
py::tuple JointProbabilitiesNN(const CArray<int32_t>& neighbors, const py::array& sq_dist_any,
                               const py::object& perplexity, const py::object& n_threads,
                               bool overwrite_distances) {
  const Perplexities perplexities = ToPerplexities(perplexity);
  const bool in_place = overwrite_distances && sq_dist_any.dtype().equal(py::dtype::of<float>()) &&
                        (sq_dist_any.flags() & py::array::c_style) && sq_dist_any.writeable();
  auto sq_dist = in_place ? py::reinterpret_borrow<py::array_t<float>>(sq_dist_any)
                          : py::array_t<float>(CArray<float>::ensure(sq_dist_any));
  if (!sq_dist || sq_dist.ndim() != 2) throw acctsne::InvalidArgument("distances must be 2-D");
  const int64_t n = sq_dist.shape(0), k = sq_dist.shape(1);
  RequireShape(neighbors, "neighbors", n, k);
  std::vector<float> cond_buffer(in_place ? 0 : static_cast<size_t>(n * k));
  float* cond = in_place ? sq_dist.mutable_data() : cond_buffer.data();
  py::array_t<double> betas = perplexities.MakeBetas(n);
  double* b_ptr = betas.mutable_data();
  acctsne::SparseP P;
  const float* d_ptr = sq_dist.data();
  const int32_t* nb_ptr = neighbors.data();
  const acctsne::SimdLevel level = acctsne::DefaultSimdLevel();
  RunWithoutGil(n_threads, [&](ThreadPool& pool) {
    // (each row's distances are read in full before its probabilities are written)
    acctsne::ConditionalProbabilities(d_ptr, n, k, false, perplexities.values.data(),
                                      perplexities.size(), level, pool, cond, b_ptr);
    P = acctsne::SymmetrizeKnn(nb_ptr, cond, n, k, pool);
  });
  return py::make_tuple(MoveToArray(std::move(P.indptr)), MoveToArray(std::move(P.indices)),
                        MoveToArray(std::move(P.data)), betas);
}

py::tuple JointProbabilitiesExact(const CArray<float>& sq_dist, const py::object& perplexity,
                                  const py::object& n_threads) {
  if (sq_dist.ndim() != 2 || sq_dist.shape(0) != sq_dist.shape(1))
    throw acctsne::InvalidArgument("exact affinities need a square distance matrix");
  const Perplexities perplexities = ToPerplexities(perplexity);
  const int64_t n = sq_dist.shape(0);
  py::array_t<double> P({n, n});
  py::array_t<double> betas = perplexities.MakeBetas(n);
  double* p_ptr = P.mutable_data();
  double* b_ptr = betas.mutable_data();
  const float* d_ptr = sq_dist.data();
  const acctsne::SimdLevel level = acctsne::DefaultSimdLevel();
  RunWithoutGil(n_threads, [&](ThreadPool& pool) {
    acctsne::ConditionalProbabilities(d_ptr, n, n, true, perplexities.values.data(),
                                      perplexities.size(), level, pool, p_ptr, b_ptr);
    acctsne::SymmetrizeDense(p_ptr, n, pool);
  });
  return py::make_tuple(P, betas);
}

template <typename T>
py::array_t<T> ToArray(const std::vector<T>& v) {
  py::array_t<T> out(static_cast<py::ssize_t>(v.size()));
  if (!v.empty()) std::memcpy(out.mutable_data(), v.data(), v.size() * sizeof(T));
  return out;
}

py::dict BuildTree(const CArray<float>& Y, const py::object& n_threads) {
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
}  // namespace acctsne_bindings

PYBIND11_MODULE(_core, m) {
  using namespace acctsne_bindings;  // NOLINT: the module's own functions
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
  m.def("knn_query", &KnnQuery, py::arg("reference"), py::arg("queries"), py::arg("k"),
        py::arg("n_threads") = 1, py::arg("simd_level") = py::none(),
        "Exact kNN of query rows among reference rows: (indices int32, squared distances "
        "float32).");
  m.def("refine_neighbors", &RefineNeighbors, py::arg("X"), py::arg("neighbors"),
        py::arg("n_threads") = 1,
        "Exact distances for a given kNN graph, rows sorted: (indices int32, sq distances).");
  m.def("conditional_probabilities", &ConditionalProbabilities, py::arg("sq_distances"),
        py::arg("perplexity"), py::arg("exact") = false, py::arg("n_threads") = 1,
        "Perplexity search, one perplexity or a list (averaged): (cond. P float64, betas).");
  m.def("joint_probabilities_nn", &JointProbabilitiesNN, py::arg("neighbors"),
        py::arg("sq_distances"), py::arg("perplexity"), py::arg("n_threads") = 1,
        py::arg("overwrite_distances") = false,
        "Symmetric normalised P from a kNN graph: (indptr, indices, data, betas).");
  m.def("joint_probabilities_exact", &JointProbabilitiesExact, py::arg("sq_distances"),
        py::arg("perplexity"), py::arg("n_threads") = 1,
        "Dense exact-method P, one perplexity or a list: (P, betas).");
  m.def("graph_order", &GraphOrder, py::arg("indptr"), py::arg("indices"),
        "Breadth-first locality order of a CSR graph (int32, order[s] = s-th point).");
  m.def("permute_rows", &PermuteRows, py::arg("indptr"), py::arg("values"), py::arg("order"),
        py::arg("relabel") = py::none(), py::arg("n_threads") = 1,
        "CSR rows in a new order (row s = input row order[s]): (indptr, values).");
  m.def("build_tree", &BuildTree, py::arg("Y"), py::arg("n_threads") = 1,
        "Build the Morton-ordered tree and return its arrays (for tests).");
  m.def("simd_info", &SimdInfo, "Compiled, supported and default SIMD levels.");
  py::class_<FitPool, std::shared_ptr<FitPool>>(
      m, "ThreadPool",
      "The threads of one fit; pass it as n_threads to every call of the fit.")
      .def(py::init<int>(), py::arg("n_threads"))
      .def_property_readonly("n_threads", &FitPool::n_threads);
  RegisterGradient(m);
  RegisterTransform(m);
  RegisterKnnBlocks(m);
  RegisterKernelChecks(m);
}
